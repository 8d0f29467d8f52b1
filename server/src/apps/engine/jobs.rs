//! The scheduler: runs apps' stored jobs when due. A job is leased before it runs,
//! so it runs once even with several instances; a crashed instance's lease expires
//! and the job runs elsewhere.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use super::AppsEngine;
use crate::apps::host::bindings::palaver::apps::types as wit;
use crate::apps::limits::CallKind;
use crate::apps::pool::{Call, Outcome};
use crate::store::apps::JobRecord;
use crate::store::Ts;
use crate::worker::Worker;

const POLL: Duration = Duration::from_millis(250);
const CLAIM_BATCH: u32 = 16;

/// What [`AppsEngine::stop`] stops: the scheduler loop and the jobs it started.
#[derive(Default)]
pub(super) struct Background {
    scheduler: Mutex<Option<Worker>>,
    jobs: Mutex<JoinSet<()>>,
}

impl AppsEngine {
    /// Stops the background work that touches the store, so it can close under no
    /// one: the scheduler stops claiming, running jobs get `grace` to finish (then
    /// are stopped; their leases expire and they run again), and the app log
    /// writer stores what it holds.
    pub async fn stop(&self, grace: Duration) {
        let bg = &self.background;
        let scheduler = bg
            .scheduler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(scheduler) = scheduler {
            scheduler.stop().await;
        }
        let mut jobs = std::mem::take(&mut *bg.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        let finished =
            tokio::time::timeout(grace, async { while jobs.join_next().await.is_some() {} });
        if finished.await.is_err() {
            tracing::warn!(
                running = jobs.len(),
                "app jobs still running at shutdown are stopped; they run again after their lease"
            );
            jobs.shutdown().await;
        }
        self.log_writer.stop().await;
    }

    pub(super) fn spawn_scheduler(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let worker = Worker::spawn("app-scheduler", |mut stop| async move {
            let mut last_prune = Ts(0);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.stopped() => break,
                }
                // Reap finished jobs.
                {
                    let mut jobs = me.background.jobs.lock().unwrap_or_else(|p| p.into_inner());
                    while jobs.try_join_next().is_some() {}
                }
                if let Err(e) = me.run_due_jobs().await {
                    tracing::error!(error = %e, "scheduler: cannot claim jobs");
                }
                let now = Ts::now();
                if now.0 - last_prune.0 > 3_600_000 {
                    last_prune = now;
                    let keep_ms = i64::from(me.cfg.log_retention_days) * 86_400_000;
                    match me.store.prune_app_logs(Ts(now.0 - keep_ms)).await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "old app log entries pruned"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot prune app logs"),
                    }
                }
            }
        });
        *self
            .background
            .scheduler
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(worker);
    }

    async fn run_due_jobs(self: &Arc<Self>) -> Result<(), crate::store::StoreError> {
        let now = Ts::now();
        let lease = self.cfg.limits.deadline(CallKind::Job) + Duration::from_secs(30);
        let lease_until = Ts(now.0 + lease.as_millis() as i64);
        let jobs = self
            .store
            .claim_due_jobs(now, &self.instance_id, lease_until, CLAIM_BATCH)
            .await?;
        let mut running = self
            .background
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for job in jobs {
            let me = self.clone();
            running.spawn(async move { me.run_job(job).await });
        }
        Ok(())
    }

    async fn run_job(&self, job: JobRecord) {
        let next = job.interval_ms.map(|i| Ts(Ts::now().0 + i));
        let app = match self.app(&job.app_id) {
            Ok(app) => app,
            Err(_) => {
                // The app is gone: the job goes with it.
                let _ = self
                    .store
                    .finish_job(&job.id, &self.instance_id, None)
                    .await;
                return;
            }
        };
        let Some(running) = app.running() else {
            // Disabled: keep the job for when the app comes back.
            let retry = Ts(Ts::now().0 + 60_000);
            let _ = self
                .store
                .finish_job(&job.id, &self.instance_id, Some(retry))
                .await;
            return;
        };
        let call = Call::RunJob(wit::Job {
            id: job.id.clone(),
            name: job.name.clone(),
            data: job.data.clone(),
        });
        match running.pool.call(call).await {
            Ok(Outcome::Checked(Err(message))) => app.logger.host(
                "warn",
                Some("run-job"),
                &format!("job {} ({}) failed: {message}", job.name, job.id),
                None,
            ),
            Ok(_) => {}
            Err(_) => {} // logged by the pool
        }
        self.after_call(&app, &running.pool);
        if let Err(e) = self
            .store
            .finish_job(&job.id, &self.instance_id, next)
            .await
        {
            tracing::error!(app_id = %app.id, job_id = %job.id, error = %e, "cannot finish job");
        }
    }
}
