//! Pins and stars (`chat.pinMessage`, `unPinMessage`, `getPinnedMessages`,
//! `starMessage`, `unStarMessage`, `getStarredMessages`), their settings and the
//! `pin-message` permission, mentions (`getMentionedMessages`), and the same over
//! the realtime API (`pinMessage`, `starMessage`).

use palaver_tests::ddp::Ddp;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn pins_need_the_permission_and_the_setting_and_post_a_quote() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = create_channel(&srv, &alice, "pins", &["bob"]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let m1 = post(&srv, &bob, &rid, "remember this").await;
    let mid = m1["_id"].as_str().unwrap().to_string();
    tick().await;
    let m2 = post(&srv, &bob, &rid, "and this").await;
    let mid2 = m2["_id"].as_str().unwrap().to_string();

    // bob is a plain member: `pin-message` is the owner's, moderators' and admins'.
    let (status, body) = srv
        .post("chat.pinMessage", &bob, json!({ "messageId": mid }))
        .await;
    assert_error(status, &body, 400, Some("not-authorized"), "member pins");
    let (status, body) = srv.post("chat.pinMessage", &bob, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-messageid-param-not-provided"),
        "no id",
    );
    let (status, body) = srv
        .post("chat.pinMessage", &alice, json!({ "messageId": "nope" }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-message-not-found"),
        "unknown id",
    );

    // The owner pins: the answer is the `message_pinned` system message quoting it.
    let pinned = srv
        .post_ok("chat.pinMessage", &alice, json!({ "messageId": mid }))
        .await;
    let sys = &pinned["message"];
    assert_eq!(sys["t"], "message_pinned", "{pinned}");
    assert_eq!(sys["rid"], json!(rid));
    assert_eq!(sys["u"]["username"], "alice");
    assert_eq!(sys["attachments"][0]["text"], "remember this", "{sys}");
    assert_eq!(sys["attachments"][0]["author_name"], "bob", "{sys}");
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(got["message"]["pinned"], true, "{got}");
    assert_eq!(got["message"]["pinnedBy"]["username"], "alice", "{got}");
    ts(&got["message"]["pinnedAt"], "pinnedAt");

    srv.post_ok("chat.pinMessage", &alice, json!({ "messageId": mid2 }))
        .await;
    let list = srv
        .get_ok(&format!("chat.getPinnedMessages?roomId={rid}"), &bob)
        .await;
    assert_page(&list, "messages", 2, 0, 2, "pinned");
    assert_eq!(
        msg_texts(&list["messages"]),
        vec!["and this", "remember this"]
    );
    let list = srv
        .get_ok(
            &format!("chat.getPinnedMessages?roomId={rid}&count=1&offset=1"),
            &bob,
        )
        .await;
    assert_page(&list, "messages", 1, 1, 2, "pinned page");
    let (status, body) = srv.get("chat.getPinnedMessages", &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-roomId-param-not-provided"),
        "no room",
    );

    // Unpinned, it leaves the list.
    srv.post_ok("chat.unPinMessage", &alice, json!({ "messageId": mid2 }))
        .await;
    let list = srv
        .get_ok(&format!("chat.getPinnedMessages?roomId={rid}"), &bob)
        .await;
    assert_eq!(msg_texts(&list["messages"]), vec!["remember this"]);

    // The setting off refuses pinning for everyone.
    srv.post_ok(
        "settings/Message_AllowPinning",
        &admin,
        json!({ "value": false }),
    )
    .await;
    let (status, body) = srv
        .post("chat.pinMessage", &alice, json!({ "messageId": mid2 }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "pinning off",
    );

    // A permission change reaches the check: members may pin when `user` has it.
    srv.post_ok(
        "settings/Message_AllowPinning",
        &admin,
        json!({ "value": true }),
    )
    .await;
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [{ "_id": "pin-message", "roles": ["user"] }] }),
    )
    .await;
    let mut ddp = Ddp::connect_as(&srv, &bob).await;
    let sys = ddp.call_ok("pinMessage", json!([{ "_id": mid2 }])).await;
    assert_eq!(sys["t"], "message_pinned", "{sys}");
    let list = srv
        .get_ok(&format!("chat.getPinnedMessages?roomId={rid}"), &bob)
        .await;
    assert_eq!(list["total"], 2, "{list}");
}

#[tokio::test]
async fn stars_are_per_user_and_mentions_list_what_names_me() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = create_channel(&srv, &alice, "stars", &["bob"]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let m1 = post(&srv, &alice, &rid, "hello @bob").await;
    let mid = m1["_id"].as_str().unwrap().to_string();
    tick().await;
    post(&srv, &alice, &rid, "nothing for bob").await;

    srv.post_ok("chat.starMessage", &bob, json!({ "messageId": mid }))
        .await;
    let bobs = srv
        .get_ok(&format!("chat.getStarredMessages?roomId={rid}"), &bob)
        .await;
    assert_page(&bobs, "messages", 1, 0, 1, "bob's stars");
    assert_eq!(
        bobs["messages"][0]["starred"],
        json!([{ "_id": bob.user_id }])
    );
    let alices = srv
        .get_ok(&format!("chat.getStarredMessages?roomId={rid}"), &alice)
        .await;
    assert_page(&alices, "messages", 0, 0, 0, "alice starred nothing");
    let (status, body) = srv.get("chat.getStarredMessages", &bob).await;
    assert_error(status, &body, 400, Some("error-invalid-params"), "no room");

    // Not a member: no star.
    let (status, body) = srv
        .post("chat.starMessage", &carol, json!({ "messageId": mid }))
        .await;
    assert_error(status, &body, 400, None, "outsider stars");

    // Over the realtime API, and unstarring.
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let r = ddp
        .call_ok(
            "starMessage",
            json!([{ "_id": mid, "rid": rid, "starred": true }]),
        )
        .await;
    assert_eq!(r, json!(true));
    srv.post_ok("chat.unStarMessage", &bob, json!({ "messageId": mid }))
        .await;
    let bobs = srv
        .get_ok(&format!("chat.getStarredMessages?roomId={rid}"), &bob)
        .await;
    assert_eq!(bobs["total"], 0, "{bobs}");
    let alices = srv
        .get_ok(&format!("chat.getStarredMessages?roomId={rid}"), &alice)
        .await;
    assert_eq!(alices["total"], 1, "{alices}");

    srv.post_ok(
        "settings/Message_AllowStarring",
        &admin,
        json!({ "value": false }),
    )
    .await;
    let (status, body) = srv
        .post("chat.starMessage", &bob, json!({ "messageId": mid }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "starring off",
    );

    // Mentions: only the message naming bob.
    let mentioned = srv
        .get_ok(&format!("chat.getMentionedMessages?roomId={rid}"), &bob)
        .await;
    assert_page(&mentioned, "messages", 1, 0, 1, "bob's mentions");
    assert_eq!(mentioned["messages"][0]["_id"], json!(mid));
    let none = srv
        .get_ok(&format!("chat.getMentionedMessages?roomId={rid}"), &alice)
        .await;
    assert_eq!(none["total"], 0, "{none}");
    let (status, body) = srv
        .get("chat.getMentionedMessages?roomId=invalid-room", &bob)
        .await;
    assert_error(status, &body, 400, None, "unknown room");
}
