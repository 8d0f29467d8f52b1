//! Web Push in the web client, in headless Chromium: the "Enable notifications"
//! control registers the service worker (scope `/`), subscribes with the server's
//! VAPID key and sends the subscription to the server, which then pushes to it; the
//! web app manifest is served.
//!
//! Chromium's own push service (FCM) is not reachable from the hermetic test, so
//! `PushManager.subscribe` is answered in the page with a subscription from the
//! local push service (`web-push-testing`), and the permission prompt (which headless
//! Chromium cannot show) with "granted". Everything else — the worker's
//! registration, the client's code, the server's encryption and VAPID — runs for real.

use std::time::{Duration, Instant};

use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Palaver};
use palaver_tests::web_push_testing::WebPushService;
use serde_json::{json, Value};

use crate::browser_chat::log_in;

fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

#[tokio::test]
async fn enable_notifications_registers_the_worker_and_the_server_pushes_to_it() {
    let service = WebPushService::start().await;
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let key = srv.get_ok("push.webKey", &alice).await;
    let sub = service
        .subscribe(key["publicKey"].as_str().expect("publicKey"))
        .await;

    let manifest = srv
        .request(
            reqwest::Method::GET,
            "/manifest.webmanifest",
            None,
            palaver_tests::server::Body::None,
        )
        .await;
    assert_eq!(manifest.status, reqwest::StatusCode::OK);
    assert_eq!(manifest.json["start_url"], "/");
    assert_eq!(manifest.json["display"], "standalone");

    let b = Browser::start().await;
    log_in(&b, &srv, "alice", &password_for("alice")).await;
    let linked = b
        .exec(
            "return document.querySelector('link[rel=manifest]')?.getAttribute('href')",
            vec![],
        )
        .await;
    assert_eq!(linked, json!("/manifest.webmanifest"));
    b.wait_for(&tid("enable-notifications")).await;
    // Nothing is asked on page load.
    assert_eq!(
        b.exec("return Notification.permission", vec![]).await,
        json!("default")
    );
    b.exec(
        "const sub = arguments[0];
         Notification.requestPermission = async () => 'granted';
         PushManager.prototype.getSubscription = async () => null;
         PushManager.prototype.subscribe = async function (opts) {
           window.__subscribeKey = btoa(String.fromCharCode(...new Uint8Array(opts.applicationServerKey)));
           return { toJSON: () => sub };
         };",
        vec![sub.json.clone()],
    )
    .await;
    b.click(&tid("enable-notifications")).await;
    b.wait_text(&tid("push-status"), "Notifications on").await;
    let scope = b
        .wait_js(
            "an active service worker",
            "return navigator.serviceWorker.getRegistration('/').then(r => r && r.active ? r.scope : null)",
        )
        .await;
    assert_eq!(scope, json!(format!("{}/", srv.base_url())));
    // The page subscribed with the server's VAPID key.
    let used: Value = b.exec("return window.__subscribeKey", vec![]).await;
    assert!(used.as_str().is_some_and(|k| !k.is_empty()), "{used}");

    // The subscription reached the server: a push reaches the service, decryptable.
    assert_eq!(
        srv.post_ok("push.test", &alice, json!({})).await["tokensCount"],
        1
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let messages = service.messages(&sub).await;
        if let Some(m) = messages.first() {
            let payload: Value = serde_json::from_str(m).expect("JSON payload");
            assert_eq!(payload["body"], "This is a test push");
            break;
        }
        assert!(Instant::now() < deadline, "no push arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
