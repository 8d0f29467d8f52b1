//! REST direct messages: `im.create` (username, usernames), `im.list`, `im.history`,
//! their `dm.*` aliases, and posting with `channel: "@username"`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

fn usernames(room: &Value) -> BTreeSet<String> {
    room["usernames"]
        .as_array()
        .unwrap_or_else(|| panic!("DM room without usernames: {room}"))
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn direct_messages_create_list_history_and_privacy() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;

    // 1:1
    let body = srv
        .post_ok("im.create", &alice, json!({ "username": "bob" }))
        .await;
    let room = &body["room"];
    let dm = room["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("im.create: room._id: {body}"))
        .to_string();
    assert_eq!(
        room["rid"],
        json!(dm),
        "im.create: room.rid equals room._id: {body}"
    );
    assert_eq!(room["t"], json!("d"), "{body}");
    assert_eq!(usernames(room), set(&["alice", "bob"]), "{body}");
    // Idempotent, and symmetric through the dm.* alias.
    let again = srv
        .post_ok("im.create", &alice, json!({ "username": "bob" }))
        .await;
    assert_eq!(
        again["room"]["_id"],
        json!(dm),
        "im.create twice gives the same room"
    );
    let from_bob = srv
        .post_ok("dm.create", &bob, json!({ "username": "alice" }))
        .await;
    assert_eq!(
        from_bob["room"]["_id"],
        json!(dm),
        "dm.create from the other side gives the same room"
    );

    // Group DM from comma-separated usernames.
    let body = srv
        .post_ok("im.create", &alice, json!({ "usernames": "bob, carol" }))
        .await;
    let group_dm = body["room"]["_id"].as_str().unwrap().to_string();
    assert_ne!(group_dm, dm);
    assert_eq!(body["room"]["t"], json!("d"), "{body}");
    assert_eq!(
        usernames(&body["room"]),
        set(&["alice", "bob", "carol"]),
        "{body}"
    );

    // Failures.
    let (status, body) = srv
        .post("im.create", &alice, json!({ "username": "nobody" }))
        .await;
    assert_error(status, &body, 400, None, "im.create with an unknown user");
    let (status, body) = srv
        .post("im.create", &alice, json!({ "usernames": "bob,nobody" }))
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "im.create with an unknown user among usernames",
    );
    let (status, body) = srv.post("im.create", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "im.create without username(s)",
    );

    // Talk.
    let m1 = post(&srv, &alice, &dm, "hi bob").await;
    assert_message_shape(&m1, &dm, &alice, "hi bob", "DM post");
    tick().await;
    post(&srv, &bob, &dm, "hi alice").await;
    post(&srv, &carol, &group_dm, "hi both").await;

    for path in ["im.history", "dm.history"] {
        let hist = srv.get_ok(&format!("{path}?roomId={dm}"), &bob).await;
        assert_eq!(
            msg_texts(&hist["messages"]),
            vec!["hi alice".to_string(), "hi bob".into()],
            "{path}: {hist}"
        );
    }
    let hist = srv
        .get_ok(&format!("im.history?roomId={group_dm}"), &alice)
        .await;
    assert_eq!(
        msg_texts(&hist["messages"]),
        vec!["hi both".to_string()],
        "{hist}"
    );

    // Lists.
    for path in ["im.list", "dm.list"] {
        let list = srv.get_ok(path, &alice).await;
        assert_page(&list, "ims", 2, 0, 2, &format!("{path} of alice"));
        assert_eq!(
            id_set(&list["ims"]),
            [dm.clone(), group_dm.clone()].into_iter().collect()
        );
        for im in list["ims"].as_array().unwrap() {
            assert_eq!(im["t"], json!("d"), "{im}");
            assert!(im["usernames"].is_array(), "{im}");
        }
    }
    let list = srv.get_ok("im.list", &carol).await;
    assert_eq!(
        ids(&list["ims"]),
        vec![group_dm.clone()],
        "carol is only in the group DM: {list}"
    );
    let list = srv.get_ok("im.list", &dave).await;
    assert_page(&list, "ims", 0, 0, 0, "dave has no DMs");
    let page = srv.get_ok("im.list?count=1&offset=1", &alice).await;
    assert_page(&page, "ims", 1, 1, 2, "im.list page");

    // Subscriptions are named after the other member.
    let sub = subscription(&srv, &alice, &dm)
        .await
        .expect("alice's DM subscription");
    assert_eq!(sub["t"], json!("d"), "{sub}");
    assert_eq!(
        sub["name"],
        json!("bob"),
        "alice's DM subscription is named after bob: {sub}"
    );
    let sub = subscription(&srv, &bob, &dm)
        .await
        .expect("bob's DM subscription");
    assert_eq!(sub["name"], json!("alice"), "{sub}");

    // Outsiders see and write nothing.
    let (status, body) = srv.get(&format!("im.history?roomId={dm}"), &carol).await;
    assert_refused(status, &body, "im.history of someone else's DM");
    assert!(!body.to_string().contains("hi bob"), "leaked: {body}");
    let (status, body) = srv.get(&format!("dm.history?roomId={dm}"), &dave).await;
    assert_refused(status, &body, "dm.history of someone else's DM");
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &dave,
            json!({ "roomId": dm, "text": "intruder" }),
        )
        .await;
    assert_refused(status, &body, "posting into someone else's DM");
    let (status, body) = srv.get(&format!("rooms.info?roomId={dm}"), &dave).await;
    assert_refused(status, &body, "rooms.info of someone else's DM");
    let (status, body) = srv
        .get(
            &format!("chat.getMessage?msgId={}", m1["_id"].as_str().unwrap()),
            &dave,
        )
        .await;
    assert_refused(status, &body, "chat.getMessage in someone else's DM");
    let hist = srv.get_ok(&format!("im.history?roomId={dm}"), &alice).await;
    assert_eq!(
        msg_texts(&hist["messages"]).len(),
        2,
        "nothing got in: {hist}"
    );
    let (status, body) = srv.get("im.history?roomId=doesNotExist12345", &alice).await;
    assert_error(status, &body, 400, None, "im.history unknown room");
}

#[tokio::test]
async fn post_message_to_at_username_and_hash_channel() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let carol = srv.create_user(&admin, "carol").await;

    // "@username" opens (or reuses) the DM.
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "channel": "@carol", "text": "psst" }),
        )
        .await;
    assert_eq!(
        body["channel"],
        json!("@carol"),
        "channel echoes the target: {body}"
    );
    assert!(body["ts"].is_u64(), "ts is epoch milliseconds: {body}");
    let rid = body["message"]["rid"].as_str().unwrap().to_string();
    assert_message_shape(&body["message"], &rid, &alice, "psst", "post to @carol");
    tick().await;
    let created = srv
        .post_ok("im.create", &carol, json!({ "username": "alice" }))
        .await;
    assert_eq!(
        created["room"]["_id"],
        json!(rid),
        "@carol went to the alice–carol DM"
    );
    let again = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "channel": "@carol", "text": "again" }),
        )
        .await;
    assert_eq!(again["message"]["rid"], json!(rid), "the same DM is reused");
    let hist = srv
        .get_ok(&format!("im.history?roomId={rid}"), &carol)
        .await;
    assert_eq!(
        msg_texts(&hist["messages"]),
        vec!["again".to_string(), "psst".into()],
        "{hist}"
    );

    // "#name" and a bare room id.
    let chan = create_channel(&srv, &alice, "lobby", &[]).await;
    let cid = chan["_id"].as_str().unwrap();
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "channel": "#lobby", "text": "by name" }),
        )
        .await;
    assert_eq!(body["channel"], json!("#lobby"), "{body}");
    assert_eq!(body["message"]["rid"], json!(cid), "{body}");
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "channel": cid, "text": "by id" }),
        )
        .await;
    assert_eq!(body["message"]["rid"], json!(cid), "{body}");
    let body = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({ "roomId": cid, "text": "by roomId" }),
        )
        .await;
    assert_eq!(
        body["channel"],
        json!(cid),
        "with roomId, channel is the room id: {body}"
    );

    // Unknown targets.
    for target in ["#nope", "@nobody", "doesNotExist12345"] {
        let (status, body) = srv
            .post(
                "chat.postMessage",
                &alice,
                json!({ "channel": target, "text": "x" }),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            None,
            &format!("chat.postMessage to {target}"),
        );
    }
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &alice,
            json!({ "roomId": "doesNotExist12345", "text": "x" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "chat.postMessage to an unknown roomId",
    );
}
