//! `alias` and `avatar` on messages need Rocket.Chat's `message-impersonate`
//! permission (held by bots by default): a person without it is refused over REST and
//! DDP with `error-action-not-allowed`; an admin grants it to a role with
//! `permissions.update` (and takes it back); a bot user has it. The message keeps its
//! real sender in `u`. Webhooks: `rest_integrations`; apps: `apps_message_limits`.

use palaver_tests::ddp::Ddp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const NOT_ALLOWED: &str = "error-action-not-allowed";

async fn impersonate_roles(srv: &Palaver, who: &Session) -> Value {
    let body = srv.get_ok("permissions.listAll", who).await;
    let all = body["update"].as_array().expect("update array");
    let p = all
        .iter()
        .find(|p| p["_id"] == "message-impersonate")
        .unwrap_or_else(|| panic!("message-impersonate listed: {body}"));
    assert!(p["_updatedAt"].is_string(), "{p}");
    p["roles"].clone()
}

async fn set_roles(srv: &Palaver, admin: &Session, roles: Value) -> (StatusCode, Value) {
    srv.post(
        "permissions.update",
        admin,
        json!({"permissions": [{"_id": "message-impersonate", "roles": roles}]}),
    )
    .await
}

#[tokio::test]
async fn alias_and_avatar_need_message_impersonate() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.post_ok(
        "users.create",
        &admin,
        json!({"username": "robo", "name": "Robo", "email": "robo@palaver.test",
               "password": password_for("robo"), "roles": ["bot"]}),
    )
    .await;
    let robo = srv.login("robo", &password_for("robo")).await;
    let chan = create_channel(&srv, &admin, "town", &["alice", "robo"]).await;
    let rid = str_of(&chan["_id"], "room id").to_string();
    let mut ddp = Ddp::connect_as(&srv, &alice).await;

    assert_eq!(impersonate_roles(&srv, &alice).await, json!(["bot", "app"]));

    // A person without the permission: refused on every way in, nothing stored.
    let attempts = [
        json!({"roomId": rid, "text": "I am the admin", "alias": "admin"}),
        json!({"roomId": rid, "text": "my face", "avatar": "https://evil.example/admin.png"}),
    ];
    for body in &attempts {
        let (status, resp) = srv.post("chat.postMessage", &alice, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
        assert_eq!(resp["errorType"], NOT_ALLOWED, "{resp}");
        assert!(
            resp["error"]
                .as_str()
                .is_some_and(|e| e.contains("Not enough permission")),
            "{resp}"
        );
    }
    let (status, resp) = srv
        .post(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": "as admin", "alias": "admin"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(resp["errorType"], NOT_ALLOWED, "{resp}");
    let err = ddp
        .call_err(
            "sendMessage",
            json!([{"rid": rid, "msg": "as admin over ddp", "alias": "admin"}]),
        )
        .await;
    assert_eq!(err["error"], NOT_ALLOWED, "{err}");
    // An emoji is not impersonation.
    srv.post_ok(
        "chat.postMessage",
        &alice,
        json!({"roomId": rid, "text": "with an emoji", "emoji": ":smile:"}),
    )
    .await;
    let body = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    let messages = user_messages(&body["messages"]);
    assert_eq!(msg_texts(&json!(messages)), vec!["with an emoji"], "{body}");

    // Only admins change permissions, only Palaver's, only to known roles.
    let (status, resp) = set_roles(&srv, &alice, json!(["user"])).await;
    // Rocket.Chat answers this one with a 400 failure, not the 403 of a route check.
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(
        resp["errorType"], "error-edit-permissions-not-allowed",
        "{resp}"
    );
    let (status, resp) = srv
        .post(
            "permissions.update",
            &admin,
            json!({"permissions": [{"_id": "no-such-permission", "roles": ["user"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(resp["errorType"], "error-invalid-permission", "{resp}");
    let (status, resp) = set_roles(&srv, &admin, json!(["bot", "wizard"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(resp["errorType"], "error-invalid-role", "{resp}");
    assert_eq!(impersonate_roles(&srv, &alice).await, json!(["bot", "app"]));

    // Granted to `user`: alice may, over REST and DDP; `u` is still alice.
    let (status, resp) = set_roles(&srv, &admin, json!(["bot", "user"])).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(
        impersonate_roles(&srv, &alice).await,
        json!(["bot", "user"])
    );
    let m = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": rid, "text": "hello", "alias": "Ali",
                   "avatar": "https://example.com/a.png"}),
        )
        .await["message"]
        .clone();
    assert_eq!(m["alias"], "Ali", "{m}");
    assert_eq!(m["avatar"], "https://example.com/a.png", "{m}");
    assert_eq!(m["u"]["username"], "alice", "{m}");
    assert!(
        m.get("bot").is_none_or(Value::is_null),
        "a person is no bot: {m}"
    );
    let m = ddp
        .call_ok(
            "sendMessage",
            json!([{"rid": rid, "msg": "hello over ddp", "alias": "Ali"}]),
        )
        .await;
    assert_eq!(m["alias"], "Ali", "{m}");

    // Taken back: refused again.
    let (status, resp) = set_roles(&srv, &admin, json!(["bot"])).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let (status, resp) = srv
        .post("chat.postMessage", &alice, attempts[0].clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(resp["errorType"], NOT_ALLOWED, "{resp}");

    // A bot has it by default, and its message is marked as a bot's.
    let m = srv
        .post_ok(
            "chat.postMessage",
            &robo,
            json!({"roomId": rid, "text": "beep", "alias": "Deploys"}),
        )
        .await["message"]
        .clone();
    assert_eq!(m["alias"], "Deploys", "{m}");
    assert_eq!(m["u"]["username"], "robo", "{m}");
    assert!(m["bot"].is_object(), "{m}");
}
