//! A webhook receiver on 127.0.0.1 whose answers a test scripts: per path, a queue
//! of responses (status, headers, body, and optionally "hold until released"),
//! then a default. Every request is recorded (path, headers, JSON body, when), so
//! a test can check what was delivered, how often and how far apart.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::lock;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Hold the request open until [`HookSink::release`].
    pub hold: bool,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: format!("status {status}"),
            hold: false,
        }
    }

    /// A JSON answer (200 unless changed).
    pub fn json(body: Value) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            hold: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn held(mut self) -> Answer {
        self.hold = true;
        self
    }
}

/// A request the sink received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

#[derive(Default)]
struct Script {
    queues: HashMap<String, VecDeque<Answer>>,
    default: Option<Answer>,
    hits: Vec<Hit>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    release: Arc<Notify>,
    released: Arc<Mutex<bool>>,
}

/// The running sink; stops when dropped.
pub struct HookSink {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl HookSink {
    pub async fn start() -> HookSink {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the hook sink");
        let addr = listener.local_addr().expect("sink address");
        let shared = Shared {
            script: Arc::default(),
            release: Arc::new(Notify::new()),
            released: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HookSink { addr, shared, task }
    }

    /// The server's operator allow-list entry for this sink (the outbound guard
    /// refuses loopback targets unless the operator allowed them).
    pub fn allow_env(&self) -> (String, String) {
        (
            "PALAVER_APPS__HTTP_ALLOW".to_string(),
            format!("[\"{}\"]", self.addr),
        )
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues answers for `path`, used in order before the default (200 text).
    pub fn script(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.shared.script)
            .queues
            .entry(path.to_string())
            .or_default()
            .extend(answers);
    }

    /// The answer once a path's queue is empty (200 text unless set).
    pub fn set_default(&self, answer: Answer) {
        lock(&self.shared.script).default = Some(answer);
    }

    /// Lets every held request (and every later one) answer.
    pub fn release(&self) {
        *lock(&self.shared.released) = true;
        self.shared.release.notify_waiters();
    }

    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.shared.script).hits.clone()
    }

    pub fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    /// Waits until `path` got at least `n` requests; panics after `timeout`.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits_on(path);
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} of {n} requests after {timeout:?}: {hits:?}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for HookSink {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}

async fn answer(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let answer = {
        let mut script = lock(&shared.script);
        let answer = match script.queues.get_mut(&path).and_then(VecDeque::pop_front) {
            Some(a) => a,
            None => script
                .default
                .clone()
                .unwrap_or_else(|| Answer::status(200)),
        };
        script.hits.push(Hit {
            path: path.clone(),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
            status: answer.status,
        });
        answer
    };
    if answer.hold {
        loop {
            let notified = shared.release.notified();
            if *lock(&shared.released) {
                break;
            }
            notified.await;
        }
    }
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body,
    )
        .into_response();
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}
