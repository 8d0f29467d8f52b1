//! Realtime fan-out under a slow consumer: a client that stops reading must not
//! delay anyone else, and is disconnected (with a close reason when the socket
//! still takes one) once its bounded queue overflows; the server logs and counts it.

use std::time::{Duration, Instant};

use palaver_tests::ddp::{Closed, Ddp};
use serde_json::json;

use crate::common::*;

/// Messages posted while the slow client is stalled, and their size: together far
/// more than the socket buffers plus the (lowered) queue can hold.
const POSTS: usize = 800;
const TEXT_CHARS: usize = 4000;
const POSTERS: usize = 8;

#[tokio::test]
async fn a_stalled_client_is_cut_off_without_delaying_others() {
    let srv = Palaver::builder()
        .env("PALAVER_REALTIME__QUEUE_FRAMES", "64")
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = str_of(
        &create_channel(&srv, &admin, "firehose", &[]).await["_id"],
        "rid",
    )
    .to_string();

    let mut slow = Ddp::open_small_buffer(&srv).await;
    slow.handshake("1").await;
    slow.call_ok("login", json!([{"resume": admin.token}]))
        .await;
    slow.sub("stream-room-messages", json!([rid, false])).await;
    let mut fast = Ddp::connect_as(&srv, &admin).await;
    fast.sub("stream-room-messages", json!([rid, false])).await;

    // From here on `slow` is not read. `fast` is read as messages come.
    let reader = tokio::spawn(async move {
        let mut arrivals = Vec::with_capacity(POSTS);
        while arrivals.len() < POSTS {
            let frame = fast.recv().await;
            let text = frame["fields"]["args"][0]["msg"]
                .as_str()
                .unwrap_or_default();
            if let Some(n) = text.split(':').next().and_then(|n| n.parse::<usize>().ok()) {
                arrivals.push((n, Instant::now()));
            }
        }
        (fast, arrivals)
    });
    let started = Instant::now();
    let filler = "x".repeat(TEXT_CHARS);
    let mut posters = Vec::new();
    for p in 0..POSTERS {
        let (http, url, admin, rid, filler) = (
            reqwest::Client::new(),
            format!("{}/api/v1/chat.postMessage", srv.base_url()),
            admin.clone(),
            rid.clone(),
            filler.clone(),
        );
        posters.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in (p..POSTS).step_by(POSTERS) {
                let resp = http
                    .post(&url)
                    .header("X-User-Id", &admin.user_id)
                    .header("X-Auth-Token", &admin.token)
                    .json(&json!({"roomId": rid, "text": format!("{n}:{filler}")}))
                    .send()
                    .await
                    .expect("post");
                assert!(resp.status().is_success(), "post {n}: {}", resp.status());
                acked.push((n, Instant::now()));
            }
            acked
        }));
    }
    let mut acked = vec![started; POSTS];
    for p in posters {
        for (n, at) in p.await.expect("poster") {
            acked[n] = at;
        }
    }
    let (mut fast, arrivals) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the fast client received every message in time")
        .expect("reader task");

    // Every message reached the fast client promptly after its post was acknowledged
    // (a fan-out that waited on the stalled client would hold it up for seconds).
    assert_eq!(arrivals.len(), POSTS);
    let worst = arrivals
        .iter()
        .map(|(n, at)| at.saturating_duration_since(acked[*n]))
        .max()
        .unwrap_or_default();
    assert!(
        worst < Duration::from_secs(3),
        "the fast client waited {worst:?} for a message"
    );

    // The stalled client was cut off: reading now yields part of the stream, then
    // the end of the connection.
    let mut delivered = 0;
    while let Some(frame) = slow.try_recv(Duration::from_secs(10)).await {
        if frame["msg"] == "changed" {
            delivered += 1;
        }
    }
    match slow.is_closed() {
        Some(Closed::Frame(code, reason)) => {
            // Rocket.Chat's DDP streamer's SLOW_CONSUMER: try again later.
            assert_eq!(*code, 1013, "close code ({reason})");
            assert!(
                reason.starts_with("slow consumer"),
                "close reason: {reason}"
            );
        }
        Some(Closed::Dropped(_)) => {} // the close frame could not get through
        other => panic!("the slow client should have been disconnected: {other:?}"),
    }
    assert!(
        delivered < POSTS,
        "the slow client got all {delivered} messages"
    );
    let log = srv.log();
    assert!(
        log.contains("disconnecting a realtime client that cannot keep up")
            && log.contains("slow_consumer_disconnects"),
        "the server logs and counts the disconnect:\n{log}"
    );

    // Everyone else carries on.
    post(&srv, &admin, &rid, "after").await;
    assert_eq!(fast.recv().await["fields"]["args"][0]["msg"], "after");
}
