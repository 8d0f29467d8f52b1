//! One websocket connection: a reader (handshake, heartbeat, frame parsing), a
//! writer draining the connection's bounded outbound queue, and a session task that
//! runs the client's methods and subscriptions in order, as Meteor does.
//!
//! The three are split so that: a slow method never stops pings from being
//! answered; a socket the client stopped reading never blocks the fan-out (which
//! only ever `try_send`s into the queue); and a method in flight when the client
//! goes away still runs to completion instead of being cut off between the commit
//! and the event.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, Notify};
use tracing::Instrument;

use super::protocol::{self, ClientMsg, SUPPORTED_VERSIONS};
use super::registry::ConnId;
use super::session::{self, Request};
use super::{Realtime, Stats};
use crate::apps::AppsEngine;
use crate::chat::{ids, Chat};

/// Close codes (RFC 6455).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL: u16 = 1002;
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_AGAIN: u16 = 1013;

/// Requests the session task may have queued before the reader waits for it.
const PENDING_REQUESTS: usize = 64;
/// Frames written before one flush, so a burst costs few syscalls.
const WRITE_BATCH: usize = 256;
/// How long a close frame may take to go out before the socket is just dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub enum Outbound {
    Frame(Utf8Bytes),
    /// A websocket-level ping (heartbeat for `pre1` clients, which have no DDP ping).
    Ping,
    /// Close after everything queued before it.
    Close(u16, String),
}

/// The part of a connection the fan-out and the session share.
pub struct ConnShared {
    pub id: ConnId,
    /// The DDP session id, also the `origin` of events this connection caused.
    pub session: String,
    tx: mpsc::Sender<Outbound>,
    kill: Notify,
    kill_reason: Mutex<Option<(u16, String)>>,
    closing: AtomicBool,
    user_id: Mutex<Option<String>>,
    stats: Arc<Stats>,
}

impl ConnShared {
    /// Queues a frame without waiting. A full queue means the client is not keeping
    /// up: it is disconnected (and counted) rather than allowed to hold others back.
    pub fn push(&self, frame: Utf8Bytes) -> bool {
        if self.closing.load(Ordering::Relaxed) {
            return false;
        }
        match self.tx.try_send(Outbound::Frame(frame)) {
            Ok(()) => {
                self.stats.frames_queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.too_slow();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn push_ws_ping(&self) {
        if !self.closing.load(Ordering::Relaxed) {
            if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(Outbound::Ping) {
                self.too_slow();
            }
        }
    }

    fn too_slow(&self) {
        let reason = format!(
            "slow consumer: more than {} undelivered frames",
            self.tx.max_capacity()
        );
        if self.kill(CLOSE_POLICY, &reason) {
            let total = self
                .stats
                .slow_consumer_disconnects
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            tracing::warn!(
                session = %self.session,
                user_id = self.user_id().as_deref().unwrap_or("-"),
                slow_consumer_disconnects = total,
                "disconnecting a realtime client that cannot keep up"
            );
        }
    }

    /// Closes now, dropping whatever is still queued. `false` if already closing.
    pub fn kill(&self, code: u16, reason: &str) -> bool {
        if self.closing.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Ok(mut slot) = self.kill_reason.lock() {
            *slot = Some((code, reason.to_string()));
        }
        self.kill.notify_one();
        true
    }

    /// Closes after the frames already queued.
    pub fn close(&self, code: u16, reason: &str) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        if self
            .tx
            .try_send(Outbound::Close(code, reason.to_string()))
            .is_err()
        {
            if let Ok(mut slot) = self.kill_reason.lock() {
                *slot = Some((code, reason.to_string()));
            }
            self.kill.notify_one();
        }
    }

    fn take_kill_reason(&self) -> Option<(u16, String)> {
        self.kill_reason.lock().ok().and_then(|mut r| r.take())
    }

    pub fn set_user(&self, user_id: Option<&str>) {
        if let Ok(mut slot) = self.user_id.lock() {
            *slot = user_id.map(str::to_string);
        }
    }

    pub fn user_id(&self) -> Option<String> {
        self.user_id.lock().ok().and_then(|u| u.clone())
    }
}

/// Why a connection ended, for the log (fields are read through `Debug`).
#[derive(Debug)]
#[allow(dead_code)]
enum End {
    ClientClosed,
    Broken(String),
    HeartbeatTimeout,
    HandshakeTimeout,
    UnsupportedVersion,
    ClosedByServer,
}

/// Serves one upgraded websocket until either side ends it.
pub async fn run(
    hub: Arc<Realtime>,
    chat: Arc<Chat>,
    apps: Arc<AppsEngine>,
    socket: WebSocket,
    peer: SocketAddr,
    cookie: Option<crate::api::session_cookie::CookieCredentials>,
) {
    let id = hub.next_conn_id();
    let (tx, rx) = mpsc::channel(hub.options().queue_frames.max(16));
    let conn = Arc::new(ConnShared {
        id,
        session: ids::new_id(),
        tx,
        kill: Notify::new(),
        kill_reason: Mutex::new(None),
        closing: AtomicBool::new(false),
        user_id: Mutex::new(None),
        stats: hub.stats_arc(),
    });
    let span = tracing::info_span!("ddp", session = %conn.session, peer = %peer);
    async move {
        hub.stats().connection_opened();
        hub.with_registry(|r| r.register(conn.clone()));
        let (sink, mut stream) = socket.split();
        let mut writer = tokio::spawn(write_task(sink, rx, conn.clone()).in_current_span());
        let (req_tx, req_rx) = mpsc::channel(PENDING_REQUESTS);
        let ctx = session::Ctx {
            hub: hub.clone(),
            chat,
            apps,
            conn: conn.clone(),
            peer,
            cookie,
        };
        let session_task = tokio::spawn(session::run(ctx, req_rx).in_current_span());

        let end = tokio::select! {
            end = read_loop(&hub, &conn, &mut stream, &req_tx) => end,
            _ = &mut writer => End::ClosedByServer,
        };
        hub.with_registry(|r| r.unregister(id));
        drop(req_tx);
        match &end {
            End::HeartbeatTimeout => {
                hub.stats()
                    .heartbeat_disconnects
                    .fetch_add(1, Ordering::Relaxed);
                conn.kill(CLOSE_GOING_AWAY, "heartbeat timeout");
            }
            End::HandshakeTimeout => conn.close(CLOSE_PROTOCOL, "no DDP connect message"),
            End::UnsupportedVersion => conn.close(CLOSE_NORMAL, "unsupported DDP version"),
            End::ClientClosed | End::Broken(_) | End::ClosedByServer => {
                conn.close(CLOSE_NORMAL, "")
            }
        }
        if tokio::time::timeout(CLOSE_GRACE * 2, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        // The session finishes the call in flight, if any, then sees the channel end.
        drop(session_task);
        hub.stats().connection_closed();
        tracing::info!(
            user_id = conn.user_id().as_deref().unwrap_or("-"),
            reason = ?end,
            "realtime connection closed"
        );
    }
    .instrument(span)
    .await
}

async fn read_loop(
    hub: &Realtime,
    conn: &ConnShared,
    stream: &mut futures::stream::SplitStream<WebSocket>,
    requests: &mpsc::Sender<Request>,
) -> End {
    let opts = hub.options();
    let mut version: Option<&'static str> = None;
    let mut awaiting_pong = false;
    loop {
        let wait = match (version, awaiting_pong) {
            (None, _) => opts.connect_timeout(),
            (Some(_), false) => opts.heartbeat_interval(),
            (Some(_), true) => opts.heartbeat_timeout(),
        };
        let message = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => match (version, awaiting_pong) {
                (None, _) => return End::HandshakeTimeout,
                (Some(_), true) => return End::HeartbeatTimeout,
                (Some(v), false) => {
                    if v == "pre1" {
                        conn.push_ws_ping();
                    } else {
                        conn.push(protocol::ping());
                    }
                    awaiting_pong = true;
                    continue;
                }
            },
            Ok(None) => return End::ClientClosed,
            Ok(Some(Err(e))) => return End::Broken(e.to_string()),
            Ok(Some(Ok(message))) => message,
        };
        // Anything the client sends proves it is alive (Meteor's rule).
        awaiting_pong = false;
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => {
                    conn.push(protocol::error(protocol::BadFrame {
                        reason: "Parse error",
                        offending: None,
                    }));
                    continue;
                }
            },
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return End::ClientClosed,
        };
        let parsed = match protocol::parse(text.as_str()) {
            Ok(parsed) => parsed,
            Err(bad) => {
                tracing::debug!(reason = bad.reason, "bad DDP frame");
                conn.push(protocol::error(bad));
                continue;
            }
        };
        let Some(_) = version else {
            match parsed {
                ClientMsg::Connect { version: v } => {
                    match SUPPORTED_VERSIONS
                        .iter()
                        .find(|s| Some(**s) == v.as_deref())
                    {
                        Some(v) => {
                            version = Some(v);
                            conn.push(protocol::connected(&conn.session));
                            tracing::debug!(version = v, "DDP session connected");
                        }
                        None => {
                            conn.push(protocol::failed());
                            return End::UnsupportedVersion;
                        }
                    }
                }
                _ => {
                    conn.push(protocol::error(protocol::BadFrame {
                        reason: "Must connect first",
                        offending: Some(echo(text.as_str())),
                    }));
                }
            }
            continue;
        };
        let request = match parsed {
            ClientMsg::Connect { .. } => {
                conn.push(protocol::error(protocol::BadFrame {
                    reason: "Already connected",
                    offending: Some(echo(text.as_str())),
                }));
                continue;
            }
            ClientMsg::Ping { id } => {
                conn.push(protocol::pong(id));
                continue;
            }
            ClientMsg::Pong => continue,
            ClientMsg::Method { id, method, params } => Request::Method { id, method, params },
            ClientMsg::Sub { id, name, params } => Request::Sub { id, name, params },
            ClientMsg::Unsub { id } => Request::Unsub { id },
        };
        if requests.send(request).await.is_err() {
            return End::Broken("session task ended".into());
        }
    }
}

/// The client's frame as JSON, for `offendingMessage`.
fn echo(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

async fn write_task(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    conn: Arc<ConnShared>,
) {
    let close = write_loop(&mut sink, &mut rx, &conn).await;
    drop(rx);
    if let Some((code, reason)) = close {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        }));
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(frame)).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}

/// Writes queued frames until a close is asked for (returned) or the socket breaks.
async fn write_loop(
    sink: &mut SplitSink<WebSocket, Message>,
    rx: &mut mpsc::Receiver<Outbound>,
    conn: &ConnShared,
) -> Option<(u16, String)> {
    loop {
        let first = tokio::select! {
            biased;
            _ = conn.kill.notified() => return conn.take_kill_reason(),
            next = rx.recv() => next?,
        };
        let written = tokio::select! {
            biased;
            _ = conn.kill.notified() => return conn.take_kill_reason(),
            written = write_batch(sink, rx, first) => written,
        };
        match written {
            Ok(None) => {}
            Ok(Some(close)) => return Some(close),
            Err(e) => {
                tracing::debug!(error = %e, "websocket write failed");
                return None;
            }
        }
    }
}

async fn write_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Result<Option<(u16, String)>, axum::Error> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(item) = next.take() {
        match item {
            Outbound::Frame(text) => sink.feed(Message::Text(text)).await?,
            Outbound::Ping => sink.feed(Message::Ping(Default::default())).await?,
            Outbound::Close(code, reason) => {
                sink.flush().await?;
                return Ok(Some((code, reason)));
            }
        }
        written += 1;
        if written < WRITE_BATCH {
            next = rx.try_recv().ok();
        }
    }
    sink.flush().await?;
    Ok(None)
}
