//! Removing files: with their message or room, unconfirmed ones past their expiry,
//! and the unfinished multipart uploads a crash left on the storage.

use super::error::ChatResult;
use super::Chat;
use crate::store::uploads::Upload;
use crate::store::Ts;

impl Chat {
    /// Removes files' objects and records (a deleted message or room, the sweeper).
    pub(crate) async fn remove_uploads(&self, uploads: Vec<Upload>) -> u64 {
        let mut removed = 0;
        for upload in uploads {
            // Each object goes from the backend its record names.
            let storage = match self.storage_for(&upload.store) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(file_id = %upload.id, error = %e, "cannot open the file storage to remove a file");
                    continue;
                }
            };
            if let Err(e) = storage.delete(&upload.key).await {
                // The record stays so a later sweep retries.
                tracing::warn!(file_id = %upload.id, error = %e, "cannot delete a file's object");
                continue;
            }
            match self.store.delete_upload(&upload.id).await {
                Ok(_) => removed += 1,
                Err(e) => {
                    tracing::warn!(file_id = %upload.id, error = %e, "cannot delete a file's record")
                }
            }
        }
        removed
    }

    /// Removes an upload that will not be posted (the one-call upload failed to post).
    pub async fn discard_upload(&self, upload: &Upload) {
        let mut gone = vec![upload.clone()];
        if let Ok(Some(thumb)) = self.thumbnail_of(upload).await {
            gone.push(thumb);
        }
        self.remove_uploads(gone).await;
    }

    /// Deletes the files of a message being deleted.
    pub(crate) async fn remove_message_files(&self, message_id: &str) {
        match self.store.message_uploads(message_id).await {
            Ok(uploads) if !uploads.is_empty() => {
                self.remove_uploads(uploads).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(message_id, error = %e, "cannot list a deleted message's files")
            }
        }
    }

    /// Deletes the files of a room being deleted.
    pub(crate) async fn remove_room_files(&self, rid: &str) {
        match self.store.all_room_uploads(rid).await {
            Ok(uploads) if !uploads.is_empty() => {
                self.remove_uploads(uploads).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(room_id = rid, error = %e, "cannot list a deleted room's files")
            }
        }
    }

    /// Removes unconfirmed uploads past their expiry; returns how many went.
    pub async fn sweep_expired_uploads(&self, now: Ts) -> ChatResult<u64> {
        let mut total = 0;
        loop {
            let due = self.store.expired_uploads(now, 100).await?;
            let n = due.len();
            let removed = self.remove_uploads(due).await;
            total += removed;
            // A batch that could not be removed is retried on the next sweep.
            if n < 100 || removed == 0 {
                break;
            }
        }
        if total > 0 {
            tracing::info!(removed = total, "expired unconfirmed uploads removed");
        }
        Ok(total)
    }
}

/// Where in the storage Palaver writes objects large enough for a multipart
/// upload: files people post (and thumbnails, avatars) and app packages.
const MULTIPART_PREFIXES: [&str; 2] = ["uploads/", "apps/packages/"];

impl Chat {
    /// Aborts the unfinished uploads a crash left on the configured storage (S3's
    /// incomplete multipart uploads) under Palaver's own key prefixes, started
    /// more than `max_age` ago; returns how many.
    pub async fn abort_stale_uploads(&self, max_age: std::time::Duration) -> ChatResult<u64> {
        let storage = self.file_storage()?;
        let mut total = 0;
        for prefix in MULTIPART_PREFIXES {
            total += storage.abort_stale_uploads(prefix, max_age).await?;
        }
        if total > 0 {
            tracing::info!(
                aborted = total,
                storage = storage.backend_name(),
                "unfinished uploads left by a crash aborted"
            );
        }
        Ok(total)
    }
}
