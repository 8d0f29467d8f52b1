//! `chat.getURLPreview` as Rocket.Chat answers it: the page's Open Graph and
//! title metadata (camel-cased) with its content type, fetched through the guarded
//! client (a loopback page only when the operator's allow-list names it); required
//! parameters; readers of the room only.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// A server answering every request with `html`.
async fn html_server(html: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    html.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(html.as_bytes()).await;
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn url_previews_read_the_pages_metadata() {
    let page = r#"<html><head><title>The page</title>
        <meta property="og:title" content="Open title">
        <meta name="viewport" content="width=device-width"></head></html>"#;
    let (allowed, _a) = html_server(page).await;
    let (refused, _r) = html_server(page).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{allowed}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let group = create_group(&srv, &alice, "links", &[]).await;
    let gid = str_of(&group["_id"], "gid").to_string();
    let url = format!("http://127.0.0.1:{allowed}/page");
    let query = |rid: &str, url: &str| {
        format!(
            "chat.getURLPreview?roomId={rid}&url={}",
            url.replace(':', "%3A").replace('/', "%2F")
        )
    };

    let body = srv.get_ok(&query(&gid, &url), &alice).await;
    let preview = &body["urlPreview"];
    assert_eq!(preview["url"], json!(url), "{body}");
    assert_eq!(
        preview["meta"],
        json!({"pageTitle": "The page", "ogTitle": "Open title"}),
        "{body}"
    );
    assert_eq!(
        preview["headers"]["contentType"],
        json!("text/html; charset=utf-8"),
        "{body}"
    );
    // A loopback page the operator did not allow: the URL alone.
    let other = format!("http://127.0.0.1:{refused}/page");
    let body = srv.get_ok(&query(&gid, &other), &alice).await;
    assert_eq!(body["urlPreview"]["meta"], json!({}), "{body}");
    assert!(body["urlPreview"].get("headers").is_none(), "{body}");

    // Both parameters are required; a room one cannot read is refused.
    let (status, body) = srv
        .get(&format!("chat.getURLPreview?url={url}"), &alice)
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "no roomId");
    let (status, body) = srv
        .get(&format!("chat.getURLPreview?roomId={gid}"), &alice)
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "no url");
    let (status, body) = srv.get(&query(&gid, &url), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-allowed"),
        "not a member",
    );
}
