//! Room settings and a member's room state as Rocket.Chat serves them:
//! `channels|groups.set*|rename|archive|unarchive`, `rooms.saveRoomSettings`, their
//! system messages, subscriptions and realtime events; `*.open|close|counters|
//! messages`, `rooms.isMember|favorite|nameExists|leave|delete`,
//! `subscriptions.unread`, `im.create` semantics.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

fn rid_of(room: &Value) -> String {
    room["_id"].as_str().expect("room _id").to_string()
}

/// The system messages (`t`, `msg`) of a room, oldest first.
async fn system_messages(srv: &Palaver, who: &Session, rid: &str) -> Vec<(String, String)> {
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=100"), who)
        .await;
    let mut out: Vec<(String, String)> = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["t"].is_string())
        .map(|m| {
            (
                m["t"].as_str().unwrap().to_string(),
                m["msg"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn channel_settings_change_the_room_leave_system_messages_and_are_authorized() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = rid_of(&create_channel(&srv, &alice, "town", &["bob"]).await);

    // The owner changes every text setting; each answers as Rocket.Chat does.
    let body = srv
        .post_ok(
            "channels.setTopic",
            &alice,
            json!({"roomId": rid, "topic": "news"}),
        )
        .await;
    assert_eq!(body["topic"], "news", "{body}");
    let body = srv
        .post_ok(
            "channels.setDescription",
            &alice,
            json!({"roomId": rid, "description": "a town square"}),
        )
        .await;
    assert_eq!(body["description"], "a town square", "{body}");
    let body = srv
        .post_ok(
            "channels.setAnnouncement",
            &alice,
            json!({"roomName": "town", "announcement": "market on friday"}),
        )
        .await;
    assert_eq!(body["announcement"], "market on friday", "{body}");
    let body = srv
        .post_ok(
            "channels.setPurpose",
            &alice,
            json!({"roomId": rid, "purpose": "meeting place"}),
        )
        .await;
    assert_eq!(body["purpose"], "meeting place", "{body}");
    let body = srv
        .post_ok(
            "channels.setCustomFields",
            &alice,
            json!({"roomId": rid, "customFields": {"district": "north"}}),
        )
        .await;
    assert_eq!(
        body["channel"]["customFields"]["district"], "north",
        "{body}"
    );
    let body = srv
        .post_ok(
            "channels.setJoinCode",
            &alice,
            json!({"roomId": rid, "joinCode": "1234"}),
        )
        .await;
    assert_eq!(body["channel"]["joinCodeRequired"], true, "{body}");
    assert!(
        !body.to_string().contains("1234"),
        "the join code must not be served: {body}"
    );

    // The same value again is refused for channels, as Rocket.Chat does.
    let (status, body) = srv
        .post(
            "channels.setTopic",
            &alice,
            json!({"roomId": rid, "topic": "news"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("is the same"),
        "{body}"
    );
    let (status, body) = srv
        .post("channels.setTopic", &alice, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"topic\" is required"),
        "{body}"
    );

    // A plain member may not edit the room (edit-room: admin, owner, moderator).
    let (status, body) = srv
        .post(
            "channels.setTopic",
            &bob,
            json!({"roomId": rid, "topic": "mine"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "bob sets topic",
    );
    // Renaming (as the owner), then the room under its new name.
    let body = srv
        .post_ok(
            "channels.rename",
            &alice,
            json!({"roomId": rid, "name": "city"}),
        )
        .await;
    assert_eq!(body["channel"]["name"], "city", "{body}");
    let info = srv.get_ok("channels.info?roomName=city", &bob).await;
    let room = &info["channel"];
    assert_eq!(room["_id"], json!(rid));
    assert_eq!(room["topic"], "news", "{room}");
    assert_eq!(room["description"], "meeting place", "{room}");
    assert_eq!(room["announcement"], "market on friday", "{room}");
    assert_eq!(room["customFields"]["district"], "north", "{room}");
    let sub = subscription(&srv, &bob, &rid).await.expect("bob's sub");
    assert_eq!(
        sub["name"], "city",
        "the subscription follows a rename: {sub}"
    );
    // Renaming onto a taken name is refused.
    create_channel(&srv, &carol, "village", &[]).await;
    let (status, body) = srv
        .post(
            "channels.rename",
            &alice,
            json!({"roomId": rid, "name": "village"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-duplicate-channel-name"),
        "rename clash",
    );

    // Read-only: only those holding post-readonly may post.
    let body = srv
        .post_ok(
            "channels.setReadOnly",
            &alice,
            json!({"roomId": rid, "readOnly": true}),
        )
        .await;
    assert_eq!(body["channel"]["ro"], true, "{body}");
    let (status, body) = srv
        .post(
            "chat.sendMessage",
            &bob,
            json!({"message": {"rid": rid, "msg": "hi"}}),
        )
        .await;
    assert_eq!(status, 400, "bob may not post read-only: {body}");
    post(&srv, &alice, &rid, "owner speaks").await;
    srv.post_ok(
        "channels.setReadOnly",
        &alice,
        json!({"roomId": rid, "readOnly": false}),
    )
    .await;

    // The type changes both ways (and with it the members' subscriptions).
    let body = srv
        .post_ok(
            "channels.setType",
            &alice,
            json!({"roomId": rid, "type": "p"}),
        )
        .await;
    assert_eq!(body["channel"]["t"], "p", "{body}");
    let sub = subscription(&srv, &bob, &rid).await.expect("bob's sub");
    assert_eq!(sub["t"], "p", "{sub}");
    let (status, body) = srv
        .get(&format!("channels.info?roomId={rid}"), &carol)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "now private",
    );
    let body = srv
        .post_ok(
            "groups.setType",
            &alice,
            json!({"roomId": rid, "type": "c"}),
        )
        .await;
    assert_eq!(body["group"]["t"], "c", "{body}");

    // Every change left Rocket.Chat's system message, in order.
    let notes = system_messages(&srv, &alice, &rid).await;
    let types: Vec<&str> = notes.iter().map(|(t, _)| t.as_str()).collect();
    for expected in [
        "room_changed_topic",
        "room_changed_description",
        "room_changed_announcement",
        "r",
        "room-set-read-only",
        "room-removed-read-only",
        "room_changed_privacy",
    ] {
        assert!(types.contains(&expected), "missing {expected}: {types:?}");
    }
    assert!(
        notes.contains(&("room_changed_topic".into(), "news".into())),
        "{notes:?}"
    );
    assert!(notes.contains(&("r".into(), "city".into())), "{notes:?}");
    assert!(
        notes.contains(&("room_changed_privacy".into(), "private".into())),
        "{notes:?}"
    );

    // rooms.saveRoomSettings: several at once; unknown settings refused.
    let body = srv
        .post_ok(
            "rooms.saveRoomSettings",
            &alice,
            json!({"rid": rid, "roomTopic": "t2", "roomAnnouncement": "a2", "readOnly": true}),
        )
        .await;
    assert_eq!(body["rid"], json!(rid));
    let info = srv
        .get_ok(&format!("rooms.info?roomId={rid}"), &alice)
        .await;
    assert_eq!(info["room"]["topic"], "t2", "{info}");
    assert_eq!(info["room"]["announcement"], "a2", "{info}");
    assert_eq!(info["room"]["ro"], true, "{info}");
    let (status, body) = srv
        .post(
            "rooms.saveRoomSettings",
            &alice,
            json!({"rid": rid, "bogus": 1}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-settings"),
        "bogus setting",
    );
    let (status, body) = srv
        .post(
            "rooms.saveRoomSettings",
            &bob,
            json!({"rid": rid, "roomTopic": "x"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "bob saves",
    );
}

#[tokio::test]
async fn archived_rooms_refuse_posts_and_joins_and_mark_subscriptions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = rid_of(&create_channel(&srv, &alice, "old", &["bob"]).await);
    let gid = rid_of(&create_group(&srv, &alice, "oldgroup", &["bob"]).await);

    // Only holders of archive-room (owner, admin) archive.
    let (status, body) = srv
        .post("channels.archive", &bob, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-authorized"),
        "bob archives",
    );
    srv.post_ok("channels.archive", &alice, json!({"roomId": rid}))
        .await;
    srv.post_ok("groups.archive", &alice, json!({"roomId": gid}))
        .await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert_eq!(info["channel"]["archived"], true, "{info}");
    let sub = subscription(&srv, &bob, &rid).await.expect("bob's sub");
    assert_eq!(sub["archived"], true, "{sub}");
    assert_eq!(sub["open"], false, "{sub}");

    // No posts (channel or group), no joins, no second archive; history stays readable.
    for room in [&rid, &gid] {
        let (status, body) = srv
            .post(
                "chat.sendMessage",
                &bob,
                json!({"message": {"rid": room, "msg": "hello?"}}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-room-archived"),
            "post archived",
        );
    }
    let (status, body) = srv
        .post("channels.join", &carol, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-archived"),
        "join archived",
    );
    let (status, body) = srv
        .post("channels.archive", &alice, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-archived"),
        "archive twice",
    );
    let notes = system_messages(&srv, &bob, &rid).await;
    assert_eq!(
        notes.last().map(|(t, _)| t.as_str()),
        Some("room-archived"),
        "{notes:?}"
    );

    // Unarchiving is for admins (unarchive-room); then posts work again.
    let (status, body) = srv
        .post("channels.unarchive", &alice, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-authorized"),
        "owner unarchives",
    );
    srv.post_ok("channels.unarchive", &admin, json!({"roomId": rid}))
        .await;
    let (status, body) = srv
        .post("channels.unarchive", &admin, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 400, "not archived any more: {body}");
    let sub = subscription(&srv, &bob, &rid).await.expect("bob's sub");
    assert!(
        sub["archived"] != json!(true) && sub["open"] == json!(true),
        "{sub}"
    );
    post(&srv, &bob, &rid, "back again").await;
    srv.post_ok("channels.join", &carol, json!({"roomId": rid}))
        .await;
    let notes = system_messages(&srv, &bob, &rid).await;
    assert!(
        notes.iter().any(|(t, _)| t == "room-unarchived"),
        "{notes:?}"
    );
}

#[tokio::test]
async fn room_changes_reach_members_over_realtime() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &alice, "live", &["bob"]).await);
    let uid = bob.user_id.clone();
    let mut b = Ddp::connect_as(&srv, &bob).await;
    let rooms_event = format!("{uid}/rooms-changed");
    let subs_event = format!("{uid}/subscriptions-changed");
    b.sub("stream-notify-user", json!([rooms_event, false]))
        .await;
    b.sub("stream-notify-user", json!([subs_event, false]))
        .await;

    srv.post_ok(
        "channels.setTopic",
        &alice,
        json!({"roomId": rid, "topic": "fresh"}),
    )
    .await;
    b.wait_for("rooms-changed with the new topic", |v| {
        v["fields"]["eventName"] == json!(rooms_event)
            && v["fields"]["args"][0] == "updated"
            && v["fields"]["args"][1]["topic"] == "fresh"
    })
    .await;
    srv.post_ok(
        "channels.rename",
        &alice,
        json!({"roomId": rid, "name": "alive"}),
    )
    .await;
    b.wait_for("subscriptions-changed with the new name", |v| {
        v["fields"]["eventName"] == json!(subs_event) && v["fields"]["args"][1]["name"] == "alive"
    })
    .await;
    srv.post_ok("channels.archive", &alice, json!({"roomId": rid}))
        .await;
    b.wait_for("rooms-changed archived", |v| {
        v["fields"]["eventName"] == json!(rooms_event) && v["fields"]["args"][1]["archived"] == true
    })
    .await;
    b.wait_for("subscriptions-changed archived", |v| {
        v["fields"]["eventName"] == json!(subs_event) && v["fields"]["args"][1]["archived"] == true
    })
    .await;
}

#[tokio::test]
async fn member_room_state_open_favorite_unread_and_counters() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = rid_of(&create_channel(&srv, &alice, "hall", &["bob"]).await);
    let gid = rid_of(&create_group(&srv, &alice, "den", &["bob"]).await);

    // open / close.
    srv.post_ok("channels.close", &bob, json!({"roomId": rid}))
        .await;
    let sub = subscription(&srv, &bob, &rid).await.unwrap();
    assert_eq!(sub["open"], false, "{sub}");
    let (status, body) = srv
        .post("channels.close", &bob, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 400, "closed twice: {body}");
    srv.post_ok("channels.open", &bob, json!({"roomId": rid}))
        .await;
    assert_eq!(subscription(&srv, &bob, &rid).await.unwrap()["open"], true);
    srv.post_ok("groups.close", &bob, json!({"roomId": gid}))
        .await;
    let (status, body) = srv
        .post("channels.open", &carol, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 400, "carol is not in it: {body}");

    // favourite.
    srv.post_ok(
        "rooms.favorite",
        &bob,
        json!({"roomId": rid, "favorite": true}),
    )
    .await;
    assert_eq!(subscription(&srv, &bob, &rid).await.unwrap()["f"], true);
    srv.post_ok(
        "rooms.favorite",
        &bob,
        json!({"roomId": rid, "favorite": false}),
    )
    .await;
    assert_ne!(subscription(&srv, &bob, &rid).await.unwrap()["f"], true);
    let (status, _) = srv
        .post(
            "rooms.favorite",
            &carol,
            json!({"roomId": rid, "favorite": true}),
        )
        .await;
    assert_eq!(status, 400, "carol has no subscription to star");

    // counters and unread.
    for text in ["one", "two", "three"] {
        post(&srv, &alice, &rid, text).await;
    }
    let c = srv
        .get_ok(&format!("channels.counters?roomId={rid}"), &bob)
        .await;
    assert_eq!(c["joined"], true, "{c}");
    assert_eq!(c["members"], 2, "{c}");
    assert!(c["unreads"].as_u64().unwrap() >= 3, "{c}");
    assert!(c["msgs"].as_u64().unwrap() >= 3, "{c}");
    assert!(
        c["latest"].is_string() && c["unreadsFrom"].is_string(),
        "{c}"
    );
    srv.post_ok("subscriptions.read", &bob, json!({"rid": rid}))
        .await;
    let c = srv
        .get_ok(&format!("channels.counters?roomId={rid}"), &bob)
        .await;
    assert!(c["unreads"].as_u64().unwrap() <= 1, "{c}");
    let outsider = srv
        .get_ok(&format!("channels.counters?roomId={rid}"), &carol)
        .await;
    assert_eq!(outsider["joined"], false, "{outsider}");
    assert!(
        outsider["msgs"].is_null() && outsider["unreads"].is_null(),
        "{outsider}"
    );
    // Another user's counters are for admins only.
    let (status, _) = srv
        .get(
            &format!("channels.counters?roomId={rid}&userId={}", bob.user_id),
            &carol,
        )
        .await;
    assert_eq!(status, 403);
    let hist = srv
        .get_ok(&format!("channels.messages?roomId={rid}"), &carol)
        .await;
    let second = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["msg"] == "two")
        .expect("message two")["_id"]
        .clone();
    srv.post_ok(
        "subscriptions.unread",
        &bob,
        json!({"firstUnreadMessage": {"_id": second}}),
    )
    .await;
    let sub = subscription(&srv, &bob, &rid).await.unwrap();
    assert_eq!(sub["alert"], true, "{sub}");
    assert_eq!(sub["unread"], 2, "two and three are unread again: {sub}");
    let (status, body) = srv
        .post(
            "subscriptions.unread",
            &alice,
            json!({"firstUnreadMessage": {"_id": second}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "own message",
    );

    // A public channel reads for anyone logged in; a group only for members.
    assert_eq!(
        hist["total"],
        json!(hist["messages"].as_array().unwrap().len())
    );
    assert!(
        msg_texts(&hist["messages"]).contains(&"three".to_string()),
        "{hist}"
    );
    let (status, _) = srv
        .get(&format!("groups.messages?roomId={gid}"), &carol)
        .await;
    assert_eq!(status, 400);
    srv.get_ok(&format!("groups.messages?roomId={gid}"), &bob)
        .await;

    // isMember, nameExists.
    let m = srv
        .get_ok(&format!("rooms.isMember?roomId={rid}&username=bob"), &carol)
        .await;
    assert_eq!(m["isMember"], true, "{m}");
    let m = srv
        .get_ok(
            &format!("rooms.isMember?roomId={rid}&userId={}", carol.user_id),
            &bob,
        )
        .await;
    assert_eq!(m["isMember"], false, "{m}");
    let (status, body) = srv
        .get(&format!("rooms.isMember?roomId={gid}&username=bob"), &carol)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "unauthorized", "{body}");
    let e = srv.get_ok("rooms.nameExists?roomName=HALL", &carol).await;
    assert_eq!(e["exists"], true, "{e}");
    let e = srv
        .get_ok("rooms.nameExists?roomName=nowhere", &carol)
        .await;
    assert_eq!(e["exists"], false, "{e}");

    // rooms.leave, rooms.delete (owner only).
    srv.post_ok("rooms.leave", &bob, json!({"roomId": gid}))
        .await;
    assert!(subscription(&srv, &bob, &gid).await.is_none());
    let (status, _) = srv.post("rooms.delete", &bob, json!({"roomId": rid})).await;
    assert!(
        status == 400 || status == 403,
        "bob may not delete: {status}"
    );
    srv.post_ok("rooms.delete", &alice, json!({"roomId": rid}))
        .await;
    let (status, _) = srv
        .get(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn direct_messages_as_rocket_chat_creates_and_serves_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let _bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    // A self-DM: its id is the user's own.
    let body = srv
        .post_ok("im.create", &alice, json!({"username": "alice"}))
        .await;
    assert_eq!(body["room"]["_id"], json!(alice.user_id), "{body}");
    // excludeSelf: a DM between others, opened by an admin.
    let body = srv
        .post_ok(
            "im.create",
            &admin,
            json!({"usernames": "bob,carol", "excludeSelf": true}),
        )
        .await;
    let uids = body["room"]["uids"].as_array().unwrap().clone();
    assert_eq!(uids.len(), 2, "{body}");
    assert!(!uids.contains(&json!(admin.user_id)), "{body}");
    // excludeSelf with one other user is not a conversation.
    let (status, body) = srv
        .post(
            "im.create",
            &admin,
            json!({"username": "bob", "excludeSelf": true}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "lonely excludeSelf",
    );

    // im.messages by username opens the DM when needed.
    let body = srv.get_ok("im.messages?username=bob", &alice).await;
    assert_eq!(body["messages"], json!([]), "{body}");
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let dm_id = dm["room"]["_id"].as_str().unwrap().to_string();
    post(&srv, &alice, &dm_id, "psst").await;
    let body = srv
        .get_ok(&format!("im.messages?roomId={dm_id}"), &alice)
        .await;
    assert_eq!(
        msg_texts(&body["messages"]),
        vec!["psst".to_string()],
        "{body}"
    );

    // open/close: opening an open DM is fine; closing twice is not; strangers are
    // unauthorized.
    srv.post_ok("im.open", &alice, json!({"roomId": dm_id}))
        .await;
    srv.post_ok("im.close", &alice, json!({"roomId": dm_id}))
        .await;
    let (status, body) = srv.post("im.close", &alice, json!({"roomId": dm_id})).await;
    assert_eq!(status, 400, "{body}");
    srv.post_ok("im.open", &alice, json!({"roomId": dm_id}))
        .await;
    let (status, body) = srv.post("im.open", &carol, json!({"roomId": dm_id})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "unauthorized", "{body}");
    let c = srv
        .get_ok(&format!("im.counters?roomId={dm_id}"), &alice)
        .await;
    assert_eq!(c["joined"], true, "{c}");
    assert_eq!(c["members"], 2, "{c}");
}
