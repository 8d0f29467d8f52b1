//! Roles as Rocket.Chat has them: the built-in roles, custom roles (`roles.*`), room
//! roles on subscriptions (`channels|groups.addOwner` and friends, `channels.roles`),
//! and what a fresh server has (`#general` marked default, joined by every new user;
//! the `rocket.cat` bot).

use serde_json::{json, Value};

use crate::common::*;

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn fresh_server_has_builtin_roles_general_and_rocket_cat() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;

    let roles = srv.get_ok("roles.list", &admin).await;
    let roles = roles["roles"].as_array().unwrap().clone();
    for (id, scope) in [
        ("admin", "Users"),
        ("user", "Users"),
        ("bot", "Users"),
        ("app", "Users"),
        ("guest", "Users"),
        ("anonymous", "Users"),
        ("owner", "Subscriptions"),
        ("moderator", "Subscriptions"),
        ("leader", "Subscriptions"),
    ] {
        let role = roles
            .iter()
            .find(|r| r["_id"] == json!(id))
            .unwrap_or_else(|| panic!("role {id} missing: {roles:?}"));
        assert_eq!(role["scope"], json!(scope), "{role}");
        assert_eq!(role["name"], json!(id), "{role}");
        assert_eq!(role["protected"], json!(true), "{role}");
        assert_eq!(role["mandatory2fa"], json!(false), "{role}");
        assert!(role["description"].is_string(), "{role}");
    }

    // #general: default, and the admin (created on first start) is in it.
    let info = srv.get_ok("channels.info?roomName=general", &admin).await;
    assert_eq!(info["channel"]["_id"], json!("GENERAL"), "{info}");
    assert_eq!(info["channel"]["default"], json!(true), "{info}");
    let joined = srv.get_ok("channels.list.joined", &admin).await;
    assert!(
        ids(&joined["channels"], "name").contains(&"general".to_string()),
        "{joined}"
    );

    // A user created by an admin joins it too, with a join message.
    let alice = srv.create_user(&admin, "alice").await;
    let joined = srv.get_ok("channels.list.joined", &alice).await;
    assert_eq!(
        ids(&joined["channels"], "name"),
        vec!["general"],
        "{joined}"
    );
    let history = srv.get_ok("channels.history?roomId=GENERAL", &alice).await;
    assert!(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["t"] == json!("uj") && m["msg"] == json!("alice")),
        "{history}"
    );

    // rocket.cat: a bot nobody logs in as.
    let cat = srv.get_ok("users.info?username=rocket.cat", &admin).await;
    assert_eq!(cat["user"]["_id"], json!("rocket.cat"), "{cat}");
    assert_eq!(cat["user"]["type"], json!("bot"), "{cat}");
    assert_eq!(cat["user"]["roles"], json!(["bot"]), "{cat}");
    for password in ["", "rocket.cat", "password"] {
        let resp = srv
            .try_login(json!({"user": "rocket.cat", "password": password}))
            .await;
        assert_eq!(
            resp.status.as_u16(),
            401,
            "rocket.cat logged in with {password:?}"
        );
    }
}

#[tokio::test]
async fn set_default_makes_new_users_join_and_needs_permissions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = srv
        .post_ok("channels.create", &alice, json!({"name": "lobby"}))
        .await;
    let rid = chan["channel"]["_id"].as_str().unwrap().to_string();

    // The owner holds edit-room there but not view-room-administration.
    let (status, body) = srv
        .post(
            "channels.setDefault",
            &alice,
            json!({"roomId": rid, "default": true}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "owner sets default",
    );

    let (status, body) = srv
        .post("channels.setDefault", &admin, json!({"roomId": rid}))
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    let set = srv
        .post_ok(
            "channels.setDefault",
            &admin,
            json!({"roomId": rid, "default": "true"}),
        )
        .await;
    assert_eq!(set["channel"]["default"], json!(true), "{set}");
    let (status, body) = srv
        .post(
            "channels.setDefault",
            &admin,
            json!({"roomId": rid, "default": true}),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "same value again: {body}");

    let bob = srv.create_user(&admin, "bob").await;
    let joined = srv.get_ok("channels.list.joined", &bob).await;
    let mut names = ids(&joined["channels"], "name");
    names.sort();
    assert_eq!(names, vec!["general", "lobby"], "{joined}");

    srv.post_ok(
        "channels.setDefault",
        &admin,
        json!({"roomName": "lobby", "default": false}),
    )
    .await;
    let carol = srv.create_user(&admin, "carol").await;
    let joined = srv.get_ok("channels.list.joined", &carol).await;
    assert_eq!(
        ids(&joined["channels"], "name"),
        vec!["general"],
        "{joined}"
    );
}

#[tokio::test]
async fn room_roles_with_system_messages_and_last_owner_rule() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;
    for (family, create) in [("channels", "channels.create"), ("groups", "groups.create")] {
        let name = format!("{family}-roles");
        let created = srv
            .post_ok(
                create,
                &alice,
                json!({"name": name, "members": ["bob", "carol"]}),
            )
            .await;
        let key = if family == "channels" {
            "channel"
        } else {
            "group"
        };
        let rid = created[key]["_id"].as_str().unwrap().to_string();

        // The creator is owner.
        let roles = srv
            .get_ok(&format!("{family}.roles?roomId={rid}"), &alice)
            .await;
        assert_eq!(roles["roles"].as_array().unwrap().len(), 1, "{roles}");
        assert_eq!(
            roles["roles"][0]["u"]["username"],
            json!("alice"),
            "{roles}"
        );
        assert_eq!(roles["roles"][0]["roles"], json!(["owner"]), "{roles}");
        assert_eq!(roles["roles"][0]["rid"], json!(rid), "{roles}");

        // A plain member may not give roles (set-moderator is owner/admin).
        let (status, body) = srv
            .post(
                &format!("{family}.addModerator"),
                &carol,
                json!({"roomId": rid, "userId": bob.user_id}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-not-allowed"),
            "member adds moderator",
        );

        for (add, role) in [
            ("addModerator", "moderator"),
            ("addLeader", "leader"),
            ("addOwner", "owner"),
        ] {
            srv.post_ok(
                &format!("{family}.{add}"),
                &alice,
                json!({"roomId": rid, "userId": bob.user_id}),
            )
            .await;
            let (status, body) = srv
                .post(
                    &format!("{family}.{add}"),
                    &alice,
                    json!({"roomId": rid, "userId": bob.user_id}),
                )
                .await;
            assert_error(
                status,
                &body,
                400,
                Some(&format!("error-user-already-{role}")),
                "twice",
            );
        }
        let sub = srv
            .get_ok(&format!("subscriptions.getOne?roomId={rid}"), &bob)
            .await;
        let mut held: Vec<String> =
            serde_json::from_value(sub["subscription"]["roles"].clone()).unwrap();
        held.sort();
        assert_eq!(held, vec!["leader", "moderator", "owner"], "{sub}");

        // Not a member.
        let (status, body) = srv
            .post(
                &format!("{family}.addModerator"),
                &alice,
                json!({"roomId": rid, "userId": dave.user_id}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-user-not-in-room"),
            "non-member",
        );

        // System messages carry the role.
        let history = srv
            .get_ok(&format!("{family}.history?roomId={rid}"), &alice)
            .await;
        let added: Vec<&Value> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["t"] == json!("subscription-role-added"))
            .collect();
        assert_eq!(added.len(), 3, "{history}");
        assert!(added.iter().all(|m| m["msg"] == json!("bob")), "{history}");
        let mut roles_named: Vec<&str> =
            added.iter().map(|m| m["role"].as_str().unwrap()).collect();
        roles_named.sort();
        assert_eq!(roles_named, vec!["leader", "moderator", "owner"]);

        // Bob, now owner, takes the ownership away from alice; bob is then the last
        // owner and cannot lose it.
        srv.post_ok(
            &format!("{family}.removeOwner"),
            &bob,
            json!({"roomId": rid, "userId": alice.user_id}),
        )
        .await;
        let (status, body) = srv
            .post(
                &format!("{family}.removeOwner"),
                &bob,
                json!({"roomId": rid, "userId": bob.user_id}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-remove-last-owner"),
            "last owner",
        );
        let (status, body) = srv
            .post(
                &format!("{family}.removeLeader"),
                &bob,
                json!({"roomId": rid, "userId": carol.user_id}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-user-not-leader"),
            "not a leader",
        );
        srv.post_ok(
            &format!("{family}.removeModerator"),
            &bob,
            json!({"roomId": rid, "userId": bob.user_id}),
        )
        .await;
        let history = srv
            .get_ok(&format!("{family}.history?roomId={rid}"), &alice)
            .await;
        let removed = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["t"] == json!("subscription-role-removed"))
            .count();
        assert_eq!(removed, 2, "{history}");
        let roles = srv
            .get_ok(&format!("{family}.roles?roomId={rid}"), &carol)
            .await;
        assert_eq!(roles["roles"].as_array().unwrap().len(), 1, "{roles}");
        assert_eq!(roles["roles"][0]["u"]["username"], json!("bob"));
        let mut held: Vec<String> =
            serde_json::from_value(roles["roles"][0]["roles"].clone()).unwrap();
        held.sort();
        assert_eq!(held, vec!["leader", "owner"]);
    }
}

#[tokio::test]
async fn custom_roles_lifecycle() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let before = srv.get_ok("roles.list", &admin).await;
    let t0 = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    // Only access-permissions creates roles.
    let (status, body) = srv
        .post("roles.create", &alice, json!({"name": "Support"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "user creates role",
    );

    let created = srv
        .post_ok(
            "roles.create",
            &admin,
            json!({"name": "Support", "description": "Helps people", "scope": "Users"}),
        )
        .await;
    let role = &created["role"];
    assert_eq!(role["name"], json!("Support"));
    assert_eq!(role["protected"], json!(false));
    assert_eq!(role["scope"], json!("Users"));
    let role_id = role["_id"].as_str().unwrap().to_string();
    let (status, body) = srv
        .post("roles.create", &admin, json!({"name": "Support"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-duplicate-role-names-not-allowed"),
        "duplicate",
    );
    let (status, body) = srv
        .post(
            "roles.create",
            &admin,
            json!({"name": "X", "scope": "Rooms"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-role-properties"),
        "bad scope",
    );
    let after = srv.get_ok("roles.list", &admin).await;
    assert_eq!(
        after["roles"].as_array().unwrap().len(),
        before["roles"].as_array().unwrap().len() + 1
    );

    // Update.
    let updated = srv
        .post_ok(
            "roles.update",
            &admin,
            json!({"roleId": role_id, "name": "Helpdesk", "description": "First line"}),
        )
        .await;
    assert_eq!(updated["role"]["name"], json!("Helpdesk"), "{updated}");
    let sync = srv
        .get_ok(&format!("roles.sync?updatedSince={}", enc(&t0)), &admin)
        .await;
    assert_eq!(
        ids(&sync["roles"]["update"], "_id"),
        vec![role_id.clone()],
        "{sync}"
    );

    // Give it to alice; she now shows among public-role users and in the role.
    srv.post_ok(
        "roles.addUserToRole",
        &admin,
        json!({"roleId": role_id, "username": "alice"}),
    )
    .await;
    let (status, body) = srv
        .post(
            "roles.addUserToRole",
            &admin,
            json!({"roleId": role_id, "username": "alice"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-already-in-role"),
        "twice",
    );
    let me = srv.get_ok("me", &alice).await;
    assert!(
        me["roles"].as_array().unwrap().contains(&json!(role_id)),
        "{me}"
    );
    let users = srv
        .get_ok(&format!("roles.getUsersInRole?role={role_id}"), &admin)
        .await;
    assert_eq!(users["total"], json!(1), "{users}");
    assert_eq!(users["users"][0]["username"], json!("alice"), "{users}");
    let (status, body) = srv
        .get(&format!("roles.getUsersInRole?role={role_id}"), &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-allowed"),
        "user lists role",
    );
    let public = srv.get_ok("roles.getUsersInPublicRoles", &alice).await;
    let public_names = ids(&public["users"], "username");
    assert!(public_names.contains(&"alice".to_string()), "{public}");
    assert!(public_names.contains(&"admin".to_string()), "{public}");

    // In use: cannot be deleted; protected ones never.
    let (status, body) = srv
        .post("roles.delete", &admin, json!({"roleId": role_id}))
        .await;
    assert_error(status, &body, 400, Some("error-role-in-use"), "in use");
    let (status, body) = srv
        .post("roles.delete", &admin, json!({"roleId": "moderator"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-role-protected"),
        "protected",
    );

    srv.post_ok(
        "roles.removeUserFromRole",
        &admin,
        json!({"roleId": role_id, "username": "alice"}),
    )
    .await;
    let (status, body) = srv
        .post(
            "roles.removeUserFromRole",
            &admin,
            json!({"roleId": role_id, "username": "alice"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-not-in-role"),
        "not in role",
    );
    // The last admin keeps the role.
    let (status, body) = srv
        .post(
            "roles.removeUserFromRole",
            &admin,
            json!({"roleId": "admin", "username": "admin"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-admin-required"),
        "last admin",
    );

    srv.post_ok("roles.delete", &admin, json!({"roleId": role_id}))
        .await;
    let sync = srv
        .get_ok(&format!("roles.sync?updatedSince={}", enc(&t0)), &admin)
        .await;
    assert_eq!(
        ids(&sync["roles"]["remove"], "_id"),
        vec![role_id.clone()],
        "{sync}"
    );
    assert!(
        sync["roles"]["update"].as_array().unwrap().is_empty(),
        "{sync}"
    );

    // A custom room role, given in a room.
    let scoped = srv
        .post_ok(
            "roles.create",
            &admin,
            json!({"name": "Greeter", "scope": "Subscriptions"}),
        )
        .await;
    let scoped_id = scoped["role"]["_id"].as_str().unwrap().to_string();
    srv.post_ok(
        "roles.addUserToRole",
        &admin,
        json!({"roleId": scoped_id, "username": "alice", "roomId": "GENERAL"}),
    )
    .await;
    let sub = srv
        .get_ok("subscriptions.getOne?roomId=GENERAL", &alice)
        .await;
    assert_eq!(sub["subscription"]["roles"], json!([scoped_id]), "{sub}");
    let users = srv
        .get_ok(
            &format!("roles.getUsersInRole?role={scoped_id}&roomId=GENERAL"),
            &admin,
        )
        .await;
    assert_eq!(ids(&users["users"], "username"), vec!["alice"], "{users}");
}

/// Only another *owner* lets an owner leave (moderators and leaders do not), and
/// only another *active admin* lets the last one go: both are read from the role
/// indexes (the room's members holding roles, the admin role's members), whatever
/// the room's or the workspace's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_and_the_last_active_admin_stay() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;
    let rid = srv
        .post_ok(
            "channels.create",
            &alice,
            json!({"name": "owned", "members": ["bob", "carol", "dave"]}),
        )
        .await["channel"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    srv.post_ok(
        "channels.addModerator",
        &alice,
        json!({"roomId": rid, "userId": carol.user_id}),
    )
    .await;
    srv.post_ok(
        "channels.addLeader",
        &alice,
        json!({"roomId": rid, "userId": dave.user_id}),
    )
    .await;
    let (status, body) = srv
        .post("channels.leave", &alice, json!({"roomId": rid}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-you-are-last-owner"),
        "moderators and leaders are not owners",
    );
    srv.post_ok(
        "channels.addOwner",
        &alice,
        json!({"roomId": rid, "userId": bob.user_id}),
    )
    .await;
    let (status, body) = srv
        .post("channels.leave", &alice, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 200, "another owner stays: {body}");
    let (status, body) = srv
        .post("channels.leave", &bob, json!({"roomId": rid}))
        .await;
    assert_error(status, &body, 400, Some("error-you-are-last-owner"), "bob");
    let (status, body) = srv
        .post("channels.leave", &carol, json!({"roomId": rid}))
        .await;
    assert_eq!(status, 200, "a moderator leaves freely: {body}");

    // Admins: an inactive one does not count; another active one does.
    let update = |id: &str, data: Value| {
        srv.post("users.update", &admin, json!({"userId": id, "data": data}))
    };
    let (status, body) = update(&dave.user_id, json!({"roles": ["user", "admin"]})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = update(&dave.user_id, json!({"active": false})).await;
    assert_eq!(status, 200, "another active admin remains: {body}");
    let (status, body) = update(&admin.user_id, json!({"active": false})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "the last active admin",
    );
    let (status, body) = update(&alice.user_id, json!({"roles": ["user", "admin"]})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = update(&alice.user_id, json!({"active": false})).await;
    assert_eq!(status, 200, "the admin remains: {body}");
    let (status, body) = update(&admin.user_id, json!({"active": false})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "still the last active admin",
    );
}
