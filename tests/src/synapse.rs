//! A real Matrix homeserver (Synapse, PyPI `matrix-synapse`) for the bridge tests.
//!
//! Synapse is installed once into `<target>/synapse-venv` (under a lock file, so
//! concurrent test processes do not race) and started per test on a free loopback
//! port with SQLite, no federation listener, the application service registration
//! given, and registration by shared secret only (to create test users). The child
//! dies with the test process (`PR_SET_PDEATHSIG`) and is killed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::installs::run;
use crate::net::free_port;
use crate::process::{die_with_parent, log_tail};

/// The Synapse release the tests run against.
pub const SYNAPSE_VERSION: &str = "1.163.2";
const SHARED_SECRET: &str = "palaver-test-shared-secret";

/// The virtualenv with Synapse (created once); returns its python.
pub fn ensure_venv() -> Result<PathBuf, String> {
    let venv = crate::installs::python(
        "synapse-venv",
        &[&format!("matrix-synapse=={SYNAPSE_VERSION}")],
    )?;
    Ok(venv.bin("python"))
}

/// A running Synapse; killed on drop.
pub struct Synapse {
    python: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    pub server_name: String,
    child: Option<Child>,
    http: reqwest::Client,
}

/// A Matrix user logged in on the test homeserver.
#[derive(Clone, Debug)]
pub struct MatrixUser {
    pub mxid: String,
    pub token: String,
}

impl Synapse {
    /// Starts Synapse as `server_name` with the application service registration
    /// at `registration`.
    pub async fn start(server_name: &str, registration: &Path) -> Synapse {
        let python = ensure_venv().unwrap_or_else(|e| panic!("Synapse cannot be installed: {e}"));
        let dir = tempfile::Builder::new()
            .prefix("palaver-synapse-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let d = dir.path().display().to_string();
        let config = format!(
            r#"server_name: "{server_name}"
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
media_store_path: {d}/media
signing_key_path: {d}/signing.key
log_config: {d}/log.yaml
report_stats: false
enable_registration: false
registration_shared_secret: "{SHARED_SECRET}"
app_service_config_files: ["{registration}"]
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_metrics: false
rc_message: {{per_second: 1000, burst_count: 1000}}
rc_registration: {{per_second: 1000, burst_count: 1000}}
rc_login: {{address: {{per_second: 1000, burst_count: 1000}}, account: {{per_second: 1000, burst_count: 1000}}, failed_attempts: {{per_second: 1000, burst_count: 1000}}}}
rc_joins: {{local: {{per_second: 1000, burst_count: 1000}}, remote: {{per_second: 1000, burst_count: 1000}}}}
"#,
            registration = registration.display()
        );
        fs::write(dir.path().join("homeserver.yaml"), config).expect("write homeserver.yaml");
        let log = format!(
            "version: 1\nformatters:\n  p:\n    format: '%(asctime)s %(name)s %(levelname)s %(message)s'\n\
             handlers:\n  f:\n    class: logging.FileHandler\n    filename: {d}/homeserver.log\n    formatter: p\n\
             root:\n  level: INFO\n  handlers: [f]\ndisable_existing_loggers: false\n"
        );
        fs::write(dir.path().join("log.yaml"), log).expect("write log.yaml");
        run(
            Command::new(&python)
                .args(["-m", "synapse.app.homeserver", "-c"])
                .arg(dir.path().join("homeserver.yaml"))
                .arg("--generate-keys")
                .current_dir(dir.path()),
            "synapse --generate-keys",
        )
        .expect("Synapse generates its keys");
        let mut synapse = Synapse {
            python,
            dir,
            port,
            server_name: server_name.to_string(),
            child: None,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        };
        synapse.start_again().await;
        synapse
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        log_tail(&self.dir.path().join("homeserver.log"), 4000)
    }

    /// Starts the (stopped) homeserver again on the same port and data.
    pub async fn start_again(&mut self) {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir.path().join("homeserver.yaml"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.dir.path().join("stderr.log")).expect("stderr log"));
        die_with_parent(&mut cmd);
        self.child = Some(cmd.spawn().expect("spawn Synapse"));
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let up = self
                .http
                .get(format!("{}/_matrix/client/versions", self.url()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "Synapse exited ({status}):\n{}\n{}",
                        self.log(),
                        log_tail(&self.dir.path().join("stderr.log"), 4000)
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "Synapse did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the homeserver (SIGKILL: its SQLite database is safe).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Creates a user through the shared-secret registration and logs them in.
    pub async fn create_user(&self, localpart: &str) -> MatrixUser {
        let password = format!("{localpart}-password-1");
        run(
            Command::new(&self.python)
                .args(["-m", "synapse._scripts.register_new_matrix_user"])
                .args([
                    "-u",
                    localpart,
                    "-p",
                    &password,
                    "--no-admin",
                    "-k",
                    SHARED_SECRET,
                ])
                .arg(self.url()),
            "register_new_matrix_user",
        )
        .expect("registers the user");
        let login = self
            .call(
                None,
                reqwest::Method::POST,
                "/_matrix/client/v3/login",
                Some(json!({
                    "type": "m.login.password",
                    "identifier": { "type": "m.id.user", "user": localpart },
                    "password": password,
                })),
            )
            .await;
        MatrixUser {
            mxid: login["user_id"].as_str().expect("user_id").to_string(),
            token: login["access_token"].as_str().expect("token").to_string(),
        }
    }

    /// A client-server API call that must succeed.
    pub async fn call(
        &self,
        user: Option<&MatrixUser>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(u) = user {
            request = request.bearer_auth(&u.token);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("Synapse answers");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// Sends an event as `user`; returns its id.
    pub async fn send(
        &self,
        user: &MatrixUser,
        room: &str,
        event_type: &str,
        content: Value,
    ) -> String {
        let txn = format!("t{}", rand_suffix());
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{event_type}/{txn}",
            enc(room)
        );
        let v = self
            .call(Some(user), reqwest::Method::PUT, &path, Some(content))
            .await;
        v["event_id"].as_str().expect("event_id").to_string()
    }

    /// The room's latest events (oldest first).
    pub async fn messages(&self, user: &MatrixUser, room: &str) -> Vec<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100",
            enc(room)
        );
        let v = self
            .call(Some(user), reqwest::Method::GET, &path, None)
            .await;
        let mut events = v["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    /// Polls the room until `pred` holds for its events; returns them.
    pub async fn wait_for(
        &self,
        user: &MatrixUser,
        room: &str,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let events = self.messages(user, room).await;
            if pred(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "Matrix room never showed {what}; events: {}",
                serde_json::to_string_pretty(&events).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ N.fetch_add(1, Ordering::Relaxed)
}

/// Percent-encodes a path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
