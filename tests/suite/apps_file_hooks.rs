//! Pre-send hooks see an uploaded file as the message's attachments (#17): the
//! `polite` test app's hook writes the titles of the attachments it was given into
//! the text of a message containing "polite-files", for `rooms.upload` and for
//! `rooms.media` + `rooms.mediaConfirm`; the file stays attached.

use reqwest::StatusCode;
use serde_json::json;

use crate::apps_support::{self as support, channel};
use crate::rest_files::upload;

#[tokio::test]
async fn pre_send_hooks_see_uploaded_files_as_attachments() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "files-hooks", &["alice"]).await;
    support::install_polite(&srv, &admin).await;

    // The one-call upload.
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.upload/{rid}"),
        "report.txt",
        "text/plain",
        b"quarterly numbers".to_vec(),
        &[("msg", "polite-files here")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m = &body["message"];
    assert_eq!(m["msg"], "polite-files here [files: report.txt]", "{m}");
    assert_eq!(m["file"]["name"], "report.txt", "{m}");
    assert_eq!(m["attachments"][0]["title"], "report.txt", "{m}");

    // Upload, then confirm.
    let (status, body) = upload(
        &srv,
        &alice,
        &format!("rooms.media/{rid}"),
        "notes.txt",
        "text/plain",
        b"minutes".to_vec(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["file"]["_id"].as_str().expect("file id").to_string();
    let confirmed = srv
        .post_ok(
            &format!("rooms.mediaConfirm/{rid}/{id}"),
            &alice,
            json!({"msg": "polite-files again"}),
        )
        .await;
    let m = &confirmed["message"];
    assert_eq!(m["msg"], "polite-files again [files: notes.txt]", "{m}");
    assert_eq!(m["file"]["_id"], id.as_str(), "{m}");

    // A message without files: the hook sees none.
    let plain = srv
        .post_ok(
            "chat.postMessage",
            &alice,
            json!({"roomId": rid, "text": "polite-files none"}),
        )
        .await;
    assert_eq!(
        plain["message"]["msg"], "polite-files none [files: ]",
        "{plain}"
    );
}
