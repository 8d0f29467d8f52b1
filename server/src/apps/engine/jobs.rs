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
use crate::worker::{Worker, Workers};
use tokio::time::Instant;

const POLL: Duration = Duration::from_millis(250);
const CLAIM_BATCH: u32 = 16;

/// The engine's background work, stopped by [`AppsEngine::stop`].
#[derive(Default)]
pub(super) struct Background {
    /// Turns chat events into calls on the apps' queues.
    pub dispatcher: Mutex<Option<Worker>>,
    /// One per enabled app: runs its queued post-event calls in order.
    pub event_queues: Workers,
    /// Short tasks a call leaves behind (disabling an app that faults too often).
    pub tasks: Workers,
    scheduler: Mutex<Option<Worker>>,
    /// Follows other instances' app changes.
    pub sync: Mutex<Option<Worker>>,
    jobs: Mutex<JoinSet<()>>,
}

fn take(worker: &Mutex<Option<Worker>>) -> Option<Worker> {
    worker.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl AppsEngine {
    /// Stops the apps' background work at shutdown — not a disable: no
    /// `on-disable`, jobs and state stay for the next start. In order: the
    /// dispatcher hands the events already raised to the apps' queues and stops;
    /// the scheduler stops claiming; then, until `deadline`, the queues run what
    /// they hold and running jobs finish. What is left then is dropped (queued
    /// events, counted in the log) or stopped (jobs), and this instance's job
    /// leases are released so the jobs run again at once elsewhere or at the next
    /// start. The app log writer is flushed separately ([`AppsEngine::flush_logs`]),
    /// after everything that logs has stopped.
    pub async fn stop(&self, deadline: Instant) {
        let bg = &self.background;
        if let Some(dispatcher) = take(&bg.dispatcher) {
            dispatcher.stop_by(deadline).await;
        }
        if let Some(scheduler) = take(&bg.scheduler) {
            scheduler.stop_by(deadline).await;
        }
        if let Some(sync) = take(&bg.sync) {
            sync.stop_by(deadline).await;
        }
        let mut jobs = std::mem::take(&mut *bg.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        let jobs_done = async {
            let finished = tokio::time::timeout_at(deadline, async {
                while jobs.join_next().await.is_some() {}
            });
            if finished.await.is_err() {
                tracing::warn!(
                    running = jobs.len(),
                    "app jobs still running at the shutdown deadline are stopped; they run again at once"
                );
                jobs.shutdown().await;
            }
        };
        tokio::join!(bg.event_queues.stop_by(deadline), jobs_done);
        // Last: the calls above may have left some (an app disabled for faults).
        bg.tasks.stop_by(deadline).await;
        match self.store.release_job_leases(&self.instance_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "app job leases released"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot release app job leases; they run again when they expire")
            }
        }
    }

    /// Stores the app log entries still buffered (bounded by `deadline`); entries
    /// logged later are dropped. Call after [`AppsEngine::stop`].
    pub async fn flush_logs(&self, deadline: Instant) {
        self.log_writer.stop_by(deadline).await;
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
