//! Enabling and disabling apps: their instance pools, contexts and the pre-send
//! chain, and disabling an app that faults too often.

use super::*;
use crate::worker::Worker;

impl AppsEngine {
    /// Runs one lifecycle call in a short-lived pool (the app need not be enabled).
    pub(super) async fn call_once(
        &self,
        app: &Arc<Installed>,
        call: Call,
    ) -> Result<Outcome, AppsError> {
        let pool = match app.running() {
            Some(running) => running.pool.clone(),
            None => Arc::new(InstancePool::new(
                app.pre
                    .clone()
                    .ok_or_else(|| AppsError::Disabled(app.id.clone()))?,
                self.context(app).await?,
            )),
        };
        pool.call(call).await.map_err(|fault| AppsError::Fault {
            app: app.id.clone(),
            fault,
        })
    }

    pub(super) async fn context(&self, app: &Installed) -> Result<Arc<AppContext>, AppsError> {
        let record = app.record();
        let bot: User = self.chat.find_user(Some(&record.bot_user_id), None).await?;
        let grant = app.grant();
        let limits = self.cfg.limits.clone();
        let mut http_policy = HttpPolicy::from_strings(&grant.hosts, Vec::<String>::new())
            .map_err(|e| AppsError::Invalid(e.to_string()))?;
        http_policy.operator_allow = self.operator_allow.clone();
        http_policy.timeout = Duration::from_millis(limits.http_timeout_ms);
        http_policy.max_response_bytes = limits.http_max_response_bytes;
        http_policy.max_redirects = limits.http_max_redirects;
        let files_dir = if grant.allows(Permission::Filesystem) {
            let dir = self.files_dir(&app.id);
            std::fs::create_dir_all(&dir).map_err(io)?;
            Some(dir)
        } else {
            None
        };
        Ok(Arc::new(AppContext {
            id: app.id.clone(),
            name: app.manifest.name.clone(),
            version: record.version.clone(),
            manifest: app.manifest.clone(),
            settings: RwLock::new(record.settings.clone()),
            bot,
            chat: self.chat.clone(),
            store: self.store.clone(),
            http: self.http.clone(),
            http_policy,
            http_slots: Arc::new(Semaphore::new(limits.http_in_flight.max(1) as usize)),
            rates: crate::apps::quota::Rates::new(&limits),
            logger: app.logger.clone(),
            site_url: self.cfg.site_url.clone(),
            files_dir,
            limits,
            grant,
        }))
    }

    /// The first required setting without a value, if any.
    pub(super) fn missing_setting(app: &Installed) -> Option<String> {
        let record = app.record();
        app.manifest
            .settings
            .iter()
            .filter(|s| s.required)
            .find(|s| {
                let value = record.settings.get(&s.id).cloned().or_else(|| {
                    s.default
                        .as_ref()
                        .and_then(|d| crate::apps::settings::value_from_toml(s, d).ok())
                });
                !crate::apps::settings::is_set(value.as_ref())
            })
            .map(|s| s.id.clone())
    }

    /// Enables a loaded app (caller holds its `ops` lock). `new_status` is what to
    /// record on success; `None` keeps the stored (enabled) status.
    pub(super) async fn enable_loaded(
        &self,
        app: &Arc<Installed>,
        new_status: Option<&str>,
    ) -> Result<(), AppsError> {
        self.enable_inner(app, new_status, true).await
    }

    /// Starts an app another instance enabled (caller holds its `ops` lock): the
    /// same as [`Self::enable_loaded`] but nothing is written to the store (the
    /// record is the other instance's; a failure here is this instance's alone).
    pub(super) async fn follow_enable(&self, app: &Arc<Installed>) -> Result<(), AppsError> {
        self.enable_inner(app, None, false).await
    }

    async fn enable_inner(
        &self,
        app: &Arc<Installed>,
        new_status: Option<&str>,
        persist: bool,
    ) -> Result<(), AppsError> {
        if app.running().is_some() {
            return Ok(());
        }
        let Some(pre) = app.pre.clone() else {
            return Err(AppsError::Invalid(format!(
                "the app cannot be enabled: {}",
                app.record().status_reason.unwrap_or_default()
            )));
        };
        if let Some(missing) = Self::missing_setting(app) {
            let reason = format!("the required setting {missing:?} is empty");
            if persist {
                self.save(app, |r| {
                    r.status = status::INVALID_SETTINGS_DISABLED.into();
                    r.status_reason = Some(reason.clone());
                })
                .await?;
            }
            return Err(AppsError::Invalid(reason));
        }
        let pool = Arc::new(InstancePool::new(pre, self.context(app).await?));
        let enable = match pool.warm().await {
            Ok(()) => pool.call(Call::OnEnable).await,
            Err(f) => Err(f),
        };
        let failure = match enable {
            Ok(Outcome::Checked(Err(message))) => Some(format!("on-enable refused: {message}")),
            Ok(_) => None,
            Err(fault) => Some(format!("on-enable {fault}")),
        };
        if let Some(reason) = failure {
            pool.drain();
            if persist {
                self.save(app, |r| {
                    r.status = status::ERROR_DISABLED.into();
                    r.status_reason = Some(reason.clone());
                })
                .await?;
            }
            return Err(AppsError::Invalid(reason));
        }
        let (tx, rx) = mpsc::channel(self.cfg.limits.event_queue.max(1));
        self.spawn_event_worker(app.clone(), pool.clone(), rx);
        *app.enabled.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new(Enabled { pool, events: tx }));
        if persist {
            self.save(app, |r| {
                if let Some(s) = new_status {
                    r.status = s.into();
                } else if !status::is_enabled(&r.status) {
                    r.status = status::AUTO_ENABLED.into();
                }
                r.status_reason = None;
            })
            .await?;
        }
        self.rebuild_chain();
        tracing::info!(app_id = %app.id, "app enabled");
        app.logger.host("info", None, "enabled", None);
        Ok(())
    }

    /// Stops an app (caller holds its `ops` lock): on-disable, jobs cancelled,
    /// instances dropped.
    pub(super) async fn disable_loaded(
        &self,
        app: &Arc<Installed>,
        new_status: &str,
        reason: Option<String>,
    ) -> Result<(), AppsError> {
        let running = app
            .enabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.rebuild_chain();
        if let Some(running) = running {
            if new_status != status::ERROR_DISABLED {
                let _ = running.pool.call(Call::OnDisable).await;
            }
            running.pool.drain();
        }
        self.store.delete_app_jobs(&app.id).await?;
        self.save(app, |r| {
            r.status = new_status.into();
            r.status_reason = reason.clone();
        })
        .await?;
        tracing::info!(app_id = %app.id, status = new_status, reason = reason.as_deref().unwrap_or(""), "app disabled");
        app.logger.host(
            if new_status == status::ERROR_DISABLED {
                "error"
            } else {
                "info"
            },
            None,
            &format!(
                "disabled ({new_status}){}",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
            None,
        );
        Ok(())
    }

    /// `manually_enabled` or `manually_disabled`, as the admin asks.
    pub async fn set_status(&self, id: &str, enabled: bool) -> Result<AppRecord, AppsError> {
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        if enabled {
            self.enable_loaded(&app, Some(status::MANUALLY_ENABLED))
                .await?;
        } else {
            self.disable_loaded(&app, status::MANUALLY_DISABLED, None)
                .await?;
        }
        Ok(app.record())
    }

    /// After a call: an app that faulted too often lately (see
    /// [`crate::apps::faults`]) is disabled with `error_disabled`.
    pub(crate) fn after_call(&self, app: &Arc<Installed>, pool: &InstancePool) {
        let Some(rate) = pool.fault_verdict() else {
            return;
        };
        let Some(me) = self.me.upgrade() else { return };
        let app = app.clone();
        // Only the pool that faulted: the admin may have enabled the app again since.
        let faulted = pool as *const InstancePool as usize;
        let name = format!("app-fault-disable:{}", app.id);
        let task = Worker::spawn(name, |_stop| async move {
            let _guard = app.ops.lock().await;
            match app.running() {
                Some(r) if Arc::as_ptr(&r.pool) as usize == faulted => {}
                _ => return,
            }
            let reason = format!(
                "disabled after {} faults in its last {} calls; see the app's log",
                rate.faults, rate.calls
            );
            if let Err(e) = me
                .disable_loaded(&app, status::ERROR_DISABLED, Some(reason))
                .await
            {
                tracing::error!(app_id = %app.id, error = %e, "cannot disable a faulting app");
            }
        });
        // Short, but it writes to the store: shutdown waits for it.
        self.background.tasks.add(task);
    }

    pub(super) fn rebuild_chain(&self) {
        let mut chain: Vec<ChainLink> = self
            .all()
            .into_iter()
            .filter(|a| a.subscribes(EventKind::PreMessageSent))
            .filter_map(|app| {
                let running = app.running()?;
                Some(ChainLink { app, running })
            })
            .collect();
        chain.sort_by(|ChainLink { app: a, .. }, ChainLink { app: b, .. }| {
            b.manifest
                .priority
                .cmp(&a.manifest.priority)
                .then_with(|| a.record().installed_at.cmp(&b.record().installed_at))
                .then_with(|| a.id.cmp(&b.id))
        });
        *self
            .pre_send_chain
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(chain);
    }
}
