//! REST public channels: `channels.create|list|list.joined|join|leave|invite|info|
//! history|members|delete`, pagination of lists, read-only channels.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

fn has_system(messages: &Value, t: &str, pred: impl Fn(&Value) -> bool) -> bool {
    messages
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["t"] == json!(t) && pred(m))
}

#[tokio::test]
async fn channel_lifecycle_create_join_invite_leave_delete() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;

    // create
    let chan = create_channel(&srv, &alice, "team", &["bob"]).await;
    assert_room_shape(&chan, "c", Some("team"), "channels.create");
    let rid = chan["_id"].as_str().unwrap().to_string();
    assert_rc_id(&chan["_id"], "channel _id");
    assert_eq!(chan["u"]["_id"], json!(alice.user_id), "creator: {chan}");
    assert_eq!(chan["u"]["username"], json!("alice"), "creator: {chan}");
    assert_eq!(chan["usersCount"], json!(2), "creator + bob: {chan}");
    assert_eq!(chan["msgs"], json!(0), "{chan}");
    assert_eq!(chan["ro"], json!(false), "{chan}");
    assert_eq!(chan["fname"], json!("team"), "fname: {chan}");
    // Members who do not exist are left out, as Rocket.Chat's createRoom does.
    let body = srv
        .post_ok(
            "channels.create",
            &carol,
            json!({ "name": "partial", "members": ["dave", "nobody-here"] }),
        )
        .await;
    assert_eq!(
        body["channel"]["usersCount"],
        json!(2),
        "carol + dave: {body}"
    );

    // create failures
    let (status, body) = srv
        .post("channels.create", &carol, json!({ "name": "team" }))
        .await;
    assert_error_one_of(
        status,
        &body,
        &["error-duplicate-channel-name", "error-field-unavailable"],
        "duplicate channel",
    );
    let (status, body) = srv
        .post("channels.create", &carol, json!({ "name": "TEAM" }))
        .await;
    assert_error_one_of(
        status,
        &body,
        &["error-duplicate-channel-name", "error-field-unavailable"],
        "duplicate, other case",
    );
    let (status, body) = srv.post("channels.create", &carol, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "channels.create without name",
    );
    let (status, body) = srv
        .post(
            "channels.create",
            &carol,
            json!({ "name": { "not": "a string" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "channels.create with an object as name",
    );
    for bad in ["", "has space", "semi;colon", "#hash"] {
        let (status, body) = srv
            .post("channels.create", &carol, json!({ "name": bad }))
            .await;
        assert_error(
            status,
            &body,
            400,
            None,
            &format!("channels.create with name {bad:?}"),
        );
    }
    let (status, body) = srv
        .post(
            "channels.create",
            &carol,
            json!({ "name": "x", "members": "bob" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "channels.create with members not an array",
    );

    // info by id and by name
    let by_id = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &carol)
        .await;
    assert_room_shape(&by_id["channel"], "c", Some("team"), "channels.info");
    assert_eq!(by_id["channel"]["_id"], json!(rid));
    let by_name = srv.get_ok("channels.info?roomName=team", &carol).await;
    assert_eq!(by_name["channel"]["_id"], json!(rid));
    let (status, body) = srv
        .get("channels.info?roomId=doesNotExist12345", &carol)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.info unknown id",
    );
    let (status, body) = srv.get("channels.info?roomName=nope", &carol).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.info unknown name",
    );
    let (status, body) = srv.get("channels.info", &carol).await;
    assert_error(status, &body, 400, None, "channels.info without a room");

    // list / list.joined
    let list = srv.get_ok("channels.list", &carol).await;
    assert!(
        ids(&list["channels"]).contains(&rid),
        "a public channel is listed for everyone: {list}"
    );
    assert!(
        list["count"].is_u64() && list["offset"] == json!(0) && list["total"].is_u64(),
        "{list}"
    );
    let joined = srv.get_ok("channels.list.joined", &carol).await;
    assert!(
        !ids(&joined["channels"]).contains(&rid),
        "carol has not joined: {joined}"
    );
    assert!(joined["total"].is_u64(), "{joined}");
    let joined = srv.get_ok("channels.list.joined", &bob).await;
    assert!(
        ids(&joined["channels"]).contains(&rid),
        "bob was added at creation: {joined}"
    );

    // join
    let body = srv
        .post_ok("channels.join", &carol, json!({ "roomId": rid }))
        .await;
    assert_eq!(
        body["channel"]["_id"],
        json!(rid),
        "channels.join answer: {body}"
    );
    assert_eq!(body["channel"]["usersCount"], json!(3), "{body}");
    srv.post_ok("channels.join", &carol, json!({ "roomId": rid }))
        .await; // idempotent
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &carol)
        .await;
    assert_eq!(
        info["channel"]["usersCount"],
        json!(3),
        "joining twice counts once: {info}"
    );
    let joined = srv.get_ok("channels.list.joined", &carol).await;
    assert!(ids(&joined["channels"]).contains(&rid));
    let (status, body) = srv
        .post(
            "channels.join",
            &carol,
            json!({ "roomId": "doesNotExist12345" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.join unknown room",
    );
    let (status, body) = srv.post("channels.join", &carol, json!({})).await;
    assert_error(status, &body, 400, None, "channels.join without roomId");

    // members
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), &carol)
        .await;
    assert_page(&members, "members", 3, 0, 3, "channels.members");
    let usernames: BTreeSet<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(usernames, ["alice", "bob", "carol"].into_iter().collect());
    for m in members["members"].as_array().unwrap() {
        assert_rc_id(&m["_id"], "member _id");
        assert!(
            m.get("emails").is_none(),
            "channels.members leaks e-mails: {m}"
        );
        assert_no_secrets(m, "channels.members");
    }
    let page = srv
        .get_ok(
            &format!("channels.members?roomId={rid}&count=1&offset=1"),
            &carol,
        )
        .await;
    assert_page(&page, "members", 1, 1, 3, "channels.members page");
    let (status, body) = srv
        .get("channels.members?roomId=doesNotExist12345", &carol)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.members unknown room",
    );

    // invite
    let body = srv
        .post_ok(
            "channels.invite",
            &alice,
            json!({ "roomId": rid, "userId": dave.user_id }),
        )
        .await;
    assert_eq!(
        body["channel"]["_id"],
        json!(rid),
        "channels.invite answer: {body}"
    );
    assert_eq!(body["channel"]["usersCount"], json!(4), "{body}");
    let joined = srv.get_ok("channels.list.joined", &dave).await;
    assert!(
        ids(&joined["channels"]).contains(&rid),
        "dave was invited: {joined}"
    );
    let (status, body) = srv
        .post(
            "channels.invite",
            &alice,
            json!({ "roomId": rid, "userId": "doesNotExist12345" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "channels.invite unknown user",
    );
    let (status, body) = srv
        .post(
            "channels.invite",
            &alice,
            json!({ "roomId": "doesNotExist12345", "userId": dave.user_id }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.invite unknown room",
    );

    // leave
    let body = srv
        .post_ok("channels.leave", &carol, json!({ "roomId": rid }))
        .await;
    assert_eq!(
        body["channel"]["_id"],
        json!(rid),
        "channels.leave answer: {body}"
    );
    let joined = srv.get_ok("channels.list.joined", &carol).await;
    assert!(
        !ids(&joined["channels"]).contains(&rid),
        "carol left: {joined}"
    );
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), &alice)
        .await;
    assert_eq!(members["total"], json!(3), "after carol left: {members}");
    let (status, body) = srv
        .post("channels.leave", &carol, json!({ "roomId": rid }))
        .await;
    assert_error(status, &body, 400, None, "leaving a channel one is not in");
    let (status, body) = srv
        .post(
            "channels.leave",
            &carol,
            json!({ "roomId": "doesNotExist12345" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.leave unknown room",
    );

    // system messages for join / add / leave
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    let msgs = &hist["messages"];
    assert!(
        has_system(msgs, "uj", |m| m["u"]["username"] == json!("carol")),
        "no `uj` for carol: {hist}"
    );
    assert!(
        has_system(msgs, "au", |m| m["msg"] == json!("dave")),
        "no `au` for dave: {hist}"
    );
    assert!(
        has_system(msgs, "ul", |m| m["u"]["username"] == json!("carol")),
        "no `ul` for carol: {hist}"
    );

    // delete: refused to a non-owner, allowed to the admin
    let (status, body) = srv
        .post("channels.delete", &carol, json!({ "roomId": rid }))
        .await;
    assert_refused(status, &body, "channels.delete by a non-member");
    let (status, body) = srv
        .post("channels.delete", &bob, json!({ "roomId": rid }))
        .await;
    assert_refused(status, &body, "channels.delete by a plain member");
    srv.get_ok(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    let body = srv
        .post_ok("channels.delete", &admin, json!({ "roomId": rid }))
        .await;
    assert_eq!(body, json!({ "success": true }), "channels.delete answer");
    let (status, body) = srv
        .get(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.info after delete",
    );
    let (status, body) = srv
        .get(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.history after delete",
    );
    let list = srv.get_ok("channels.list?count=100", &carol).await;
    assert!(
        !ids(&list["channels"]).contains(&rid),
        "deleted channel still listed: {list}"
    );
    assert!(
        subscription(&srv, &bob, &rid).await.is_none(),
        "bob still subscribed to a deleted room"
    );
    let (status, body) = srv
        .post("channels.delete", &admin, json!({ "roomId": rid }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "deleting twice",
    );
}

#[tokio::test]
async fn channels_owner_can_delete_and_names_are_shared_with_groups() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;

    let chan = create_channel(&srv, &alice, "mine", &[]).await;
    let rid = chan["_id"].as_str().unwrap();
    assert_eq!(chan["usersCount"], json!(1));
    // The room owner (its creator) may delete it.
    srv.post_ok("channels.delete", &alice, json!({ "roomId": rid }))
        .await;

    // A group's name is taken for channels and vice versa.
    create_group(&srv, &bob, "shared-name", &[]).await;
    let (status, body) = srv
        .post("channels.create", &alice, json!({ "name": "shared-name" }))
        .await;
    assert_error_one_of(
        status,
        &body,
        &["error-duplicate-channel-name", "error-field-unavailable"],
        "channel named as a group",
    );
    create_channel(&srv, &alice, "chan-name", &[]).await;
    let (status, body) = srv
        .post("groups.create", &bob, json!({ "name": "chan-name" }))
        .await;
    assert_error_one_of(
        status,
        &body,
        &["error-duplicate-channel-name", "error-field-unavailable"],
        "group named as a channel",
    );

    // channels.* do not address groups.
    let group = create_group(&srv, &bob, "only-group", &["alice"]).await;
    let gid = group["_id"].as_str().unwrap();
    let (status, body) = srv.get(&format!("channels.info?roomId={gid}"), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.info on a group",
    );
    let (status, body) = srv
        .get(&format!("channels.history?roomId={gid}"), &bob)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "channels.history on a group",
    );
}

#[tokio::test]
async fn read_only_channel_refuses_posts_from_non_owners() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;

    let body = srv
        .post_ok(
            "channels.create",
            &alice,
            json!({ "name": "announcements", "members": ["bob"], "readOnly": true }),
        )
        .await;
    let chan = &body["channel"];
    assert_eq!(
        chan["ro"],
        json!(true),
        "readOnly channel has ro:true: {chan}"
    );
    let rid = chan["_id"].as_str().unwrap().to_string();
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert_eq!(info["channel"]["ro"], json!(true));

    let (status, body) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({ "roomId": rid, "text": "from bob" }),
        )
        .await;
    assert_refused(status, &body, "a member posting in a read-only room");
    let (status, body) = srv
        .post(
            "chat.sendMessage",
            &bob,
            json!({ "message": { "rid": rid, "msg": "from bob again" } }),
        )
        .await;
    assert_refused(status, &body, "a member sending in a read-only room");

    // The owner posts fine.
    post(&srv, &alice, &rid, "from the owner").await;
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    assert_eq!(
        msg_texts(&hist["messages"]),
        vec!["from the owner".to_string()],
        "{hist}"
    );
}

/// `channels.getAllUserMentionsByChannel`: the messages of a room that mention the
/// caller, paged, and nothing of a private group the caller is not in.
#[tokio::test]
async fn mentions_by_channel_lists_the_callers_mentions_in_that_room() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "mentions", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    post(&srv, &alice, &rid, "@bob first").await;
    post(&srv, &alice, &rid, "nobody here").await;
    post(&srv, &alice, &rid, "again @bob").await;

    let path = format!("channels.getAllUserMentionsByChannel?roomId={rid}");
    let body = srv.get_ok(&path, &bob).await;
    assert_eq!(body["total"], json!(2), "{body}");
    assert_eq!(body["count"], json!(2), "{body}");
    assert_eq!(body["offset"], json!(0), "{body}");
    let mut texts = msg_texts(&body["mentions"]);
    texts.sort();
    assert_eq!(texts, vec!["@bob first", "again @bob"], "{body}");
    let body = srv.get_ok(&format!("{path}&count=1"), &bob).await;
    assert_eq!(
        (body["count"].clone(), body["total"].clone()),
        (json!(1), json!(2))
    );
    let body = srv.get_ok(&path, &alice).await;
    assert_eq!(body["total"], json!(0), "alice is not mentioned: {body}");

    let (status, body) = srv.get("channels.getAllUserMentionsByChannel", &bob).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no roomId");
    assert_eq!(
        body["error"],
        json!("must have required property 'roomId' [invalid-params]")
    );
    let group = create_group(&srv, &alice, "hidden", &[]).await;
    let gid = group["_id"].as_str().unwrap();
    let (status, body) = srv
        .get(
            &format!("channels.getAllUserMentionsByChannel?roomId={gid}"),
            &bob,
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
}
