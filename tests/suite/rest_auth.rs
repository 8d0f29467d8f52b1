//! REST authentication: `login` (username, e-mail, `user`, resume token), wrong
//! credentials, `logout`, `me`, 401s, deactivated users and login rate limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[track_caller]
fn assert_login_ok(r: &palaver_tests::server::Resp, username: &str, ctx: &str) -> (String, String) {
    assert_eq!(r.status, StatusCode::OK, "{ctx}: {}", r.text);
    assert_eq!(r.json["status"], json!("success"), "{ctx}: {}", r.text);
    let data = &r.json["data"];
    let user_id = str_of(&data["userId"], ctx).to_string();
    let token = str_of(&data["authToken"], ctx).to_string();
    assert!(
        token.len() >= 20,
        "{ctx}: authToken looks too short to be random: {token:?}"
    );
    assert_eq!(
        data["me"]["_id"],
        json!(user_id),
        "{ctx}: data.me._id: {}",
        r.text
    );
    assert_eq!(
        data["me"]["username"],
        json!(username),
        "{ctx}: data.me.username: {}",
        r.text
    );
    assert_no_secrets(&r.json, ctx);
    (user_id, token)
}

#[track_caller]
fn assert_login_refused(r: &palaver_tests::server::Resp, ctx: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{ctx}: {}", r.text);
    assert_eq!(r.json["status"], json!("error"), "{ctx}: {}", r.text);
    assert_eq!(r.json["error"], json!("Unauthorized"), "{ctx}: {}", r.text);
    assert!(
        r.json["message"].is_string(),
        "{ctx}: `message` must be a string: {}",
        r.text
    );
    assert!(
        r.json.get("data").is_none(),
        "{ctx}: a refused login must not carry data: {}",
        r.text
    );
}

#[tokio::test]
async fn login_by_username_email_user_field_and_resume_then_me() {
    let srv = Palaver::start().await;

    let by_user = srv
        .try_login(json!({ "user": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
        .await;
    let (admin_id, t1) = assert_login_ok(&by_user, ADMIN_USERNAME, "login {user: username}");
    assert!(
        by_user.json["data"]["me"]["roles"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("admin"))),
        "the configured admin has the admin role: {}",
        by_user.text
    );

    let by_user_email = srv
        .try_login(json!({ "user": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .await;
    let (id2, t2) = assert_login_ok(&by_user_email, ADMIN_USERNAME, "login {user: email}");
    assert_eq!(id2, admin_id);

    let by_username = srv
        .try_login(json!({ "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD }))
        .await;
    let (id3, t3) = assert_login_ok(&by_username, ADMIN_USERNAME, "login {username}");
    assert_eq!(id3, admin_id);

    let by_email = srv
        .try_login(json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .await;
    let (id4, t4) = assert_login_ok(&by_email, ADMIN_USERNAME, "login {email}");
    assert_eq!(id4, admin_id);

    // E-mail addresses are stored lower-cased and matched case-insensitively.
    let upper = srv
        .try_login(json!({ "user": ADMIN_EMAIL.to_uppercase(), "password": ADMIN_PASSWORD }))
        .await;
    assert_login_ok(&upper, ADMIN_USERNAME, "login {user: EMAIL in upper case}");

    let tokens = [t1.clone(), t2, t3, t4];
    let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        tokens.len(),
        "every login issues its own token: {tokens:?}"
    );

    let resumed = srv.try_login(json!({ "resume": t1 })).await;
    let (id5, t5) = assert_login_ok(&resumed, ADMIN_USERNAME, "login {resume}");
    assert_eq!(id5, admin_id);

    // Every token issued works, independently.
    for token in tokens.iter().chain(std::iter::once(&t5)) {
        let s = Session {
            user_id: admin_id.clone(),
            token: token.clone(),
            username: ADMIN_USERNAME.into(),
        };
        let (status, me) = srv.get("me", &s).await;
        assert_eq!(status, StatusCode::OK, "me with token {token}: {me}");
        assert_eq!(me["success"], json!(true), "me: {me}");
        assert_eq!(me["_id"], json!(admin_id), "me._id: {me}");
        assert_eq!(me["username"], json!(ADMIN_USERNAME), "me.username: {me}");
        assert_eq!(
            me["emails"][0]["address"],
            json!(ADMIN_EMAIL),
            "me.emails: {me}"
        );
        assert!(
            me["roles"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("admin"))),
            "me.roles: {me}"
        );
        assert_eq!(me["active"], json!(true), "me.active: {me}");
        assert_no_secrets(&me, "me");
    }

    // A regular user logs in the same ways and is not an admin.
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let me = srv.get_ok("me", &bob).await;
    assert_eq!(me["username"], json!("bob"));
    assert_eq!(me["name"], json!("bob Name"));
    assert_eq!(me["emails"][0]["address"], json!("bob@palaver.test"));
    assert!(
        !me["roles"].as_array().unwrap().contains(&json!("admin")),
        "bob is no admin: {me}"
    );
    let by_mail = srv
        .try_login(json!({ "user": "bob@palaver.test", "password": password_for("bob") }))
        .await;
    assert_login_ok(&by_mail, "bob", "bob by e-mail");
}

#[tokio::test]
async fn wrong_credentials_are_401_with_rocket_chat_shape() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bob").await;

    let cases = [
        (
            "wrong password",
            json!({ "user": ADMIN_USERNAME, "password": "not-the-password" }),
        ),
        (
            "wrong password by username",
            json!({ "username": "bob", "password": "nope" }),
        ),
        (
            "wrong password by email",
            json!({ "email": "bob@palaver.test", "password": "nope" }),
        ),
        (
            "unknown user",
            json!({ "user": "nobody", "password": "whatever" }),
        ),
        (
            "unknown email",
            json!({ "user": "nobody@palaver.test", "password": "whatever" }),
        ),
        (
            "another user's password",
            json!({ "user": "bob", "password": ADMIN_PASSWORD }),
        ),
        (
            "bogus resume token",
            json!({ "resume": "this-is-not-a-token" }),
        ),
        ("empty password", json!({ "user": "bob", "password": "" })),
    ];
    for (ctx, body) in cases {
        let r = srv.try_login(body).await;
        assert_login_refused(&r, ctx);
    }

    // Bodies that are not credentials at all are refused without a 5xx and without
    // a token.
    for body in [
        json!({}),
        json!({ "user": "bob" }),
        json!({ "password": "x" }),
        json!({ "user": 5, "password": [] }),
    ] {
        let r = srv.try_login(body.clone()).await;
        assert!(
            r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNAUTHORIZED,
            "login {body} → {} {}",
            r.status,
            r.text
        );
        assert!(
            r.json["data"]["authToken"].is_null(),
            "login {body} issued a token: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn logout_revokes_only_that_token() {
    let srv = Palaver::start().await;
    let s1 = srv.admin().await;
    let s2 = srv.admin().await;
    let s3 = srv.admin().await;

    let r = srv
        .request(Method::POST, "logout", Some(&s1), Body::None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "POST logout: {}", r.text);
    assert_eq!(
        r.json,
        json!({ "status": "success", "data": { "message": "You've been logged out!" } }),
        "POST logout body"
    );
    let (status, body) = srv.get("me", &s1).await;
    assert_unauthorized(status, &body, "me with a logged-out token");
    srv.get_ok("me", &s2).await;

    let r = srv
        .request(Method::GET, "logout", Some(&s2), Body::None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "GET logout: {}", r.text);
    assert_eq!(r.json["status"], json!("success"), "GET logout: {}", r.text);
    let (status, body) = srv.get("me", &s2).await;
    assert_unauthorized(status, &body, "me after GET logout");
    srv.get_ok("me", &s3).await;

    // The revoked token can't be resumed either, and logging out twice is a 401.
    assert_login_refused(
        &srv.try_login(json!({ "resume": s1.token })).await,
        "resume a logged-out token",
    );
    let r = srv
        .request(Method::POST, "logout", Some(&s1), Body::None)
        .await;
    assert_unauthorized(r.status, &r.json, "logout with a revoked token");
    let r = srv.request(Method::POST, "logout", None, Body::None).await;
    assert_unauthorized(r.status, &r.json, "logout without credentials");
}

#[tokio::test]
async fn requests_without_valid_credentials_are_401() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &admin, "open", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();

    let gets = [
        "me".to_string(),
        "users.list".into(),
        format!("users.info?userId={}", bob.user_id),
        "channels.list".into(),
        "channels.list.joined".into(),
        format!("channels.info?roomId={rid}"),
        format!("channels.history?roomId={rid}"),
        format!("channels.members?roomId={rid}"),
        "groups.list".into(),
        "im.list".into(),
        "dm.list".into(),
        "rooms.get".into(),
        format!("rooms.info?roomId={rid}"),
        "subscriptions.get".into(),
        "chat.getMessage?msgId=x".into(),
        "chat.getThreadMessages?tmid=x".into(),
    ];
    let posts = [
        (
            "users.create",
            json!({ "username": "eve", "email": "eve@x.test", "password": "p", "name": "Eve" }),
        ),
        (
            "users.update",
            json!({ "userId": bob.user_id, "data": { "name": "Hacked" } }),
        ),
        (
            "users.setActiveStatus",
            json!({ "userId": bob.user_id, "activeStatus": false }),
        ),
        ("channels.create", json!({ "name": "sneaky" })),
        ("channels.join", json!({ "roomId": rid })),
        ("channels.leave", json!({ "roomId": rid })),
        (
            "channels.invite",
            json!({ "roomId": rid, "userId": bob.user_id }),
        ),
        ("channels.delete", json!({ "roomId": rid })),
        ("groups.create", json!({ "name": "sneaky-group" })),
        ("im.create", json!({ "username": "bob" })),
        (
            "chat.postMessage",
            json!({ "roomId": rid, "text": "anonymous" }),
        ),
        (
            "chat.sendMessage",
            json!({ "message": { "rid": rid, "msg": "anonymous" } }),
        ),
        (
            "chat.update",
            json!({ "roomId": rid, "msgId": "x", "text": "y" }),
        ),
        ("chat.delete", json!({ "roomId": rid, "msgId": "x" })),
        (
            "chat.react",
            json!({ "messageId": "x", "emoji": ":smile:" }),
        ),
        ("subscriptions.read", json!({ "rid": rid })),
    ];

    let wrong_token = Session {
        token: "x".repeat(43),
        ..bob.clone()
    };
    let mismatched = Session {
        user_id: admin.user_id.clone(),
        ..bob.clone()
    };
    let no_user_id = Session {
        user_id: String::new(),
        ..bob.clone()
    };
    for path in &gets {
        let r = srv.request(Method::GET, path, None, Body::None).await;
        assert_unauthorized(r.status, &r.json, &format!("GET {path} without headers"));
        for (what, s) in [
            ("wrong token", &wrong_token),
            ("another user's id", &mismatched),
            ("empty user id", &no_user_id),
        ] {
            let (status, body) = srv.get(path, s).await;
            assert_unauthorized(status, &body, &format!("GET {path} with {what}"));
        }
    }
    for (path, body) in &posts {
        let (status, resp) = srv.post_anon(path, body.clone()).await;
        assert_unauthorized(status, &resp, &format!("POST {path} without headers"));
        let (status, resp) = srv.post(path, &wrong_token, body.clone()).await;
        assert_unauthorized(status, &resp, &format!("POST {path} with a wrong token"));
        let (status, resp) = srv.post(path, &mismatched, body.clone()).await;
        assert_unauthorized(
            status,
            &resp,
            &format!("POST {path} with another user's id"),
        );
    }
    // Only the token header, or only the user id header.
    let r = srv
        .request_with_headers(
            Method::GET,
            "me",
            None,
            Body::None,
            &[("X-Auth-Token", bob.token.as_str())],
        )
        .await;
    assert_unauthorized(r.status, &r.json, "me with only X-Auth-Token");
    let r = srv
        .request_with_headers(
            Method::GET,
            "me",
            None,
            Body::None,
            &[("X-User-Id", bob.user_id.as_str())],
        )
        .await;
    assert_unauthorized(r.status, &r.json, "me with only X-User-Id");

    // Nothing above changed anything.
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(info["user"]["name"], json!("bob Name"));
    assert_eq!(info["user"]["active"], json!(true));
    let hist = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    assert!(
        msg_texts(&hist["messages"]).is_empty(),
        "no anonymous message got in: {hist}"
    );
    let (status, _) = srv.get("users.info?username=eve", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "eve must not exist");
}

#[tokio::test]
async fn deactivated_user_cannot_log_in_and_their_tokens_stop_working() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let bob2 = srv.login("bob", &password_for("bob")).await;
    let carol = srv.create_user(&admin, "carol").await;

    // Only admins change the active status.
    let (status, body) = srv
        .post(
            "users.setActiveStatus",
            &carol,
            json!({ "userId": bob.user_id, "activeStatus": false }),
        )
        .await;
    assert_error(status, &body, 403, None, "non-admin users.setActiveStatus");
    srv.get_ok("me", &bob).await;

    let body = srv
        .post_ok(
            "users.setActiveStatus",
            &admin,
            json!({ "userId": bob.user_id, "activeStatus": false }),
        )
        .await;
    assert_eq!(
        body["user"]["_id"],
        json!(bob.user_id),
        "setActiveStatus answer: {body}"
    );
    assert_eq!(
        body["user"]["active"],
        json!(false),
        "setActiveStatus answer: {body}"
    );

    for s in [&bob, &bob2] {
        let (status, body) = srv.get("me", s).await;
        assert_unauthorized(status, &body, "me with a deactivated user's token");
        let (status, body) = srv
            .post("channels.create", s, json!({ "name": "by-deactivated" }))
            .await;
        assert_unauthorized(status, &body, "channels.create by a deactivated user");
    }
    let r = srv
        .try_login(json!({ "user": "bob", "password": password_for("bob") }))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a deactivated user's login: {}",
        r.text
    );
    assert_eq!(
        r.json["status"],
        json!("error"),
        "a deactivated user's login: {}",
        r.text
    );
    assert!(
        r.json["data"]["authToken"].is_null(),
        "no token for a deactivated user: {}",
        r.text
    );
    let r = srv.try_login(json!({ "resume": bob2.token })).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "resume by a deactivated user: {}",
        r.text
    );

    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(
        info["user"]["active"],
        json!(false),
        "users.info after deactivation: {info}"
    );

    // Unknown user / bad params.
    let (status, body) = srv
        .post(
            "users.setActiveStatus",
            &admin,
            json!({ "userId": "doesNotExist12345", "activeStatus": false }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        None,
        "setActiveStatus on an unknown user",
    );
    let (status, body) = srv
        .post(
            "users.setActiveStatus",
            &admin,
            json!({ "userId": bob.user_id, "activeStatus": "no" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "setActiveStatus with a non-boolean",
    );

    // Reactivated: bob can log in again.
    let body = srv
        .post_ok(
            "users.setActiveStatus",
            &admin,
            json!({ "userId": bob.user_id, "activeStatus": true }),
        )
        .await;
    assert_eq!(body["user"]["active"], json!(true), "{body}");
    let again = srv.login("bob", &password_for("bob")).await;
    srv.get_ok("me", &again).await;
}
