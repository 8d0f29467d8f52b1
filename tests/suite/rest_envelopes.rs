//! Rocket.Chat's envelopes for `chat.postMessage` / `chat.sendMessage`: what they
//! accept (as its API tests send it) and how they refuse.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn post_and_send_message_accept_and_refuse_as_rocket_chat() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let ch = srv
        .post_ok("channels.create", &alice, json!({"name": "env-room"}))
        .await;
    let rid = ch["channel"]["_id"].as_str().unwrap().to_string();

    // No roomId or channel: `[invalid-channel]`.
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &alice,
            json!({"text": "Sample message"}),
        )
        .await;
    assert_error(status, &body, 400, Some("invalid-channel"), "no channel");
    assert_eq!(body["error"], json!("[invalid-channel]"));

    // `channel` by bare name or id, `roomId` as a list, `msg` for `text`.
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"channel": "env-room", "text": "by name"}),
        )
        .await;
    assert_eq!(body["message"]["rid"], json!(rid));
    assert_eq!(body["channel"], json!("env-room"));
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"channel": rid, "text": "by id"}),
        )
        .await;
    assert_eq!(body["message"]["msg"], json!("by id"));
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": [rid], "msg": "as msg"}),
        )
        .await;
    assert_eq!(body["message"]["msg"], json!("as msg"));
    assert!(body["ts"].is_number(), "{body}");

    // sendMessage: Rocket.Chat's messages for a missing message or rid.
    let (status, body) = srv.post("chat.sendMessage", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-params"),
        "no message",
    );
    assert_eq!(
        body["error"],
        json!("The \"message\" parameter must be provided. [error-invalid-params]")
    );
    let (status, body) = srv
        .post("chat.sendMessage", &alice, json!({"message": {"msg": "x"}}))
        .await;
    assert_error(status, &body, 400, None, "no rid");
    assert_eq!(
        body["error"],
        json!("The 'rid' property on the message object is missing.")
    );
    let body = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": "ok"}}),
        )
        .await;
    assert_eq!(body["message"]["msg"], json!("ok"));
}
