//! Avatars as Rocket.Chat clients use them: `users.setAvatar` (multipart `image`,
//! or `avatarUrl` fetched through the guarded outbound client), `users.resetAvatar`,
//! `rooms.saveRoomSettings` `roomAvatar`, and `GET /avatar/:username`,
//! `/avatar/room/:rid`: the initials SVG by default, the picture resized with
//! `?size=`, ETags and 304s, `avatarETag` on users and rooms.

use palaver_tests::images;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use crate::media_images::objects;

/// `GET path` with optional `If-None-Match`: status, content type, ETag, bytes.
async fn get_avatar(
    srv: &Palaver,
    path: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, String, String, Vec<u8>) {
    let mut req = reqwest::Client::new().get(srv.url(path));
    if let Some(tag) = if_none_match {
        req = req.header("If-None-Match", tag);
    }
    let resp = req.send().await.expect("avatar request");
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, ct, etag) = (resp.status(), header("content-type"), header("etag"));
    (status, ct, etag, resp.bytes().await.unwrap().to_vec())
}

/// `users.setAvatar` with a multipart `image` (and text fields).
async fn set_avatar(
    srv: &Palaver,
    who: &Session,
    bytes: Vec<u8>,
    ct: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("me.png")
        .mime_str(ct)
        .unwrap();
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part("image", part);
    let resp = reqwest::Client::new()
        .post(srv.url("/api/v1/users.setAvatar"))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(form)
        .send()
        .await
        .expect("setAvatar");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Serves `body` as `image/png` to every request on a loopback port.
pub(crate) async fn image_server(body: Vec<u8>) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn user_avatars_set_served_resized_cached_and_reset() {
    let (allowed, _a) = image_server(images::png(150, 150)).await;
    let (refused, _r) = image_server(images::png(150, 150)).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{allowed}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;

    // No avatar: the initials, with an ETag that answers 304.
    let (status, ct, etag, svg) = get_avatar(&srv, "/avatar/alice", None).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/svg+xml"));
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains(">\nA\n<"), "{svg}");
    assert!(!etag.is_empty());
    let (status, _, _, body) = get_avatar(&srv, "/avatar/alice", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // Unknown users and `@name` get initials too; the mobile app's format=png a PNG.
    assert_eq!(
        get_avatar(&srv, "/avatar/nobody", None).await.1,
        "image/svg+xml"
    );
    let (_, ct, _, png) = get_avatar(&srv, "/avatar/@zed?format=png&size=40", None).await;
    assert_eq!(ct, "image/png");
    assert_eq!(images::dimensions(&png), ("png".into(), 40, 40));

    // An uploaded picture: stored square at Accounts_AvatarSize (200), served
    // scaled with ?size=, each size its own ETag.
    let (status, body) = set_avatar(&srv, &alice, images::png(300, 100), "image/png", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, ct, full_tag, bytes) = get_avatar(&srv, "/avatar/alice", None).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(images::dimensions(&bytes), ("jpeg".into(), 200, 200));
    assert_ne!(full_tag, etag);
    let (_, _, small_tag, small) = get_avatar(&srv, "/avatar/alice?size=64", None).await;
    assert_eq!(images::dimensions(&small), ("jpeg".into(), 64, 64));
    assert_ne!(small_tag, full_tag);
    assert_eq!(
        get_avatar(&srv, "/avatar/alice?size=64", Some(&small_tag))
            .await
            .0,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        get_avatar(&srv, "/avatar/alice", Some(&small_tag)).await.0,
        StatusCode::OK
    );
    let info = srv.get_ok("users.info?username=alice", &bob).await;
    let alice_etag = info["user"]["avatarETag"]
        .as_str()
        .expect("avatarETag")
        .to_string();
    assert!(
        full_tag.contains(&alice_etag),
        "{full_tag} carries {alice_etag}"
    );

    // Not an image, a decompression bomb, someone else's avatar: refused.
    let (status, body) = set_avatar(&srv, &alice, b"hello".to_vec(), "text/plain", &[]).await;
    assert_eq!(
        (status, body["errorType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("error-invalid-file-type")),
        "{body}"
    );
    let (_, body) = set_avatar(
        &srv,
        &alice,
        images::png_bomb(90_000, 90_000),
        "image/png",
        &[],
    )
    .await;
    assert_eq!(body["errorType"], json!("error-image-too-large"), "{body}");
    let (_, body) = set_avatar(
        &srv,
        &bob,
        images::png(50, 50),
        "image/png",
        &[("username", "alice")],
    )
    .await;
    assert_eq!(body["errorType"], json!("error-not-allowed"), "{body}");
    // An admin may (edit-other-user-avatar).
    let (status, body) = set_avatar(
        &srv,
        &admin,
        images::png(50, 50),
        "image/png",
        &[("userId", &bob.user_id)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(get_avatar(&srv, "/avatar/bob", None).await.1, "image/jpeg");

    // avatarUrl: through the guarded client; a loopback address only when the
    // operator's allow-list names it.
    let (status, body) = srv
        .post(
            "users.setAvatar",
            &bob,
            json!({"avatarUrl": format!("http://127.0.0.1:{refused}/a.png")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-avatar-invalid-url"),
        "{body}"
    );
    let (status, body) = srv
        .post(
            "users.setAvatar",
            &bob,
            json!({"avatarUrl": format!("http://127.0.0.1:{allowed}/a.png")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, ct, _, bytes) = get_avatar(&srv, "/avatar/bob", None).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(images::dimensions(&bytes).1, 200);

    // The old pictures are gone from the storage: one avatar each.
    assert_eq!(objects(&srv), 2);

    // Reset: the initials again, no avatarETag, the object deleted.
    srv.post_ok("users.resetAvatar", &alice, json!({})).await;
    assert_eq!(
        get_avatar(&srv, "/avatar/alice", None).await.1,
        "image/svg+xml"
    );
    let info = srv.get_ok("users.info?username=alice", &bob).await;
    assert!(info["user"].get("avatarETag").is_none(), "{info}");
    assert_eq!(objects(&srv), 1);

    // The setting off: users may not change their avatar.
    srv.post_ok(
        "settings/Accounts_AllowUserAvatarChange",
        &admin,
        json!({"value": false}),
    )
    .await;
    let (_, body) = set_avatar(&srv, &alice, images::png(50, 50), "image/png", &[]).await;
    assert_eq!(body["errorType"], json!("error-not-allowed"), "{body}");
}

#[tokio::test]
async fn room_avatars_from_room_settings() {
    use base64::Engine;
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &alice, "design", &["bob"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let path = format!("/avatar/room/{rid}");

    let (status, ct, _, svg) = get_avatar(&srv, &path, None).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/svg+xml"));
    assert!(String::from_utf8(svg).unwrap().contains(">\nD\n<"));
    assert_eq!(
        get_avatar(&srv, "/avatar/room/no-such-room", None).await.0,
        StatusCode::NOT_FOUND
    );

    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(images::png(400, 400))
    );
    // A member without edit-room may not.
    let (status, body) = srv
        .post(
            "rooms.saveRoomSettings",
            &bob,
            json!({"rid": rid, "roomAvatar": uri}),
        )
        .await;
    assert_ne!(status, StatusCode::OK, "{body}");
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "roomAvatar": uri}),
    )
    .await;
    let (_, ct, _, bytes) = get_avatar(&srv, &path, None).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(images::dimensions(&bytes), ("jpeg".into(), 200, 200));
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert!(info["channel"]["avatarETag"].is_string(), "{info}");
    // Not listed among the room's files.
    let files = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &bob)
        .await;
    assert_eq!(files["total"], json!(0), "{files}");

    // Reset with an empty value; then deleting the room leaves no object.
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "roomAvatar": null}),
    )
    .await;
    assert_eq!(get_avatar(&srv, &path, None).await.1, "image/svg+xml");
    assert_eq!(objects(&srv), 0);
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "roomAvatar": uri}),
    )
    .await;
    assert_eq!(objects(&srv), 1);
    srv.post_ok("channels.delete", &alice, json!({"roomId": rid}))
        .await;
    assert_eq!(objects(&srv), 0);
}

/// Rocket.Chat's realtime avatar changes: `stream-notify-logged` `updateAvatar`
/// with `{username, etag}` (users) or `{rid, etag}` (rooms), no etag on a reset,
/// to every logged-in client, for uploaded, URL and reset avatars.
#[tokio::test]
async fn avatar_changes_reach_logged_in_clients_over_ddp() {
    use base64::Engine;
    use palaver_tests::ddp::Ddp;
    let (allowed, _a) = image_server(images::png(120, 120)).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{allowed}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &alice, "avatars", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    // Bob is in no room with Alice: the stream is for every logged-in user.
    let mut watch = Ddp::connect_as(&srv, &bob).await;
    watch
        .sub("stream-notify-logged", json!(["updateAvatar", false]))
        .await;
    let args = |frame: &Value| frame["fields"]["args"].clone();
    let etag_of = |info: &Value| info["user"]["avatarETag"].as_str().unwrap().to_string();

    // Uploaded.
    let (status, body) = set_avatar(&srv, &alice, images::png(80, 80), "image/png", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ev = watch.event("stream-notify-logged", "updateAvatar").await;
    let etag = etag_of(&srv.get_ok("users.info?username=alice", &bob).await);
    assert_eq!(
        args(&ev),
        json!([{"username": "alice", "etag": etag}]),
        "{ev}"
    );

    // From a URL: a new etag.
    srv.post_ok(
        "users.setAvatar",
        &alice,
        json!({"avatarUrl": format!("http://127.0.0.1:{allowed}/a.png")}),
    )
    .await;
    let ev = watch.event("stream-notify-logged", "updateAvatar").await;
    let url_etag = etag_of(&srv.get_ok("users.info?username=alice", &bob).await);
    assert_ne!(url_etag, etag);
    assert_eq!(args(&ev), json!([{"username": "alice", "etag": url_etag}]));

    // Reset: no etag.
    srv.post_ok("users.resetAvatar", &alice, json!({})).await;
    let ev = watch.event("stream-notify-logged", "updateAvatar").await;
    assert_eq!(args(&ev), json!([{"username": "alice"}]));

    // A room's avatar, set then reset.
    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(images::png(64, 64))
    );
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "roomAvatar": uri}),
    )
    .await;
    let ev = watch.event("stream-notify-logged", "updateAvatar").await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    let room_etag = info["channel"]["avatarETag"].as_str().unwrap().to_string();
    assert_eq!(args(&ev), json!([{"rid": rid, "etag": room_etag}]));
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "roomAvatar": ""}),
    )
    .await;
    let ev = watch.event("stream-notify-logged", "updateAvatar").await;
    assert_eq!(args(&ev), json!([{"rid": rid}]));

    // A refused change tells no one.
    let (status, _) = set_avatar(
        &srv,
        &bob,
        images::png(50, 50),
        "image/png",
        &[("username", "alice")],
    )
    .await;
    assert_ne!(status, StatusCode::OK);
    while let Some(frame) = watch.try_recv(std::time::Duration::from_millis(500)).await {
        assert_ne!(frame["fields"]["eventName"], "updateAvatar", "{frame}");
    }
}
