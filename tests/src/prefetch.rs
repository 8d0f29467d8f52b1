//! On a run of the whole suite, the test peers are installed in the background
//! from the first server start on, while the first tests run: on a fresh machine
//! (CI) the installs (apt, pip, npm: mostly waiting on the network) then overlap
//! with tests instead of holding test threads one after another.
//!
//! Each install is the one its tests call (same function, same lock, same
//! directory under `target/`), so a test needing a peer still being installed
//! waits for it on that lock, and one whose install failed here tries again and
//! fails with the installer's own message. A run with a filter (one test, a
//! module) installs only what it uses, as before.

use std::sync::Once;
use std::thread;

/// Starts the background installs once per test process, on a full run only.
pub fn start() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        if !whole_suite() {
            return;
        }
        // dpkg installs one thing at a time: the apt installs share a thread.
        spawn("apt", || {
            crate::browser::ensure_chromium();
            crate::slapd::ensure_slapd();
            crate::saml_idp::install().map(drop)
        });
        spawn("secantus", || crate::mongo::install().map(drop));
        spawn("synapse", || crate::synapse::ensure_venv().map(drop));
        spawn("rclone", || crate::rclone::rclone_binary().map(drop));
        spawn("aiosmtpd", || crate::smtp::ensure_venv().map(drop));
        spawn("oidc-provider", || crate::oidc::install().map(drop));
        spawn("web-push-testing", || {
            crate::web_push_testing::install().map(drop)
        });
    });
}

/// Whether the test binary was started without a filter (`cargo test` with no
/// test name): every argument is an option, and not as a benchmark.
fn whole_suite() -> bool {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // Options that take a value.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" => {
                args.next();
            }
            // A benchmark (`cargo bench` passes `--bench`): installs running beside
            // it would skew its figures, and it needs only its own peers.
            "--bench" => return false,
            // `--skip X`: a filter.
            a if !a.starts_with('-') || a == "--skip" || a == "--exact" => return false,
            _ => {}
        }
    }
    std::env::var_os("PALAVER_TEST_NO_PREFETCH").is_none()
}

/// Runs `install` on a detached thread; a failure is only reported here: the test
/// that needs the peer installs it again and fails with the reason.
fn spawn(what: &'static str, install: impl FnOnce() -> Result<(), String> + Send + 'static) {
    let started = thread::Builder::new()
        .name(format!("prefetch-{what}"))
        .spawn(
            move || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(install)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("palaver-tests: installing {what} in advance failed: {e}"),
                Err(_) => eprintln!("palaver-tests: installing {what} in advance failed"),
            },
        );
    if let Err(e) = started {
        eprintln!("palaver-tests: cannot start installing {what}: {e}");
    }
}
