//! Password logins under attack: a flood of wrong passwords within the rate limits
//! keeps the server's memory flat (hashing runs on a bounded pool and refuses with
//! 503 + `Retry-After` beyond it); the per-account limit counts one account however
//! it is named; an unknown account and a wrong password get one answer, over REST
//! and DDP, and both are rate limited.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use palaver_tests::ddp::Ddp;
use palaver_tests::server::Resp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

/// The server's `VmHWM` (peak resident memory) and `VmRSS`, in KiB.
fn memory_kib(srv: &Palaver) -> (u64, u64) {
    let pid = srv.pid().expect("the server is running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The answer to a refused password login: 401 in Rocket.Chat's login shape.
#[track_caller]
fn assert_login_refused(r: &Resp, ctx: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{ctx}: {}", r.text);
    assert_eq!(
        r.json,
        json!({"status": "error", "error": "Unauthorized", "message": "Unauthorized"}),
        "{ctx}"
    );
}

/// 503 because password hashing is at capacity: the failure envelope and `Retry-After`.
#[track_caller]
fn assert_busy(r: &Resp, ctx: &str) {
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{ctx}: {}",
        r.text
    );
    assert_eq!(r.json["success"], json!(false), "{ctx}: {}", r.text);
    assert_eq!(
        r.json["errorType"],
        json!("error-server-busy"),
        "{ctx}: {}",
        r.text
    );
    assert!(r.json["error"].is_string(), "{ctx}: {}", r.text);
    let wait = r
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{ctx}: a 503 needs Retry-After in seconds"));
    assert!((1..=60).contains(&wait), "{ctx}: Retry-After {wait}");
}

#[track_caller]
fn assert_rate_limited(r: &Resp, ctx: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{ctx}: {}", r.text);
    assert_eq!(
        r.json["errorType"],
        json!("error-too-many-requests"),
        "{ctx}: {}",
        r.text
    );
}

/// A plain HTTP client whose connections come from `addr` (any 127.0.0.0/8 address
/// is loopback), so the server sees distinct client addresses.
fn client_from(addr: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(addr)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("build an HTTP client")
}

async fn login_from(client: &reqwest::Client, srv: &Palaver, body: Value) -> Resp {
    let resp = client
        .post(srv.url("login"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST login {body}: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({"__non_json_body": text}));
    Resp {
        status,
        headers,
        json,
        text,
    }
}

/// 120 simultaneous wrong-password logins — 12 users × 10 tries from 12 addresses,
/// every one within the default per-address (30) and per-account (10) limits —
/// may not grow the server by more than the hashing threads' Argon2 memory.
#[tokio::test]
async fn a_wrong_password_flood_within_the_limits_keeps_memory_flat() {
    const THREADS: u64 = 2;
    const USERS: usize = 12;
    const TRIES: usize = 10;
    let srv = Palaver::builder()
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "30")
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "10")
        .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "600")
        .env("PALAVER_PASSWORD_HASHING__THREADS", THREADS.to_string())
        .start()
        .await;
    let admin = srv.admin().await;
    let users: Vec<String> = (0..USERS).map(|i| format!("flood{i}")).collect();
    for name in &users {
        let body = json!({
            "username": name, "name": name, "email": format!("{name}@palaver.test"),
            "password": password_for(name),
        });
        srv.post_ok("users.create", &admin, body).await;
    }
    let clients: Vec<reqwest::Client> = (0..USERS)
        .map(|i| client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8))))
        .collect();
    let (hwm_before, rss_before) = memory_kib(&srv);

    // Address i tries users i, i+1, …, i+9: each address sends 10, each user gets 10.
    let attempts = (0..USERS).flat_map(|a| (0..TRIES).map(move |t| (a, (a + t) % USERS)));
    let answers = futures::future::join_all(attempts.map(|(a, u)| {
        let body = json!({"user": users[u], "password": format!("wrong-{a}")});
        let (client, srv) = (&clients[a], &srv);
        async move { (a, u, login_from(client, srv, body).await) }
    }))
    .await;

    let (hwm_after, rss_after) = memory_kib(&srv);
    let (mut refused, mut busy) = (0, 0);
    for (a, u, r) in &answers {
        let ctx = format!("wrong password for {} from address {a}", users[*u]);
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_busy(r, &ctx);
            busy += 1;
        } else {
            assert_login_refused(r, &ctx);
            refused += 1;
        }
    }
    let grown_mib = hwm_after.saturating_sub(hwm_before) / 1024;
    eprintln!(
        "login flood: {refused} refused (401), {busy} busy (503); server peak memory \
         {} → {} MiB (+{grown_mib} MiB), resident {} → {} MiB",
        hwm_before / 1024,
        hwm_after / 1024,
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(refused > 0, "no password was checked at all");
    let bound_mib = THREADS * 19 + 64;
    assert!(
        grown_mib < bound_mib,
        "120 wrong-password logins grew the server's peak memory by {grown_mib} MiB \
         (bound: {THREADS} hashing threads × 19 MiB + 64 MiB = {bound_mib} MiB)"
    );
    // The server still logs people in (the admin's own counters are untouched).
    srv.admin().await;
}

/// `carol`, `CAROL`, `carol@example.com` and her id are one account: one counter.
/// Unknown names are limited too, case-insensitively.
#[tokio::test]
async fn the_login_limit_counts_one_account_however_it_is_named() {
    let srv = Palaver::builder()
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "1000")
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "3")
        .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "600")
        .start()
        .await;
    let admin = srv.admin().await;
    let body = json!({
        "username": "carol", "name": "Carol", "email": "carol@example.com",
        "password": password_for("carol"),
    });
    let carol_id = srv.post_ok("users.create", &admin, body).await["user"]["_id"]
        .as_str()
        .expect("users.create returns the user's _id")
        .to_string();

    let tries = [
        json!({"user": "carol", "password": "wrong"}),
        json!({"user": "carol@example.com", "password": "wrong"}),
        json!({"user": "CAROL", "password": "wrong"}),
    ];
    for body in &tries {
        assert_login_refused(&srv.try_login(body.clone()).await, &format!("{body}"));
    }
    for user in [
        json!("Carol@Example.COM"),
        json!("carol"),
        json!({"id": carol_id}),
    ] {
        let r = srv
            .try_login(json!({"user": user, "password": password_for("carol")}))
            .await;
        assert_rate_limited(
            &r,
            &format!("carol's fourth try, as {user}, right password"),
        );
    }
    let mut ddp = Ddp::connect(&srv).await;
    let err = ddp
        .call_err(
            "login",
            json!([{"user": {"id": carol_id}, "password": password_for("carol")}]),
        )
        .await;
    assert_eq!(
        err["error"], "too-many-requests",
        "carol by id over DDP: {err}"
    );

    // An unknown name is counted too, in any case; another name is not affected.
    for name in ["nobody", "NOBODY", "Nobody"] {
        assert_login_refused(
            &srv.try_login(json!({"user": name, "password": "x"})).await,
            name,
        );
    }
    assert_rate_limited(
        &srv.try_login(json!({"user": "noBody", "password": "x"}))
            .await,
        "the fourth try for an unknown name",
    );
    assert_login_refused(
        &srv.try_login(json!({"user": "somebody", "password": "x"}))
            .await,
        "another unknown name",
    );
    srv.admin().await;
}

/// An unknown account and a wrong password: one answer,
/// whichever way the account is named, over REST and over DDP (Rocket.Chat's
/// `Incorrect login or password`, error 401).
#[tokio::test]
async fn unknown_accounts_and_wrong_passwords_get_one_answer() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let dave = srv.create_user(&admin, "dave").await;

    let refused = json!({
        "isClientSafe": true, "error": 401, "reason": "Incorrect login or password",
        "message": "Incorrect login or password [401]", "errorType": "Meteor.Error",
    });
    let mut ddp = Ddp::connect(&srv).await;
    for user in [
        json!({"username": "dave"}),
        json!({"email": "DAVE@palaver.test"}),
        json!({"id": dave.user_id}),
        json!("dave"),
        json!({"username": "nobody"}),
        json!({"email": "nobody@palaver.test"}),
        json!({"id": "no-such-id"}),
        json!("nobody"),
    ] {
        let err = ddp
            .call_err("login", json!([{"user": user, "password": "wrong"}]))
            .await;
        assert_eq!(err, refused, "DDP login as {user} with a wrong password");
    }
    let wrong = [
        json!({"user": "dave", "password": "wrong"}),
        json!({"username": "dave", "password": "wrong"}),
        json!({"user": "dave@palaver.test", "password": "wrong"}),
        json!({"user": {"id": dave.user_id}, "password": "wrong"}),
    ];
    let unknown = [
        json!({"user": "nobody", "password": "wrong"}),
        json!({"username": "nobody", "password": "wrong"}),
        json!({"user": "nobody@palaver.test", "password": "wrong"}),
        json!({"user": {"id": "no-such-id"}, "password": "wrong"}),
    ];
    for body in wrong.iter().chain(&unknown) {
        assert_login_refused(&srv.try_login(body.clone()).await, &format!("REST {body}"));
    }

    // The right password by id still logs in.
    let ok = ddp
        .call_ok(
            "login",
            json!([{"user": {"id": dave.user_id}, "password": password_for("dave")}]),
        )
        .await;
    assert_eq!(ok["id"], json!(dave.user_id), "{ok}");
}

/// A login naming an unknown id passes the per-address limit like any other: probing
/// ids is limited, and answered as a wrong password is.
#[tokio::test]
async fn logins_by_id_are_rate_limited_before_the_lookup() {
    let srv = Palaver::builder()
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_IP", "3")
        .env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "1000")
        .env("PALAVER_LOGIN_RATE_LIMIT__WINDOW_SECS", "600")
        .start()
        .await;
    let mut ddp = Ddp::connect(&srv).await;
    for n in 0..3 {
        let err = ddp
            .call_err(
                "login",
                json!([{"user": {"id": format!("probe{n}")}, "password": "x"}]),
            )
            .await;
        assert_eq!(err["error"], 401, "probe {n}: {err}");
    }
    let err = ddp
        .call_err(
            "login",
            json!([{"user": {"id": "probe3"}, "password": "x"}]),
        )
        .await;
    assert_eq!(err["error"], "too-many-requests", "the fourth probe: {err}");
    let r = srv
        .try_login(json!({"user": {"id": "probe4"}, "password": "x"}))
        .await;
    assert_rate_limited(&r, "a probe by id over REST from the same address");
}
