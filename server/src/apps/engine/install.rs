//! Installing, updating and uninstalling app packages.

use super::*;

impl AppsEngine {
    /// Compiles a package's component and then keeps the package in the file storage
    /// (for every instance) and on disk (written atomically), so an app is never
    /// recorded with a package that cannot load.
    async fn compile_and_keep(
        &self,
        package: &Package,
        bytes: &[u8],
    ) -> Result<AppPre<HostState>, AppsError> {
        let pre = self.prepare(package.wasm.clone()).await?;
        // Shared first: other instances load it from there.
        self.share_package(&package.sha256, bytes).await?;
        let path = self.package_path(&package.sha256);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(io)?;
        Ok(pre)
    }

    /// Refuses commands that another enabled or installed app, or the core, has.
    pub(super) fn check_clashes(&self, manifest: &Manifest) -> Result<(), AppsError> {
        for c in &manifest.commands {
            if commands::CORE_COMMANDS.iter().any(|core| core.0 == c.name) {
                return Err(AppsError::Clash(format!(
                    "command /{} is a core command",
                    c.name
                )));
            }
            for other in self.all().iter().filter(|a| a.id != manifest.id) {
                if other.manifest.commands.iter().any(|o| o.name == c.name) {
                    return Err(AppsError::Clash(format!(
                        "command /{} is already provided by the app {}",
                        c.name, other.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// Validates a package without installing it: what `palaver app validate` and
    /// the marketplace listing report.
    pub async fn validate(&self, bytes: &[u8]) -> Result<Package, AppsError> {
        let package = package::read(bytes, &self.cfg.package_limits)?;
        self.prepare(package.wasm.clone()).await?;
        Ok(package)
    }

    /// Installs a package. `grant` defaults to everything the manifest asks for.
    pub async fn install(
        &self,
        bytes: &[u8],
        grant: Option<Vec<String>>,
        enable: bool,
    ) -> Result<AppRecord, AppsError> {
        let _changes = self.changes.lock().await;
        let package = package::read(bytes, &self.cfg.package_limits)?;
        let manifest = package.manifest.clone();
        if self.app(&manifest.id).is_ok() {
            return Err(AppsError::AlreadyInstalled(manifest.id));
        }
        let grant = match grant {
            Some(names) => manifest
                .check_grant(&names)
                .map_err(|e| AppsError::Grant(e.to_string()))?,
            None => manifest.full_grant(),
        };
        self.check_clashes(&manifest)?;
        let pre = self.compile_and_keep(&package, bytes).await?;
        let bot = self
            .chat
            .ensure_bot_user(
                &bot_username(&manifest.id),
                &format!("{} (app)", manifest.name),
            )
            .await?;
        let now = Ts::now();
        let record = AppRecord {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            manifest: package.manifest_text.clone(),
            package_sha256: package.sha256.clone(),
            status: status::INITIALIZED.into(),
            status_reason: None,
            granted: grant.names(),
            settings: BTreeMap::new(),
            bot_user_id: bot.id.clone(),
            installed_at: now,
            updated_at: now,
        };
        self.store.put_app(&record).await?;
        let app = self.register(record, package, Some(pre));
        tracing::info!(app_id = %app.id, version = %manifest.version, "app installed");
        app.logger.host(
            "info",
            None,
            &format!("installed version {}", manifest.version),
            None,
        );
        match self.call_once(&app, Call::OnInstall).await {
            Ok(Outcome::Checked(Err(message))) => {
                self.remove(&app).await?;
                return Err(AppsError::AppError {
                    app: manifest.id,
                    message,
                });
            }
            Err(AppsError::Fault { app: id, fault }) => {
                self.remove(&app).await?;
                return Err(AppsError::Fault { app: id, fault });
            }
            _ => {}
        }
        if enable {
            let _guard = app.ops.lock().await;
            self.enable_loaded(&app, Some(status::MANUALLY_ENABLED))
                .await?;
        }
        Ok(app.record())
    }

    /// Replaces an installed app with another version of it: settings, data and jobs
    /// stay, `on-update` runs, and the app is enabled again if it was. When the new
    /// version asks for permissions that were not granted, `grant` must list the
    /// new grant, or the update is refused with the difference.
    pub async fn update(
        &self,
        id: &str,
        bytes: &[u8],
        grant: Option<Vec<String>>,
    ) -> Result<(AppRecord, Vec<String>, Vec<String>), AppsError> {
        let _changes = self.changes.lock().await;
        let old = self.app(id)?;
        let _guard = old.ops.lock().await;
        let package = package::read(bytes, &self.cfg.package_limits)?;
        let manifest = package.manifest.clone();
        if manifest.id != id {
            return Err(AppsError::Invalid(format!(
                "the package is the app {:?}, not {id:?}",
                manifest.id
            )));
        }
        let before = old.record();
        let granted: Vec<String> = before.granted.clone();
        let requested: Vec<String> = manifest.full_grant().names();
        // What grew is measured against what the old version asked for: an optional
        // permission the admin declined before is not news.
        let asked_before: Vec<String> = Manifest::parse(&before.manifest)
            .map(|m| m.full_grant().names())
            .unwrap_or_else(|_| granted.clone());
        let added: Vec<String> = requested
            .iter()
            .filter(|p| !asked_before.contains(p))
            .cloned()
            .collect();
        let removed: Vec<String> = asked_before
            .iter()
            .filter(|p| !requested.contains(p))
            .cloned()
            .collect();
        let new_grant = match grant {
            Some(names) => manifest
                .check_grant(&names)
                .map_err(|e| AppsError::Grant(e.to_string()))?,
            None if added.is_empty() => {
                let keep: Vec<String> = granted
                    .iter()
                    .filter(|p| requested.contains(p))
                    .cloned()
                    .collect();
                manifest.check_grant(&keep)?
            }
            None => return Err(AppsError::PermissionsGrew { added, removed }),
        };
        self.check_clashes(&manifest)?;
        let pre = self.compile_and_keep(&package, bytes).await?;
        let was_enabled = old
            .enabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(running) = &was_enabled {
            running.pool.drain();
        }
        let mut record = before.clone();
        record.version = manifest.version.clone();
        record.manifest = package.manifest_text.clone();
        record.package_sha256 = package.sha256.clone();
        record.granted = new_grant.names();
        record.updated_at = Ts::now();
        record
            .settings
            .retain(|k, _| manifest.settings.iter().any(|s| s.id == *k));
        self.store.put_app(&record).await?;
        let app = self.register(record, package, Some(pre));
        let _new_guard = app.ops.lock().await;
        app.logger.host(
            "info",
            None,
            &format!("updated from {} to {}", before.version, manifest.version),
            None,
        );
        match self
            .call_once(&app, Call::OnUpdate(before.version.clone()))
            .await
        {
            Ok(Outcome::Checked(Err(message))) => app.logger.host(
                "warn",
                Some("on-update"),
                &format!("on-update failed: {message}"),
                None,
            ),
            Err(e) => tracing::warn!(app_id = %app.id, error = %e, "on-update failed"),
            _ => {}
        }
        if was_enabled.is_some() {
            if let Err(e) = self.enable_loaded(&app, None).await {
                tracing::warn!(app_id = %app.id, error = %e, "updated app could not be enabled again");
            }
        } else {
            self.rebuild_chain();
        }
        if before.package_sha256 != app.record().package_sha256
            && !self
                .all()
                .iter()
                .any(|a| a.record().package_sha256 == before.package_sha256)
        {
            self.forget_package(&before.package_sha256, true).await;
        }
        tracing::info!(app_id = %app.id, from = %before.version, to = %manifest.version, "app updated");
        Ok((app.record(), added, removed))
    }

    /// Removes an app and everything it owns.
    pub async fn uninstall(&self, id: &str) -> Result<(), AppsError> {
        let _changes = self.changes.lock().await;
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        if app.running().is_some() {
            self.disable_loaded(&app, status::MANUALLY_DISABLED, None)
                .await?;
        }
        if app.pre.is_some() {
            if let Err(e) = self.call_once(&app, Call::OnUninstall).await {
                tracing::warn!(app_id = %app.id, error = %e, "on-uninstall failed; uninstalling anyway");
            }
        }
        self.remove(&app).await?;
        tracing::info!(app_id = %app.id, "app uninstalled");
        Ok(())
    }

    pub(super) async fn remove(&self, app: &Arc<Installed>) -> Result<(), AppsError> {
        let record = app.record();
        self.store.delete_app(&app.id).await?;
        self.chat.retire_bot_user(&record.bot_user_id).await?;
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&app.id);
        self.rebuild_chain();
        for dir in [self.files_dir(&app.id), self.assets_dir(&app.id)] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(app_id = %app.id, error = %e, "cannot remove the app's files");
                }
            }
        }
        let still_used = self
            .all()
            .iter()
            .any(|a| a.record().package_sha256 == record.package_sha256);
        if !still_used {
            self.forget_package(&record.package_sha256, true).await;
        }
        Ok(())
    }
}
