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
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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

use crate::lock;

/// The largest request body a fake reads (far above anything an app sends).
const MAX_BODY: usize = 16 << 20;

/// A request a fake received, as a test inspects it afterwards.
///
/// Handlers behind [`TlsFake`] get it as an `axum::Extension` too, so they read the
/// request through the same accessors the tests use.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The host it was sent to (without a port).
    pub host: String,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the fake answered (0 while its handler runs).
    pub status: u16,
}

impl Recorded {
    /// A request as hyper parsed it; `status` is filled in once answered.
    fn from_parts(parts: &Parts, body: &[u8]) -> Recorded {
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // An absolute-form target names the host itself (RFC 9112 §3.2.2); otherwise
        // the `Host` header does.
        let host = parts
            .uri
            .host()
            .map(str::to_string)
            .or_else(|| {
                first_value(&headers, "host").map(|h| h.split(':').next().unwrap_or(&h).to_string())
            })
            .unwrap_or_default();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        Recorded {
            host,
            method: parts.method.to_string(),
            path,
            headers,
            body: body.to_vec(),
            status: 0,
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `Content-Type` starts with `mime` (parameters such as `charset` may
    /// follow it).
    pub fn has_content_type(&self, mime: &str) -> bool {
        self.header("content-type")
            .is_some_and(|v| v.starts_with(mime))
    }

    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }

    /// The query's pairs, decoded.
    pub fn query(&self) -> Vec<(String, String)> {
        decode_pairs(self.path.split_once('?').map(|(_, q)| q).unwrap_or(""))
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        first_value(&self.query(), name)
    }

    /// The body's `application/x-www-form-urlencoded` pairs, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_pairs(&String::from_utf8_lossy(&self.body))
    }

    /// The first value of form field `name`.
    pub fn form_param(&self, name: &str) -> Option<String> {
        first_value(&self.form(), name)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The value of the first pair named `name`.
pub(crate) fn first_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Decodes `a=1&b=x%20y` (`+` is a space), as a query or a form body.
pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// The requests a fake has received, oldest first.
type RequestLog = Arc<Mutex<Vec<Recorded>>>;

/// Middleware of every fake: reads the body once, hands the [`Recorded`] request to
/// the handler and logs it with the status the handler chose, so no fake has to
/// rebuild or record requests itself.
async fn record(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("fake: unreadable body: {e}"),
            )
                .into_response()
        }
    };
    let mut recorded = Recorded::from_parts(&parts, &bytes);
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(recorded.clone());
    let response = next.run(request).await;
    recorded.status = response.status().as_u16();
    lock(&log).push(recorded);
    response
}

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
    requests: RequestLog,
    task: JoinHandle<()>,
}

impl TlsFake {
    /// Serves `router` over HTTPS on 127.0.0.1:<free port> with a certificate for
    /// `hosts`. The router sees the `Host` header the client sent (the real name);
    /// every request is recorded (see [`TlsFake::requests`]) and reaches the handlers
    /// with its [`Recorded`] form as an extension.
    pub async fn start(hosts: &[&str], router: Router) -> TlsFake {
        TlsFake::start_with(hosts, router, false).await
    }

    /// Like [`TlsFake::start`], speaking HTTP/2 only (ALPN `h2`), as APNs does.
    pub async fn start_h2(hosts: &[&str], router: Router) -> TlsFake {
        TlsFake::start_with(hosts, router, true).await
    }

    async fn start_with(hosts: &[&str], router: Router, h2: bool) -> TlsFake {
        let requests = RequestLog::default();
        let router = router.layer(middleware::from_fn_with_state(requests.clone(), record));
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
        config.alpn_protocols = if h2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
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
                    if h2 {
                        let _ = hyper::server::conn::http2::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                    } else {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    }
                });
            }
        });
        TlsFake {
            addr,
            hosts: names,
            ca_file,
            _dir: dir,
            requests,
            task,
        }
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }

    /// The requests to `host` whose path (without the query) is `route`.
    pub fn requests_to(&self, host: &str, route: &str) -> Vec<Recorded> {
        lock(&self.requests)
            .iter()
            .filter(|r| r.host == host && r.route() == route)
            .cloned()
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Extension;

    #[tokio::test]
    async fn records_what_it_answered() {
        // The handler sees the same `Recorded` the test reads afterwards.
        let router = Router::new().fallback(|Extension(req): Extension<Recorded>| async move {
            let name = req.form_param("name").unwrap_or_default();
            (StatusCode::CREATED, format!("{} {name}", req.method))
        });
        let fake = TlsFake::start(&["api.example.test"], router).await;
        let ca = std::fs::read(fake.ca_file()).expect("read the CA file");
        let client = reqwest::Client::builder()
            .no_proxy()
            .resolve("api.example.test", fake.addr())
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA certificate"))
            .build()
            .expect("client");
        let url = format!(
            "https://api.example.test:{}/v1/things?q=a%20b",
            fake.addr().port()
        );
        let response = client
            .post(&url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body("name=J%C3%BCrgen+K")
            .send()
            .await
            .expect("request the fake");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        assert_eq!(response.text().await.ok().as_deref(), Some("POST Jürgen K"));

        let requests = fake.requests_to("api.example.test", "/v1/things");
        assert_eq!(requests.len(), 1, "{:?}", fake.requests());
        let r = &requests[0];
        assert_eq!((r.method.as_str(), r.status), ("POST", 201));
        assert_eq!(r.path, "/v1/things?q=a%20b");
        assert_eq!(r.query_param("q").as_deref(), Some("a b"));
        assert!(r.has_content_type("application/x-www-form-urlencoded"));
        assert_eq!(r.form(), vec![("name".to_string(), "Jürgen K".to_string())]);
        assert!(fake.requests_to("other.test", "/v1/things").is_empty());
    }
}
