//! The bad-words filter (`Message_AllowBadWordsFilter`, `Message_BadWordsFilterList`,
//! `Message_BadWordsWhitelist`): off by default; on, what is stored and shown to
//! everyone has the built-in list's and the workspace's words masked, on sending and
//! on editing, and allowed words stay.

use serde_json::json;

use crate::common::*;
use crate::rest_files::set_setting;

#[tokio::test]
async fn bad_words_are_masked_when_the_workspace_filters_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "polite", &["bob"]).await;
    let rid = str_of(&chan["_id"], "room id").to_string();

    // Off by default: stored as written.
    let sent = post(&srv, &alice, &rid, "badword and shit").await;
    assert_eq!(sent["msg"], "badword and shit", "{sent}");

    set_setting(&srv, &admin, "Message_AllowBadWordsFilter", json!(true)).await;
    set_setting(
        &srv,
        &admin,
        "Message_BadWordsFilterList",
        json!("badword, Badword2"),
    )
    .await;
    let public = srv
        .get_ok("settings.public?_id=Message_AllowBadWordsFilter", &bob)
        .await;
    assert_eq!(public["settings"][0]["value"], true, "{public}");

    // chat.sendMessage answers, stores and shows the masked text.
    let body = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": "This message has badword BADWORD2, not badwords"}}),
        )
        .await;
    let masked = "This message has ******* ********, not badwords";
    assert_eq!(body["message"]["msg"], masked, "{body}");
    let mid = str_of(&body["message"]["_id"], "message id").to_string();
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(got["message"]["msg"], masked, "{got}");

    // The built-in list too, through chat.postMessage.
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": rid, "text": "oh shit"}),
        )
        .await;
    assert_eq!(body["message"]["msg"], "oh ****", "{body}");

    // Editing: the new text is filtered as well.
    let body = srv
        .post_ok(
            "chat.update",
            &alice,
            json!({"roomId": rid, "msgId": mid, "text": "edited: badword2"}),
        )
        .await;
    assert_eq!(body["message"]["msg"], "edited: ********", "{body}");

    // Allowed words stay, whichever list they are on.
    set_setting(
        &srv,
        &admin,
        "Message_BadWordsWhitelist",
        json!("shit,badword"),
    )
    .await;
    let sent = post(&srv, &alice, &rid, "shit badword badword2").await;
    assert_eq!(sent["msg"], "shit badword ********", "{sent}");

    // Off again: nothing is masked, and what was stored stays as it was.
    set_setting(&srv, &admin, "Message_AllowBadWordsFilter", json!(false)).await;
    let sent = post(&srv, &alice, &rid, "badword2").await;
    assert_eq!(sent["msg"], "badword2", "{sent}");
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(got["message"]["msg"], "edited: ********", "{got}");
}
