//! A local Web Push service for the tests: the npm package `web-push-testing`, which
//! hands out subscriptions (endpoint + keys, bound to an `applicationServerKey`),
//! checks each push's VAPID JWT against that key, decrypts the payload (`aes128gcm`)
//! and lets the test read what arrived; it answers 410 for an expired subscription.
//!
//! Installed with npm into `<target>/web-push-testing` (under a lock, once) and run
//! in the foreground (`src/bin/server.js <port>`) on a free port, killed on drop and
//! with the test process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::net::free_port;
use crate::process::die_with_parent;

/// The release the tests run against.
pub const VERSION: &str = "1.2.2";

pub(crate) fn install() -> Result<PathBuf, String> {
    let dir = crate::installs::npm(
        "web-push-testing",
        &[&format!("web-push-testing@{VERSION}")],
    )?;
    let server = dir.join("node_modules/web-push-testing/src/bin/server.js");
    if !server.exists() {
        return Err(format!(
            "web-push-testing installed but {} is missing",
            server.display()
        ));
    }
    Ok(server)
}

/// A running web-push-testing service.
pub struct WebPushService {
    child: Child,
    port: u16,
    http: reqwest::Client,
    _data: tempfile::TempDir,
}

/// A subscription the service handed out.
#[derive(Clone, Debug)]
pub struct TestSubscription {
    /// `{endpoint, keys: {p256dh, auth}}`, as a browser's `toJSON()`.
    pub json: Value,
    pub client_hash: String,
}

impl WebPushService {
    pub async fn start() -> WebPushService {
        let server = tokio::task::spawn_blocking(install)
            .await
            .expect("install task")
            .unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        // It keeps its state (node-persist) in the working directory.
        let data = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new("node");
        cmd.arg(&server)
            .arg(port.to_string())
            .current_dir(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start web-push-testing");
        let service = WebPushService {
            child,
            port,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = service
                .http
                .post(service.url("/status"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "web-push-testing did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        service
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// A new subscription for `application_server_key` (the server's VAPID key).
    pub async fn subscribe(&self, application_server_key: &str) -> TestSubscription {
        let r: Value = self
            .http
            .post(self.url("/subscribe"))
            .json(
                &json!({"userVisibleOnly": "true", "applicationServerKey": application_server_key}),
            )
            .send()
            .await
            .expect("subscribe")
            .json()
            .await
            .expect("subscribe answer");
        let data = &r["data"];
        TestSubscription {
            json: json!({"endpoint": data["endpoint"], "keys": data["keys"]}),
            client_hash: data["clientHash"].as_str().expect("clientHash").to_string(),
        }
    }

    /// The decrypted payloads that reached the subscription.
    pub async fn messages(&self, sub: &TestSubscription) -> Vec<String> {
        let r: Value = self
            .http
            .post(self.url("/get-notifications"))
            .json(&json!({"clientHash": sub.client_hash}))
            .send()
            .await
            .expect("get-notifications")
            .json()
            .await
            .expect("get-notifications answer");
        r["data"]["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Expires the subscription: pushes to it get 410.
    pub async fn expire(&self, sub: &TestSubscription) {
        let r = self
            .http
            .post(self.url(&format!("/expire-subscription/{}", sub.client_hash)))
            .send()
            .await
            .expect("expire");
        assert!(r.status().is_success(), "expire: {}", r.status());
    }
}

impl Drop for WebPushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
