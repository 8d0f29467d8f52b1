//! Job leases on SQLite: table `job_leases`, one row per job.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{exec, SqliteStore};
use crate::store::job_leases::{JobLeaseStore, JobState};
use crate::store::{StoreError, StoreResult, Ts};

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl JobLeaseStore for SqliteStore {
    async fn job_state(&self, name: &str) -> StoreResult<Option<JobState>> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.query_row(
                "SELECT owner, until, last_run, report FROM job_leases WHERE name = ?1",
                [&name],
                |r| {
                    let report: Option<String> = r.get(3)?;
                    Ok(JobState {
                        owner: r.get(0)?,
                        until: Ts(r.get(1)?),
                        last_run: r.get::<_, Option<i64>>(2)?.map(Ts),
                        report: report.and_then(|t| serde_json::from_str(&t).ok()),
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn try_job_lease(
        &self,
        name: &str,
        owner: &str,
        now: Ts,
        until: Ts,
    ) -> StoreResult<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.write(move |conn| {
            let changed = exec(
                conn,
                "INSERT INTO job_leases (name, owner, until) VALUES (?1, ?2, ?4)
                 ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                 WHERE job_leases.owner = excluded.owner OR job_leases.until <= ?3",
                params![name, owner, now.0, until.0],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn finish_job_lease(
        &self,
        name: &str,
        owner: &str,
        last_run: Ts,
        report: &serde_json::Value,
    ) -> StoreResult<()> {
        let (name, owner, report) = (name.to_string(), owner.to_string(), report.to_string());
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE job_leases SET until = 0, last_run = ?3, report = ?4
                 WHERE name = ?1 AND owner = ?2",
                params![name, owner, last_run.0, report],
            )
            .map(drop)
        })
        .await
    }
}
