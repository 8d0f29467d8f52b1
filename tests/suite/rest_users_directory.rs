//! `directory`, `spotlight`, `shield.svg`, `users.getAvatar` and
//! `pw.getPolicyReset`, as Rocket.Chat's `misc.ts` answers them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

fn enc_json(v: Value) -> String {
    enc(&v.to_string())
}

#[tokio::test]
async fn directory_lists_people_and_channels() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bobdir").await;
    srv.create_user(&admin, "carol").await;
    create_channel(&srv, &admin, "dir-alpha", &[]).await;
    create_channel(&srv, &admin, "dir-beta", &[]).await;

    let users_q = |text: &str| {
        format!(
            "directory?query={}",
            enc_json(json!({"text": text, "type": "users"}))
        )
    };
    // Admins see addresses (`view-full-other-user-info`), others do not.
    let body = srv.get_ok(&users_q("bobdir"), &admin).await;
    assert_eq!(body["total"], json!(1), "{body}");
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["offset"], json!(0));
    let row = &body["result"][0];
    assert_eq!(row["username"], json!("bobdir"), "{body}");
    assert_eq!(row["_id"], json!(bob.user_id));
    ts(&row["createdAt"], "createdAt");
    assert_eq!(
        row["emails"][0]["address"],
        json!("bobdir@palaver.test"),
        "{body}"
    );
    let body = srv.get_ok(&users_q("bobdir"), &bob).await;
    assert!(body["result"][0].get("emails").is_none(), "{body}");
    assert!(body["result"][0]["name"].is_string(), "{body}");

    let channels = format!(
        "directory?query={}&sort={}",
        enc_json(json!({"text": "dir-", "type": "channels"})),
        enc_json(json!({"name": -1}))
    );
    let body = srv.get_ok(&channels, &bob).await;
    let names: Vec<&str> = body["result"]
        .as_array()
        .expect("result")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["dir-beta", "dir-alpha"], "{body}");
    assert!(body["result"][0]["usersCount"].is_number(), "{body}");
    ts(&body["result"][0]["ts"], "ts");

    let bad_type = format!(
        "directory?query={}",
        enc_json(json!({"text": "x", "type": "invalid"}))
    );
    let (status, body) = srv.get(&bad_type, &bob).await;
    assert_error(status, &body, 400, None, "invalid type");
    let two_sorts = format!(
        "directory?query={}&sort={}",
        enc_json(json!({"text": "x", "type": "channels"})),
        enc_json(json!({"name": 1, "usersCount": 1}))
    );
    let (status, body) = srv.get(&two_sorts, &bob).await;
    assert_error(status, &body, 400, None, "two sorts");
}

#[tokio::test]
async fn spotlight_finds_users_and_rooms() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "spotbob").await;
    create_channel(&srv, &admin, "spot-room", &[]).await;
    create_group(&srv, &admin, "spot-secret", &[]).await;
    create_group(&srv, &bob, "spot-mine", &[]).await;

    let (status, body) = srv.get("spotlight", &bob).await;
    assert_error(status, &body, 400, None, "no query");

    let body = srv
        .get_ok(&format!("spotlight?query={}", enc("@spotbob")), &bob)
        .await;
    assert_eq!(body["users"][0]["username"], json!("spotbob"), "{body}");
    assert!(body["users"][0]["status"].is_string(), "{body}");
    assert_eq!(body["rooms"], json!([]), "@ searches people only: {body}");

    let body = srv
        .get_ok(&format!("spotlight?query={}", enc("#spot")), &bob)
        .await;
    assert_eq!(body["users"], json!([]), "# searches rooms only: {body}");
    let names: Vec<&str> = body["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"spot-room"),
        "a public channel bob is not in: {body}"
    );
    assert!(names.contains(&"spot-mine"), "bob's own group: {body}");
    assert!(
        !names.contains(&"spot-secret"),
        "another's private group: {body}"
    );
    assert!(body["rooms"][0]["t"].is_string(), "{body}");
}

#[tokio::test]
async fn shields_avatars_and_reset_policy() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;

    let shield = "shield.svg?type=channel&icon=true&channel=general&name=Palaver";
    let r = srv
        .request(Method::GET, &format!("/api/v1/{shield}"), None, Body::None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("image/svg+xml;charset=utf-8")
    );
    assert!(r.text.starts_with("<svg"), "{}", r.text);
    assert!(r.text.contains(">#general<"), "{}", r.text);
    assert!(r.text.contains(">Palaver<"), "{}", r.text);
    let r = srv
        .request(
            Method::GET,
            "/api/v1/shield.svg?type=user&username=bob",
            None,
            Body::None,
        )
        .await;
    assert!(r.text.contains(">@bob<"), "{}", r.text);
    srv.post_ok(
        "settings/API_Enable_Shields",
        &admin,
        json!({"value": false}),
    )
    .await;
    let (status, body) = srv.get_anon(shield).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-endpoint-disabled"),
        "shields off",
    );

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = http
        .get(srv.url(&format!("users.getAvatar?userId={}", bob.user_id)))
        .send()
        .await
        .expect("users.getAvatar");
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(location.ends_with("/avatar/bob"), "{location}");

    let (status, body) = srv.get_anon("pw.getPolicyReset").await;
    assert_error(status, &body, 400, Some("invalid-params"), "no token");
    let (status, body) = srv.get_anon("pw.getPolicyReset?token=123").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, json!({"success": false, "error": "unauthorized"}));
}
