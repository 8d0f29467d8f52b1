//! REST private groups: `groups.create|list|info|history|members|invite|kick|leave`,
//! and that a private group is invisible to non-members everywhere.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn private_group_lifecycle_and_invisibility_to_non_members() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    let group = create_group(&srv, &alice, "secret", &["bob"]).await;
    assert_room_shape(&group, "p", Some("secret"), "groups.create");
    assert_eq!(group["usersCount"], json!(2), "{group}");
    assert_eq!(group["u"]["username"], json!("alice"), "{group}");
    let gid = group["_id"].as_str().unwrap().to_string();
    let secret = post(&srv, &alice, &gid, "the secret plan").await;
    let secret_id = secret["_id"].as_str().unwrap().to_string();

    // Failures of create.
    let (status, body) = srv
        .post("groups.create", &carol, json!({ "name": "secret" }))
        .await;
    assert_error_one_of(
        status,
        &body,
        &["error-duplicate-channel-name", "error-field-unavailable"],
        "duplicate group",
    );
    let (status, body) = srv.post("groups.create", &carol, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "groups.create without name",
    );

    // Members see it.
    let list = srv.get_ok("groups.list", &bob).await;
    assert!(
        ids(&list["groups"]).contains(&gid),
        "bob is a member: {list}"
    );
    assert!(
        list["count"].is_u64() && list["offset"] == json!(0) && list["total"].is_u64(),
        "{list}"
    );
    let info = srv.get_ok(&format!("groups.info?roomId={gid}"), &bob).await;
    assert_room_shape(&info["group"], "p", Some("secret"), "groups.info");
    let info = srv.get_ok("groups.info?roomName=secret", &bob).await;
    assert_eq!(info["group"]["_id"], json!(gid));
    let hist = srv
        .get_ok(&format!("groups.history?roomId={gid}"), &bob)
        .await;
    assert_eq!(
        msg_texts(&hist["messages"]),
        vec!["the secret plan".to_string()],
        "{hist}"
    );
    let members = srv
        .get_ok(&format!("groups.members?roomId={gid}"), &bob)
        .await;
    assert_page(&members, "members", 2, 0, 2, "groups.members");

    // A non-member sees nothing of it, anywhere.
    let not_found = |ctx: &str, status, body: &serde_json::Value| {
        assert_error(status, body, 400, Some("error-room-not-found"), ctx);
        assert!(
            !body.to_string().contains("secret plan"),
            "{ctx} leaked content: {body}"
        );
    };
    let (status, body) = srv.get(&format!("groups.info?roomId={gid}"), &carol).await;
    not_found("groups.info by a non-member", status, &body);
    let (status, body) = srv.get("groups.info?roomName=secret", &carol).await;
    not_found("groups.info by name by a non-member", status, &body);
    let (status, body) = srv
        .get(&format!("groups.history?roomId={gid}"), &carol)
        .await;
    not_found("groups.history by a non-member", status, &body);
    let (status, body) = srv
        .get(&format!("groups.members?roomId={gid}"), &carol)
        .await;
    not_found("groups.members by a non-member", status, &body);
    let (status, body) = srv
        .post("groups.leave", &carol, json!({ "roomId": gid }))
        .await;
    not_found("groups.leave by a non-member", status, &body);
    let (status, body) = srv
        .post("channels.join", &carol, json!({ "roomId": gid }))
        .await;
    not_found("channels.join on a private group", status, &body);
    let list = srv.get_ok("groups.list", &carol).await;
    assert!(
        !ids(&list["groups"]).contains(&gid),
        "groups.list of a non-member: {list}"
    );
    let list = srv.get_ok("channels.list", &carol).await;
    assert!(
        !ids(&list["channels"]).contains(&gid),
        "channels.list shows a private group: {list}"
    );
    let rooms = srv.get_ok("rooms.get", &carol).await;
    assert!(
        !ids(&rooms["update"]).contains(&gid),
        "rooms.get of a non-member: {rooms}"
    );
    assert!(subscription(&srv, &carol, &gid).await.is_none());
    let (status, body) = srv.get(&format!("rooms.info?roomId={gid}"), &carol).await;
    assert_refused(
        status,
        &body,
        "rooms.info of a private group by a non-member",
    );
    assert!(
        body.get("room").is_none(),
        "rooms.info leaked the room: {body}"
    );
    let (status, body) = srv
        .get(&format!("chat.getMessage?msgId={secret_id}"), &carol)
        .await;
    assert_refused(
        status,
        &body,
        "chat.getMessage in a private group by a non-member",
    );
    assert!(
        !body.to_string().contains("secret plan"),
        "chat.getMessage leaked: {body}"
    );
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &carol,
            json!({ "roomId": gid, "text": "let me in" }),
        )
        .await;
    assert_refused(
        status,
        &body,
        "chat.postMessage into a private group by a non-member",
    );
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &carol,
            json!({ "channel": "#secret", "text": "let me in" }),
        )
        .await;
    assert_refused(status, &body, "chat.postMessage to #group by a non-member");
    let (status, body) = srv
        .post(
            "chat.sendMessage",
            &carol,
            json!({ "message": { "rid": gid, "msg": "let me in" } }),
        )
        .await;
    assert_refused(
        status,
        &body,
        "chat.sendMessage into a private group by a non-member",
    );
    let (status, body) = srv
        .post(
            "chat.react",
            &carol,
            json!({ "messageId": secret_id, "emoji": ":eyes:" }),
        )
        .await;
    assert_refused(
        status,
        &body,
        "chat.react in a private group by a non-member",
    );
    let (status, body) = srv
        .get(&format!("chat.getThreadMessages?tmid={secret_id}"), &carol)
        .await;
    assert_refused(
        status,
        &body,
        "chat.getThreadMessages in a private group by a non-member",
    );
    let (status, body) = srv
        .post("subscriptions.read", &carol, json!({ "rid": gid }))
        .await;
    assert_refused(
        status,
        &body,
        "subscriptions.read of a private group by a non-member",
    );
    let hist = srv
        .get_ok(&format!("groups.history?roomId={gid}"), &alice)
        .await;
    assert_eq!(
        msg_texts(&hist["messages"]),
        vec!["the secret plan".to_string()],
        "nothing got in: {hist}"
    );
    let msg = srv
        .get_ok(&format!("chat.getMessage?msgId={secret_id}"), &alice)
        .await;
    assert!(
        msg["message"]
            .get("reactions")
            .is_none_or(|r| r.as_object().is_some_and(|o| o.is_empty())),
        "{msg}"
    );

    // invite
    let body = srv
        .post_ok(
            "groups.invite",
            &alice,
            json!({ "roomId": gid, "userId": carol.user_id }),
        )
        .await;
    assert_eq!(
        body["group"]["_id"],
        json!(gid),
        "groups.invite answer: {body}"
    );
    assert_eq!(body["group"]["usersCount"], json!(3), "{body}");
    let hist = srv
        .get_ok(&format!("groups.history?roomId={gid}"), &carol)
        .await;
    assert!(
        msg_texts(&hist["messages"]).contains(&"the secret plan".to_string()),
        "{hist}"
    );
    let (status, body) = srv
        .post(
            "groups.invite",
            &alice,
            json!({ "roomId": gid, "userId": "doesNotExist12345" }),
        )
        .await;
    assert_error(status, &body, 400, None, "groups.invite unknown user");

    // kick: only by the owner
    let (status, body) = srv
        .post(
            "groups.kick",
            &bob,
            json!({ "roomId": gid, "userId": carol.user_id }),
        )
        .await;
    assert_refused(status, &body, "groups.kick by a plain member");
    srv.get_ok(&format!("groups.info?roomId={gid}"), &carol)
        .await;
    let body = srv
        .post_ok(
            "groups.kick",
            &alice,
            json!({ "roomId": gid, "userId": carol.user_id }),
        )
        .await;
    assert_eq!(body["success"], json!(true));
    let (status, body) = srv.get(&format!("groups.info?roomId={gid}"), &carol).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "groups.info after being kicked",
    );
    let members = srv
        .get_ok(&format!("groups.members?roomId={gid}"), &alice)
        .await;
    let names: BTreeSet<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"].into_iter().collect(), "{members}");
    let hist = srv
        .get_ok(&format!("groups.history?roomId={gid}"), &alice)
        .await;
    assert!(
        hist["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["t"] == json!("ru") && m["msg"] == json!("carol")),
        "no `ru` system message for carol: {hist}"
    );
    let (status, body) = srv
        .post(
            "groups.kick",
            &alice,
            json!({ "roomId": gid, "userId": "doesNotExist12345" }),
        )
        .await;
    assert_error(status, &body, 400, None, "groups.kick unknown user");
    // Kicking someone who is not a member: refused to the owner (Rocket.Chat's
    // `error-user-not-in-room`), a no-op success for whoever may kick from any
    // group (the admin), with no `ru` message.
    let (status, body) = srv
        .post(
            "groups.kick",
            &alice,
            json!({ "roomId": gid, "userId": carol.user_id }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-not-in-room"),
        "owner kicks a non-member",
    );
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "kick-user-from-any-p-room", "roles": ["admin"]}]}),
    )
    .await;
    srv.post_ok(
        "groups.kick",
        &admin,
        json!({ "roomId": gid, "userId": carol.user_id }),
    )
    .await;
    let after = srv
        .get_ok(&format!("groups.history?roomId={gid}"), &alice)
        .await;
    assert_eq!(
        after["messages"], hist["messages"],
        "a no-op kick posts nothing"
    );

    // leave
    let body = srv
        .post_ok("groups.leave", &bob, json!({ "roomId": gid }))
        .await;
    assert_eq!(body["success"], json!(true));
    let list = srv.get_ok("groups.list", &bob).await;
    assert!(!ids(&list["groups"]).contains(&gid), "bob left: {list}");
    let (status, body) = srv.get(&format!("groups.history?roomId={gid}"), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "groups.history after leaving",
    );
    let info = srv
        .get_ok(&format!("groups.info?roomId={gid}"), &alice)
        .await;
    assert_eq!(info["group"]["usersCount"], json!(1), "{info}");

    // unknown groups
    let (status, body) = srv
        .get("groups.info?roomId=doesNotExist12345", &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-room-not-found"),
        "groups.info unknown",
    );
    let (status, body) = srv.get("groups.info", &alice).await;
    assert_error(status, &body, 400, None, "groups.info without a room");
}

#[tokio::test]
async fn groups_list_paginates() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    for i in 0..7 {
        create_group(&srv, &admin, &format!("g-{i}"), &["bob"]).await;
    }
    create_group(&srv, &admin, "not-bobs", &[]).await;
    let all = srv.get_ok("groups.list", &bob).await;
    assert_page(&all, "groups", 7, 0, 7, "groups.list");
    for g in all["groups"].as_array().unwrap() {
        assert_eq!(g["t"], json!("p"), "{g}");
    }
    let page = srv.get_ok("groups.list?offset=5&count=5", &bob).await;
    assert_page(&page, "groups", 2, 5, 7, "groups.list page 2");
    let page1 = srv.get_ok("groups.list?offset=0&count=5", &bob).await;
    let mut seen = ids(&page1["groups"]);
    seen.extend(ids(&page["groups"]));
    let unique: BTreeSet<_> = seen.into_iter().collect();
    assert_eq!(unique, id_set(&all["groups"]), "pages partition the list");
}
