//! What the benchmarks (`tests/benches/`) share: the release binary they measure,
//! and the statistics they print.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::apps::repo_root;
use crate::process::{cargo, scrub_test_env, target_dir};

/// Builds the release `palaver` (cargo's output shown: it takes minutes) and points
/// `PALAVER_BIN` at it, so [`crate::server::Palaver`] starts it instead of the debug
/// build the tests use: figures of an unoptimised server would mislead. Returns its
/// path. `PALAVER_BENCH_BIN` names a release binary built beforehand instead (no
/// cargo run: e.g. one built in another target directory).
pub fn use_release_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PALAVER_BENCH_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "PALAVER_BENCH_BIN: no file {}",
            bin.display()
        );
        std::env::set_var("PALAVER_BIN", &bin);
        return bin;
    }
    let mut build = Command::new(cargo());
    build
        .args([
            "build",
            "--release",
            "-p",
            "palaver-server",
            "--bin",
            "palaver",
        ])
        .current_dir(repo_root());
    scrub_test_env(&mut build);
    let status = build.status().expect("run cargo build --release");
    assert!(status.success(), "building the release binary failed");
    let bin = target_dir().join("release").join("palaver");
    std::env::set_var("PALAVER_BIN", &bin);
    bin
}

/// The `p` quantile (0.0..=1.0) of `sorted`, nearest rank; zero when it is empty (a
/// run that measured nothing still prints).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let Some(last) = sorted.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let idx = (last as f64 * p).round() as usize;
    sorted[idx.min(last)]
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `d` in microseconds.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Posts one message with `chat.postMessage` and returns how long the answer took.
/// A refused post panics: a benchmark that measured errors would mislead.
pub async fn post_one(
    client: &reqwest::Client,
    url: &str,
    auth: &crate::server::Session,
    rid: &str,
    text: String,
) -> Duration {
    let body = serde_json::json!({"roomId": rid, "text": text});
    let start = std::time::Instant::now();
    let resp = client
        .post(url)
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = resp.status();
    let _ = resp.bytes().await;
    assert!(status.is_success(), "post failed with {status}");
    start.elapsed()
}

/// Posts `n` messages (`"{tag} {worker}-{i}"`) to `rid` from `workers` clients at
/// once; returns every post's latency, unsorted.
pub async fn post_concurrently(
    client: &reqwest::Client,
    url: &str,
    auth: &crate::server::Session,
    rid: &str,
    n: usize,
    workers: usize,
    tag: &str,
) -> Vec<Duration> {
    let mut handles = Vec::new();
    for w in 0..workers {
        let (client, url, auth, rid, tag) = (
            client.clone(),
            url.to_string(),
            auth.clone(),
            rid.to_string(),
            tag.to_string(),
        );
        let per_worker = n / workers + usize::from(w < n % workers);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            for i in 0..per_worker {
                lat.push(post_one(&client, &url, &auth, &rid, format!("{tag} {w}-{i}")).await);
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(n);
    for h in handles {
        all.extend(h.await.expect("posting worker"));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_takes_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn units() {
        assert_eq!(ms(Duration::from_micros(1500)), 1.5);
        assert_eq!(us(Duration::from_nanos(2500)), 2.5);
    }
}
