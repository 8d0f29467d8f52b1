//! The web client's session as `HttpOnly; SameSite=Strict` cookies: REST takes
//! them in place of the token headers from the site itself only (cross-site checks,
//! `X-Requested-With` for changes), the realtime login takes the cookie its upgrade
//! carried, and logging out clears them.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::post;
use crate::rest_edge::assert_envelope;
use palaver_tests::ddp::Ddp;
use palaver_tests::server::{password_for, Body, Palaver, Resp};

/// A request refused by the cookie rules: name, method, path, headers.
type RefusedCase<'a> = (&'a str, Method, &'a str, Vec<(&'a str, &'a str)>);

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
