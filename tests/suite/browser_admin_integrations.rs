//! The admin console's Integrations section in a real browser: an outgoing webhook
//! to a private address is refused in the form with the guard's reason; created
//! with an allowed target, it is called and its delivery shows in its history;
//! edited, disabled; an incoming webhook is created, called through the URL the
//! console shows, its token regenerated (the old URL dies) and its calls listed.
//! The REST API and the receiver agree at each step. Screenshot:
//! `target/screenshots/admin-integrations.png`.

use std::time::Duration;

use palaver_tests::browser::Browser;
use palaver_tests::hook_sink::HookSink;
use palaver_tests::server::{Body, Palaver, ADMIN_PASSWORD, ADMIN_USERNAME};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{create_channel, post};

const WAIT: Duration = Duration::from_secs(30);

fn row(name: &str) -> String {
    format!("[data-testid=integration-row][data-name=\"{name}\"]")
}

/// The integration named `name`, over REST.
async fn by_name(srv: &Palaver, admin: &palaver_tests::server::Session, name: &str) -> Value {
    let list = srv.get_ok("integrations.list", admin).await;
    list["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no integration {name:?}: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_both_kinds_of_webhooks_and_reads_their_history() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let chan = create_channel(&srv, &admin, "hooked", &["bot"]).await;
    let rid = chan["_id"].as_str().expect("room id").to_string();

    let b = Browser::start().await;
    b.log_in(&srv.base_url(), ADMIN_USERNAME, ADMIN_PASSWORD)
        .await;
    b.click("[data-testid=admin-link]").await;
    b.click("[data-testid=admin-tab-integrations]").await;
    b.wait_for("[data-testid=integrations-empty]").await;

    // Outgoing: a private target is refused with the guard's reason.
    b.click("[data-testid=integration-new-outgoing]").await;
    let dialog = "[data-testid=integration-dialog]";
    b.fill(
        &format!("{dialog} [data-testid=integration-field-name]"),
        "Deploy bot",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-channel]"),
        "#hooked",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-username]"),
        "bot",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-urls]"),
        "http://10.9.8.7/hook",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-triggerWords]"),
        "!deploy",
    )
    .await;
    b.click("[data-testid=integration-save]").await;
    b.wait_text("[data-testid=integration-dialog-error]", "apps.http_allow")
        .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-urls]"),
        &sink.url("/deploy"),
    )
    .await;
    b.click("[data-testid=integration-save]").await;
    b.wait_gone(dialog).await;
    b.wait_for(&row("Deploy bot")).await;
    let out = by_name(&srv, &admin, "Deploy bot").await;
    assert_eq!(out["type"], "webhook-outgoing");
    assert_eq!(out["urls"], json!([sink.url("/deploy")]));
    assert_eq!(out["triggerWords"], json!(["!deploy"]));
    assert_eq!(out["channel"], json!(["#hooked"]));

    // It is called, and the delivery shows in its history.
    post(&srv, &admin, &rid, "!deploy now").await;
    sink.wait_for("/deploy", 1, WAIT).await;
    b.click(&format!(
        "{} [data-testid=integration-history-open]",
        row("Deploy bot")
    ))
    .await;
    b.wait_js(
        "the delivery in the history",
        "const b = document.querySelector('[data-testid=integration-history-refresh]');\
         if (b) b.click();\
         const s = document.querySelector('[data-testid=integration-history-status]');\
         return !!s && s.textContent === '200';",
    )
    .await;
    b.wait_text("[data-testid=integration-history-step]", "after-http-call")
        .await;

    // Edit: another trigger word.
    b.click(&format!(
        "{} [data-testid=integration-edit]",
        row("Deploy bot")
    ))
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-triggerWords]"),
        "!ship, !deploy",
    )
    .await;
    b.click("[data-testid=integration-save]").await;
    b.wait_gone(dialog).await;
    let out = by_name(&srv, &admin, "Deploy bot").await;
    assert_eq!(out["triggerWords"], json!(["!ship", "!deploy"]), "{out}");
    assert_eq!(
        out["urls"],
        json!([sink.url("/deploy")]),
        "unchanged: {out}"
    );

    // Disable.
    b.click(&format!(
        "{} [data-testid=integration-toggle]",
        row("Deploy bot")
    ))
    .await;
    b.wait_text(
        &format!("{} [data-testid=integration-enabled]", row("Deploy bot")),
        "Disabled",
    )
    .await;
    assert_eq!(by_name(&srv, &admin, "Deploy bot").await["enabled"], false);

    // Incoming: created; the URL shown works.
    b.click("[data-testid=integration-new-incoming]").await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-name]"),
        "CI",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-channel]"),
        "#hooked",
    )
    .await;
    b.fill(
        &format!("{dialog} [data-testid=integration-field-username]"),
        "bot",
    )
    .await;
    b.click("[data-testid=integration-save]").await;
    b.wait_gone(dialog).await;
    let target = format!("{} [data-testid=integration-target]", row("CI"));
    let old_url = b.wait_text(&target, "/hooks/").await;
    let path = |url: &str| url[url.find("/hooks/").expect("a hook URL")..].to_string();
    let call = |p: String| {
        let srv = &srv;
        async move {
            srv.request(
                Method::POST,
                &p,
                None,
                Body::Json(json!({"text": "build ok"})),
            )
            .await
            .status
        }
    };
    assert_eq!(call(path(&old_url)).await, 200);

    // Regenerate its token: the old URL dies, the new one shown works.
    b.click(&format!(
        "{} [data-testid=integration-regenerate]",
        row("CI")
    ))
    .await;
    b.click("[data-testid=integration-regenerate-dialog-confirm]")
        .await;
    let old = old_url.clone();
    let new_url = b
        .wait_js(
            "the new hook URL",
            &format!(
                "const t = document.querySelector('{} [data-testid=integration-target]');\
                 return t && t.textContent !== {} ? t.textContent : null;",
                row("CI").replace('\'', "\\'"),
                serde_json::to_string(&old).unwrap()
            ),
        )
        .await;
    let new_url = new_url.as_str().expect("a URL").to_string();
    assert_eq!(call(path(&old_url)).await, 404, "the old token is dead");
    assert_eq!(call(path(&new_url)).await, 200);
    let ci = by_name(&srv, &admin, "CI").await;
    assert!(new_url.ends_with(ci["token"].as_str().unwrap()), "{ci}");

    // Its history: the two accepted calls.
    b.click(&format!(
        "{} [data-testid=integration-history-open]",
        row("CI")
    ))
    .await;
    b.wait_js(
        "the incoming calls in the history",
        "const b = document.querySelector('[data-testid=integration-history-refresh]');\
         if (b) b.click();\
         return document.querySelectorAll('[data-testid=integration-history-row]').length === 2;",
    )
    .await;
    b.wait_text("[data-testid=integration-history-status]", "200")
        .await;
    b.screenshot("admin-integrations").await;
}
