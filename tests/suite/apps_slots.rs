//! An app's concurrent calls are capped (`max_concurrent_calls`): a call beyond the
//! cap waits for a free slot up to `queue_wait_ms`, then fails as busy, which is
//! back-pressure and does not count toward disabling the app.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::apps_support::{self as support, channel};
use palaver_tests::app_admin::{app, ephemeral, install_ok, run_command, wait_log};

const QUEUE_WAIT_MS: u64 = 2_000;

#[tokio::test]
async fn calls_past_the_cap_wait_for_a_slot_then_fail_as_busy() {
    let market = support::marketplace();
    let srv = support::server(market.path())
        .env("PALAVER_APPS__LIMITS__MAX_CONCURRENT_CALLS", "1")
        .env(
            "PALAVER_APPS__LIMITS__QUEUE_WAIT_MS",
            QUEUE_WAIT_MS.to_string(),
        )
        .start()
        .await;
    let srv = Arc::new(srv);
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "slots", &["alice"]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;

    // One slot. `loop` holds it until the command deadline (1.5 s); a second `loop`
    // waits for it and then holds it as long again; `ok`, queued behind both, gives
    // up after QUEUE_WAIT_MS, before the second loop ends.
    let started = Instant::now();
    let first = {
        let (srv, alice, rid) = (srv.clone(), alice.clone(), rid.clone());
        tokio::spawn(async move { run_command(&srv, &alice, &rid, "hostile", "loop").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = {
        let (srv, alice, rid) = (srv.clone(), alice.clone(), rid.clone());
        tokio::spawn(async move {
            let r = run_command(&srv, &alice, &rid, "hostile", "loop").await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = Instant::now();
    let busy = run_command(&srv, &alice, &rid, "hostile", "ok").await;
    let waited = queued.elapsed();

    assert_eq!(
        busy.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        busy.text
    );
    assert_eq!(busy.json["errorType"], "error-app-fault", "{}", busy.text);
    let error = busy.json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("is busy: no free instance within 2s"),
        "the caller should hear the app is busy: {error}"
    );
    assert!(
        waited >= Duration::from_millis(QUEUE_WAIT_MS - 100),
        "a call past the cap waits for a slot before giving up (gave up after {waited:?})"
    );
    wait_log(&srv, &admin, "hostile", "the busy fault", |e| {
        e["fault"] == "busy" && e["handler"] == "execute-command"
    })
    .await;

    // Both loops ran into their deadline, the second only once the first freed the
    // slot: it waited instead of failing as busy.
    for (which, r) in [
        ("first", first.await.expect("first loop")),
        ("second", {
            let (r, at) = second.await.expect("second loop");
            assert!(
                at >= Duration::from_millis(2 * support::COMMAND_DEADLINE_MS),
                "the second loop ran after the first (finished after {at:?})"
            );
            r
        }),
    ] {
        let error = r.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("deadline"),
            "the {which} loop should end at its deadline: {}",
            r.text
        );
    }

    // Two deadline faults, one busy: below the three faults that disable an app
    // only if busy does not count.
    assert_eq!(
        ephemeral(&srv, &alice, &rid, "hostile", "ok").await,
        "still fine"
    );
    let hostile = app(&srv, &admin, "hostile").await;
    assert_eq!(hostile["status"], "manually_enabled", "{hostile}");
}
