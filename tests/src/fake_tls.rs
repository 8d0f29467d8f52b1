//! HTTPS fakes of third-party services (Meta's Graph API, Google's APIs) that apps
//! reach at their *real* host names.
//!
//! A fake serves an axum router over TLS on 127.0.0.1 with a certificate for the
//! hosts it stands in for, signed by a CA made once per test process. The server
//! under test is told, as an operator would, to route `<host>:443` to the fake
//! (`PALAVER_APPS__HTTP_CONNECT_TO`), to allow that loopback address
//! (`PALAVER_APPS__HTTP_ALLOW`) and to trust the test CA
//! (`PALAVER_APPS__HTTP_EXTRA_CA_FILE`). So apps keep their real URLs, and their
//! networking grants, the SSRF guard and TLS verification all run for real.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let key = KeyPair::generate().expect("generate the test CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Palaver test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign the test CA");
        TestCa { cert, key }
    })
}

/// A fake HTTPS service on loopback; stops when dropped.
pub struct TlsFake {
    addr: SocketAddr,
    hosts: Vec<String>,
    ca_file: PathBuf,
    _dir: TempDir,
    task: JoinHandle<()>,
}

impl TlsFake {
    /// Serves `router` over HTTPS on 127.0.0.1:<free port> with a certificate for
    /// `hosts`. The router sees the `Host` header the client sent (the real name).
    pub async fn start(hosts: &[&str], router: Router) -> TlsFake {
        let ca = ca();
        let leaf_key = KeyPair::generate().expect("generate a leaf key");
        let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let leaf = params
            .signed_by(&leaf_key, &ca.cert, &ca.key)
            .expect("sign the leaf certificate");

        let chain = vec![CertificateDer::from(leaf.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("TLS server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let dir = tempfile::Builder::new()
            .prefix("palaver-fake-tls-")
            .tempdir()
            .expect("temp dir for the CA file");
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, ca.cert.pem()).expect("write the CA file");

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake");
        let addr = listener.local_addr().expect("fake address");
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    // A client that gives up mid-handshake is not the fake's problem.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsFake {
            addr,
            hosts: names,
            ca_file,
            _dir: dir,
            task,
        }
    }

    /// Where the fake listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM file of the CA that signed the fake's certificate.
    pub fn ca_file(&self) -> &std::path::Path {
        &self.ca_file
    }

    /// The environment that makes a `palaver` server's app traffic for this fake's
    /// hosts reach it; see the module docs.
    pub fn palaver_env(&self) -> Vec<(String, String)> {
        palaver_env(&[self])
    }
}

impl Drop for TlsFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The environment routing every host of `fakes` to its fake (see the module docs).
pub fn palaver_env(fakes: &[&TlsFake]) -> Vec<(String, String)> {
    let quote = |items: Vec<String>| {
        let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let connect_to = fakes
        .iter()
        .flat_map(|f| f.hosts.iter().map(move |h| format!("{h}:443={}", f.addr)))
        .collect();
    let allow = fakes.iter().map(|f| f.addr.to_string()).collect();
    let mut env = vec![
        (
            "PALAVER_APPS__HTTP_CONNECT_TO".to_owned(),
            quote(connect_to),
        ),
        ("PALAVER_APPS__HTTP_ALLOW".to_owned(), quote(allow)),
    ];
    if let Some(first) = fakes.first() {
        env.push((
            "PALAVER_APPS__HTTP_EXTRA_CA_FILE".to_owned(),
            first.ca_file.display().to_string(),
        ));
    }
    env
}
