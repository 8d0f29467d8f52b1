//! Storage-full episodes. A full disk (or the configured database size cap) makes
//! every write fail until space is freed; the operator must hear about it once,
//! loudly — not once per refused request.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use super::{StoreError, Ts};

/// While an episode lasts, the ERROR line is repeated at most this often.
const REMIND_MS: i64 = 10 * 60 * 1000;

static IN_EPISODE: AtomicBool = AtomicBool::new(false);
static LAST_LOGGED_MS: AtomicI64 = AtomicI64::new(i64::MIN);

/// A "storage full" error; logs the start of an episode (and a reminder every
/// [`REMIND_MS`] while it goes on).
pub(crate) fn full(backend: &'static str, detail: impl std::fmt::Display) -> StoreError {
    let detail = detail.to_string();
    let now = Ts::now().0;
    let started = !IN_EPISODE.swap(true, Ordering::AcqRel);
    let last = LAST_LOGGED_MS.load(Ordering::Acquire);
    let due = now.saturating_sub(last) >= REMIND_MS;
    // A flapping episode (a write fits, the next does not) is one episode to the
    // operator: a new start within the reminder interval stays quiet.
    if due
        && LAST_LOGGED_MS
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        tracing::error!(
            backend,
            error = %detail,
            new_episode = started,
            "STORAGE FULL: the database refuses writes (clients get 507 error-storage-full) \
             until space is freed or the size cap is raised; reads keep working"
        );
    }
    StoreError::Full(detail)
}

/// A write went through: ends the current episode, if any.
pub(crate) fn write_succeeded() {
    if IN_EPISODE.load(Ordering::Relaxed) && IN_EPISODE.swap(false, Ordering::AcqRel) {
        tracing::warn!("storage accepts writes again after being full");
    }
}
