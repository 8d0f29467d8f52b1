//! Test harness shared by the end-to-end suite: free ports, a MongoDB-compatible
//! server (SecantusDB) for the MongoDB backend, and the real `palaver` binary started
//! as a child process that is always stopped, even when a test fails.

pub mod app_admin;
pub mod apps;
pub mod bench;
pub mod browser;
pub mod ddp;
pub mod fake_google;
pub mod fake_http;
pub mod fake_meta;
pub mod fake_push;
pub mod fake_tls;
pub mod hook_sink;
pub mod images;
pub mod installs;
pub mod mongo;
pub mod net;
pub mod oidc;
pub mod prefetch;
pub mod process;
pub mod rclone;
pub mod saml_idp;
pub mod server;
pub mod slapd;
pub mod smtp;
pub mod synapse;
pub mod web_push_testing;

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex` even when a thread panicked while holding it: the harness' state
/// stays usable, so one failed assertion does not turn every later call into a
/// second, misleading panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
