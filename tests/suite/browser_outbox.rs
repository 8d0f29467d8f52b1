//! The admin console's delivery queue view in a real browser: an outgoing webhook
//! whose target refuses the call shows up as a dead letter with its last error;
//! the admin retries it (delivered, the list empties) and drops another; the REST
//! API and the receiver agree. Screenshot: `target/screenshots/admin-outbox.png`.

use std::time::Duration;

use palaver_tests::browser::Browser;
use palaver_tests::hook_sink::{Answer, HookSink};
use palaver_tests::server::{Palaver, ADMIN_PASSWORD, ADMIN_USERNAME};
use serde_json::json;

use crate::common::{create_channel, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sees_dead_letters_retries_and_drops_them() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let chan = create_channel(&srv, &admin, "hooked", &[]).await;
    let rid = chan["_id"].as_str().expect("room id").to_string();
    srv.post_ok(
        "integrations.create",
        &admin,
        json!({
            "type": "webhook-outgoing", "name": "refused", "enabled": true,
            "event": "sendMessage", "channel": "#hooked", "username": "bot",
            "urls": [sink.url("/refuse")], "scriptEnabled": false,
        }),
    )
    .await;
    sink.script("/refuse", [Answer::status(404), Answer::status(400)]);
    post(&srv, &admin, &rid, "first").await;
    sink.wait_for("/refuse", 1, Duration::from_secs(30)).await;

    let b = Browser::start().await;
    b.log_in(&srv.base_url(), ADMIN_USERNAME, ADMIN_PASSWORD)
        .await;
    b.click("[data-testid=admin-link]").await;
    b.click("[data-testid=admin-tab-outbox]").await;
    let row = "[data-testid=outbox-queue-row][data-kind=webhook]";
    b.wait_for(row).await;
    // The item may still be on its way to the dead letters: refresh until it is.
    b.wait_js(
        "the dead letter to be listed",
        "document.querySelector('[data-testid=outbox-refresh]').click();\
         return !!document.querySelector('[data-testid=outbox-dead-row]');",
    )
    .await;
    b.wait_text(&format!("{row} [data-testid=outbox-dead-count]"), "1")
        .await;
    b.wait_text("[data-testid=outbox-dead-error]", "HTTP 404")
        .await;
    assert_eq!(b.text("[data-testid=outbox-dead-attempts]").await, "1");
    b.screenshot("admin-outbox").await;

    // Retry: the target refuses again (400, back to the dead letters), then, with
    // its script used up, accepts (200).
    let hits_before = sink.hits_on("/refuse").len();
    b.click("[data-testid=outbox-retry]").await;
    sink.wait_for("/refuse", hits_before + 1, Duration::from_secs(30))
        .await;
    b.wait_js(
        "the refused retry to be listed again",
        "document.querySelector('[data-testid=outbox-refresh]').click();\
         const e = document.querySelector('[data-testid=outbox-dead-error]');\
         return !!e && e.textContent.includes('HTTP 400');",
    )
    .await;
    b.click("[data-testid=outbox-retry]").await;
    b.wait_for("[data-testid=outbox-no-dead]").await;
    let hits = sink
        .wait_for("/refuse", hits_before + 2, Duration::from_secs(30))
        .await;
    assert_eq!(hits.last().map(|h| h.status), Some(200));
    let stats = srv.get_ok("palaver.outbox.stats", &admin).await;
    assert_eq!(stats["queues"][0]["dead"], 0, "{stats}");

    // Drop: another refused call, dropped through the confirmation dialog.
    sink.script("/refuse", [Answer::status(403)]);
    post(&srv, &admin, &rid, "second").await;
    b.wait_js(
        "the second dead letter",
        "document.querySelector('[data-testid=outbox-refresh]').click();\
         const e = document.querySelector('[data-testid=outbox-dead-error]');\
         return !!e && e.textContent.includes('HTTP 403');",
    )
    .await;
    b.click("[data-testid=outbox-drop]").await;
    b.click("[data-testid=outbox-drop-dialog-confirm]").await;
    b.wait_for("[data-testid=outbox-no-dead]").await;
    let dead = srv.get_ok("palaver.outbox.dead", &admin).await;
    assert_eq!(dead["total"], 0, "{dead}");
}
