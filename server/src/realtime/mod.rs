//! The realtime API: Rocket.Chat's DDP over a websocket at `/websocket` (and
//! `/sockjs/websocket`), so bots and clients written for Rocket.Chat connect
//! unchanged.
//!
//! Layout: [`protocol`] (frames, Meteor errors, EJSON dates), [`connection`] (one
//! socket: reader and bookkeeping), [`writer`] (its outbound queue), [`liveness`] (handshake deadline and
//! heartbeat), [`close`] (close codes), [`session`] (a connection's login and its
//! calls, in order), [`methods`] (with [`commands`], the slash-command methods),
//! [`subscriptions`], [`registry`] (who may receive what) and [`fanout`] (bus event
//! → frames).
//!
//! Delivery: one consumer of the chat [`EventBus`](crate::chat::EventBus) feeds
//! [`Realtime::dispatch`], which queues frames on bounded per-connection queues
//! without ever waiting; a connection that cannot keep up is closed and counted in
//! [`Stats`]. Events from other instances (a MongoDB change-stream relay) are meant
//! to enter through the same [`Realtime::dispatch`], so local and remote events are
//! authorized and delivered by one code path.

mod close;
mod commands;
mod connection;
mod fanout;
mod liveness;
mod mail_methods;
mod message_methods;
mod methods;
mod presence;
mod protocol;
mod registry;
mod room_methods;
mod session;
mod subscriptions;
pub mod trace;
mod user_methods;
mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::AppState;
use crate::chat::{Chat, Event};
use crate::worker::{StopSignal, Worker, Workers};
use registry::Registry;

/// A `method.call` body that is not a DDP method message.
#[derive(Debug, thiserror::Error)]
#[error("Invalid method call")]
pub struct InvalidMethodCall;

/// Runs a DDP method for REST (`method.call` with a session, `method.callAnon`
/// without): `message` is the DDP `method` message as JSON, the answer the DDP
/// `result` message as text, an error included. Same dispatcher, same rules as
/// a realtime call.
pub async fn call_method_over_rest(
    chat: &Arc<Chat>,
    apps: &Arc<crate::apps::AppsEngine>,
    conn: &trace::ConnTrace,
    session: Option<&crate::chat::accounts::Session>,
    message: &str,
) -> Result<String, InvalidMethodCall> {
    let protocol::ClientMsg::Method { id, method, params } =
        protocol::parse(message).map_err(|_| InvalidMethodCall)?
    else {
        return Err(InvalidMethodCall);
    };
    let caller = methods::Caller::rest(chat, apps, conn, session);
    let outcome = methods::call(&caller, &method, &params).await;
    if let Err(e) = &outcome {
        tracing::debug!(
            method = %method,
            user_id = session.map_or("-", |s| s.user.id.as_str()),
            error = %e.to_json(),
            "method over REST refused"
        );
    }
    Ok(protocol::result(&id, outcome).as_str().to_string())
}

/// Tunables of the realtime API, read from the live workspace settings
/// (`Realtime_*`) when a connection opens, so a change applies to new connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealtimeOptions {
    /// A client silent this long is pinged (Meteor: 15 s).
    pub heartbeat_interval_ms: u64,
    /// A pinged client silent this much longer is considered dead and closed.
    pub heartbeat_timeout_ms: u64,
    /// Time allowed between opening the socket and the DDP `connect` message,
    /// whatever else the client sends meanwhile.
    pub connect_timeout_ms: u64,
    /// Malformed DDP messages (unparsable, unknown, before `connect`, …) a
    /// connection may send, each answered with a DDP error, before it is closed
    /// (1008). Well-behaved clients send none.
    pub max_bad_frames: usize,
    /// Frames that may wait for one client before it counts as too slow and is
    /// disconnected (at least 16).
    pub queue_frames: usize,
}

impl RealtimeOptions {
    /// The live values (the registry's ranges keep them positive).
    pub fn from_settings(s: &crate::chat::settings::Settings) -> RealtimeOptions {
        let ms = |id: &str| u64::try_from(s.int(id)).unwrap_or(1).max(1);
        RealtimeOptions {
            heartbeat_interval_ms: ms("Realtime_Heartbeat_Interval_Ms"),
            heartbeat_timeout_ms: ms("Realtime_Heartbeat_Timeout_Ms"),
            connect_timeout_ms: ms("Realtime_Connect_Timeout_Ms"),
            max_bad_frames: s.usize("Realtime_Max_Bad_Frames"),
            queue_frames: s.usize("Realtime_Queue_Frames").max(16),
        }
    }

    fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }
    fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.heartbeat_timeout_ms)
    }
    fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// Counters of the realtime API, for logs and (later) metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    /// Clients disconnected because their outbound queue overflowed.
    pub slow_consumer_disconnects: AtomicU64,
    /// Clients closed because they stopped answering heartbeats.
    pub heartbeat_disconnects: AtomicU64,
    /// Bus events the fan-out missed because it fell behind.
    pub bus_lagged_events: AtomicU64,
    pub frames_queued: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub connections_open: u64,
    pub connections_total: u64,
    pub slow_consumer_disconnects: u64,
    pub heartbeat_disconnects: u64,
    pub bus_lagged_events: u64,
    pub frames_queued: u64,
}

impl Stats {
    /// Counts a connection in; returns how many are open now.
    fn connection_opened(&self) -> u64 {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed) + 1
    }
    /// Counts a connection out; returns how many are open now.
    fn connection_closed(&self) -> u64 {
        self.connections_open
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1)
    }
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            connections_open: get(&self.connections_open),
            connections_total: get(&self.connections_total),
            slow_consumer_disconnects: get(&self.slow_consumer_disconnects),
            heartbeat_disconnects: get(&self.heartbeat_disconnects),
            bus_lagged_events: get(&self.bus_lagged_events),
            frames_queued: get(&self.frames_queued),
        }
    }
}

/// The realtime hub: every connection, and the fan-out from the event bus to them.
pub struct Realtime {
    stats: Arc<Stats>,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    /// The fan-out workers (local and remote events), started with the first connection.
    consumers: OnceLock<Workers>,
    /// Sessions (a connection's calls) still running, which may outlive their
    /// socket by the call in flight: shutdown waits for them too.
    sessions: AtomicU64,
    shutting_down: AtomicBool,
    /// LDAP sign-in for `login {ldap: true}` (set once at start-up).
    ldap: OnceLock<Arc<crate::identity::ldap::Ldap>>,
}

/// The close reason every connection gets at shutdown (code 1001).
const SHUTDOWN_REASON: &str = "server shutting down";

impl Realtime {
    pub fn new() -> Arc<Realtime> {
        Arc::new(Realtime {
            stats: Arc::default(),
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            consumers: OnceLock::new(),
            sessions: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            ldap: OnceLock::new(),
        })
    }

    /// Plugs in LDAP sign-in; once, at start-up.
    pub fn set_ldap(&self, ldap: Arc<crate::identity::ldap::Ldap>) {
        let _ = self.ldap.set(ldap);
    }

    /// LDAP sign-in, when plugged in.
    pub fn ldap(&self) -> Option<&Arc<crate::identity::ldap::Ldap>> {
        self.ldap.get()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn stats_arc(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    fn next_conn_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `f` on the registry. Never held across an await; a panic elsewhere while
    /// holding it leaves data that is still consistent enough to keep serving.
    fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut guard = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Starts consuming `chat`'s event bus (once; later calls do nothing).
    pub fn start(self: &Arc<Self>, chat: &Arc<Chat>) {
        self.consumers.get_or_init(|| {
            let workers = Workers::default();
            // Logins and logouts of connections, recorded for presence in order.
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            self.with_registry(|r| r.presence = Some(tx));
            let chat_ = chat.clone();
            workers.add(Worker::spawn("realtime-presence", |stop| {
                record_presence(chat_, rx, stop)
            }));
            let (hub, rx) = (self.clone(), chat.events().subscribe());
            workers.add(Worker::spawn("realtime-fanout", |stop| {
                consume(hub, rx, stop)
            }));
            // Events of other instances (MongoDB relay) take the same path.
            let (hub, rx) = (self.clone(), chat.remote_events().subscribe());
            workers.add(Worker::spawn("realtime-fanout-remote", |stop| {
                consume(hub, rx, stop)
            }));
            workers
        });
    }

    /// Delivers one event to every local connection allowed to see it. The bus
    /// consumer calls this for local events; a relay from other instances calls it
    /// for theirs. Never blocks.
    pub fn dispatch(&self, event: &Event) {
        self.with_registry(|r| r.dispatch(event));
    }

    /// Open connections right now.
    pub fn connections(&self) -> usize {
        self.with_registry(|r| r.len())
    }

    /// Closes every connection now, dropping what is queued for them.
    fn close_all(&self, close: close::Close) {
        self.with_registry(|r| {
            for id in r.conn_ids() {
                if let Some(conn) = r.conn(id) {
                    conn.kill(close.clone());
                }
            }
        });
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Closes every connection with 1001 (and any that opens from now on), then
    /// waits up to `grace` for them to be gone, so clients get their close frame
    /// before the process exits; then stops the fan-out.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + grace;
        self.close_connections(deadline).await;
        // Nobody is left to deliver to.
        if let Some(consumers) = self.consumers.get() {
            consumers.stop_by(deadline).await;
        }
    }

    /// Closes every connection and waits for them, and for the calls their
    /// sessions still run, to end.
    async fn close_connections(&self, deadline: tokio::time::Instant) {
        let open = self.connections();
        if open > 0 {
            tracing::info!(connections = open, "closing realtime connections");
            self.close_all(close::Close::new(close::GOING_AWAY, SHUTDOWN_REASON));
        }
        let busy = || self.connections() + self.sessions.load(Ordering::SeqCst) as usize;
        while busy() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (left, sessions) = (self.connections(), self.sessions.load(Ordering::SeqCst));
        if left + sessions as usize > 0 {
            tracing::warn!(
                connections = left,
                sessions,
                "realtime connections still open at the shutdown deadline"
            );
        }
    }

    /// Counts a session as running until the guard is dropped.
    fn session_started(self: &Arc<Self>) -> SessionGuard {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        SessionGuard(self.clone())
    }
}

/// A running session, counted in [`Realtime::sessions`].
struct SessionGuard(Arc<Realtime>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn consume(
    hub: Arc<Realtime>,
    mut rx: tokio::sync::broadcast::Receiver<Arc<Event>>,
    mut stop: StopSignal,
) {
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            _ = stop.stopped() => break,
        };
        match next {
            Ok(event) => hub.dispatch(&event),
            Err(RecvError::Lagged(missed)) => {
                let total = hub
                    .stats
                    .bus_lagged_events
                    .fetch_add(missed, Ordering::Relaxed)
                    + missed;
                // A missed leave or logout would leave a subscription authorized that
                // should not be: make every client reconnect and be checked afresh.
                tracing::error!(
                    missed,
                    total,
                    "realtime fan-out fell behind the event bus; closing all realtime connections"
                );
                hub.close_all(close::Close::new(
                    close::AGAIN,
                    "server overloaded: events were lost, please reconnect",
                ));
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// Records connections coming and going for presence. At a stop the rest is
/// dropped: presence then removes every connection of this instance.
async fn record_presence(
    chat: Arc<Chat>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<registry::PresenceOp>,
    mut stop: StopSignal,
) {
    loop {
        let op = tokio::select! {
            op = rx.recv() => op,
            _ = stop.stopped() => break,
        };
        let Some(op) = op else { break };
        let (user_id, outcome) = match &op {
            registry::PresenceOp::Connected { user_id, session } => {
                (user_id, chat.presence_connected(user_id, session).await)
            }
            registry::PresenceOp::Disconnected { user_id, session } => {
                (user_id, chat.presence_disconnected(user_id, session).await)
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(user_id = %user_id, error = %e, "cannot record a connection for presence");
        }
    }
}

/// The websocket routes served by `hub`.
pub fn routes_with(hub: Arc<Realtime>) -> Router<AppState> {
    Router::new()
        .route("/websocket", get(upgrade))
        .route("/sockjs/websocket", get(upgrade))
        .layer(Extension(hub))
}

async fn upgrade(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<Realtime>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    ws: WebSocketUpgrade,
) -> Response {
    hub.start(&state.chat);
    let chat = state.chat.clone();
    let apps = state.apps.clone();
    let cookie = upgrade_cookie(&headers, &uri, state.edge.site_host.as_deref());
    ws.max_message_size(state.max_body_bytes)
        .max_frame_size(state.max_body_bytes)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| connection::run(hub, chat, apps, socket, peer, cookie, headers))
}

/// The web client's session cookie, when the upgrade came from a page of this
/// origin (a cross-site page can open a websocket here too: browsers do not
/// restrict that, so its `Origin` is checked).
fn upgrade_cookie(
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    site_host: Option<&str>,
) -> Option<crate::api::session_cookie::CookieCredentials> {
    use crate::api::session_cookie;
    let creds = session_cookie::credentials(headers)?;
    session_cookie::same_origin(headers, uri, site_host).ok()?;
    Some(creds)
}
