//! `palaver serve` starting and stopping: a bad option stops the start with the
//! option's name before anything is created; a taken port fails before the data
//! directory exists; logs written to a file are plain text; and a SIGTERM while app
//! jobs run shuts down without an error (the scheduler stops before the store).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palaver_tests::app_admin::{ephemeral, install_ok};
use palaver_tests::net::free_port;
use palaver_tests::process::die_with_parent;
use palaver_tests::server::palaver_bin;

use crate::apps_support::{self as support, channel};

/// What one `palaver serve` that exited on its own did.
#[derive(Debug)]
struct Exit {
    code: Option<i32>,
    stderr: String,
}

/// Runs `palaver serve` with a data directory under `parent` that does not exist
/// yet, on `port`, plus `env`; it must exit on its own within a generous bound.
fn serve_must_exit(parent: &Path, port: u16, env: &[(&str, &str)]) -> Exit {
    let mut cmd = Command::new(palaver_bin());
    cmd.arg("serve");
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PALAVER_")) {
            cmd.env_remove(key);
        }
    }
    cmd.env("PALAVER_DATA_DIR", parent.join("data"))
        .env("PALAVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("PALAVER_ADMIN_PASSWORD", "Adm1n-secret-pass")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .current_dir(parent)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("spawn palaver serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap palaver");
            panic!(
                "palaver serve with {env:?} did not exit (it started?); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect the output");
    Exit {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("palaver-startup-")
        .tempdir()
        .expect("create a scratch directory")
}

#[test]
fn a_bad_option_stops_the_start_naming_it_and_creates_nothing() {
    // Zero, huge, malformed and nested values, in every section.
    let cases = [
        ("PALAVER_TOKEN_TTL_DAYS", "0", "token_ttl_days"),
        ("PALAVER_TOKEN_TTL_DAYS", "300000000000", "token_ttl_days"),
        ("PALAVER_MAX_MESSAGE_CHARS", "0", "max_message_chars"),
        ("PALAVER_SITE_URL", "chat.example.com", "site_url"),
        ("PALAVER_ADMIN_EMAIL", "nobody", "admin_email"),
        (
            "PALAVER_APPS__LIMITS__JOB_DEADLINE_MS",
            "0",
            "apps.limits.job_deadline_ms",
        ),
        (
            "PALAVER_HTTP__HEADER_TIMEOUT_SECS",
            "0",
            "http.header_timeout_secs",
        ),
        (
            "PALAVER_HTTP__MAX_CONNECTIONS_PER_ADDRESS",
            "0",
            "http.max_connections_per_address",
        ),
        (
            "PALAVER_REALTIME__QUEUE_FRAMES",
            "1",
            "realtime.queue_frames",
        ),
    ];
    for (var, value, key) in cases {
        let dir = scratch();
        let exit = serve_must_exit(dir.path(), free_port(), &[(var, value)]);
        assert_eq!(exit.code, Some(2), "{var}={value}: {exit:?}");
        assert!(
            exit.stderr.contains(key) && exit.stderr.contains(var),
            "{var}={value}: the error must name {key} and {var}: {exit:?}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "{var}={value}: the data directory was created"
        );
    }
}

#[test]
fn a_taken_port_fails_before_the_data_directory_is_created() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to take");
    let port = taken.local_addr().expect("its address").port();
    let dir = scratch();
    let exit = serve_must_exit(dir.path(), port, &[]);
    assert_eq!(exit.code, Some(1), "{exit:?}");
    assert!(
        exit.stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{exit:?}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "the data directory was created although the port was taken"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "something was created"
    );
}

#[tokio::test]
async fn logs_are_plain_text_and_a_shutdown_during_jobs_logs_no_error() {
    let market = support::marketplace();
    // Colour would be allowed (NO_COLOR empty): only the log being a file rules it out.
    let mut srv = support::server(market.path())
        .env("NO_COLOR", "")
        .start()
        .await;
    let admin = srv.admin().await;
    install_ok(
        &srv,
        &admin,
        "hostile",
        Some(&["slashcommand", "scheduler", "message.write"]),
        true,
    )
    .await;
    let rid = channel(&srv, &admin, "jobs", &[]).await;
    // The race is the store closing while the scheduler polls: several shutdowns.
    for round in 0..3 {
        let admin = srv.admin().await;
        // Jobs due now and in a moment, so some are claimed or running at the SIGTERM.
        for secs in ["0", "1", "1", "2"] {
            assert_eq!(
                ephemeral(&srv, &admin, &rid, "hostile", &format!("remind {secs}")).await,
                "scheduled"
            );
        }
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(
            srv.stop(Duration::from_secs(30)).await,
            "round {round}: no clean exit after SIGTERM"
        );
        if round < 2 {
            srv.start_again().await;
        }
    }
    let log = srv.log();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log written to a file:\n{log}"
    );
    assert_eq!(log.matches("storage closed; bye").count(), 3, "{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "errors logged:\n{}", errors.join("\n"));
}
