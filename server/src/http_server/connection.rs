//! One HTTP connection: hyper serves the router on it while a watchdog closes it
//! when the client is too slow between requests. Between requests a connection is
//! either idle (closed after the keep-alive timeout) or receiving the next head
//! (closed after the header timeout, counted from its first byte; a new connection
//! starts there). While a request is handled there is no connection deadline: the
//! request body has its own stall timeout and minimum rate ([`TimedBody`]).
//! hyper's own header timeout is off: it also runs while a connection is idle, which
//! would cut every keep-alive to the header timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, Sleep};

use super::admission::Slot;
use super::{Settings, MAX_BUF_BYTES, MAX_HEADERS, MAX_HEAD_BYTES};

/// Serves one connection until it ends, is closed by the watchdog, or (after `stop`)
/// has finished its request in flight.
pub(super) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    app: Router,
    settings: Arc<Settings>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        _slot: slot,
    });
    let service = RequestService {
        app,
        peer,
        activity: activity.clone(),
        settings: settings.clone(),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true)
        .max_buf_size(MAX_BUF_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(&settings);
        let changed = activity.changed.notified();
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => {
                if activity.deadline(&settings) <= Instant::now() {
                    tracing::debug!(%peer, "closing a connection idle or slow between requests");
                    return;
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // Ends the connection after its request in flight (now if none).
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is between and in requests, as the socket and the service see it.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

struct Phase {
    /// Requests whose response has not been sent yet.
    busy: u32,
    /// Between requests: when the connection last did something.
    since: Instant,
    /// Between requests: when the next request's first byte arrived.
    head_started: Option<Instant>,
}

/// Far enough to mean "none": re-evaluated on every change anyway.
const NO_DEADLINE: Duration = Duration::from_secs(24 * 3600);

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            // A new connection owes its first request head.
            phase: Mutex::new(Phase {
                busy: 0,
                since: now,
                head_started: Some(now),
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deadline(&self, s: &Settings) -> Instant {
        let p = self.lock();
        match (p.busy, p.head_started) {
            (0, Some(started)) => started + s.header_timeout,
            (0, None) => p.since + s.keep_alive_idle,
            _ => Instant::now() + NO_DEADLINE,
        }
    }

    fn bytes_read(&self) {
        let mut p = self.lock();
        if p.busy == 0 && p.head_started.is_none() {
            p.head_started = Some(Instant::now());
            drop(p);
            self.changed.notify_one();
        }
    }

    fn bytes_written(&self) {
        let mut p = self.lock();
        if p.busy == 0 {
            // The tail of a response still going out: not idle yet.
            p.since = Instant::now();
        }
    }

    fn request_started(&self) {
        let mut p = self.lock();
        p.busy += 1;
        p.head_started = None;
        drop(p);
        self.changed.notify_one();
    }

    fn response_finished(&self) {
        let mut p = self.lock();
        p.busy = p.busy.saturating_sub(1);
        if p.busy == 0 {
            p.since = Instant::now();
            p.head_started = None;
        }
        drop(p);
        self.changed.notify_one();
    }
}

/// The socket, telling the activity when bytes move, and holding the connection's
/// slot under the caps for as long as the socket lives (through an upgrade too).
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.bytes_written();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.bytes_written();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Hands each request to the router with the peer's address (`ConnectInfo`) and a
/// timed body, and marks the connection busy until its response has gone out.
#[derive(Clone)]
struct RequestService {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    settings: Arc<Settings>,
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let in_flight = InFlight(self.activity.clone());
        let stalled = Arc::new(AtomicBool::new(false));
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let body_stalled = stalled.clone();
        let settings = self.settings.clone();
        let req = req.map(|body| Body::new(TimedBody::new(body, &settings, body_stalled)));
        let app = self.app.clone();
        Box::pin(async move {
            let response = match tower::ServiceExt::oneshot(app, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // However the handler reported the failed read, the client hears why.
            let response = if stalled.load(Ordering::Acquire) {
                body_timeout_response()
            } else {
                response
            };
            Ok(response.map(|inner| ResponseBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

/// 408 in Rocket.Chat's envelope; the rest of the body is not read, so the
/// connection closes.
fn body_timeout_response() -> Response<Body> {
    let mut response = crate::api::error::envelope(
        StatusCode::REQUEST_TIMEOUT,
        json!({
            "success": false,
            "error": "The request body did not arrive in time",
            "errorType": "error-request-timeout",
        }),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Marks the request's response as sent when dropped (hyper drops the body once
/// written, or with the connection).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

struct ResponseBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body stalled or came too slowly.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyStalled;

/// A request body that fails with [`BodyStalled`] when no byte arrives for the
/// stall timeout while it is read, or when, after that long, it has averaged
/// under the minimum rate. The clock starts when the handler first reads.
struct TimedBody {
    inner: Incoming,
    idle: Duration,
    min_bytes_per_sec: u64,
    started: Option<Instant>,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    stalled: Arc<AtomicBool>,
}

impl TimedBody {
    fn new(inner: Incoming, s: &Settings, stalled: Arc<AtomicBool>) -> TimedBody {
        TimedBody {
            inner,
            idle: s.body_idle_timeout,
            min_bytes_per_sec: s.body_min_bytes_per_sec,
            started: None,
            received: 0,
            timer: None,
            stalled,
        }
    }

    fn too_slow(&self, now: Instant, started: Instant) -> bool {
        under_rate(
            self.min_bytes_per_sec,
            self.idle,
            self.received,
            now.duration_since(started),
        )
    }

    fn stall<T>(&mut self) -> Poll<Option<Result<T, BodyStalled>>> {
        self.stalled.store(true, Ordering::Release);
        Poll::Ready(Some(Err(BodyStalled)))
    }
}

/// Whether `received` bytes after `elapsed` of reading fall under `min_bytes_per_sec`,
/// counting only the time past `grace`.
fn under_rate(min_bytes_per_sec: u64, grace: Duration, received: u64, elapsed: Duration) -> bool {
    let Some(over) = elapsed.checked_sub(grace) else {
        return false;
    };
    let owed = u128::from(min_bytes_per_sec) * over.as_millis() / 1000;
    u128::from(received) < owed
}

/// The error type the router's body accepts.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let now = Instant::now();
        let started = *this.started.get_or_insert(now);
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.timer = None;
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                if this.too_slow(now, started) {
                    return this.stall().map_err(Into::into);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let idle = this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_ready() {
                    return this.stall().map_err(Into::into);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::under_rate;
    use std::time::Duration;

    #[test]
    fn the_minimum_rate_counts_after_the_grace() {
        let s = Duration::from_secs;
        // Within the grace anything goes.
        assert!(!under_rate(100, s(30), 0, s(30)));
        // 10 s past it, 1000 bytes are owed.
        assert!(under_rate(100, s(30), 999, s(40)));
        assert!(!under_rate(100, s(30), 1000, s(40)));
        // A fast start covers a slower finish.
        assert!(!under_rate(100, s(30), 1_000_000, s(3000)));
        // No floor.
        assert!(!under_rate(0, s(30), 0, s(86_400)));
    }
}
