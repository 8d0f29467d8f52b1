//! Messages carry their parsed text (`md`, Rocket.Chat's message-parser tree) as
//! Rocket.Chat stores it: on sending and on editing, in what is answered and in what
//! is read back later, with the workspace's parser settings (colours, KaTeX, custom
//! link domains); none on system messages. On both storage backends.

use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::set_setting;

fn plain(text: &str) -> Value {
    json!({"type": "PLAIN_TEXT", "value": text})
}

fn paragraph(value: Value) -> Value {
    json!([{"type": "PARAGRAPH", "value": value}])
}

async fn message_md(srv: &Palaver, who: &Session, mid: &str) -> Value {
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), who)
        .await;
    got["message"]["md"].clone()
}

async fn parsed_text_is_stored_with_messages(srv: Palaver) {
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "parsed", &["bob"]).await;
    let rid = str_of(&chan["_id"], "room id").to_string();

    // Sent: the answer and the stored copy carry the tree.
    let body = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": "**Release** is out, see rocket.chat and @bob :)"}}),
        )
        .await;
    let expected = paragraph(json!([
        {"type": "BOLD", "value": [plain("Release")]},
        plain(" is out, see "),
        {"type": "LINK", "value": {"src": plain("//rocket.chat"), "label": [plain("rocket.chat")]}},
        plain(" and "),
        {"type": "MENTION_USER", "value": plain("bob")},
        plain(" "),
        {"type": "EMOJI", "value": plain(":)"), "shortCode": "slight_smile"},
    ]));
    assert_eq!(body["message"]["md"], expected, "{body}");
    let mid = str_of(&body["message"]["_id"], "message id").to_string();
    assert_eq!(message_md(&srv, &bob, &mid).await, expected);
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=5"), &bob)
        .await;
    let listed = history["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["_id"] == mid.as_str()))
        .expect("the message in the history");
    assert_eq!(listed["md"], expected, "{history}");

    // Edited: the tree follows the new text.
    let body = srv
        .post_ok(
            "chat.update",
            &alice,
            json!({"roomId": rid, "msgId": mid, "text": "# Heading\n- [x] done"}),
        )
        .await;
    let expected = json!([
        {"type": "HEADING", "level": 1, "value": [plain("Heading")]},
        {"type": "LINE_BREAK"},
        {"type": "TASKS", "value": [{"type": "TASK", "status": true, "value": [plain("done")]}]},
    ]);
    assert_eq!(body["message"]["md"], expected, "{body}");
    assert_eq!(message_md(&srv, &bob, &mid).await, expected);

    // A first attachment's description is parsed too (`descriptionMd`).
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": rid, "text": "see", "attachments": [{"description": "_slides_"}]}),
        )
        .await;
    assert_eq!(
        body["message"]["attachments"][0]["descriptionMd"],
        paragraph(json!([{"type": "ITALIC", "value": [plain("slides")]}])),
        "{body}"
    );

    // The workspace's parser settings: colours off, KaTeX with dollars, a custom domain.
    let text = "wiki.intranet $x^2$ color:#ff0000";
    let mid = str_of(&post(&srv, &alice, &rid, text).await["_id"], "id").to_string();
    assert_eq!(
        message_md(&srv, &bob, &mid).await,
        paragraph(json!([
            plain("wiki.intranet $x^2$ "),
            {"type": "COLOR", "value": {"r": 255, "g": 0, "b": 0, "a": 255}},
        ]))
    );
    set_setting(&srv, &admin, "HexColorPreview_Enabled", json!(false)).await;
    set_setting(&srv, &admin, "Katex_Dollar_Syntax", json!(true)).await;
    set_setting(
        &srv,
        &admin,
        "Message_CustomDomain_AutoLink",
        json!("intranet"),
    )
    .await;
    let mid = str_of(&post(&srv, &alice, &rid, text).await["_id"], "id").to_string();
    assert_eq!(
        message_md(&srv, &bob, &mid).await,
        paragraph(json!([
            {"type": "LINK", "value": {"src": plain("//wiki.intranet"), "label": [plain("wiki.intranet")]}},
            plain(" "),
            {"type": "INLINE_KATEX", "value": "x^2"},
            plain(" color:#ff0000"),
        ]))
    );

    // System messages are not parsed (Rocket.Chat parses only what people write).
    srv.post_ok(
        "channels.setTopic",
        &alice,
        json!({"roomId": rid, "topic": "**t**"}),
    )
    .await;
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=1"), &bob)
        .await;
    let latest = &history["messages"][0];
    assert_eq!(latest["t"], "room_changed_topic", "{history}");
    assert!(latest.get("md").is_none(), "{latest}");
}

#[tokio::test]
async fn parsed_text_is_stored_with_messages_on_sqlite() {
    parsed_text_is_stored_with_messages(Palaver::start().await).await;
}

#[tokio::test]
async fn parsed_text_is_stored_with_messages_on_mongodb() {
    let uri = tokio::task::spawn_blocking(|| palaver_tests::mongo::mongo_uri("message_md"))
        .await
        .expect("mongo uri");
    let srv = Palaver::builder().storage_uri(uri).start().await;
    parsed_text_is_stored_with_messages(srv).await;
}
