//! The real `palaver` binary as a child process, and a small REST client for it.
//!
//! [`Palaver::start`] builds the binary (once per test process, unless `PALAVER_BIN`
//! names one), starts `palaver serve` on a free loopback port with a fresh temporary
//! data directory and known admin credentials, and waits until `GET /api/info` answers.
//! The child is killed when the [`Palaver`] is dropped, and also (belt and braces) when
//! the thread that started it dies, through `PR_SET_PDEATHSIG`. Its stdout and stderr
//! go to `palaver.log` in the data directory; when a test panics the tail of that log
//! is printed, so a failure shows what the server said.
//!
//! The same data directory survives [`Palaver::restart`] and [`Palaver::kill9`] +
//! [`Palaver::start_again`], which is what the durability tests need.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::apps::repo_root;
use crate::net::free_port;
use crate::process::{cargo, die_with_parent, log_tail, scrub_test_env, target_dir};

/// Admin account created by every test server on first start.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "Adm1n-secret-pass";
pub const ADMIN_EMAIL: &str = "admin@palaver.test";

/// The password the helpers give to a user they create: derived from the username so a
/// test can log in again later.
pub fn password_for(username: &str) -> String {
    format!("{username}-Pa55word")
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where the server keeps its data.
#[derive(Clone, Debug)]
pub enum Storage {
    /// The embedded default (`PALAVER_STORAGE` unset → SQLite in the data directory).
    Sqlite,
    /// A storage URI, e.g. `mongodb://127.0.0.1:PORT/db` (`PALAVER_STORAGE=<uri>`).
    Uri(String),
}

/// How to start a test server; see [`Palaver::builder`].
#[derive(Clone, Debug)]
pub struct PalaverBuilder {
    storage: Storage,
    env: Vec<(String, String)>,
    config_toml: Option<String>,
}

impl PalaverBuilder {
    /// Use SQLite (the default).
    pub fn sqlite(mut self) -> Self {
        self.storage = Storage::Sqlite;
        self
    }

    /// Use the given storage URI (e.g. from [`crate::mongo::mongo_uri`]).
    pub fn storage_uri(mut self, uri: impl Into<String>) -> Self {
        self.storage = Storage::Uri(uri.into());
        self
    }

    /// An extra environment variable for the child; it wins over the harness defaults
    /// (e.g. to lower the login rate limits, which the harness otherwise raises).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A configuration file with this content, passed as `serve --config <file>`.
    pub fn config_toml(mut self, toml: impl Into<String>) -> Self {
        self.config_toml = Some(toml.into());
        self
    }

    /// Several [`env`](Self::env) variables at once, e.g. a fake's `palaver_env()`.
    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(vars);
        self
    }

    pub async fn start(self) -> Palaver {
        crate::prefetch::start();
        let data_dir = tempfile::Builder::new()
            .prefix("palaver-e2e-")
            .tempdir()
            .expect("create a temporary data directory");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("build the HTTP client");
        let config_file = self.config_toml.map(|toml| {
            let path = data_dir.path().join("palaver.toml");
            std::fs::write(&path, toml).expect("write the configuration file");
            path
        });
        let mut server = Palaver {
            child: None,
            port: free_port(),
            data_dir,
            storage: self.storage,
            env: self.env,
            config_file,
            http,
        };
        server.spawn_and_wait().await;
        server
    }
}

/// A running `palaver serve` child process; killed on drop.
pub struct Palaver {
    child: Option<Child>,
    port: u16,
    data_dir: TempDir,
    storage: Storage,
    env: Vec<(String, String)>,
    /// Passed as `--config` (see [`PalaverBuilder::config_toml`]).
    config_file: Option<PathBuf>,
    http: reqwest::Client,
}

/// A logged-in user: the two values of the `X-User-Id` / `X-Auth-Token` headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub token: String,
    pub username: String,
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    /// Raw bytes with a content type, e.g. malformed JSON.
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// A full HTTP response: status, headers, the body parsed as JSON (`Null` when empty,
/// `{"__non_json_body": text}` when it is not JSON) and the raw text.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The `palaver` binary: `PALAVER_BIN`, or `cargo build -p palaver-server --bin palaver`
/// (once per test process) and `<target dir>/debug/palaver`.
pub fn palaver_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PALAVER_BIN") {
            return PathBuf::from(bin);
        }
        // Features as `cargo test --workspace` resolved them, so this reuses what that
        // run built and only links the binary: cargo unifies features over every
        // selected member, and `--examples` (there are none) makes it count their
        // dev-dependencies, as testing does. `-p palaver-server` alone would resolve
        // fewer (no tokio test-util, none of the test-only crates' features) and
        // rebuild the server and most of its dependencies a second time.
        let mut build = Command::new(cargo());
        build
            .args(["build", "--quiet", "--workspace", "--bins", "--examples"])
            .current_dir(repo_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        scrub_test_env(&mut build);
        let out = build
            .output()
            .expect("run cargo build for the palaver binary");
        if !out.status.success() {
            panic!(
                "building the palaver binary failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let bin = target_dir().join("debug").join("palaver");
        assert!(
            bin.exists(),
            "cargo built the palaver binary but {} does not exist",
            bin.display()
        );
        bin
    })
}

impl Palaver {
    /// A server with the defaults: SQLite, the known admin, generous login limits.
    pub async fn start() -> Palaver {
        Self::builder().start().await
    }

    pub fn builder() -> PalaverBuilder {
        PalaverBuilder {
            storage: Storage::Sqlite,
            env: Vec::new(),
            config_toml: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `path` starting with `/` is taken as is; anything else is under `/api/v1/`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.base_url(), path)
        } else {
            format!("{}/api/v1/{}", self.base_url(), path)
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.path().join("palaver.log")
    }

    /// Everything the server printed so far (all runs on this data directory).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self, max_bytes: u64) -> String {
        log_tail(&self.log_path(), max_bytes)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn command(&self) -> io::Result<Command> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = Command::new(palaver_bin());
        cmd.arg("serve");
        if let Some(file) = &self.config_file {
            cmd.arg("--config").arg(file);
        }
        // Start from a clean slate: nothing from the developer's environment leaks in.
        for (key, _) in std::env::vars_os() {
            if let Some(k) = key.to_str() {
                if k.starts_with("PALAVER_") {
                    cmd.env_remove(k);
                }
            }
        }
        cmd.env("PALAVER_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("PALAVER_DATA_DIR", self.data_dir.path())
            .env("PALAVER_ADMIN_USERNAME", ADMIN_USERNAME)
            .env("PALAVER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PALAVER_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("PALAVER_SITE_URL", self.base_url())
            .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "1000000")
            .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "1000000")
            .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "60")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1");
        if let Storage::Uri(uri) = &self.storage {
            cmd.env("PALAVER_STORAGE", uri);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.current_dir(self.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        die_with_parent(&mut cmd);
        Ok(cmd)
    }

    /// Starts the child on `self.port` and waits for `/api/info`; if the child dies
    /// because the port was taken meanwhile, tries again on another free port.
    async fn spawn_and_wait(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let timeout = std::env::var("PALAVER_TEST_START_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(60));
        for attempt in 0..4 {
            let log_start = std::fs::metadata(self.log_path())
                .map(|m| m.len())
                .unwrap_or(0);
            let mut cmd = self.command().expect("prepare the palaver command");
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", palaver_bin().display()));
            self.child = Some(child);
            let started = Instant::now();
            loop {
                let exited = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().expect("try_wait"));
                if let Some(status) = exited {
                    self.child = None;
                    let log = self.log();
                    let this_run = log.get(log_start as usize..).unwrap_or(&log);
                    let port_taken = this_run.contains("in use") || this_run.contains("AddrInUse");
                    if port_taken && attempt < 3 {
                        self.port = free_port();
                        break;
                    }
                    panic!(
                        "palaver exited before it was ready ({status}); data dir {}; its output:\n{}",
                        self.data_dir.path().display(),
                        this_run
                    );
                }
                if let Ok(resp) = self
                    .http
                    .get(self.url("/api/info"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                {
                    if resp.status() == StatusCode::OK {
                        return;
                    }
                }
                if started.elapsed() > timeout {
                    let tail = self.log_tail(64 * 1024);
                    self.kill_child();
                    panic!(
                        "palaver did not answer GET /api/info with 200 within {timeout:?} on port {}; its output:\n{tail}",
                        self.port
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        unreachable!("palaver could not find a free port after several attempts");
    }

    fn kill_child(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL the server (no chance to flush anything) and reap it.
    pub fn kill9(&mut self) {
        let child = self
            .child
            .as_mut()
            .expect("kill9: the server is not running");
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(
            rc,
            0,
            "kill -9 {}: {}",
            child.id(),
            io::Error::last_os_error()
        );
        let status = child.wait().expect("wait for the killed server");
        assert!(
            !status.success(),
            "server exited normally despite SIGKILL: {status}"
        );
        self.child = None;
    }

    /// SIGTERM (graceful shutdown) and wait up to `grace`; SIGKILL after that.
    /// Returns whether it exited on its own within the grace period.
    pub async fn stop(&mut self, grace: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        // SAFETY: as in kill9.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Waits up to `within` for the server to exit on its own (after a signal sent
    /// with [`Palaver::signal`]), without signalling it again: a second signal
    /// would force the exit. SIGKILLs it after that. Returns its exit status, or
    /// `None` if it had to be killed.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Sets (or replaces) an environment variable for the next start, e.g. to
    /// restart with another configuration.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Start again on the same data directory (and storage) after [`Palaver::kill9`]
    /// or [`Palaver::stop`].
    pub async fn start_again(&mut self) {
        self.spawn_and_wait().await;
    }

    /// Graceful stop, then start again on the same data directory.
    pub async fn restart(&mut self) {
        let clean = self.stop(Duration::from_secs(15)).await;
        assert!(
            clean,
            "palaver did not shut down within 15 s of SIGTERM; output:\n{}",
            self.log_tail(16 * 1024)
        );
        self.spawn_and_wait().await;
    }

    // ---------------------------------------------------------------- HTTP

    /// Sends one request; `auth` adds `X-User-Id` and `X-Auth-Token`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Session>,
        body: Body,
    ) -> Resp {
        self.request_with_headers(method, path, auth, body, &[])
            .await
    }

    /// `GET /metrics` with `Authorization: Bearer <token>`.
    pub async fn scrape_metrics(&self, token: &str) -> Resp {
        let bearer = format!("Bearer {token}");
        self.request_with_headers(
            Method::GET,
            "/metrics",
            None,
            Body::None,
            &[("Authorization", &bearer)],
        )
        .await
    }

    pub async fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Session>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = self.url(path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(s) = auth {
            req = req
                .header("X-User-Id", &s.user_id)
                .header("X-Auth-Token", &s.token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw {
                content_type,
                bytes,
            } => req
                .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
                .body(bytes),
        };
        let resp = req.send().await.unwrap_or_else(|e| {
            panic!(
                "{method} {url}: {e}\nserver output:\n{}",
                self.log_tail(8 * 1024)
            )
        });
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| json!({ "__non_json_body": text.clone() }))
        };
        Resp {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str, auth: &Session) -> (StatusCode, Value) {
        let r = self
            .request(Method::GET, path, Some(auth), Body::None)
            .await;
        (r.status, r.json)
    }

    pub async fn post(&self, path: &str, auth: &Session, body: Value) -> (StatusCode, Value) {
        let r = self
            .request(Method::POST, path, Some(auth), Body::Json(body))
            .await;
        (r.status, r.json)
    }

    pub async fn get_anon(&self, path: &str) -> (StatusCode, Value) {
        let r = self.request(Method::GET, path, None, Body::None).await;
        (r.status, r.json)
    }

    pub async fn post_anon(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .request(Method::POST, path, None, Body::Json(body))
            .await;
        (r.status, r.json)
    }

    /// `POST` that reports transport errors (connection refused or reset) instead of
    /// panicking, for tests that stop the server under load.
    pub async fn try_post(
        &self,
        path: &str,
        auth: &Session,
        body: Value,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let resp = self
            .http
            .post(self.url(path))
            .header("X-User-Id", &auth.user_id)
            .header("X-Auth-Token", &auth.token)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "__non_json_body": text }));
        Ok((status, json))
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the running server without waiting.
    pub fn signal(&self, signal: libc::c_int) {
        let child = self
            .child
            .as_ref()
            .expect("signal: the server is not running");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(
            rc,
            0,
            "kill -{signal} {}: {}",
            child.id(),
            io::Error::last_os_error()
        );
    }

    /// `GET` that must answer 200 with `success: true`; returns the body.
    pub async fn get_ok(&self, path: &str, auth: &Session) -> Value {
        let (status, body) = self.get(path, auth).await;
        assert!(
            status == StatusCode::OK && body["success"] == json!(true),
            "GET {path} as {} → {status} {body}",
            auth.username
        );
        body
    }

    /// `POST` that must answer 200 with `success: true`; returns the body.
    pub async fn post_ok(&self, path: &str, auth: &Session, body: Value) -> Value {
        let (status, resp) = self.post(path, auth, body.clone()).await;
        assert!(
            status == StatusCode::OK && resp["success"] == json!(true),
            "POST {path} {body} as {} → {status} {resp}",
            auth.username
        );
        resp
    }

    /// `POST login` with an arbitrary body.
    pub async fn try_login(&self, body: Value) -> Resp {
        self.request(Method::POST, "login", None, Body::Json(body))
            .await
    }

    /// Logs in by username (or e-mail: the `user` field accepts both) and password;
    /// panics unless the server answers with Rocket.Chat's success shape.
    pub async fn login(&self, user: &str, password: &str) -> Session {
        let r = self
            .try_login(json!({ "user": user, "password": password }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "login as {user}: {}", r.text);
        assert_eq!(r.json["status"], "success", "login as {user}: {}", r.text);
        let data = &r.json["data"];
        let user_id = data["userId"]
            .as_str()
            .unwrap_or_else(|| panic!("login: no data.userId in {}", r.text));
        let token = data["authToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login: no data.authToken in {}", r.text));
        let username = data["me"]["username"].as_str().unwrap_or(user).to_string();
        Session {
            user_id: user_id.to_string(),
            token: token.to_string(),
            username,
        }
    }

    /// A session of the admin created from `PALAVER_ADMIN_*`.
    pub async fn admin(&self) -> Session {
        self.login(ADMIN_USERNAME, ADMIN_PASSWORD).await
    }

    /// Creates a regular user through `users.create` (as `admin`) with
    /// `password_for(username)` and `<username>@palaver.test`, and logs in as them.
    pub async fn create_user(&self, admin: &Session, username: &str) -> Session {
        let body = json!({
            "username": username,
            "name": format!("{username} Name"),
            "email": format!("{username}@palaver.test"),
            "password": password_for(username),
        });
        self.post_ok("users.create", admin, body).await;
        self.login(username, &password_for(username)).await
    }
}

impl Drop for Palaver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- palaver output (data dir {}, port {}) -----\n{}\n----- end of palaver output -----",
                self.data_dir.path().display(),
                self.port,
                self.log_tail(32 * 1024)
            );
        }
        self.kill_child();
    }
}
