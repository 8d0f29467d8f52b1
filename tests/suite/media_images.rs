//! Images posted as files: the attachment Rocket.Chat clients render (`image_url`
//! of a thumbnail made once, `image_type`, `image_size`, `image_dimensions`, a
//! blurred base64 `image_preview`), for PNG, JPEG, GIF (first frame) and WebP, with
//! the EXIF orientation applied; decompression bombs refused; thumbnails deleted
//! with their message and room.

use base64::Engine;
use palaver_tests::images;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

/// A multipart upload to `path`; status and JSON body.
pub(crate) async fn upload(
    srv: &Palaver,
    who: &Session,
    path: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(content_type)
        .unwrap();
    let mut form = reqwest::multipart::Form::new().part("file", part);
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let resp = reqwest::Client::new()
        .post(srv.url(path))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
    )
}

/// `GET path` as `who`: status, content type and bytes.
pub(crate) async fn fetch_as(
    srv: &Palaver,
    who: &Session,
    path: &str,
) -> (StatusCode, String, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(srv.url(path))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .send()
        .await
        .expect("download");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

/// Uploads and confirms an image; returns the posted message.
async fn post_image(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    name: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> Value {
    let (status, body) = upload(
        srv,
        who,
        &format!("rooms.media/{rid}"),
        name,
        ct,
        bytes,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let id = str_of(&body["file"]["_id"], "file id").to_string();
    let confirmed = srv
        .post_ok(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            who,
            json!({"msg": name}),
        )
        .await;
    confirmed["message"].clone()
}

/// Objects in the local storage (its partial directory left out).
pub(crate) fn objects(srv: &Palaver) -> usize {
    let Ok(entries) = std::fs::read_dir(srv.data_dir().join("uploads")) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != ".partial")
        .map(|e| std::fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn images_get_thumbnail_preview_and_dimensions_as_rocket_chat_builds_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &alice, "pictures", &["bob"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();

    // Larger than the 480×360 box: a thumbnail is made, stored as its own file,
    // and shown instead of the original.
    let original = images::png(1000, 500);
    let size = original.len();
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "wide shot.png",
        "image/png",
        original.clone(),
    )
    .await;
    let att = &m["attachments"][0];
    let files = m["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "original and thumbnail: {m}");
    let (orig_id, thumb_id) = (
        str_of(&files[0]["_id"], "id"),
        str_of(&files[1]["_id"], "thumb id"),
    );
    assert_ne!(orig_id, thumb_id);
    assert_eq!(m["file"]["_id"], json!(orig_id));
    assert_eq!(files[0]["format"], json!("png"));
    assert_eq!(files[1]["name"], json!("thumb-wide shot.png"));
    assert_eq!(files[1]["type"], json!("image/jpeg"));
    assert_eq!(att["type"], json!("file"));
    assert_eq!(att["title"], json!("wide shot.png"));
    assert_eq!(
        att["title_link"],
        json!(format!("/file-upload/{orig_id}/wide%20shot.png"))
    );
    assert_eq!(att["title_link_download"], json!(true));
    assert_eq!(
        att["image_url"],
        json!(format!("/file-upload/{thumb_id}/wide%20shot.png"))
    );
    assert_eq!(att["image_type"], json!("image/jpeg"));
    assert_eq!(att["image_size"], json!(size));
    assert_eq!(
        att["image_dimensions"],
        json!({"width": 480, "height": 240})
    );
    let preview = base64::engine::general_purpose::STANDARD
        .decode(str_of(&att["image_preview"], "image_preview"))
        .expect("base64 preview");
    let (fmt, w, h) = images::dimensions(&preview);
    assert_eq!((fmt.as_str(), w, h), ("jpeg", 32, 16));
    assert!(
        preview.len() < 2048,
        "the preview is small: {} bytes",
        preview.len()
    );

    // Both serve to members; the thumbnail is the right size, the original intact.
    let (status, ct, thumb) = fetch_as(&srv, &bob, str_of(&att["image_url"], "url")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(images::dimensions(&thumb), ("jpeg".into(), 480, 240));
    let (_, _, back) = fetch_as(&srv, &bob, str_of(&att["title_link"], "link")).await;
    assert_eq!(back, original);

    // The listing shows the posted file only, with its size as read.
    let listed = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &bob)
        .await;
    assert_eq!(listed["total"], json!(1), "{listed}");
    assert_eq!(
        listed["files"][0]["identify"]["size"],
        json!({"width": 1000, "height": 500})
    );

    // Small images: no thumbnail, the original is the image, its own dimensions.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "icon.png",
        "image/png",
        images::png(64, 48),
    )
    .await;
    let att = &m["attachments"][0];
    assert_eq!(m["files"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(att["image_url"], att["title_link"]);
    assert_eq!(att["image_type"], json!("image/png"));
    assert_eq!(att["image_dimensions"], json!({"width": 64, "height": 48}));
    assert!(att["image_preview"].is_string());

    // EXIF orientation: a 400×100 photo taken turned is shown 100×400.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "phone.jpg",
        "image/jpeg",
        images::jpeg_with_orientation(400, 100, 6),
    )
    .await;
    let att = &m["attachments"][0];
    assert_eq!(
        att["image_dimensions"],
        json!({"width": 90, "height": 360}),
        "{m}"
    );
    let (_, _, thumb) = fetch_as(&srv, &bob, str_of(&att["image_url"], "url")).await;
    assert_eq!(images::dimensions(&thumb), ("jpeg".into(), 90, 360));
    let listed = srv
        .get_ok(
            &format!(
                "channels.files?roomId={rid}&query={}",
                enc(r#"{"name":"phone"}"#)
            ),
            &bob,
        )
        .await;
    assert_eq!(
        listed["files"][0]["identify"]["size"],
        json!({"width": 100, "height": 400}),
        "{listed}"
    );

    // GIF: the first frame (red); WebP read too.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "anim.gif",
        "image/gif",
        images::gif(800, 600),
    )
    .await;
    let att = &m["attachments"][0];
    assert_eq!(
        att["image_dimensions"],
        json!({"width": 480, "height": 360}),
        "{m}"
    );
    let (_, _, thumb) = fetch_as(&srv, &bob, str_of(&att["image_url"], "url")).await;
    let [r, _, b] = images::middle_pixel(&thumb);
    assert!(r > 150 && b < 100, "first frame (red), got {r},{b}");
    assert_eq!(m["files"][0]["format"], json!("gif"));
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "photo.webp",
        "image/webp",
        images::webp(720, 720),
    )
    .await;
    assert_eq!(
        m["attachments"][0]["image_dimensions"],
        json!({"width": 360, "height": 360}),
        "{m}"
    );
    assert_eq!(m["files"][0]["format"], json!("webp"));

    // Not really an image: posted as it came, without image facts.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "fake.png",
        "image/png",
        b"not a png at all".to_vec(),
    )
    .await;
    let att = &m["attachments"][0];
    assert_eq!(m["files"].as_array().unwrap().len(), 1);
    assert!(
        att.get("image_dimensions").is_none() && att.get("image_preview").is_none(),
        "{att}"
    );
}

#[tokio::test]
async fn decompression_bombs_are_refused_and_thumbnails_go_with_their_message_and_room() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = create_channel(&srv, &alice, "bombs", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();

    // 100 000 × 100 000 pixels in a file of a few dozen bytes: refused, nothing kept.
    let bomb = images::png_bomb(100_000, 100_000);
    assert!(bomb.len() < 100);
    for path in [format!("rooms.media/{rid}"), format!("rooms.upload/{rid}")] {
        let (status, body) = upload(
            &srv,
            &alice,
            &path,
            "bomb.png",
            "image/png",
            bomb.clone(),
            &[("msg", "boom")],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["errorType"], json!("error-image-too-large"), "{body}");
        assert!(
            str_of(&body["error"], "error").contains("100000×100000"),
            "{body}"
        );
        assert_eq!(objects(&srv), 0, "{path}: nothing stays behind");
    }
    // The same bytes declared as a plain file are just a file.
    let (status, _) = upload(
        &srv,
        &alice,
        &format!("rooms.upload/{rid}"),
        "bomb.bin",
        "application/octet-stream",
        bomb,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(objects(&srv), 1);

    // Deleting the message deletes the original and its thumbnail.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "big.png",
        "image/png",
        images::png(900, 900),
    )
    .await;
    assert_eq!(objects(&srv), 3);
    let thumb_url = str_of(&m["attachments"][0]["image_url"], "url").to_string();
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({"roomId": rid, "msgId": m["_id"]}),
    )
    .await;
    assert_eq!(objects(&srv), 1, "original and thumbnail deleted");
    assert_eq!(
        fetch_as(&srv, &alice, &thumb_url).await.0,
        StatusCode::NOT_FOUND
    );

    // Deleting the room deletes every file, thumbnails included.
    post_image(
        &srv,
        &alice,
        &rid,
        "big2.png",
        "image/png",
        images::png(900, 900),
    )
    .await;
    assert_eq!(objects(&srv), 3);
    srv.post_ok("channels.delete", &alice, json!({"roomId": rid}))
        .await;
    assert_eq!(objects(&srv), 0);
}

#[tokio::test]
async fn svg_drawings_get_a_png_thumbnail_when_administrators_allow_them() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = create_channel(&srv, &alice, "drawings", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let logo = br##"<svg width="768" height="221" viewBox="0 0 768 221" xmlns="http://www.w3.org/2000/svg">
        <rect width="384" height="221" fill="#F5455C"/><circle cx="576" cy="110" r="100" fill="#2F343D"/></svg>"##;

    // Blocked by default (an SVG can carry script), as Rocket.Chat.
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "logo.svg",
        "image/svg+xml",
        logo.to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    srv.post_ok(
        "settings/FileUpload_MediaTypeBlackList",
        &admin,
        json!({"value": ""}),
    )
    .await;
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "logo.svg",
        "image/svg+xml",
        logo.to_vec(),
    )
    .await;
    let files = m["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{m}");
    assert_eq!(files[0]["type"], json!("image/svg+xml"), "{m}");
    assert_eq!(files[1]["name"], json!("thumb-logo.svg"), "{m}");
    assert_eq!(files[1]["type"], json!("image/png"), "{m}");
    let att = &m["attachments"][0];
    assert_eq!(att["title"], json!("logo.svg"));
    assert_eq!(att["image_type"], json!("image/png"), "{att}");
    assert_eq!(
        att["image_dimensions"],
        json!({"width": 480, "height": 138}),
        "fitted into the 480×360 box: {att}"
    );
    assert!(
        att["image_preview"].as_str().is_some_and(|p| !p.is_empty()),
        "{att}"
    );
    let (status, ct, thumb) = fetch_as(&srv, &alice, str_of(&att["image_url"], "url")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/png"));
    assert_eq!(images::dimensions(&thumb), ("png".into(), 480, 138));
    let (_, _, back) = fetch_as(&srv, &alice, str_of(&att["title_link"], "link")).await;
    assert_eq!(back, logo.to_vec(), "the drawing itself is kept as sent");

    // Not a drawing: posted as a file, without a thumbnail.
    let m = post_image(
        &srv,
        &alice,
        &rid,
        "broken.svg",
        "image/svg+xml",
        b"<svg".to_vec(),
    )
    .await;
    assert_eq!(m["files"].as_array().map(Vec::len), Some(1), "{m}");
}
