//! Every way the server ends a realtime connection: the client gets the close code
//! of the cause and a reason, the server logs the close once with the connection
//! and the user, and the connection is released (the open count the close log
//! reports returns to zero, nothing panics). Also the clocks that decide some of
//! those closes: the handshake deadline and the heartbeat cannot be held off by
//! sending other frames.

use std::time::{Duration, Instant};

use palaver_tests::ddp::{Closed, Ddp};
use serde_json::{json, Value};

use crate::common::*;

/// The line the server logs once per connection when it ends.
const CLOSED_LOG: &str = "realtime connection closed";

/// Waits until the server has logged `n` connection closes, one of them with no
/// connection left open; returns the log.
async fn wait_until_all_closed(srv: &Palaver, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = srv.log();
        let closes: Vec<&str> = log.lines().filter(|l| l.contains(CLOSED_LOG)).collect();
        // Closes at once may log out of order (each logs after its own count went
        // down), so the line that saw none left need not be the last one.
        if closes.len() >= n && closes.iter().any(|l| l.contains("connections_open=0")) {
            return log;
        }
        if Instant::now() > deadline {
            panic!(
                "expected {n} logged closes, one with connections_open=0; got {}:\n{}\n\
                 panics: {:?}",
                closes.len(),
                closes.join("\n"),
                log.lines()
                    .filter(|l| l.contains("panicked"))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_no_panic(log: &str) {
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "the server panicked: {panics:#?}");
}

/// The logged close of a connection closed by the server with `code` as `user_id`.
fn assert_close_logged(log: &str, code: u16, user_id: &str) {
    let found = log.lines().any(|l| {
        l.contains(CLOSED_LOG)
            && l.contains("by=\"server\"")
            && l.contains(&format!("close_code={code} "))
            && l.contains(&format!("user_id=\"{user_id}\""))
            && l.contains("conn_id=")
    });
    assert!(
        found,
        "no close {code} of user {user_id} logged:\n{}",
        log.lines()
            .filter(|l| l.contains(CLOSED_LOG))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The close frame a client got, if any.
fn seen(closed: &Closed) -> Option<(u16, String)> {
    match closed {
        Closed::Frame(code, reason) => Some((*code, reason.clone())),
        _ => None,
    }
}

/// Asserts the client got a close frame with `code` and a reason containing `reason`.
fn assert_closed_with(closed: &Closed, code: u16, reason: &str, ctx: &str) {
    match closed {
        Closed::Frame(c, r) => {
            assert_eq!(*c, code, "{ctx}: close code ({r})");
            assert!(r.contains(reason), "{ctx}: close reason {r:?}");
        }
        other => panic!("{ctx}: expected close {code}, got {other:?}"),
    }
}

/// Connected, logged in as `who`, subscribed to the room's messages and to the
/// user's notifications.
async fn subscribed(mut ddp: Ddp, who: &Session, rid: &str) -> Ddp {
    ddp.handshake("1").await;
    ddp.call_ok("login", json!([{"resume": who.token}])).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;
    ddp.sub(
        "stream-notify-user",
        json!([format!("{}/notification", who.user_id), false]),
    )
    .await;
    ddp
}

/// Posts `posts` messages of about `chars` characters to `rid`, several at a time.
async fn flood(srv: &Palaver, who: &Session, rid: &str, posts: usize, chars: usize) {
    const POSTERS: usize = 8;
    let filler = "x".repeat(chars);
    let mut posters = Vec::new();
    for p in 0..POSTERS {
        let (http, url, who, rid, filler) = (
            reqwest::Client::new(),
            format!("{}/api/v1/chat.postMessage", srv.base_url()),
            who.clone(),
            rid.to_string(),
            filler.clone(),
        );
        posters.push(tokio::spawn(async move {
            for n in (p..posts).step_by(POSTERS) {
                let resp = http
                    .post(&url)
                    .header("X-User-Id", &who.user_id)
                    .header("X-Auth-Token", &who.token)
                    .json(&json!({"roomId": rid, "text": format!("{n}:{filler}")}))
                    .send()
                    .await
                    .expect("post");
                assert!(resp.status().is_success(), "post {n}: {}", resp.status());
            }
        }));
    }
    for p in posters {
        p.await.expect("poster");
    }
}

#[tokio::test]
async fn every_server_side_close_releases_its_connection() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__QUEUE_FRAMES", "16")
        .env("PALAVER_REALTIME__MAX_BAD_FRAMES", "3")
        .env("PALAVER_REALTIME__CONNECT_TIMEOUT_MS", "2000")
        .start()
        .await;
    let admin = srv.admin().await;
    let user = srv.create_user(&admin, "closer").await;
    let rid = str_of(
        &create_channel(&srv, &admin, "closes", &["closer"]).await["_id"],
        "rid",
    )
    .to_string();
    let who = |i: usize| if i.is_multiple_of(2) { &admin } else { &user };

    // Stalled readers, cut off as slow consumers by the flood below.
    let mut slow = Vec::new();
    for i in 0..3 {
        slow.push(subscribed(Ddp::open_small_buffer(&srv).await, who(i), &rid).await);
    }
    // Clients that send a frame above the (default, 1 MiB) size limit.
    let mut big = Vec::new();
    for i in 0..3 {
        big.push(subscribed(Ddp::open(&srv).await, who(i), &rid).await);
    }
    // Clients that send junk after logging in.
    let mut abusive = Vec::new();
    for i in 0..3 {
        abusive.push(subscribed(Ddp::open(&srv).await, who(i), &rid).await);
    }
    // Sockets that never send `connect`.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(Ddp::open(&srv).await);
    }
    let total = slow.len() + big.len() + abusive.len() + silent.len();

    let huge = format!(
        r#"{{"msg":"method","id":"big","method":"sendMessage","params":["{}"]}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let mut closes = Vec::new();
    for ddp in big.iter_mut() {
        // The server may stop reading before the frame is through.
        let _ = ddp.try_send_text(&huge).await;
        closes.push((
            "oversized frame",
            seen(ddp.closed(Duration::from_secs(10)).await),
        ));
    }
    for ddp in abusive.iter_mut() {
        for _ in 0..4 {
            if ddp.try_send_text("{not ddp").await.is_err() {
                break;
            }
        }
        closes.push((
            "abusive client",
            seen(ddp.closed(Duration::from_secs(10)).await),
        ));
        let errors = ddp
            .buffered()
            .iter()
            .filter(|f| f["reason"] == "Parse error")
            .count();
        assert_eq!(errors, 4, "each junk frame was answered first");
    }
    flood(&srv, &admin, &rid, 800, 4000).await;
    for ddp in slow.iter_mut() {
        closes.push((
            "slow client",
            seen(ddp.closed(Duration::from_secs(20)).await),
        ));
    }
    for ddp in silent.iter_mut() {
        closes.push((
            "silent socket",
            seen(ddp.closed(Duration::from_secs(10)).await),
        ));
    }

    // Every connection is released and its close logged, without a panic.
    let log = wait_until_all_closed(&srv, total).await;
    assert_no_panic(&log);

    // Each with the close code of its cause.
    for (what, close) in &closes {
        let (code, reason) = match (what, close) {
            // The close frame could not get through the stalled socket.
            (&"slow client", None) => continue,
            (_, Some(close)) => close,
            (_, None) => panic!("{what}: no close frame"),
        };
        let (want, words) = match *what {
            "oversized frame" => (1009, "too big"),
            "abusive client" => (1008, "malformed"),
            "slow client" => (1013, "slow consumer"),
            _ => (4000, "no DDP connect"),
        };
        assert_eq!(*code, want, "{what}: close code ({reason})");
        assert!(reason.contains(words), "{what}: close reason {reason:?}");
    }
    for user_id in [&admin.user_id, &user.user_id] {
        for code in [1013, 1009, 1008] {
            assert_close_logged(&log, code, user_id);
        }
    }
    assert_close_logged(&log, 4000, "-");

    // The server still serves.
    let mut after = Ddp::connect_as(&srv, &user).await;
    after.send(json!({"msg": "ping", "id": "after"})).await;
    assert_eq!(after.recv().await, json!({"msg": "pong", "id": "after"}));
}

#[tokio::test]
async fn the_connect_deadline_is_not_reset_by_other_frames() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__CONNECT_TIMEOUT_MS", "1000")
        .start()
        .await;
    let mut ddp = Ddp::open(&srv).await;
    let junk = [
        json!({"msg": "ping"}),
        json!({"msg": "method", "id": "1", "method": "rooms/get", "params": []}),
        json!({"msg": "sub", "id": "2", "name": "stream-room-messages", "params": ["x", false]}),
    ];
    let give_up = Instant::now() + Duration::from_secs(15);
    let mut refused = 0;
    for frame in junk.iter().cycle() {
        assert!(
            Instant::now() < give_up,
            "a socket sending a frame every 200 ms but never `connect` stays open"
        );
        if ddp.try_send_text(&frame.to_string()).await.is_err() {
            break;
        }
        while let Some(answer) = ddp.try_recv(Duration::from_millis(200)).await {
            assert_eq!(answer["reason"], "Must connect first", "{answer}");
            refused += 1;
        }
        if ddp.is_closed().is_some() {
            break;
        }
    }
    assert!(
        refused >= 2,
        "frames before connect are answered ({refused})"
    );
    assert_closed_with(
        ddp.closed(Duration::from_secs(5)).await,
        4000,
        "no DDP connect within 1000 ms",
        "junk before connect",
    );
    let log = wait_until_all_closed(&srv, 1).await;
    assert_no_panic(&log);
}

#[tokio::test]
async fn a_ping_is_answered_only_by_its_pong() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__HEARTBEAT_INTERVAL_MS", "300")
        .env("PALAVER_REALTIME__HEARTBEAT_TIMEOUT_MS", "800")
        .start()
        .await;
    let admin = srv.admin().await;
    let mut ddp = Ddp::connect_as(&srv, &admin).await;
    ddp.auto_pong = false;
    assert_eq!(ddp.recv().await, json!({"msg": "ping"}));
    // Busy with everything but the pong: pings of its own, method calls.
    let give_up = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while ddp.is_closed().is_none() {
        assert!(
            Instant::now() < give_up,
            "a client that talks but never answers the server's ping stays open"
        );
        n += 1;
        let frame = if n % 2 == 0 {
            json!({"msg": "ping", "id": n})
        } else {
            json!({"msg": "method", "id": format!("m{n}"), "method": "getRoomNameById", "params": [42]})
        };
        if ddp.try_send_text(&frame.to_string()).await.is_err() {
            break;
        }
        while ddp.try_recv(Duration::from_millis(100)).await.is_some() {}
    }
    assert_closed_with(
        ddp.closed(Duration::from_secs(5)).await,
        4000,
        "heartbeat timeout",
        "unanswered ping",
    );
    let log = wait_until_all_closed(&srv, 1).await;
    assert_close_logged(&log, 4000, &admin.user_id);
}

#[tokio::test]
async fn a_frame_above_the_limit_is_closed_as_too_big() {
    // The default limit (1 MiB) and a frame ten times that.
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let mut ddp = Ddp::connect_as(&srv, &admin).await;
    let huge = format!(
        r#"{{"msg":"method","id":"1","method":"sendMessage","params":["{}"]}}"#,
        "a".repeat(10 * 1024 * 1024)
    );
    let _ = ddp.try_send_text(&huge).await;
    assert_closed_with(
        ddp.closed(Duration::from_secs(10)).await,
        1009,
        "the limit is 1048576",
        "10 MB frame",
    );
    let log = wait_until_all_closed(&srv, 1).await;
    assert_close_logged(&log, 1009, &admin.user_id);
    assert_no_panic(&log);
}

#[tokio::test]
async fn malformed_messages_past_the_budget_close_the_connection() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__MAX_BAD_FRAMES", "5")
        .start()
        .await;
    let admin = srv.admin().await;
    let mut ddp = Ddp::connect_as(&srv, &admin).await;
    let junk: [Value; 5] = [
        json!("not an object"),
        json!({"msg": "bogus"}),
        json!({"msg": "method", "params": {}}),
        json!({"msg": "sub", "id": 1}),
        json!({"msg": "connect", "version": "1"}),
    ];
    for frame in &junk {
        ddp.send(frame.clone()).await;
        assert_eq!(ddp.recv().await["msg"], "error", "{frame}");
    }
    // Within the budget, the connection works.
    ddp.send(json!({"msg": "ping", "id": "ok"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "pong", "id": "ok"}));
    // One more is too many: answered, then closed.
    ddp.send_text("{").await;
    assert_eq!(
        ddp.recv().await,
        json!({"msg": "error", "reason": "Parse error"})
    );
    assert_closed_with(
        ddp.closed(Duration::from_secs(5)).await,
        1008,
        "more than 5 malformed DDP messages",
        "junk past the budget",
    );
    let log = wait_until_all_closed(&srv, 1).await;
    assert_close_logged(&log, 1008, &admin.user_id);
}

#[tokio::test]
async fn shutdown_closes_every_socket_as_going_away() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let rid = str_of(
        &create_channel(&srv, &admin, "shutdown", &[]).await["_id"],
        "rid",
    )
    .to_string();
    let mut clients = [
        subscribed(Ddp::open(&srv).await, &admin, &rid).await,
        Ddp::connect(&srv).await,
        Ddp::open(&srv).await,
    ];
    assert!(
        srv.stop(Duration::from_secs(15)).await,
        "palaver did not exit within 15 s of SIGTERM"
    );
    for (i, ddp) in clients.iter_mut().enumerate() {
        assert_closed_with(
            ddp.closed(Duration::from_secs(5)).await,
            1001,
            "server shutting down",
            &format!("client {i}"),
        );
    }
    let log = wait_until_all_closed(&srv, clients.len()).await;
    assert_close_logged(&log, 1001, &admin.user_id);
    assert_no_panic(&log);
}
