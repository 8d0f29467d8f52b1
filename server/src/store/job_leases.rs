//! Periodic jobs that one instance at a time may run (the LDAP sync): a named lease
//! with an owner and an expiry, the last run's time and its report. Instances
//! sharing a MongoDB take turns through it; a crashed owner's lease simply expires.

use async_trait::async_trait;

use super::{StoreResult, Ts};

/// A job's shared state.
#[derive(Clone, Debug, PartialEq)]
pub struct JobState {
    pub owner: String,
    /// The lease is held until then (in the past: free).
    pub until: Ts,
    pub last_run: Option<Ts>,
    /// The last run's report (JSON), as the job wrote it.
    pub report: Option<serde_json::Value>,
}

#[async_trait]
pub trait JobLeaseStore: Send + Sync {
    /// The job's state, if it ever ran.
    async fn job_state(&self, name: &str) -> StoreResult<Option<JobState>>;
    /// Takes the lease for `owner` until `until` when it is free (expired at `now`)
    /// or already `owner`'s; `false` when another owner holds it.
    async fn try_job_lease(&self, name: &str, owner: &str, now: Ts, until: Ts)
        -> StoreResult<bool>;
    /// Records a finished run and frees the lease (only `owner`'s).
    async fn finish_job_lease(
        &self,
        name: &str,
        owner: &str,
        last_run: Ts,
        report: &serde_json::Value,
    ) -> StoreResult<()>;
}
