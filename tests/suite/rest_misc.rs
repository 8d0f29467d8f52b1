//! REST odds and ends: `GET /api/info`, `settings.public`, `rooms.get|info`,
//! `subscriptions.get|read`, malformed and oversized input, unknown routes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn api_info_and_public_settings_need_no_login() {
    let srv = Palaver::start().await;
    let (status, info) = srv.get_anon("/api/info").await;
    assert_eq!(status, StatusCode::OK, "/api/info: {info}");
    assert_eq!(info["success"], json!(true), "{info}");
    let version = str_of(&info["version"], "/api/info version");
    let parts: Vec<&str> = version.split('.').collect();
    // Anonymous callers get `major.minor`, as Rocket.Chat hides the patch level.
    assert!(
        parts.len() == 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
        "/api/info version must be a Rocket.Chat version like 8.4, got {version:?}"
    );

    let (status, body) = srv.get_anon("settings.public").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "settings.public without login: {body}"
    );
    assert_eq!(body["success"], json!(true));
    let settings = body["settings"]
        .as_array()
        .unwrap_or_else(|| panic!("settings array: {body}"));
    assert!(!settings.is_empty(), "some settings are public: {body}");
    for s in settings {
        assert!(s["_id"].is_string(), "setting _id: {s}");
        assert!(s.get("value").is_some(), "setting value: {s}");
    }
    let total = body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("settings.public total: {body}"));
    assert_eq!(body["count"], json!(settings.len()), "{body}");
    assert_eq!(body["offset"], json!(0), "{body}");
    assert!(total >= settings.len() as u64);
    let page = srv.get_anon("settings.public?count=1&offset=0").await.1;
    assert_page(&page, "settings", 1, 0, total, "settings.public count=1");

    // Logged in works the same.
    let admin = srv.admin().await;
    let body = srv.get_ok("settings.public", &admin).await;
    assert_eq!(body["total"], json!(total));
    assert_no_secrets(&body, "settings.public");
}

#[tokio::test]
async fn rooms_get_and_rooms_info() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let carol = srv.create_user(&admin, "carol").await;
    let c1 = create_channel(&srv, &alice, "c-one", &["carol"]).await;
    let c1 = c1["_id"].as_str().unwrap().to_string();
    let g1 = create_group(&srv, &alice, "g-one", &[]).await;
    let g1 = g1["_id"].as_str().unwrap().to_string();
    let c2 = create_channel(&srv, &admin, "c-two", &["alice"]).await;
    let c2 = c2["_id"].as_str().unwrap().to_string();
    let dm = srv
        .post_ok("im.create", &alice, json!({ "username": "carol" }))
        .await;
    let dm = dm["room"]["_id"].as_str().unwrap().to_string();
    let other = create_channel(&srv, &carol, "not-alices", &[]).await;
    let other = other["_id"].as_str().unwrap().to_string();

    let body = srv.get_ok("rooms.get", &alice).await;
    let got = id_set(&body["update"]);
    for rid in [&c1, &g1, &c2, &dm] {
        assert!(got.contains(rid), "rooms.get misses {rid}: {body}");
    }
    assert!(
        !got.contains(&other),
        "rooms.get lists a room alice is not in: {body}"
    );
    assert!(
        body["remove"].is_array(),
        "rooms.get has a remove array: {body}"
    );
    for r in body["update"].as_array().unwrap() {
        assert!(
            ["c", "p", "d"].contains(&r["t"].as_str().unwrap_or("?")),
            "{r}"
        );
        ts(&r["_updatedAt"], "rooms.get _updatedAt");
    }

    // updatedSince: only what changed after that instant, and deleted rooms.
    tick().await;
    let since = iso_now();
    tick().await;
    post(&srv, &carol, &c1, "news").await;
    srv.post_ok("channels.delete", &admin, json!({ "roomId": c2 }))
        .await;
    let body = srv
        .get_ok(&format!("rooms.get?updatedSince={}", enc(&since)), &alice)
        .await;
    let updated = id_set(&body["update"]);
    assert!(updated.contains(&c1), "c1 changed after {since}: {body}");
    assert!(
        !updated.contains(&g1),
        "g1 did not change after {since}: {body}"
    );
    assert!(
        !updated.contains(&dm),
        "the DM did not change after {since}: {body}"
    );
    assert!(
        id_set(&body["remove"]).contains(&c2),
        "the deleted channel is in remove: {body}"
    );

    // rooms.info
    let info = srv.get_ok(&format!("rooms.info?roomId={c1}"), &alice).await;
    assert_room_shape(&info["room"], "c", Some("c-one"), "rooms.info");
    assert_eq!(info["room"]["msgs"], json!(1), "{info}");
    assert_eq!(info["room"]["usersCount"], json!(2), "{info}");
    ts(&info["room"]["lm"], "rooms.info lm");
    let info = srv.get_ok(&format!("rooms.info?roomId={dm}"), &carol).await;
    assert_eq!(info["room"]["t"], json!("d"), "{info}");
    let (status, body) = srv.get("rooms.info?roomId=doesNotExist12345", &alice).await;
    assert_error(status, &body, 400, None, "rooms.info unknown room");
    let (status, body) = srv.get("rooms.info", &alice).await;
    assert_error(status, &body, 400, None, "rooms.info without roomId");
}

#[tokio::test]
async fn subscriptions_get_updated_since_and_read() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let x = create_channel(&srv, &admin, "sub-x", &["bob"]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let y = create_channel(&srv, &admin, "sub-y", &["bob"]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();

    let body = srv.get_ok("subscriptions.get", &bob).await;
    assert!(body["update"].is_array(), "subscriptions.get shape: {body}");
    assert_eq!(
        body["remove"],
        json!([]),
        "subscriptions.get without updatedSince: {body}"
    );
    let sx = subscription(&srv, &bob, &x)
        .await
        .expect("bob is subscribed to sub-x");
    assert!(sx["_id"].is_string(), "{sx}");
    assert_eq!(sx["rid"], json!(x));
    assert_eq!(sx["name"], json!("sub-x"), "{sx}");
    assert_eq!(sx["t"], json!("c"), "{sx}");
    assert_eq!(sx["open"], json!(true), "{sx}");
    assert_eq!(sx["alert"], json!(false), "{sx}");
    assert_eq!(sx["unread"], json!(0), "{sx}");
    assert_eq!(sx["u"]["_id"], json!(bob.user_id), "{sx}");
    assert_eq!(sx["u"]["username"], json!("bob"), "{sx}");
    ts(&sx["ts"], "subscription ts");
    ts(&sx["_updatedAt"], "subscription _updatedAt");
    let sy = subscription(&srv, &bob, &y)
        .await
        .expect("bob is subscribed to sub-y");
    let sy_id = sy["_id"].as_str().unwrap().to_string();

    tick().await;
    let since = iso_now();
    tick().await;
    post(&srv, &admin, &x, "one").await;
    post(&srv, &admin, &x, "two").await;
    srv.post_ok("channels.leave", &bob, json!({ "roomId": y }))
        .await;

    let body = srv
        .get_ok(
            &format!("subscriptions.get?updatedSince={}", enc(&since)),
            &bob,
        )
        .await;
    let update = body["update"]
        .as_array()
        .unwrap_or_else(|| panic!("update: {body}"));
    let ux = update
        .iter()
        .find(|s| s["rid"] == json!(x))
        .unwrap_or_else(|| panic!("sub-x changed: {body}"));
    assert_eq!(ux["unread"], json!(2), "two new messages: {ux}");
    assert_eq!(ux["alert"], json!(true), "{ux}");
    assert!(
        !update.iter().any(|s| s["rid"] == json!(y)),
        "the left room is not in update: {body}"
    );
    let remove = body["remove"]
        .as_array()
        .unwrap_or_else(|| panic!("remove: {body}"));
    let ry = remove
        .iter()
        .find(|s| s["_id"] == json!(sy_id))
        .unwrap_or_else(|| panic!("the subscription to the left room is in remove: {body}"));
    ts(&ry["_deletedAt"], "remove[]._deletedAt");

    // The poster's own subscription has nothing unread.
    let own = subscription(&srv, &admin, &x).await.unwrap();
    assert_eq!(
        own["unread"],
        json!(0),
        "own messages are not unread: {own}"
    );

    // subscriptions.read clears unread and alert, sets ls.
    let body = srv
        .post_ok("subscriptions.read", &bob, json!({ "rid": x }))
        .await;
    assert_eq!(
        body,
        json!({ "success": true }),
        "subscriptions.read answer"
    );
    let sx = subscription(&srv, &bob, &x).await.unwrap();
    assert_eq!(sx["unread"], json!(0), "after subscriptions.read: {sx}");
    assert_eq!(sx["alert"], json!(false), "after subscriptions.read: {sx}");
    let ls = ts(&sx["ls"], "ls after subscriptions.read");
    assert!(
        ls >= chrono::DateTime::parse_from_rfc3339(&since).unwrap(),
        "ls {ls} is after {since}"
    );

    // Failures.
    let (status, body) = srv.post("subscriptions.read", &bob, json!({})).await;
    assert_error(status, &body, 400, None, "subscriptions.read without rid");
    let (status, body) = srv
        .post(
            "subscriptions.read",
            &bob,
            json!({ "rid": "doesNotExist12345" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "subscriptions.read of an unknown room",
    );
    let (status, body) = srv
        .get("subscriptions.get?updatedSince=not-a-date", &bob)
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "subscriptions.get with an invalid updatedSince",
    );
}

#[tokio::test]
async fn malformed_json_oversized_bodies_and_unknown_routes() {
    let srv = Palaver::builder()
        .env("PALAVER_MAX_BODY_BYTES", "4096")
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = create_channel(&srv, &admin, "input", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();

    let raw = |s: &str| Body::Raw {
        content_type: "application/json",
        bytes: s.as_bytes().to_vec(),
    };
    let malformed = [
        r#"{"user": "admin", "#,
        "{not json}",
        "[1, 2, 3]",
        "\"a string\"",
        "null",
        "",
        "{\"a\":1}}",
    ];
    for bad in malformed {
        let r = srv.request(Method::POST, "login", None, raw(bad)).await;
        assert_error(
            r.status,
            &r.json,
            400,
            None,
            &format!("login with body {bad:?} ({})", r.text),
        );
        let r = srv
            .request(Method::POST, "chat.postMessage", Some(&admin), raw(bad))
            .await;
        assert_error(
            r.status,
            &r.json,
            400,
            None,
            &format!("chat.postMessage with body {bad:?} ({})", r.text),
        );
        let r = srv
            .request(Method::POST, "channels.create", Some(&admin), raw(bad))
            .await;
        assert_error(
            r.status,
            &r.json,
            400,
            None,
            &format!("channels.create with body {bad:?} ({})", r.text),
        );
    }
    let r = srv
        .request(
            Method::POST,
            "chat.postMessage",
            Some(&admin),
            Body::Raw {
                content_type: "application/json",
                bytes: vec![0xff, 0xfe, 0x00],
            },
        )
        .await;
    assert_error(
        r.status,
        &r.json,
        400,
        None,
        "chat.postMessage with invalid UTF-8",
    );

    // Under the limit is fine; over it is 413.
    let fits = json!({ "roomId": rid, "text": "a".repeat(3000) });
    srv.post_ok("chat.postMessage", &admin, fits).await;
    let too_big = json!({ "roomId": rid, "text": "b".repeat(5000) });
    let r = srv
        .request(
            Method::POST,
            "chat.postMessage",
            Some(&admin),
            Body::Json(too_big),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a 5000-byte body over a 4096-byte limit: {}",
        r.text
    );
    if !r.json.is_null() {
        assert_eq!(
            r.json["success"],
            json!(false),
            "a JSON 413 body is a failure envelope: {}",
            r.text
        );
    }
    let r = srv
        .request(
            Method::POST,
            "login",
            None,
            Body::Raw {
                content_type: "application/json",
                bytes: vec![b' '; 10_000],
            },
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "oversized login body: {}",
        r.text
    );
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    let texts = msg_texts(&hist["messages"]);
    assert_eq!(texts.len(), 1, "only the message that fit was stored");
    assert!(texts[0].starts_with("aaa"));

    // Unknown routes are 404, with or without credentials.
    for (method, path) in [
        (Method::GET, "no.such.endpoint"),
        (Method::POST, "no.such.endpoint"),
        (Method::GET, "/api/v1/"),
        (Method::GET, "/api/v2/info"),
        (Method::GET, "/api/nothing-here"),
    ] {
        let r = srv
            .request(method.clone(), path, Some(&admin), Body::None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path} (logged in): {}",
            r.text
        );
        let r = srv.request(method.clone(), path, None, Body::None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path} (anonymous): {}",
            r.text
        );
        if !r.json.is_null() && r.json.get("__non_json_body").is_none() {
            assert_eq!(
                r.json["success"],
                json!(false),
                "a JSON 404 body is a failure envelope: {}",
                r.text
            );
        }
    }

    // Still healthy, and nothing above panicked inside.
    srv.get_ok("me", &admin).await;
    let log = srv.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
}

#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let rid = create_channel(&srv, &admin, "limits", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let over = json!({ "roomId": rid, "text": "x".repeat(1024 * 1024 + 100) });
    let r = srv
        .request(
            Method::POST,
            "chat.postMessage",
            Some(&admin),
            Body::Json(over),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a body over 1 MiB: {}",
        &r.text[..r.text.len().min(300)]
    );
    let under = json!({ "roomId": rid, "text": "y".repeat(900 * 1024) });
    let r = srv
        .request(
            Method::POST,
            "chat.postMessage",
            Some(&admin),
            Body::Json(under),
        )
        .await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
        "a 900 KiB body is under the default limit (200, or 400 if the message is too long), got {}: {}",
        r.status,
        &r.text[..r.text.len().min(300)]
    );
    srv.get_ok("me", &admin).await;
}
