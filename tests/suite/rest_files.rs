//! File uploads end to end, as Rocket.Chat clients do them: `rooms.media` (multipart)
//! then `rooms.mediaConfirm`, the one-call `rooms.upload`, the message over DDP with
//! `file`/`files`/`attachments`, downloads from `/file-upload/:id/:name` (members
//! only, every auth form, safe headers, ranges), limits and type lists, file
//! listings, deletion with the message or room, the sweeper, and the S3 and WebDAV
//! backends (rclone peers).

use palaver_tests::ddp::Ddp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

/// A multipart upload; returns status and JSON body.
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
    // The file first, the text fields after it (as bots send them).
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

/// `GET path` with the given headers; status, headers and bytes.
pub(crate) async fn fetch(
    srv: &Palaver,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().get(srv.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("download request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

pub(crate) fn auth(who: &Session) -> [(&str, &str); 2] {
    [
        ("X-User-Id", who.user_id.as_str()),
        ("X-Auth-Token", who.token.as_str()),
    ]
}

pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

pub(crate) async fn set_setting(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    let (status, body) = srv
        .post(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
    assert_eq!(status, StatusCode::OK, "setting {id}: {body}");
}

/// Uploads through `rooms.media` and confirms; returns (file id, url, message).
pub(crate) async fn media_and_confirm(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (String, String, Value) {
    let (status, body) = upload(
        srv,
        who,
        &format!("rooms.media/{rid}"),
        name,
        content_type,
        bytes,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = str_of(&body["file"]["_id"], "file id").to_string();
    let url = str_of(&body["file"]["url"], "file url").to_string();
    let confirmed = srv
        .post_ok(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            who,
            json!({"msg": "here it is", "description": "the numbers"}),
        )
        .await;
    (id, url, confirmed["message"].clone())
}

#[tokio::test]
async fn upload_confirm_deliver_and_download_as_members_only() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let group = create_group(&srv, &alice, "finance", &["bob"]).await;
    let rid = str_of(&group["_id"], "rid").to_string();

    let mut ddp = Ddp::connect_as(&srv, &bob).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;

    // 3 MiB: past the 1 MiB request body limit of the JSON API.
    let data = pattern(3 * 1024 * 1024 + 17);
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "Q1 report.pdf",
        "application/pdf",
        data.clone(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true));
    let id = str_of(&body["file"]["_id"], "file id").to_string();
    let url = str_of(&body["file"]["url"], "url").to_string();
    assert_eq!(url, format!("/file-upload/{id}/Q1%20report.pdf"));
    // Not confirmed yet: not listed.
    let listed = srv
        .get_ok(&format!("groups.files?roomId={rid}"), &alice)
        .await;
    assert_eq!(listed["total"], json!(0), "{listed}");
    // Only the uploader confirms.
    let (status, _) = srv
        .post(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            &bob,
            json!({"msg": "mine"}),
        )
        .await;
    assert_ne!(status, StatusCode::OK);

    let confirmed = srv
        .post_ok(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            &alice,
            json!({"msg": "the report", "description": "first quarter"}),
        )
        .await;
    let m = &confirmed["message"];
    assert_eq!(m["msg"], json!("the report"), "{m}");
    assert_eq!(m["groupable"], json!(false), "{m}");
    let expected_file = json!({"_id": id, "name": "Q1 report.pdf", "type": "application/pdf", "size": data.len(), "format": ""});
    assert_eq!(m["file"], expected_file, "{m}");
    assert_eq!(m["files"], json!([expected_file]), "{m}");
    assert_eq!(
        m["attachments"],
        json!([{
            "title": "Q1 report.pdf", "type": "file", "description": "first quarter",
            "title_link": url, "title_link_download": true, "format": "PDF", "size": data.len(),
            // The description parsed, as Rocket.Chat stores it.
            "descriptionMd": [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": "first quarter"}]}],
        }]),
        "{m}"
    );
    // Confirming twice does not post twice.
    let (status, _) = srv
        .post(&format!("rooms.mediaConfirm/{rid}/{id}"), &alice, json!({}))
        .await;
    assert_ne!(status, StatusCode::OK);

    // Over DDP, with the file fields.
    let frame = ddp.event("stream-room-messages", &rid).await;
    let live = &frame["fields"]["args"][0];
    assert_eq!(live["file"]["_id"], json!(id), "{frame}");
    assert_eq!(live["attachments"][0]["title_link"], json!(url), "{frame}");

    // Bob downloads: whole, with safe headers.
    let (status, headers, bytes) = fetch(&srv, &url, &auth(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == data, "downloaded bytes differ");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(headers["content-type"], "application/octet-stream");
    // A range.
    let (status, headers, part) = fetch(
        &srv,
        &url,
        &[auth(&bob)[0], auth(&bob)[1], ("Range", "bytes=1000-1999")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, data[1000..2000]);
    assert_eq!(
        headers["content-range"],
        format!("bytes 1000-1999/{}", data.len()).as_str()
    );
    let (status, _, _) = fetch(
        &srv,
        &url,
        &[auth(&bob)[0], auth(&bob)[1], ("Range", "bytes=99999999-")],
    )
    .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    // The other auth forms: query parameters and cookies.
    let q = format!("{url}?rc_uid={}&rc_token={}", bob.user_id, bob.token);
    assert_eq!(fetch(&srv, &q, &[]).await.0, StatusCode::OK);
    let cookie = format!("rc_uid={}; rc_token={}", bob.user_id, bob.token);
    assert_eq!(
        fetch(&srv, &url, &[("Cookie", cookie.as_str())]).await.0,
        StatusCode::OK
    );

    // Not a member, anonymous, a bad token: refused, with Rocket.Chat's 403.
    assert_eq!(
        fetch(&srv, &url, &auth(&carol)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(fetch(&srv, &url, &[]).await.0, StatusCode::FORBIDDEN);
    let bad = format!("{url}?rc_uid={}&rc_token=nope", bob.user_id);
    assert_eq!(fetch(&srv, &bad, &[]).await.0, StatusCode::FORBIDDEN);
    // Nor may carol list the group's files.
    let (status, _) = srv.get(&format!("groups.files?roomId={rid}"), &carol).await;
    assert_ne!(status, StatusCode::OK);

    // Listed now.
    let listed = srv
        .get_ok(&format!("groups.files?roomId={rid}"), &bob)
        .await;
    assert_eq!(listed["total"], json!(1), "{listed}");
    assert_eq!(listed["files"][0]["_id"], json!(id));
    assert_eq!(listed["files"][0]["url"], json!(url));
    assert_eq!(listed["files"][0]["size"], json!(data.len()));
    let (status, _) = srv.get(&format!("channels.files?roomId={rid}"), &bob).await;
    assert_ne!(status, StatusCode::OK, "a group is not a channel");

    // After leaving, bob may not download any more.
    srv.post_ok("groups.leave", &bob, json!({"roomId": rid}))
        .await;
    assert_eq!(
        fetch(&srv, &url, &auth(&bob)).await.0,
        StatusCode::FORBIDDEN
    );
    // Non-members may not upload either.
    let (status, body) = upload(
        &srv,
        &carol,
        &format!("rooms.media/{rid}"),
        "x.txt",
        "text/plain",
        b"x".to_vec(),
        &[],
    )
    .await;
    assert_ne!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn types_limits_inline_media_and_deletion() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "pics", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    let uploads_dir = srv.data_dir().join("uploads");

    // An image is served inline with its type; an HTML file never is.
    let png = pattern(5000);
    let (id, url, m) =
        media_and_confirm(&srv, &alice, &rid, "cat.png", "image/png", png.clone()).await;
    let a = &m["attachments"][0];
    assert_eq!(a["image_url"], json!(url), "{m}");
    assert_eq!(a["image_type"], json!("image/png"), "{m}");
    assert_eq!(a["image_size"], json!(5000), "{m}");
    let (status, headers, bytes) = fetch(&srv, &url, &auth(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, png);
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline;"));
    let (_, html_url, _) = media_and_confirm(
        &srv,
        &alice,
        &rid,
        "page.html",
        "text/html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    let (_, headers, _) = fetch(&srv, &html_url, &auth(&alice)).await;
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));

    // SVG is blacklisted by default; a whitelist refuses what it does not list.
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "x.svg",
        "image/svg+xml",
        b"<svg/>".to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-invalid-file-type"),
        "{body}"
    );
    set_setting(
        &srv,
        &admin,
        "FileUpload_MediaTypeWhiteList",
        json!("image/*"),
    )
    .await;
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "a.pdf",
        "application/pdf",
        b"%PDF".to_vec(),
        &[],
    )
    .await;
    assert_eq!(
        body["errorType"],
        json!("error-invalid-file-type"),
        "{status} {body}"
    );
    set_setting(&srv, &admin, "FileUpload_MediaTypeWhiteList", json!("")).await;

    // Too large: 413, and nothing of it stays (no record, no object, no partial).
    let objects_before = count_files(&uploads_dir);
    set_setting(&srv, &admin, "FileUpload_MaxFileSize", json!(100_000)).await;
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "big.bin",
        "application/octet-stream",
        pattern(300_000),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["errorType"], json!("error-file-too-large"), "{body}");
    assert_eq!(
        count_files(&uploads_dir),
        objects_before,
        "an object was left behind"
    );
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.upload/{rid}"),
        "big.bin",
        "application/octet-stream",
        pattern(300_000),
        &[("msg", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    set_setting(&srv, &admin, "FileUpload_MaxFileSize", json!(-1)).await;

    // Uploads off: refused.
    set_setting(&srv, &admin, "FileUpload_Enabled", json!(false)).await;
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "a.txt",
        "text/plain",
        b"a".to_vec(),
        &[],
    )
    .await;
    assert_eq!(
        body["errorType"],
        json!("error-file-upload-disabled"),
        "{status} {body}"
    );
    set_setting(&srv, &admin, "FileUpload_Enabled", json!(true)).await;

    // Deleting the message deletes its file.
    let objects = count_files(&uploads_dir);
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({"roomId": rid, "msgId": m["_id"]}),
    )
    .await;
    assert_eq!(
        fetch(&srv, &url, &auth(&alice)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count_files(&uploads_dir), objects - 1);
    let listed = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &alice)
        .await;
    assert!(!listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["_id"] == json!(id)));

    // Deleting the room deletes the rest.
    srv.post_ok("channels.delete", &alice, json!({"roomId": rid}))
        .await;
    assert_eq!(
        fetch(&srv, &html_url, &auth(&admin)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count_files(&uploads_dir), 0);
}

/// Objects in the local storage (the partial directory left out).
pub(crate) fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != ".partial")
        .map(|e| std::fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn rooms_upload_in_one_call_and_unconfirmed_uploads_expire() {
    let srv = Palaver::builder()
        .env("PALAVER_UPLOAD_UNCONFIRMED_TTL_SECS", "1")
        .env("PALAVER_UPLOAD_SWEEP_INTERVAL_SECS", "1")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "bots", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();

    // One call: the file and the message fields (after the file).
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.upload/{rid}"),
        "log.txt",
        "text/plain",
        b"line 1\n".to_vec(),
        &[("msg", "the log"), ("description", "nightly")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m = &body["message"];
    assert_eq!(m["msg"], json!("the log"), "{m}");
    assert_eq!(m["attachments"][0]["description"], json!("nightly"), "{m}");
    let url = str_of(&m["attachments"][0]["title_link"], "url").to_string();
    let (status, headers, bytes) = fetch(&srv, &url, &auth(&alice)).await;
    assert_eq!((status, bytes), (StatusCode::OK, b"line 1\n".to_vec()));
    assert_eq!(headers["content-type"], "text/plain");

    // An upload never confirmed is removed by the sweeper; a confirmed one stays.
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "draft.txt",
        "text/plain",
        b"draft".to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = str_of(&body["file"]["_id"], "id").to_string();
    // Wait for the sweep (every second) to remove the object.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let uploads_dir = srv.data_dir().join("uploads");
    assert_eq!(count_files(&uploads_dir), 2);
    while count_files(&uploads_dir) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper did not remove the expired upload"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Gone for good: it cannot be confirmed any more.
    let (status, body) = srv
        .post(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            &alice,
            json!({"msg": "late"}),
        )
        .await;
    assert_eq!(body["errorType"], json!("invalid-file"), "{status} {body}");
    assert_eq!(fetch(&srv, &url, &auth(&alice)).await.0, StatusCode::OK);
}

/// Points the server's file storage at `settings` and checks the test action.
pub(crate) async fn use_backend(srv: &Palaver, admin: &Session, settings: &[(&str, Value)]) {
    for (id, value) in settings {
        set_setting(srv, admin, id, value.clone()).await;
    }
    let (status, body) = srv
        .post(
            "settings/FileUpload_Storage_Test",
            admin,
            json!({"execute": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "storage test: {body}");
}

async fn round_trip(srv: &Palaver) {
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let channel = create_channel(srv, &alice, "shared", &["bob"]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    // Several S3 parts.
    let data = pattern(9 * 1024 * 1024 + 5);
    let (_, url, m) = media_and_confirm(
        srv,
        &alice,
        &rid,
        "données.bin",
        "application/octet-stream",
        data.clone(),
    )
    .await;
    let (status, _, bytes) = fetch(srv, &url, &auth(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == data, "downloaded bytes differ");
    let (status, _, part) = fetch(
        srv,
        &url,
        &[auth(&bob)[0], auth(&bob)[1], ("Range", "bytes=-10")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, data[data.len() - 10..]);
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({"roomId": rid, "msgId": m["_id"]}),
    )
    .await;
    assert_eq!(fetch(srv, &url, &auth(&bob)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn s3_backend_end_to_end() {
    let peer = palaver_tests::rclone::s3().config();
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    // Wrong secret first: the test action reports the service's own error.
    let mut settings = vec![
        ("FileUpload_S3_BucketURL", json!(peer.endpoint)),
        ("FileUpload_S3_Bucket", json!(peer.bucket)),
        ("FileUpload_S3_Region", json!(peer.region)),
        ("FileUpload_S3_ForcePathStyle", json!(true)),
        ("FileUpload_S3_AWSAccessKeyId", json!(peer.access_key)),
        ("FileUpload_S3_AWSSecretAccessKey", json!("wrong")),
        ("FileUpload_S3_Prefix", json!(peer.prefix)),
        ("FileUpload_Storage_Type", json!("AmazonS3")),
    ];
    for (id, value) in &settings {
        set_setting(&srv, &admin, id, value.clone()).await;
    }
    let (status, body) = srv
        .post(
            "settings/FileUpload_Storage_Test",
            &admin,
            json!({"execute": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-file-storage-test-failed"),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("403"), "{body}");
    settings[5].1 = json!(peer.secret_key);
    use_backend(&srv, &admin, &settings).await;
    round_trip(&srv).await;
}

#[tokio::test]
async fn webdav_backend_end_to_end() {
    let peer = palaver_tests::rclone::webdav().config();
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    use_backend(
        &srv,
        &admin,
        &[
            ("FileUpload_Webdav_Server_URL", json!(peer.url)),
            ("FileUpload_Webdav_Username", json!(peer.username)),
            ("FileUpload_Webdav_Password", json!(peer.password)),
            ("FileUpload_Webdav_Upload_Folder_Path", json!(peer.folder)),
            ("FileUpload_Storage_Type", json!("Webdav")),
        ],
    )
    .await;
    round_trip(&srv).await;
}
