//! REST messages: `chat.postMessage|sendMessage|getMessage|update|delete` and history
//! ordering with `latest`/`oldest`/`inclusive`/`offset`/`count`.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn post_send_get_update_delete_messages() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "talk", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();

    // chat.postMessage with every optional field a person may set (`alias` and
    // `avatar` need message-impersonate: rest_impersonation).
    let before = chrono::Utc::now().timestamp_millis();
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({
                "roomId": rid,
                "text": "hello",
                "emoji": ":smile:",
                "attachments": [{ "title": "T", "text": "attachment text", "color": "#ff0000" }],
            }),
        )
        .await;
    let after = chrono::Utc::now().timestamp_millis();
    let ack_ts = body["ts"]
        .as_i64()
        .unwrap_or_else(|| panic!("chat.postMessage: ts is epoch ms: {body}"));
    assert!(
        ack_ts >= before - 1000 && ack_ts <= after + 1000,
        "ts {ack_ts} not within [{before}, {after}]"
    );
    assert_eq!(body["channel"], json!(rid), "{body}");
    let m = &body["message"];
    assert_message_shape(m, &rid, &alice, "hello", "chat.postMessage");
    assert_eq!(m["u"]["name"], json!("alice Name"), "u.name: {m}");
    assert_eq!(m["emoji"], json!(":smile:"), "{m}");
    assert_eq!(m["attachments"][0]["title"], json!("T"), "{m}");
    assert_eq!(m["attachments"][0]["text"], json!("attachment text"), "{m}");
    assert!(m.get("t").is_none(), "a user message has no `t`: {m}");
    let msg_ts = ts(&m["ts"], "message ts").timestamp_millis();
    assert!(
        (msg_ts - ack_ts).abs() < 5000,
        "message ts {msg_ts} vs ack ts {ack_ts}"
    );
    let mid = m["_id"].as_str().unwrap().to_string();
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert_eq!(
        info["channel"]["msgs"],
        json!(1),
        "msgs counts the post: {info}"
    );
    ts(&info["channel"]["lm"], "room lm after a post");

    // chat.getMessage
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_message_shape(&got["message"], &rid, &alice, "hello", "chat.getMessage");
    assert_eq!(got["message"]["_id"], json!(mid));
    let (status, body) = srv
        .get("chat.getMessage?msgId=doesNotExist12345", &bob)
        .await;
    assert_error(status, &body, 400, None, "chat.getMessage unknown id");
    let (status, body) = srv.get("chat.getMessage", &bob).await;
    assert_error(status, &body, 400, None, "chat.getMessage without msgId");

    // chat.sendMessage with a client-chosen _id.
    let custom = "ClientChosenId0001";
    let body = srv
        .post_ok(
            "chat.sendMessage",
            &bob,
            json!({ "message": { "_id": custom, "rid": rid, "msg": "with my id" } }),
        )
        .await;
    assert_message_shape(
        &body["message"],
        &rid,
        &bob,
        "with my id",
        "chat.sendMessage",
    );
    assert_eq!(body["message"]["_id"], json!(custom), "{body}");
    let (status, body) = srv
        .post(
            "chat.sendMessage",
            &bob,
            json!({ "message": { "_id": custom, "rid": rid, "msg": "again" } }),
        )
        .await;
    assert_error(status, &body, 400, None, "chat.sendMessage reusing an _id");
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={custom}"), &bob)
        .await;
    assert_eq!(
        got["message"]["msg"],
        json!("with my id"),
        "the duplicate did not overwrite: {got}"
    );

    // Validation.
    // Rocket.Chat's own refusals (rest_envelopes.rs checks their messages).
    let (status, body) = srv
        .post("chat.postMessage", &alice, json!({ "text": "x" }))
        .await;
    assert_error(status, &body, 400, Some("invalid-channel"), "no room");
    let (status, body) = srv.post("chat.sendMessage", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-params"),
        "no message",
    );
    let bad_posts = [
        (
            "text an object",
            json!({ "roomId": rid, "text": { "a": 1 } }),
        ),
        (
            "attachments not an array",
            json!({ "roomId": rid, "text": "x", "attachments": "nope" }),
        ),
    ];
    for (ctx, b) in bad_posts {
        let (status, body) = srv.post("chat.postMessage", &alice, b).await;
        assert_error(
            status,
            &body,
            400,
            Some("invalid-params"),
            &format!("chat.postMessage with {ctx}"),
        );
    }
    let bad_sends = [
        ("message not an object", json!({ "message": "hi" })),
        ("no rid", json!({ "message": { "msg": "hi" } })),
    ];
    for (ctx, b) in bad_sends {
        let (status, body) = srv.post("chat.sendMessage", &alice, b).await;
        assert_error(
            status,
            &body,
            400,
            Some("invalid-params"),
            &format!("chat.sendMessage with {ctx}"),
        );
    }
    let (status, body) = srv
        .post(
            "chat.sendMessage",
            &alice,
            json!({ "message": { "rid": "doesNotExist12345", "msg": "hi" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.sendMessage to an unknown room",
    );

    // chat.update: author, then admin; others refused.
    let body = srv
        .post_ok(
            "chat.update",
            &alice,
            json!({ "roomId": rid, "msgId": mid, "text": "hello, edited" }),
        )
        .await;
    let edited = &body["message"];
    assert_eq!(edited["_id"], json!(mid), "{body}");
    assert_eq!(edited["msg"], json!("hello, edited"), "{body}");
    ts(&edited["editedAt"], "editedAt");
    assert_eq!(
        edited["editedBy"]["_id"],
        json!(alice.user_id),
        "editedBy: {body}"
    );
    assert_eq!(
        edited["editedBy"]["username"],
        json!("alice"),
        "editedBy: {body}"
    );
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(got["message"]["msg"], json!("hello, edited"));

    let (status, body) = srv
        .post(
            "chat.update",
            &bob,
            json!({ "roomId": rid, "msgId": mid, "text": "bob was here" }),
        )
        .await;
    assert_refused(status, &body, "chat.update of someone else's message");
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(
        got["message"]["msg"],
        json!("hello, edited"),
        "the refused edit changed nothing"
    );
    let (status, body) = srv
        .post(
            "chat.update",
            &alice,
            json!({ "roomId": "wrongRoomId123456", "msgId": mid, "text": "x" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.update with a roomId that is not the message's",
    );
    let (status, body) = srv
        .post(
            "chat.update",
            &alice,
            json!({ "roomId": rid, "msgId": "doesNotExist12345", "text": "x" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.update of an unknown message",
    );
    let (status, body) = srv
        .post(
            "chat.update",
            &alice,
            json!({ "roomId": rid, "msgId": mid }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "chat.update without text",
    );

    let body = srv
        .post_ok(
            "chat.update",
            &admin,
            json!({ "roomId": rid, "msgId": mid, "text": "moderated" }),
        )
        .await;
    assert_eq!(body["message"]["msg"], json!("moderated"), "{body}");
    assert_eq!(
        body["message"]["editedBy"]["username"],
        json!(ADMIN_USERNAME),
        "{body}"
    );

    // chat.delete: others refused, author allowed, admin allowed.
    let (status, body) = srv
        .post("chat.delete", &bob, json!({ "roomId": rid, "msgId": mid }))
        .await;
    assert_refused(status, &body, "chat.delete of someone else's message");
    srv.get_ok(&format!("chat.getMessage?msgId={mid}"), &alice)
        .await;
    let (status, body) = srv
        .post(
            "chat.delete",
            &alice,
            json!({ "roomId": "wrongRoomId123456", "msgId": mid }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.delete with a roomId that is not the message's",
    );
    let body = srv
        .post_ok(
            "chat.delete",
            &alice,
            json!({ "roomId": rid, "msgId": mid }),
        )
        .await;
    assert_eq!(body["_id"], json!(mid), "chat.delete answer: {body}");
    assert!(
        body["ts"].is_string() || body["ts"].is_number(),
        "chat.delete answer has ts: {body}"
    );
    assert_eq!(
        body["message"]["_id"],
        json!(mid),
        "chat.delete answer: {body}"
    );
    let (status, body) = srv
        .get(&format!("chat.getMessage?msgId={mid}"), &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.getMessage of a deleted message",
    );
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    assert!(
        !ids(&hist["messages"]).contains(&mid),
        "deleted message still in history: {hist}"
    );
    let (status, body) = srv
        .post(
            "chat.delete",
            &alice,
            json!({ "roomId": rid, "msgId": mid }),
        )
        .await;
    assert_error(status, &body, 400, None, "deleting twice");

    let body = srv
        .post_ok(
            "chat.delete",
            &admin,
            json!({ "roomId": rid, "msgId": custom }),
        )
        .await;
    assert_eq!(body["_id"], json!(custom), "{body}");
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    assert!(
        msg_texts(&hist["messages"]).is_empty(),
        "both messages are gone: {hist}"
    );
}

/// Texts of the user messages of `channels.history?roomId=<rid><q>`, checking that the
/// whole answer (system messages included) is newest first.
async fn history_texts(srv: &Palaver, who: &Session, rid: &str, q: String) -> Vec<String> {
    let body = srv
        .get_ok(&format!("channels.history?roomId={rid}{q}"), who)
        .await;
    assert!(body["messages"].is_array(), "channels.history{q}: {body}");
    let stamps: Vec<_> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| ts(&m["ts"], "history ts"))
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] >= w[1]),
        "channels.history{q} is not newest first: {body}"
    );
    msg_texts(&body["messages"])
}

/// The ISO timestamp of a message, URL-encoded for a query string.
fn q_ts(m: &Value) -> String {
    enc(m["ts"].as_str().expect("message ts string"))
}

#[tokio::test]
async fn history_is_newest_first_with_latest_oldest_inclusive_offset_count() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = create_channel(&srv, &alice, "hist", &[]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();

    let mut m = Vec::new();
    for i in 1..=5 {
        m.push(post(&srv, &alice, &rid, &format!("m{i}")).await);
        tick().await;
    }
    let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let hist = |q: String| history_texts(&srv, &alice, &rid, q);

    assert_eq!(
        hist(String::new()).await,
        texts(&["m5", "m4", "m3", "m2", "m1"])
    );
    let by_name = srv.get_ok("channels.history?roomName=hist", &alice).await;
    assert_eq!(
        msg_texts(&by_name["messages"]),
        texts(&["m5", "m4", "m3", "m2", "m1"]),
        "by roomName"
    );

    let (l, o) = (q_ts(&m[3]), q_ts(&m[1])); // latest = m4, oldest = m2
    assert_eq!(
        hist(format!("&latest={l}")).await,
        texts(&["m3", "m2", "m1"]),
        "latest is exclusive"
    );
    assert_eq!(
        hist(format!("&latest={l}&inclusive=true")).await,
        texts(&["m4", "m3", "m2", "m1"]),
        "latest inclusive"
    );
    assert_eq!(
        hist(format!("&oldest={o}")).await,
        texts(&["m5", "m4", "m3"]),
        "oldest is exclusive"
    );
    assert_eq!(
        hist(format!("&oldest={o}&inclusive=true")).await,
        texts(&["m5", "m4", "m3", "m2"]),
        "oldest inclusive"
    );
    assert_eq!(
        hist(format!("&oldest={o}&latest={l}")).await,
        texts(&["m3"]),
        "between, exclusive"
    );
    assert_eq!(
        hist(format!("&oldest={o}&latest={l}&inclusive=true")).await,
        texts(&["m4", "m3", "m2"]),
        "between, inclusive"
    );
    assert_eq!(hist("&count=2".into()).await, texts(&["m5", "m4"]), "count");
    assert_eq!(
        hist("&offset=1&count=2".into()).await,
        texts(&["m4", "m3"]),
        "offset + count"
    );
    assert_eq!(
        hist(format!("&latest={l}&count=1")).await,
        texts(&["m3"]),
        "latest + count"
    );
    assert_eq!(
        hist("&offset=50".into()).await,
        Vec::<String>::new(),
        "offset past the end"
    );

    // Groups and DMs order the same way.
    let group = create_group(&srv, &alice, "ghist", &[]).await;
    let gid = group["_id"].as_str().unwrap();
    for i in 1..=3 {
        post(&srv, &alice, gid, &format!("g{i}")).await;
        tick().await;
    }
    let body = srv
        .get_ok(&format!("groups.history?roomId={gid}&count=2"), &alice)
        .await;
    assert_eq!(
        msg_texts(&body["messages"]),
        texts(&["g3", "g2"]),
        "groups.history: {body}"
    );

    // count is capped at 100.
    let big = create_channel(&srv, &alice, "big", &[]).await;
    let bid = big["_id"].as_str().unwrap();
    for i in 0..105 {
        post(&srv, &alice, bid, &format!("b{i:03}")).await;
    }
    let body = srv
        .get_ok(&format!("channels.history?roomId={bid}&count=500"), &alice)
        .await;
    let got = body["messages"].as_array().unwrap().len();
    assert_eq!(
        got, 100,
        "channels.history count=500 must be capped at 100, got {got}"
    );
    let mut all = msg_texts(&body["messages"]);
    let body = srv
        .get_ok(
            &format!("channels.history?roomId={bid}&count=100&offset=100"),
            &alice,
        )
        .await;
    let rest = msg_texts(&body["messages"]);
    assert_eq!(rest.len(), 5, "second page of a capped history: {body}");
    all.extend(rest);
    let unique: std::collections::BTreeSet<_> = all.iter().cloned().collect();
    let expected: std::collections::BTreeSet<_> = (0..105).map(|i| format!("b{i:03}")).collect();
    assert_eq!(
        unique, expected,
        "the two pages hold all 105 messages exactly once"
    );
    assert_eq!(all.len(), 105);

    // Failures.
    let (status, body) = srv
        .get("channels.history?roomId=doesNotExist12345", &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "history of an unknown room",
    );
    let (status, body) = srv.get("channels.history", &alice).await;
    assert_error(status, &body, 400, None, "history without a room");
    let (status, body) = srv
        .get(
            &format!("channels.history?roomId={rid}&latest=not-a-date"),
            &alice,
        )
        .await;
    assert_error(status, &body, 400, None, "history with an invalid latest");
}
