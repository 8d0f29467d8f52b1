//! REST threads (`tmid`, `tcount`, `chat.getThreadMessages`) and reactions
//! (`chat.react`, `reactions: {":emoji:": {usernames: [...]}}`).

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn threads_count_replies_and_list_them_oldest_first() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "threads", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();

    let parent = post(&srv, &alice, &rid, "parent").await;
    let pid = parent["_id"].as_str().unwrap().to_string();
    assert!(
        parent.get("tcount").is_none() || parent["tcount"].is_null(),
        "a fresh message has no tcount: {parent}"
    );
    tick().await;

    let r1 = srv
        .post_ok(
            "chat.postMessage",
            &bob,
            json!({ "roomId": rid, "text": "reply 1", "tmid": pid }),
        )
        .await;
    assert_eq!(
        r1["message"]["tmid"],
        json!(pid),
        "postMessage reply carries tmid: {r1}"
    );
    tick().await;
    let r2 = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({ "message": { "rid": rid, "msg": "reply 2", "tmid": pid } }),
        )
        .await;
    assert_eq!(
        r2["message"]["tmid"],
        json!(pid),
        "sendMessage reply carries tmid: {r2}"
    );
    tick().await;
    srv.post_ok(
        "chat.postMessage",
        &bob,
        json!({ "roomId": rid, "text": "reply 3", "tmid": pid }),
    )
    .await;

    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={pid}"), &alice)
        .await;
    let p = &got["message"];
    assert_eq!(p["tcount"], json!(3), "tcount on the thread parent: {p}");
    ts(&p["tlm"], "tlm of the thread parent");
    let replies = p["replies"]
        .as_array()
        .unwrap_or_else(|| panic!("replies on the thread parent: {p}"));
    assert!(replies.contains(&json!(bob.user_id)), "bob replied: {p}");

    let body = srv
        .get_ok(&format!("chat.getThreadMessages?tmid={pid}"), &alice)
        .await;
    assert_page(&body, "messages", 3, 0, 3, "chat.getThreadMessages");
    assert_eq!(
        msg_texts(&body["messages"]),
        vec!["reply 1", "reply 2", "reply 3"],
        "thread replies oldest first"
    );
    for m in body["messages"].as_array().unwrap() {
        assert_eq!(m["tmid"], json!(pid), "{m}");
        assert_eq!(m["rid"], json!(rid), "{m}");
    }
    let body = srv
        .get_ok(&format!("chat.getThreadMessages?tmid={pid}&count=2"), &bob)
        .await;
    assert_page(&body, "messages", 2, 0, 3, "chat.getThreadMessages count=2");
    assert_eq!(msg_texts(&body["messages"]), vec!["reply 1", "reply 2"]);
    let body = srv
        .get_ok(&format!("chat.getThreadMessages?tmid={pid}&offset=2"), &bob)
        .await;
    assert_page(
        &body,
        "messages",
        1,
        2,
        3,
        "chat.getThreadMessages offset=2",
    );
    assert_eq!(msg_texts(&body["messages"]), vec!["reply 3"]);

    // A message without replies has an empty thread.
    let lonely = post(&srv, &alice, &rid, "lonely").await;
    let body = srv
        .get_ok(
            &format!(
                "chat.getThreadMessages?tmid={}",
                lonely["_id"].as_str().unwrap()
            ),
            &alice,
        )
        .await;
    assert_page(&body, "messages", 0, 0, 0, "thread without replies");

    // Failures.
    let (status, body) = srv
        .get("chat.getThreadMessages?tmid=doesNotExist12345", &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.getThreadMessages of an unknown message",
    );
    let (status, body) = srv.get("chat.getThreadMessages", &alice).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-params"),
        "chat.getThreadMessages without tmid",
    );
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({ "roomId": rid, "text": "orphan", "tmid": "doesNotExist12345" }),
        )
        .await;
    assert_error(status, &body, 400, None, "a reply to an unknown thread");
    // A reply must be in the parent's room.
    let other = create_channel(&srv, &bob, "elsewhere", &[]).await;
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({ "roomId": other["_id"], "text": "cross-room reply", "tmid": pid }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "a reply whose tmid is in another room",
    );
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={pid}"), &alice)
        .await;
    assert_eq!(
        got["message"]["tcount"],
        json!(3),
        "refused replies did not count: {got}"
    );
}

#[tokio::test]
async fn deleting_a_reply_streams_the_parent_with_its_new_count() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = create_channel(&srv, &alice, "threads", &[]).await;
    let rid = chan["_id"].as_str().expect("room id").to_string();
    let parent = post(&srv, &alice, &rid, "parent").await;
    let pid = parent["_id"].as_str().expect("parent id").to_string();
    let reply = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "roomId": rid, "text": "reply", "tmid": pid }),
        )
        .await;
    let reply_id = reply["message"]["_id"].clone();

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({ "roomId": rid, "msgId": reply_id }),
    )
    .await;
    let streamed = ddp.recv().await["fields"]["args"][0].clone();
    assert_eq!(streamed["_id"], json!(pid), "the parent again: {streamed}");
    assert_eq!(streamed["tcount"], json!(0), "{streamed}");
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={pid}"), &alice)
        .await;
    assert_eq!(got["message"]["tcount"], json!(0), "{got}");
}

fn reactions(msg: &Value) -> Value {
    match msg.get("reactions") {
        None | Some(Value::Null) => json!({}),
        Some(r) => r.clone(),
    }
}

async fn reactions_of(srv: &Palaver, who: &Session, mid: &str) -> Value {
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), who)
        .await;
    reactions(&got["message"])
}

#[tokio::test]
async fn reactions_toggle_and_have_rocket_chat_shape() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "reacts", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    let m = post(&srv, &alice, &rid, "react to me").await;
    let mid = m["_id"].as_str().unwrap().to_string();
    let current = || reactions_of(&srv, &alice, &mid);

    let body = srv
        .post_ok(
            "chat.react",
            &alice,
            json!({ "messageId": mid, "emoji": ":smile:" }),
        )
        .await;
    assert_eq!(body, json!({ "success": true }), "chat.react answer");
    assert_eq!(
        current().await,
        json!({ ":smile:": { "usernames": ["alice"] } })
    );

    // The emoji may be given without colons; shouldReact:true adds.
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": "smile", "shouldReact": true }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":smile:": { "usernames": ["alice", "bob"] } })
    );
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": ":+1:", "shouldReact": true }),
    )
    .await;
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": ":+1:", "shouldReact": true }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":smile:": { "usernames": ["alice", "bob"] }, ":+1:": { "usernames": ["bob"] } }),
        "reacting twice with shouldReact:true does not duplicate"
    );

    // shouldReact:false removes; without shouldReact it toggles.
    srv.post_ok(
        "chat.react",
        &alice,
        json!({ "messageId": mid, "emoji": ":smile:", "shouldReact": false }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":smile:": { "usernames": ["bob"] }, ":+1:": { "usernames": ["bob"] } })
    );
    srv.post_ok(
        "chat.react",
        &alice,
        json!({ "messageId": mid, "emoji": ":+1:", "shouldReact": false }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":smile:": { "usernames": ["bob"] }, ":+1:": { "usernames": ["bob"] } }),
        "removing a reaction one never made is a no-op"
    );
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": ":smile:" }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":+1:": { "usernames": ["bob"] } }),
        "toggle off removes the emoji key"
    );
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": ":+1:" }),
    )
    .await;
    assert_eq!(current().await, json!({}), "no reactions left");
    srv.post_ok(
        "chat.react",
        &bob,
        json!({ "messageId": mid, "emoji": ":+1:" }),
    )
    .await;
    assert_eq!(
        current().await,
        json!({ ":+1:": { "usernames": ["bob"] } }),
        "toggle on again"
    );

    // Reactions show in history too.
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    let in_hist = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["_id"] == json!(mid))
        .cloned()
        .unwrap();
    assert_eq!(
        reactions(&in_hist),
        json!({ ":+1:": { "usernames": ["bob"] } }),
        "{hist}"
    );

    // Failures.
    let (status, body) = srv
        .post(
            "chat.react",
            &bob,
            json!({ "messageId": "doesNotExist12345", "emoji": ":x:" }),
        )
        .await;
    assert_error(status, &body, 400, None, "chat.react on an unknown message");
    let (status, body) = srv
        .post("chat.react", &bob, json!({ "messageId": mid }))
        .await;
    assert_error(status, &body, 400, None, "chat.react without emoji");
    let (status, body) = srv
        .post("chat.react", &bob, json!({ "emoji": ":x:" }))
        .await;
    assert_error(status, &body, 400, None, "chat.react without messageId");
    assert_eq!(
        current().await,
        json!({ ":+1:": { "usernames": ["bob"] } }),
        "failures changed nothing"
    );
}
