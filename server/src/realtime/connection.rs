//! One websocket connection: a reader (handshake, heartbeat, frame parsing), a
//! writer draining the connection's bounded outbound queue, and a session task that
//! runs the client's methods and subscriptions in order, as Meteor does.
//!
//! The reader and the writer are two futures of the connection's own task, raced
//! in one place: whichever ends first decides how the connection ends, the other is
//! given a bounded time to finish (the writer, to send the close frame) or dropped,
//! and neither is ever polled after it finished. The session is a task of its own so
//! that a slow method never stops pings from being answered and a method in flight
//! when the client goes away still runs to completion instead of being cut off
//! between the commit and the event. A socket the client stopped reading never
//! blocks the fan-out, which only ever `try_send`s into the queue.
//!
//! The connection's bookkeeping (registry entry and with it every subscription,
//! the open-connections count, the "connection closed" log line) is owned by a
//! guard whose `Drop` runs on every way out: a normal end, a panic in the reader,
//! the writer or the session, or the task being dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::stream::SplitStream;
use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tracing::Instrument;

use super::close::{self, Close};
use super::liveness::{Expired, Liveness};
use super::protocol::{self, BadFrame, ClientMsg, SUPPORTED_VERSIONS};
use super::registry::ConnId;
use super::session::{self, Request};
use super::writer::{write_side, Outbound, WriteEnd};
use super::{Realtime, Stats};
use crate::apps::AppsEngine;
use crate::chat::{ids, Chat};

/// Requests the session task may have queued before the reader waits for it.
const PENDING_REQUESTS: usize = 64;
/// How long the writer may take to send the close frame after the reader ended.
const CLOSE_GRACE: Duration = Duration::from_secs(4);

/// The part of a connection the fan-out and the session share.
pub struct ConnShared {
    pub id: ConnId,
    /// The DDP session id, also the `origin` of events this connection caused.
    pub session: String,
    tx: mpsc::Sender<Outbound>,
    pub(super) kill: Notify,
    kill_reason: Mutex<Option<Close>>,
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
        if self.kill(Close::new(close::AGAIN, reason)) {
            let total = self
                .stats
                .slow_consumer_disconnects
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            tracing::warn!(
                conn_id = self.id,
                user_id = self.user_id().as_deref().unwrap_or("-"),
                slow_consumer_disconnects = total,
                "disconnecting a realtime client that cannot keep up"
            );
        }
    }

    /// Closes now, dropping whatever is still queued. `false` if already closing.
    pub fn kill(&self, close: Close) -> bool {
        if self.closing.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Ok(mut slot) = self.kill_reason.lock() {
            *slot = Some(close);
        }
        self.kill.notify_one();
        true
    }

    /// Closes after the frames already queued (or now, if the queue is full).
    pub fn close(&self, close: Close) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(e) = self.tx.try_send(Outbound::Close(close)) {
            let close = match e.into_inner() {
                Outbound::Close(close) => close,
                _ => Close::normal(),
            };
            if let Ok(mut slot) = self.kill_reason.lock() {
                *slot = Some(close);
            }
            self.kill.notify_one();
        }
    }

    pub(super) fn take_kill_reason(&self) -> Close {
        self.kill_reason
            .lock()
            .ok()
            .and_then(|mut r| r.take())
            .unwrap_or_else(Close::normal)
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

/// How a connection ended, for the log.
#[derive(Debug)]
enum End {
    /// The client closed it (close frame or end of stream).
    ClientClosed,
    /// The socket failed under us (reset, broken pipe).
    Broken(String),
    /// The server closed it; `delivered` is whether the close frame went out.
    Server { close: Close, delivered: bool },
}

/// Serves one upgraded websocket until either side ends it.
pub async fn run(
    hub: Arc<Realtime>,
    chat: Arc<Chat>,
    apps: Arc<AppsEngine>,
    socket: WebSocket,
    peer: SocketAddr,
    cookie: Option<crate::api::session_cookie::CookieCredentials>,
    headers: axum::http::HeaderMap,
) {
    let id = hub.next_conn_id();
    let opts = super::RealtimeOptions::from_settings(chat.settings());
    let (tx, rx) = mpsc::channel(opts.queue_frames);
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
    let span = tracing::info_span!("ddp", conn_id = id, session = %conn.session, peer = %peer);
    let guard = Bookkeeping::open(hub.clone(), conn.clone(), span.clone());
    async move {
        let (mut sink, mut stream) = socket.split();
        let (req_tx, req_rx) = mpsc::channel(PENDING_REQUESTS);
        let ctx = session::Ctx {
            hub: hub.clone(),
            chat,
            apps,
            conn: conn.clone(),
            peer,
            cookie,
            trace: super::trace::ConnTrace::new(Some(conn.session.clone()), peer.ip(), headers),
        };
        // Detached when the connection ends: it finishes the call in flight, if
        // any, then sees the request channel close.
        // Counted until it returns: shutdown waits for the call in flight.
        let running = hub.session_started();
        let _session = tokio::spawn(
            async move {
                session::run(ctx, req_rx).await;
                drop(running);
            }
            .in_current_span(),
        );
        let end = {
            let reader = read_loop(&hub, &opts, &conn, &mut stream, &req_tx);
            let writer = write_side(&mut sink, rx, &conn);
            tokio::pin!(reader, writer);
            tokio::select! {
                ended = &mut reader => {
                    let end = match ended {
                        ReadEnd::ClientClosed => {
                            // The writer finishes what is queued and answers the close.
                            conn.close(Close::normal());
                            End::ClientClosed
                        }
                        ReadEnd::Broken(e) => {
                            conn.kill(Close::normal());
                            End::Broken(e)
                        }
                        ReadEnd::Close { close, now } => {
                            if now {
                                conn.kill(close.clone());
                            } else {
                                conn.close(close.clone());
                            }
                            End::Server { close, delivered: false }
                        }
                    };
                    // Bounded: the writer may be stuck on a client that does not read.
                    let written = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
                    match (end, written) {
                        // What was actually sent (a kill may have come first).
                        (End::Server { .. }, Ok(WriteEnd::Sent { close, delivered })) => {
                            End::Server { close, delivered }
                        }
                        (end, _) => end,
                    }
                }
                written = &mut writer => match written {
                    WriteEnd::Sent { close, delivered } => End::Server { close, delivered },
                    WriteEnd::Broken(e) => End::Broken(e),
                },
            }
        };
        guard.finish(end);
    }
    .instrument(span)
    .await
}

/// Registers a connection and, on every way out, unregisters it, counts it closed
/// and logs how it ended, exactly once.
struct Bookkeeping {
    hub: Arc<Realtime>,
    conn: Arc<ConnShared>,
    span: tracing::Span,
    opened: Instant,
    end: Option<End>,
}

impl Bookkeeping {
    fn open(hub: Arc<Realtime>, conn: Arc<ConnShared>, span: tracing::Span) -> Bookkeeping {
        let open = hub.stats().connection_opened();
        hub.with_registry(|r| r.register(conn.clone()));
        // Registered first, checked second: `Realtime::shutdown` raises the flag
        // before it closes what is registered, so no connection slips between.
        if hub.is_shutting_down() {
            conn.kill(Close::new(close::GOING_AWAY, super::SHUTDOWN_REASON));
        }
        span.in_scope(|| {
            tracing::debug!(connections_open = open, "realtime connection opened");
        });
        Bookkeeping {
            hub,
            conn,
            span,
            opened: Instant::now(),
            end: None,
        }
    }

    fn finish(mut self, end: End) {
        self.end = Some(end);
    }
}

impl Drop for Bookkeeping {
    fn drop(&mut self) {
        let _entered = self.span.enter();
        // Nothing more is queued for a connection that is gone.
        self.conn.closing.store(true, Ordering::Release);
        self.hub.with_registry(|r| r.unregister(self.conn.id));
        let open = self.hub.stats().connection_closed();
        let user = self.conn.user_id();
        let user_id = user.as_deref().unwrap_or("-");
        let secs = self.opened.elapsed().as_secs();
        match self.end.take() {
            Some(End::Server { close, delivered }) => tracing::info!(
                conn_id = self.conn.id,
                user_id,
                by = "server",
                close_code = close.code,
                close_reason = %close.reason,
                delivered,
                secs,
                connections_open = open,
                "realtime connection closed"
            ),
            Some(End::ClientClosed) => tracing::info!(
                conn_id = self.conn.id,
                user_id,
                by = "client",
                secs,
                connections_open = open,
                "realtime connection closed"
            ),
            Some(End::Broken(error)) => tracing::info!(
                conn_id = self.conn.id,
                user_id,
                by = "network",
                %error,
                secs,
                connections_open = open,
                "realtime connection closed"
            ),
            None if std::thread::panicking() => tracing::error!(
                conn_id = self.conn.id,
                user_id,
                by = "panic",
                secs,
                connections_open = open,
                "realtime connection closed"
            ),
            // The task was dropped (runtime shutting down).
            None => tracing::warn!(
                conn_id = self.conn.id,
                user_id,
                by = "cancelled",
                secs,
                connections_open = open,
                "realtime connection closed"
            ),
        }
    }
}

/// Why the reader stopped.
enum ReadEnd {
    ClientClosed,
    Broken(String),
    /// The server closes: `now` drops what is queued, otherwise it goes out first.
    Close {
        close: Close,
        now: bool,
    },
}

impl ReadEnd {
    fn close(code: u16, reason: impl Into<String>) -> ReadEnd {
        ReadEnd::Close {
            close: Close::new(code, reason),
            now: false,
        }
    }
}

async fn read_loop(
    hub: &Realtime,
    opts: &super::RealtimeOptions,
    conn: &ConnShared,
    stream: &mut SplitStream<WebSocket>,
    requests: &mpsc::Sender<Request>,
) -> ReadEnd {
    let mut clock = Liveness::new(
        Instant::now(),
        opts.connect_timeout(),
        opts.heartbeat_interval(),
        opts.heartbeat_timeout(),
    );
    let mut version: Option<&'static str> = None;
    let mut bad_frames = 0usize;
    // Answers a frame DDP cannot use; a client that keeps sending them is cut off.
    let mut refuse = |bad: BadFrame| -> Option<ReadEnd> {
        tracing::debug!(reason = bad.reason, "bad DDP frame");
        conn.push(protocol::error(bad));
        bad_frames += 1;
        (bad_frames > opts.max_bad_frames).then(|| {
            ReadEnd::close(
                close::POLICY,
                format!("more than {} malformed DDP messages", opts.max_bad_frames),
            )
        })
    };
    loop {
        let message = match tokio::time::timeout_at(clock.deadline(), stream.next()).await {
            Err(_) => match clock.expired(Instant::now()) {
                Expired::Handshake => {
                    return ReadEnd::close(
                        close::TIMEOUT,
                        format!("no DDP connect within {} ms", opts.connect_timeout_ms),
                    )
                }
                Expired::Heartbeat => {
                    hub.stats()
                        .heartbeat_disconnects
                        .fetch_add(1, Ordering::Relaxed);
                    return ReadEnd::Close {
                        close: Close::new(close::TIMEOUT, "heartbeat timeout"),
                        now: true,
                    };
                }
                Expired::Ping => {
                    if version == Some("pre1") {
                        conn.push_ws_ping();
                    } else {
                        conn.push(protocol::ping());
                    }
                    continue;
                }
            },
            Ok(None) => return ReadEnd::ClientClosed,
            Ok(Some(Err(e))) => return read_error(e),
            Ok(Some(Ok(message))) => message,
        };
        let now = Instant::now();
        clock.frame(now);
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => {
                    let bad = BadFrame {
                        reason: "Parse error",
                        offending: None,
                    };
                    match refuse(bad) {
                        Some(end) => return end,
                        None => continue,
                    }
                }
            },
            // `pre1` clients are pinged at the websocket level.
            Message::Pong(_) if version == Some("pre1") => {
                clock.pong(now);
                continue;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return ReadEnd::ClientClosed,
        };
        let parsed = match protocol::parse(text.as_str()) {
            Ok(parsed) => parsed,
            Err(bad) => match refuse(bad) {
                Some(end) => return end,
                None => continue,
            },
        };
        let Some(_) = version else {
            // Meteor answers anything but `connect` with an error and keeps waiting;
            // the handshake deadline still runs.
            let refused = match parsed {
                ClientMsg::Connect { version: v } => {
                    match SUPPORTED_VERSIONS
                        .iter()
                        .find(|s| Some(**s) == v.as_deref())
                    {
                        Some(v) => {
                            version = Some(v);
                            clock.connected(now);
                            conn.push(protocol::connected(&conn.session));
                            tracing::debug!(version = v, "DDP session connected");
                            None
                        }
                        None => {
                            conn.push(protocol::failed());
                            return ReadEnd::close(close::NORMAL, "unsupported DDP version");
                        }
                    }
                }
                _ => refuse(BadFrame {
                    reason: "Must connect first",
                    offending: Some(echo(text.as_str())),
                }),
            };
            match refused {
                Some(end) => return end,
                None => continue,
            }
        };
        let request = match parsed {
            ClientMsg::Connect { .. } => {
                let bad = BadFrame {
                    reason: "Already connected",
                    offending: Some(echo(text.as_str())),
                };
                match refuse(bad) {
                    Some(end) => return end,
                    None => continue,
                }
            }
            ClientMsg::Ping { id } => {
                conn.push(protocol::pong(id));
                continue;
            }
            ClientMsg::Pong => {
                if version != Some("pre1") {
                    clock.pong(now);
                }
                continue;
            }
            ClientMsg::Method { id, method, params } => Request::Method { id, method, params },
            ClientMsg::Sub { id, name, params } => Request::Sub { id, name, params },
            ClientMsg::Unsub { id } => Request::Unsub { id },
        };
        if requests.send(request).await.is_err() {
            // The session task is gone (it only ends early by failing).
            return ReadEnd::Close {
                close: Close::internal(),
                now: false,
            };
        }
    }
}

/// What a failed read means: the client broke a websocket rule (answered with the
/// matching close code) or the connection is simply gone.
fn read_error(e: axum::Error) -> ReadEnd {
    use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
    let e = match e.into_inner().downcast::<WsError>() {
        Ok(e) => *e,
        Err(other) => return ReadEnd::Broken(other.to_string()),
    };
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => ReadEnd::close(
            close::TOO_BIG,
            format!("message too big: {size} bytes, the limit is {max_size}"),
        ),
        WsError::Capacity(other) => ReadEnd::close(close::TOO_BIG, other.to_string()),
        WsError::Utf8(_) => ReadEnd::close(close::INVALID_DATA, "text frame is not UTF-8"),
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => ReadEnd::ClientClosed,
        WsError::Protocol(p) => ReadEnd::close(close::PROTOCOL, p.to_string()),
        other => ReadEnd::Broken(other.to_string()),
    }
}

/// The client's frame as JSON, for `offendingMessage`.
fn echo(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}
