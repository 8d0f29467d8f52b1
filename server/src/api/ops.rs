//! Operator endpoints: `/livez` and `/readyz` for load balancers and orchestrators,
//! and `/metrics` (Prometheus text format) behind a bearer token.
//!
//! Request metrics are keyed by the matched route *template* (`/api/v1/rooms.info`,
//! `/hooks/{integration_id}/{token}`), never the raw path: raw paths carry ids and
//! hook secrets and would make the label set unbounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;
use crate::apps::engine::AppCallMetrics;
use crate::realtime::StatsSnapshot;

/// Whether the server should receive traffic. Ready only once the store is open
/// and the apps engine has started; not ready again from the first moment of
/// shutdown, so load balancers drain it while in-flight requests finish.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The label a request without a matching route gets.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let slot = BUCKETS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct HttpStats {
    /// route template → its figures; looked up by `&str`, so a request allocates
    /// only the first time its route, method and status are seen.
    routes: BTreeMap<String, RouteStats>,
}

#[derive(Debug, Default)]
struct RouteStats {
    /// (method, status, requests): a handful per route, so a list.
    requests: Vec<(String, u16, u64)>,
    durations: Histogram,
}

/// Counters behind `/metrics`. The set of keys is bounded by the routes the
/// server has, so one short lock per request is all they cost.
#[derive(Debug)]
pub struct Metrics {
    /// `metrics_token`: without one, `/metrics` does not exist.
    token: Option<String>,
    http: Mutex<HttpStats>,
}

impl Metrics {
    pub fn new(token: Option<String>) -> Metrics {
        Metrics {
            token,
            http: Mutex::default(),
        }
    }

    /// Whether metrics are on (a token is configured): off, nothing is recorded,
    /// since nobody can read it.
    fn enabled(&self) -> bool {
        self.token.is_some()
    }

    fn record(&self, method: &str, route: &str, status: u16, secs: f64) {
        // A poisoned lock only means a panic mid-update of plain counters.
        let mut http = self.http.lock().unwrap_or_else(|e| e.into_inner());
        if !http.routes.contains_key(route) {
            http.routes.insert(route.to_owned(), RouteStats::default());
        }
        let Some(stats) = http.routes.get_mut(route) else {
            return;
        };
        match stats
            .requests
            .iter_mut()
            .find(|(m, s, _)| m == method && *s == status)
        {
            Some((_, _, n)) => *n += 1,
            None => stats.requests.push((method.to_owned(), status, 1)),
        }
        stats.durations.observe(secs);
    }

    /// Whether `headers` carry `Authorization: Bearer <metrics_token>`.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq(presented.as_bytes(), token.as_bytes())
    }

    /// The exposition text: HTTP counters and durations, the realtime figures,
    /// then the apps' calls.
    fn render(&self, realtime: &StatsSnapshot, apps: &AppsMetrics) -> String {
        let mut out = String::new();
        let http = self.http.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(
            "# HELP palaver_http_requests_total HTTP requests answered, by route template.\n",
        );
        out.push_str("# TYPE palaver_http_requests_total counter\n");
        for (route, stats) in &http.routes {
            let mut requests: Vec<_> = stats.requests.iter().collect();
            requests.sort();
            for (method, status, n) in requests {
                let _ = writeln!(
                    out,
                    "palaver_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str("# HELP palaver_http_request_duration_seconds Time to answer HTTP requests, by route template.\n");
        out.push_str("# TYPE palaver_http_request_duration_seconds histogram\n");
        for (route, stats) in &http.routes {
            let h = &stats.durations;
            let route = escape(route);
            let mut cumulative = 0;
            for (i, upper) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(
                    out,
                    "palaver_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{upper}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "palaver_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "palaver_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "palaver_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        drop(http);
        render_realtime(&mut out, realtime);
        render_apps(&mut out, &apps.apps);
        render_app_faults(&mut out, apps);
        out
    }
}

/// What `/metrics` shows of the apps engine.
#[derive(Debug, Default)]
pub struct AppsMetrics {
    pub apps: Vec<AppCallMetrics>,
    /// Post-event calls dropped so far because an app's queue was full.
    pub events_dropped: u64,
}

/// One sample line.
fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// Connections and how the fan-out keeps up: lag and the clients it had to drop.
fn render_realtime(out: &mut String, rt: &StatsSnapshot) {
    let gauge = "gauge";
    let counter = "counter";
    for (name, kind, help, value) in [
        ("palaver_realtime_connections", gauge, "Open realtime (DDP websocket) connections.", rt.connections_open),
        ("palaver_realtime_connections_total", counter, "Realtime connections accepted.", rt.connections_total),
        ("palaver_realtime_frames_queued_total", counter, "Frames queued for realtime clients by the fan-out.", rt.frames_queued),
        ("palaver_realtime_fanout_lagged_events_total", counter, "Chat events the realtime fan-out missed because it fell behind (every client is then asked to reconnect).", rt.bus_lagged_events),
        ("palaver_realtime_slow_consumer_disconnects_total", counter, "Realtime clients disconnected because their outbound queue overflowed.", rt.slow_consumer_disconnects),
        ("palaver_realtime_heartbeat_disconnects_total", counter, "Realtime clients closed because they stopped answering heartbeats.", rt.heartbeat_disconnects),
    ] {
        sample(out, name, kind, help, value);
    }
}

/// Faults by kind, what the host refused apps, calls in flight and dropped events.
fn render_app_faults(out: &mut String, metrics: &AppsMetrics) {
    let apps = &metrics.apps;
    out.push_str("# HELP palaver_app_faults_total Faulted calls into apps since each was enabled, by fault kind.\n");
    out.push_str("# TYPE palaver_app_faults_total counter\n");
    for a in apps {
        let app = escape(&a.app);
        for (fault, n) in &a.faults {
            let _ = writeln!(
                out,
                "palaver_app_faults_total{{app=\"{app}\",fault=\"{fault}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP palaver_app_host_refusals_total What the host refused apps (a permission not granted, a quota or limit reached, …), by reason.\n");
    out.push_str("# TYPE palaver_app_host_refusals_total counter\n");
    for a in apps {
        let app = escape(&a.app);
        for (reason, n) in &a.refusals {
            let _ = writeln!(
                out,
                "palaver_app_host_refusals_total{{app=\"{app}\",reason=\"{}\"}} {n}",
                escape(reason)
            );
        }
    }
    out.push_str(
        "# HELP palaver_app_calls_in_flight Calls into apps running (or waiting for an instance) now, by kind.\n",
    );
    out.push_str("# TYPE palaver_app_calls_in_flight gauge\n");
    for a in apps {
        let app = escape(&a.app);
        for k in &a.calls {
            let _ = writeln!(
                out,
                "palaver_app_calls_in_flight{{app=\"{app}\",kind=\"{}\"}} {}",
                k.kind.label(),
                k.in_flight
            );
        }
    }
    sample(
        out,
        "palaver_app_events_dropped_total",
        "counter",
        "Post-event calls dropped because an app's queue was full.",
        metrics.events_dropped,
    );
}

/// `palaver_app_calls_total{app,kind,outcome}`, the time those calls took, and each
/// app's queued post-event calls.
fn render_apps(out: &mut String, apps: &[AppCallMetrics]) {
    out.push_str("# HELP palaver_app_calls_total Calls into apps since each was enabled, by kind and outcome.\n");
    out.push_str("# TYPE palaver_app_calls_total counter\n");
    for a in apps {
        let app = escape(&a.app);
        for k in &a.calls {
            let kind = k.kind.label();
            for (outcome, n) in [("ok", k.ok), ("fault", k.faults)] {
                let _ = writeln!(
                    out,
                    "palaver_app_calls_total{{app=\"{app}\",kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
    }
    out.push_str(
        "# HELP palaver_app_call_duration_seconds Time spent in calls into apps, by kind.\n",
    );
    out.push_str("# TYPE palaver_app_call_duration_seconds summary\n");
    for a in apps {
        let app = escape(&a.app);
        for k in &a.calls {
            let kind = k.kind.label();
            let _ = writeln!(
                out,
                "palaver_app_call_duration_seconds_sum{{app=\"{app}\",kind=\"{kind}\"}} {}",
                k.seconds
            );
            let _ = writeln!(
                out,
                "palaver_app_call_duration_seconds_count{{app=\"{app}\",kind=\"{kind}\"}} {}",
                k.ok + k.faults
            );
        }
    }
    out.push_str(
        "# HELP palaver_app_event_queue_depth Post-event calls waiting for each enabled app.\n",
    );
    out.push_str("# TYPE palaver_app_event_queue_depth gauge\n");
    for a in apps {
        let _ = writeln!(
            out,
            "palaver_app_event_queue_depth{{app=\"{}\"}} {}",
            escape(&a.app),
            a.queued_events
        );
    }
}

/// Equal without an early exit, so the time taken does not tell how much of a
/// guessed token was right (only, at most, its length).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &y) in b.iter().enumerate() {
        let x = a.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Health and metrics state shared by the router and `serve`.
#[derive(Debug)]
pub struct Ops {
    pub health: Health,
    pub metrics: Metrics,
}

impl Ops {
    pub fn new(metrics_token: Option<String>) -> Arc<Ops> {
        Arc::new(Ops {
            health: Health::default(),
            metrics: Metrics::new(metrics_token),
        })
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ops.health.is_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// Without the configured token (or with none configured) this is the ordinary
/// 404: the endpoint's existence is not given away.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.ops.metrics.authorized(&headers) {
        return ApiError::NotFound.into_response();
    }
    let realtime = state.realtime.stats().snapshot();
    let apps = AppsMetrics {
        apps: state.apps.call_metrics(),
        events_dropped: state.apps.events_dropped(),
    };
    let mut body = state.ops.metrics.render(&realtime, &apps);
    render_outbox(&mut body, &state.outbox).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// How one outbox gauge is read from a kind's statistics (at a time, in ms).
type OutboxGauge = fn(&crate::store::outbox::OutboxStats, i64) -> f64;

/// The delivery queue per kind: depth, dead letters, the oldest pending item's
/// age (from the store, so the same on every instance), and this instance's
/// delivery counters.
async fn render_outbox(out: &mut String, outbox: &crate::worker::outbox::Outbox) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering;
    let stats = match outbox.stats().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: outbox statistics unavailable");
            return;
        }
    };
    let now = crate::store::Ts::now();
    let gauges: [(&str, &str, OutboxGauge); 3] = [
        (
            "palaver_outbox_depth",
            "Items waiting for delivery (being delivered included), by kind.",
            |s, _| s.pending as f64,
        ),
        (
            "palaver_outbox_dead",
            "Dead letters (given up) waiting for an admin, by kind.",
            |s, _| s.dead as f64,
        ),
        (
            "palaver_outbox_oldest_pending_seconds",
            "Age of the oldest item waiting for delivery, by kind (0 when none).",
            |s, now| {
                s.oldest_pending
                    .map_or(0.0, |t| (now - t.0).max(0) as f64 / 1000.0)
            },
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for s in &stats {
            let _ = writeln!(
                out,
                "{name}{{kind=\"{}\"}} {}",
                s.kind.as_str(),
                value(s, now.0)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP palaver_outbox_attempts_total Delivery attempts by this instance since start, by kind and result.\n\
         # TYPE palaver_outbox_attempts_total counter"
    );
    for s in &stats {
        if let Some(c) = outbox.counters(s.kind) {
            for (result, n) in [
                ("delivered", c.delivered.load(Ordering::Relaxed)),
                ("failed", c.failed.load(Ordering::Relaxed)),
                ("dead", c.dead.load(Ordering::Relaxed)),
            ] {
                let _ = writeln!(
                    out,
                    "palaver_outbox_attempts_total{{kind=\"{}\",result=\"{result}\"}} {n}",
                    s.kind.as_str()
                );
            }
        }
    }
}

/// Middleware: counts and times every request by its matched route template.
pub async fn track(State(ops): State<Arc<Ops>>, req: Request, next: Next) -> Response {
    if !ops.metrics.enabled() {
        return next.run(req).await;
    }
    // Both are cheap clones (a shared string; a standard method is inline).
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    ops.metrics.record(
        method.as_str(),
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_flag() {
        let h = Health::default();
        assert!(!h.is_ready(), "not ready before start-up finishes");
        h.set_ready(true);
        assert!(h.is_ready());
        h.set_ready(false);
        assert!(!h.is_ready(), "not ready once shutting down");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnoX", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmno", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnopq", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"", b"abcdefghijklmnop"));
    }

    #[test]
    fn label_values_are_escaped_and_buckets_cumulate() {
        let m = Metrics::new(None);
        m.record("GET", "/a\"b\\c\nd", 200, 0.003);
        m.record("GET", "/a\"b\\c\nd", 200, 0.2);
        m.record("GET", "/a\"b\\c\nd", 200, 60.0);
        let apps = AppsMetrics {
            apps: vec![AppCallMetrics {
                app: "hello".into(),
                calls: vec![crate::apps::call_stats::CallKindSnapshot {
                    kind: crate::apps::limits::CallKind::Command,
                    ok: 2,
                    faults: 1,
                    seconds: 0.5,
                    in_flight: 1,
                }],
                queued_events: 4,
                faults: vec![("deadline", 1)],
                refusals: vec![("permission-denied".into(), 2)],
            }],
            events_dropped: 5,
        };
        let realtime = StatsSnapshot {
            connections_open: 3,
            slow_consumer_disconnects: 6,
            bus_lagged_events: 7,
            ..StatsSnapshot::default()
        };
        let text = m.render(&realtime, &apps);
        for line in [
            r#"palaver_app_faults_total{app="hello",fault="deadline"} 1"#,
            r#"palaver_app_host_refusals_total{app="hello",reason="permission-denied"} 2"#,
            r#"palaver_app_calls_in_flight{app="hello",kind="command"} 1"#,
            "palaver_app_events_dropped_total 5",
            "palaver_realtime_slow_consumer_disconnects_total 6",
            "palaver_realtime_fanout_lagged_events_total 7",
            "# TYPE palaver_realtime_fanout_lagged_events_total counter",
            r#"palaver_app_calls_total{app="hello",kind="command",outcome="ok"} 2"#,
            r#"palaver_app_calls_total{app="hello",kind="command",outcome="fault"} 1"#,
            r#"palaver_app_call_duration_seconds_count{app="hello",kind="command"} 3"#,
            r#"palaver_app_event_queue_depth{app="hello"} 4"#,
        ] {
            assert!(text.contains(line), "{line}:\n{text}");
        }
        assert!(
            text.contains(
                r#"palaver_http_requests_total{method="GET",route="/a\"b\\c\nd",status="200"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"palaver_http_request_duration_seconds_bucket{route="/a\"b\\c\nd",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"palaver_http_request_duration_seconds_bucket{route="/a\"b\\c\nd",le="0.25"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"palaver_http_request_duration_seconds_bucket{route="/a\"b\\c\nd",le="+Inf"} 3"#
            ),
            "{text}"
        );
        assert!(text.contains("palaver_realtime_connections 3\n"), "{text}");
    }
}
