//! Several instances on one store: app packages live in the shared file storage
//! (beside a local cache), and each instance follows what the others change —
//! installs, updates, uninstalls, enable, disable, settings — by comparing the
//! stored app records with its own every [`SYNC_EVERY`]. What an instance follows it
//! does not write back: the record stays the changing instance's, and lifecycle
//! calls (`on-install`, `on-disable`, …) run once, where the admin acted.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::*;
use crate::worker::Worker;

/// How often an instance compares its apps with the store.
pub(super) const SYNC_EVERY: Duration = Duration::from_millis(500);

/// The key of a package in the file storage.
fn package_key(sha256: &str) -> String {
    format!("apps/packages/{sha256}.zip")
}

impl AppsEngine {
    /// Writes a package to the shared file storage (where other instances find it).
    pub(super) async fn share_package(&self, sha256: &str, bytes: &[u8]) -> Result<(), AppsError> {
        let storage = self.chat.file_storage()?;
        let body: crate::files::ByteStream = Box::pin(futures::stream::iter([Ok(
            bytes::Bytes::copy_from_slice(bytes),
        )]));
        storage
            .put(&package_key(sha256), body, None)
            .await
            .map_err(|e| {
                AppsError::Io(format!("cannot store the package in the file storage: {e}"))
            })?;
        Ok(())
    }

    /// Removes a package from the local cache and, for the instance that removed the
    /// app, from the file storage.
    pub(super) async fn forget_package(&self, sha256: &str, shared: bool) {
        let _ = std::fs::remove_file(self.package_path(sha256));
        if shared {
            match self.chat.file_storage() {
                Ok(storage) => {
                    if let Err(e) = storage.delete(&package_key(sha256)).await {
                        tracing::warn!(package = sha256, error = %e, "cannot remove a package from the file storage");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot open the file storage"),
            }
        }
    }

    /// Copies every installed app's package to `target` for `palaver files migrate`
    /// (the file storage is switching to it): packages already there whole are
    /// left, the others read from this instance's cache, else from `source` (the
    /// storage being left), written and checked against their sha256. Safe to run
    /// again after an interruption. Returns how many were copied.
    pub async fn copy_packages_to(
        &self,
        source: Option<&crate::files::Storage>,
        target: &crate::files::Storage,
    ) -> Result<u64, AppsError> {
        let max = self.cfg.package_limits.max_package_bytes as u64;
        let wanted: BTreeSet<(String, String)> = self
            .store
            .apps()
            .await?
            .into_iter()
            .map(|r| (r.package_sha256, r.id))
            .collect();
        let mut copied = 0;
        let mut done = BTreeSet::new();
        for (sha256, app_id) in wanted {
            if !done.insert(sha256.clone()) {
                continue;
            }
            let key = package_key(&sha256);
            if let Ok(there) = target.read_all(&key, max).await {
                if hex::encode(Sha256::digest(&there)) == sha256 {
                    continue;
                }
            }
            let bytes = self
                .package_bytes_from(&sha256, source)
                .await
                .map_err(|e| AppsError::Io(format!("the package of app {app_id}: {e}")))?;
            let body: crate::files::ByteStream =
                Box::pin(futures::stream::iter([Ok(bytes::Bytes::from(bytes))]));
            let stored = target.put(&key, body, None).await.map_err(|e| {
                AppsError::Io(format!(
                    "cannot copy the package of app {app_id} to the {} storage: {e}",
                    target.backend_name()
                ))
            })?;
            if stored.sha256 != sha256 {
                let _ = target.delete(&key).await;
                return Err(AppsError::Io(format!(
                    "the package of app {app_id} reads back as sha256 {} on the {} storage, {sha256} expected",
                    stored.sha256,
                    target.backend_name()
                )));
            }
            copied += 1;
            tracing::info!(app_id = %app_id, package = %sha256, to = target.backend_name(), "app package copied to the new file storage");
        }
        Ok(copied)
    }

    /// A package's bytes: the local cache, else the file storage (then cached).
    /// Either way checked against its sha256.
    pub(super) async fn package_bytes(&self, sha256: &str) -> Result<Vec<u8>, AppsError> {
        self.package_bytes_from(sha256, None).await
    }

    /// A package's bytes: the local cache, else `storage` (by default the
    /// configured one), then cached; checked against its sha256.
    async fn package_bytes_from(
        &self,
        sha256: &str,
        storage: Option<&crate::files::Storage>,
    ) -> Result<Vec<u8>, AppsError> {
        let path = self.package_path(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(local) => {
                let max = self.cfg.package_limits.max_package_bytes as u64;
                let configured;
                let storage = match storage {
                    Some(s) => s,
                    None => {
                        configured = self.chat.file_storage()?;
                        &configured
                    }
                };
                let bytes = storage
                    .read_all(&package_key(sha256), max)
                    .await
                    .map_err(|e| {
                        AppsError::Io(format!(
                            "package file: not here ({local}) nor in the file storage ({e})"
                        ))
                    })?;
                let tmp = path.with_extension("tmp");
                if let Err(e) =
                    std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &path))
                {
                    tracing::warn!(package = sha256, error = %e, "cannot cache a package locally");
                }
                bytes
            }
        };
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(AppsError::Io(format!(
                "package file: sha256 {actual}, recorded {sha256}"
            )));
        }
        Ok(bytes)
    }

    pub(super) fn spawn_sync(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let worker = Worker::spawn("app-sync", |mut stop| async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SYNC_EVERY) => {}
                    _ = stop.stopped() => break,
                }
                if let Err(e) = me.sync_once().await {
                    tracing::warn!(error = %e, "cannot follow the app changes of other instances; retrying");
                }
            }
        });
        *self
            .background
            .sync
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(worker);
    }

    /// Brings this instance's apps in line with the stored records.
    pub(super) async fn sync_once(&self) -> Result<(), AppsError> {
        let _changes = self.changes.lock().await;
        let records = self.store.apps().await?;
        let stored: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
        for record in records {
            let id = record.id.clone();
            let followed = match self.app(&id) {
                Err(_) => self.follow_install(record).await,
                Ok(app) => self.follow_change(&app).await,
            };
            if let Err(e) = followed {
                tracing::warn!(app_id = %id, error = %e, "cannot follow an app change made on another instance");
            }
        }
        for app in self.all() {
            if !stored.contains(&app.id) {
                self.follow_uninstall(&app).await;
            }
        }
        Ok(())
    }

    /// Loads a package and compiles it.
    async fn load(&self, sha256: &str) -> Result<(Package, AppPre<HostState>), AppsError> {
        let bytes = self.package_bytes(sha256).await?;
        let package = package::read(&bytes, &self.cfg.package_limits)?;
        let pre = self.prepare(package.wasm.clone()).await?;
        Ok((package, pre))
    }

    async fn follow_install(&self, record: AppRecord) -> Result<(), AppsError> {
        let (package, pre) = self.load(&record.package_sha256).await?;
        let enabled = status::is_enabled(&record.status);
        let app = self.register(record, package, Some(pre));
        self.rebuild_chain();
        tracing::info!(app_id = %app.id, "app installed on another instance: loaded here");
        if enabled {
            let _guard = app.ops.lock().await;
            self.follow_enable(&app).await?;
        }
        Ok(())
    }

    async fn follow_change(&self, app: &Arc<Installed>) -> Result<(), AppsError> {
        let guard = app.ops.lock().await;
        // Read under the app's lock: a change of this instance is stored by now.
        let Some(record) = self.store.app(&app.id).await? else {
            return Ok(());
        };
        let local = app.record();
        if record.package_sha256 != local.package_sha256 {
            let (package, pre) = self.load(&record.package_sha256).await?;
            let old = app
                .enabled
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(running) = old {
                running.pool.drain();
            }
            let enabled = status::is_enabled(&record.status);
            let updated = self.register(record, package, Some(pre));
            drop(guard);
            self.rebuild_chain();
            tracing::info!(app_id = %updated.id, "app updated on another instance: reloaded here");
            if enabled {
                let _guard = updated.ops.lock().await;
                self.follow_enable(&updated).await?;
            }
            if !self
                .all()
                .iter()
                .any(|a| a.record().package_sha256 == local.package_sha256)
            {
                self.forget_package(&local.package_sha256, false).await;
            }
            return Ok(());
        }
        if record == local {
            return Ok(());
        }
        let settings_changed: Vec<String> = record
            .settings
            .keys()
            .chain(local.settings.keys())
            .filter(|k| record.settings.get(*k) != local.settings.get(*k))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let enabled = status::is_enabled(&record.status);
        *app.record.write().unwrap_or_else(|p| p.into_inner()) = record.clone();
        match (enabled, app.running()) {
            (true, None) if app.pre.is_some() => {
                tracing::info!(app_id = %app.id, "app enabled on another instance");
                self.follow_enable(app).await?;
            }
            (false, Some(running)) => {
                tracing::info!(app_id = %app.id, status = %record.status, "app disabled on another instance");
                app.enabled
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                self.rebuild_chain();
                running.pool.drain();
            }
            (true, Some(running)) if !settings_changed.is_empty() => {
                if let Ok(mut s) = running.pool.context().settings.write() {
                    *s = record.settings.clone();
                }
                let _ = running
                    .pool
                    .call(Call::OnSettingsUpdated(settings_changed))
                    .await;
                self.after_call(app, &running.pool);
            }
            _ => {}
        }
        Ok(())
    }

    async fn follow_uninstall(&self, app: &Arc<Installed>) {
        let _guard = app.ops.lock().await;
        if let Some(running) = app
            .enabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            running.pool.drain();
        }
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&app.id);
        self.rebuild_chain();
        let sha = app.record().package_sha256;
        if !self.all().iter().any(|a| a.record().package_sha256 == sha) {
            self.forget_package(&sha, false).await;
        }
        tracing::info!(app_id = %app.id, "app uninstalled on another instance: removed here");
    }
}
