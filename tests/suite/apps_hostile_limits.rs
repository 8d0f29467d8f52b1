//! The hostile app against the limits on what one app makes the server do: the
//! host's copies of call arguments (bounded by the app's memory), write rates per
//! minute (messages, rooms, direct rooms, notices, jobs), the rooms and jobs an app
//! may hold, a job fork bomb, and an app that fails most calls without failing
//! them all in a row.

use std::time::Duration;

use reqwest::StatusCode;

use crate::apps_hostile::{world, World};
use crate::apps_support::{
    self as support, assert_polite_still_works, assert_prevented, channel, history_texts, post,
    try_post,
};
use palaver_tests::app_admin::{
    self, count_logs, edited_manifest, ephemeral, install_ok, run_command, says, wait_log,
    wait_status, write_package, WAIT,
};
use palaver_tests::server::{Body, Palaver};

fn limit(name: &str, value: u64) -> (String, String) {
    (
        format!("PALAVER_APPS__LIMITS__{}", name.to_uppercase()),
        value.to_string(),
    )
}

async fn limited_world(limits: &[(&str, u64)]) -> World {
    let env: Vec<(String, String)> = limits.iter().map(|(k, v)| limit(k, *v)).collect();
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    world(&[], &env).await
}

impl World {
    async fn hostile(&self, case: &str) -> String {
        ephemeral(&self.srv, &self.alice, &self.rid, "hostile", case).await
    }

    /// Hostile's log entries saying `needle`.
    async fn entries_saying(&self, needle: &str) -> usize {
        count_logs(&self.srv, &self.admin, "hostile", |e| says(e, needle)).await
    }

    /// Waits for the entry saying `needle`, then checks there is only one: refusals
    /// are logged once per window, not once each.
    async fn logged_once(&self, needle: &str) {
        wait_log(&self.srv, &self.admin, "hostile", needle, |e| {
            e["fault"] == "limit-exceeded" && e["level"] == "warn" && says(e, needle)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(self.entries_saying(needle).await, 1, "{needle}");
    }

    /// Reinstalls hostile with `grant` only.
    async fn reinstall_hostile(&self, grant: &[&str]) {
        let r = self
            .srv
            .request(
                reqwest::Method::DELETE,
                "/api/apps/hostile",
                Some(&self.admin),
                Body::None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        install_ok(&self.srv, &self.admin, "hostile", Some(grant), true).await;
    }
}

#[tokio::test]
async fn app_writes_are_rate_limited_per_minute() {
    let w = limited_world(&[
        ("messages_per_minute", 7),
        ("rooms_per_minute", 3),
        ("direct_rooms_per_minute", 4),
        ("notifications_per_minute", 5),
        ("jobs_per_minute", 6),
    ])
    .await;

    // One command loops posting until refused: exactly the limit is stored.
    assert_eq!(
        w.hostile("flood messages 50").await,
        "messages: 7 then limit-exceeded(messages-per-minute)"
    );
    let flood = history_texts(&w.srv, &w.alice, &w.rid)
        .await
        .into_iter()
        .filter(|t| t.starts_with("flood "))
        .count();
    assert_eq!(flood, 7, "messages stored past the limit");
    // Refused again within the minute, and logged once for both.
    assert_eq!(
        w.hostile("flood messages 3").await,
        "messages: 0 then limit-exceeded(messages-per-minute)"
    );
    w.logged_once("messages.send refused: the limit of 7 messages sent or edited per minute")
        .await;

    let cases = [
        (
            "rooms 50 rated",
            "rooms: 3 then limit-exceeded(rooms-per-minute)",
        ),
        (
            "dms 50",
            "dms: 4 then limit-exceeded(direct-rooms-per-minute)",
        ),
        (
            "notices 50",
            "notices: 5 then limit-exceeded(notifications-per-minute)",
        ),
        ("jobs 50", "jobs: 6 then limit-exceeded(jobs-per-minute)"),
    ];
    for (flood, answer) in cases {
        assert_eq!(
            w.hostile(&format!("flood {flood}")).await,
            answer,
            "{flood}"
        );
    }
    for needle in [
        "rooms.create refused: the limit of 3 rooms per minute",
        "rooms.create-direct refused: the limit of 4 direct conversations per minute",
        "messages.notify-user refused: the limit of 5 notifications per minute",
        "scheduler.schedule-once refused: the limit of 6 scheduled jobs per minute",
    ] {
        w.logged_once(needle).await;
    }
    // The limits are the app's: people and the other apps post as before.
    post(&w.srv, &w.alice, &w.rid, "alice is not limited").await;
    w.still_fine("the write floods").await;
}

#[tokio::test]
async fn an_app_holds_a_bounded_number_of_rooms_and_jobs() {
    let w = limited_world(&[("rooms_max", 4), ("jobs_max_pending", 6)]).await;
    assert_eq!(
        w.hostile("flood rooms 50 owned").await,
        "rooms: 4 then limit-exceeded(rooms)"
    );
    wait_log(&w.srv, &w.admin, "hostile", "the room quota", |e| {
        e["fault"] == "limit-exceeded" && says(e, "bot already owns 4 rooms (limit 4)")
    })
    .await;
    // Direct conversations are not rooms the bot owns.
    assert_eq!(w.hostile("flood dms 1").await, "dms: 1 ok");

    assert_eq!(
        w.hostile("flood jobs 50").await,
        "jobs: 6 then limit-exceeded(jobs-pending)"
    );
    wait_log(&w.srv, &w.admin, "hostile", "the pending-jobs cap", |e| {
        e["fault"] == "limit-exceeded" && says(e, "the app has 6 jobs pending (limit 6)")
    })
    .await;
    w.still_fine("the quotas").await;
}

/// A job that schedules two more at no delay is contained: scheduling from a job
/// waits a second, the per-minute limit refuses the rest, and a job that keeps
/// being refused is a fault, so the app is disabled (and its jobs dropped). Another
/// app's job and people's posts are served meanwhile.
#[tokio::test]
async fn a_job_fork_bomb_is_contained() {
    let w = limited_world(&[("jobs_per_minute", 20)]).await;
    // A bystander: hostile's code under another id and command.
    let manifest = edited_manifest(&support::app_dir("hostile"), |m| {
        m.insert("id".into(), "bystander".into());
        m.insert("name".into(), "Bystander".into());
        let commands = m["commands"].as_array_mut().expect("commands");
        commands[0]
            .as_table_mut()
            .expect("a command")
            .insert("name".into(), "bystander".into());
    });
    write_package(w.market.path(), &manifest, &support::wasm("hostile"));
    install_ok(&w.srv, &w.admin, "bystander", None, true).await;

    assert_eq!(w.hostile("forkbomb").await, "scheduled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ephemeral(&w.srv, &w.alice, &w.rid, "bystander", "remind 1").await,
        "scheduled"
    );
    post(&w.srv, &w.alice, &w.rid, "posting during the fork bomb").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let texts = history_texts(&w.srv, &w.alice, &w.rid).await;
        if texts.iter().any(|t| t == "hostile job ran") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bystander's job did not run within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let app = wait_status(&w.srv, &w.admin, "hostile", "error_disabled").await;
    let reason = app["statusReason"].as_str().unwrap_or_default();
    assert!(reason.contains("faults in its last"), "{app}");
    wait_log(&w.srv, &w.admin, "hostile", "the runaway fault", |e| {
        e["fault"] == "runaway-scheduling"
            && e["handler"] == "run-job"
            && says(e, "kept scheduling jobs past its limit of 20 per minute")
    })
    .await;
    wait_log(&w.srv, &w.admin, "hostile", "the refusal", |e| {
        e["fault"] == "limit-exceeded"
            && says(
                e,
                "scheduler.schedule-once refused: the limit of 20 scheduled jobs per minute",
            )
    })
    .await;
    assert_eq!(
        app_admin::app(&w.srv, &w.admin, "bystander").await["status"],
        "manually_enabled"
    );
    assert_polite_still_works(&w.srv, &w.alice, &w.rid, "the fork bomb").await;
}

/// An essential app whose hook fails four calls in five never faults five times in
/// a row, yet refuses most messages: the fault rate disables it.
#[tokio::test]
async fn an_essential_app_failing_most_calls_is_disabled() {
    let market = support::marketplace();
    let srv = support::server(market.path())
        .env("PALAVER_APPS__LIMITS__FAULTS_BEFORE_DISABLE", "5")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "guarded", &["alice"]).await;
    support::install_polite(&srv, &admin).await;
    install_ok(&srv, &admin, "guard", None, true).await;

    for round in 0..2 {
        let faults = if round == 0 { 4 } else { 1 };
        for i in 0..faults {
            let (status, body) =
                try_post(&srv, &alice, &rid, &format!("guard-panic {round}.{i}")).await;
            assert_prevented(
                status,
                &body,
                "Guard",
                "must check every message but panicked",
            );
        }
        if round == 0 {
            post(&srv, &alice, &rid, "one that passes").await;
        }
    }
    let app = wait_status(&srv, &admin, "guard", "error_disabled").await;
    let reason = app["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("disabled after 5 faults in its last"),
        "{app}"
    );
    // Out of the chain: messages are no longer refused.
    let m = post(&srv, &alice, &rid, "guard-panic after the disabling").await;
    assert_eq!(m["msg"], "guard-panic after the disabling", "{m}");
    assert_polite_still_works(&srv, &alice, &rid, "the guard's disabling").await;
}

/// The server's peak resident memory (`VmHWM`), bytes.
fn peak_rss(srv: &Palaver) -> u64 {
    let pid = srv.pid().expect("the server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/<pid>/status")
        * 1024
}

/// An app granted only `slashcommand` passes `rooms.create` ~125 MiB of members
/// (one 32 KiB buffer, 4 000 times) from eight commands at once. The host refuses to
/// copy more than a quarter of the app's memory per call (the call faults, logged),
/// so the server's peak memory grows by at most the documented bound:
/// `max_concurrent_calls × 2 × memory_mib / 4`, plus room for new instances.
#[tokio::test]
async fn host_copies_of_call_arguments_are_bounded_by_the_apps_memory() {
    let w = limited_world(&[("faults_before_disable", 20), ("fault_window_calls", 20)]).await;
    w.reinstall_hostile(&["slashcommand"]).await;
    w.still_fine("start").await;
    let before = peak_rss(&w.srv);

    let calls = (0..8).map(|_| run_command(&w.srv, &w.alice, &w.rid, "hostile", "bigcreate 4000"));
    let fuel = support::MEMORY_MIB * 1024 * 1024 / 4;
    let answers = futures::future::join_all(calls).await;
    let grown = peak_rss(&w.srv).saturating_sub(before);
    let bound = 4 * 2 * fuel + 64 * 1024 * 1024;
    eprintln!(
        "peak memory grew by {} MiB (bound {} MiB)",
        grown >> 20,
        bound >> 20
    );
    assert!(
        grown <= bound,
        "the server's peak memory grew by {} MiB (bound {} MiB)",
        grown >> 20,
        bound >> 20
    );
    for r in answers {
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text);
        assert_eq!(r.json["errorType"], "error-app-fault", "{}", r.text);
        let error = r.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!(
                "passed more than {fuel} bytes in one call to the host"
            )) || error.contains("is busy"),
            "{error}"
        );
    }
    let entry = wait_log(&w.srv, &w.admin, "hostile", "the fault", |e| {
        e["fault"] == "host-call-size"
    })
    .await;
    assert_eq!(entry["handler"], "execute-command", "{entry}");
    assert_eq!(entry["level"], "error", "{entry}");
    w.still_fine("oversized host call arguments").await;
    assert_eq!(
        app_admin::app(&w.srv, &w.admin, "hostile").await["status"],
        "manually_enabled"
    );
}
