//! Realtime API, the protocol itself: handshake for every DDP version (and refusal of
//! unknown ones), both websocket paths, ping/pong both ways, the heartbeat closing a
//! dead client, and malformed frames answered with DDP errors on a connection that
//! keeps working.

use std::time::Duration;

use palaver_tests::ddp::{Closed, Ddp};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn handshake_for_every_version_and_path() {
    let srv = Palaver::start().await;
    let mut sessions = Vec::new();
    for (path, version) in [
        ("/websocket", "1"),
        ("/websocket", "pre2"),
        ("/websocket", "pre1"),
        ("/sockjs/websocket", "1"),
    ] {
        let mut ddp = Ddp::open_path(&srv, path).await;
        // `handshake` asserts the first frame is exactly {"msg":"connected","session":…}.
        ddp.handshake(version).await;
        let session = ddp.session.clone().expect("session id");
        assert!(!session.is_empty(), "{path} v{version}: empty session id");
        sessions.push(session);
        // The session works: a ping is answered.
        ddp.send(json!({"msg": "ping", "id": version})).await;
        assert_eq!(ddp.recv().await, json!({"msg": "pong", "id": version}));
    }
    sessions.sort();
    sessions.dedup();
    assert_eq!(sessions.len(), 4, "session ids must be distinct");

    // Clients that send `support` with several versions are fine too.
    let mut ddp = Ddp::open(&srv).await;
    ddp.send(json!({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}))
        .await;
    let first = ddp.recv().await;
    assert_eq!(first["msg"], "connected", "{first}");
}

#[tokio::test]
async fn unknown_version_fails_and_closes() {
    let srv = Palaver::start().await;
    for bad in [json!("2"), json!("pre3"), json!(null)] {
        let mut ddp = Ddp::open(&srv).await;
        ddp.send(json!({"msg": "connect", "version": bad, "support": [bad]}))
            .await;
        assert_eq!(ddp.recv().await, json!({"msg": "failed", "version": "1"}));
        match ddp.closed(Duration::from_secs(5)).await {
            Closed::Frame(code, _) => assert_eq!(*code, 1000, "close code"),
            other => panic!("expected a close frame after `failed`, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn frames_before_connect_are_refused() {
    let srv = Palaver::start().await;
    let mut ddp = Ddp::open(&srv).await;
    let call = json!({"msg": "method", "id": "1", "method": "rooms/get", "params": []});
    ddp.send(call.clone()).await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Must connect first", "offendingMessage": call})
    );
    // The handshake still works afterwards.
    ddp.handshake("1").await;
}

#[tokio::test]
async fn ping_pong_both_ways_and_dead_clients_are_closed() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__HEARTBEAT_INTERVAL_MS", "300")
        .env("PALAVER_REALTIME__HEARTBEAT_TIMEOUT_MS", "600")
        .start()
        .await;
    let mut ddp = Ddp::connect(&srv).await;
    ddp.send(json!({"msg": "ping", "id": "abc"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "pong", "id": "abc"}));
    ddp.send(json!({"msg": "ping"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "pong"}));

    // An idle client is pinged; answering keeps it alive.
    ddp.auto_pong = false;
    for _ in 0..3 {
        assert_eq!(ddp.recv().await, json!({"msg": "ping"}));
        ddp.send(json!({"msg": "pong"})).await;
    }
    // One that stops answering is closed.
    assert_eq!(ddp.recv().await, json!({"msg": "ping"}));
    match ddp.closed(Duration::from_secs(5)).await {
        Closed::Frame(code, reason) => {
            // Rocket.Chat's DDP streamer's TIMEOUT.
            assert_eq!(*code, 4000, "close code");
            assert_eq!(reason, "heartbeat timeout");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    // A `pre1` client has no DDP ping: it gets websocket pings, which tungstenite
    // answers by itself, so it stays connected while it reads.
    let mut old = Ddp::open(&srv).await;
    old.handshake("pre1").await;
    assert!(
        old.try_recv(Duration::from_millis(1500)).await.is_none(),
        "no DDP frames for a pre1 client"
    );
    assert!(old.is_closed().is_none(), "{:?}", old.is_closed());
    old.send(json!({"msg": "ping", "id": 1})).await;
    assert_eq!(old.recv().await, json!({"msg": "pong", "id": 1}));
}

#[tokio::test]
async fn malformed_frames_get_ddp_errors_and_the_connection_survives() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let mut ddp = Ddp::connect_as(&srv, &admin).await;

    ddp.send_text("this is not json").await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Parse error"})
    );
    ddp.send_text("{\"msg\": \"method\", ").await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Parse error"})
    );
    for bad in [
        json!({"no": "msg"}),
        json!([1, 2]),
        json!({"msg": "bogus"}),
        json!({"msg": 7}),
    ] {
        ddp.send(bad.clone()).await;
        assert_eq!(
            ddp.recv().await,
            json!({"msg": "error", "reason": "Bad request", "offendingMessage": bad})
        );
    }
    let bad_method =
        json!({"msg": "method", "id": "m1", "method": "rooms/get", "params": {"a": 1}});
    ddp.send(bad_method.clone()).await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Malformed method invocation", "offendingMessage": bad_method})
    );
    let no_id = json!({"msg": "method", "method": "rooms/get"});
    ddp.send(no_id.clone()).await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Malformed method invocation", "offendingMessage": no_id})
    );
    let bad_sub = json!({"msg": "sub", "id": 5, "name": "stream-room-messages"});
    ddp.send(bad_sub.clone()).await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Malformed subscription", "offendingMessage": bad_sub})
    );
    ddp.send(json!({"msg": "connect", "version": "1"})).await;
    assert_eq!(ddp.recv().await["reason"], "Already connected");

    // Unknown method: Meteor's 404 error, then `updated`.
    let frame = ddp.call("no.such.method", json!([1])).await;
    assert_eq!(
        frame,
        json!({"msg": "result", "id": frame["id"], "error": {
            "isClientSafe": true, "error": 404,
            "reason": "Method 'no.such.method' not found",
            "message": "Method 'no.such.method' not found [404]",
            "errorType": "Meteor.Error"
        }})
    );
    // Unknown subscription: nosub with a 404.
    let error = ddp.sub_refused("no-such-stream", json!(["x", false])).await;
    assert_eq!(
        error,
        json!({"isClientSafe": true, "error": 404,
               "reason": "Subscription 'no-such-stream' not found",
               "message": "Subscription 'no-such-stream' not found [404]",
               "errorType": "Meteor.Error"})
    );
    // Wrongly typed method parameters: Meteor's `Match failed`.
    let error = ddp.call_err("getRoomNameById", json!([42])).await;
    assert_eq!(
        error,
        json!({"isClientSafe": true, "error": 400, "reason": "Match failed",
               "message": "Match failed [400]", "errorType": "Meteor.Error"})
    );
    // Unsubscribing from something unknown still answers nosub.
    ddp.send(json!({"msg": "unsub", "id": "never"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "nosub", "id": "never"}));

    // Still alive and working.
    ddp.send(json!({"msg": "ping", "id": "still"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "pong", "id": "still"}));
    let rooms = ddp.call_ok("rooms/get", json!([])).await;
    assert!(rooms.is_array(), "rooms/get: {rooms}");
    assert!(
        ddp.buffered().is_empty(),
        "stray frames: {:?}",
        ddp.buffered()
    );
}

#[tokio::test]
async fn oversized_frames_close_the_connection_not_the_server() {
    let srv = Palaver::builder()
        .env("PALAVER_MAX_BODY_BYTES", "4096")
        .start()
        .await;
    let mut ddp = Ddp::connect(&srv).await;
    let big = format!(
        r#"{{"msg":"method","id":"1","method":"x","params":["{}"]}}"#,
        "a".repeat(10_000)
    );
    let _ = ddp.try_send_text(&big).await;
    match ddp.closed(Duration::from_secs(5)).await {
        Closed::Frame(code, reason) => {
            assert_eq!(*code, 1009, "close code ({reason})");
            assert!(reason.contains("the limit is 4096"), "reason: {reason}");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    // Others are unaffected.
    let mut other = Ddp::connect(&srv).await;
    other.send(json!({"msg": "ping"})).await;
    assert_eq!(other.recv().await, json!({"msg": "pong"}));
}
