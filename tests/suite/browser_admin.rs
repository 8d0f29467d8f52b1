//! The admin console in a real browser (headless Chromium over WebDriver).

use palaver_tests::browser::Browser;
use palaver_tests::server::Palaver;

/// The harness itself: the server's page loads in Chromium and a screenshot is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_harness_opens_the_client() {
    let srv = Palaver::start().await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.wait_present("body").await;
    let shot = b.screenshot("harness-smoke").await;
    let png = std::fs::read(&shot).expect("read the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
}
