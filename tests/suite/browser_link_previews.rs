//! Link previews in the web client: a posted link's card (site, title,
//! description) appears in the open room once the server has read the page,
//! without reloading. Screenshot: `target/screenshots/chat-link-preview.png`.

use palaver_tests::browser::Browser;
use palaver_tests::server::{Palaver, ADMIN_PASSWORD, ADMIN_USERNAME};
use serde_json::json;

use crate::browser_chat::log_in;
use crate::rest_url_preview::{allow_loopback_previews, html_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_links_preview_shows_in_the_open_room() {
    let page = r#"<html><head><title>Release notes</title>
        <meta property="og:site_name" content="Example Docs">
        <meta property="og:description" content="What changed in this version"></head></html>"#;
    let (port, _server) = html_server(page).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{port}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    allow_loopback_previews(&srv, &admin, &[port]).await;

    let b = Browser::start().await;
    log_in(&b, &srv, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    b.click("[data-testid=room-c-general]").await;
    b.wait_for("[data-testid=composer-input]").await;
    let url = format!("http://127.0.0.1:{port}/notes");
    srv.post_ok(
        "chat.sendMessage",
        &admin,
        json!({"message": {"rid": "GENERAL", "msg": format!("new version: {url}")}}),
    )
    .await;
    b.wait_text("[data-testid=link-preview-title]", "Release notes")
        .await;
    assert_eq!(
        b.text("[data-testid=link-preview-site]").await,
        "Example Docs"
    );
    assert_eq!(
        b.text("[data-testid=link-preview-description]").await,
        "What changed in this version"
    );
    b.screenshot("chat-link-preview").await;
}
