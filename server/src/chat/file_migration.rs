//! Moving every stored file to another storage backend (`palaver files migrate`).
//!
//! The progress is the records themselves: a file is copied to the target, its
//! sha256 checked against what the store recorded, and only then does its record
//! name the target backend. An interrupted migration (the CLI or the server killed)
//! resumes where it stopped: the next run copies what still names another backend.
//! Reads follow each record's backend, so files are served throughout. Source
//! objects are left in place (the operator removes them once satisfied). When no
//! file is left, the API copies the app packages (`apps::AppsEngine::copy_packages_to`,
//! verified, idempotent) and only then switches the storage setting, then copies
//! them once more for an install that raced the switch.

use serde_json::json;

use super::error::{ChatError, ChatResult};
use super::file_storage::storage_type_of;
use super::permissions::EDIT_PRIVILEGED_SETTING;
use super::settings::{Change, ChangeClient};
use super::Chat;
use crate::files::FilesError;
use crate::store::uploads::Upload;
use crate::store::User;

/// What one migration step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStep {
    /// The `FileUpload_Storage_Type` value migrated to.
    pub storage_type: &'static str,
    /// Files copied and verified in this step.
    pub migrated: u64,
    /// Files still on another backend after it.
    pub remaining: u64,
    /// Whether this step switched `FileUpload_Storage_Type` to the target (set by
    /// the caller, after [`Chat::switch_storage`]).
    pub switched: bool,
}

/// The `FileUpload_Storage_Type` value and backend name for what the operator typed
/// (`local`/`FileSystem`, `s3`/`AmazonS3`, `webdav`/`Webdav`, any case).
pub fn migration_target(to: &str) -> Option<(&'static str, &'static str)> {
    let backend = match to.to_ascii_lowercase().as_str() {
        "local" | "filesystem" => "local",
        "s3" | "amazons3" => "s3",
        "webdav" => "webdav",
        _ => return None,
    };
    Some((storage_type_of(backend)?, backend))
}

/// [`migration_target`] or a clear refusal.
fn target_of(to: &str) -> ChatResult<(&'static str, &'static str)> {
    migration_target(to).ok_or_else(|| {
        ChatError::invalid(format!("unknown storage {to:?}: use local, s3 or webdav"))
    })
}

impl Chat {
    /// Copies up to `batch` files that live on another backend to `to`, verifying
    /// each one's sha256. Needs `edit-privileged-setting`. When none is left, the
    /// caller copies what else lives in the storage (app packages) and then calls
    /// [`Chat::switch_storage`].
    pub async fn migrate_files(
        &self,
        actor: &User,
        to: &str,
        batch: u64,
    ) -> ChatResult<MigrationStep> {
        self.require_migration_rights(actor).await?;
        let (storage_type, backend) = target_of(to)?;
        let target = self.migration_storage(to)?;
        let due = self
            .store
            .uploads_elsewhere(backend, batch.clamp(1, 1000))
            .await?;
        let mut migrated = 0;
        for upload in due {
            // The admin asked: the storage's own words go back to them.
            self.migrate_one(&upload, &target)
                .await
                .map_err(|e| match e {
                    ChatError::Files(e) => ChatError::refused(
                        "error-file-migration-failed",
                        format!("file {} ({}): {e}", upload.id, upload.name),
                    ),
                    other => other,
                })?;
            migrated += 1;
        }
        let remaining = self.store.count_uploads_elsewhere(backend).await?;
        Ok(MigrationStep {
            storage_type,
            migrated,
            remaining,
            switched: false,
        })
    }

    /// The storage `palaver files migrate --to` names, from its settings.
    pub fn migration_storage(&self, to: &str) -> ChatResult<crate::files::Storage> {
        let (storage_type, _) = target_of(to)?;
        Ok(crate::files::Storage::open(
            &self.storage_config_of(storage_type)?,
        )?)
    }

    /// Makes `to` the configured storage once every file is there; `true` if the
    /// setting changed (`false`: it already named `to`). Refused while files remain
    /// elsewhere.
    pub async fn switch_storage(
        &self,
        actor: &User,
        client: ChangeClient,
        to: &str,
    ) -> ChatResult<bool> {
        self.require_migration_rights(actor).await?;
        let (storage_type, backend) = target_of(to)?;
        let remaining = self.store.count_uploads_elsewhere(backend).await?;
        if remaining > 0 {
            return Err(ChatError::refused(
                "error-file-migration-incomplete",
                format!("{remaining} file(s) are not on {backend} yet"),
            ));
        }
        if self.settings().string("FileUpload_Storage_Type") == storage_type {
            return Ok(false);
        }
        self.update_setting(
            actor,
            client,
            "FileUpload_Storage_Type",
            Change::Value(json!(storage_type)),
        )
        .await?;
        tracing::info!(user_id = %actor.id, storage = storage_type, "file storage switched after migration");
        Ok(true)
    }

    async fn require_migration_rights(&self, actor: &User) -> ChatResult<()> {
        if self
            .has_permission(actor, EDIT_PRIVILEGED_SETTING, None)
            .await?
        {
            Ok(())
        } else {
            Err(ChatError::not_allowed())
        }
    }

    /// Copies one file and points its record at the target once verified.
    async fn migrate_one(&self, upload: &Upload, target: &crate::files::Storage) -> ChatResult<()> {
        let source = self.storage_for(&upload.store)?;
        let read = source.get(&upload.key, None, Some(upload.size)).await?;
        let stored = target.put(&upload.key, read.body, None).await?;
        if stored.sha256 != upload.sha256 || stored.size != upload.size {
            // The copy is not what was uploaded: it goes, the record stays as it was.
            if let Err(e) = target.delete(&upload.key).await {
                tracing::warn!(file_id = %upload.id, error = %e, "cannot remove a mismatched copy");
            }
            return Err(ChatError::Files(FilesError::Damaged {
                key: upload.key.clone(),
                detail: format!(
                    "on {}: sha256 {} ({} bytes) read, {} ({} bytes) recorded; not migrated",
                    upload.store, stored.sha256, stored.size, upload.sha256, upload.size
                ),
            }));
        }
        // Re-read: the record may have changed (confirmed, deleted) during the copy.
        let Some(mut current) = self.store.upload(&upload.id).await? else {
            let _ = target.delete(&upload.key).await;
            return Ok(());
        };
        current.store = target.backend_name().to_string();
        self.store.update_upload(&current).await?;
        tracing::info!(file_id = %upload.id, from = %upload.store, to = target.backend_name(), size = upload.size, "file migrated");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(migration_target("S3"), Some(("AmazonS3", "s3")));
        assert_eq!(migration_target("AmazonS3"), Some(("AmazonS3", "s3")));
        assert_eq!(migration_target("local"), Some(("FileSystem", "local")));
        assert_eq!(migration_target("webdav"), Some(("Webdav", "webdav")));
        assert_eq!(migration_target("gridfs"), None);
    }
}
