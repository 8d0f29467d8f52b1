//! A MongoDB-compatible server for the tests.
//!
//! [`mongo_uri`] names a fresh database on:
//!
//! - the server named by `PALAVER_TEST_MONGODB_URI`, when set (a real `mongod`), or
//! - one SecantusDB (a MongoDB-compatible server from PyPI) shared by the whole test
//!   process, started on first use on a free loopback port. Its virtualenv is
//!   `<target>/secantus-venv` ([`crate::installs`]). The server is spawned from a dedicated
//!   long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the test
//!   process however that ends.
//!
//! There are no silent skips: if no server can be had, `mongo_uri` panics with the
//! reason (and, outside CI, the hint to set `PALAVER_TEST_MONGODB_URI`).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::net::free_port;

/// The SecantusDB release the tests run against.
pub const SECANTUS_VERSION: &str = "0.7.0b3";
/// Names an existing MongoDB server to use instead of SecantusDB.
pub const URI_ENV: &str = "PALAVER_TEST_MONGODB_URI";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const START_ATTEMPTS: usize = 3;

/// The base URI (no database) of the shared server, or why there is none.
static SHARED: OnceLock<Result<String, String>> = OnceLock::new();

/// A URI naming the database `db` (callers pass unique names) on a MongoDB-compatible
/// server. Panics if no server can be had.
pub fn mongo_uri(db: &str) -> String {
    if let Ok(uri) = std::env::var(URI_ENV) {
        if !uri.trim().is_empty() {
            return with_database(uri.trim(), db);
        }
    }
    match SHARED.get_or_init(start_shared) {
        Ok(base) => with_database(base, db),
        Err(reason) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "MongoDB tests cannot run (and must not be skipped in CI): {reason}; \
                     set {URI_ENV} to a mongodb:// URI of a running server to use it instead"
                );
            }
            panic!(
                "MongoDB tests cannot run: {reason}\nhint: set {URI_ENV}=mongodb://host:port \
                 to run them against an existing MongoDB server"
            );
        }
    }
}

/// `uri` with its path replaced by `/db` (query kept).
pub fn with_database(uri: &str, db: &str) -> String {
    let (scheme, rest) = match uri.find("://") {
        Some(i) => uri.split_at(i + 3),
        None => ("mongodb://", uri),
    };
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hosts = &rest[..host_end];
    let query = rest[host_end..]
        .split_once('?')
        .map(|(_, q)| q)
        .filter(|q| !q.is_empty());
    match query {
        Some(q) => format!("{scheme}{hosts}/{db}?{q}"),
        None => format!("{scheme}{hosts}/{db}"),
    }
}

/// SecantusDB's virtualenv (created once).
pub(crate) fn install() -> Result<crate::installs::Venv, String> {
    crate::installs::python(
        "secantus-venv",
        &[&format!("SecantusDB=={SECANTUS_VERSION}")],
    )
}

fn start_shared() -> Result<String, String> {
    let venv = install()?;
    let daemon = venv.bin("secantusd-py");
    if !daemon.exists() {
        return Err(format!(
            "SecantusDB installed but {} is missing",
            daemon.display()
        ));
    }
    let mut last_error = String::new();
    for _ in 0..START_ATTEMPTS {
        match start_daemon(&daemon) {
            Ok(port) => return Ok(format!("mongodb://127.0.0.1:{port}/?directConnection=true")),
            // Most likely the free port was taken in the meantime: try another.
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Removes storage directories left by earlier test processes that are gone (the
/// daemon is killed, so it never cleans up after itself).
fn sweep_stale_storage(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("palaver-secantus-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Starts SecantusDB on a free port and waits until it accepts connections.
fn start_daemon(daemon: &Path) -> Result<u16, String> {
    let base = std::env::temp_dir();
    sweep_stale_storage(&base);
    let storage = tempfile::Builder::new()
        .prefix(&format!("palaver-secantus-{}-", std::process::id()))
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a storage directory: {e}"))?
        .keep();
    let log_path = storage.join("secantusd.log");
    let log = File::create(&log_path).map_err(|e| format!("cannot create log file: {e}"))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot clone log file: {e}"))?;
    let port = free_port();

    let mut cmd = Command::new(daemon);
    cmd.arg("--host")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        .arg("--storage-path")
        .arg(storage.join("data"))
        .args(["--cache-size", "256M", "--log-level", "WARNING"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The test process died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }

    // The child's death signal fires when the thread that forked it exits, so it is
    // spawned (and waited for) by a thread that lives as long as the process.
    let (spawned_tx, spawned_rx) = mpsc::channel::<Result<(), String>>();
    let (exited_tx, exited_rx) = mpsc::channel::<String>();
    std::thread::Builder::new()
        .name(format!("secantusdb-{port}"))
        .spawn(move || {
            let mut child = match cmd.spawn() {
                Ok(child) => child,
                Err(e) => {
                    let _ = spawned_tx.send(Err(format!("cannot start secantusd-py: {e}")));
                    return;
                }
            };
            let _ = spawned_tx.send(Ok(()));
            let status = child.wait();
            let _ = exited_tx.send(match status {
                Ok(s) => format!("secantusd-py exited ({s})"),
                Err(e) => format!("waiting for secantusd-py failed: {e}"),
            });
            // The server is gone; keep nothing else alive.
        })
        .map_err(|e| format!("cannot spawn the SecantusDB thread: {e}"))?;
    spawned_rx
        .recv()
        .map_err(|_| "the SecantusDB thread died".to_string())??;

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(reason) = exited_rx.try_recv() {
            return Err(format!(
                "{reason} before accepting connections on port {port}; its log ({}):\n{}",
                log_path.display(),
                read_tail(&log_path)
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            eprintln!(
                "palaver-tests: SecantusDB on 127.0.0.1:{port} (log {})",
                log_path.display()
            );
            return Ok(port);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "SecantusDB did not accept connections on port {port} within {READY_TIMEOUT:?}; \
                 its log ({}):\n{}",
                log_path.display(),
                read_tail(&log_path)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn read_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(8192)));
        let _ = f.read_to_string(&mut text);
    }
    crate::installs::tail(&text)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(with_database("mongodb://h:1", "d"), "mongodb://h:1/d");
        assert_eq!(with_database("mongodb://h:1/", "d"), "mongodb://h:1/d");
        assert_eq!(with_database("mongodb://h:1/old", "d"), "mongodb://h:1/d");
        assert_eq!(
            with_database("mongodb://u:p@h:1,h:2/old?replicaSet=rs", "d"),
            "mongodb://u:p@h:1,h:2/d?replicaSet=rs"
        );
        assert_eq!(
            with_database("mongodb://h:1/?directConnection=true", "d"),
            "mongodb://h:1/d?directConnection=true"
        );
        assert_eq!(
            with_database("mongodb://h:1?directConnection=true", "d"),
            "mongodb://h:1/d?directConnection=true"
        );
    }
}
