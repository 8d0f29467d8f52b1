//! The admin console's server log in a real browser: the lines the server kept
//! (start-up among them), filtered as the admin types. Screenshot:
//! `target/screenshots/admin-logs.png`.

use palaver_tests::browser::Browser;
use palaver_tests::server::{Palaver, ADMIN_PASSWORD, ADMIN_USERNAME};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reads_and_filters_the_server_log() {
    let srv = Palaver::start().await;
    let b = Browser::start().await;
    b.log_in(&srv.base_url(), ADMIN_USERNAME, ADMIN_PASSWORD)
        .await;
    b.click("[data-testid=admin-link]").await;
    b.click("[data-testid=admin-tab-logs]").await;
    b.wait_for("[data-testid=logs-line]").await;
    b.wait_js(
        "the start-up lines",
        "return [...document.querySelectorAll('[data-testid=logs-line]')]\
         .some((l) => l.textContent.includes('storage ready'));",
    )
    .await;
    b.fill("[data-testid=logs-filter]", "storage ready").await;
    b.wait_js(
        "only matching lines",
        "const lines = [...document.querySelectorAll('[data-testid=logs-line]')];\
         return lines.length >= 1 && lines.every((l) => l.textContent.includes('storage ready'))\
           && /of \\d+ lines/.test(document.querySelector('[data-testid=logs-count]').textContent);",
    )
    .await;
    b.screenshot("admin-logs").await;
}
