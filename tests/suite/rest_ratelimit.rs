//! Login rate limits: per IP and per user name, 429 with `X-RateLimit-*` headers, and
//! the window expiring.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

#[track_caller]
fn assert_login_refused(r: &palaver_tests::server::Resp, ctx: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{ctx}: {}", r.text);
    assert_eq!(r.json["status"], json!("error"), "{ctx}: {}", r.text);
    assert_eq!(r.json["error"], json!("Unauthorized"), "{ctx}: {}", r.text);
    assert!(
        r.json["message"].is_string(),
        "{ctx}: `message` must be a string: {}",
        r.text
    );
    assert!(
        r.json.get("data").is_none(),
        "{ctx}: a refused login must not carry data: {}",
        r.text
    );
}

#[track_caller]
fn assert_rate_limited(r: &palaver_tests::server::Resp, limit: u32, ctx: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{ctx}: {}", r.text);
    assert_eq!(
        r.header("x-ratelimit-limit"),
        Some(limit.to_string().as_str()),
        "{ctx}: X-RateLimit-Limit"
    );
    assert_eq!(
        r.header("x-ratelimit-remaining"),
        Some("0"),
        "{ctx}: X-RateLimit-Remaining"
    );
    let reset = r
        .header("x-ratelimit-reset")
        .unwrap_or_else(|| panic!("{ctx}: no X-RateLimit-Reset header"));
    assert!(
        reset.parse::<u64>().is_ok(),
        "{ctx}: X-RateLimit-Reset must be an integer, got {reset:?}"
    );
    let body: &Value = &r.json;
    assert!(
        body["success"] == json!(false) || body["status"] == json!("error"),
        "{ctx}: a 429 body is a JSON failure envelope: {}",
        r.text
    );
    assert!(
        body["data"]["authToken"].is_null(),
        "{ctx}: no token while rate limited: {}",
        r.text
    );
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_ip() {
    let srv = Palaver::builder()
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "3")
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "1000")
        .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "3")
        .start()
        .await;
    // Three attempts, on different user names, are let through (and fail)...
    for user in ["alpha", "beta", "gamma"] {
        let r = srv
            .try_login(json!({ "user": user, "password": "wrong" }))
            .await;
        assert_login_refused(&r, &format!("attempt for {user} within the limit"));
    }
    // ... the fourth from the same address is refused, even with good credentials.
    let r = srv
        .try_login(json!({ "user": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
        .await;
    assert_rate_limited(&r, 3, "fourth login attempt from one IP");
    let r = srv
        .try_login(json!({ "user": "delta", "password": "wrong" }))
        .await;
    assert_rate_limited(&r, 3, "fifth login attempt from one IP");
    // Other endpoints are not affected.
    let (status, body) = srv.get_anon("/api/info").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "/api/info while login is rate limited: {body}"
    );
    // Once the window has passed, logins are let through again.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = srv
        .try_login(json!({ "user": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "login after the rate-limit window expired: {}",
        r.text
    );
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_user() {
    let srv = Palaver::builder()
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "1000")
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "2")
        .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "300")
        .start()
        .await;
    let admin = srv.admin().await;
    let create = json!({
        "username": "bob", "name": "Bob", "email": "bob@palaver.test", "password": password_for("bob"),
    });
    srv.post_ok("users.create", &admin, create).await;
    for n in 1..=2 {
        let r = srv
            .try_login(json!({ "user": "bob", "password": "wrong" }))
            .await;
        assert_login_refused(&r, &format!("bob's attempt {n}"));
    }
    let r = srv
        .try_login(json!({ "user": "bob", "password": password_for("bob") }))
        .await;
    assert_rate_limited(&r, 2, "bob's third attempt, with the right password");
    let r = srv
        .try_login(json!({ "username": "bob", "password": password_for("bob") }))
        .await;
    assert_rate_limited(&r, 2, "bob's fourth attempt, by the username field");
    // Another user from the same address is still let in.
    let r = srv
        .try_login(json!({ "user": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "admin's second login while bob is limited: {}",
        r.text
    );
}
