//! Storage for the apps engine: installed apps, each app's private key/value data,
//! its log, and its scheduled jobs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// An installed app as stored: enough to load it again after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub version: String,
    /// The `app.toml` text it was installed with.
    pub manifest: String,
    /// SHA-256 (hex) of the package; the component is kept under this name.
    pub package_sha256: String,
    /// One of Rocket.Chat's app statuses (`manually_enabled`, `error_disabled`, ...).
    pub status: String,
    pub status_reason: Option<String>,
    /// Granted permission names.
    pub granted: Vec<String>,
    /// Setting values by id (as checked against the manifest).
    pub settings: BTreeMap<String, serde_json::Value>,
    pub bot_user_id: String,
    pub installed_at: Ts,
    pub updated_at: Ts,
}

/// One line of an app's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLogEntry {
    pub app_id: String,
    pub ts: Ts,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The handler that was running (`execute-command`, `pre-message-sent`, ...).
    pub handler: Option<String>,
    pub message: String,
    /// Set when the entry records a fault (trap, deadline, limit, refusal).
    pub fault: Option<String>,
}

/// Rank of a log level for filtering; unknown levels rank as `info`.
pub fn log_level_rank(level: &str) -> i64 {
    match level {
        "debug" => 0,
        "info" => 1,
        "warn" => 2,
        "error" => 3,
        _ => 1,
    }
}

/// Bounds of an app's key/value data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataQuota {
    pub max_keys: u64,
    /// Keys and values together, in bytes.
    pub max_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    Stored,
    /// Nothing was written: the quota named (`persistence-keys` or
    /// `persistence-bytes`) would be exceeded.
    QuotaExceeded(&'static str),
    /// Nothing was written: the key exists (only from [`AppStore::app_data_insert`]).
    Exists,
}

/// A scheduled job. A job is run by whoever claims it: the claim is a lease that
/// expires, so a crashed instance's jobs run again elsewhere, and one job runs once
/// even with several instances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub data: Option<String>,
    /// Repeats every this many milliseconds; runs once when absent.
    pub interval_ms: Option<i64>,
    pub next_run: Ts,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Ts>,
    pub created_at: Ts,
}

#[async_trait]
pub trait AppStore: Send + Sync {
    /// Inserts or replaces an app record.
    async fn put_app(&self, app: &AppRecord) -> StoreResult<()>;
    async fn app(&self, id: &str) -> StoreResult<Option<AppRecord>>;
    /// Installed apps in install order.
    async fn apps(&self) -> StoreResult<Vec<AppRecord>>;
    /// Deletes the app and everything it owns: data, logs and jobs.
    async fn delete_app(&self, id: &str) -> StoreResult<bool>;

    async fn app_data_get(&self, app_id: &str, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Sets a key unless that would take the app's data past `quota` (checked and
    /// written atomically).
    async fn app_data_set(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome>;
    /// Stores a key only if it is absent, atomically (also between several
    /// instances): apps claim things exactly once with it. Quota as for
    /// [`AppStore::app_data_set`].
    async fn app_data_insert(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome>;
    async fn app_data_delete(&self, app_id: &str, key: &str) -> StoreResult<bool>;
    /// Keys starting with `prefix`, sorted, at most `limit`.
    async fn app_data_keys(
        &self,
        app_id: &str,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<String>>;

    async fn append_app_logs(&self, entries: &[AppLogEntry]) -> StoreResult<()>;
    /// Newest first; only entries at `min_level` (a rank, see [`log_level_rank`]) or
    /// above.
    async fn app_logs(
        &self,
        app_id: &str,
        min_level: i64,
        page: Page,
    ) -> StoreResult<Listing<AppLogEntry>>;
    /// Deletes log entries older than `before`; returns how many.
    async fn prune_app_logs(&self, before: Ts) -> StoreResult<u64>;

    async fn put_job(&self, job: &JobRecord) -> StoreResult<()>;
    async fn delete_job(&self, app_id: &str, id: &str) -> StoreResult<bool>;
    async fn delete_app_jobs(&self, app_id: &str) -> StoreResult<u64>;
    async fn app_jobs(&self, app_id: &str) -> StoreResult<Vec<JobRecord>>;
    /// How many jobs the app has pending (without loading them).
    async fn count_app_jobs(&self, app_id: &str) -> StoreResult<u64>;
    /// Leases up to `limit` jobs due at `now` that nobody holds (or whose lease
    /// expired) to `owner` until `lease_until`, and returns them.
    async fn claim_due_jobs(
        &self,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Ends `owner`'s run of a job: reschedules it for `next_run` (lease released),
    /// or deletes it when `None`. Does nothing if `owner` no longer holds it.
    async fn finish_job(&self, id: &str, owner: &str, next_run: Option<Ts>) -> StoreResult<()>;
    /// Gives up every lease `owner` holds, leaving those jobs due as they were, so
    /// another instance (or the next start) runs them at once instead of after the
    /// lease expires. Returns how many were released. Called at shutdown.
    async fn release_job_leases(&self, owner: &str) -> StoreResult<u64>;
}
