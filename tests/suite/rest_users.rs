//! REST users: `users.create`, `users.info`, `users.list`, `users.update`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

fn new_user(username: &str) -> Value {
    json!({
        "username": username,
        "name": format!("{username} Name"),
        "email": format!("{username}@palaver.test"),
        "password": password_for(username),
    })
}

#[track_caller]
fn assert_user_shape(u: &Value, username: &str, ctx: &str) {
    // Rocket.Chat's bot has the fixed id `rocket.cat`.
    if username != "rocket.cat" {
        assert_rc_id(&u["_id"], &format!("{ctx}: user _id"));
    }
    assert_eq!(u["username"], json!(username), "{ctx}: username: {u}");
    assert!(u["active"].is_boolean(), "{ctx}: active: {u}");
    assert!(u["roles"].is_array(), "{ctx}: roles: {u}");
    for date in ["createdAt", "_updatedAt"] {
        if let Some(v) = u.get(date) {
            ts(v, &format!("{ctx}: user {date}"));
        }
    }
    assert_no_secrets(u, ctx);
}

#[tokio::test]
async fn users_create_validates_and_only_admins_may() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;

    let body = srv.post_ok("users.create", &admin, new_user("bob")).await;
    let user = &body["user"];
    assert_user_shape(user, "bob", "users.create");
    assert_eq!(user["name"], json!("bob Name"));
    assert_eq!(
        user["emails"][0]["address"],
        json!("bob@palaver.test"),
        "{user}"
    );
    assert!(
        user["emails"][0]["verified"].is_boolean(),
        "emails[].verified: {user}"
    );
    assert_eq!(user["roles"], json!(["user"]), "default roles: {user}");
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["type"], json!("user"), "type: {user}");
    let bob = srv.login("bob", &password_for("bob")).await;
    assert_eq!(bob.user_id, user["_id"].as_str().unwrap());

    // E-mail addresses keep their case (as in Rocket.Chat); lookups ignore it.
    let mut carol = new_user("carol");
    carol["email"] = json!("Carol.Mixed@Palaver.TEST");
    let body = srv.post_ok("users.create", &admin, carol).await;
    assert_eq!(
        body["user"]["emails"][0]["address"],
        json!("Carol.Mixed@Palaver.TEST"),
        "{body}"
    );
    srv.login("carol.mixed@palaver.test", &password_for("carol"))
        .await;

    // Explicit roles, and a bot.
    let mut robot = new_user("robot");
    robot["roles"] = json!(["bot"]);
    let body = srv.post_ok("users.create", &admin, robot).await;
    assert!(
        body["user"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("bot")),
        "{body}"
    );

    // Duplicates: username (in any case) and e-mail.
    let (status, body) = srv.post("users.create", &admin, new_user("bob")).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-field-unavailable"),
        "duplicate username",
    );
    let mut dup = new_user("BOB");
    dup["email"] = json!("other-bob@palaver.test");
    let (status, body) = srv.post("users.create", &admin, dup).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-field-unavailable"),
        "duplicate username in upper case",
    );
    let mut dup = new_user("bobby");
    dup["email"] = json!("BOB@palaver.test");
    let (status, body) = srv.post("users.create", &admin, dup).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-field-unavailable"),
        "duplicate e-mail",
    );

    // Missing or mistyped fields.
    for field in ["username", "email", "password", "name"] {
        let mut b = new_user("dave");
        b.as_object_mut().unwrap().remove(field);
        let (status, body) = srv.post("users.create", &admin, b).await;
        assert_error(
            status,
            &body,
            400,
            Some("invalid-params"),
            &format!("users.create without {field}"),
        );
    }
    let mut b = new_user("dave");
    b["roles"] = json!("admin");
    let (status, body) = srv.post("users.create", &admin, b).await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "users.create with roles not an array",
    );
    // Invalid user names / e-mails.
    for bad in ["bad name", "", "a/b", "x@y"] {
        let mut b = new_user("dave");
        b["username"] = json!(bad);
        let (status, body) = srv.post("users.create", &admin, b).await;
        assert_error(
            status,
            &body,
            400,
            None,
            &format!("users.create with username {bad:?}"),
        );
    }
    let mut b = new_user("dave");
    b["email"] = json!("not-an-email");
    let (status, body) = srv.post("users.create", &admin, b).await;
    assert_error(
        status,
        &body,
        400,
        None,
        "users.create with an invalid e-mail",
    );

    // A regular user may not create users.
    let (status, body) = srv.post("users.create", &bob, new_user("mallory")).await;
    assert_error(status, &body, 403, None, "users.create by a non-admin");
    let (status, body) = srv.get("users.info?username=mallory", &admin).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "the refused user does not exist",
    );
    let (status, body) = srv.get("users.info?username=dave", &admin).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "no invalid dave was created",
    );
}

#[tokio::test]
async fn users_info_and_list_hide_private_fields_from_non_admins() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    // Whatever users exist before the test creates any (the admin, maybe a bot).
    let base = srv.get_ok("users.list", &admin).await["total"]
        .as_u64()
        .expect("users.list total") as usize;
    assert!(base >= 1, "the admin is listed");
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    // By id and by username, as admin: full record with e-mails.
    let by_id = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_user_shape(&by_id["user"], "bob", "users.info by id");
    assert_eq!(by_id["user"]["name"], json!("bob Name"));
    assert_eq!(
        by_id["user"]["emails"][0]["address"],
        json!("bob@palaver.test"),
        "admin sees e-mails: {by_id}"
    );
    let by_name = srv.get_ok("users.info?username=bob", &admin).await;
    assert_eq!(by_name["user"]["_id"], json!(bob.user_id));

    // Another regular user sees the public profile only.
    let seen = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &carol)
        .await;
    assert_eq!(seen["user"]["_id"], json!(bob.user_id));
    assert_eq!(seen["user"]["username"], json!("bob"));
    assert!(
        seen["user"].get("emails").is_none(),
        "a non-admin must not see others' e-mails: {seen}"
    );
    assert_no_secrets(&seen, "users.info as non-admin");

    // Unknown or missing.
    let (status, body) = srv.get("users.info?userId=doesNotExist12345", &admin).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "users.info unknown id",
    );
    let (status, body) = srv.get("users.info?username=nobody", &carol).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user"),
        "users.info unknown username",
    );
    let (status, body) = srv.get("users.info", &admin).await;
    assert_error(
        status,
        &body,
        400,
        None,
        "users.info without userId/username",
    );

    // users.list: everyone, paginated.
    for i in 0..5 {
        srv.post_ok("users.create", &admin, new_user(&format!("user{i}")))
            .await;
    }
    let total = base + 2 + 5; // + bob, carol, user0..user4
    let all = srv.get_ok("users.list", &admin).await;
    assert_page(&all, "users", total, 0, total as u64, "users.list");
    let names: BTreeSet<&str> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "admin", "bob", "carol", "user0", "user1", "user2", "user3", "user4",
    ]
    .into_iter()
    .collect();
    assert!(
        names.is_superset(&expected),
        "users.list misses users: {names:?}"
    );
    for u in all["users"].as_array().unwrap() {
        assert_user_shape(u, u["username"].as_str().unwrap(), "users.list entry");
    }
    let bob_entry = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == json!("bob"))
        .unwrap();
    assert_eq!(
        bob_entry["emails"][0]["address"],
        json!("bob@palaver.test"),
        "admin's users.list shows e-mails"
    );

    // Pages partition the list.
    let mut seen_ids = Vec::new();
    for offset in (0..total).step_by(3) {
        let page = srv
            .get_ok(&format!("users.list?offset={offset}&count=3"), &admin)
            .await;
        let n = (total - offset).min(3);
        assert_page(
            &page,
            "users",
            n,
            offset as u64,
            total as u64,
            &format!("users.list offset {offset}"),
        );
        seen_ids.extend(ids(&page["users"]));
    }
    let unique: BTreeSet<_> = seen_ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        total,
        "pages of users.list overlap or miss users: {seen_ids:?}"
    );
    assert_eq!(unique, id_set(&all["users"]));
    let beyond = srv.get_ok("users.list?offset=100", &admin).await;
    assert_page(
        &beyond,
        "users",
        0,
        100,
        total as u64,
        "users.list past the end",
    );

    // A regular user lists the others without their e-mails.
    let as_bob = srv.get_ok("users.list", &bob).await;
    assert_eq!(as_bob["total"], json!(total));
    for u in as_bob["users"].as_array().unwrap() {
        if u["_id"] != json!(bob.user_id) {
            assert!(
                u.get("emails").is_none(),
                "non-admin users.list shows others' e-mails: {u}"
            );
        }
        assert_no_secrets(u, "users.list as non-admin");
    }
}

#[tokio::test]
async fn users_update_by_admin_changes_profile_and_password() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({ "userId": bob.user_id, "data": { "name": "Robert" } }),
        )
        .await;
    assert_user_shape(&body["user"], "bob", "users.update");
    assert_eq!(body["user"]["_id"], json!(bob.user_id));
    assert_eq!(body["user"]["name"], json!("Robert"), "{body}");
    let info = srv.get_ok("users.info?username=bob", &admin).await;
    assert_eq!(info["user"]["name"], json!("Robert"));

    // Username and e-mail.
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({ "userId": bob.user_id, "data": { "username": "robert", "email": "robert@palaver.test" } }),
        )
        .await;
    assert_eq!(body["user"]["username"], json!("robert"), "{body}");
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(info["user"]["username"], json!("robert"));
    assert_eq!(
        info["user"]["emails"][0]["address"],
        json!("robert@palaver.test"),
        "{info}"
    );
    let (status, _) = srv.get("users.info?username=bob", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old username is gone");

    // Password: the new one works, the old one does not.
    srv.post_ok(
        "users.update",
        &admin,
        json!({ "userId": bob.user_id, "data": { "password": "Brand-new-pass-1" } }),
    )
    .await;
    let r = srv
        .try_login(json!({ "user": "robert", "password": password_for("bob") }))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "old password after a change: {}",
        r.text
    );
    let robert = srv.login("robert", "Brand-new-pass-1").await;
    assert_eq!(robert.user_id, bob.user_id);
    srv.login("robert@palaver.test", "Brand-new-pass-1").await;

    // Taken username / e-mail.
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({ "userId": bob.user_id, "data": { "username": "carol" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-field-unavailable"),
        "users.update to a taken username",
    );
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({ "userId": bob.user_id, "data": { "email": "carol@palaver.test" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-field-unavailable"),
        "users.update to a taken e-mail",
    );

    // Unknown user, missing fields.
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({ "userId": "doesNotExist12345", "data": { "name": "X" } }),
        )
        .await;
    assert_error(status, &body, 400, None, "users.update of an unknown user");
    let (status, body) = srv
        .post("users.update", &admin, json!({ "userId": bob.user_id }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "users.update without data",
    );
    let (status, body) = srv
        .post("users.update", &admin, json!({ "data": { "name": "X" } }))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "users.update without userId",
    );

    // A regular user may not edit someone else, nor make themself admin.
    let (status, body) = srv
        .post(
            "users.update",
            &carol,
            json!({ "userId": bob.user_id, "data": { "name": "Pwned" } }),
        )
        .await;
    // Rocket.Chat's `saveUser` refusal: 400, not a route permission's 403.
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "users.update of another user by a non-admin",
    );
    let (status, body) = srv
        .post(
            "users.update",
            &carol,
            json!({ "userId": carol.user_id, "data": { "roles": ["admin"] } }),
        )
        .await;
    assert_refused(status, &body, "a non-admin granting themself admin");
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(
        info["user"]["name"],
        json!("Robert"),
        "the refused update changed nothing"
    );
    let me = srv.get_ok("me", &carol).await;
    assert!(
        !me["roles"].as_array().unwrap().contains(&json!("admin")),
        "carol is still no admin: {me}"
    );

    // Admin grants roles.
    let body = srv
        .post_ok(
            "users.update",
            &admin,
            json!({ "userId": carol.user_id, "data": { "roles": ["user", "admin"] } }),
        )
        .await;
    let roles = body["user"]["roles"].as_array().unwrap();
    assert!(
        roles.contains(&json!("admin")) && roles.contains(&json!("user")),
        "{body}"
    );
    // Now carol can create users.
    srv.post_ok("users.create", &carol, new_user("dave")).await;
}

/// Rocket.Chat's reserved names: the system's own (admin, administrator, system,
/// user) for users and rooms, the mention keywords, and the admin's blocked list
/// (live), on every way a username is taken; the first admin keeps `admin`.
#[tokio::test]
async fn reserved_usernames_and_room_names_are_refused() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.post_ok(
        "settings/Accounts_RegistrationForm",
        &admin,
        json!({"value": "Public"}),
    )
    .await;

    for name in ["admin", "Administrator", "SYSTEM", "user", "all", "here"] {
        let (status, body) = srv.post("users.create", &admin, new_user(name)).await;
        assert_error(
            status,
            &body,
            400,
            Some("error-blocked-username"),
            &format!("users.create {name}"),
        );
        assert_eq!(
            body["error"],
            json!(format!(
                "{name} is blocked and can't be used! [error-blocked-username]"
            )),
            "{body}"
        );
        let (status, body) = srv
            .post_anon(
                "users.register",
                json!({"username": name, "email": format!("{name}-r@palaver.test"),
                       "pass": "Reg1-Pa55word", "name": name}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-blocked-username"),
            &format!("users.register {name}"),
        );
    }
    let (status, body) = srv.get("users.info?username=system", &admin).await;
    assert_eq!(status, 400, "no account was made: {body}");

    // Renames: a system name cannot be taken, by an admin or by oneself.
    let bob = srv.create_user(&admin, "bob").await;
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({"userId": bob.user_id, "data": {"username": "system"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-could-not-save-identity"),
        "users.update to system",
    );
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &bob,
            json!({"data": {"username": "administrator"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-could-not-save-identity"),
        "updateOwnBasicInfo to administrator",
    );
    let info = srv.get_ok("users.info?username=bob", &admin).await;
    assert_eq!(info["user"]["_id"], json!(bob.user_id), "bob kept his name");

    // The admin's list applies at once, in any case; taking names off frees them.
    srv.post_ok(
        "settings/Accounts_BlockedUsernameList",
        &admin,
        json!({"value": "mallory, Eve"}),
    )
    .await;
    for name in ["mallory", "EVE"] {
        let (status, body) = srv.post("users.create", &admin, new_user(name)).await;
        assert_error(
            status,
            &body,
            400,
            Some("error-blocked-username"),
            &format!("listed {name}"),
        );
    }
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({"userId": bob.user_id, "data": {"username": "eve"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-blocked-username"),
        "rename to a listed name",
    );
    srv.post_ok(
        "settings/Accounts_BlockedUsernameList",
        &admin,
        json!({"value": ""}),
    )
    .await;
    srv.post_ok("users.create", &admin, new_user("eve")).await;

    // The first admin, created as `admin`, keeps the name and can be edited.
    srv.post_ok(
        "users.update",
        &admin,
        json!({"userId": admin.user_id, "data": {"name": "Chief"}}),
    )
    .await;
    srv.admin().await;

    // Rooms cannot take a system name either.
    for (endpoint, name) in [("channels.create", "admin"), ("groups.create", "System")] {
        let (status, body) = srv.post(endpoint, &admin, json!({"name": name})).await;
        assert_error(
            status,
            &body,
            400,
            Some("error-invalid-room-name"),
            &format!("{endpoint} {name}"),
        );
    }
    let room = create_channel(&srv, &admin, "ops", &[]).await;
    let rid = room["_id"].as_str().unwrap_or_default().to_string();
    let (status, body) = srv
        .post(
            "channels.rename",
            &admin,
            json!({"roomId": rid, "name": "user"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-room-name"),
        "rename to user",
    );
}
