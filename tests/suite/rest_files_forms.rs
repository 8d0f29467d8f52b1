//! The forms of an upload Rocket.Chat refuses or rewrites: a file under another
//! multipart field, more than one file, the media type taken from the name when
//! the client does not know it (`.lst` is text), the attachment's `format` as
//! an upper-cased extension, blocked types, and downloads by the older
//! `/ufs/:store/:id/:name` path, with a request body, with and without access.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::{auth, fetch, set_setting, upload};

/// A multipart body with the given (field, file name, bytes) parts.
async fn upload_parts(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    parts: &[(&str, &str, &[u8])],
) -> (StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (field, name, bytes) in parts {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str("image/png")
            .unwrap();
        form = form.part(field.to_string(), part);
    }
    let resp = reqwest::Client::new()
        .post(srv.url(&format!("rooms.upload/{rid}")))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn upload_forms_types_and_old_download_paths() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let channel = create_channel(&srv, &alice, "forms", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();

    // A file under another field, and two files, are refused as Rocket.Chat does.
    let (status, body) = upload_parts(&srv, &alice, &rid, &[("test", "a.png", b"x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], json!("[invalid-field]"), "{body}");
    assert_eq!(body["errorType"], json!("invalid-field"), "{body}");
    let two: &[(&str, &str, &[u8])] = &[("file", "a.png", b"x"), ("file", "b.png", b"y")];
    let (status, body) = upload_parts(&srv, &alice, &rid, two).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], json!("Just 1 file is allowed"), "{body}");
    // Neither left a file behind.
    let files = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &alice)
        .await;
    assert_eq!(files["files"], json!([]), "{files}");

    // Opaque bytes named `.lst` are text; an unknown extension stays opaque; the
    // attachment's format is the extension upper-cased.
    let path = format!("rooms.upload/{rid}");
    let octet = "application/octet-stream";
    let (status, body) = upload(&srv, &alice, &path, "l.lst", octet, b"a\nb".to_vec(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["message"]["files"][0]["type"],
        json!("text/plain"),
        "{body}"
    );
    assert_eq!(
        body["message"]["attachments"][0]["format"],
        json!("LST"),
        "{body}"
    );
    let (status, body) = upload(
        &srv,
        &alice,
        &path,
        "d.drawio",
        octet,
        b"<x/>".to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["files"][0]["type"], json!(octet), "{body}");
    assert_eq!(
        body["message"]["attachments"][0]["format"],
        json!("DRAWIO"),
        "{body}"
    );

    // The blocked-types list applies to the type so decided.
    set_setting(
        &srv,
        &admin,
        "FileUpload_MediaTypeBlackList",
        json!("text/plain"),
    )
    .await;
    let (status, body) = upload(&srv, &alice, &path, "l.lst", octet, b"a".to_vec(), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-invalid-file-type"),
        "{body}"
    );

    // The older path serves the same file; access rules apply to both.
    let png = image_png();
    let (status, body) = upload(&srv, &alice, &path, "p.png", "image/png", png.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let file = &body["message"]["file"];
    let (id, name) = (str_of(&file["_id"], "id"), str_of(&file["name"], "name"));
    let new_url = format!("/file-upload/{id}/{name}");
    let old_url = format!("/ufs/GridFS:Uploads/{id}/{name}");
    for url in [&new_url, &old_url] {
        let (status, headers, bytes) = fetch(&srv, url, &auth(&alice)).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(headers["content-type"], "image/png", "{url}");
        assert_eq!(bytes, png, "{url}");
        let (status, _, _) = fetch(&srv, url, &auth(&bob)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: not a member");
    }
    // A download carrying a body (as some clients send) is answered, not reset.
    let resp = reqwest::Client::new()
        .get(srv.url(&old_url))
        .body(vec![7u8; 200 * 1024])
        .send()
        .await
        .expect("a download with a body is answered");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// A small valid PNG (so the upload is described as an image).
fn image_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(4, 3, image::Rgb([200, 10, 10]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
