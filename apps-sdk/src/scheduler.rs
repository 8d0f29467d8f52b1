//! Jobs run later through [`App::run_job`](crate::App::run_job). Jobs are stored,
//! survive restarts, and run once even with several Palaver instances. Needs
//! `scheduler`.
//!
//! ```ignore
//! use std::time::Duration;
//! use palaver_apps_sdk::scheduler;
//!
//! let id = scheduler::schedule_every("sync", Duration::from_secs(300), None)?;
//! scheduler::schedule_once_json("remind", Duration::from_secs(60), &Reminder { room, text })?;
//! // later, in run_job: let reminder: Reminder = job.data_json()?.unwrap();
//! ```

use std::time::Duration;

use serde::Serialize;

use crate::bindings::palaver::apps::scheduler as wit;
use crate::Result;

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the job `name` once after `delay`, with optional `data`; returns the job id.
pub fn schedule_once(name: &str, delay: Duration, data: Option<&str>) -> Result<String> {
    Ok(wit::schedule_once(name, millis(delay), data)?)
}

/// Runs the job `name` every `interval` (at least one second); returns the job id.
pub fn schedule_every(name: &str, interval: Duration, data: Option<&str>) -> Result<String> {
    Ok(wit::schedule_every(name, millis(interval), data)?)
}

/// [`schedule_once`] with `data` serialized as JSON (read it back with
/// [`Job::data_json`](crate::Job::data_json)).
pub fn schedule_once_json<T: Serialize + ?Sized>(
    name: &str,
    delay: Duration,
    data: &T,
) -> Result<String> {
    schedule_once(name, delay, Some(&serde_json::to_string(data)?))
}

/// [`schedule_every`] with `data` serialized as JSON.
pub fn schedule_every_json<T: Serialize + ?Sized>(
    name: &str,
    interval: Duration,
    data: &T,
) -> Result<String> {
    schedule_every(name, interval, Some(&serde_json::to_string(data)?))
}

/// Cancels the job `id`; returns whether a job was cancelled.
pub fn cancel(id: &str) -> Result<bool> {
    Ok(wit::cancel(id)?)
}
