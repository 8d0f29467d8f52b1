//! Outgoing webhooks on every Rocket.Chat event (issue 20): `userCreated`,
//! `roomCreated`, `roomJoined`, `roomLeft`, `fileUploaded`, `roomArchived` each POST
//! Rocket.Chat's body to their own integration only; every call carries
//! `X-Palaver-Signature`, the HMAC-SHA256 of the raw body keyed with the token; an
//! integration answering every message does not trigger on its own replies, which
//! carry Rocket.Chat's `bot: {i: <integration id>}` marker.

use std::time::{Duration, Instant};

use palaver_tests::hook_sink::{Answer, Hit, HookSink};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(30);

async fn outgoing(
    srv: &Palaver,
    admin: &Session,
    event: &str,
    channel: &str,
    url: String,
) -> Value {
    srv.post_ok(
        "integrations.create",
        admin,
        json!({
            "type": "webhook-outgoing",
            "name": event,
            "enabled": true,
            "event": event,
            "channel": channel,
            "urls": [url],
            "username": "bot",
            "token": format!("token-of-{event}"),
            "scriptEnabled": false,
        }),
    )
    .await["integration"]
        .clone()
}

/// HMAC-SHA256 by the book (RFC 2104), independent of the server's.
fn hmac(key: &[u8], body: &[u8]) -> String {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    format!("sha256={}", hex::encode(outer))
}

fn check_signature(hit: &Hit, token: &str) {
    // The sink keeps the parsed body; JSON re-encoding of what serde wrote is
    // byte-identical (same key order, compact).
    let raw = serde_json::to_vec(&hit.body).unwrap();
    assert_eq!(
        hit.headers.get("x-palaver-signature").map(String::as_str),
        Some(hmac(token.as_bytes(), &raw).as_str()),
        "{}: {:?}",
        hit.path,
        hit.headers
    );
}

#[tokio::test]
async fn every_event_calls_its_integration_signed_and_replies_never_loop() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let alice = srv.create_user(&admin, "alice").await;
    let hq = create_channel(&srv, &admin, "hq", &["alice"]).await;
    let hq = str_of(&hq["_id"], "room id").to_string();
    for event in [
        "userCreated",
        "roomCreated",
        "roomJoined",
        "roomLeft",
        "fileUploaded",
        "roomArchived",
    ] {
        outgoing(&srv, &admin, event, "#hq", sink.url(&format!("/{event}"))).await;
    }

    let carol = srv.create_user(&admin, "carol").await;
    let hit = &sink.wait_for("/userCreated", 1, WAIT).await[0];
    assert_eq!(hit.body["user_name"], "carol", "{}", hit.body);
    assert_eq!(hit.body["user"]["_id"], carol.user_id.as_str());
    check_signature(hit, "token-of-userCreated");

    let lab = create_channel(&srv, &admin, "lab", &[]).await;
    let lab = str_of(&lab["_id"], "room id").to_string();
    let hit = &sink.wait_for("/roomCreated", 1, WAIT).await[0];
    assert_eq!(hit.body["channel_id"], lab.as_str(), "{}", hit.body);
    assert_eq!(hit.body["channel_name"], "lab");
    assert_eq!(hit.body["user_name"], "admin");
    check_signature(hit, "token-of-roomCreated");

    // Joins and leaves count in the integration's room only.
    srv.post_ok("channels.join", &carol, json!({ "roomId": lab }))
        .await;
    srv.post_ok("channels.join", &carol, json!({ "roomId": hq }))
        .await;
    let hit = &sink.wait_for("/roomJoined", 1, WAIT).await[0];
    assert_eq!(
        (&hit.body["channel_id"], &hit.body["user_name"]),
        (&json!(hq), &json!("carol")),
        "{}",
        hit.body
    );
    srv.post_ok("channels.leave", &carol, json!({ "roomId": hq }))
        .await;
    let hit = &sink.wait_for("/roomLeft", 1, WAIT).await[0];
    assert_eq!(hit.body["user_id"], carol.user_id.as_str(), "{}", hit.body);
    check_signature(hit, "token-of-roomLeft");

    let part = reqwest::multipart::Part::bytes(b"hello file".to_vec())
        .file_name("notes.txt")
        .mime_str("text/plain")
        .unwrap();
    let resp = reqwest::Client::new()
        .post(srv.url(&format!("rooms.upload/{hq}")))
        .header("X-User-Id", &alice.user_id)
        .header("X-Auth-Token", &alice.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    let hit = &sink.wait_for("/fileUploaded", 1, WAIT).await[0];
    assert_eq!(hit.body["user_name"], "alice", "{}", hit.body);
    assert_eq!(
        hit.body["message"]["file"]["name"], "notes.txt",
        "{}",
        hit.body
    );

    srv.post_ok("channels.archive", &admin, json!({ "roomId": lab }))
        .await;
    let hit = &sink.wait_for("/roomArchived", 1, WAIT).await[0];
    assert_eq!(hit.body["channel_id"], lab.as_str(), "{}", hit.body);

    // Nothing went to an integration of another event.
    for (path, n) in [
        ("/userCreated", 1),
        ("/roomCreated", 1),
        ("/roomJoined", 1),
        ("/roomLeft", 1),
        ("/fileUploaded", 1),
        ("/roomArchived", 1),
    ] {
        assert_eq!(
            sink.hits_on(path).len(),
            n,
            "{path}: {:?}",
            sink.hits_on(path)
        );
    }

    // An integration answering every message: its replies are marked and never
    // trigger it again.
    let echo = outgoing(&srv, &admin, "sendMessage", "#hq", sink.url("/echo")).await;
    // Only this integration answers (the bot joining the room to reply is a
    // `roomJoined` event, and a reply from that integration may trigger this one).
    sink.script(
        "/echo",
        (0..5).map(|_| Answer::json(json!({ "text": "echoed" }))),
    );
    post(&srv, &alice, &hq, "first").await;
    let deadline = Instant::now() + WAIT;
    let reply = loop {
        let body = srv
            .get_ok(&format!("channels.history?roomId={hq}&count=50"), &alice)
            .await;
        if let Some(m) = user_messages(&body["messages"])
            .into_iter()
            .find(|m| m["msg"] == "echoed")
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no reply: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reply["bot"], json!({ "i": echo["_id"] }), "{reply}");
    post(&srv, &alice, &hq, "second").await;
    sink.wait_for("/echo", 2, WAIT).await;
    // Everything queued was delivered: had the reply triggered, its call would be here.
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = srv.get_ok("palaver.outbox.stats", &admin).await;
        let pending = stats["queues"]
            .as_array()
            .and_then(|qs| qs.iter().find(|q| q["kind"] == "webhook"))
            .map(|q| q["pending"].clone());
        if pending == Some(json!(0)) {
            break;
        }
        assert!(Instant::now() < deadline, "queue never drained: {stats}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let texts: Vec<Value> = sink
        .hits_on("/echo")
        .iter()
        .map(|h| h.body["text"].clone())
        .collect();
    assert!(
        texts.len() >= 2 && !texts.contains(&json!("echoed")),
        "the reply triggered its own integration: {texts:?}"
    );
    check_signature(&sink.hits_on("/echo")[0], "token-of-sendMessage");
}
