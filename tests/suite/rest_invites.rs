//! Invite links, as Rocket.Chat's `findOrCreateInvite`, `listInvites`,
//! `removeInvite/:_id`, `useInviteToken` and `validateInviteToken`: who may make
//! them, the reuse of a matching invite, the link's address, joining by a token,
//! use limits (also under a race), expiry, removal, registration with a token, and
//! that no API shows a user's `inviteToken`.

use palaver_tests::server::Body;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::set_setting;

async fn invite(srv: &Palaver, who: &Session, rid: &str, days: i64, max_uses: i64) -> Value {
    srv.post_ok(
        "findOrCreateInvite",
        who,
        json!({"rid": rid, "days": days, "maxUses": max_uses}),
    )
    .await
}

async fn use_token(srv: &Palaver, who: &Session, token: &str) -> (StatusCode, Value) {
    srv.post("useInviteToken", who, json!({ "token": token }))
        .await
}

async fn valid(srv: &Palaver, token: &str) -> bool {
    let (s, b) = srv
        .post_anon("validateInviteToken", json!({ "token": token }))
        .await;
    assert_eq!(s, StatusCode::OK, "validateInviteToken: {b}");
    assert_eq!(b["success"], json!(true), "{b}");
    b["valid"].as_bool().expect("valid is a boolean")
}

async fn remove(srv: &Palaver, who: Option<&Session>, id: &str) -> (StatusCode, Value) {
    let r = srv
        .request(
            Method::DELETE,
            &format!("/api/v1/removeInvite/{id}"),
            who,
            Body::None,
        )
        .await;
    (r.status, r.json)
}

/// `listInvites`: Rocket.Chat answers with the bare array.
async fn list(srv: &Palaver, who: &Session) -> Vec<Value> {
    let (s, b) = srv.get("listInvites", who).await;
    assert_eq!(s, StatusCode::OK, "listInvites: {b}");
    b.as_array().expect("a bare array").clone()
}

fn id_of(v: &Value) -> String {
    v["_id"].as_str().expect("_id").to_string()
}

#[tokio::test]
async fn invites_are_made_by_those_allowed_and_reused() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let owner = srv.create_user(&admin, "inv.owner").await;
    let member = srv.create_user(&admin, "inv.member").await;
    let outsider = srv.create_user(&admin, "inv.outsider").await;
    let ch = create_channel(&srv, &owner, "inv-room", &["inv.member"]).await;
    let rid = id_of(&ch);

    // Not logged in: Rocket.Chat's 401.
    let (s, b) = srv
        .post_anon(
            "findOrCreateInvite",
            json!({"rid": rid, "days": 1, "maxUses": 10}),
        )
        .await;
    assert_unauthorized(s, &b, "anonymous findOrCreateInvite");

    // A plain member holds no `create-invite-links` there (owners, moderators, admins do).
    let (s, b) = srv
        .post(
            "findOrCreateInvite",
            &member,
            json!({"rid": rid, "days": 1, "maxUses": 10}),
        )
        .await;
    assert_error(s, &b, 400, Some("not_authorized"), "member");
    // Listing and removing need the permission through a global role.
    let (s, b) = srv.get("listInvites", &owner).await;
    assert_error(s, &b, 400, Some("not_authorized"), "room owner lists");

    let first = invite(&srv, &owner, &rid, 7, 10).await;
    let token = id_of(&first);
    assert_eq!(token.len(), 17, "{first}");
    assert_eq!(first["rid"], json!(rid), "{first}");
    assert_eq!(first["userId"], json!(owner.user_id), "{first}");
    assert_eq!(first["days"], json!(7), "{first}");
    assert_eq!(first["maxUses"], json!(10), "{first}");
    assert_eq!(first["uses"], json!(0), "{first}");
    let created = ts(&first["createdAt"], "createdAt");
    let expires = ts(&first["expires"], "expires");
    assert_eq!((expires - created).num_days(), 7, "{first}");
    // The default URL type is Rocket.Chat's `proxy`: the deep-link service.
    let host = srv.base_url().trim_start_matches("http://").to_string();
    assert_eq!(
        first["url"],
        json!(format!(
            "https://go.rocket.chat/invite?host={}&path=invite%2F{token}&secure=no",
            host.replace(':', "%3A")
        )),
        "{first}"
    );

    // The same limits again: the same unexpired invite; other limits: another one.
    let again = invite(&srv, &owner, &rid, 7, 10).await;
    assert_eq!(id_of(&again), token, "{again}");
    let never = invite(&srv, &owner, &rid, 0, 0).await;
    assert_ne!(id_of(&never), token, "{never}");
    assert_eq!(never["expires"], Value::Null, "{never}");
    // Numeric strings are integers, as Rocket.Chat's schema coerces them.
    let s_body = srv
        .post_ok(
            "findOrCreateInvite",
            &owner,
            json!({"rid": rid, "days": "0", "maxUses": "0"}),
        )
        .await;
    assert_eq!(id_of(&s_body), id_of(&never), "{s_body}");

    // Direct links: `<Site_Url>/invite/<token>`.
    set_setting(
        &srv,
        &admin,
        "Accounts_Registration_InviteUrlType",
        json!("direct"),
    )
    .await;
    let direct = invite(&srv, &owner, &rid, 7, 10).await;
    assert_eq!(
        direct["url"],
        json!(format!("{}/invite/{token}", srv.base_url())),
        "{direct}"
    );

    // Refusals, with Rocket.Chat's error types.
    let refusals = [
        (
            json!({"rid": rid, "days": 2, "maxUses": 10}),
            "invalid-number-of-days",
        ),
        (
            json!({"rid": rid, "days": 1, "maxUses": 3}),
            "invalid-number-of-uses",
        ),
        (json!({"rid": rid, "days": 1}), "invalid-params"),
        (
            json!({"rid": rid, "days": 1.5, "maxUses": 1}),
            "invalid-params",
        ),
        (
            json!({"rid": rid, "days": 1, "maxUses": 1, "x": 1}),
            "invalid-params",
        ),
        (
            json!({"rid": "no-such-room", "days": 1, "maxUses": 1}),
            "error-invalid-room",
        ),
    ];
    for (body, error_type) in refusals {
        // An unknown room is only reached with the permission held globally.
        let who = if error_type == "error-invalid-room" {
            &admin
        } else {
            &owner
        };
        let (s, b) = srv.post("findOrCreateInvite", who, body.clone()).await;
        assert_error(s, &b, 400, Some(error_type), &body.to_string());
    }
    // An admin holds the permission everywhere, but must be in the room.
    let (s, b) = srv
        .post(
            "findOrCreateInvite",
            &admin,
            json!({"rid": rid, "days": 1, "maxUses": 1}),
        )
        .await;
    assert_error(s, &b, 400, Some("error-invalid-room"), "admin outside");
    // Direct messages take no invites.
    let dm = srv
        .post_ok("im.create", &admin, json!({"username": "inv.outsider"}))
        .await;
    let dm_id = dm["room"]["_id"].as_str().expect("dm id").to_string();
    let (s, b) = srv
        .post(
            "findOrCreateInvite",
            &admin,
            json!({"rid": dm_id, "days": 1, "maxUses": 1}),
        )
        .await;
    assert_error(s, &b, 400, Some("error-room-type-not-allowed"), "dm");

    // The admin lists every invite, oldest first.
    let listed: Vec<String> = list(&srv, &admin).await.iter().map(id_of).collect();
    assert_eq!(listed, [token.clone(), id_of(&never)]);

    // Removing: the owner holds the permission only in the room, so no; the admin may.
    let (s, b) = remove(&srv, Some(&owner), &token).await;
    assert_error(s, &b, 400, Some("not_authorized"), "owner removes");
    let (s, b) = remove(&srv, None, &token).await;
    assert_unauthorized(s, &b, "anonymous remove");
    let (s, b) = remove(&srv, Some(&admin), &token).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!(true)), "remove");
    let (s, b) = remove(&srv, Some(&admin), &token).await;
    assert_error(s, &b, 400, Some("invalid-invitation-id"), "removed twice");
    assert!(!valid(&srv, &token).await);
    let (s, b) = use_token(&srv, &outsider, &token).await;
    assert_error(s, &b, 400, Some("error-invalid-token"), "removed token");
}

#[tokio::test]
async fn a_token_joins_its_room_within_its_uses() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let owner = srv.create_user(&admin, "use.owner").await;
    let group = create_group(&srv, &owner, "use-group", &[]).await;
    let rid = id_of(&group);
    let one = id_of(&invite(&srv, &owner, &rid, 1, 1).await);
    let bob = srv.create_user(&admin, "use.bob").await;
    let carol = srv.create_user(&admin, "use.carol").await;

    let (s, b) = srv.post("useInviteToken", &bob, json!({})).await;
    assert_error(s, &b, 400, Some("invalid-params"), "no token");
    let (s, b) = use_token(&srv, &bob, "not-a-token").await;
    assert_error(s, &b, 400, Some("error-invalid-token"), "unknown token");
    let r = srv
        .request(Method::POST, "/api/v1/useInviteToken", None, Body::None)
        .await;
    assert_unauthorized(r.status, &r.json, "anonymous use");

    assert!(valid(&srv, &one).await);
    // The owner is a member already: no use is counted.
    let (s, b) = use_token(&srv, &owner, &one).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(list(&srv, &admin).await[0]["uses"], json!(0));

    let (s, b) = use_token(&srv, &bob, &one).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["success"], json!(true), "{b}");
    assert_eq!(
        b["room"],
        json!({"rid": rid, "fname": "use-group", "name": "use-group", "t": "p"}),
        "{b}"
    );
    assert!(subscription(&srv, &bob, &rid).await.is_some(), "bob joined");
    let info = srv.get_ok(&format!("groups.info?roomId={rid}"), &bob).await;
    assert_eq!(info["group"]["usersCount"], json!(2), "{info}");
    assert_eq!(list(&srv, &admin).await[0]["uses"], json!(1));

    // Its one use is taken: expired for everyone, as Rocket.Chat says.
    assert!(!valid(&srv, &one).await);
    let (s, b) = use_token(&srv, &carol, &one).await;
    assert_error(s, &b, 400, Some("error-invite-expired"), "used up");
    assert!(subscription(&srv, &carol, &rid).await.is_none());

    // Five uses, eight people at once: exactly five get in.
    let five = id_of(&invite(&srv, &owner, &rid, 1, 5).await);
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(srv.create_user(&admin, &format!("use.race{i}")).await);
    }
    let results = futures::future::join_all(people.iter().map(|p| use_token(&srv, p, &five))).await;
    let joined = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(joined, 5, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_error(*s, b, 400, Some("error-invite-expired"), "over the limit");
    }
    let info = srv
        .get_ok(&format!("groups.info?roomId={rid}"), &owner)
        .await;
    assert_eq!(info["group"]["usersCount"], json!(7), "{info}");
    let uses = list(&srv, &admin)
        .await
        .into_iter()
        .find(|i| id_of(i) == five)
        .expect("listed")["uses"]
        .clone();
    assert_eq!(uses, json!(5));

    // The room deleted, its invites go with it.
    let unlimited = id_of(&invite(&srv, &owner, &rid, 0, 0).await);
    assert!(valid(&srv, &unlimited).await);
    srv.post_ok("groups.delete", &owner, json!({ "roomId": rid }))
        .await;
    assert!(!valid(&srv, &unlimited).await);
    assert!(list(&srv, &admin).await.is_empty());
}

/// Moves invite `id`'s expiry into the past, with the server stopped, through the store.
async fn expire(srv: &mut Palaver, id: &str) {
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
    let mut invite = store.invite_by_id(id).await.unwrap().expect("invite");
    invite.created_at = Ts(invite.created_at.0 - 2 * 86_400_000);
    invite.expires = Some(Ts(invite.created_at.0 + 86_400_000));
    assert!(store.delete_invite(id).await.unwrap());
    store.insert_invite(&invite).await.unwrap();
    store.close().await.unwrap();
    srv.start_again().await;
}

#[tokio::test]
async fn expired_invites_are_refused_and_not_reused() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let owner = srv.create_user(&admin, "exp.owner").await;
    let dave = srv.create_user(&admin, "exp.dave").await;
    let ch = create_channel(&srv, &owner, "exp-room", &[]).await;
    let rid = id_of(&ch);
    let token = id_of(&invite(&srv, &owner, &rid, 1, 0).await);
    assert!(valid(&srv, &token).await);

    expire(&mut srv, &token).await;
    assert!(!valid(&srv, &token).await);
    let (s, b) = use_token(&srv, &dave, &token).await;
    assert_error(s, &b, 400, Some("error-invite-expired"), "expired");
    assert!(subscription(&srv, &dave, &rid).await.is_none());
    // An expired invite is not handed out again: a new one is made.
    let fresh = id_of(&invite(&srv, &owner, &rid, 1, 0).await);
    assert_ne!(fresh, token);
    let (s, b) = use_token(&srv, &dave, &fresh).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn registration_takes_an_invite_token_and_no_api_shows_it() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let ch = create_channel(&srv, &admin, "reg-room", &[]).await;
    let rid = id_of(&ch);
    let one = id_of(&invite(&srv, &admin, &rid, 1, 1).await);
    set_setting(
        &srv,
        &admin,
        "Accounts_RegistrationForm",
        json!("Secret URL"),
    )
    .await;
    let form = |username: &str, secret: &str| {
        json!({
            "username": username,
            "email": format!("{username}@palaver.test"),
            "pass": password_for(username),
            "name": username,
            "secret": secret,
        })
    };
    let (s, b) = srv
        .post_anon("users.register", form("reg.nobody", "wrong"))
        .await;
    assert_error(
        s,
        &b,
        400,
        Some("error-user-registration-secret"),
        "bad secret",
    );

    // A usable invite token opens the form; joining is `useInviteToken`'s.
    let (s, b) = srv
        .post_anon("users.register", form("reg.erin", &one))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let erin = srv.login("reg.erin", &password_for("reg.erin")).await;
    assert!(subscription(&srv, &erin, &rid).await.is_none());
    let (s, b) = use_token(&srv, &erin, &one).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(subscription(&srv, &erin, &rid).await.is_some());

    // Used up, it opens nothing.
    let (s, b) = srv
        .post_anon("users.register", form("reg.frank", &one))
        .await;
    assert_error(
        s,
        &b,
        400,
        Some("error-user-registration-secret"),
        "used up",
    );

    // The user record holds the token, but no answer carries it.
    let fields = enc(r#"{"inviteToken": 1, "username": 1}"#);
    let sort = enc(r#"{"inviteToken": -1}"#);
    for who in [&admin, &erin] {
        let body = srv
            .get_ok(
                &format!("users.list?fields={fields}&sort={sort}&count=100"),
                who,
            )
            .await;
        assert!(
            body["users"].as_array().is_some_and(|u| !u.is_empty()),
            "{body}"
        );
        assert!(!body.to_string().contains("inviteToken"), "{body}");
        assert!(!body.to_string().contains(&one), "{body}");
        let info = srv
            .get_ok(&format!("users.info?userId={}", erin.user_id), who)
            .await;
        assert!(!info.to_string().contains(&one), "{info}");
    }
    let me = srv.get_ok("me", &erin).await;
    assert!(!me.to_string().contains(&one), "{me}");
}
