//! REST posting benchmark: messages posted per second and `chat.postMessage`
//! latency (p50/p99) on each storage backend, against the real release binary.
//!
//! `cargo bench -p palaver-tests --bench rest` (add `-- sqlite` or `-- mongo` for one
//! backend). Loopback only; bounded in count and time.

use std::time::{Duration, Instant};

use palaver_tests::bench::{ms, percentile, post_concurrently, use_release_bin};
use palaver_tests::server::{Palaver, Session};
use serde_json::json;

const WORKERS: usize = 32;
const WARMUP: usize = 500;

async fn post_many(
    client: &reqwest::Client,
    url: &str,
    auth: &Session,
    rid: &str,
    n: usize,
) -> Vec<Duration> {
    post_concurrently(client, url, auth, rid, n, WORKERS, "bench message").await
}

async fn run(name: &str, server: Palaver, messages: usize) {
    let admin = server.admin().await;
    let room = server
        .post_ok(
            "channels.create",
            &admin,
            json!({"name": format!("bench-{name}")}),
        )
        .await;
    let rid = room["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_string();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(WORKERS)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let url = server.url("/api/v1/chat.postMessage");
    post_many(&client, &url, &admin, &rid, WARMUP).await;

    let start = Instant::now();
    let mut lat = post_many(&client, &url, &admin, &rid, messages).await;
    let elapsed = start.elapsed();
    lat.sort();
    println!(
        "{name:>7}: {messages} posts by {WORKERS} concurrent clients in {:.2}s = {:.0} msgs/s; \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    let history = server
        .get_ok(&format!("channels.history?roomId={rid}&count=1"), &admin)
        .await;
    let stored = history["total"].as_u64().unwrap_or(0) as usize;
    assert!(
        stored >= messages + WARMUP,
        "only {stored} of {} messages stored",
        messages + WARMUP
    );
}

#[tokio::main]
async fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |b: &str| only.is_empty() || only.iter().any(|o| o == b);
    use_release_bin();
    println!("REST chat.postMessage benchmark (client and server share this machine's cores)");
    if wants("sqlite") {
        let server = Palaver::builder()
            .sqlite()
            .env("RUST_LOG", "warn")
            .start()
            .await;
        run("sqlite", server, 20_000).await;
    }
    if wants("mongo") {
        let uri = palaver_tests::mongo::mongo_uri("bench_rest");
        let server = Palaver::builder()
            .storage_uri(uri)
            .env("RUST_LOG", "warn")
            .start()
            .await;
        run("mongodb", server, 5_000).await;
    }
}
