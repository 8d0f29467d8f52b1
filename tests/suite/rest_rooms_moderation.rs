//! Room moderation and administration as Rocket.Chat serves them: muting
//! (`rooms.muteUser|unmuteUser`, realtime `muteUserInRoom`, read-only rooms' exceptions),
//! `rooms.cleanHistory`, `rooms.leave`'s rules, the administrators' listings
//! (`rooms.adminRooms`, `groups.listAll`, `im.list.everyone`, `im.messages.others`),
//! the autocompletes, `*.moderators|online`, `channels.anonymousread`, saved room
//! fields (`featured`, `favorite`, `sysMes`) and who may download a room's files.

use palaver_tests::ddp::Ddp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::{auth, fetch, media_and_confirm, pattern, set_setting};

fn rid_of(room: &Value) -> String {
    str_of(&room["_id"], "room _id").to_string()
}

async fn set_permission(srv: &Palaver, admin: &Session, id: &str, roles: &[&str]) {
    srv.post_ok(
        "permissions.update",
        admin,
        json!({"permissions": [{"_id": id, "roles": roles}]}),
    )
    .await;
}

/// The `t` of the room's newest messages, newest first.
async fn recent_types(srv: &Palaver, who: &Session, rid: &str) -> Vec<String> {
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=20"), who)
        .await;
    hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["t"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn muted_members_cannot_post_and_read_only_rooms_take_unmuted_members() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = rid_of(&create_channel(&srv, &alice, "hall", &["bob", "carol"]).await);

    // A plain member may not mute; the owner may.
    let (status, body) = srv
        .post(
            "rooms.muteUser",
            &carol,
            json!({"roomId": rid, "username": "bob"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "carol mutes");
    srv.post_ok(
        "rooms.muteUser",
        &alice,
        json!({"roomId": rid, "username": "bob"}),
    )
    .await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &carol)
        .await;
    assert_eq!(info["channel"]["muted"], json!(["bob"]), "{info}");
    assert_eq!(recent_types(&srv, &alice, &rid).await[0], "user-muted");
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({"roomId": rid, "text": "hello?"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-user-muted"), "muted post");
    post(&srv, &carol, &rid, "carol still talks").await;
    // Someone outside the room cannot be muted.
    let (status, body) = srv
        .post(
            "rooms.muteUser",
            &alice,
            json!({"roomId": rid, "userId": admin.user_id}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-not-in-room"),
        "outsider",
    );

    // Unmuting over realtime (Rocket.Chat's method) lets bob post again.
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let result = ddp
        .call_ok("unmuteUserInRoom", json!([{"rid": rid, "username": "bob"}]))
        .await;
    assert_eq!(result, json!(true));
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    assert_eq!(info["channel"]["muted"], json!([]), "{info}");
    post(&srv, &bob, &rid, "back").await;

    // Read-only: members may not post, unless unmuted there; muting withdraws it.
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "readOnly": true}),
    )
    .await;
    let (status, _) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({"roomId": rid, "text": "ro"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    srv.post_ok(
        "rooms.unmuteUser",
        &alice,
        json!({"roomId": rid, "username": "bob"}),
    )
    .await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    assert_eq!(info["channel"]["unmuted"], json!(["bob"]), "{info}");
    post(&srv, &bob, &rid, "allowed in a read-only room").await;
    let (status, _) = srv
        .post(
            "chat.postMessage",
            &carol,
            json!({"roomId": rid, "text": "not me"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    srv.post_ok(
        "rooms.muteUser",
        &alice,
        json!({"roomId": rid, "username": "bob"}),
    )
    .await;
    let (status, _) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({"roomId": rid, "text": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Direct messages have no muting.
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let dm_id = str_of(&dm["room"]["_id"], "dm id").to_string();
    let (status, body) = srv
        .post(
            "rooms.muteUser",
            &admin,
            json!({"roomId": dm_id, "username": "bob"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-invalid-room-type"), "dm");
}

#[tokio::test]
async fn clean_history_deletes_a_range_for_those_allowed() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &alice, "logbook", &["bob"]).await);
    post(&srv, &alice, &rid, "first").await;
    tick().await;
    let from = iso_now();
    tick().await;
    post(&srv, &bob, &rid, "second").await;
    post(&srv, &alice, &rid, "third").await;
    tick().await;
    let to = iso_now();
    tick().await;
    post(&srv, &bob, &rid, "fourth").await;

    // `clean-channel-history` is the administrators' by default.
    let range = json!({"roomId": rid, "oldest": from, "latest": to});
    let (status, body) = srv.post("rooms.cleanHistory", &alice, range.clone()).await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "owner");
    let (status, body) = srv
        .post(
            "rooms.cleanHistory",
            &admin,
            json!({"roomId": rid, "oldest": from}),
        )
        .await;
    assert_error(status, &body, 400, None, "no latest");

    // Only bob's messages in the range, then the rest of it.
    let mut only_bob = range.clone();
    only_bob["users"] = json!(["bob"]);
    let body = srv.post_ok("rooms.cleanHistory", &admin, only_bob).await;
    assert_eq!(body, json!({"success": true, "_id": rid, "count": 1}));
    let body = srv
        .post_ok("rooms.cleanHistory", &admin, range.clone())
        .await;
    assert_eq!(body["count"], json!(1), "{body}");
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    assert_eq!(msg_texts(&hist["messages"]), ["fourth", "first"], "{hist}");
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert_eq!(info["channel"]["lastMessage"]["msg"], json!("fourth"));

    // Granted to users, a user still needs access to the room.
    set_permission(&srv, &admin, "clean-channel-history", &["admin", "user"]).await;
    let gid = rid_of(&create_group(&srv, &alice, "secret", &[]).await);
    post(&srv, &alice, &gid, "hidden").await;
    let everything = json!({
        "roomId": gid,
        "oldest": "0001-01-01T00:00:00.000Z",
        "latest": "9999-12-31T23:59:59.000Z",
    });
    let (status, body) = srv
        .post("rooms.cleanHistory", &bob, everything.clone())
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "outsider");
    assert_eq!(
        body["error"],
        json!("User does not have access to the room [error-not-allowed]")
    );
    let body = srv.post_ok("rooms.cleanHistory", &alice, everything).await;
    assert_eq!(body["count"], json!(1), "{body}");
}

#[tokio::test]
async fn leaving_needs_leave_permissions_and_another_owner() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &alice, "lonely", &[]).await);

    // The only owner may not leave, even alone.
    let (status, body) = srv
        .post("rooms.leave", &alice, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-you-are-last-owner"),
        "alone",
    );

    // Without `leave-c`, nobody leaves a channel.
    srv.post_ok(
        "channels.invite",
        &alice,
        json!({"roomId": rid, "username": "bob"}),
    )
    .await;
    set_permission(&srv, &admin, "leave-c", &[]).await;
    let (status, body) = srv.post("rooms.leave", &bob, json!({"roomId": rid})).await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "no leave-c");
    set_permission(&srv, &admin, "leave-c", &["user"]).await;
    srv.post_ok(
        "channels.addOwner",
        &alice,
        json!({"roomId": rid, "userId": bob.user_id}),
    )
    .await;
    srv.post_ok("rooms.leave", &alice, json!({"roomId": rid}))
        .await;
    assert!(subscription(&srv, &alice, &rid).await.is_none());

    // `groups.addAll` fills a group (`add-all-to-room`: administrators).
    let gid = rid_of(&create_group(&srv, &admin, "everyone", &[]).await);
    let (status, _) = srv
        .post("groups.addAll", &bob, json!({"roomId": gid}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a member, not allowed");
    let body = srv
        .post_ok("groups.addAll", &admin, json!({"roomId": gid}))
        .await;
    assert!(body["group"]["usersCount"].as_i64().unwrap() >= 3, "{body}");
}

#[tokio::test]
async fn admin_listings_autocompletes_and_room_fields() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let cid = rid_of(&create_channel(&srv, &alice, "plaza-one", &["bob"]).await);
    let gid = rid_of(&create_group(&srv, &alice, "plaza-two", &[]).await);
    srv.post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;

    // Administrators list every room, by type and name.
    let body = srv
        .get_ok("rooms.adminRooms?filter=plaza&types[]=p", &admin)
        .await;
    assert_eq!(ids(&body["rooms"]), std::slice::from_ref(&gid), "{body}");
    let body = srv.get_ok("rooms.adminRooms?filter=plaza", &admin).await;
    assert_eq!(body["total"], json!(2), "{body}");
    let (status, body) = srv.get("rooms.adminRooms", &alice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("error-not-authorized"));
    let body = srv
        .get_ok(&format!("rooms.adminRooms.getRoom?rid={gid}"), &admin)
        .await;
    assert_eq!(body["name"], json!("plaza-two"), "{body}");
    let body = srv.get_ok("groups.listAll", &admin).await;
    assert!(ids(&body["groups"]).contains(&gid), "{body}");
    let (status, body) = srv.get("groups.listAll", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let body = srv.get_ok("im.list.everyone", &admin).await;
    assert_eq!(body["ims"][0]["t"], json!("d"), "{body}");

    // A DM's history for administrators, once the endpoint is enabled.
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let dm_id = str_of(&dm["room"]["_id"], "dm").to_string();
    post(&srv, &alice, &dm_id, "just us").await;
    let path = format!("im.messages.others?roomId={dm_id}");
    let (status, body) = srv.get(&path, &admin).await;
    assert_error(status, &body, 400, Some("error-endpoint-disabled"), "off");
    set_setting(
        &srv,
        &admin,
        "API_Enable_Direct_Message_History_EndPoint",
        json!(true),
    )
    .await;
    let body = srv.get_ok(&path, &admin).await;
    assert_eq!(msg_texts(&body["messages"]), ["just us"], "{body}");
    let (status, _) = srv.get(&path, &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Autocompletes: the caller's own rooms; a selector is required.
    let body = srv
        .get_ok(
            "rooms.autocomplete.channelAndPrivate?selector=%7B%22name%22%3A%22plaza%22%7D",
            &alice,
        )
        .await;
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, ["plaza-one", "plaza-two"], "{body}");
    let body = srv
        .get_ok(
            "rooms.autocomplete.channelAndPrivate.withPagination?selector=%7B%7D&count=1",
            &alice,
        )
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["total"].as_u64().unwrap() >= 2, "{body}");
    let (status, body) = srv
        .get("rooms.autocomplete.channelAndPrivate", &alice)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("The 'selector' param is required"));

    // Moderators and online members.
    srv.post_ok(
        "channels.addModerator",
        &alice,
        json!({"roomId": cid, "userId": bob.user_id}),
    )
    .await;
    let body = srv
        .get_ok(&format!("channels.moderators?roomId={cid}"), &alice)
        .await;
    assert_eq!(body["moderators"][0]["username"], json!("bob"), "{body}");
    let (status, body) = srv.get("channels.online", &alice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("Invalid query"));
    let online_path = format!("channels.online?query=%7B%22_id%22%3A%22{cid}%22%7D");
    let body = srv.get_ok(&online_path, &alice).await;
    assert_eq!(body["online"], json!([]), "nobody connected: {body}");
    // Bob connects over realtime: online.
    let _bob_ddp = Ddp::connect_as(&srv, &bob).await;
    let want = json!({"_id": bob.user_id, "username": "bob"});
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = srv.get_ok(&online_path, &alice).await;
        if seen["online"].as_array().unwrap().contains(&want) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen["online"].as_array().unwrap().contains(&want), "{seen}");

    // Anonymous reading follows its setting.
    let (status, body) = srv
        .get_anon(&format!("channels.anonymousread?roomId={cid}"))
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "anon off");
    set_setting(&srv, &admin, "Accounts_AllowAnonymousRead", json!(true)).await;
    post(&srv, &alice, &cid, "public words").await;
    let (status, body) = srv
        .get_anon(&format!("channels.anonymousread?roomId={cid}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(msg_texts(&body["messages"]).contains(&"public words".to_string()));

    // Saved room fields, and `rooms.info`'s projection.
    srv.post_ok(
        "rooms.saveRoomSettings",
        &admin,
        json!({
            "rid": cid, "featured": true, "systemMessages": ["uj"], "default": true,
            "favorite": {"favorite": true, "defaultValue": true},
        }),
    )
    .await;
    let info = srv
        .get_ok(&format!("rooms.info?roomId={cid}"), &alice)
        .await;
    let room = &info["room"];
    assert_eq!(
        (&room["featured"], &room["favorite"], &room["sysMes"]),
        (&json!(true), &json!(true), &json!(["uj"])),
        "{info}"
    );
    let (status, _) = srv
        .post(
            "rooms.saveRoomSettings",
            &alice,
            json!({"rid": cid, "featured": false}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "featured is for admins");
    srv.post_ok(
        "rooms.saveRoomSettings",
        &admin,
        json!({"rid": cid, "favorite": {"favorite": true, "defaultValue": false}}),
    )
    .await;
    let info = srv
        .get_ok(
            &format!("rooms.info?roomId={cid}&fields=%7B%22name%22%3A1%7D"),
            &alice,
        )
        .await;
    assert_eq!(info["room"], json!({"_id": cid, "name": "plaza-one"}));
    let info = srv
        .get_ok(&format!("rooms.info?roomId={cid}"), &alice)
        .await;
    assert!(info["room"].get("favorite").is_none(), "{info}");
}

async fn status_of(srv: &Palaver, url: &str, who: Option<&Session>) -> StatusCode {
    let headers: Vec<(&str, &str)> = who.map(|w| auth(w).to_vec()).unwrap_or_default();
    fetch(srv, url, &headers).await.0
}

#[tokio::test]
async fn file_downloads_follow_the_restriction_settings() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let cid = rid_of(&create_channel(&srv, &alice, "files-open", &[]).await);
    let gid = rid_of(&create_group(&srv, &alice, "files-closed", &[]).await);
    let (_, channel_url, _) = media_and_confirm(
        &srv,
        &alice,
        &cid,
        "a.bin",
        "application/octet-stream",
        pattern(64),
    )
    .await;
    let (_, group_url, _) = media_and_confirm(
        &srv,
        &alice,
        &gid,
        "b.bin",
        "application/octet-stream",
        pattern(64),
    )
    .await;

    // By default only members download.
    assert_eq!(
        status_of(&srv, &channel_url, Some(&alice)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&srv, &channel_url, Some(&bob)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(&srv, &channel_url, None).await,
        StatusCode::FORBIDDEN
    );
    // Whoever may read the room: a public channel's files, not a group's.
    set_setting(
        &srv,
        &admin,
        "FileUpload_Restrict_to_room_members",
        json!(false),
    )
    .await;
    set_setting(
        &srv,
        &admin,
        "FileUpload_Restrict_to_users_who_can_access_room",
        json!(true),
    )
    .await;
    assert_eq!(
        status_of(&srv, &channel_url, Some(&bob)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&srv, &group_url, Some(&bob)).await,
        StatusCode::FORBIDDEN
    );
    // Neither restriction: any signed-in user; both: the stricter.
    set_setting(
        &srv,
        &admin,
        "FileUpload_Restrict_to_users_who_can_access_room",
        json!(false),
    )
    .await;
    assert_eq!(
        status_of(&srv, &group_url, Some(&bob)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&srv, &group_url, None).await,
        StatusCode::FORBIDDEN
    );
    set_setting(
        &srv,
        &admin,
        "FileUpload_Restrict_to_room_members",
        json!(true),
    )
    .await;
    set_setting(
        &srv,
        &admin,
        "FileUpload_Restrict_to_users_who_can_access_room",
        json!(true),
    )
    .await;
    assert_eq!(
        status_of(&srv, &channel_url, Some(&bob)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(&srv, &channel_url, Some(&alice)).await,
        StatusCode::OK
    );
    // Unprotected files: anyone, without credentials.
    set_setting(&srv, &admin, "FileUpload_ProtectFiles", json!(false)).await;
    assert_eq!(status_of(&srv, &group_url, None).await, StatusCode::OK);
}

#[tokio::test]
async fn join_codes_are_required_unless_permitted() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &alice, "gated", &[]).await);
    srv.post_ok(
        "channels.setJoinCode",
        &alice,
        json!({"roomId": rid, "joinCode": "123"}),
    )
    .await;

    let (status, body) = srv
        .post("channels.join", &bob, json!({"roomId": rid}))
        .await;
    assert_error(status, &body, 400, Some("error-code-required"), "no code");
    let (status, body) = srv
        .post(
            "channels.join",
            &bob,
            json!({"roomId": rid, "joinCode": "WRONG"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-code-invalid"), "wrong code");
    assert!(subscription(&srv, &bob, &rid).await.is_none());
    let body = srv
        .post_ok(
            "channels.join",
            &bob,
            json!({"roomId": rid, "joinCode": "123"}),
        )
        .await;
    assert_eq!(body["channel"]["_id"], json!(rid), "{body}");
    // Administrators hold `join-without-join-code`; without it they need the code.
    srv.post_ok("channels.join", &admin, json!({"roomId": rid}))
        .await;
    srv.post_ok("channels.leave", &admin, json!({"roomId": rid}))
        .await;
    set_permission(&srv, &admin, "join-without-join-code", &[]).await;
    let (status, body) = srv
        .post("channels.join", &admin, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-code-required"),
        "admin without",
    );
}

#[tokio::test]
async fn direct_conversations_follow_a_renamed_member() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "carol").await;
    let one = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let one_id = str_of(&one["room"]["_id"], "dm").to_string();
    let group = srv
        .post_ok("im.create", &alice, json!({"usernames": "bob,carol"}))
        .await;
    let group_id = str_of(&group["room"]["_id"], "group dm").to_string();

    srv.post_ok(
        "users.update",
        &admin,
        json!({"userId": bob.user_id, "data": {"username": "bobby", "name": "Bobby B"}}),
    )
    .await;
    let sub = |rid: String| {
        let srv = &srv;
        let alice = &alice;
        async move {
            srv.get_ok(&format!("subscriptions.getOne?roomId={rid}"), alice)
                .await["subscription"]
                .clone()
        }
    };
    let s = sub(one_id).await;
    assert_eq!(
        (&s["name"], &s["fname"]),
        (&json!("bobby"), &json!("Bobby B")),
        "{s}"
    );
    let s = sub(group_id).await;
    let name = str_of(&s["name"], "group name");
    let mut parts: Vec<&str> = name.split(',').collect();
    parts.sort();
    assert_eq!(parts, ["bobby", "carol"], "{s}");
    assert!(str_of(&s["fname"], "fname").contains("Bobby B"), "{s}");
    // Bob's own view of the one-to-one DM still names alice.
    let own = srv
        .get_ok(
            &format!(
                "subscriptions.getOne?roomId={}",
                str_of(&one["room"]["_id"], "dm")
            ),
            &bob,
        )
        .await;
    assert_eq!(own["subscription"]["name"], json!("alice"), "{own}");
}

#[tokio::test]
async fn room_images_lists_posted_images_for_readers() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let gid = rid_of(&create_group(&srv, &alice, "album", &[]).await);
    let path = format!("rooms.images?roomId={gid}");
    let body = srv.get_ok(&path, &alice).await;
    assert_eq!(body["files"], json!([]), "{body}");

    let png = palaver_tests::images::png(4, 4);
    let (first, _, _) =
        media_and_confirm(&srv, &alice, &gid, "a.png", "image/png", png.clone()).await;
    tick().await;
    media_and_confirm(
        &srv,
        &alice,
        &gid,
        "notes.bin",
        "application/octet-stream",
        pattern(32),
    )
    .await;
    tick().await;
    let (second, _, _) = media_and_confirm(&srv, &alice, &gid, "b.png", "image/png", png).await;
    let body = srv.get_ok(&path, &alice).await;
    assert_eq!(
        ids(&body["files"]),
        [second.clone(), first.clone()],
        "{body}"
    );
    assert_eq!(body["total"], json!(2), "{body}");
    let body = srv
        .get_ok(&format!("{path}&startingFromId={first}"), &alice)
        .await;
    assert_eq!(ids(&body["files"]), [first], "{body}");

    // Not readable: Rocket.Chat's 403; no room id: 400.
    let (status, body) = srv.get(&path, &bob).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = srv.get("rooms.images?roomId=nope", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = srv.get("rooms.images", &alice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn subscription_reads_answer_rocket_chats_errors() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = rid_of(&create_channel(&srv, &alice, "reading", &[]).await);
    let (status, body) = srv.get("subscriptions.getOne", &alice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        json!("must have required property 'roomId' [invalid-params]")
    );
    for bad in [json!({"rid": "nope"}), json!({"rid": 12345})] {
        let (status, body) = srv.post("subscriptions.read", &alice, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], json!("error-invalid-subscription"), "{body}");
    }
    for bad in [json!({}), json!({"rid": rid, "roomId": "other"})] {
        let (status, body) = srv.post("subscriptions.read", &alice, bad).await;
        assert_error(status, &body, 400, Some("invalid-params"), "read params");
    }
    srv.post_ok("subscriptions.read", &alice, json!({"roomId": rid}))
        .await;
}

#[tokio::test]
async fn new_memberships_take_the_users_notification_preferences_and_dms_can_be_deleted() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.post_ok(
        "users.setPreferences",
        &alice,
        json!({"data": {"emailNotificationMode": "nothing", "desktopNotifications": "mentions"}}),
    )
    .await;
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let dm_id = str_of(&dm["room"]["_id"], "dm").to_string();
    let sub = subscription(&srv, &alice, &dm_id)
        .await
        .expect("alice's dm");
    assert_eq!(sub["emailNotifications"], json!("nothing"), "{sub}");
    assert_eq!(sub["desktopNotifications"], json!("mentions"), "{sub}");
    let sub = subscription(&srv, &bob, &dm_id).await.expect("bob's dm");
    assert!(sub.get("emailNotifications").is_none(), "{sub}");
    let cid = rid_of(&create_channel(&srv, &bob, "prefs", &["alice"]).await);
    let sub = subscription(&srv, &alice, &cid)
        .await
        .expect("alice's channel");
    assert_eq!(sub["emailNotifications"], json!("nothing"), "{sub}");

    // `delete-d` is the administrators'.
    let (status, _) = srv.post("im.delete", &bob, json!({"roomId": dm_id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    srv.post_ok("im.delete", &admin, json!({"roomId": dm_id}))
        .await;
    assert!(subscription(&srv, &alice, &dm_id).await.is_none());
}

#[tokio::test]
async fn room_integrations_are_listed_for_those_who_manage_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let cid = rid_of(&create_channel(&srv, &admin, "hooked", &["alice"]).await);
    create_channel(&srv, &admin, "elsewhere", &[]).await;
    let hook = |name: &str, channel: &str| {
        json!({
            "type": "webhook-incoming", "name": name, "enabled": true,
            "username": "rocket.cat", "scriptEnabled": false, "channel": channel,
        })
    };
    let here = srv
        .post_ok("integrations.create", &admin, hook("here", "#hooked"))
        .await;
    srv.post_ok("integrations.create", &admin, hook("there", "#elsewhere"))
        .await;
    let body = srv
        .get_ok(&format!("channels.getIntegrations?roomId={cid}"), &admin)
        .await;
    assert_eq!(
        ids(&body["integrations"]),
        [str_of(&here["integration"]["_id"], "id")]
    );
    assert_eq!(body["total"], json!(1), "{body}");
    let (status, body) = srv
        .get(&format!("channels.getIntegrations?roomId={cid}"), &alice)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], json!("unauthorized"));
}

#[tokio::test]
async fn removed_messages_leave_a_placeholder_that_cleaning_does_not_count() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let rid = rid_of(&create_channel(&srv, &admin, "tidy", &[]).await);
    set_setting(&srv, &admin, "Message_ShowDeletedStatus", json!(true)).await;
    let gone = post(&srv, &admin, &rid, "oops").await;
    let mid = str_of(&gone["_id"], "message id").to_string();
    srv.post_ok("chat.delete", &admin, json!({"roomId": rid, "msgId": mid}))
        .await;
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    let placeholder = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["_id"] == json!(mid))
        .cloned()
        .unwrap_or_else(|| panic!("placeholder kept: {hist}"));
    assert_eq!(
        (&placeholder["t"], &placeholder["msg"]),
        (&json!("rm"), &json!(""))
    );

    // Cleaning removes it without counting it.
    let body = srv
        .post_ok(
            "rooms.cleanHistory",
            &admin,
            json!({"roomId": rid, "oldest": "0001-01-01T00:00:00.000Z",
                   "latest": "9999-12-31T23:59:59.000Z"}),
        )
        .await;
    assert_eq!(body["count"], json!(0), "{body}");
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    assert_eq!(hist["messages"], json!([]), "{hist}");

    // Without the setting a deleted message disappears.
    set_setting(&srv, &admin, "Message_ShowDeletedStatus", json!(false)).await;
    let gone = post(&srv, &admin, &rid, "again").await;
    srv.post_ok(
        "chat.delete",
        &admin,
        json!({"roomId": rid, "msgId": gone["_id"]}),
    )
    .await;
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    assert_eq!(hist["messages"], json!([]), "{hist}");

    // Adding everyone is refused past `API_User_Limit`.
    srv.create_user(&admin, "alice").await;
    set_setting(&srv, &admin, "API_User_Limit", json!(1)).await;
    let (status, body) = srv
        .post("channels.addAll", &admin, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-limit-exceeded"),
        "limit",
    );
}
