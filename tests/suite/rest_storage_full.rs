//! A full disk, with the SQLite size cap standing in for it: 507
//! `error-storage-full`, logged once per episode, nothing acknowledged lost.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::post;
use crate::rest_edge::assert_envelope;
use palaver_tests::server::{Body, Palaver};

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
