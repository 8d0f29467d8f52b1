//! Administering accounts as Rocket.Chat does: `users.update`'s rules (who may
//! change what, the `Accounts_Allow*Change` settings, profile field limits),
//! `users.setActiveStatus` with the last-owner rule, `users.deactivateIdle`,
//! custom fields (`Accounts_CustomFields`) and `users.checkUsernameAvailability`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

async fn set_roles(srv: &Palaver, admin: &Session, perm: &str, roles: &[&str]) {
    srv.post_ok(
        "permissions.update",
        admin,
        json!({"permissions": [{"_id": perm, "roles": roles}]}),
    )
    .await;
}

async fn set_setting(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    let (status, body) = srv
        .post(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
    assert_eq!(status, StatusCode::OK, "setting {id}: {body}");
}

async fn update(srv: &Palaver, who: &Session, user_id: &str, data: Value) -> (StatusCode, Value) {
    srv.post(
        "users.update",
        who,
        json!({"userId": user_id, "data": data}),
    )
    .await
}

#[tokio::test]
async fn users_update_follows_saveuser_rules() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    // Oneself: allowed without `edit-other-user-info`, but not one's verification.
    let body = srv
        .post_ok(
            "users.update",
            &bob,
            json!({"userId": bob.user_id, "data": {"name": "Bobby", "nickname": "bb", "bio": "hi"}}),
        )
        .await;
    assert_eq!(body["user"]["name"], json!("Bobby"), "{body}");
    assert_eq!(body["user"]["nickname"], json!("bb"), "{body}");
    assert_eq!(body["user"]["bio"], json!("hi"), "{body}");
    let (status, body) = update(&srv, &bob, &bob.user_id, json!({"verified": true})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "verify oneself",
    );
    // Another user: needs `edit-other-user-info`.
    let (status, body) = update(&srv, &bob, &carol.user_id, json!({"name": "X"})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "edit another",
    );
    assert_eq!(
        body["error"],
        json!("Editing user is not allowed [error-action-not-allowed]")
    );

    // Limits on the free-text fields.
    let (status, body) = update(
        &srv,
        &admin,
        &bob.user_id,
        json!({"nickname": "n".repeat(121)}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-nickname-size-exceeded"),
        "nickname",
    );
    assert_eq!(
        body["error"],
        json!("Nickname size exceeds 120 characters [error-nickname-size-exceeded]")
    );
    let (status, body) = update(&srv, &admin, &bob.user_id, json!({"bio": "b".repeat(261)})).await;
    assert_error(status, &body, 400, Some("error-bio-size-exceeded"), "bio");
    let (status, body) = update(&srv, &admin, &bob.user_id, json!({"name": "a<b"})).await;
    assert_error(status, &body, 400, None, "name characters");

    // With renames off, a holder of `edit-other-user-info` still renames others,
    // but nobody renames themselves.
    set_setting(&srv, &admin, "Accounts_AllowUsernameChange", json!(false)).await;
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": carol.user_id, "data": {"username": "carol2"}}),
        )
        .await;
    assert_eq!(body["user"]["username"], json!("carol2"), "{body}");
    let (status, body) = update(&srv, &bob, &bob.user_id, json!({"username": "bob2"})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "rename oneself",
    );
    assert_eq!(
        body["error"],
        json!("Edit username is not allowed [error-action-not-allowed]")
    );
    set_setting(&srv, &admin, "Accounts_AllowUsernameChange", json!(true)).await;

    // A new address is unverified unless the admin says otherwise.
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": bob.user_id, "data": {"email": "bob.new@palaver.test"}}),
        )
        .await;
    assert_eq!(
        body["user"]["emails"][0]["verified"],
        json!(false),
        "{body}"
    );
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": bob.user_id, "data": {"verified": true}}),
        )
        .await;
    assert_eq!(body["user"]["emails"][0]["verified"], json!(true), "{body}");

    // A password is set by a holder of `edit-other-user-password` only.
    srv.post_ok(
        "users.update",
        &admin,
        json!({"userId": bob.user_id, "data": {"password": "An0ther-Secret!"}}),
    )
    .await;
    srv.login("bob", "An0ther-Secret!").await;
    set_setting(&srv, &admin, "Accounts_AllowPasswordChange", json!(false)).await;
    set_roles(&srv, &admin, "edit-other-user-password", &[]).await;
    let (status, body) = update(
        &srv,
        &admin,
        &bob.user_id,
        json!({"password": "Third-Secret-1!"}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "password not allowed",
    );

    // Unknown roles are refused.
    let (status, body) = update(
        &srv,
        &admin,
        &bob.user_id,
        json!({"roles": ["no-such-role"]}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "unknown role",
    );
}

#[tokio::test]
async fn deactivation_hands_over_last_owned_rooms_and_ends_sessions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let room = create_channel(&srv, &admin, "handover", &["bob"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    srv.post_ok(
        "channels.addOwner",
        &admin,
        json!({"roomId": rid, "userId": bob.user_id}),
    )
    .await;
    srv.post_ok(
        "channels.removeOwner",
        &admin,
        json!({"roomId": rid, "userId": admin.user_id}),
    )
    .await;

    // Without the permission: Rocket.Chat's bare 403.
    let (status, body) = srv
        .post(
            "users.setActiveStatus",
            &carol,
            json!({"userId": bob.user_id, "activeStatus": false}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, json!({"success": false, "error": "unauthorized"}));

    // The last owner of a shared room needs confirmRelinquish.
    let (status, body) = srv
        .post(
            "users.setActiveStatus",
            &admin,
            json!({"userId": bob.user_id, "activeStatus": false}),
        )
        .await;
    assert_error(status, &body, 400, Some("user-last-owner"), "last owner");
    assert_eq!(body["error"], json!("[user-last-owner]"));
    assert_eq!(srv.get("me", &bob).await.0, StatusCode::OK);

    let body = srv
        .post_ok(
            "users.setActiveStatus",
            &admin,
            json!({"userId": bob.user_id, "activeStatus": false, "confirmRelinquish": true}),
        )
        .await;
    assert_eq!(body["user"], json!({"_id": bob.user_id, "active": false}));
    assert_eq!(srv.get("me", &bob).await.0, StatusCode::UNAUTHORIZED);
    let roles = srv
        .get_ok(&format!("channels.roles?roomId={rid}"), &admin)
        .await;
    // As Rocket.Chat: another active member becomes owner; the deactivated user
    // keeps their room roles (for when they come back).
    let owner_of = |id: &str| {
        roles["roles"].as_array().expect("roles").iter().any(|r| {
            r["u"]["_id"] == json!(id)
                && r["roles"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("owner")))
        })
    };
    assert!(owner_of(&admin.user_id), "a new owner: {roles}");
    assert!(owner_of(&bob.user_id), "{roles}");

    // Reactivated, bob's roles are what they were.
    let body = srv
        .post_ok(
            "users.setActiveStatus",
            &admin,
            json!({"userId": bob.user_id, "activeStatus": true}),
        )
        .await;
    assert_eq!(body["user"]["active"], json!(true));
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(info["user"]["roles"], json!(["user"]), "{info}");
}

#[tokio::test]
async fn idle_users_are_deactivated_by_role() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "carol").await;
    srv.post_ok(
        "roles.addUserToRole",
        &admin,
        json!({"roleId": "guest", "username": "bob"}),
    )
    .await;

    let body = srv
        .post_ok("users.deactivateIdle", &admin, json!({"daysIdle": 999999}))
        .await;
    assert_eq!(body["count"], json!(0), "{body}");
    let body = srv
        .post_ok(
            "users.deactivateIdle",
            &admin,
            json!({"daysIdle": 0, "role": "guest"}),
        )
        .await;
    assert_eq!(body["count"], json!(1), "{body}");
    assert_eq!(srv.get("me", &bob).await.0, StatusCode::UNAUTHORIZED);
    let info = srv.get_ok("users.info?username=bob", &admin).await;
    assert_eq!(info["user"]["active"], json!(false), "{info}");
    let info = srv.get_ok("users.info?username=carol", &admin).await;
    assert_eq!(
        info["user"]["active"],
        json!(true),
        "carol is no guest: {info}"
    );
    let body = srv
        .post_ok(
            "users.deactivateIdle",
            &admin,
            json!({"daysIdle": 0, "role": "guest"}),
        )
        .await;
    assert_eq!(body["count"], json!(0), "{body}");

    set_roles(&srv, &admin, "edit-other-user-active-status", &[]).await;
    let (status, body) = srv
        .post("users.deactivateIdle", &admin, json!({"daysIdle": 0}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], json!("unauthorized"));
}

#[tokio::test]
async fn custom_fields_are_checked_and_kept() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let fields =
        json!({"team": {"type": "text", "required": true, "minLength": 2, "maxLength": 10}});
    set_setting(
        &srv,
        &admin,
        "Accounts_CustomFields",
        json!(fields.to_string()),
    )
    .await;
    let new_user = |name: &str, custom: Value| {
        json!({
            "username": name, "name": name, "email": format!("{name}@palaver.test"),
            "password": password_for(name), "customFields": custom,
        })
    };
    for (bad, why) in [
        (json!({}), "missing"),
        (json!({"team": "x"}), "too short"),
        (json!({"team": "abcdefghijk"}), "too long"),
    ] {
        let (status, body) = srv.post("users.create", &admin, new_user("dan", bad)).await;
        assert_error(
            status,
            &body,
            400,
            Some("error-user-registration-custom-field"),
            why,
        );
    }
    let body = srv
        .post_ok(
            "users.create",
            &admin,
            new_user("dan", json!({"team": "blue", "extra": 1})),
        )
        .await;
    assert_eq!(
        body["user"]["customFields"],
        json!({"team": "blue"}),
        "only configured fields: {body}"
    );
    let id = str_of(&body["user"]["_id"], "id").to_string();
    let info = srv.get_ok(&format!("users.info?userId={id}"), &admin).await;
    assert_eq!(
        info["user"]["customFields"],
        json!({"team": "blue"}),
        "{info}"
    );

    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({"userId": id, "data": {"customFields": {"team": "r"}}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-registration-custom-field"),
        "update",
    );
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": id, "data": {"customFields": {"team": "red"}}}),
        )
        .await;
    assert_eq!(
        body["user"]["customFields"],
        json!({"team": "red"}),
        "{body}"
    );
}

#[tokio::test]
async fn username_availability() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "carol").await;
    let check = |name: &str| format!("users.checkUsernameAvailability?username={name}");
    assert_eq!(srv.get_ok(&check("bob"), &bob).await["result"], json!(true));
    assert_eq!(
        srv.get_ok(&check("carol"), &bob).await["result"],
        json!(false)
    );
    assert_eq!(
        srv.get_ok(&check("CAROL"), &bob).await["result"],
        json!(false)
    );
    assert_eq!(
        srv.get_ok(&check("dave"), &bob).await["result"],
        json!(true)
    );
    let (status, body) = srv.get("users.checkUsernameAvailability", &bob).await;
    assert_error(status, &body, 400, None, "no username");
    let (status, body) = srv.get(&check("admin"), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-blocked-username"),
        "system name",
    );
    let (status, body) = srv.get_anon(&check("dave")).await;
    assert_unauthorized(status, &body, "anonymous");
    set_setting(&srv, &admin, "Accounts_AllowUsernameChange", json!(false)).await;
    let (status, body) = srv.get(&check("dave"), &bob).await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "renames off");
}

/// `users.create` joins the default channels unless told `joinDefaultChannels: false`.
#[tokio::test]
async fn users_create_joins_default_channels_unless_told_not_to() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let create = |name: &str, join: Option<bool>| {
        let mut body = json!({
            "username": name,
            "name": name,
            "email": format!("{name}@palaver.test"),
            "password": palaver_tests::server::password_for(name),
        });
        if let Some(join) = join {
            body["joinDefaultChannels"] = json!(join);
        }
        body
    };
    for (name, join, expect) in [
        ("joiner", None, vec!["general"]),
        ("explicit", Some(true), vec!["general"]),
        ("loner", Some(false), vec![]),
    ] {
        srv.post_ok("users.create", &admin, create(name, join))
            .await;
        let who = srv
            .login(name, &palaver_tests::server::password_for(name))
            .await;
        let joined = srv.get_ok("channels.list.joined", &who).await;
        let names: Vec<&str> = joined["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, expect, "{name}: {joined}");
    }
}
