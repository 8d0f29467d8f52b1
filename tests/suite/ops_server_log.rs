//! The server's log for administrators (`stdout.queue`, `view-logs`), its
//! settings (`Log_Level`, `Log_View_Limit`) applied at runtime, and method and
//! subscription traces (`Log_Trace_*`) with the connection's credentials
//! redacted, as Rocket.Chat prints them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;
use palaver_tests::ddp::Ddp;

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

async fn queue(srv: &Palaver, admin: &Session) -> Vec<String> {
    let body = srv.get_ok("stdout.queue", admin).await;
    body["queue"]
        .as_array()
        .expect("queue")
        .iter()
        .map(|l| {
            assert!(
                l["id"].as_str().is_some_and(|id| id.starts_with("logid-")),
                "{l}"
            );
            assert!(l["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')), "{l}");
            l["string"].as_str().expect("string").to_string()
        })
        .collect()
}

fn wrap(method: &str, params: Value) -> Value {
    json!({"message": json!({"msg": "method", "id": "1", "method": method, "params": params}).to_string()})
}

#[tokio::test]
async fn administrators_read_the_log_and_traces_hide_credentials() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;

    // view-logs only, with Rocket.Chat's bare refusal.
    let (status, body) = srv.get("stdout.queue", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    let lines = queue(&srv, &admin).await;
    assert!(
        lines.iter().any(|l| l.contains("storage ready")),
        "start-up lines are kept: {lines:#?}"
    );

    // Traces: methods over REST and over the websocket, filtered by name.
    set(&srv, &admin, "Log_Trace_Methods", json!(true)).await;
    set(&srv, &admin, "Log_Trace_Methods_Filter", json!("^getRoom")).await;
    let (status, body) = srv
        .post(
            "settings/Log_Trace_Methods_Filter",
            &admin,
            json!({"value": "("}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a broken filter is refused: {body}"
    );
    let cookie = format!("rc_uid={}; rc_token={}", alice.user_id, alice.token);
    let r = srv
        .request_with_headers(
            Method::POST,
            "/api/v1/method.call/getRoomRoles",
            Some(&alice),
            Body::Json(wrap("getRoomRoles", json!(["nope"]))),
            &[("Cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("error-invalid-room"),
        "{}",
        r.text
    );
    srv.post_ok(
        "method.call/listCustomSounds",
        &alice,
        wrap("listCustomSounds", json!([])),
    )
    .await;
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    ddp.call_ok("getRoomNameById", json!([general_id(&srv, &alice).await]))
        .await;

    let lines = queue(&srv, &admin).await;
    let traced: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("palaver_server::trace"))
        .collect();
    let rest = traced
        .iter()
        .find(|l| l.contains("getRoomRoles {"))
        .unwrap_or_else(|| panic!("no trace of getRoomRoles: {traced:#?}"));
    assert!(rest.contains("'x-auth-token': '[redacted]'"), "{rest}");
    assert!(rest.contains("rc_token=[redacted]"), "{rest}");
    assert!(
        rest.contains(&format!("'x-user-id': '{}'", alice.user_id)),
        "{rest}"
    );
    assert!(
        rest.contains(&format!("userId: '{}'", alice.user_id)),
        "{rest}"
    );
    assert!(rest.contains("clientAddress: '127.0.0.1'"), "{rest}");
    let socket = traced
        .iter()
        .find(|l| l.contains("getRoomNameById {"))
        .unwrap_or_else(|| panic!("no trace of the websocket call: {traced:#?}"));
    assert!(
        socket.contains(&format!("userId: '{}'", alice.user_id)),
        "{socket}"
    );
    assert!(
        !traced.iter().any(|l| l.contains("listCustomSounds")),
        "the filter leaves other methods out: {traced:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&alice.token)),
        "no line holds the user's token"
    );

    // Subscriptions are traced on their own switch.
    set(&srv, &admin, "Log_Trace_Subscriptions", json!(true)).await;
    ddp.sub("stream-notify-logged", json!(["user-status", false]))
        .await;
    let lines = queue(&srv, &admin).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("stream-notify-logged { id: '")),
        "{lines:#?}"
    );

    // Log_Level 2 keeps Palaver's debug lines (the log RUST_LOG gives stderr is
    // not the log kept); 0 keeps warnings and errors, traces still.
    set(&srv, &admin, "Log_Level", json!("2")).await;
    let debug_seen = eventually(
        &srv,
        &admin,
        |lines| {
            lines
                .iter()
                .any(|l| l.contains("DEBUG") && l.contains("method over REST refused"))
        },
        || async {
            srv.post_ok("method.call/nope", &alice, wrap("nope", json!([])))
                .await;
        },
    )
    .await;
    assert!(debug_seen, "debug lines are kept at level 2");
    set(&srv, &admin, "Log_Level", json!("0")).await;
    let quiet = eventually(
        &srv,
        &admin,
        |lines| {
            let last = lines.iter().rposition(|l| l.contains("getRoomRoles {"));
            let info_after = last.is_some_and(|i| {
                lines[i..]
                    .iter()
                    .any(|l| l.contains(" INFO ") && !l.contains("palaver_server::trace"))
            });
            last.is_some() && !info_after
        },
        || async {
            srv.post_ok(
                "method.call/getRoomRoles",
                &alice,
                wrap("getRoomRoles", json!(["nope"])),
            )
            .await;
            // A setting change logs at info: not kept at level 0.
            set(&srv, &admin, "Log_Trace_Subscriptions", json!(true)).await;
        },
    )
    .await;
    assert!(
        quiet,
        "level 0 keeps traces but not information: {:#?}",
        queue(&srv, &admin).await
    );

    // Log_View_Limit bounds what is kept.
    set(&srv, &admin, "Log_Level", json!("1")).await;
    set(&srv, &admin, "Log_View_Limit", json!(5)).await;
    let bounded = eventually(
        &srv,
        &admin,
        |lines| lines.len() == 5,
        || async {
            set(&srv, &admin, "Log_Trace_Methods", json!(false)).await;
        },
    )
    .await;
    assert!(bounded, "{:#?}", queue(&srv, &admin).await);
}

/// Runs `act` then reads the log until `done` holds (the log settings apply
/// through the event bus, a moment after the change is answered).
async fn eventually<F, A, Fut>(srv: &Palaver, admin: &Session, done: F, act: A) -> bool
where
    F: Fn(&[String]) -> bool,
    A: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..40 {
        act().await;
        if done(&queue(srv, admin).await) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

async fn general_id(srv: &Palaver, who: &Session) -> String {
    let info = srv.get_ok("rooms.info?roomName=general", who).await;
    info["room"]["_id"].as_str().expect("general").to_string()
}
