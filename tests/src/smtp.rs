//! A real SMTP server on loopback for the e-mail tests: PyPI's `aiosmtpd`, installed
//! once into `<target>/smtp-venv` (under a lock file, like SecantusDB), started per
//! test with a small script that writes every accepted mail as JSON (envelope,
//! subject, the decoded plain-text and HTML parts, whether STARTTLS was used).
//!
//! With TLS, the server offers STARTTLS with a certificate for 127.0.0.1 signed by a
//! CA made for the sink ([`SmtpSink::ca_pem`]) and requires it; with credentials it
//! requires AUTH (PLAIN/LOGIN) and refuses wrong passwords with 535.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::Value;
use tempfile::TempDir;

use crate::net::free_port;
use crate::process::die_with_parent;

const AIOSMTPD_VERSION: &str = "1.4.6";

const SCRIPT: &str = r#"
import asyncio, email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, outdir, cert, key, user, password = sys.argv[1:7]
count = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = html = ''
        for part in msg.walk():
            ct = part.get_content_type()
            if ct == 'text/plain':
                text = part.get_content()
            elif ct == 'text/html':
                html = part.get_content()
        count[0] += 1
        n = count[0]
        doc = {'from': envelope.mail_from, 'to': envelope.rcpt_tos,
               'subject': str(msg['subject'] or ''), 'to_header': str(msg['to'] or ''),
               'text': text, 'html': html, 'tls': session.ssl is not None,
               'at': time.time()}
        tmp = os.path.join(outdir, '%06d.tmp' % n)
        with open(tmp, 'w') as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(outdir, '%06d.json' % n))
        return '250 2.0.0 Ok: queued as palaver-test-%d' % n

def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)

kwargs = {}
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs.update(tls_context=ctx, require_starttls=True)
if user:
    kwargs.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=bool(cert))
controller = Controller(Handler(), hostname='127.0.0.1', port=int(port), **kwargs)
controller.start()
print('READY', flush=True)
while True:
    time.sleep(3600)
"#;

/// One mail the sink accepted.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Whether the session was upgraded with STARTTLS.
    pub tls: bool,
}

/// The SMTP server; stopped when dropped.
pub struct SmtpSink {
    port: u16,
    child: Child,
    dir: TempDir,
    ca_pem: Option<String>,
}

/// What the sink requires.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// STARTTLS with a test CA, required.
    pub starttls: bool,
    /// AUTH required with these credentials.
    pub credentials: Option<(String, String)>,
}

pub(crate) fn ensure_venv() -> Result<PathBuf, String> {
    let venv = crate::installs::python("smtp-venv", &[&format!("aiosmtpd=={AIOSMTPD_VERSION}")])?;
    Ok(venv.bin("python"))
}

/// A CA and a certificate for 127.0.0.1 it signed: (CA PEM, leaf PEM, leaf key PEM).
fn make_certs() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Palaver SMTP test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("self-sign CA");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .expect("sign leaf");
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

impl SmtpSink {
    pub async fn start(options: SinkOptions) -> SmtpSink {
        let python = tokio::task::spawn_blocking(ensure_venv)
            .await
            .expect("venv task")
            .unwrap_or_else(|e| panic!("cannot install aiosmtpd: {e}"));
        let dir = tempfile::tempdir().expect("sink dir");
        let mail_dir = dir.path().join("mail");
        fs::create_dir_all(&mail_dir).expect("mail dir");
        let script = dir.path().join("sink.py");
        fs::write(&script, SCRIPT).expect("write sink script");
        let (mut cert, mut key, mut ca_pem) = (String::new(), String::new(), None);
        if options.starttls {
            let (ca, leaf, leaf_key) = make_certs();
            let cert_path = dir.path().join("cert.pem");
            let key_path = dir.path().join("key.pem");
            fs::write(&cert_path, leaf).expect("cert");
            fs::write(&key_path, leaf_key).expect("key");
            cert = cert_path.display().to_string();
            key = key_path.display().to_string();
            ca_pem = Some(ca);
        }
        let (user, password) = options.credentials.clone().unwrap_or_default();
        let port = free_port();
        let log = fs::File::create(dir.path().join("sink.log")).expect("sink log");
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg(port.to_string())
            .arg(&mail_dir)
            .args([&cert, &key, &user, &password])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start the SMTP sink");
        let sink = SmtpSink {
            port,
            child,
            dir,
            ca_pem,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not start: {}",
                sink.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate (with STARTTLS).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Every mail accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        read_mails(&self.mail_dir())
    }

    /// Waits until at least `n` mails arrived (or `within` passed), then returns all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn read_mails(dir: &Path) -> Vec<Received> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|v| Received {
            from: v["from"].as_str().unwrap_or_default().to_string(),
            to: v["to"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            subject: v["subject"].as_str().unwrap_or_default().to_string(),
            text: v["text"].as_str().unwrap_or_default().to_string(),
            html: v["html"].as_str().unwrap_or_default().to_string(),
            tls: v["tls"].as_bool().unwrap_or(false),
        })
        .collect()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
