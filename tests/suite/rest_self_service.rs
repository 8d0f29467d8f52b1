//! Self-service accounts as Rocket.Chat's API tests expect them: `users.register`
//! under each registration form, the password policy (`pw.getPolicy`, enforced on
//! every password), `users.updateOwnBasicInfo`, preferences, deleting accounts,
//! username suggestion and autocomplete; the edit/delete time windows.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

fn form(username: &str, pass: &str) -> Value {
    json!({"username": username, "email": format!("{username}@palaver.test"), "pass": pass, "name": username})
}

#[tokio::test]
async fn registration_follows_the_registration_form_and_password_policy() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;

    // Disabled by default.
    let (status, body) = srv
        .post_anon("users.register", form("reg1", "Reg1-Pa55word"))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-registration-disabled"),
        "disabled",
    );

    set(&srv, &admin, "Accounts_RegistrationForm", json!("Public")).await;
    let (status, body) = srv
        .post_anon("users.register", json!({"username": "x"}))
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "missing fields");
    assert_eq!(
        body["error"],
        json!("must have required property 'email' [invalid-params]")
    );
    let (status, body) = srv
        .post_anon("users.register", form("reg1", "Reg1-Pa55word"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["username"], json!("reg1"));
    assert_eq!(body["user"]["roles"], json!(["user"]));
    srv.login("reg1", "Reg1-Pa55word").await;
    let (status, body) = srv
        .post_anon("users.register", form("reg1", "Reg1-Pa55word"))
        .await;
    // Rocket.Chat's bare failure: the message is the whole `error`.
    assert_error(status, &body, 400, None, "taken");
    assert_eq!(body["error"], json!("Username is already in use"), "{body}");
    // The route needs no login and ignores one (Rocket.Chat's tests register
    // users with the admin's credentials set).
    let body = srv
        .post_ok("users.register", &admin, form("reg9", "Reg9-Pa55word"))
        .await;
    assert_eq!(body["user"]["username"], json!("reg9"), "{body}");
    assert_eq!(body["user"]["roles"], json!(["user"]), "{body}");

    // The policy, once enabled, refuses with every rule broken, as `details`.
    set(
        &srv,
        &admin,
        "Accounts_Password_Policy_Enabled",
        json!(true),
    )
    .await;
    let policy = srv.get_ok("pw.getPolicy", &admin).await;
    assert_eq!(policy["enabled"], json!(true));
    assert!(
        policy["policy"]
            .as_array()
            .unwrap()
            .contains(&json!(["get-password-policy-minLength", {"minLength": 7}])),
        "{policy}"
    );
    let (status, body) = srv.post_anon("users.register", form("reg2", "abc")).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-password-policy-not-met"),
        "weak",
    );
    let details: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "error-password-policy-not-met-minLength",
            "error-password-policy-not-met-oneUppercase",
            "error-password-policy-not-met-oneNumber",
            "error-password-policy-not-met-oneSpecial",
        ],
        "{body}"
    );
    // …on admin creation and admin resets too.
    let (status, body) = srv
        .post(
            "users.create",
            &admin,
            json!({"username": "weak", "email": "w@palaver.test", "name": "w", "password": "aaaa"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-password-policy-not-met"),
        "create",
    );
    let reg1 = srv.get_ok("users.info?username=reg1", &admin).await;
    let (status, body) = srv
        .post(
            "users.update",
            &admin,
            json!({"userId": reg1["user"]["_id"], "data": {"password": "weak"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-password-policy-not-met"),
        "reset",
    );

    // Secret URL: only with the workspace's secret.
    set(
        &srv,
        &admin,
        "Accounts_RegistrationForm",
        json!("Secret URL"),
    )
    .await;
    set(
        &srv,
        &admin,
        "Accounts_RegistrationForm_SecretURL",
        json!("s3cret"),
    )
    .await;
    let (status, body) = srv
        .post_anon("users.register", form("reg3", "Reg3-Pa55word"))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-user-registration-secret"),
        "no secret",
    );
    let mut with_secret = form("reg3", "Reg3-Pa55word");
    with_secret["secret"] = json!("s3cret");
    let (status, body) = srv.post_anon("users.register", with_secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Manual approval: the account starts deactivated.
    set(&srv, &admin, "Accounts_RegistrationForm", json!("Public")).await;
    set(
        &srv,
        &admin,
        "Accounts_ManuallyApproveNewUsers",
        json!(true),
    )
    .await;
    let (_, body) = srv
        .post_anon("users.register", form("reg4", "Reg4-Pa55word"))
        .await;
    assert_eq!(body["user"]["active"], json!(false), "{body}");
    let r = srv
        .try_login(json!({"user": "reg4", "password": "Reg4-Pa55word"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn own_basic_info_needs_the_current_password_for_email_and_password() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let other = srv.login("alice", &password_for("alice")).await;

    let body = srv
        .post_ok(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"name": "Alice A.", "bio": "hi", "nickname": "al"}}),
        )
        .await;
    assert_eq!(body["user"]["name"], json!("Alice A."));
    assert_eq!(body["user"]["bio"], json!("hi"));

    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"newPassword": "Newer-Pa55word"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("totp-required"),
        "no current password",
    );
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"newPassword": "Newer-Pa55word", "currentPassword": "wrong"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("totp-invalid"),
        "wrong current password",
    );
    let (status, body) = srv
        .post("users.updateOwnBasicInfo", &alice, json!({"data": {"newPassword": password_for("alice"), "currentPassword": password_for("alice")}}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-password-same-as-current"),
        "same",
    );
    // The app sends the current password's SHA-256.
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(password_for("alice").as_bytes()))
    };
    srv.post_ok(
        "users.updateOwnBasicInfo",
        &alice,
        json!({"data": {"newPassword": "Newer-Pa55word", "currentPassword": digest}}),
    )
    .await;
    srv.login("alice", "Newer-Pa55word").await;
    srv.get_ok("me", &alice).await;
    let (status, body) = srv.get("me", &other).await;
    assert_unauthorized(
        status,
        &body,
        "the other session ends with a password change",
    );

    // Two-factor authentication off (Rocket.Chat's checkCodeForUser): no second
    // factor, so no current password, for a new password or email; the password
    // policy still applies.
    set(
        &srv,
        &admin,
        "Accounts_TwoFactorAuthentication_Enabled",
        json!(false),
    )
    .await;
    set(
        &srv,
        &admin,
        "Accounts_Password_Policy_Enabled",
        json!(true),
    )
    .await;
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"newPassword": "2"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-password-policy-not-met"),
        "policy without a second factor",
    );
    assert!(
        body["details"]
            .to_string()
            .contains("error-password-policy-not-met-minLength"),
        "{body}"
    );
    set(
        &srv,
        &admin,
        "Accounts_Password_Policy_Enabled",
        json!(false),
    )
    .await;
    let body = srv
        .post_ok(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"newPassword": "Newest-Pa55word", "email": "alice2@example.com"}}),
        )
        .await;
    assert_eq!(
        body["user"]["emails"][0]["address"], "alice2@example.com",
        "{body}"
    );
    let alice = srv.login("alice", "Newest-Pa55word").await;
    set(
        &srv,
        &admin,
        "Accounts_TwoFactorAuthentication_Enabled",
        json!(true),
    )
    .await;
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"newPassword": "Other-Pa55word"}}),
        )
        .await;
    assert_error(status, &body, 400, Some("totp-required"), "back on");

    set(&srv, &admin, "Accounts_AllowRealNameChange", json!(false)).await;
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"name": "Other"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "name change off",
    );
    set(
        &srv,
        &admin,
        "Accounts_AllowUserProfileChange",
        json!(false),
    )
    .await;
    let (status, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &alice,
            json!({"data": {"bio": "x"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-allowed"),
        "profile change off",
    );
}

#[tokio::test]
async fn preferences_default_as_rocket_chat_and_keep_what_users_set() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    // `/me` fills in the defaults; `users.getPreferences` answers only what the
    // user set, as Rocket.Chat does.
    let me = srv.get_ok("me", &alice).await;
    let prefs = me["settings"]["preferences"].clone();
    for key in [
        "alsoSendThreadToChannel",
        "sidebarSortby",
        "idleTimeLimit",
        "featuresPreview",
        "sidebarSectionsOrder",
    ] {
        assert!(prefs.get(key).is_some(), "{key}: {prefs}");
    }
    let prefs = srv.get_ok("users.getPreferences", &alice).await["preferences"].clone();
    assert_eq!(prefs, json!({}));
    let body = srv
        .post_ok(
            "users.setPreferences",
            &alice,
            json!({"data": {"useEmojis": false, "language": "pt-BR"}}),
        )
        .await;
    assert_eq!(
        body["user"]["settings"]["preferences"]["useEmojis"],
        json!(false)
    );
    let prefs = srv.get_ok("users.getPreferences", &alice).await["preferences"].clone();
    assert_eq!(prefs, json!({"useEmojis": false, "language": "pt-BR"}));
    let me = srv.get_ok("me", &alice).await;
    assert_eq!(me["settings"]["preferences"]["useEmojis"], json!(false));
    assert_eq!(
        me["settings"]["preferences"]["convertAsciiEmoji"],
        json!(true)
    );
    let (status, body) = srv
        .post(
            "users.setPreferences",
            &alice,
            json!({"data": {"useEmojis": "no"}}),
        )
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "wrong type");
    let (status, body) = srv
        .post(
            "users.setPreferences",
            &alice,
            json!({"userId": admin.user_id, "data": {"useEmojis": false}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "someone else's",
    );
}

#[tokio::test]
async fn deleting_accounts_removes_memberships_and_keeps_messages() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let ch = srv
        .post_ok(
            "channels.create",
            &bob,
            json!({"name": "del-room", "members": ["alice"]}),
        )
        .await;
    let rid = ch["channel"]["_id"].as_str().unwrap().to_string();
    srv.post_ok(
        "chat.sendMessage",
        &alice,
        json!({"message": {"rid": rid, "msg": "from alice"}}),
    )
    .await;

    // deleteOwnAccount: off by default, then needs the password.
    let (status, body) = srv
        .post(
            "users.deleteOwnAccount",
            &alice,
            json!({"password": password_for("alice")}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "setting off");
    set(&srv, &admin, "Accounts_AllowDeleteOwnAccount", json!(true)).await;
    let (status, body) = srv
        .post(
            "users.deleteOwnAccount",
            &alice,
            json!({"password": "wrong"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-password"),
        "wrong password",
    );
    srv.post_ok(
        "users.deleteOwnAccount",
        &alice,
        json!({"password": password_for("alice")}),
    )
    .await;
    let (status, body) = srv.get("me", &alice).await;
    assert_unauthorized(status, &body, "deleted account's token");
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), &bob)
        .await;
    let names: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob"], "{members}");
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    assert!(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["msg"] == json!("from alice")),
        "messages stay: {history}"
    );
    // The name is free again.
    srv.create_user(&admin, "alice").await;

    // users.delete: admins only; the last owner of a shared room needs confirmRelinquish.
    let carol = srv.create_user(&admin, "carol").await;
    srv.post_ok(
        "channels.invite",
        &bob,
        json!({"roomId": rid, "username": "carol"}),
    )
    .await;
    let (status, body) = srv
        .post("users.delete", &carol, json!({"username": "bob"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Rocket.Chat's bare `API.v1.unauthorized()`.
    assert_eq!(body, json!({"success": false, "error": "unauthorized"}));
    let (status, body) = srv
        .post("users.delete", &admin, json!({"username": "bob"}))
        .await;
    assert_error(status, &body, 400, Some("user-last-owner"), "last owner");
    srv.post_ok(
        "users.delete",
        &admin,
        json!({"username": "bob", "confirmRelinquish": true}),
    )
    .await;
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), &carol)
        .await;
    assert_eq!(members["total"], json!(1), "{members}");
    let (status, body) = srv
        .post("users.delete", &admin, json!({"username": "bob"}))
        .await;
    assert_error(status, &body, 400, Some("error-invalid-user"), "gone");
    let (status, body) = srv
        .post("users.delete", &admin, json!({"userId": admin.user_id}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "last admin",
    );
}

#[tokio::test]
async fn username_suggestion_and_autocomplete() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.post_ok("users.create", &admin, json!({"username": "zed", "name": "Zoe Doe", "email": "zoe@palaver.test", "password": "Zoe-Pa55word"})).await;
    srv.post_ok("users.create", &admin, json!({"username": "zoe.doe", "name": "Other", "email": "o@palaver.test", "password": "Zoe-Pa55word"})).await;
    let zed = srv.login("zed", "Zoe-Pa55word").await;
    let body = srv.get_ok("users.getUsernameSuggestion", &zed).await;
    assert_eq!(
        body["result"],
        json!("zoe.doe-1"),
        "zoe.doe is taken: {body}"
    );

    let sel = enc(r#"{"term": "zo", "exceptions": ["zed"]}"#);
    let body = srv
        .get_ok(&format!("users.autocomplete?selector={sel}"), &zed)
        .await;
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zoe.doe"], "{body}");
    let (status, body) = srv.get("users.autocomplete", &zed).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no selector");
}

/// Makes message `mid` two minutes older, with the server stopped, through the store.
async fn age_message(srv: &mut Palaver, mid: &str) {
    use palaver_server::store::{StorageTarget, Ts};
    assert!(
        srv.stop(std::time::Duration::from_secs(15)).await,
        "clean stop"
    );
    let store = palaver_server::store::open(
        &StorageTarget::Sqlite(srv.data_dir().join("palaver.db")),
        true,
    )
    .await
    .expect("open the stopped server's store");
    let mut msg = store.message(mid).await.unwrap().expect("message");
    msg.ts = Ts(msg.ts.0 - 120_000);
    assert!(store.update_message(&msg).await.unwrap());
    store.close().await.unwrap();
    srv.start_again().await;
}

#[tokio::test]
async fn edit_and_delete_windows_are_enforced() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "alice").await;
    let alice = srv.login("alice", &password_for("alice")).await;
    let ch = srv
        .post_ok("channels.create", &alice, json!({"name": "win"}))
        .await;
    let rid = ch["channel"]["_id"].as_str().unwrap().to_string();
    let mut sent = Vec::new();
    for text in ["one", "two"] {
        let body = srv
            .post_ok(
                "chat.sendMessage",
                &alice,
                json!({"message": {"rid": rid, "msg": text}}),
            )
            .await;
        sent.push(body["message"]["_id"].as_str().unwrap().to_string());
    }
    set(
        &srv,
        &admin,
        "Message_AllowEditing_BlockEditInMinutes",
        json!(1),
    )
    .await;
    set(
        &srv,
        &admin,
        "Message_AllowDeleting_BlockDeleteInMinutes",
        json!(1),
    )
    .await;
    // Within the window: allowed.
    srv.post_ok(
        "chat.update",
        &alice,
        json!({"roomId": rid, "msgId": sent[1], "text": "two!"}),
    )
    .await;

    age_message(&mut srv, &sent[0]).await;
    let alice = srv.login("alice", &password_for("alice")).await;
    let (status, body) = srv
        .post(
            "chat.update",
            &alice,
            json!({"roomId": rid, "msgId": sent[0], "text": "late"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-message-editing-blocked"),
        "edit",
    );
    let (status, body) = srv
        .post(
            "chat.delete",
            &alice,
            json!({"roomId": rid, "msgId": sent[0]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-message-deleting-blocked"),
        "delete",
    );
    // The same over realtime.
    let mut ddp = palaver_tests::ddp::Ddp::connect_as(&srv, &alice).await;
    let err = ddp
        .call_err("deleteMessage", json!([{"_id": sent[0]}]))
        .await;
    assert_eq!(
        err["error"],
        json!("error-message-deleting-blocked"),
        "{err}"
    );
    ddp.close().await;

    // 0 lifts the limit.
    set(
        &srv,
        &admin,
        "Message_AllowEditing_BlockEditInMinutes",
        json!(0),
    )
    .await;
    srv.post_ok(
        "chat.update",
        &alice,
        json!({"roomId": rid, "msgId": sent[0], "text": "late but fine"}),
    )
    .await;
    let _ = StatusCode::OK;
}

/// Accounts created without named roles get `Accounts_Registration_Users_Default_Roles`
/// (unknown roles skipped, `user` when none is left); named roles replace them.
#[tokio::test]
async fn new_accounts_get_the_default_roles_setting() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let roles_of = |body: &Value| {
        let mut r: Vec<String> = body["user"]["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        r.sort();
        r
    };
    let create = |name: &str, roles: Option<Value>| {
        let mut body = json!({
            "username": name,
            "name": name,
            "email": format!("{name}@palaver.test"),
            "password": palaver_tests::server::password_for(name),
        });
        if let Some(roles) = roles {
            body["roles"] = roles;
        }
        body
    };
    set(
        &srv,
        &admin,
        "Accounts_Registration_Users_Default_Roles",
        json!("user, admin,no-such-role"),
    )
    .await;
    let body = srv
        .post_ok("users.create", &admin, create("both", None))
        .await;
    assert_eq!(roles_of(&body), vec!["admin", "user"], "{body}");
    let body = srv
        .post_ok(
            "users.create",
            &admin,
            create("guesty", Some(json!(["guest"]))),
        )
        .await;
    assert_eq!(roles_of(&body), vec!["guest"], "{body}");
    set(
        &srv,
        &admin,
        "Accounts_Registration_Users_Default_Roles",
        json!("nope"),
    )
    .await;
    let body = srv
        .post_ok("users.create", &admin, create("plain", None))
        .await;
    assert_eq!(roles_of(&body), vec!["user"], "{body}");

    // Password reset switched off: Rocket.Chat's bare failure.
    set(&srv, &admin, "Accounts_PasswordReset", json!(false)).await;
    let (status, body) = srv
        .post_anon(
            "users.forgotPassword",
            json!({"email": "plain@palaver.test"}),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(
        body["error"],
        json!("Password reset is not enabled"),
        "{body}"
    );
}
