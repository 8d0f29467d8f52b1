//! The hostile app (`tests/apps/hostile`) tries to hurt the server: CPU, memory,
//! stack, log volume, persistence, the network, host calls it was not granted,
//! panics. Each case asserts the typed error or the fault the caller sees AND the
//! entry in the app's log; after each, the server still serves and the well-behaved
//! `polite` app still answers. The essential `guard` app shows fail-closed pre-send
//! hooks next to a fail-open one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_support::{
    self as support, assert_polite_still_works, assert_prevented, channel, history_texts, post,
    try_post,
};
use palaver_tests::app_admin::{
    self, add_hosts, count_logs, edited_manifest, ephemeral, install_ok, logs, run_command, says,
    wait_log, wait_log_count, wait_status, write_package,
};
use palaver_tests::ddp::Ddp;
use palaver_tests::fake_http::FakeHttp;
use palaver_tests::server::{Palaver, Session};

/// A server with `polite` and `hostile` installed and enabled, `alice` in a channel.
pub(crate) struct World {
    pub srv: Palaver,
    pub admin: Session,
    pub alice: Session,
    pub rid: String,
    pub market: tempfile::TempDir,
}

pub(crate) async fn world(extra_hosts: &[String], env: &[(&str, String)]) -> World {
    let market = support::marketplace();
    if !extra_hosts.is_empty() {
        let manifest = edited_manifest(&support::app_dir("hostile"), |m| add_hosts(m, extra_hosts));
        write_package(market.path(), &manifest, &support::wasm("hostile"));
    }
    let mut builder = support::server(market.path());
    for (k, v) in env {
        builder = builder.env(*k, v.clone());
    }
    let srv = builder.start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "arena", &["alice"]).await;
    support::install_polite(&srv, &admin).await;
    install_ok(&srv, &admin, "hostile", None, true).await;
    World {
        srv,
        admin,
        alice,
        rid,
        market,
    }
}

/// Whether `e` is the log entry of a fault of `handler` tagged one of `tags`.
fn is_fault(e: &Value, handler: &str, tags: &[&str]) -> bool {
    e["handler"] == handler && tags.iter().any(|t| e["fault"] == *t)
}

impl World {
    /// `/hostile <case>` must fault: 500 `error-app-fault` whose error contains
    /// `needle`; returns the error text.
    pub(crate) async fn fault(&self, case: &str, needle: &str) -> String {
        let started = Instant::now();
        let r = run_command(&self.srv, &self.alice, &self.rid, "hostile", case).await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "/hostile {case}: {}",
            r.text
        );
        assert_eq!(r.json["success"], false, "/hostile {case}: {}", r.text);
        assert_eq!(
            r.json["errorType"], "error-app-fault",
            "/hostile {case}: {}",
            r.text
        );
        let error = r.json["error"].as_str().unwrap_or_default().to_string();
        assert!(
            error.starts_with("the app Hostile ") && error.contains(needle),
            "/hostile {case}: the error should name the app and say {needle:?}: {error}"
        );
        // Never much past the command deadline (plus the grace the host gives).
        assert!(
            started.elapsed()
                < Duration::from_millis(support::COMMAND_DEADLINE_MS) + Duration::from_secs(3),
            "/hostile {case} took {:?}",
            started.elapsed()
        );
        error
    }

    /// Hostile's log entries of faults of `handler` tagged `tag` (any of `tags`).
    async fn faults_logged(&self, handler: &str, tags: &[&str]) -> usize {
        count_logs(&self.srv, &self.admin, "hostile", |e| {
            is_fault(e, handler, tags)
        })
        .await
    }

    /// Runs `case` (a command or, with `hook`, a message whose hook faults), and
    /// waits for the new log entry of that fault; returns it.
    async fn new_fault_entry(&self, handler: &str, tags: &[&str], before: usize) -> Value {
        let entries = wait_log_count(
            &self.srv,
            &self.admin,
            "hostile",
            &format!("a new {handler} fault {tags:?}"),
            before + 1,
            |e| is_fault(e, handler, tags),
        )
        .await;
        let entry = entries[0].clone();
        assert_eq!(entry["level"], "error", "{entry}");
        entry
    }

    /// `/hostile <case>` faults with `needle` in the error, and the log gets an entry
    /// of the fault (tagged one of `tags`) saying `needle` too; returns the error.
    async fn command_fault(&self, case: &str, needle: &str, tags: &[&str]) -> String {
        let before = self.faults_logged("execute-command", tags).await;
        let error = self.fault(case, needle).await;
        let entry = self.new_fault_entry("execute-command", tags, before).await;
        let message = entry["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("execute-command ") && message.contains(needle),
            "the log entry of /hostile {case} should say {needle:?}: {entry}"
        );
        error
    }

    /// `/hostile ok` answers (which also resets its consecutive-fault count).
    async fn hostile_ok(&self) {
        assert_eq!(
            ephemeral(&self.srv, &self.alice, &self.rid, "hostile", "ok").await,
            "still fine"
        );
    }

    pub(crate) async fn still_fine(&self, ctx: &str) {
        assert_polite_still_works(&self.srv, &self.alice, &self.rid, ctx).await;
        self.hostile_ok().await;
    }

    async fn http(&self, url: &str) -> String {
        ephemeral(
            &self.srv,
            &self.alice,
            &self.rid,
            "hostile",
            &format!("http {url}"),
        )
        .await
    }
}

#[tokio::test]
async fn hostile_cpu_memory_stack_and_panics_are_contained() {
    let w = world(&[], &[]).await;
    w.still_fine("start").await;

    // An infinite loop in a command: trapped at the deadline.
    let deadline = format!(
        "ran past its {:?} deadline",
        Duration::from_millis(support::COMMAND_DEADLINE_MS)
    );
    w.command_fault("loop", &deadline, &["deadline"]).await;
    w.still_fine("loop").await;

    // Unbounded memory growth: trapped at the memory limit.
    w.command_fault("alloc", "exceeded its memory limit", &["memory"])
        .await;
    w.still_fine("alloc").await;

    // Deep recursion on the wasm stack, then on the shadow stack in linear memory
    // (which overflows into out-of-bounds memory: a trap).
    w.command_fault("recurse", "overflowed its stack", &["stack-overflow"])
        .await;
    w.still_fine("recurse").await;
    w.command_fault("recurse-frames", "", &["stack-overflow", "trap", "memory"])
        .await;
    w.still_fine("recurse-frames").await;

    // A panic: a fault for the caller, and the panic's message in the log.
    w.command_fault("panic", "panicked", &["panic"]).await;
    wait_log(&w.srv, &w.admin, "hostile", "the panic message", |e| {
        e["handler"] == "execute-command" && says(e, "hostile panic")
    })
    .await;
    w.still_fine("panic").await;

    // The same in the pre-send hook: the hook fails open (hostile is not essential),
    // so the message is stored unchanged, within the pre-send deadline.
    let pre_send = Duration::from_millis(support::PRE_SEND_DEADLINE_MS);
    for (text, tag, needle) in [
        (
            "hook-loop in a hook",
            "deadline",
            format!("ran past its {pre_send:?} deadline"),
        ),
        (
            "hook-alloc in a hook",
            "memory",
            "exceeded its memory limit".to_string(),
        ),
        (
            "hook-panic in a hook",
            "panic",
            "hostile hook panic".to_string(),
        ),
    ] {
        let before = w.faults_logged("pre-message-sent", &[tag]).await;
        let started = Instant::now();
        let m = post(&w.srv, &w.alice, &w.rid, text).await;
        assert_eq!(m["msg"], text, "{m}");
        assert!(
            started.elapsed() < pre_send + Duration::from_secs(2),
            "{text}: the post took {:?}",
            started.elapsed()
        );
        let entry = w.new_fault_entry("pre-message-sent", &[tag], before).await;
        if tag == "panic" {
            // The fault entry says where; the panic's message is an entry of its own.
            assert!(says(&entry, "panicked"), "{text}: {entry}");
            wait_log(
                &w.srv,
                &w.admin,
                "hostile",
                "the hook's panic message",
                |e| e["handler"] == "pre-message-sent" && says(e, &needle),
            )
            .await;
        } else {
            assert!(says(&entry, &needle), "{text}: {entry}");
        }
        w.still_fine(text).await;
    }
    // Over DDP too.
    let mut ddp = Ddp::connect_as(&w.srv, &w.alice).await;
    let sent = ddp
        .call_ok(
            "sendMessage",
            json!([{"rid": w.rid, "msg": "hook-loop over ddp"}]),
        )
        .await;
    assert_eq!(sent["msg"], "hook-loop over ddp", "{sent}");
    w.still_fine("hook-loop over ddp").await;
    let texts = history_texts(&w.srv, &w.alice, &w.rid).await;
    for text in [
        "hook-loop in a hook",
        "hook-alloc in a hook",
        "hook-panic in a hook",
        "hook-loop over ddp",
    ] {
        assert!(texts.iter().any(|t| t == text), "{text} missing: {texts:?}");
    }
    // Interleaved with successes, none of that disabled the app.
    assert_eq!(
        app_admin::app(&w.srv, &w.admin, "hostile").await["status"],
        "manually_enabled"
    );

    // Repeated faults in a row disable the app with an error status and a reason.
    // Successes first age the faults above out of the fault window (20 calls), so
    // the disabling comes from these alone.
    for _ in 0..20 {
        w.hostile_ok().await;
    }
    for _ in 0..support::FAULTS_BEFORE_DISABLE - 1 {
        w.fault("panic", "panicked").await;
    }
    assert_eq!(
        app_admin::app(&w.srv, &w.admin, "hostile").await["status"],
        "manually_enabled"
    );
    w.fault("panic", "panicked").await;
    let app = wait_status(&w.srv, &w.admin, "hostile", "error_disabled").await;
    let reason = app["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "disabled after {} faults in its last ",
            support::FAULTS_BEFORE_DISABLE
        )),
        "{app}"
    );
    assert_eq!(app["enabled"], false, "{app}");
    wait_log(&w.srv, &w.admin, "hostile", "the disabling", |e| {
        e["level"] == "error" && says(e, "disabled (error_disabled)")
    })
    .await;
    let r = run_command(&w.srv, &w.alice, &w.rid, "hostile", "ok").await;
    assert_eq!(r.json["errorType"], "error-invalid-command", "{}", r.text);
    // Its hook is out of the chain: a hook-loop message goes through at once.
    let started = Instant::now();
    post(&w.srv, &w.alice, &w.rid, "hook-loop after the disabling").await;
    assert!(started.elapsed() < pre_send, "{:?}", started.elapsed());
    assert_polite_still_works(&w.srv, &w.alice, &w.rid, "the disabling").await;
    // The admin can enable it again.
    let r = app_admin::set_status(&w.srv, &w.admin, "hostile", true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "manually_enabled", "{}", r.text);
    w.still_fine("enabled again").await;
}

/// A name that `/etc/hosts` maps to a loopback address (other than `localhost`).
fn hosts_file_loopback_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let ip: std::net::IpAddr = words.next()?.parse().ok()?;
        if !ip.is_loopback() {
            return None;
        }
        words
            .find(|n| {
                let n = n.to_ascii_lowercase();
                n != "localhost"
                    && !n.ends_with(".localhost")
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            })
            .map(str::to_string)
    })
}

#[tokio::test]
async fn hostile_network_is_confined() {
    let fake = FakeHttp::start().await;
    // Granted to the app but not allow-listed: a second port on the same address.
    let other = FakeHttp::start().await;
    let loopback_name = hosts_file_loopback_name();
    let mut hosts = vec![
        format!("127.0.0.1:{}", fake.port()),
        format!("127.0.0.1:{}", other.port()),
        "[::ffff:127.0.0.1]".to_string(),
        "0.0.0.0".to_string(),
        "100.64.0.1".to_string(),
        "[fd00::1]".to_string(),
    ];
    hosts.extend(loopback_name.clone());
    let w = world(
        &hosts,
        &[
            (
                "PALAVER_APPS__HTTP_ALLOW",
                support::http_allow(&[fake.addr().to_string()]),
            ),
            (
                "PALAVER_APPS__LIMITS__HTTP_MAX_RESPONSE_BYTES",
                (64 * 1024).to_string(),
            ),
        ],
    )
    .await;

    // The allow-listed fake works.
    let ok = w.http(&fake.url("/hello")).await;
    assert_eq!(
        ok,
        format!("status 200 len {}", "fake ok: GET /hello\n".len())
    );
    assert_eq!(fake.requests().len(), 1);

    // A host that was not granted: permission denied, with the host in the log.
    assert_eq!(
        w.http("http://not-granted.test/").await,
        "error permission-denied(networking)"
    );
    let entry = wait_log(&w.srv, &w.admin, "hostile", "host not granted", |e| {
        e["fault"] == "permission-denied" && says(e, "not-granted.test:80 is not granted")
    })
    .await;
    assert_eq!(entry["handler"], "execute-command", "{entry}");

    // Granted hosts at addresses that are never connected to.
    let mut refused = vec![
        ("http://127.0.0.1/".to_string(), "loopback"),
        ("http://2130706433/".to_string(), "loopback"),
        ("http://[::1]/".to_string(), "loopback"),
        ("http://[::ffff:127.0.0.1]/".to_string(), "loopback"),
        ("http://10.0.0.1/".to_string(), "private"),
        ("http://169.254.169.254/".to_string(), "cloud metadata"),
        ("http://localhost/".to_string(), "loopback"),
        ("http://0.0.0.0/".to_string(), "unspecified"),
        ("http://100.64.0.1/".to_string(), "CGNAT"),
        ("http://[fd00::1]/".to_string(), "unique-local"),
        (other.url("/direct"), "loopback"),
    ];
    match &loopback_name {
        Some(name) => refused.push((format!("http://{name}/"), "loopback")),
        None => eprintln!("no loopback name in /etc/hosts: skipping the DNS case"),
    }
    for (url, why) in &refused {
        let answer = w.http(url).await;
        assert!(
            answer.starts_with("error network(") && answer.contains("which is refused"),
            "{url}: {answer}"
        );
        assert!(answer.contains(why), "{url}: expected {why:?} in {answer}");
        wait_log(&w.srv, &w.admin, "hostile", url, |e| {
            e["fault"] == "address-refused" && says(e, &format!("http.request to {url} refused"))
        })
        .await;
    }

    // A redirect from the allow-listed fake to the other port is refused at the hop.
    let hop = other.url("/secret");
    let answer = w.http(&fake.url(&format!("/redirect?to={hop}"))).await;
    assert!(
        answer.starts_with("error network(") && answer.contains("which is refused (loopback)"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("127.0.0.1:{}", other.port())),
        "{answer}"
    );
    assert_eq!(
        fake.requests().last().map(|r| r.path.clone()),
        Some(format!("/redirect?to={hop}"))
    );
    // A redirect to a host not granted at all.
    let answer = w
        .http(&fake.url("/redirect?to=http://not-granted.test/x"))
        .await;
    assert_eq!(answer, "error permission-denied(networking)");
    assert!(
        other.requests().is_empty(),
        "the port that is not allow-listed was reached: {:?}",
        other.requests()
    );
    // A redirect within the allow-listed fake is followed.
    let answer = w.http(&fake.url("/redirect?to=/landed")).await;
    assert_eq!(
        answer,
        format!("status 200 len {}", "fake ok: GET /landed\n".len())
    );

    // Responses over the cap: announced, and streamed without a length.
    for path in ["/big?bytes=262144", "/stream?bytes=262144"] {
        assert_eq!(
            w.http(&fake.url(path)).await,
            "error limit-exceeded(http-response-size)",
            "{path}"
        );
        wait_log(&w.srv, &w.admin, "hostile", path, |e| {
            e["fault"] == "limit-exceeded" && says(e, path) && says(e, "larger than 65536 bytes")
        })
        .await;
    }
    // Under the cap is fine.
    assert_eq!(
        w.http(&fake.url("/stream?bytes=60000")).await,
        "status 200 len 60000"
    );

    w.still_fine("the network cases").await;
    assert_eq!(
        app_admin::app(&w.srv, &w.admin, "hostile").await["status"],
        "manually_enabled",
        "refused requests are errors the app handles, not faults"
    );
}

#[tokio::test]
async fn hostile_logs_persistence_and_ungranted_calls_are_bounded() {
    let w = world(
        &[],
        &[
            ("PALAVER_APPS__LIMITS__LOG_LINES_PER_MINUTE", "50".into()),
            ("PALAVER_APPS__LIMITS__PERSISTENCE_MAX_KEYS", "6".into()),
            // Keys count too: four 16 KiB values with their 12-byte keys fit.
            (
                "PALAVER_APPS__LIMITS__PERSISTENCE_MAX_BYTES",
                "70000".into(),
            ),
        ],
    )
    .await;

    // Log flooding: the app is told nothing, its log keeps at most the rate.
    assert_eq!(
        ephemeral(&w.srv, &w.alice, &w.rid, "hostile", "logflood 2000").await,
        "logged 2000 lines"
    );
    let rate = wait_log(&w.srv, &w.admin, "hostile", "the log-rate entry", |e| {
        e["fault"] == "log-rate"
    })
    .await;
    assert!(
        says(&rate, "log rate limit reached (50 lines per minute)"),
        "{rate}"
    );
    assert_eq!(rate["handler"], "execute-command", "{rate}");
    let flood = logs(&w.srv, &w.admin, "hostile")
        .await
        .into_iter()
        .filter(|e| says(e, "flood line"))
        .count();
    // At most two one-minute windows' worth, if the flood straddled a minute.
    assert!(
        (1..=100).contains(&flood),
        "{flood} flood lines were kept (limit 50 per minute)"
    );
    w.still_fine("log flooding").await;

    // Persistence past the byte quota, then past the key quota.
    assert_eq!(
        ephemeral(&w.srv, &w.alice, &w.rid, "hostile", "persist-fill 16384").await,
        "wrote 4 keys (65536 bytes) then limit-exceeded(persistence-bytes)"
    );
    wait_log(&w.srv, &w.admin, "hostile", "the byte quota", |e| {
        e["fault"] == "limit-exceeded" && says(e, "quota persistence-bytes reached")
    })
    .await;
    assert_eq!(
        ephemeral(&w.srv, &w.alice, &w.rid, "hostile", "persist-fill 10").await,
        "wrote 6 keys (60 bytes) then limit-exceeded(persistence-keys)"
    );
    wait_log(&w.srv, &w.admin, "hostile", "the key quota", |e| {
        e["fault"] == "limit-exceeded" && says(e, "quota persistence-keys reached")
    })
    .await;
    w.still_fine("persistence quota").await;

    // Every host interface without its permission: hostile installed again with
    // only `slashcommand`.
    let r = w
        .srv
        .request(
            reqwest::Method::DELETE,
            "/api/apps/hostile",
            Some(&w.admin),
            palaver_tests::server::Body::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let app = install_ok(&w.srv, &w.admin, "hostile", Some(&["slashcommand"]), true).await;
    assert_eq!(app["permissionsGranted"], json!(["slashcommand"]), "{app}");
    let answer = ephemeral(&w.srv, &w.alice, &w.rid, "hostile", "nopermission").await;
    let expected = [
        ("messages.send", "message.write"),
        ("messages.update", "message.write"),
        ("messages.get", "message.read"),
        ("messages.notify-user", "message.write"),
        ("messages.notify-room", "message.write"),
        ("rooms.get", "room.read"),
        ("rooms.get-by-name", "room.read"),
        ("rooms.create", "room.write"),
        ("rooms.create-direct", "room.write"),
        ("rooms.members", "room.read"),
        ("rooms.add-member", "room.write"),
        ("users.get", "user.read"),
        ("users.get-by-username", "user.read"),
        ("users.email", "user.read"),
        ("persistence.get", "persistence"),
        ("persistence.set", "persistence"),
        ("persistence.set-if-absent", "persistence"),
        ("persistence.delete", "persistence"),
        ("persistence.list", "persistence"),
        ("http.request", "networking"),
        ("scheduler.schedule-once", "scheduler"),
        ("scheduler.schedule-every", "scheduler"),
        ("scheduler.cancel", "scheduler"),
    ];
    let want: Vec<String> = expected
        .iter()
        .map(|(call, perm)| format!("{call}: permission-denied({perm})"))
        .collect();
    let got: Vec<&str> = answer.lines().collect();
    assert_eq!(
        got, want,
        "every host call must be refused with its permission"
    );
    for (call, perm) in expected {
        wait_log(&w.srv, &w.admin, "hostile", call, |e| {
            e["fault"] == "permission-denied"
                && e["handler"] == "execute-command"
                && says(
                    e,
                    &format!("{call} refused: the app was not granted {perm}"),
                )
        })
        .await;
    }
    // Nothing happened: no probe message, no room.
    let texts = history_texts(&w.srv, &w.alice, &w.rid).await;
    assert!(
        !texts.iter().any(|t| t.contains("hostile probe")),
        "{texts:?}"
    );
    w.still_fine("ungranted host calls").await;
}

/// The caller and the fault's log entry get the panic's message, not only where it
/// happened (Rust prints the message on the line after "panicked at …").
#[tokio::test]
async fn a_panic_reports_its_message() {
    let w = world(&[], &[]).await;
    let error = w.command_fault("panic", "panicked", &["panic"]).await;
    assert!(
        error.contains("hostile panic"),
        "the caller should see the panic's message: {error}"
    );
    let entry = wait_log(&w.srv, &w.admin, "hostile", "the panic fault", |e| {
        e["fault"] == "panic"
    })
    .await;
    assert!(
        says(&entry, "hostile panic"),
        "the fault's log entry should say the panic's message: {entry}"
    );
    w.still_fine("a panic").await;
}

#[tokio::test]
async fn a_log_flood_past_the_host_call_budget_stays_bounded() {
    let w = world(
        &[],
        &[("PALAVER_APPS__LIMITS__LOG_LINES_PER_MINUTE", "50".into())],
    )
    .await;
    // Past the per-call host-call budget (10 000 by default): the extra calls are
    // refused, and the refusals do not flood the log either.
    let total = |body: Value| body["total"].as_u64().unwrap_or(0);
    let before = total(
        w.srv
            .get_ok("/api/apps/hostile/logs?count=1", &w.admin)
            .await,
    );
    assert_eq!(
        ephemeral(&w.srv, &w.alice, &w.rid, "hostile", "logflood 30000").await,
        "logged 30000 lines"
    );
    wait_log(&w.srv, &w.admin, "hostile", "the host-call budget", |e| {
        e["fault"] == "limit-exceeded" && says(e, "host call budget")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = total(
        w.srv
            .get_ok("/api/apps/hostile/logs?count=1", &w.admin)
            .await,
    );
    assert!(
        after - before <= 100,
        "one flood past the host-call budget wrote {} log entries",
        after - before
    );
    w.still_fine("log flooding past the host-call budget").await;
}

#[tokio::test]
async fn essential_guard_fails_closed_and_other_apps_fail_open() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "guarded", &["alice"]).await;
    support::install_polite(&srv, &admin).await;
    install_ok(&srv, &admin, "hostile", None, true).await;
    let guard = install_ok(&srv, &admin, "guard", None, true).await;
    assert_eq!(guard["essential"], true, "{guard}");
    let mut ddp = Ddp::connect_as(&srv, &alice).await;

    // The guard's reason reaches the sender, over REST and DDP.
    let (status, body) = try_post(&srv, &alice, &rid, "a blocked-word here").await;
    assert_prevented(status, &body, "Guard", "guard says no");
    let err = ddp
        .call_err(
            "sendMessage",
            json!([{"rid": rid, "msg": "blocked-word over ddp"}]),
        )
        .await;
    assert_eq!(err["error"], "error-app-prevented", "{err}");
    assert!(err.to_string().contains("guard says no"), "{err}");

    // The guard panics: the message is refused (fail closed), with the fault named.
    let (status, body) = try_post(&srv, &alice, &rid, "guard-panic now").await;
    assert_prevented(
        status,
        &body,
        "Guard",
        "must check every message but panicked",
    );
    let err = ddp
        .call_err(
            "sendMessage",
            json!([{"rid": rid, "msg": "guard-panic over ddp"}]),
        )
        .await;
    assert_eq!(err["error"], "error-app-prevented", "{err}");
    let entry = wait_log(&srv, &admin, "guard", "the guard's fault", |e| {
        e["fault"] == "panic"
    })
    .await;
    assert_eq!(entry["handler"], "pre-message-sent", "{entry}");
    assert!(says(&entry, "panicked"), "{entry}");
    wait_log(&srv, &admin, "guard", "the guard's panic message", |e| {
        e["handler"] == "pre-message-sent" && says(e, "guard panic")
    })
    .await;

    // The non-essential hostile hook panics: the message goes through (fail open),
    // and polite still rewrites it.
    let m = post(&srv, &alice, &rid, "hook-panic please").await;
    assert_eq!(m["msg"], "hook-panic please (polite)", "{m}");
    wait_log(&srv, &admin, "hostile", "the hook's fault", |e| {
        e["fault"] == "panic" && e["handler"] == "pre-message-sent"
    })
    .await;
    wait_log(&srv, &admin, "hostile", "the hook's panic message", |e| {
        says(e, "hostile hook panic")
    })
    .await;

    let texts = history_texts(&srv, &alice, &rid).await;
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("blocked-word") || t.contains("guard-panic")),
        "a refused message was stored: {texts:?}"
    );
    // The guard still guards, and still lets the rest through.
    let (status, body) = try_post(&srv, &alice, &rid, "blocked-word again").await;
    assert_prevented(status, &body, "Guard", "guard says no");
    assert_polite_still_works(&srv, &alice, &rid, "the guard's panic").await;
    assert_eq!(
        app_admin::app(&srv, &admin, "guard").await["status"],
        "manually_enabled"
    );
}
