//! User endpoints in the forms Rocket.Chat's own tests use: `users.updateOwnBasicInfo`
//! refusing a blank name and a status text the workspace forbids,
//! `users.getPreferences` answering only what was set, `users.list` behind
//! `view-outside-room` when `API_Apply_permission_view-outside-room_on_users-list`
//! is on, `users.listTeams` with `isOwner`, `users.listByStatus` by role, and
//! `users.sendConfirmationEmail` for a known address.

use serde_json::json;

use crate::common::*;
use crate::rest_files::set_setting;

#[tokio::test]
async fn own_info_listing_switch_teams_roles_and_confirmation() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;

    // A name of blanks is refused; a status text only while the setting allows it.
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"name": "  "}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-could-not-save-identity"),
        "blank name",
    );
    let body = srv
        .post_ok(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"statusText": " lunch "}}),
        )
        .await;
    assert_eq!(body["user"]["statusText"], json!("lunch"), "{body}");
    let me = srv.get_ok("me", &alice).await;
    assert_eq!(me["statusText"], json!("lunch"), "{me}");
    set_setting(
        &srv,
        &admin,
        "Accounts_AllowUserStatusMessageChange",
        json!(false),
    )
    .await;
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"statusText": "away"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-allowed"),
        "status text off",
    );

    // Preferences: only what was set.
    let prefs = srv.get_ok("users.getPreferences", &alice).await;
    assert_eq!(prefs["preferences"], json!({}), "{prefs}");

    // users.list is everyone's until the switch applies view-outside-room.
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "view-outside-room", "roles": ["admin"]}]}),
    )
    .await;
    let list = srv.get_ok("users.list", &alice).await;
    assert!(list["total"].as_u64().unwrap_or(0) >= 3, "{list}");
    let switch = "API_Apply_permission_view-outside-room_on_users-list";
    set_setting(&srv, &admin, switch, json!(true)).await;
    let (status, body) = srv.get("users.list", &alice).await;
    assert_eq!(status.as_u16(), 403, "{body}");
    srv.get_ok("users.list", &admin).await;

    // users.listTeams: both teams, owner of one.
    let team_of = |name: &'static str| {
        let srv = &srv;
        let admin = &admin;
        async move {
            srv.post_ok("teams.create", admin, json!({"name": name, "type": 0}))
                .await
        }
    };
    team_of("team-one").await;
    team_of("team-two").await;
    srv.post_ok(
        "teams.addMembers",
        &admin,
        json!({"teamName": "team-one", "members": [{"userId": bob.user_id, "roles": ["member"]}]}),
    )
    .await;
    srv.post_ok(
        "teams.addMembers",
        &admin,
        json!({"teamName": "team-two", "members": [{"userId": bob.user_id, "roles": ["member", "owner"]}]}),
    )
    .await;
    let teams = srv
        .get_ok(&format!("users.listTeams?userId={}", bob.user_id), &admin)
        .await;
    let teams = teams["teams"].as_array().expect("teams").clone();
    assert_eq!(teams.len(), 2, "{teams:?}");
    let owned: Vec<(String, bool)> = teams
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["isOwner"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        owned,
        vec![
            ("team-one".to_string(), false),
            ("team-two".to_string(), true)
        ]
    );

    // users.listByStatus by role.
    let admins = srv.get_ok("users.listByStatus?roles[]=admin", &admin).await;
    let names: Vec<&str> = admins["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(names.contains(&admin.username.as_str()), "{admins}");
    assert!(!names.contains(&"alice"), "{admins}");

    // A known address answers success; an unknown one fails.
    srv.post_ok(
        "users.sendConfirmationEmail",
        &admin,
        json!({"email": "alice@palaver.test"}),
    )
    .await;
    let (status, _) = srv
        .post(
            "users.sendConfirmationEmail",
            &admin,
            json!({"email": "nobody@palaver.test"}),
        )
        .await;
    assert_eq!(status.as_u16(), 400);
}

#[tokio::test]
async fn default_teams_bring_their_auto_join_rooms() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let team = srv
        .post_ok("teams.create", &admin, json!({"name": "crew", "type": 0}))
        .await;
    let team_id = str_of(&team["team"]["_id"], "team id").to_string();
    let main = str_of(&team["team"]["roomId"], "main room").to_string();
    // A group created in the team (`extraData.teamId`).
    let group = srv
        .post_ok(
            "groups.create",
            &admin,
            json!({"name": "crew-ops", "extraData": {"teamId": team_id, "broadcast": false}}),
        )
        .await;
    let gid = str_of(&group["group"]["_id"], "gid").to_string();
    assert_eq!(group["group"]["teamId"], json!(team_id), "{group}");
    let sub = |who: &Session, rid: &str| {
        let (srv, path) = (&srv, format!("subscriptions.getOne?roomId={rid}"));
        let who = who.clone();
        async move { srv.get_ok(&path, &who).await["subscription"].clone() }
    };

    // Not default: a new user joins neither (and reads `null`, not an error).
    let u1 = srv.create_user(&admin, "u1").await;
    assert_eq!(sub(&u1, &main).await, json!(null));
    assert_eq!(sub(&u1, &gid).await, json!(null));

    // A default team: its main room, not its rooms that are not auto-join.
    srv.post_ok(
        "rooms.saveRoomSettings",
        &admin,
        json!({"rid": main, "default": true}),
    )
    .await;
    let u2 = srv.create_user(&admin, "u2").await;
    assert_eq!(sub(&u2, &main).await["rid"], json!(main));
    assert_eq!(sub(&u2, &gid).await, json!(null));

    // Auto-join: the team's members join it now, new users of a default team too.
    let body = srv
        .post_ok(
            "teams.updateRoom",
            &admin,
            json!({"roomId": gid, "isDefault": true}),
        )
        .await;
    assert_eq!(body["room"]["teamDefault"], json!(true), "{body}");
    assert_eq!(sub(&u2, &gid).await["rid"], json!(gid));
    let u3 = srv.create_user(&admin, "u3").await;
    assert_eq!(sub(&u3, &gid).await["rid"], json!(gid));
    assert_eq!(
        sub(&u1, &gid).await,
        json!(null),
        "not a member of the team"
    );

    // Only who may edit the team's rooms marks them.
    let (status, _) = srv
        .post(
            "teams.updateRoom",
            &u3,
            json!({"roomId": gid, "isDefault": false}),
        )
        .await;
    assert_eq!(status.as_u16(), 403);
}

/// `admin_id`: the first admin gets the configured id (Rocket.Chat's API test
/// environment names its admin's id after its username), which everything that
/// names the user carries — here a star.
#[tokio::test]
async fn the_first_admin_may_have_a_configured_id() {
    let srv = Palaver::builder()
        .env("PALAVER_ADMIN_ID", "the.admin")
        .start()
        .await;
    let admin = srv.admin().await;
    assert_eq!(admin.user_id, "the.admin");
    let me = srv.get_ok("me", &admin).await;
    assert_eq!(me["_id"], "the.admin", "{me}");
    assert!(
        me["roles"].to_string().contains("admin"),
        "still the admin: {me}"
    );
    let room = create_channel(&srv, &admin, "stars", &[]).await;
    let rid = room["_id"].as_str().expect("rid").to_string();
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &admin,
            json!({"message": {"rid": rid, "msg": "shine"}}),
        )
        .await;
    let mid = sent["message"]["_id"].as_str().expect("mid").to_string();
    srv.post_ok("chat.starMessage", &admin, json!({ "messageId": mid }))
        .await;
    let messages = srv
        .get_ok(&format!("channels.messages?roomId={rid}"), &admin)
        .await;
    let starred = messages["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["_id"] == mid.as_str())
        .map(|m| m["starred"].clone())
        .unwrap_or_default();
    assert_eq!(starred, json!([{"_id": "the.admin"}]), "{messages}");
}
