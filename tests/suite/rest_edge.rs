//! The HTTP edge: every error under `/api` and `/hooks` in Rocket.Chat's envelope
//! (405, 414, 431, path decoding, 413, …); apps' endpoints sandboxed whatever the app
//! answers; the optional apps origin; the web client's cookie session and its
//! cross-site checks; a full database answered with 507 and logged once.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::post;
use palaver_tests::app_admin::install_ok;
use palaver_tests::apps;
use palaver_tests::ddp::Ddp;
use palaver_tests::server::{password_for, Body, Palaver, Resp, Session};

/// Asserts `r` is `status` with Rocket.Chat's error envelope.
fn assert_envelope(r: &Resp, status: u16, ctx: &str) {
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

/// A request refused by the cookie rules: name, method, path, headers.
type RefusedCase<'a> = (&'a str, Method, &'a str, Vec<(&'a str, &'a str)>);

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

/// The login of the web client: the session as `HttpOnly; SameSite=Strict`
/// cookies and no token in the body.
async fn cookie_login(srv: &Palaver, user: &str) -> (Resp, String) {
    let r = srv
        .request_with_headers(
            Method::POST,
            "/api/v1/login",
            None,
            Body::Json(json!({"user": user, "password": password_for(user)})),
            &[("x-palaver-session", "cookie")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let jar = cookie_jar(&r.headers);
    (r, jar)
}

/// The `Cookie` header a browser would send back after `headers`' `Set-Cookie`s.
fn cookie_jar(headers: &HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The REST API takes the web client's cookie session in place of the headers:
/// reads work, changes need the `X-Requested-With` header, anything a browser marks
/// as coming from another site is refused, and logging out clears the cookies.
#[tokio::test]
async fn cookie_sessions_work_same_origin_only() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "alice").await;
    let rid = crate::common::create_channel(&srv, &admin, "cookies", &["alice"]).await["_id"]
        .as_str()
        .expect("rid")
        .to_string();

    let (login, jar) = cookie_login(&srv, "alice").await;
    assert!(
        login.json["data"].get("authToken").is_none(),
        "no token for script: {}",
        login.text
    );
    let set: Vec<&str> = login
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(set.len(), 2, "{set:?}");
    for c in &set {
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
            "{c}"
        );
    }
    assert!(
        jar.contains("rc_uid=") && jar.contains("rc_token="),
        "{jar}"
    );
    let host = format!("127.0.0.1:{}", srv.port());
    let origin = format!("http://{host}");

    // Reads: plain, and from the page itself.
    let me = srv
        .request_with_headers(
            Method::GET,
            "/api/v1/me",
            None,
            Body::None,
            &[("cookie", &jar)],
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["username"], "alice");
    let me = srv
        .request_with_headers(
            Method::GET,
            "/api/v1/me",
            None,
            Body::None,
            &[
                ("cookie", &jar),
                ("sec-fetch-site", "same-origin"),
                ("origin", &origin),
            ],
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);

    // Changes: a form from anywhere cannot add the header; another site is refused.
    let msg = json!({"roomId": rid, "text": "by cookie"});
    let refused: Vec<RefusedCase> = vec![
        (
            "an unsafe request without X-Requested-With",
            Method::POST,
            "/api/v1/chat.postMessage",
            vec![("cookie", &jar)],
        ),
        (
            "a request from another site",
            Method::POST,
            "/api/v1/chat.postMessage",
            vec![
                ("cookie", &jar),
                ("x-requested-with", "XMLHttpRequest"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
        (
            "a request from a sibling subdomain",
            Method::POST,
            "/api/v1/chat.postMessage",
            vec![
                ("cookie", &jar),
                ("x-requested-with", "XMLHttpRequest"),
                ("sec-fetch-site", "same-site"),
            ],
        ),
        (
            "a request with a foreign Origin",
            Method::POST,
            "/api/v1/chat.postMessage",
            vec![
                ("cookie", &jar),
                ("x-requested-with", "XMLHttpRequest"),
                ("origin", "http://evil.example"),
            ],
        ),
        (
            "a read from another site",
            Method::GET,
            "/api/v1/me",
            vec![("cookie", &jar), ("sec-fetch-site", "cross-site")],
        ),
        (
            "a read from a sandboxed page",
            Method::GET,
            "/api/v1/me",
            vec![("cookie", &jar), ("origin", "null")],
        ),
    ];
    for (what, method, path, headers) in refused {
        let body = if method == Method::POST {
            Body::Json(msg.clone())
        } else {
            Body::None
        };
        let r = srv
            .request_with_headers(method, path, None, body, &headers)
            .await;
        assert_envelope(&r, 403, what);
        assert_eq!(r.json["errorType"], "error-csrf", "{what}");
    }
    let sent = srv
        .request_with_headers(
            Method::POST,
            "/api/v1/chat.postMessage",
            None,
            Body::Json(msg.clone()),
            &[
                ("cookie", &jar),
                ("x-requested-with", "XMLHttpRequest"),
                ("origin", &origin),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(sent.json["message"]["u"]["username"], "alice");

    // Header clients are untouched by the cookie rules.
    let header_post = post(&srv, &admin, &rid, "by header").await;
    assert_eq!(header_post["msg"], "by header");

    // A cookie-mode login from another site is refused (login CSRF).
    let r = srv
        .request_with_headers(
            Method::POST,
            "/api/v1/login",
            None,
            Body::Json(json!({"user": "alice", "password": password_for("alice")})),
            &[
                ("x-palaver-session", "cookie"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_envelope(&r, 403, "cross-site cookie login");

    // Logging out revokes the token and clears the cookies.
    let out = srv
        .request_with_headers(
            Method::POST,
            "/api/v1/logout",
            None,
            Body::None,
            &[("cookie", &jar), ("x-requested-with", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    let cleared: Vec<&str> = out
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    let me = srv
        .request_with_headers(
            Method::GET,
            "/api/v1/me",
            None,
            Body::None,
            &[("cookie", &jar)],
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
}

/// The web client's realtime login takes the cookie its websocket upgrade carried
/// (`login {"cookie": true}`), answers no token, and refuses an upgrade from
/// another site (browsers let any page open a websocket anywhere).
#[tokio::test]
async fn realtime_login_with_the_cookie_of_the_upgrade() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "alice").await;
    let (login, jar) = cookie_login(&srv, "alice").await;
    let user_id = login.json["data"]["userId"]
        .as_str()
        .expect("userId")
        .to_string();
    let origin = format!("http://127.0.0.1:{}", srv.port());

    let mut ddp = Ddp::connect_with_headers(&srv, &[("cookie", &jar), ("origin", &origin)]).await;
    let result = ddp.call_ok("login", json!([{"cookie": true}])).await;
    assert_eq!(result["id"], json!(user_id), "{result}");
    assert!(
        result.get("token").is_none(),
        "no token for script: {result}"
    );
    ddp.call_ok("rooms/get", json!([])).await;

    for (what, headers) in [
        (
            "another site's page",
            vec![("cookie", jar.as_str()), ("origin", "http://evil.example")],
        ),
        ("no cookie", vec![("origin", origin.as_str())]),
    ] {
        let mut ddp = Ddp::connect_with_headers(&srv, &headers).await;
        let err = ddp.call_err("login", json!([{"cookie": true}])).await;
        assert_eq!(err["error"], json!(403), "{what}: {err}");
    }
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

/// A full database (the SQLite size cap standing in for a full disk): writes get
/// 507 `error-storage-full`, what was written before is intact, the server logs one
/// ERROR line for the episode (not one per request), and writes work again once
/// space is freed.
#[tokio::test]
async fn a_full_database_answers_507_logs_once_and_recovers() {
    let srv = Palaver::builder()
        .sqlite()
        .env("PALAVER_SQLITE_MAX_BYTES", (1536 * 1024).to_string())
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = crate::common::create_channel(&srv, &admin, "filling", &[]).await["_id"]
        .as_str()
        .expect("rid")
        .to_string();
    let text = "x".repeat(4000);
    let mut stored = Vec::new();
    let mut full = None;
    for i in 0..2000 {
        let r = srv
            .request(
                Method::POST,
                "/api/v1/chat.postMessage",
                Some(&admin),
                Body::Json(json!({"roomId": rid, "text": format!("{i} {text}")})),
            )
            .await;
        if r.status == StatusCode::OK {
            stored.push(r.json["message"]["_id"].as_str().expect("id").to_string());
        } else {
            full = Some(r);
            break;
        }
    }
    let full = full.expect("the capped database filled up");
    assert_envelope(&full, 507, "a write to a full database");
    assert_eq!(
        full.json["errorType"], "error-storage-full",
        "{}",
        full.text
    );
    assert!(
        stored.len() > 10,
        "some messages fit first: {}",
        stored.len()
    );

    // More refused writes, of other kinds, stay one episode in the log.
    for i in 0..5 {
        let r = srv
            .request(
                Method::POST,
                "/api/v1/chat.postMessage",
                Some(&admin),
                Body::Json(json!({"roomId": rid, "text": format!("more {i} {text}")})),
            )
            .await;
        assert_envelope(&r, 507, "another write");
        let r = srv
            .request(
                Method::POST,
                "/api/v1/channels.create",
                Some(&admin),
                Body::Json(json!({"name": format!("room-{i}-{}", "y".repeat(60))})),
            )
            .await;
        assert!(
            r.status.as_u16() == 507 || r.status == StatusCode::OK,
            "a small write may still fit: {} {}",
            r.status,
            r.text
        );
    }
    let log = srv.log();
    let loud: Vec<&str> = log.lines().filter(|l| l.contains("STORAGE FULL")).collect();
    assert_eq!(
        loud.len(),
        1,
        "one loud line for the episode:\n{}",
        loud.join("\n")
    );
    assert!(loud[0].contains("ERROR"), "{}", loud[0]);

    // Reads go on; everything acknowledged before is there.
    for id in [
        &stored[0],
        &stored[stored.len() / 2],
        &stored[stored.len() - 1],
    ] {
        let got = srv
            .get_ok(&format!("chat.getMessage?msgId={id}"), &admin)
            .await;
        assert!(
            got["message"]["msg"]
                .as_str()
                .is_some_and(|m| m.ends_with(&text)),
            "{id}"
        );
    }

    // Space is freed: writes work again, and the log says so.
    for id in stored.iter().take(20) {
        let r = srv
            .request(
                Method::POST,
                "/api/v1/chat.delete",
                Some(&admin),
                Body::Json(json!({"roomId": rid, "msgId": id})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "deleting frees space: {}", r.text);
    }
    post(&srv, &admin, &rid, "there is room again").await;
    assert!(srv.log().contains("storage accepts writes again"));
}
