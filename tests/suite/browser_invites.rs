//! Invite links in the web client: a person who opens `<site>/invite/<token>` logs
//! in if they have to, joins the room and finds it open with its composer; a link
//! that cannot be used says so and leaves them on the home page.

use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Palaver};
use serde_json::json;

use crate::browser_chat::tid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_logs_in_joins_and_opens_the_room() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let owner = srv.create_user(&admin, "owner").await;
    srv.create_user(&admin, "guest").await;
    let group = srv
        .post_ok("groups.create", &owner, json!({"name": "inner-circle"}))
        .await;
    let rid = group["group"]["_id"].as_str().expect("room id").to_string();
    srv.post_ok(
        "settings/Accounts_Registration_InviteUrlType",
        &admin,
        json!({"value": "direct"}),
    )
    .await;
    let invite = srv
        .post_ok(
            "findOrCreateInvite",
            &owner,
            json!({"rid": rid, "days": 1, "maxUses": 1}),
        )
        .await;
    let url = invite["url"].as_str().expect("invite url").to_string();
    let token = invite["_id"].as_str().expect("token").to_string();
    assert!(url.ends_with(&format!("/invite/{token}")), "{invite}");

    // Not logged in: the link waits through the login form.
    let b = Browser::start().await;
    b.goto(&format!("{}/invite/{token}", srv.base_url())).await;
    b.fill(&tid("login-username"), "guest").await;
    b.fill(&tid("login-password"), &password_for("guest")).await;
    b.click(&tid("login-submit")).await;
    b.wait_text(&tid("room-title"), "inner-circle").await;
    b.wait_for(&tid("composer-input")).await;
    assert!(
        b.url().await.ends_with("#/group/inner-circle"),
        "{}",
        b.url().await
    );
    let guest = srv.login("guest", &password_for("guest")).await;
    let sub = srv
        .get_ok(&format!("subscriptions.getOne?roomId={rid}"), &guest)
        .await;
    assert_eq!(sub["subscription"]["rid"], rid.as_str(), "{sub}");

    // Its one use is spent: opened again, it says so and the home page shows.
    b.goto(&format!("{}/invite/{token}", srv.base_url())).await;
    b.wait_text(&tid("toast"), "This invite link cannot be used")
        .await;
    b.wait_for(&tid("welcome")).await;
    b.screenshot("invite-link-used-up").await;

    // Something that is not a token is not a page.
    let (status, _) = srv.get_anon("/invite/not.a.token").await;
    assert_eq!(status, 404);
}
