//! Several `palaver` instances on one MongoDB-compatible server: a websocket client
//! on instance A receives what is posted through REST on instance B, promptly and
//! exactly once, and local delivery is not doubled by the relay.

use std::time::{Duration, Instant};

use palaver_tests::ddp::Ddp;
use palaver_tests::mongo::mongo_uri;
use palaver_tests::server::Palaver;
use serde_json::{json, Value};

use crate::common::{create_channel, post};

const ROOM_MESSAGES: &str = "stream-room-messages";

/// Every `stream-room-messages` message text received within `wait`.
async fn texts_within(ddp: &mut Ddp, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = Instant::now() + wait;
    while let Some(frame) = ddp
        .try_recv(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        if frame["collection"] == ROOM_MESSAGES {
            out.push(
                frame["fields"]["args"][0]["msg"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_one_instance_sees_posts_made_on_another() {
    let uri = mongo_uri("realtime_two_instances");
    let a = Palaver::builder().storage_uri(&uri).start().await;
    let b = Palaver::builder().storage_uri(&uri).start().await;
    let admin_a = a.admin().await;
    let admin_b = b.admin().await;
    let room: Value = create_channel(&b, &admin_b, "across", &[]).await;
    let rid = room["_id"].as_str().expect("room id").to_string();

    let mut on_a = Ddp::connect_as(&a, &admin_a).await;
    on_a.sub(ROOM_MESSAGES, json!([rid, false])).await;

    let started = Instant::now();
    post(&b, &admin_b, &rid, "posted on b").await;
    let frame = on_a.event(ROOM_MESSAGES, &rid).await;
    let elapsed = started.elapsed();
    assert_eq!(frame["fields"]["args"][0]["msg"], "posted on b", "{frame}");
    assert!(
        elapsed < Duration::from_secs(2),
        "delivery across instances took {elapsed:?}"
    );

    // A burst from B arrives once each, in order; a post on A itself is not doubled.
    for i in 0..5 {
        post(&b, &admin_b, &rid, &format!("burst {i}")).await;
    }
    post(&a, &admin_a, &rid, "posted on a").await;
    let texts = texts_within(&mut on_a, Duration::from_secs(2)).await;
    let expected: Vec<String> = (0..5)
        .map(|i| format!("burst {i}"))
        .chain(["posted on a".to_string()])
        .collect();
    let mut sorted = texts.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want, "each message exactly once: {texts:?}");
    let bursts: Vec<&String> = texts.iter().filter(|t| t.starts_with("burst")).collect();
    assert_eq!(
        bursts,
        expected[..5].iter().collect::<Vec<_>>(),
        "B's messages in order"
    );
}
