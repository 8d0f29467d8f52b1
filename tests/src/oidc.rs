//! A real OpenID Connect provider for the sign-in tests: the npm package
//! `oidc-provider` (OpenID certified), installed once with npm into
//! `<target>/oidc-provider-<version>` (under a lock file) and run by
//! `tests/peers/oidc-provider.mjs` on a free loopback port, one per test, killed
//! with the test (`Drop`, and `PR_SET_PDEATHSIG` if the test process dies first).
//!
//! The script registers one confidential client and offers a small control API
//! (`/test/...`): set an account's claims, choose who the next browser sign-in is
//! (interactions finish by themselves), refuse the next consent, tamper with the
//! next ID token, mint an access token as a mobile app would hold one.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::net::free_port;
use crate::process::{die_with_parent, log_tail};

pub const VERSION: &str = "9.13.3";
const SCRIPT: &str = include_str!("../peers/oidc-provider.mjs");
pub const CLIENT_ID: &str = "palaver-test";
pub const CLIENT_SECRET: &str = "palaver-test-secret-0123456789abcdef";

/// A running provider.
pub struct OidcPeer {
    pub issuer: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

pub(crate) fn install() -> Result<PathBuf, String> {
    let dir = crate::installs::npm(
        &format!("oidc-provider-{VERSION}"),
        &[&format!("oidc-provider@{VERSION}")],
    )?;
    let script = dir.join("peer.mjs");
    if !fs::read_to_string(&script).is_ok_and(|s| s == SCRIPT) {
        // Beside node_modules, so its imports resolve; the rename is atomic.
        let tmp = dir.join(format!("peer.mjs.{}", std::process::id()));
        fs::write(&tmp, SCRIPT).map_err(|e| format!("write script: {e}"))?;
        fs::rename(&tmp, &script).map_err(|e| format!("place script: {e}"))?;
    }
    Ok(script)
}

impl OidcPeer {
    /// Starts a provider whose client may come back to `redirect_uri`.
    pub async fn start(redirect_uri: &str) -> OidcPeer {
        let script = install().unwrap_or_else(|e| panic!("OIDC tests cannot run: {e}"));
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("oidc-provider.log");
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .arg(port.to_string())
            .arg(CLIENT_ID)
            .arg(CLIENT_SECRET)
            .arg(redirect_uri)
            .current_dir(script.parent().expect("script dir"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start node");
        let peer = OidcPeer {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _dir: dir,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/.well-known/openid-configuration", peer.issuer);
        loop {
            if let Ok(r) = peer.http.get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not start:\n{}",
                peer.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peer
    }

    pub fn log(&self) -> String {
        log_tail(&self.log, 16 * 1024)
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("oidc-provider /test/{path}: {e}"));
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "oidc-provider /test/{path}: {status} {v}\n{}",
            self.log()
        );
        v
    }

    /// Sets (replaces) the claims of account `sub`.
    pub async fn account(&self, sub: &str, claims: Value) {
        self.control("account", json!({"sub": sub, "claims": claims}))
            .await;
    }

    /// The next browser sign-in logs in as `sub` and grants consent.
    pub async fn login_as(&self, sub: &str) {
        self.control("login-as", json!({"sub": sub})).await;
    }

    /// The next browser sign-in is refused (`access_denied`).
    pub async fn deny(&self) {
        self.control("deny", json!({})).await;
    }

    /// Authorization requests without PKCE are accepted from now on (Rocket.Chat's
    /// mobile app sends none).
    pub async fn allow_without_pkce(&self) {
        self.control("pkce-optional", json!({})).await;
    }

    /// The next token answer carries an ID token whose payload was changed.
    pub async fn tamper_next_id_token(&self) {
        self.control("tamper", json!({})).await;
    }

    /// An access token for `sub`, as a mobile app holds after its own sign-in.
    pub async fn access_token(&self, sub: &str) -> String {
        self.control("token", json!({"sub": sub})).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Stops the provider now (a test of "provider down").
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- oidc-provider log -----\n{}\n-----", self.log());
        }
        self.stop();
    }
}
