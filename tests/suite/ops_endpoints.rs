//! Operator endpoints: `/livez`, `/readyz` (and its 503 while shutting down) and
//! `/metrics` (Prometheus text, only with the configured bearer token, labelled by
//! route templates, never raw paths).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;
use palaver_tests::ddp::Ddp;

const TOKEN: &str = "metrics-token-0123456789abcdef";

async fn get_text(srv: &Palaver, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let r = srv
        .request_with_headers(Method::GET, path, None, Body::None, headers)
        .await;
    (r.status, r.text)
}

async fn scrape(srv: &Palaver) -> String {
    let r = srv.scrape_metrics(TOKEN).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "/metrics with the token: {}",
        r.text
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "Prometheus text format: {:?}",
        r.header("content-type")
    );
    r.text
}

/// The value of the sample `series` (name and labels exactly as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(
            value
                .parse()
                .unwrap_or_else(|_| panic!("sample {series}: bad value {value:?}")),
        )
    })
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(
        "palaver_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
    )
}

#[tokio::test]
async fn livez_and_readyz_answer_and_metrics_are_off_by_default() {
    let srv = Palaver::start().await;
    assert_eq!(
        get_text(&srv, "/livez", &[]).await,
        (StatusCode::OK, "ok".to_owned())
    );
    assert_eq!(
        get_text(&srv, "/readyz", &[]).await,
        (StatusCode::OK, "ok".to_owned()),
        "ready once the store and the apps engine are up"
    );
    // No token configured: /metrics does not exist, whatever is presented.
    for headers in [vec![], vec![("Authorization", "Bearer ")]] {
        let r = srv
            .request_with_headers(Method::GET, "/metrics", None, Body::None, &headers)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(r.json["success"], json!(false), "JSON envelope: {}", r.text);
    }
}

#[tokio::test]
async fn readyz_is_503_while_shutting_down_and_requests_are_still_served() {
    let mut srv = Palaver::builder()
        .env("PALAVER_SHUTDOWN_DRAIN_SECS", "60")
        .start()
        .await;
    assert_eq!(get_text(&srv, "/readyz", &[]).await.0, StatusCode::OK);
    srv.signal(libc::SIGTERM);
    // The drain (60 s) outlasts this wait by far: the 503 is not a race.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get_text(&srv, "/readyz", &[]).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body, "not ready");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(Instant::now() < deadline, "/readyz still 200 after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Draining: alive, and still answering what load balancers send meanwhile.
    assert_eq!(get_text(&srv, "/livez", &[]).await.0, StatusCode::OK);
    let (status, info) = srv.get_anon("/api/info").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    // A second signal forces the exit: well within 30 s, despite the 60 s drain.
    assert!(
        srv.stop(Duration::from_secs(30)).await,
        "the second SIGTERM forces the exit"
    );
}

#[tokio::test]
async fn metrics_need_the_exact_configured_token() {
    let srv = Palaver::builder()
        .env("PALAVER_METRICS_TOKEN", TOKEN)
        .start()
        .await;
    let same_length = "x".repeat(TOKEN.len());
    let refused = [
        String::new(),
        format!("Bearer {same_length}"),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Basic {TOKEN}"),
        TOKEN.to_owned(),
    ];
    for auth in &refused {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("Authorization", auth.as_str())]
        };
        let r = srv
            .request_with_headers(Method::GET, "/metrics", None, Body::None, &headers)
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "Authorization {auth:?}: {}",
            r.text
        );
        assert_eq!(r.json["success"], json!(false), "{}", r.text);
        assert!(!r.text.contains("palaver_"), "{}", r.text);
    }
    scrape(&srv).await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_without_raw_paths() {
    let srv = Palaver::builder()
        .env("PALAVER_METRICS_TOKEN", TOKEN)
        .start()
        .await;
    let admin = srv.admin().await;
    srv.get_ok("me", &admin).await;
    let (status, _) = srv.get_anon("/api/info").await;
    assert_eq!(status, StatusCode::OK);

    // Secrets and ids in paths: a hook's token, an unknown path.
    let hook_id = "HookIdLeakCheck";
    let hook_secret = "HookSecretMustNotLeak0123456789";
    let r = srv
        .request(
            Method::POST,
            &format!("/hooks/{hook_id}/{hook_secret}"),
            None,
            Body::Json(json!({"text": "hi"})),
        )
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    let unmatched_secret = "UnmatchedPathSecret987654321";
    let r = srv
        .request(
            Method::GET,
            &format!("/no/such/{unmatched_secret}"),
            None,
            Body::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let before = scrape(&srv).await;
    for leak in [
        hook_id,
        hook_secret,
        unmatched_secret,
        admin.user_id.as_str(),
    ] {
        assert!(!before.contains(leak), "{leak:?} in /metrics:\n{before}");
    }
    let hook_series = requests(
        "POST",
        "/hooks/{integration_id}/{token}",
        r_status_of_hook(&before),
    );
    assert!(
        sample(&before, &hook_series).is_some(),
        "{hook_series}:\n{before}"
    );
    assert_eq!(
        sample(&before, &requests("GET", "unmatched", 404)),
        Some(1.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, &requests("GET", "/api/v1/me", 200)),
        Some(1.0),
        "{before}"
    );
    let info = requests("GET", "/api/info", 200);
    let info_count = "palaver_http_request_duration_seconds_count{route=\"/api/info\"}";
    let info_inf = "palaver_http_request_duration_seconds_bucket{route=\"/api/info\",le=\"+Inf\"}";
    let n = sample(&before, &info).unwrap_or_else(|| panic!("{info}:\n{before}"));
    let c = sample(&before, info_count).unwrap_or_else(|| panic!("{info_count}:\n{before}"));
    assert_eq!(sample(&before, info_inf), Some(c), "{before}");

    for _ in 0..3 {
        srv.get_anon("/api/info").await;
    }
    let after = scrape(&srv).await;
    assert_eq!(sample(&after, &info), Some(n + 3.0), "{after}");
    assert_eq!(sample(&after, info_count), Some(c + 3.0), "{after}");
    // The earlier scrape was counted too, under its template.
    assert!(
        sample(&after, &requests("GET", "/metrics", 200)).is_some_and(|v| v >= 1.0),
        "{after}"
    );
}

/// The status the hook request got, read back from its series (an unknown hook is
/// refused; which 4xx is the integrations API's business, not this test's).
fn r_status_of_hook(text: &str) -> u16 {
    let prefix = "palaver_http_requests_total{method=\"POST\",route=\"/hooks/{integration_id}/{token}\",status=\"";
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.split('"').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no series for the hook route template:\n{text}"))
}

#[tokio::test]
async fn realtime_gauge_follows_open_websockets() {
    let srv = Palaver::builder()
        .env("PALAVER_METRICS_TOKEN", TOKEN)
        .start()
        .await;
    let gauge = "palaver_realtime_connections";
    let total = "palaver_realtime_connections_total";
    let first = scrape(&srv).await;
    assert_eq!(sample(&first, gauge), Some(0.0));
    assert_eq!(sample(&first, total), Some(0.0));
    // How the fan-out keeps up: lag and the clients it had to drop.
    for series in [
        "palaver_realtime_fanout_lagged_events_total",
        "palaver_realtime_slow_consumer_disconnects_total",
        "palaver_realtime_heartbeat_disconnects_total",
        "palaver_realtime_frames_queued_total",
    ] {
        assert_eq!(sample(&first, series), Some(0.0), "{series}:\n{first}");
    }
    let ddp = Ddp::connect(&srv).await;
    let second = Ddp::connect(&srv).await;
    let open = scrape(&srv).await;
    assert_eq!(sample(&open, gauge), Some(2.0));
    assert_eq!(sample(&open, total), Some(2.0));
    ddp.close().await;
    second.close().await;
    // The server notices the closes asynchronously: wait for the count to follow.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(&srv).await;
        if sample(&text, gauge) == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gauge never went back to 0:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn app_calls_are_counted_by_app_kind_and_outcome() {
    let market = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("marketplace dir");
    palaver_tests::apps::hello_package(market.path());
    let srv = crate::apps_support::server(market.path())
        .env("PALAVER_METRICS_TOKEN", TOKEN)
        .start()
        .await;
    let admin = srv.admin().await;
    palaver_tests::app_admin::install_ok(&srv, &admin, "hello", None, true).await;
    let rid = crate::apps_support::channel(&srv, &admin, "metrics", &[]).await;
    let ok = "palaver_app_calls_total{app=\"hello\",kind=\"command\",outcome=\"ok\"}";
    let count = "palaver_app_call_duration_seconds_count{app=\"hello\",kind=\"command\"}";
    let before = scrape(&srv).await;
    let n = sample(&before, ok).unwrap_or(0.0);
    assert!(
        sample(&before, "palaver_app_event_queue_depth{app=\"hello\"}").is_some(),
        "{before}"
    );
    for _ in 0..2 {
        palaver_tests::app_admin::run_ok(&srv, &admin, &rid, "hello", "world").await;
    }
    let after = scrape(&srv).await;
    assert_eq!(sample(&after, ok), Some(n + 2.0), "{after}");
    assert_eq!(sample(&after, count), sample(&after, ok), "{after}");
}

/// Faults are broken down by kind, and what the host refused an app by reason,
/// per app; the in-flight gauge is back to 0 once the calls are over.
#[tokio::test]
async fn app_faults_by_kind_and_host_refusals_by_reason() {
    let market = crate::apps_support::marketplace();
    let srv = crate::apps_support::server(market.path())
        .env("PALAVER_METRICS_TOKEN", TOKEN)
        .start()
        .await;
    let admin = srv.admin().await;
    // Only the slash command granted: every other host call is refused.
    palaver_tests::app_admin::install_ok(&srv, &admin, "hostile", Some(&["slashcommand"]), true)
        .await;
    let rid = crate::apps_support::channel(&srv, &admin, "faults", &[]).await;
    let fault =
        |kind: &str| format!("palaver_app_faults_total{{app=\"hostile\",fault=\"{kind}\"}}");
    let denied = "palaver_app_host_refusals_total{app=\"hostile\",reason=\"permission-denied\"}";
    let before = scrape(&srv).await;
    assert_eq!(sample(&before, &fault("panic")), None, "{before}");
    assert_eq!(sample(&before, denied), None, "{before}");

    for case in ["panic", "loop"] {
        let r = palaver_tests::app_admin::run_command(&srv, &admin, &rid, "hostile", case).await;
        assert_ne!(
            r.status,
            StatusCode::OK,
            "/hostile {case} faults: {}",
            r.text
        );
    }
    palaver_tests::app_admin::run_ok(&srv, &admin, &rid, "hostile", "nopermission").await;

    let after = scrape(&srv).await;
    assert_eq!(sample(&after, &fault("panic")), Some(1.0), "{after}");
    assert_eq!(sample(&after, &fault("deadline")), Some(1.0), "{after}");
    assert!(
        sample(&after, denied).is_some_and(|n| n >= 10.0),
        "one refusal per host call the app was not granted:\n{after}"
    );
    assert_eq!(
        sample(
            &after,
            "palaver_app_calls_in_flight{app=\"hostile\",kind=\"command\"}"
        ),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "palaver_app_calls_total{app=\"hostile\",kind=\"command\",outcome=\"fault\"}"
        ),
        Some(2.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "palaver_app_events_dropped_total"),
        Some(0.0),
        "{after}"
    );
}
