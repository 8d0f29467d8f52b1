//! Delivery queue benchmark (SQLite, the real release binary): 10,000 outgoing
//! webhook calls enqueued by posts and delivered to a local HTTP receiver; printed
//! side by side:
//! - posting throughput with an idle queue (a room without webhooks);
//! - posting throughput while every post enqueues a call (the receiver holds its
//!   requests, so the backlog builds up to 10,000);
//! - posting throughput in the quiet room while the 10,000-item backlog drains;
//! - delivery: items/s from the receiver opening until the last item is delivered.
//!
//! `cargo bench -p palaver-tests --bench outbox`. Loopback only.

use std::time::{Duration, Instant};

use palaver_tests::bench::{ms, percentile, post_concurrently, use_release_bin};
use palaver_tests::hook_sink::{Answer, HookSink};
use palaver_tests::server::{Palaver, Session};
use serde_json::{json, Value};

const WORKERS: usize = 32;
const ITEMS: usize = 10_000;
const POSTS: usize = 3_000;

struct Run {
    posts: usize,
    elapsed: Duration,
    lat: Vec<Duration>,
}

impl Run {
    fn line(&self, what: &str) -> String {
        format!(
            "{what:<44} {:>6.0} msgs/s  (p50 {:>6.2} ms, p99 {:>6.2} ms; {} posts in {:.2} s)",
            self.posts as f64 / self.elapsed.as_secs_f64(),
            ms(percentile(&self.lat, 0.50)),
            ms(percentile(&self.lat, 0.99)),
            self.posts,
            self.elapsed.as_secs_f64(),
        )
    }
}

async fn post_many(
    client: &reqwest::Client,
    srv: &Palaver,
    auth: &Session,
    rid: &str,
    n: usize,
    tag: &str,
) -> Run {
    let url = srv.url("/api/v1/chat.postMessage");
    let start = Instant::now();
    let mut lat = post_concurrently(client, &url, auth, rid, n, WORKERS, tag).await;
    let elapsed = start.elapsed();
    lat.sort();
    Run {
        posts: n,
        elapsed,
        lat,
    }
}

async fn webhook_queue(srv: &Palaver, admin: &Session) -> Value {
    let body = srv.get_ok("palaver.outbox.stats", admin).await;
    body["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == "webhook"))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn channel(srv: &Palaver, admin: &Session, name: &str) -> String {
    let room = srv
        .post_ok("channels.create", admin, json!({"name": name}))
        .await;
    room["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_string()
}

#[tokio::main]
async fn main() {
    use_release_bin();
    let sink = HookSink::start().await;
    let srv = Palaver::builder()
        .envs([sink.allow_env()])
        .sqlite()
        .env("RUST_LOG", "warn")
        .start()
        .await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let quiet = channel(&srv, &admin, "quiet").await;
    let busy = channel(&srv, &admin, "busy").await;
    srv.post_ok(
        "integrations.create",
        &admin,
        json!({
            "type": "webhook-outgoing", "name": "bench", "enabled": true,
            "event": "sendMessage", "channel": "#busy", "username": "bot",
            "urls": [sink.url("/bench")], "scriptEnabled": false,
        }),
    )
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(WORKERS)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    println!(
        "Outbox benchmark on SQLite: {ITEMS} outgoing webhook calls to a local receiver; \
         {WORKERS} concurrent posting clients (client, server and receiver share this machine's cores)"
    );

    // Warm-up, then the baseline: no webhook on this room, the queue idle.
    post_many(&client, &srv, &admin, &quiet, 500, "warm-up").await;
    let idle = post_many(&client, &srv, &admin, &quiet, POSTS, "idle").await;

    // Every post enqueues a call; the receiver holds them, so the backlog grows.
    sink.set_default(Answer::status(200).held());
    let enqueueing = post_many(&client, &srv, &admin, &busy, ITEMS, "busy").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let q = webhook_queue(&srv, &admin).await;
        if q["pending"].as_u64() == Some(ITEMS as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backlog never reached {ITEMS}: {q}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Open the receiver: the backlog drains while the quiet room is posted to.
    sink.set_default(Answer::status(200));
    sink.release();
    let opened = Instant::now();
    let draining = post_many(&client, &srv, &admin, &quiet, POSTS, "draining").await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Distinct messages: a call cut short (timeout) and made again counts once.
        let ok: std::collections::HashSet<String> = sink
            .hits_on("/bench")
            .iter()
            .filter(|h| h.status == 200)
            .filter_map(|h| h.body["message_id"].as_str().map(str::to_string))
            .collect();
        let ok = ok.len();
        if ok >= ITEMS {
            break;
        }
        assert!(Instant::now() < deadline, "{ok} of {ITEMS} delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = opened.elapsed();
    let mut q = webhook_queue(&srv, &admin).await;
    while q["pending"].as_u64() != Some(0) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        q = webhook_queue(&srv, &admin).await;
    }
    let calls = sink.hits_on("/bench").len();

    println!(
        "{}",
        idle.line("posting, queue idle (room without webhook):")
    );
    println!(
        "{}",
        enqueueing.line("posting, each post enqueues a webhook call:")
    );
    println!(
        "{}",
        draining.line("posting, while 10,000 queued calls drain:")
    );
    println!(
        "delivery: {ITEMS} items in {:.2} s = {:.0} items/s (calls received: {calls}, dead: {})",
        delivered.as_secs_f64(),
        ITEMS as f64 / delivered.as_secs_f64(),
        q["dead"]
    );
}
