//! Rocket.Chat's custom OAuth mapping settings against a real provider (npm
//! `oidc-provider`): `key_field` (which attribute links an existing account when
//! `merge_users` is on), `avatar_field` (a picture URL fetched through the
//! outbound guard and made the avatar), and group → channel mapping
//! (`map_channels`, `groups_claim`, `groups_channel_map`, `channels_admin`).

use palaver_tests::images;
use palaver_tests::oidc::OidcPeer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{Palaver, Session, ADMIN_USERNAME};
use crate::media_avatars::image_server;
use crate::oidc_login::{configure, session_of, token_login, user_info, SERVICE};

async fn login(srv: &Palaver, peer: &OidcPeer, sub: &str) -> Session {
    session_of(&token_login(srv, SERVICE, &peer.access_token(sub).await).await)
}

async fn avatar_content_type(srv: &Palaver, username: &str) -> String {
    let resp = reqwest::Client::new()
        .get(srv.url(&format!("/avatar/{username}")))
        .send()
        .await
        .expect("avatar");
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn set(srv: &Palaver, admin: &Session, field: &str, value: Value) {
    srv.post_ok(
        &format!("settings/Accounts_OAuth_Custom-{SERVICE}-{field}"),
        admin,
        json!({ "value": value }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_field_avatar_field_and_group_channel_mapping() {
    let (allowed, _a) = image_server(images::png(120, 120)).await;
    let (refused, _r) = image_server(images::png(120, 120)).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{allowed}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    let peer = OidcPeer::start(&format!("{}/_oauth/{SERVICE}", srv.base_url())).await;
    configure(
        &srv,
        &admin,
        &peer,
        &[
            ("avatar_field", json!("picture")),
            ("map_channels", json!(true)),
            ("groups_claim", json!("groups")),
            (
                "groups_channel_map",
                json!(r#"{"eng": "engineering", "ops": ["oncall", "infra"], "sales": "deals"}"#),
            ),
            ("channels_admin", json!(ADMIN_USERNAME)),
        ],
    )
    .await;

    // avatar_field and groups: the picture becomes the avatar, the mapped
    // channels of alice's groups are created by the channels admin and joined.
    peer.account(
        "alice-sub",
        json!({"preferred_username": "alice", "email": "alice@idp.test", "email_verified": true,
               "picture": format!("http://127.0.0.1:{allowed}/alice.png"),
               "groups": ["eng", "ops", "unmapped"]}),
    )
    .await;
    assert_eq!(avatar_content_type(&srv, "alice").await, "image/svg+xml");
    let alice = login(&srv, &peer, "alice-sub").await;
    assert_eq!(
        avatar_content_type(&srv, "alice").await,
        "image/jpeg",
        "{}",
        srv.log()
    );
    let info = user_info(&srv, &admin, &alice.user_id).await;
    let etag = info["avatarETag"].as_str().expect("avatarETag").to_string();
    for name in ["engineering", "oncall", "infra"] {
        let room = srv
            .get_ok(&format!("channels.info?roomName={name}"), &admin)
            .await;
        assert_eq!(room["channel"]["u"]["username"], ADMIN_USERNAME, "{room}");
        let members = srv
            .get_ok(&format!("channels.members?roomName={name}"), &admin)
            .await;
        assert!(
            members["members"]
                .as_array()
                .expect("members")
                .iter()
                .any(|m| m["username"] == "alice"),
            "{name}: {members}"
        );
    }
    let (status, body) = srv.get("channels.info?roomName=deals", &admin).await;
    assert_ne!(status, StatusCode::OK, "a group alice is not in: {body}");

    // The same picture again: not fetched anew (same avatar); a new URL is.
    login(&srv, &peer, "alice-sub").await;
    let info = user_info(&srv, &admin, &alice.user_id).await;
    assert_eq!(info["avatarETag"], json!(etag));
    peer.account(
        "alice-sub",
        json!({"preferred_username": "alice", "picture": format!("http://127.0.0.1:{allowed}/new.png"),
               "groups": ["sales"]}),
    )
    .await;
    login(&srv, &peer, "alice-sub").await;
    let info = user_info(&srv, &admin, &alice.user_id).await;
    assert_ne!(info["avatarETag"], json!(etag), "{info}");
    let etag = info["avatarETag"].clone();
    // A later group joins its channel too (created now).
    let members = srv.get_ok("channels.members?roomName=deals", &admin).await;
    assert!(members.to_string().contains("\"alice\""), "{members}");

    // A picture on a host the outbound guard refuses: the sign-in still works,
    // the avatar stays.
    peer.account(
        "alice-sub",
        json!({"preferred_username": "alice", "picture": format!("http://127.0.0.1:{refused}/x.png")}),
    )
    .await;
    login(&srv, &peer, "alice-sub").await;
    let info = user_info(&srv, &admin, &alice.user_id).await;
    assert_eq!(info["avatarETag"], etag, "{info}");

    // key_field "username" (Rocket.Chat's default) with merge_users: the local
    // account of that name is linked on first sign-in.
    set(&srv, &admin, "merge_users", json!(true)).await;
    let carol = srv.create_user(&admin, "carol").await;
    peer.account("carol-sub", json!({"preferred_username": "carol"}))
        .await;
    let s = login(&srv, &peer, "carol-sub").await;
    assert_eq!(s.user_id, carol.user_id);
    let info = user_info(&srv, &admin, &carol.user_id).await;
    assert_eq!(info["services"][SERVICE]["id"], "carol-sub", "{info}");

    // key_field "email": the username no longer links; a verified e-mail does,
    // an unverified one does not.
    set(&srv, &admin, "key_field", json!("email")).await;
    let dave = srv.create_user(&admin, "dave").await;
    peer.account(
        "dave-sub",
        json!({"preferred_username": "dave", "email": "nobody@idp.test", "email_verified": true}),
    )
    .await;
    let s = login(&srv, &peer, "dave-sub").await;
    assert_ne!(s.user_id, dave.user_id, "not linked by username now");
    let erin = srv.create_user(&admin, "erin").await;
    peer.account(
        "erin-sub",
        json!({"email": "erin@palaver.test", "email_verified": false}),
    )
    .await;
    let s = login(&srv, &peer, "erin-sub").await;
    assert_ne!(
        s.user_id, erin.user_id,
        "an unverified e-mail links nothing"
    );
    peer.account(
        "erin-sub2",
        json!({"email": "erin@palaver.test", "email_verified": true}),
    )
    .await;
    let s = login(&srv, &peer, "erin-sub2").await;
    assert_eq!(s.user_id, erin.user_id);
}
