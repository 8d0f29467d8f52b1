//! A small DDP client for the end-to-end tests: a websocket to the real server, JSON
//! frames in and out with timeouts, method calls and subscriptions.
//!
//! Frames that arrive while a test waits for something else are kept, in order, so a
//! later `recv`/`wait_for` still sees them: assertions about order stay possible and
//! nothing is dropped silently. Server heartbeats (`{"msg":"ping"}`) are answered and
//! hidden unless [`Ddp::auto_pong`] is turned off.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::server::{Palaver, Session};

/// How long a test waits for an expected frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// What ended a connection, as the client saw it.
#[derive(Debug)]
pub enum Closed {
    /// A close frame (code, reason).
    Frame(u16, String),
    /// A close frame without a code.
    Bare,
    /// The stream ended or broke without a close frame.
    Dropped(String),
}

pub struct Ddp {
    ws: WebSocketStream<TcpStream>,
    pending: VecDeque<Value>,
    next_id: u64,
    /// Answer server pings and hide them (default), or hand them to the test.
    pub auto_pong: bool,
    /// The `session` of the `connected` frame.
    pub session: Option<String>,
    closed: Option<Closed>,
}

impl Ddp {
    /// A raw websocket to `path` (`/websocket` or `/sockjs/websocket`), no handshake.
    pub async fn open_path(srv: &Palaver, path: &str) -> Ddp {
        let tcp = TcpStream::connect(("127.0.0.1", srv.port()))
            .await
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{}: {e}", srv.port()));
        Self::over(srv, path, tcp).await
    }

    pub async fn open(srv: &Palaver) -> Ddp {
        Self::open_path(srv, "/websocket").await
    }

    /// A raw websocket whose socket has a tiny receive buffer, so that a client that
    /// stops reading stalls the server's writes quickly.
    pub async fn open_small_buffer(srv: &Palaver) -> Ddp {
        let socket = TcpSocket::new_v4().expect("create a socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("set SO_RCVBUF on the test socket");
        let addr = ([127, 0, 0, 1], srv.port()).into();
        let tcp = socket
            .connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Self::over(srv, "/websocket", tcp).await
    }

    /// Opens `/websocket` with `headers` on the upgrade request (a browser's `Cookie`
    /// and `Origin`) and completes the DDP handshake.
    pub async fn connect_with_headers(srv: &Palaver, headers: &[(&str, &str)]) -> Ddp {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let tcp = TcpStream::connect(("127.0.0.1", srv.port()))
            .await
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{}: {e}", srv.port()));
        let url = format!("ws://127.0.0.1:{}/websocket", srv.port());
        let mut req = url.as_str().into_client_request().expect("request");
        for (k, v) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                    .expect("header name"),
                v.parse().expect("header value"),
            );
        }
        let mut ddp = Self::over_request(req, tcp).await;
        ddp.handshake("1").await;
        ddp
    }

    async fn over(srv: &Palaver, path: &str, tcp: TcpStream) -> Ddp {
        let url = format!("ws://127.0.0.1:{}{path}", srv.port());
        Self::over_request(url, tcp).await
    }

    async fn over_request(
        req: impl tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin,
        tcp: TcpStream,
    ) -> Ddp {
        let _ = tcp.set_nodelay(true);
        let (ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .unwrap_or_else(|e| panic!("websocket handshake: {e}"));
        Ddp {
            ws,
            pending: VecDeque::new(),
            next_id: 1,
            auto_pong: true,
            session: None,
            closed: None,
        }
    }

    /// Opens and completes the DDP handshake (version `1`), asserting that the very
    /// first frame is `{"msg":"connected","session":…}`.
    pub async fn connect(srv: &Palaver) -> Ddp {
        let mut ddp = Self::open(srv).await;
        ddp.handshake("1").await;
        ddp
    }

    /// Connects and logs in with the user's REST token (`resume`).
    pub async fn connect_as(srv: &Palaver, who: &Session) -> Ddp {
        let mut ddp = Self::connect(srv).await;
        let result = ddp.call_ok("login", json!([{ "resume": who.token }])).await;
        assert_eq!(result["id"], json!(who.user_id), "login result: {result}");
        ddp
    }

    pub async fn handshake(&mut self, version: &str) -> Value {
        self.send(json!({"msg": "connect", "version": version, "support": [version]}))
            .await;
        let first = self.recv().await;
        let session = first["session"]
            .as_str()
            .unwrap_or_else(|| panic!("first frame must be `connected`, got {first}"));
        assert_eq!(
            first,
            json!({"msg": "connected", "session": session}),
            "connected frame"
        );
        self.session = Some(session.to_string());
        first
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("send {text}: {e}"));
    }

    /// Sends a text frame that the server may refuse by closing the connection
    /// (e.g. an oversized one): an error is returned, not a test failure.
    pub async fn try_send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| e.to_string())
    }

    /// Reads one frame from the socket (not the buffer); `None` on timeout or close.
    async fn read(&mut self, timeout: Duration) -> Option<Value> {
        if self.closed.is_some() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(next) => next,
            };
            let msg = match next {
                None => {
                    self.closed = Some(Closed::Dropped("end of stream".into()));
                    return None;
                }
                Some(Err(e)) => {
                    self.closed = Some(Closed::Dropped(e.to_string()));
                    return None;
                }
                Some(Ok(msg)) => msg,
            };
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Close(frame) => {
                    self.closed = Some(match frame {
                        Some(CloseFrame { code, reason }) => {
                            Closed::Frame(u16::from(code), reason.to_string())
                        }
                        None => Closed::Bare,
                    });
                    return None;
                }
                _ => continue,
            };
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("server sent a frame that is not JSON ({e}): {text}"));
            if self.auto_pong && value == json!({"msg": "ping"}) {
                self.send(json!({"msg": "pong"})).await;
                continue;
            }
            return Some(value);
        }
    }

    /// The next frame, or `None` if none comes within `timeout`.
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<Value> {
        match self.pending.pop_front() {
            Some(v) => Some(v),
            None => self.read(timeout).await,
        }
    }

    /// The next frame; fails the test if none arrives within [`FRAME_TIMEOUT`].
    pub async fn recv(&mut self) -> Value {
        match self.try_recv(FRAME_TIMEOUT).await {
            Some(v) => v,
            None => panic!(
                "no frame within {FRAME_TIMEOUT:?} (connection: {:?})",
                self.closed
            ),
        }
    }

    /// The first frame (buffered or new) matching `pred`; others stay buffered.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.pending.iter().position(&pred) {
            return self.pending.remove(pos).expect("position is in range");
        }
        let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left).await {
                Some(v) if pred(&v) => return v,
                Some(v) => self.pending.push_back(v),
                None => panic!(
                    "waited {FRAME_TIMEOUT:?} for {what}; connection: {:?}; other frames: {:?}",
                    self.closed, self.pending
                ),
            }
        }
    }

    /// Frames received but not consumed yet.
    pub fn buffered(&self) -> &VecDeque<Value> {
        &self.pending
    }

    fn new_id(&mut self) -> String {
        let id = format!("t{}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Calls a method; returns its `result` frame, after checking that `updated`
    /// for the same id follows.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.new_id();
        self.send(json!({"msg": "method", "id": id, "method": method, "params": params}))
            .await;
        let result = self
            .wait_for(&format!("result of {method} ({id})"), |v| {
                v["msg"] == "result" && v["id"] == json!(id)
            })
            .await;
        let updated = self
            .wait_for(&format!("updated for {method} ({id})"), |v| {
                v["msg"] == "updated"
            })
            .await;
        assert_eq!(
            updated,
            json!({"msg": "updated", "methods": [id]}),
            "updated after {method}"
        );
        result
    }

    /// Calls a method that must succeed; returns `result` (`Null` when absent).
    pub async fn call_ok(&mut self, method: &str, params: Value) -> Value {
        let frame = self.call(method, params.clone()).await;
        assert!(
            frame.get("error").is_none(),
            "{method} {params} failed: {frame}"
        );
        frame.get("result").cloned().unwrap_or(Value::Null)
    }

    /// Calls a method that must fail; returns the `error` object.
    pub async fn call_err(&mut self, method: &str, params: Value) -> Value {
        let frame = self.call(method, params.clone()).await;
        assert!(
            frame.get("result").is_none(),
            "{method} {params} should fail: {frame}"
        );
        frame["error"].clone()
    }

    /// Sends `sub`; returns its id without waiting.
    pub async fn sub_start(&mut self, name: &str, params: Value) -> String {
        let id = self.new_id();
        self.send(json!({"msg": "sub", "id": id, "name": name, "params": params}))
            .await;
        id
    }

    /// The `ready` or `nosub` answering subscription `id`.
    pub async fn sub_outcome(&mut self, id: &str) -> Value {
        self.wait_for(&format!("ready/nosub of {id}"), |v| {
            (v["msg"] == "ready" && v["subs"] == json!([id]))
                || (v["msg"] == "nosub" && v["id"] == json!(id))
        })
        .await
    }

    /// Subscribes and waits for `ready`; panics on `nosub`.
    pub async fn sub(&mut self, name: &str, params: Value) -> String {
        let id = self.sub_start(name, params.clone()).await;
        let outcome = self.sub_outcome(&id).await;
        assert_eq!(
            outcome,
            json!({"msg": "ready", "subs": [id]}),
            "sub {name} {params}"
        );
        id
    }

    /// Subscribes and expects `nosub`; returns its `error`.
    pub async fn sub_refused(&mut self, name: &str, params: Value) -> Value {
        let id = self.sub_start(name, params.clone()).await;
        let outcome = self.sub_outcome(&id).await;
        assert_eq!(
            outcome["msg"], "nosub",
            "sub {name} {params} should be refused: {outcome}"
        );
        outcome["error"].clone()
    }

    /// The next stream event (`changed`) of `collection` with `eventName`.
    pub async fn event(&mut self, collection: &str, event_name: &str) -> Value {
        self.wait_for(&format!("{collection} event {event_name}"), |v| {
            v["msg"] == "changed"
                && v["collection"] == collection
                && v["fields"]["eventName"] == event_name
        })
        .await
    }

    /// Waits until the server ends the connection; returns how.
    pub async fn closed(&mut self, timeout: Duration) -> &Closed {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                panic!("the server did not close the connection within {timeout:?}");
            }
            if let Some(v) = self.read(left).await {
                self.pending.push_back(v);
            }
        }
        self.closed.as_ref().expect("checked above")
    }

    pub fn is_closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// The underlying websocket, for clients that read frames themselves (benchmarks).
    pub fn into_stream(self) -> WebSocketStream<TcpStream> {
        self.ws
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
