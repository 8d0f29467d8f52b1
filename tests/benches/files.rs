//! File transfer benchmark (the real release binary, SQLite, rclone peers on
//! loopback): upload and download one 200 MiB file on each backend (local, S3,
//! WebDAV), printing MiB/s and the server's resident memory before the transfer
//! and at its peak during it (sampled every 5 ms from /proc). Streaming means the
//! peak does not grow with the file: a 20 MiB run is printed beside the 200 MiB
//! one for comparison.
//!
//! `cargo bench -p palaver-tests --bench files`. Loopback only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use palaver_tests::bench::use_release_bin;
use palaver_tests::rclone;
use palaver_tests::server::{Palaver, Session};
use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;
const CHUNK: usize = 256 * 1024;

/// Resident set size of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Samples the RSS of `pid` until dropped; `peak()` is the highest seen.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssSampler {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// A deterministic body of `len` bytes, produced chunk by chunk (never whole).
fn body_stream(len: u64) -> reqwest::Body {
    let chunks = len.div_ceil(CHUNK as u64);
    let stream = futures::stream::iter(0..chunks).map(move |i| {
        let start = i * CHUNK as u64;
        let n = (len - start).min(CHUNK as u64) as usize;
        let chunk: Vec<u8> = (0..n).map(|j| ((start as usize + j) * 31) as u8).collect();
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    reqwest::Body::wrap_stream(stream)
}

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

/// Uploads `len` bytes with `rooms.media`; returns the file's URL and seconds taken.
async fn upload(srv: &Palaver, who: &Session, rid: &str, len: u64) -> (String, f64) {
    let part = reqwest::multipart::Part::stream_with_length(body_stream(len), len)
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    let start = Instant::now();
    let resp = reqwest::Client::new()
        .post(srv.url(&format!("rooms.media/{rid}")))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = resp.status();
    let body: Value = resp.json().await.expect("upload answer");
    let secs = start.elapsed().as_secs_f64();
    assert!(status.is_success(), "upload failed: {status} {body}");
    let id = body["file"]["_id"].as_str().expect("file id").to_string();
    srv.post_ok(
        &format!("rooms.mediaConfirm/{rid}/{id}"),
        who,
        json!({"msg": "bench"}),
    )
    .await;
    (body["file"]["url"].as_str().expect("url").to_string(), secs)
}

/// Downloads `url`, counting bytes without keeping them; returns seconds taken.
async fn download(srv: &Palaver, who: &Session, url: &str, len: u64) -> f64 {
    let start = Instant::now();
    let resp = reqwest::Client::new()
        .get(srv.url(url))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .send()
        .await
        .expect("download");
    assert!(resp.status().is_success(), "download: {}", resp.status());
    let mut got = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        got += chunk.expect("download body").len() as u64;
    }
    assert_eq!(got, len, "downloaded size");
    start.elapsed().as_secs_f64()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn run_backend(name: &str, settings: Vec<(&str, Value)>) {
    let srv = Palaver::builder()
        .sqlite()
        .env("RUST_LOG", "warn")
        .start()
        .await;
    let admin = srv.admin().await;
    set(&srv, &admin, "FileUpload_MaxFileSize", json!(-1)).await;
    for (id, value) in settings {
        set(&srv, &admin, id, value).await;
    }
    let rid = srv
        .post_ok("channels.create", &admin, json!({"name": "bench"}))
        .await["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_string();
    let pid = srv.pid().expect("server pid");
    for size in [20 * MIB, 200 * MIB] {
        let before = rss_kib(pid);
        let sampler = RssSampler::start(pid);
        let (url, up) = upload(&srv, &admin, &rid, size).await;
        let up_peak = sampler.finish();
        let before_down = rss_kib(pid);
        let sampler = RssSampler::start(pid);
        let down = download(&srv, &admin, &url, size).await;
        let down_peak = sampler.finish();
        let m = (size / MIB) as f64;
        println!(
            "{name:<7} {:>4} MiB  upload {:>7.1} MiB/s  RSS {:>6.1} -> peak {:>6.1} MiB  | download {:>7.1} MiB/s  RSS {:>6.1} -> peak {:>6.1} MiB",
            size / MIB,
            m / up,
            mib(before),
            mib(up_peak),
            m / down,
            mib(before_down),
            mib(down_peak),
        );
    }
}

#[tokio::main]
async fn main() {
    use_release_bin();
    println!("files bench: one file per size, uploaded with rooms.media then downloaded; RSS of the server process");
    run_backend("local", vec![]).await;
    let s3 = rclone::s3().config();
    run_backend(
        "s3",
        vec![
            ("FileUpload_S3_BucketURL", json!(s3.endpoint)),
            ("FileUpload_S3_Bucket", json!(s3.bucket)),
            ("FileUpload_S3_Region", json!(s3.region)),
            ("FileUpload_S3_ForcePathStyle", json!(true)),
            ("FileUpload_S3_AWSAccessKeyId", json!(s3.access_key)),
            ("FileUpload_S3_AWSSecretAccessKey", json!(s3.secret_key)),
            ("FileUpload_S3_Prefix", json!(s3.prefix)),
            ("FileUpload_Storage_Type", json!("AmazonS3")),
        ],
    )
    .await;
    let dav = rclone::webdav().config();
    run_backend(
        "webdav",
        vec![
            ("FileUpload_Webdav_Server_URL", json!(dav.url)),
            ("FileUpload_Webdav_Username", json!(dav.username)),
            ("FileUpload_Webdav_Password", json!(dav.password)),
            ("FileUpload_Webdav_Upload_Folder_Path", json!(dav.folder)),
            ("FileUpload_Storage_Type", json!("Webdav")),
        ],
    )
    .await;
}
