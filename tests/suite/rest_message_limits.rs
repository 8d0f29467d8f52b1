//! Message limits on every way a person or a webhook posts: a table of oversized
//! messages (too many attachments, too many bytes, too long an attachment text, too
//! many fields, nesting too deep, oversized custom fields, too long a text, unsafe
//! links) sent over REST `chat.postMessage` and `chat.sendMessage`, DDP `sendMessage`
//! and an incoming webhook, and edits over `chat.update` and DDP `updateMessage`:
//! each refused with Rocket.Chat's error, nothing stored, the history small. The
//! apps' ways are in `apps_message_limits`.

use palaver_tests::ddp::Ddp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const SIZE: &str = "error-message-size-exceeded";
const INVALID: &str = "invalid-params";

/// An oversized (or malformed) message: a name, its `attachments` and
/// `customFields`, its text, and the error every path must answer with.
struct Case {
    name: &'static str,
    text: String,
    attachments: Value,
    custom_fields: Option<Value>,
    error: &'static str,
}

fn attachments(n: usize, one: Value) -> Value {
    Value::Array(vec![one; n])
}

fn cases() -> Vec<Case> {
    let case = |name, attachments, error| Case {
        name,
        text: "oversized".into(),
        attachments,
        custom_fields: None,
        error,
    };
    let fields: Vec<Value> = (0..101)
        .map(|i| json!({"title": format!("f{i}"), "value": "v", "short": true}))
        .collect();
    vec![
        case(
            "101 attachments",
            attachments(101, json!({"title": "a"})),
            SIZE,
        ),
        case("100,000 attachments", attachments(100_000, json!({})), SIZE),
        case(
            "80 KB of attachments",
            attachments(20, json!({"text": "x".repeat(4000)})),
            SIZE,
        ),
        case(
            "an attachment text past Message_MaxAllowedSize",
            attachments(1, json!({"text": "x".repeat(5001)})),
            SIZE,
        ),
        case("101 fields", json!([{ "fields": fields }]), SIZE),
        case(
            "attachments nested 3 deep",
            json!([{"attachments": [{"attachments": [{"text": "deep"}]}]}]),
            INVALID,
        ),
        case(
            "a javascript: link",
            json!([{"title": "t", "title_link": "javascript:alert(1)"}]),
            INVALID,
        ),
        Case {
            name: "70 KB of custom fields",
            text: "oversized".into(),
            attachments: json!([]),
            custom_fields: Some(json!({"blob": "x".repeat(70_000)})),
            error: SIZE,
        },
        Case {
            name: "a text past Message_MaxAllowedSize",
            text: "x".repeat(5001),
            attachments: json!([]),
            custom_fields: None,
            error: SIZE,
        },
    ]
}

#[track_caller]
fn assert_refused_with(status: StatusCode, body: &Value, error: &str, ctx: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{ctx}: {body}");
    assert_eq!(body["success"], json!(false), "{ctx}: {body}");
    assert_eq!(body["errorType"], error, "{ctx}: {body}");
}

/// The room's history as served, and its size in bytes.
async fn history(srv: &Palaver, who: &Session, rid: &str) -> (Vec<Value>, usize) {
    let (status, body) = srv
        .get(&format!("channels.history?roomId={rid}&count=100"), who)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let size = body.to_string().len();
    (user_messages(&body["messages"]), size)
}

#[tokio::test]
async fn oversized_messages_are_refused_on_every_path() {
    let srv = Palaver::builder()
        // The 100,000 attachments fit in a request body; the message limits refuse them.
        .env("PALAVER_MAX_BODY_BYTES", (4 * 1024 * 1024).to_string())
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "poster").await;
    let chan = create_channel(&srv, &admin, "limits", &["alice", "poster"]).await;
    let rid = str_of(&chan["_id"], "room id").to_string();
    let hook = srv
        .post_ok(
            "integrations.create",
            &admin,
            json!({"type": "webhook-incoming", "name": "Limits", "enabled": true,
                   "channel": "#limits", "username": "poster", "scriptEnabled": false,
                   // The payloads name their room (the same one).
                   "overrideDestinationChannelEnabled": true}),
        )
        .await["integration"]
        .clone();
    let hook_path = format!(
        "/hooks/{}/{}",
        str_of(&hook["_id"], "hook id"),
        str_of(&hook["token"], "hook token")
    );
    let mut ddp = Ddp::connect_as(&srv, &alice).await;

    // At the limits, each path accepts: 100 attachments, 100 fields, 2 deep.
    let fields: Vec<Value> = (0..100)
        .map(|i| json!({"title": format!("f{i}"), "value": i}))
        .collect();
    let fine = json!([{"title": "fine", "fields": fields, "attachments": [{"text": "quoted"}]}]);
    let mut accepted = attachments(99, json!({"title": "a"}));
    accepted
        .as_array_mut()
        .unwrap()
        .push(json!({"title": "last"}));
    srv.post_ok(
        "chat.postMessage",
        &alice,
        json!({"roomId": rid, "text": "100 attachments", "attachments": accepted}),
    )
    .await;
    srv.post_ok(
        "chat.sendMessage",
        &alice,
        json!({"message": {"rid": rid, "msg": "fields and a quote", "attachments": fine}}),
    )
    .await;
    ddp.call_ok(
        "sendMessage",
        json!([{"rid": rid, "msg": "small over ddp", "attachments": [{"title": "t"}]}]),
    )
    .await;
    let r = srv
        .request(
            Method::POST,
            &hook_path,
            None,
            Body::Json(json!({"text": "small hook", "attachments": [{"title": "t"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let (baseline, baseline_bytes) = history(&srv, &alice, &rid).await;
    assert_eq!(baseline.len(), 4, "{baseline:?}");

    for c in cases() {
        let mut rc = json!({"rid": rid, "msg": c.text, "attachments": c.attachments});
        if let Some(cf) = &c.custom_fields {
            rc["customFields"] = cf.clone();
        }
        let mut post = json!({"roomId": rid, "text": c.text, "attachments": c.attachments});
        if let Some(cf) = &c.custom_fields {
            post["customFields"] = cf.clone();
        }

        let (status, body) = srv.post("chat.postMessage", &alice, post.clone()).await;
        assert_refused_with(
            status,
            &body,
            c.error,
            &format!("chat.postMessage, {}", c.name),
        );

        let (status, body) = srv
            .post("chat.sendMessage", &alice, json!({ "message": rc }))
            .await;
        assert_refused_with(
            status,
            &body,
            c.error,
            &format!("chat.sendMessage, {}", c.name),
        );

        let err = ddp.call_err("sendMessage", json!([rc])).await;
        assert_eq!(err["error"], c.error, "DDP sendMessage, {}: {err}", c.name);

        // The webhook maps a payload's attachments to the keys it knows (Slack's),
        // so nesting cannot be expressed there.
        if c.name != "attachments nested 3 deep" {
            let r = srv
                .request(Method::POST, &hook_path, None, Body::Json(post))
                .await;
            assert_refused_with(r.status, &r.json, c.error, &format!("webhook, {}", c.name));
        }
    }

    // Edits: the text limit holds for chat.update and DDP updateMessage.
    let mine = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": rid, "text": "to edit"}),
        )
        .await["message"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let long = "x".repeat(5001);
    let (status, body) = srv
        .post(
            "chat.update",
            &alice,
            json!({"roomId": rid, "msgId": mine, "text": long}),
        )
        .await;
    assert_refused_with(status, &body, SIZE, "chat.update");
    let err = ddp
        .call_err(
            "updateMessage",
            json!([{"_id": mine, "rid": rid, "msg": long}]),
        )
        .await;
    assert_eq!(err["error"], SIZE, "DDP updateMessage: {err}");

    // Nothing oversized was stored: the history is the baseline and the edit target.
    let (after, after_bytes) = history(&srv, &alice, &rid).await;
    let texts: Vec<&str> = after.iter().filter_map(|m| m["msg"].as_str()).collect();
    assert_eq!(after.len(), 5, "{texts:?}");
    assert_eq!(after[0]["msg"], "to edit", "{}", after[0]);
    assert!(
        after_bytes < baseline_bytes + 2_000 && after_bytes < 64 * 1024,
        "history grew from {baseline_bytes} to {after_bytes} bytes"
    );
}

#[tokio::test]
async fn the_limits_are_configuration() {
    let srv = Palaver::builder()
        .env("PALAVER_MAX_MESSAGE_ATTACHMENTS", "2")
        .env("PALAVER_MAX_MESSAGE_BYTES", "2048")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = create_channel(&srv, &admin, "small", &["alice"]).await;
    let rid = str_of(&chan["_id"], "room id").to_string();
    let post = |a: Value| json!({"roomId": rid, "text": "t", "attachments": a});
    srv.post_ok(
        "chat.postMessage",
        &alice,
        post(attachments(2, json!({"title": "a"}))),
    )
    .await;
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &alice,
            post(attachments(3, json!({"title": "a"}))),
        )
        .await;
    assert_refused_with(status, &body, SIZE, "a third attachment");
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &alice,
            post(json!([{"text": "x".repeat(2100)}])),
        )
        .await;
    assert_refused_with(status, &body, SIZE, "2100 bytes of attachment");
}
