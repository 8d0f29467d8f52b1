//! Apps engine benchmark, against the real release binary over loopback:
//!
//! - **post path**: REST `chat.postMessage` on a server with no apps and on one with
//!   10 apps' pre-send hooks (10 copies of the `polite` test app, `polite0`..`polite9`,
//!   subscribed to `pre-message-sent` only), measured side by side in alternating
//!   rounds: throughput with concurrent clients (the ratio is the target, ≤ 1.2×) and
//!   the servers' own CPU time per post (which the shared client does not dilute), and
//!   the latency of sequential posts with 0, 1 and 10 apps, whose difference is the
//!   pre-send dispatch cost seen from outside;
//! - **memory**: the server's RSS (`VmRSS`) with 0, 10 and 100 enabled idle apps;
//! - **enable time**: install → enabled (`POST /api/apps` with `enable`) cold (the
//!   first compile, empty cache), warm (a new app id with the same component: the
//!   compile cache in the data directory), and warm after a restart.
//!
//! `cargo bench -p palaver-tests --bench apps` (arguments `post`, `memory`, `enable`
//! pick parts). Bounded in count and time.

use std::time::{Duration, Instant};

use palaver_tests::app_admin::{self, PRE_SEND};
use palaver_tests::apps;
use palaver_tests::bench::{self, ms, percentile, us, use_release_bin};
use palaver_tests::server::{Palaver, Session};
use serde_json::json;

const WORKERS: usize = 16;
const ROUND_POSTS: usize = 500;
const ROUNDS: usize = 10;
const SEQ_POSTS: usize = 25;
const SEQ_ROUNDS: usize = 60;

struct Bench {
    srv: Palaver,
    admin: Session,
    rid: String,
    _market: tempfile::TempDir,
}

async fn server(name: &str) -> Bench {
    let market = tempfile::tempdir().expect("marketplace directory");
    let srv = Palaver::builder()
        .sqlite()
        .env("RUST_LOG", "warn")
        .env(
            "PALAVER_MARKETPLACE_DIR",
            market.path().display().to_string(),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    let body = srv
        .post_ok(
            "channels.create",
            &admin,
            json!({ "name": format!("bench-{name}") }),
        )
        .await;
    let rid = body["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_string();
    Bench {
        srv,
        admin,
        rid,
        _market: market,
    }
}

/// Installs and enables polite copy `id`; returns how long install → enabled took.
async fn install_copy(b: &Bench, wasm: &[u8], id: &str) -> Duration {
    install_manifest(b, wasm, &app_admin::polite_copy_manifest(id, PRE_SEND)).await
}

async fn install_manifest(b: &Bench, wasm: &[u8], manifest: &str) -> Duration {
    let package = app_admin::package_bytes(manifest, wasm);
    let started = Instant::now();
    let app = app_admin::upload_ok(&b.srv, &b.admin, &package, None, true).await;
    let took = started.elapsed();
    assert_eq!(app["status"], "manually_enabled", "{app}");
    took
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(WORKERS)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `n` posts by [`WORKERS`] concurrent clients; returns each post's latency.
async fn post_concurrently(client: &reqwest::Client, b: &Bench, n: usize) -> Vec<Duration> {
    let url = b.srv.url("/api/v1/chat.postMessage");
    let mut handles = Vec::new();
    for w in 0..WORKERS {
        let (client, url, auth, rid) =
            (client.clone(), url.clone(), b.admin.clone(), b.rid.clone());
        let per_worker = n / WORKERS + usize::from(w < n % WORKERS);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            for i in 0..per_worker {
                lat.push(post_one(&client, &url, &auth, &rid, w, i).await);
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(n);
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    all
}

async fn post_one(
    client: &reqwest::Client,
    url: &str,
    auth: &Session,
    rid: &str,
    w: usize,
    i: usize,
) -> Duration {
    bench::post_one(client, url, auth, rid, format!("bench message {w}-{i}")).await
}

async fn post_sequentially(client: &reqwest::Client, b: &Bench, n: usize) -> Vec<Duration> {
    let url = b.srv.url("/api/v1/chat.postMessage");
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        lat.push(post_one(client, &url, &b.admin, &b.rid, 0, i).await);
    }
    lat
}

async fn post_path(wasm: &[u8]) {
    println!("\n== REST chat.postMessage through pre-send hooks (SQLite, loopback, 2 cores shared by client and servers)");
    let none = server("none").await;
    let idle = server("idle").await;
    let one = server("one").await;
    let ten = server("ten").await;
    // An enabled app that subscribes to nothing: what an app costs off the hook.
    install_manifest(
        &idle,
        wasm,
        &app_admin::polite_copy_manifest("polite0", "[]"),
    )
    .await;
    install_copy(&one, wasm, "polite0").await;
    for i in 0..10 {
        install_copy(&ten, wasm, &format!("polite{i}")).await;
    }
    let client = client();
    // polite's hook rewrites a message saying please (once: it skips messages that
    // already end with its suffix): the chain is in place.
    let m = ten
        .srv
        .post_ok(
            "chat.postMessage",
            &ten.admin,
            json!({"roomId": ten.rid, "text": "please warm up"}),
        )
        .await;
    assert_eq!(m["message"]["msg"], "please warm up (polite)");
    for b in [&none, &idle, &one, &ten] {
        post_concurrently(&client, b, 300).await;
    }

    // Throughput, side by side: alternating rounds on the server without apps and
    // the one with ten.
    let (mut t_none, mut t_ten) = (Duration::ZERO, Duration::ZERO);
    let (mut cpu_none, mut cpu_ten) = (Duration::ZERO, Duration::ZERO);
    let (mut lat_none, mut lat_ten) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (started, cpu) = (Instant::now(), cpu_time(&none));
        lat_none.extend(post_concurrently(&client, &none, ROUND_POSTS).await);
        t_none += started.elapsed();
        cpu_none += cpu_time(&none).saturating_sub(cpu);
        let (started, cpu) = (Instant::now(), cpu_time(&ten));
        lat_ten.extend(post_concurrently(&client, &ten, ROUND_POSTS).await);
        t_ten += started.elapsed();
        cpu_ten += cpu_time(&ten).saturating_sub(cpu);
    }
    lat_none.sort();
    lat_ten.sort();
    let total = ROUNDS * ROUND_POSTS;
    let rate_none = total as f64 / t_none.as_secs_f64();
    let rate_ten = total as f64 / t_ten.as_secs_f64();
    println!(
        "{WORKERS} concurrent clients, {ROUNDS} alternating rounds of {ROUND_POSTS} posts per server:"
    );
    println!(
        "  no apps : {rate_none:>7.0} posts/s, latency p50 {:.2} ms p99 {:.2} ms",
        ms(percentile(&lat_none, 0.5)),
        ms(percentile(&lat_none, 0.99))
    );
    println!(
        "  10 apps : {rate_ten:>7.0} posts/s, latency p50 {:.2} ms p99 {:.2} ms",
        ms(percentile(&lat_ten, 0.5)),
        ms(percentile(&lat_ten, 0.99))
    );
    println!(
        "  ratio 10 apps / no apps: time {:.3}x, p50 latency {:.3}x (target <= 1.2x)",
        rate_none / rate_ten,
        percentile(&lat_ten, 0.5).as_secs_f64() / percentile(&lat_none, 0.5).as_secs_f64()
    );
    // The servers' own CPU time, which the shared client's share does not dilute.
    let per_post = |cpu: Duration| us(cpu) / total as f64;
    println!(
        "  server CPU per post: no apps {:.1} us, 10 apps {:.1} us (+{:.1} us, {:.3}x)",
        per_post(cpu_none),
        per_post(cpu_ten),
        per_post(cpu_ten) - per_post(cpu_none),
        cpu_ten.as_secs_f64() / cpu_none.as_secs_f64()
    );

    // Sequential latency: one client, one post at a time, alternating servers.
    let mut seq: [Vec<Duration>; 4] = Default::default();
    for _ in 0..SEQ_ROUNDS {
        for (k, b) in [&none, &one, &ten, &idle].into_iter().enumerate() {
            seq[k].extend(post_sequentially(&client, b, SEQ_POSTS).await);
        }
    }
    for s in &mut seq {
        s.sort();
    }
    let p50: Vec<Duration> = seq.iter().map(|s| percentile(s, 0.5)).collect();
    let p99: Vec<Duration> = seq.iter().map(|s| percentile(s, 0.99)).collect();
    println!(
        "one client, sequential posts ({} per server, alternating):",
        SEQ_ROUNDS * SEQ_POSTS
    );
    for (k, label) in ["no apps", "1 app  ", "10 apps", "1 app without hooks"]
        .iter()
        .enumerate()
    {
        println!(
            "  {label}: p50 {:>7.1} us  p99 {:>7.1} us   (+{:.1} us p50, +{:.1} us p99 over no apps)",
            us(p50[k]),
            us(p99[k]),
            us(p50[k]) - us(p50[0]),
            us(p99[k]) - us(p99[0]),
        );
    }
    println!(
        "  pre-send dispatch per app, from outside: {:.1} us (1 app), {:.1} us (10 apps, per app) at p50",
        us(p50[1]) - us(p50[0]),
        (us(p50[2]) - us(p50[0])) / 10.0
    );
}

/// CPU time the server's threads have run (`/proc/<pid>/task/*/schedstat`, ns).
fn cpu_time(b: &Bench) -> Duration {
    let pid = b.srv.pid().expect("server pid");
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc tasks");
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc status")
}

async fn settled_rss(b: &Bench) -> u64 {
    // Let start-up and install work finish, then take the lowest of a few readings.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = b.srv.pid().expect("server pid");
    let mut lowest = u64::MAX;
    for _ in 0..5 {
        lowest = lowest.min(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lowest
}

async fn memory_and_enable(wasm: &[u8], want_memory: bool, want_enable: bool) {
    let mut b = server("memory").await;
    let rss0 = settled_rss(&b).await;

    // The first install compiles (empty cache); the next ones find the cache.
    let cold = install_copy(&b, wasm, "polite0").await;
    let mut warm = Vec::new();
    for i in 1..10 {
        warm.push(install_copy(&b, wasm, &format!("polite{i}")).await);
    }
    let rss10 = settled_rss(&b).await;
    for i in 10..100 {
        warm.push(install_copy(&b, wasm, &format!("polite{i}")).await);
    }
    let rss100 = settled_rss(&b).await;
    let installed = b.srv.get_ok("/api/apps", &b.admin).await;
    let enabled = installed["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .filter(|a| a["status"] == "manually_enabled")
        .count();
    assert_eq!(enabled, 100, "all 100 apps are enabled");

    let restart_started = Instant::now();
    b.srv.restart().await;
    let restart = restart_started.elapsed();
    b.admin = b.srv.admin().await;
    let rss100_restarted = settled_rss(&b).await;
    let mut after_restart = Vec::new();
    for i in 100..105 {
        after_restart.push(install_copy(&b, wasm, &format!("polite{i}")).await);
    }

    if want_memory {
        println!(
            "\n== Server RSS with enabled idle apps (copies of polite, one warm instance each)"
        );
        let mib = |k: u64| k as f64 / 1024.0;
        println!("    0 apps: {:>7.1} MiB", mib(rss0));
        println!(
            "   10 apps: {:>7.1} MiB  (+{:.1} MiB, {:.0} KiB per app)",
            mib(rss10),
            mib(rss10.saturating_sub(rss0)),
            rss10.saturating_sub(rss0) as f64 / 10.0
        );
        println!(
            "  100 apps: {:>7.1} MiB  (+{:.1} MiB, {:.0} KiB per app; target <= 150 MiB above empty)",
            mib(rss100),
            mib(rss100.saturating_sub(rss0)),
            rss100.saturating_sub(rss0) as f64 / 100.0
        );
        println!(
            "  100 apps after a restart: {:>7.1} MiB",
            mib(rss100_restarted)
        );
    }
    if want_enable {
        warm.sort();
        after_restart.sort();
        println!("\n== App enable time (install -> enabled: POST /api/apps upload with enable)");
        println!("  cold (first compile, empty cache): {:.1} ms", ms(cold));
        println!(
            "  warm (compile cache, new app id): median {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} installs (target <= 50 ms)",
            ms(percentile(&warm, 0.5)),
            ms(percentile(&warm, 0.99)),
            ms(*warm.last().expect("installs")),
            warm.len()
        );
        println!(
            "  warm after a restart (cache on disk): median {:.1} ms over {} installs",
            ms(percentile(&after_restart, 0.5)),
            after_restart.len()
        );
        println!(
            "  restart with 100 enabled apps (SIGTERM -> serving again): {:.0} ms",
            ms(restart)
        );
    }
}

#[tokio::main]
async fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |b: &str| only.is_empty() || only.iter().any(|o| o == b);
    use_release_bin();
    let wasm = std::fs::read(apps::wasm_path(&apps::test_apps_dir(), "polite"))
        .expect("read the polite component");
    println!(
        "Apps engine benchmark (polite component: {} bytes)",
        wasm.len()
    );
    if wants("post") {
        post_path(&wasm).await;
    }
    if wants("memory") || wants("enable") {
        memory_and_enable(&wasm, wants("memory"), wants("enable")).await;
    }
}
