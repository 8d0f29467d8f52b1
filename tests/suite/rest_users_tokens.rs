//! Personal access tokens (`users.generatePersonalAccessToken` and its siblings,
//! realtime `personalAccessTokens:*`) and ending sessions (`users.logout`,
//! `users.removeOtherTokens`, `users.logoutOtherClients`), as Rocket.Chat answers.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use palaver_tests::ddp::Ddp;

async fn set_roles(srv: &Palaver, admin: &Session, perm: &str, roles: &[&str]) {
    srv.post_ok(
        "permissions.update",
        admin,
        json!({"permissions": [{"_id": perm, "roles": roles}]}),
    )
    .await;
}

/// A session made of a user id and a token (a personal access token is used so).
fn as_session(user: &Session, token: &str) -> Session {
    Session {
        user_id: user.user_id.clone(),
        token: token.to_string(),
        username: user.username.clone(),
    }
}

async fn me_status(srv: &Palaver, who: &Session) -> StatusCode {
    srv.get("me", who).await.0
}

/// Whether any file under `dir` contains `needle`.
fn found_in_files(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            found_in_files(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

#[tokio::test]
async fn personal_access_tokens_log_in_and_are_kept_hashed() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;

    let body = srv.get_ok("users.getPersonalAccessTokens", &bob).await;
    assert_eq!(body["tokens"], json!([]), "{body}");

    let body = srv
        .post_ok(
            "users.generatePersonalAccessToken",
            &bob,
            json!({"tokenName": "ci"}),
        )
        .await;
    let token = str_of(&body["token"], "token").to_string();
    assert!(token.len() >= 32, "a long random token: {token}");
    let pat = as_session(&bob, &token);
    let me = srv.get_ok("me", &pat).await;
    assert_eq!(me["username"], json!("bob"), "{me}");
    // The token is bob's only: with another user id it is no credential.
    assert_eq!(
        me_status(&srv, &as_session(&carol, &token)).await,
        StatusCode::UNAUTHORIZED
    );

    let (status, body) = srv
        .post(
            "users.generatePersonalAccessToken",
            &bob,
            json!({"tokenName": "ci"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-token-already-exists"),
        "same name",
    );
    let (status, body) = srv
        .post("users.generatePersonalAccessToken", &bob, json!({}))
        .await;
    assert_error(status, &body, 400, None, "no name");

    let body = srv.get_ok("users.getPersonalAccessTokens", &bob).await;
    let tokens = body["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 1, "{body}");
    assert_eq!(tokens[0]["name"], json!("ci"));
    assert_eq!(
        tokens[0]["lastTokenPart"],
        json!(&token[token.len() - 6..]),
        "{body}"
    );
    assert_eq!(tokens[0]["bypassTwoFactor"], json!(false));
    ts(&tokens[0]["createdAt"], "createdAt");
    assert!(
        !body.to_string().contains(&token),
        "the token is never listed: {body}"
    );
    // Only its hash is stored.
    assert!(
        !found_in_files(srv.data_dir(), token.as_bytes()),
        "the token must not be stored in clear"
    );

    // Regenerating replaces it; the old one stops working.
    let body = srv
        .post_ok(
            "users.regeneratePersonalAccessToken",
            &bob,
            json!({"tokenName": "ci"}),
        )
        .await;
    let token2 = str_of(&body["token"], "token").to_string();
    assert_ne!(token2, token);
    assert_eq!(me_status(&srv, &pat).await, StatusCode::UNAUTHORIZED);
    let pat2 = as_session(&bob, &token2);
    assert_eq!(me_status(&srv, &pat2).await, StatusCode::OK);
    let (status, body) = srv
        .post(
            "users.regeneratePersonalAccessToken",
            &bob,
            json!({"tokenName": "nope"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-token-does-not-exists"),
        "regenerate unknown",
    );

    srv.post_ok(
        "users.removePersonalAccessToken",
        &bob,
        json!({"tokenName": "ci"}),
    )
    .await;
    assert_eq!(me_status(&srv, &pat2).await, StatusCode::UNAUTHORIZED);
    let (status, body) = srv
        .post(
            "users.removePersonalAccessToken",
            &bob,
            json!({"tokenName": "ci"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-token-does-not-exists"),
        "remove twice",
    );

    // Over realtime too, with the same rules.
    let mut ddp = Ddp::connect_as(&srv, &bob).await;
    let token3 = ddp
        .call_ok(
            "personalAccessTokens:generateToken",
            json!([{"tokenName": "bot", "bypassTwoFactor": false}]),
        )
        .await;
    let token3 = str_of(&token3, "realtime token").to_string();
    assert_eq!(
        me_status(&srv, &as_session(&bob, &token3)).await,
        StatusCode::OK
    );
    ddp.call_ok(
        "personalAccessTokens:removeToken",
        json!([{"tokenName": "bot"}]),
    )
    .await;
    assert_eq!(
        me_status(&srv, &as_session(&bob, &token3)).await,
        StatusCode::UNAUTHORIZED
    );

    // Without `create-personal-access-tokens`, every call is refused.
    set_roles(&srv, &admin, "create-personal-access-tokens", &["admin"]).await;
    for (path, body) in [
        (
            "users.generatePersonalAccessToken",
            json!({"tokenName": "x"}),
        ),
        (
            "users.regeneratePersonalAccessToken",
            json!({"tokenName": "x"}),
        ),
        ("users.removePersonalAccessToken", json!({"tokenName": "x"})),
    ] {
        let (status, resp) = srv.post(path, &bob, body).await;
        assert_error(status, &resp, 400, Some("not-authorized"), path);
    }
    let (status, body) = srv.get("users.getPersonalAccessTokens", &bob).await;
    assert_error(status, &body, 400, Some("not-authorized"), "list");
    let err = ddp
        .call_err(
            "personalAccessTokens:generateToken",
            json!([{"tokenName": "y"}]),
        )
        .await;
    assert_eq!(err["error"], json!("not-authorized"), "{err}");
}

#[tokio::test]
async fn sessions_end_as_rocket_chat_ends_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let bob2 = srv.login("bob", &password_for("bob")).await;
    let body = srv
        .post_ok(
            "users.generatePersonalAccessToken",
            &bob,
            json!({"tokenName": "keep"}),
        )
        .await;
    let pat = as_session(&bob, str_of(&body["token"], "token"));

    // removeOtherTokens: the other sessions end, this one and the personal token stay.
    srv.post_ok("users.removeOtherTokens", &bob2, json!({}))
        .await;
    assert_eq!(me_status(&srv, &bob).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&srv, &bob2).await, StatusCode::OK);
    assert_eq!(me_status(&srv, &pat).await, StatusCode::OK);

    // logoutOtherClients answers with the token in use and its expiry.
    let bob3 = srv.login("bob", &password_for("bob")).await;
    let body = srv
        .post_ok("users.logoutOtherClients", &bob2, json!({}))
        .await;
    assert_eq!(body["token"], json!(bob2.token), "{body}");
    ts(&body["tokenExpires"], "tokenExpires");
    assert_eq!(me_status(&srv, &bob3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&srv, &bob2).await, StatusCode::OK);

    // users.logout of another user needs `logout-other-user`.
    let (status, body) = srv
        .post("users.logout", &carol, json!({"userId": bob.user_id}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, json!({"success": false, "error": "unauthorized"}));
    assert_eq!(me_status(&srv, &bob2).await, StatusCode::OK);
    let body = srv
        .post_ok("users.logout", &admin, json!({"userId": bob.user_id}))
        .await;
    assert_eq!(
        body["message"],
        json!(format!("User {} has been logged out!", bob.user_id)),
        "{body}"
    );
    // Every token goes, personal ones included.
    assert_eq!(me_status(&srv, &bob2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&srv, &pat).await, StatusCode::UNAUTHORIZED);
    let (status, body) = srv
        .post("users.logout", &admin, json!({"userId": "no-such-user"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-user-id"),
        "unknown user",
    );

    // Without a user id, the caller logs themselves out everywhere.
    let carol2 = srv.login("carol", &password_for("carol")).await;
    srv.post_ok("users.logout", &carol, json!({})).await;
    assert_eq!(me_status(&srv, &carol).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&srv, &carol2).await, StatusCode::UNAUTHORIZED);

    // Realtime removeOtherTokens keeps the connection's own login.
    let dave = srv.create_user(&admin, "dave").await;
    let dave2 = srv.login("dave", &password_for("dave")).await;
    let mut ddp = Ddp::connect_as(&srv, &dave).await;
    ddp.call_ok("removeOtherTokens", json!([])).await;
    assert_eq!(me_status(&srv, &dave2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&srv, &dave).await, StatusCode::OK);
    ddp.call_ok("getUserRoles", json!([])).await;

    // A realtime connection using a token that another session revokes is logged out.
    let dave3 = srv.login("dave", &password_for("dave")).await;
    srv.post_ok("users.removeOtherTokens", &dave3, json!({}))
        .await;
    let mut logged_out = false;
    for _ in 0..50 {
        let frame = ddp.call("getUserRoles", json!([])).await;
        if frame.get("error").is_some() {
            logged_out = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        logged_out,
        "the realtime session of a revoked token must end"
    );
}
