//! The HTTP listener: hyper's HTTP/1 connections serving the axum router, with what
//! `axum::serve` lacks against clients that hold connections open: a deadline for a
//! request's headers, a stall timeout and minimum rate for request bodies, an idle
//! keep-alive timeout, and caps on connections in all and per client address.
//!
//! `admission` counts connections; `connection` runs one (its timeouts and bodies).

mod admission;
mod connection;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use admission::Admission;

/// The listener's timeouts and caps (`[http]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// Seconds a client has to send a whole request head, counted from connecting
    /// or from the first byte of a later request on the connection.
    pub header_timeout_secs: u64,
    /// Seconds a request body may stall (no byte arrives) while the server reads it;
    /// then 408 and the connection is closed.
    pub body_idle_timeout_secs: u64,
    /// Slowest request body accepted once it has been read for
    /// `body_idle_timeout_secs`, in bytes per second (0: no floor).
    pub body_min_bytes_per_sec: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    pub keep_alive_idle_secs: u64,
    /// Connections open at once (websockets included); more are closed on accept.
    pub max_connections: usize,
    /// Connections open at once from one client address (websockets included).
    pub max_connections_per_address: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout_secs: 10,
            body_idle_timeout_secs: 30,
            body_min_bytes_per_sec: 256,
            keep_alive_idle_secs: 75,
            max_connections: 8192,
            max_connections_per_address: 64,
        }
    }
}

/// The parser's own limits sit well above the router's (which answers over-long
/// URIs and header sets in Rocket.Chat's envelope): a head up to `MAX_HEAD_BYTES`
/// (e.g. a 16 KiB URI with 32 KiB of headers) reaches the router; only a larger one
/// gets hyper's bare 431.
const MAX_HEAD_BYTES: usize = 96 * 1024;
/// hyper's read buffer must hold a whole head.
const MAX_BUF_BYTES: usize = 128 * 1024;
const MAX_HEADERS: usize = 200;

/// Timeouts as durations, shared by every connection.
#[derive(Debug)]
struct Settings {
    header_timeout: Duration,
    body_idle_timeout: Duration,
    body_min_bytes_per_sec: u64,
    keep_alive_idle: Duration,
}

impl From<&HttpLimits> for Settings {
    fn from(l: &HttpLimits) -> Self {
        Settings {
            header_timeout: Duration::from_secs(l.header_timeout_secs),
            body_idle_timeout: Duration::from_secs(l.body_idle_timeout_secs),
            body_min_bytes_per_sec: l.body_min_bytes_per_sec,
            keep_alive_idle: Duration::from_secs(l.keep_alive_idle_secs),
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves; then stops accepting, lets
/// requests in flight finish, closes idle connections and returns once every HTTP
/// connection has ended (the caller bounds the wait; dropping this future closes
/// them all). Upgraded connections (websockets) live on in their own tasks.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    stop: impl Future<Output = ()>,
) {
    let settings = Arc::new(Settings::from(limits));
    let admission = Arc::new(Admission::new(limits));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_failed(e).await;
                        continue;
                    }
                };
                let Some(slot) = admission.admit(peer.ip()) else {
                    continue; // dropping the stream closes it
                };
                // Small realtime frames must not wait on Nagle's algorithm.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                connections.spawn(connection::run(
                    stream,
                    peer,
                    slot,
                    app.clone(),
                    settings.clone(),
                    stop_rx.clone(),
                ));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// A failed accept: the connection's own trouble is ignored; running out of file
/// descriptors waits a moment instead of spinning.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
