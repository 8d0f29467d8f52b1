//! The HTTP edge: every error under `/api` and `/hooks` in Rocket.Chat's envelope
//! (405, 414, 431, path decoding, 413, …); apps' endpoints sandboxed whatever the app
//! answers; the optional apps origin. The web client's cookie session is in
//! `rest_cookie_session`, a full database in `rest_storage_full`.

use reqwest::header::SET_COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::json;

use palaver_tests::app_admin::install_ok;
use palaver_tests::apps;
use palaver_tests::server::{Body, Palaver, Resp, Session};

/// Asserts `r` is `status` with Rocket.Chat's error envelope.
pub(crate) fn assert_envelope(r: &Resp, status: u16, ctx: &str) {
    assert_eq!(r.status.as_u16(), status, "{ctx}: {}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{ctx}: content type {:?}",
        r.header("content-type")
    );
    assert_eq!(r.json["success"], json!(false), "{ctx}: {}", r.text);
    assert!(
        r.json["errorType"].as_str().is_some_and(|t| !t.is_empty()),
        "{ctx}: errorType in {}",
        r.text
    );
    assert!(
        r.json["error"].as_str().is_some_and(|t| !t.is_empty()),
        "{ctx}: error in {}",
        r.text
    );
}

/// What is sent (name, method, path, auth, body, extra headers) and what must come
/// back (status, `errorType`).
type MalformedCase<'a> = (
    &'a str,
    Method,
    String,
    Option<&'a Session>,
    Body,
    Vec<(&'a str, &'a str)>,
    u16,
    &'a str,
);

/// Malformed requests of every kind the router or hyper-facing middleware answers
/// itself get the envelope, with the right status.
#[tokio::test]
async fn every_error_under_api_and_hooks_is_an_envelope() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let long_query = format!("/api/v1/me?pad={}", "a".repeat(9 * 1024));
    let big_value = "v".repeat(1000);
    let many_big: Vec<(String, &str)> = (0..20)
        .map(|i| (format!("x-pad-{i}"), big_value.as_str()))
        .collect();
    let many_big: Vec<(&str, &str)> = many_big.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    // Small headers, but more of them than the API takes (hyper lets 200 through).
    let many_small: Vec<(String, &str)> = (0..120).map(|i| (format!("x-n-{i}"), "1")).collect();
    let many_small: Vec<(&str, &str)> = many_small.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let big_body = Body::Raw {
        content_type: "application/json",
        bytes: vec![b' '; 2 * 1024 * 1024],
    };
    let cases: Vec<MalformedCase> = vec![
        (
            "wrong method",
            Method::GET,
            "/api/v1/login".into(),
            None,
            Body::None,
            vec![],
            405,
            "error-method-not-allowed",
        ),
        (
            "wrong method on a hook",
            Method::DELETE,
            "/hooks/abc/def".into(),
            None,
            Body::None,
            vec![],
            405,
            "error-method-not-allowed",
        ),
        (
            "wrong method, logged in",
            Method::PUT,
            "/api/v1/me".into(),
            Some(&admin),
            Body::None,
            vec![],
            405,
            "error-method-not-allowed",
        ),
        (
            "URI over 8 KiB",
            Method::GET,
            long_query.clone(),
            Some(&admin),
            Body::None,
            vec![],
            414,
            "error-uri-too-long",
        ),
        (
            "headers over 16 KiB",
            Method::GET,
            "/api/v1/me".into(),
            Some(&admin),
            Body::None,
            many_big.clone(),
            431,
            "error-headers-too-large",
        ),
        (
            "more than 100 headers",
            Method::GET,
            "/api/v1/me".into(),
            Some(&admin),
            Body::None,
            many_small.clone(),
            431,
            "error-headers-too-large",
        ),
        (
            "undecodable path segment",
            Method::GET,
            "/api/apps/%FF%FE/logs".into(),
            Some(&admin),
            Body::None,
            vec![],
            400,
            "invalid-params",
        ),
        (
            "undecodable app id",
            Method::GET,
            "/api/apps/public/%FF/page".into(),
            None,
            Body::None,
            vec![],
            400,
            "invalid-params",
        ),
        (
            "body over the limit",
            Method::POST,
            "/api/v1/chat.postMessage".into(),
            Some(&admin),
            big_body,
            vec![],
            413,
            "error-request-too-large",
        ),
        (
            "not JSON",
            Method::POST,
            "/api/v1/chat.postMessage".into(),
            Some(&admin),
            Body::Raw {
                content_type: "application/json",
                bytes: b"{nope".to_vec(),
            },
            vec![],
            400,
            "invalid-params",
        ),
        (
            "unknown path",
            Method::GET,
            "/api/v1/nothing.here".into(),
            None,
            Body::None,
            vec![],
            404,
            "error-not-found",
        ),
    ];
    for (what, method, path, auth, body, headers, status, error_type) in cases {
        let r = srv
            .request_with_headers(method, &path, auth, body, &headers)
            .await;
        assert_envelope(&r, status, what);
        assert_eq!(r.json["errorType"], error_type, "{what}: {}", r.text);
        if status == 405 {
            assert!(
                r.header("allow").is_some(),
                "{what}: 405 names the allowed methods"
            );
        }
    }
}

/// A marketplace holding `polite` (whose endpoints try every trick) and a server
/// with it installed and enabled.
async fn server_with_polite(extra_env: &[(&str, String)]) -> (Palaver, Session, tempfile::TempDir) {
    let market = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("marketplace dir");
    apps::polite_package(market.path());
    let mut builder = Palaver::builder().env(
        "PALAVER_MARKETPLACE_DIR",
        market.path().display().to_string(),
    );
    for (k, v) in extra_env {
        builder = builder.env(*k, v.clone());
    }
    let srv = builder.start().await;
    let admin = srv.admin().await;
    install_ok(&srv, &admin, "polite", None, true).await;
    (srv, admin, market)
}

fn assert_sandboxed(r: &Resp, ctx: &str) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("sandbox;"), "{ctx}: CSP {csp:?}");
    assert!(!csp.contains("allow-scripts"), "{ctx}: CSP {csp:?}");
    assert!(csp.contains("default-src 'none'"), "{ctx}: CSP {csp:?}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{ctx}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{ctx}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{ctx}");
    assert!(
        r.headers.get(SET_COOKIE).is_none(),
        "{ctx}: an app sets no cookie"
    );
}

/// Every response on an app endpoint path is sandboxed: the app's page (which asks
/// for a permissive CSP, framing and a cookie), its own error, its fault, the host's
/// 404s and 401s, and a path the router cannot even decode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_endpoint_responses_are_always_sandboxed() {
    let (srv, admin, _market) = server_with_polite(&[]).await;
    let cases: Vec<(&str, &str, Option<&Session>, u16)> = vec![
        ("the app's page", "/api/apps/public/polite/page", None, 200),
        (
            "the app's private page",
            "/api/apps/private/polite/private-page",
            Some(&admin),
            200,
        ),
        ("the app's error", "/api/apps/public/polite/fail", None, 400),
        (
            "an undeclared endpoint",
            "/api/apps/public/polite/nothing",
            None,
            404,
        ),
        ("an unknown app", "/api/apps/public/nobody/page", None, 404),
        ("no endpoint path", "/api/apps/public/polite", None, 404),
        (
            "a private page without login",
            "/api/apps/private/polite/private-page",
            None,
            401,
        ),
        (
            "an undecodable app id",
            "/api/apps/public/%FF/page",
            None,
            400,
        ),
        (
            "the app's fault",
            "/api/apps/public/polite/panic",
            None,
            502,
        ),
    ];
    for (what, path, auth, status) in cases {
        let r = srv.request(Method::GET, path, auth, Body::None).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
        assert_sandboxed(&r, what);
    }
    let page = srv
        .request(
            Method::GET,
            "/api/apps/public/polite/page",
            None,
            Body::None,
        )
        .await;
    assert!(
        page.text.contains("<script>"),
        "the app's body is served as is"
    );
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
}

/// With `apps_origin`, apps' endpoints live on that origin only: the main origin
/// redirects there, and the apps origin serves nothing but endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_origin_keeps_app_endpoints_apart() {
    let apps_host = "apps.palaver.test";
    let (srv, admin, _market) =
        server_with_polite(&[("PALAVER_APPS_ORIGIN", format!("https://{apps_host}"))]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str, host: Option<&str>| {
        let mut req = http.get(srv.url(path));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        async move {
            let r = req.send().await.expect("request");
            let status = r.status();
            let headers = r.headers().clone();
            let text = r.text().await.unwrap_or_default();
            (status, headers, text)
        }
    };

    let (status, headers, _) = get("/api/apps/public/polite/page?x=1", None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some("https://apps.palaver.test/api/apps/public/polite/page?x=1")
    );
    assert!(
        headers.get("content-security-policy").is_some(),
        "even the redirect is sandboxed"
    );

    let (status, headers, text) = get("/api/apps/public/polite/page", Some(apps_host)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("polite page"));
    assert!(headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("sandbox")));

    for path in ["/", "/api/v1/me", "/api/info", "/assets/app.js"] {
        let (status, _, text) = get(path, Some(apps_host)).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{path} on the apps origin: {text}"
        );
    }
    // The main origin goes on serving everything else.
    srv.get_ok("me", &admin).await;
    let (status, _, _) = get("/", None).await;
    assert_eq!(status, StatusCode::OK);
}
