//! The directory sync: every entry the user filter selects is applied to its
//! account (created, updated, deactivated when the directory disables it), and
//! accounts whose entry is gone are deactivated when configured. A dry run reports
//! the same changes without writing. The worker runs it on the live schedule
//! (`LDAP_Background_Sync`, `LDAP_Background_Sync_Interval`): a change of either
//! applies at its next tick, without a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::client::Directory;
use super::{ChangeKind, Ldap, LdapError, Mode, SERVICE};
use crate::store::Ts;
use crate::worker::Worker;

/// How often the worker looks at the schedule.
const TICK: Duration = Duration::from_secs(5);
/// The sync's lease name.
const JOB: &str = "ldap-sync";
/// How long a sync's lease lasts: a crashed instance's sync is taken over after it.
const MAX_SYNC: Duration = Duration::from_secs(3600);

/// One account's line in a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncChange {
    pub username: String,
    pub action: ChangeKind,
    pub detail: String,
}

/// What a sync did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub started_at: Ts,
    pub finished_at: Ts,
    pub dry_run: bool,
    /// `manual` (ldap.syncNow) or `schedule`.
    pub trigger: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Entries the directory search returned.
    pub entries: usize,
    pub created: usize,
    pub updated: usize,
    pub deactivated: usize,
    pub reactivated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Every account that changed, was skipped or failed (unchanged ones are counted only).
    pub changes: Vec<SyncChange>,
}

impl SyncReport {
    fn new(dry_run: bool, trigger: &str) -> SyncReport {
        SyncReport {
            started_at: Ts::now(),
            finished_at: Ts::now(),
            dry_run,
            trigger: trigger.into(),
            success: true,
            error: None,
            entries: 0,
            created: 0,
            updated: 0,
            deactivated: 0,
            reactivated: 0,
            unchanged: 0,
            skipped: 0,
            errors: 0,
            changes: Vec::new(),
        }
    }

    fn record(&mut self, username: String, action: ChangeKind, detail: String) {
        match action {
            ChangeKind::Create => self.created += 1,
            ChangeKind::Update => self.updated += 1,
            ChangeKind::Deactivate => self.deactivated += 1,
            ChangeKind::Reactivate => self.reactivated += 1,
            ChangeKind::Unchanged => {
                self.unchanged += 1;
                return;
            }
            ChangeKind::Skip => self.skipped += 1,
            ChangeKind::Error => self.errors += 1,
        }
        self.changes.push(SyncChange {
            username,
            action,
            detail,
        });
    }
}

impl Ldap {
    /// Runs one sync now (waiting for one already running here). Its report, dry run
    /// or not, becomes the last one.
    pub async fn sync(&self, dry_run: bool, trigger: &str) -> Result<SyncReport, LdapError> {
        let cfg = Arc::new(self.config());
        if !cfg.enabled {
            return Err(LdapError::Disabled);
        }
        let _one = self.sync_lock.lock().await;
        let mut report = SyncReport::new(dry_run, trigger);
        // A real sync holds the shared lease: one instance at a time.
        if !dry_run {
            let now = Ts::now();
            let until = Ts(now.0 + MAX_SYNC.as_millis() as i64);
            let leased = self
                .store
                .try_job_lease(JOB, &self.instance, now, until)
                .await
                .map_err(|e| LdapError::Chat(e.into()))?;
            if !leased {
                return Err(LdapError::SyncRunning);
            }
        }
        let result = self.sync_into(&cfg, dry_run, &mut report).await;
        report.finished_at = Ts::now();
        if let Err(e) = &result {
            report.success = false;
            report.error = Some(e.to_string());
        }
        tracing::info!(
            dry_run,
            trigger,
            success = report.success,
            entries = report.entries,
            created = report.created,
            updated = report.updated,
            deactivated = report.deactivated,
            "LDAP sync finished"
        );
        if dry_run {
            self.set_dry_run(report.clone());
        } else {
            let doc = serde_json::to_value(&report).unwrap_or_default();
            self.store
                .finish_job_lease(JOB, &self.instance, report.finished_at, &doc)
                .await
                .map_err(|e| LdapError::Chat(e.into()))?;
        }
        result.map(|()| report)
    }

    /// The last real sync's report, whichever instance ran it.
    pub async fn last_report(&self) -> Result<Option<serde_json::Value>, LdapError> {
        let state = self
            .store
            .job_state(JOB)
            .await
            .map_err(|e| LdapError::Chat(e.into()))?;
        Ok(state.and_then(|s| s.report))
    }

    /// Whether the schedule wants a sync now: enabled, the interval since the last
    /// run (on any instance) over, and nobody running one.
    async fn due(&self, cfg: &super::LdapConfig) -> bool {
        if !cfg.enabled || !cfg.background_sync {
            return false;
        }
        let now = Ts::now();
        match self.store.job_state(JOB).await {
            Ok(None) => true,
            Ok(Some(state)) => {
                let idle = state.until <= now;
                let interval = cfg.sync_interval.as_millis() as i64;
                idle && state.last_run.is_none_or(|t| now.0 - t.0 >= interval)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the LDAP sync schedule");
                false
            }
        }
    }

    async fn sync_into(
        &self,
        cfg: &Arc<super::LdapConfig>,
        dry_run: bool,
        report: &mut SyncReport,
    ) -> Result<(), LdapError> {
        let mut dir = Directory::connect(cfg.clone()).await?;
        let entries = match dir.all_users().await {
            Ok(e) => e,
            Err(e) => {
                dir.close().await;
                return Err(e);
            }
        };
        report.entries = entries.len();
        let mode = Mode::Sync {
            dry_run,
            import_new: cfg.import_new,
            keep_updated: cfg.keep_updated,
        };
        let mut seen = HashSet::new();
        for entry in &entries {
            if let Some((_, uid)) = entry.unique_id(&cfg.unique_fields) {
                seen.insert(uid);
            }
            match self.apply_entry(&mut dir, cfg, entry, mode).await {
                Ok(outcome) => report.record(outcome.username, outcome.kind, outcome.detail),
                Err(e @ (LdapError::Unreachable(_) | LdapError::ServiceBind(_))) => {
                    dir.close().await;
                    return Err(e);
                }
                Err(e) => report.record(entry.dn.clone(), ChangeKind::Error, e.to_string()),
            }
        }
        dir.close().await;
        if cfg.disable_missing {
            // An empty answer is far more likely a broken filter than everyone
            // leaving: nobody is deactivated for it.
            if entries.is_empty() {
                report.record(
                    String::new(),
                    ChangeKind::Skip,
                    "the search returned no entries: missing users were not deactivated".into(),
                );
                return Ok(());
            }
            for user in self.chat.users_of_service(SERVICE).await? {
                let Some(link) = user.services.get(SERVICE) else {
                    continue;
                };
                if seen.contains(&link.id) || !user.active {
                    continue;
                }
                match self.deactivate_missing(&user, dry_run).await {
                    Ok(()) => report.record(
                        user.username.clone(),
                        ChangeKind::Deactivate,
                        "no longer in the directory".into(),
                    ),
                    Err(e) => {
                        report.record(user.username.clone(), ChangeKind::Error, e.to_string())
                    }
                }
            }
        }
        Ok(())
    }
}

/// Starts the background sync worker.
pub fn start(ldap: Arc<Ldap>) -> Worker {
    Worker::spawn("ldap-sync", move |mut stop| async move {
        loop {
            tokio::select! {
                _ = stop.stopped() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
            let cfg = ldap.config();
            if !ldap.due(&cfg).await {
                continue;
            }
            let run = ldap.sync(false, "schedule");
            tokio::select! {
                _ = stop.stopped() => break,
                result = run => {
                    match result {
                        Ok(_) | Err(LdapError::SyncRunning) => {}
                        Err(e) => tracing::warn!(error = %e, "scheduled LDAP sync failed"),
                    }
                }
            }
        }
    })
}
