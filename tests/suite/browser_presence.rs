//! Presence in the web client: a DM partner's dot follows their connections live,
//! and the status control sets one's status and status text.

use palaver_tests::browser::Browser;
use palaver_tests::ddp::Ddp;
use palaver_tests::server::{password_for, Palaver};
use serde_json::json;

use crate::browser_chat::{log_in, tid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_dots_and_the_status_control() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let dana = srv.create_user(&admin, "dana").await;
    let eve = srv.create_user(&admin, "eve").await;
    srv.post_ok("im.create", &dana, json!({"username": "eve"}))
        .await;

    let b = Browser::start().await;
    log_in(&b, &srv, "dana", &password_for("dana")).await;
    let eve_dot = format!("{} {}", tid("sidebar-section-d"), tid("presence-eve"));
    b.wait_present(&format!("{eve_dot}[data-status=\"offline\"]"))
        .await;

    // Eve connects: her dot turns online without a reload; she leaves: offline.
    let eve_ddp = Ddp::connect_as(&srv, &eve).await;
    b.wait_present(&format!("{eve_dot}[data-status=\"online\"]"))
        .await;
    eve_ddp.close().await;
    b.wait_present(&format!("{eve_dot}[data-status=\"offline\"]"))
        .await;

    // Dana (online through the page) sets herself busy with a text.
    let own = format!("{} {}", tid("status-toggle"), tid("presence-dana"));
    b.wait_present(&format!("{own}[data-status=\"online\"]"))
        .await;
    b.click(&tid("status-toggle")).await;
    b.select(&tid("status-select"), "busy").await;
    b.fill(&tid("status-text"), "deep work").await;
    b.click(&tid("status-save")).await;
    b.wait_present(&format!("{own}[data-status=\"busy\"]"))
        .await;
    let status = srv.get_ok("users.getStatus", &dana).await;
    assert_eq!(status["status"], "busy", "{status}");
    let me = srv.get_ok("me", &dana).await;
    assert_eq!(me["statusText"], "deep work", "{me}");
    b.screenshot("presence-status-control").await;
}
