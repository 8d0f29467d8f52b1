//! A real SAML 2.0 identity provider for the SAML sign-in tests: PyPI `pysaml2`
//! (signing and verifying with Debian's `xmlsec1`, installed with apt when
//! missing), installed once into a virtualenv at `<target>/pysaml2-<version>`
//! (under a lock file) and run by `tests/peers/saml-idp.py` on a free loopback
//! port, one per test, killed with the test (`Drop`, and `PR_SET_PDEATHSIG`).
//!
//! The IdP makes its own key and certificate ([`SamlIdp::certificate`]), reads
//! the service provider's metadata from Palaver's `/_saml/metadata/<provider>`,
//! and has a small control API: people it knows, how the next Response is made
//! (which signatures, a wrong audience, already expired), and signed
//! IdP-initiated LogoutRequests.

use std::fs::{self, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::net::free_port;
use crate::process::{die_with_parent, log_tail, target_dir};

pub const VERSION: &str = "7.5.5";
const SCRIPT: &str = include_str!("../peers/saml-idp.py");
const XMLSEC1: &str = "/usr/bin/xmlsec1";

/// A running identity provider.
pub struct SamlIdp {
    pub base: String,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn ensure_xmlsec1() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if Path::new(XMLSEC1).exists() {
            return;
        }
        let target = target_dir();
        fs::create_dir_all(&target).expect("create the target directory");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(target.join("xmlsec1-install.lock"))
            .expect("lock file");
        // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        if Path::new(XMLSEC1).exists() {
            return;
        }
        eprintln!("SAML tests: installing xmlsec1 with apt-get");
        let packages = ["install", "-y", "--no-install-recommends", "xmlsec1"];
        if let Err(first) = crate::browser::run_apt(&packages) {
            eprintln!("SAML tests: {first}\nretrying after apt-get update");
            crate::browser::run_apt(&["update"]).unwrap_or_else(|e| panic!("{first}\n{e}"));
            crate::browser::run_apt(&packages)
                .unwrap_or_else(|e| panic!("the SAML tests need xmlsec1: {e}"));
        }
        assert!(
            Path::new(XMLSEC1).exists(),
            "apt-get installed xmlsec1 but {XMLSEC1} is missing"
        );
    });
}

/// The virtualenv's python and the script.
pub(crate) fn install() -> Result<(PathBuf, PathBuf), String> {
    ensure_xmlsec1();
    let venv = crate::installs::python(
        &format!("pysaml2-{VERSION}"),
        &[&format!("pysaml2=={VERSION}")],
    )?;
    let script = venv.dir.join("saml-idp.py");
    if !fs::read_to_string(&script).is_ok_and(|s| s == SCRIPT) {
        // Written beside the venv by whichever process gets here; the rename is atomic.
        let tmp = venv.dir.join(format!("saml-idp.py.{}", std::process::id()));
        fs::write(&tmp, SCRIPT).map_err(|e| format!("write script: {e}"))?;
        fs::rename(&tmp, &script).map_err(|e| format!("place script: {e}"))?;
    }
    Ok((venv.bin("python"), script))
}

impl SamlIdp {
    /// Starts an IdP for the service provider whose metadata is at `sp_metadata_url`
    /// (read on the IdP's first sign-in).
    pub async fn start(sp_metadata_url: &str) -> SamlIdp {
        let (python, script) = install().unwrap_or_else(|e| panic!("SAML tests cannot run: {e}"));
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("saml-idp.log");
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg(port.to_string())
            .arg(sp_metadata_url)
            .arg(dir.path())
            .env("PYTHONWARNINGS", "ignore")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start the SAML IdP");
        let idp = SamlIdp {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            dir,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = idp.http.get(format!("{}/health", idp.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the SAML IdP did not start:\n{}",
                idp.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        idp
    }

    pub fn log(&self) -> String {
        log_tail(&self.log, 16 * 1024)
    }

    /// The IdP's signing certificate (PEM).
    pub fn certificate(&self) -> String {
        fs::read_to_string(self.dir.path().join("idp.crt")).expect("IdP certificate")
    }

    /// The single sign-on address (HTTP-Redirect).
    pub fn sso_url(&self) -> String {
        format!("{}/sso/redirect", self.base)
    }

    /// The single logout address (HTTP-Redirect).
    pub fn slo_url(&self) -> String {
        format!("{}/slo/redirect", self.base)
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("IdP control");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "IdP {path}: {status} {v}\n{}",
            self.log()
        );
        v
    }

    /// A person the IdP knows, with their attributes.
    pub async fn user(&self, uid: &str, attributes: Value) {
        self.control("/test/user", json!({"uid": uid, "attributes": attributes}))
            .await;
    }

    /// How the next Responses are made: `{uid, sign_response, sign_assertion,
    /// audience, expired, name_id}` (fields left out keep their value).
    pub async fn next(&self, options: Value) {
        self.control("/test/next", options).await;
    }

    /// A signed IdP-initiated (unsolicited) Response for `uid`: the base64
    /// `SAMLResponse` to post to the assertion consumer.
    pub async fn unsolicited(&self, uid: &str) -> String {
        self.control("/test/unsolicited", json!({"uid": uid})).await["SAMLResponse"]
            .as_str()
            .expect("SAMLResponse")
            .to_string()
    }

    /// A signed IdP-initiated LogoutRequest for the service provider: the URL to
    /// send the browser to.
    pub async fn logout_url(&self, name_id: &str, session_index: Option<&str>) -> String {
        let v = self
            .control(
                "/test/logout",
                json!({"name_id": name_id, "session_index": session_index}),
            )
            .await;
        v["url"].as_str().expect("logout url").to_string()
    }

    /// What the IdP last received at its logout address.
    pub async fn last_logout(&self) -> Value {
        self.http
            .get(format!("{}/test/last_logout", self.base))
            .send()
            .await
            .expect("IdP")
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        self.stop();
    }
}
