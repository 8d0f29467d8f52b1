//! Realtime delivery benchmark: 100 websocket (DDP) clients subscribed to one room,
//! messages posted over REST at a steady ~1,000/s; prints post→delivery latency
//! (p50/p99/max, from just before the REST request to the frame's arrival) and the
//! delivered messages per second, against the real release binary on SQLite.
//!
//! `cargo bench -p palaver-tests --bench realtime` (optionally `-- <clients> <rate>
//! <seconds>`). Loopback only; bounded in count (≤ 20,000 posts) and time. The
//! clients run in this process, so they share the machine with the server: on a
//! small machine the figures include their cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use palaver_tests::bench::{ms, percentile, us, use_release_bin};
use palaver_tests::ddp::Ddp;
use palaver_tests::server::Palaver;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

const MAX_POSTS: usize = 20_000;
const IN_FLIGHT_POSTS: usize = 64;

/// The sequence number of a bench message in a `changed` frame, without parsing
/// the whole JSON (the receivers must stay cheap next to the server).
fn seq_of(frame: &str) -> Option<usize> {
    let at = frame.find("\"_id\":\"bench")? + "\"_id\":\"bench".len();
    let digits: String = frame[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let clients = arg(1, 100) as usize;
    let rate = arg(2, 1000).max(1);
    let seconds = arg(3, 10).max(1);
    let posts = ((rate * seconds) as usize).min(MAX_POSTS);

    use_release_bin();
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let body = srv
        .post_ok(
            "channels.create",
            &admin,
            json!({"name": "bench-realtime", "members": []}),
        )
        .await;
    let rid = body["channel"]["_id"]
        .as_str()
        .expect("channel id")
        .to_string();

    // Subscribers: `clients` DDP sessions, each subscribed to the room.
    let mut subscribers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut ddp = Ddp::connect_as(&srv, &admin).await;
        ddp.sub("stream-room-messages", json!([rid, false])).await;
        subscribers.push(ddp.into_stream());
    }
    let cpu_before = server_cpu(&srv);
    let t0 = Instant::now();
    let mut readers = Vec::new();
    for mut ws in subscribers {
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<(usize, Duration)> = Vec::with_capacity(posts);
            let deadline = tokio::time::sleep(Duration::from_secs(seconds + 30));
            tokio::pin!(deadline);
            while seen.len() < posts {
                let msg = tokio::select! {
                    _ = &mut deadline => break,
                    msg = ws.next() => msg,
                };
                let Some(Ok(msg)) = msg else { break };
                let Ok(text) = msg.to_text() else { continue };
                if let Some(seq) = seq_of(text) {
                    seen.push((seq, t0.elapsed()));
                } else if text == r#"{"msg":"ping"}"# {
                    let _ = ws.send(Message::text(r#"{"msg":"pong"}"#)).await;
                }
            }
            seen
        }));
    }

    // Poster: a steady rate over REST (`chat.sendMessage` with our own ids).
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(IN_FLIGHT_POSTS)
        .build()
        .expect("http client");
    let url = format!("{}/api/v1/chat.sendMessage", srv.base_url());
    let slots = Arc::new(Semaphore::new(IN_FLIGHT_POSTS));
    let mut sent_at = vec![Duration::ZERO; posts];
    let mut post_tasks = Vec::with_capacity(posts);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let post_start = Instant::now();
    for (seq, slot) in sent_at.iter_mut().enumerate() {
        ticker.tick().await;
        let permit = slots.clone().acquire_owned().await.expect("semaphore");
        *slot = t0.elapsed();
        let (http, url, admin, rid) = (http.clone(), url.clone(), admin.clone(), rid.clone());
        post_tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let body = json!({"message": {"_id": format!("bench{seq:06}"), "rid": rid, "msg": format!("realtime bench message number {seq}")}});
            let resp = http
                .post(&url)
                .header("X-User-Id", &admin.user_id)
                .header("X-Auth-Token", &admin.token)
                .json(&body)
                .send()
                .await
                .expect("post");
            let ok = resp.status().is_success();
            let _ = resp.bytes().await;
            drop(permit);
            assert!(ok, "post {seq} failed");
            started.elapsed()
        }));
    }
    let mut post_latency = Vec::with_capacity(posts);
    for t in post_tasks {
        post_latency.push(t.await.expect("post task"));
    }
    let posting = post_start.elapsed();

    let mut latencies = Vec::with_capacity(posts * clients);
    let mut last_delivery = Duration::ZERO;
    let mut first_post = Duration::MAX;
    for r in readers {
        for (seq, at) in r.await.expect("reader task") {
            let sent = sent_at[seq];
            first_post = first_post.min(sent);
            last_delivery = last_delivery.max(at);
            latencies.push(at.saturating_sub(sent));
        }
    }
    let server_cpu_used = server_cpu(&srv).saturating_sub(cpu_before);
    latencies.sort_unstable();
    post_latency.sort_unstable();
    let delivered = latencies.len();
    let expected = posts * clients;
    let span = last_delivery
        .saturating_sub(first_post)
        .as_secs_f64()
        .max(1e-9);
    let log = srv.log();
    let slow = log.matches("cannot keep up").count();

    println!("realtime delivery benchmark (SQLite, release binary, loopback)");
    println!(
        "  {clients} subscribers, {posts} posts at a target of {rate}/s ({:.0}/s achieved over {:.1} s)",
        posts as f64 / posting.as_secs_f64(),
        posting.as_secs_f64()
    );
    println!(
        "  post latency (REST chat.sendMessage):  p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&post_latency, 0.50)),
        ms(percentile(&post_latency, 0.99)),
    );
    println!(
        "  post → delivery latency:               p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "  delivered {delivered} of {expected} messages ({:.0} delivered messages/s); slow-consumer disconnects: {slow}",
        delivered as f64 / span
    );
    println!(
        "  server CPU time during the run: {:.2} s ({:.0} µs per delivered message)",
        server_cpu_used.as_secs_f64(),
        us(server_cpu_used) / delivered.max(1) as f64
    );
}

/// CPU time (user + system) the server process has used so far, from /proc.
fn server_cpu(srv: &Palaver) -> Duration {
    let Some(pid) = srv.pid() else {
        return Duration::ZERO;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / per_sec)
}
