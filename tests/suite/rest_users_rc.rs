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
