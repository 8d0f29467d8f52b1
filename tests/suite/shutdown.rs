//! Shutdown on SIGTERM: under load it loses nothing that was acknowledged (posts
//! over REST and DDP, app log entries whose log call returned to the app) and
//! exits 0 within the grace period; a second signal forces the exit of a shutdown
//! that is stuck; job leases held at shutdown are given back.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_support::{self as support, channel};
use palaver_server::store::{StorageTarget, Ts};
use palaver_tests::app_admin::{edited_manifest, install_ok, logs, run_ok, write_package};
use palaver_tests::ddp::Ddp;
use palaver_tests::server::{Palaver, PalaverBuilder, Session};

const TOKEN: &str = "shutdown-metrics-token-0123456789";

/// A server with the test apps in its marketplace, metrics on and no log-rate
/// limit in the way (a rate-limited line is refused to the app, not acknowledged).
fn server(market: &std::path::Path, grace_secs: u64) -> PalaverBuilder {
    support::server(market)
        .env("PALAVER_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("PALAVER_APPS__LIMITS__LOG_LINES_PER_MINUTE", "1000000")
        .env("PALAVER_METRICS_TOKEN", TOKEN)
}

/// Whether a post answered during shutdown was refused as it may be (not
/// acknowledged): a 503, or a 4xx; a 5xx for an accepted request is a bug.
fn assert_refused_cleanly(status: StatusCode, body: &Value, what: &str) {
    assert!(
        status.as_u16() == 503 || status.as_u16() < 500,
        "{what} during shutdown answered {status} {body}"
    );
}

/// Posts over REST until the server stops answering; returns the acknowledged ids.
async fn rest_writer(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    w: usize,
    acks: &AtomicUsize,
) -> Vec<String> {
    let mut acked = Vec::new();
    for i in 0..20_000 {
        let body = json!({ "roomId": rid, "text": format!("rest{w} m{i}") });
        match srv.try_post("chat.postMessage", who, body).await {
            Ok((status, resp)) if status.is_success() => {
                acked.push(
                    resp["message"]["_id"]
                        .as_str()
                        .expect("message id")
                        .to_string(),
                );
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, resp)) => {
                assert_refused_cleanly(status, &resp, "chat.postMessage");
                break;
            }
            Err(_) => break, // the listener is gone
        }
    }
    acked
}

/// Posts over DDP (`sendMessage`) until the connection closes; returns the ids of
/// the messages whose `result` arrived.
async fn ddp_writer(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    w: usize,
    acks: &AtomicUsize,
) -> Vec<String> {
    let mut ddp = Ddp::connect_as(srv, who).await;
    let mut acked = Vec::new();
    for i in 0..20_000 {
        let call = format!("send-{i}");
        let frame = json!({
            "msg": "method",
            "id": call,
            "method": "sendMessage",
            "params": [{ "_id": format!("ddp{w}-m{i}"), "rid": rid, "msg": format!("ddp{w} m{i}") }],
        });
        if ddp.try_send_text(&frame.to_string()).await.is_err() {
            break;
        }
        let result = loop {
            match ddp.try_recv(Duration::from_secs(60)).await {
                Some(v) if v["msg"] == "result" && v["id"] == json!(call) => break Some(v),
                Some(_) => continue,
                None => break None, // closed (1001) before the answer: not acknowledged
            }
        };
        match result {
            Some(v) if v.get("error").is_none() => {
                acked.push(v["result"]["_id"].as_str().expect("message id").to_string());
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Some(v) => panic!("sendMessage failed before the connection closed: {v}"),
            None => break,
        }
    }
    acked
}

/// Makes the app log `n` lines per command (`/hostile logflood n`, a different
/// `n` each time so every line is unique); returns the `n`s whose command answered,
/// i.e. whose log calls all returned to the app.
async fn app_logger(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    w: u64,
    acks: &AtomicUsize,
) -> Vec<u64> {
    let mut acked = Vec::new();
    // Two loggers, odd and even `n`: bursts of a few hundred lines each.
    for n in (200..20_000u64).filter(|n| n % 2 == w) {
        let body =
            json!({ "command": "hostile", "roomId": rid, "params": format!("logflood {n}") });
        match srv.try_post("commands.run", who, body).await {
            Ok((status, resp)) if status.is_success() && resp["success"] == json!(true) => {
                assert_eq!(
                    resp["result"]["ephemeral"],
                    format!("logged {n} lines"),
                    "{resp}"
                );
                acked.push(n);
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Ok((status, resp)) => {
                assert_refused_cleanly(status, &resp, "commands.run");
                break;
            }
            Err(_) => break,
        }
    }
    acked
}

/// Every message id in the room (all pages of `channels.history`).
async fn room_ids(srv: &Palaver, who: &Session, rid: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut offset = 0;
    loop {
        let body = srv
            .get_ok(
                &format!("channels.history?roomId={rid}&count=100&offset={offset}"),
                who,
            )
            .await;
        let page = body["messages"].as_array().expect("messages");
        found.extend(
            page.iter()
                .filter_map(|m| m["_id"].as_str().map(str::to_string)),
        );
        if page.len() < 100 {
            return found;
        }
        offset += 100;
    }
}

async fn metrics(srv: &Palaver) -> String {
    let r = srv.scrape_metrics(TOKEN).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.text
}

/// Waits until the app has a call of `kind` in flight (seen on `/metrics`).
async fn wait_in_flight(srv: &Palaver, app: &str, kind: &str) {
    let series = format!("palaver_app_calls_in_flight{{app=\"{app}\",kind=\"{kind}\"}} ");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = metrics(srv).await;
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .map_or(0, |v| v.parse::<u64>().expect("a count"));
        if n > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} call of {app} in flight:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the server's log says it began shutting down (the first signal was
/// taken: a second one sent before that could merge with it).
async fn wait_shutting_down(srv: &Palaver) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !srv.log().contains("shutting down") {
        assert!(
            Instant::now() < deadline,
            "no shutdown began:\n{}",
            srv.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_under_load_loses_nothing_acknowledged_and_exits_within_the_grace() {
    const GRACE: u64 = 10;
    let market = support::marketplace();
    let mut srv = server(market.path(), GRACE)
        .env("PALAVER_APPS__LIMITS__COMMAND_DEADLINE_MS", "10000")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "busy", &["alice"]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;

    let (rest_acks, ddp_acks, log_acks) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let signalled = std::sync::OnceLock::new();
    // Only once every kind of client has been acknowledged a few times: the
    // signal then lands in the middle of all of them.
    let stopper = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while rest_acks.load(Ordering::SeqCst) < 20
            || ddp_acks.load(Ordering::SeqCst) < 20
            || log_acks.load(Ordering::SeqCst) < 6
        {
            assert!(Instant::now() < deadline, "the load did not get going");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        srv.signal(libc::SIGTERM);
        let _ = signalled.set(Instant::now());
    };
    let (r0, r1, d0, d1, l0, l1, ()) = tokio::join!(
        rest_writer(&srv, &admin, &rid, 0, &rest_acks),
        rest_writer(&srv, &alice, &rid, 1, &rest_acks),
        ddp_writer(&srv, &admin, &rid, 0, &ddp_acks),
        ddp_writer(&srv, &alice, &rid, 1, &ddp_acks),
        app_logger(&srv, &alice, &rid, 0, &log_acks),
        app_logger(&srv, &admin, &rid, 1, &log_acks),
        stopper,
    );
    let signalled = *signalled.get().expect("signalled");
    let logged = [l0, l1].concat();
    let budget = Duration::from_secs(GRACE + 5);
    let status = srv
        .wait_exit(budget.saturating_sub(signalled.elapsed()))
        .await;
    let took = signalled.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "palaver did not exit with 0 within {budget:?} of SIGTERM ({status:?} after {took:?}); its log:\n{}",
        srv.log()
    );
    eprintln!(
        "acknowledged before the stop: {} REST posts, {} DDP posts, {} app log commands; exited {took:?} after SIGTERM",
        r0.len() + r1.len(),
        d0.len() + d1.len(),
        logged.len()
    );

    srv.start_again().await;
    let found = room_ids(&srv, &admin, &rid).await;
    for (what, acked) in [("REST", [r0, r1].concat()), ("DDP", [d0, d1].concat())] {
        let missing: Vec<_> = acked.iter().filter(|id| !found.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged {what} posts lost over the shutdown: {missing:?}",
            missing.len(),
            acked.len()
        );
    }
    let lines: HashSet<String> = logs(&srv, &admin, "hostile")
        .await
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter_map(|m| m.find("flood line ").map(|i| m[i..].to_string()))
        .collect();
    let mut missing = Vec::new();
    for n in &logged {
        missing.extend(
            (0..*n)
                .map(|i| format!("flood line {i} of {n}"))
                .filter(|l| !lines.contains(l)),
        );
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged app log entries lost over the shutdown, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[tokio::test]
async fn a_second_signal_forces_the_exit_of_a_stuck_shutdown() {
    let market = support::marketplace();
    // A command that runs two minutes keeps its request in flight far past any
    // wait here; so does the grace period.
    let mut srv = server(market.path(), 120)
        .env("PALAVER_APPS__LIMITS__COMMAND_DEADLINE_MS", "120000")
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = channel(&srv, &admin, "stuck", &[]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;

    let stuck = srv.try_post(
        "commands.run",
        &admin,
        json!({ "command": "hostile", "roomId": rid, "params": "loop" }),
    );
    let control = async {
        wait_in_flight(&srv, "hostile", "command").await;
        srv.signal(libc::SIGTERM);
        wait_shutting_down(&srv).await;
        let second = Instant::now();
        srv.signal(libc::SIGTERM);
        second
    };
    let (answer, second) = tokio::join!(stuck, control);
    assert!(
        answer.is_err(),
        "the stuck command was cut off by the forced exit, not answered: {answer:?}"
    );
    let status = srv
        .wait_exit(Duration::from_secs(30).saturating_sub(second.elapsed()))
        .await
        .unwrap_or_else(|| {
            panic!(
                "palaver did not exit on the second signal; its log:\n{}",
                srv.log()
            )
        });
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "forced exit status"
    );
    assert!(
        srv.log().contains("second signal"),
        "the forced exit is logged:\n{}",
        srv.log()
    );
}

#[tokio::test]
async fn job_leases_held_at_shutdown_are_released() {
    let market = support::marketplace();
    // The job runs far longer than the grace; its lease (deadline + 30 s) would
    // keep it from anyone else for over a minute.
    let mut srv = server(market.path(), 2)
        .env("PALAVER_APPS__LIMITS__JOB_DEADLINE_MS", "60000")
        .sqlite()
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = channel(&srv, &admin, "jobs", &[]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;
    run_ok(&srv, &admin, &rid, "hostile", "slowjob").await;
    wait_in_flight(&srv, "hostile", "job").await;

    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(Duration::from_secs(2 + 5)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "palaver did not exit with 0 within the grace + 5 s: {status:?}; its log:\n{}",
        srv.log()
    );
    // Read the store as the next start (or another instance) would.
    let store = palaver_server::store::open(
        &StorageTarget::Sqlite(srv.data_dir().join("palaver.db")),
        true,
    )
    .await
    .expect("open the stopped server's store");
    let jobs = store.app_jobs("hostile").await.expect("jobs");
    let spin: Vec<_> = jobs.iter().filter(|j| j.name == "spin").collect();
    assert_eq!(spin.len(), 1, "the interrupted job is kept: {jobs:?}");
    assert_eq!(
        (spin[0].lease_owner.as_deref(), spin[0].lease_until),
        (None, None),
        "its lease was given back at shutdown: {jobs:?}"
    );
    let due = store
        .claim_due_jobs(Ts::now(), "next-start", Ts(i64::MAX), 10)
        .await
        .expect("claim");
    assert_eq!(due.len(), 1, "claimable at once: {due:?}");
    store.close().await.expect("close");
}

/// A marketplace whose `hostile` also handles `post-message-sent` (slowly: 50 ms
/// per `hear-me` message, then it logs `heard <text>`).
fn slow_listener_marketplace() -> tempfile::TempDir {
    let market = support::marketplace();
    let manifest = edited_manifest(&support::app_dir("hostile"), |m| {
        m.insert(
            "events".into(),
            toml::Value::Array(vec!["pre-message-sent".into(), "post-message-sent".into()]),
        );
    });
    write_package(market.path(), &manifest, &support::wasm("hostile"));
    market
}

/// Posts `n` `hear-me` messages (each acknowledged) then sends SIGTERM at once,
/// with most of their post-send events still queued for the slow app; waits for
/// a clean exit, starts again and returns the app's log messages.
async fn post_then_stop(grace_secs: u64, n: usize) -> Vec<String> {
    let market = slow_listener_marketplace();
    let mut srv = server(market.path(), grace_secs).start().await;
    let admin = srv.admin().await;
    let rid = channel(&srv, &admin, "heard", &[]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;
    for i in 0..n {
        srv.post_ok(
            "chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": format!("hear-me {i}") }),
        )
        .await;
    }
    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(Duration::from_secs(grace_secs + 5)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "palaver did not exit with 0 within the grace + 5 s: {status:?}; its log:\n{}",
        srv.log()
    );
    srv.start_again().await;
    logs(&srv, &admin, "hostile")
        .await
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn queued_app_events_run_before_the_exit() {
    // 30 events of 50 ms each: well within a 30 s grace.
    let log = post_then_stop(30, 30).await;
    let missing: Vec<usize> = (0..30)
        .filter(|i| !log.iter().any(|m| m == &format!("heard hear-me {i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "post-send events queued at SIGTERM were not handled: {missing:?}; log: {log:?}"
    );
    assert!(
        !log.iter().any(|m| m.contains("queued events dropped")),
        "{log:?}"
    );
}

#[tokio::test]
async fn queued_app_events_past_the_grace_are_dropped_and_counted() {
    // 100 events of 50 ms each (5 s) against a 1 s grace: most cannot run.
    const POSTED: usize = 100;
    let log = post_then_stop(1, POSTED).await;
    let heard = log
        .iter()
        .filter(|m| m.starts_with("heard hear-me"))
        .count();
    let dropped: Vec<usize> = log
        .iter()
        .filter_map(|m| {
            m.strip_suffix(" queued events dropped: the server shut down before they ran")
        })
        .map(|n| n.parse().expect("a count"))
        .collect();
    assert_eq!(dropped.len(), 1, "one entry counts the drop: {log:?}");
    // Every event either ran or is counted; the call cut at the deadline is counted
    // as dropped even if it had just logged.
    assert!(
        (POSTED..=POSTED + 1).contains(&(heard + dropped[0])),
        "{heard} handled + {} dropped of {POSTED} queued",
        dropped[0]
    );
    assert!(heard < POSTED, "the grace cannot have run them all");
}

/// A burst far beyond the log writer's queue (8 192 entries) right before SIGTERM:
/// every line whose log call returned is stored, none is dropped for room.
#[tokio::test]
async fn a_log_burst_larger_than_the_queue_is_kept_across_a_shutdown() {
    const LINES: u64 = 20_000;
    let market = support::marketplace();
    let mut srv = server(market.path(), 10)
        .env("PALAVER_APPS__LIMITS__COMMAND_DEADLINE_MS", "30000")
        .env("PALAVER_APPS__LIMITS__HOST_CALLS_PER_CALL", "100000")
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = channel(&srv, &admin, "burst", &[]).await;
    install_ok(&srv, &admin, "hostile", None, true).await;
    let answer = run_ok(&srv, &admin, &rid, "hostile", &format!("logflood {LINES}")).await;
    assert_eq!(
        answer["ephemeral"],
        format!("logged {LINES} lines"),
        "{answer}"
    );
    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(Duration::from_secs(10 + 5)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "palaver did not exit with 0 within the grace + 5 s: {status:?}"
    );
    srv.start_again().await;
    let suffix = format!(" of {LINES}");
    let stored: HashSet<String> = logs(&srv, &admin, "hostile")
        .await
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("flood line ") && m.ends_with(&suffix))
        .map(str::to_string)
        .collect();
    assert_eq!(
        stored.len() as u64,
        LINES,
        "acknowledged log lines lost (the writer's queue overflowed?)"
    );
}
