//! A person's download of their own data (Rocket.Chat's
//! `users.requestDataDownload`): the request records an export operation and
//! queues it; the export worker builds a zip of their profile, their rooms'
//! messages (their own as HTML, or with `fullExport` every message as JSON) and
//! the files they posted, stores it for them alone, marks the operation
//! `completed` and mails them the link.

use super::data_export::{export_line, zip_files, ExportFormat, ExportJob};
use super::error::{ChatError, ChatResult};
use super::{ids, Chat};
use crate::store::exports::{ExportOperation, ExportStatus};
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::uploads::UploadState;
use crate::store::{Ts, User};

/// A finished or pending request is answered again for this long instead of a
/// new one being made (Rocket.Chat: a day).
const REQUEST_AGAIN_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// The most bytes of posted files one export carries; files beyond are listed
/// but left out.
const MAX_ASSET_BYTES: u64 = 64 * 1024 * 1024;

/// What `users.requestDataDownload` answers.
#[derive(Clone, Debug)]
pub struct DataDownload {
    /// Whether this call made a new request (`false`: a recent one stands).
    pub requested: bool,
    pub operation: ExportOperation,
    /// The download path of the finished file.
    pub url: Option<String>,
}

impl Chat {
    /// Records and queues a download of the caller's data, unless one of the same
    /// kind was asked for within a day (then that one is answered).
    pub async fn request_data_download(
        &self,
        actor: &User,
        full_export: bool,
    ) -> ChatResult<DataDownload> {
        let now = Ts::now();
        if let Some(last) = self.store.last_export(&actor.id, full_export).await? {
            if last.created_at.0 > now.0 - REQUEST_AGAIN_AFTER_MS {
                let url = match &last.file_id {
                    Some(id) if last.status == ExportStatus::Completed => self
                        .store
                        .upload(id)
                        .await?
                        .map(|u| format!("/file-upload/{}/{}", u.id, u.name)),
                    _ => None,
                };
                return Ok(DataDownload {
                    requested: false,
                    operation: last,
                    url,
                });
            }
        }
        let operation = ExportOperation {
            id: ids::new_id(),
            user_id: actor.id.clone(),
            status: ExportStatus::Pending,
            full_export,
            created_at: now,
            updated_at: now,
            file_id: None,
        };
        self.store.insert_export(&operation).await?;
        let job = ExportJob::UserData {
            operation_id: operation.id.clone(),
        };
        let payload = serde_json::to_value(&job)
            .map_err(|e| ChatError::invalid(format!("unencodable export: {e}")))?;
        let item = OutboxItem::new(
            ids::new_id(),
            OutboxKind::Export,
            format!("user-data:{}", operation.id),
            payload,
            now,
        );
        self.store.enqueue_outbox(&[item]).await?;
        tracing::info!(user_id = %actor.id, operation_id = %operation.id, full_export, "data download requested");
        Ok(DataDownload {
            requested: true,
            operation,
            url: None,
        })
    }

    /// Builds the data download of operation `id` (the export worker's part).
    pub(super) async fn run_user_export(&self, id: &str) -> ChatResult<()> {
        let Some(mut op) = self.store.export_by_id(id).await? else {
            return Ok(());
        };
        if op.status == ExportStatus::Completed {
            return Ok(());
        }
        let Some(user) = self.store.user_by_id(&op.user_id).await? else {
            tracing::info!(
                operation_id = id,
                "data download dropped: the person is gone"
            );
            return Ok(());
        };
        op.status = ExportStatus::Exporting;
        op.updated_at = Ts::now();
        self.store.update_export(&op).await?;

        let format = if op.full_export {
            ExportFormat::Json
        } else {
            ExportFormat::Html
        };
        let profile = serde_json::json!({
            "_id": user.id,
            "username": user.username,
            "name": user.name,
            "emails": user.emails.iter().map(|e| &e.address).collect::<Vec<_>>(),
            "createdAt": crate::wire::iso(user.created_at.0),
        });
        let mut files = vec![("user.json".to_string(), profile.to_string().into_bytes())];
        let mut asset_bytes = 0u64;
        let until = Ts(Ts::now().0 + 1);
        for sub in self.store.user_subscriptions(&user.id, None).await? {
            let messages = self.exported_messages(&sub.rid, Ts(0), until).await?;
            let mine: Vec<_> = messages
                .iter()
                .filter(|m| op.full_export || m.u.id == user.id)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let lines: Vec<String> = mine.iter().map(|m| export_line(format, m)).collect();
            let name = sub.fname.clone().unwrap_or(sub.name.clone());
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            files.push((
                format!("{safe}-{}.{}", sub.rid, format.extension()),
                lines.join("\n").into_bytes(),
            ));
            // The files the person posted, as far as the size allows.
            for m in mine.iter().filter(|m| m.u.id == user.id) {
                let Some(file_id) = m.file.as_ref().and_then(|f| f["_id"].as_str()) else {
                    continue;
                };
                let Some(upload) = self.store.upload(file_id).await? else {
                    continue;
                };
                if upload.state != UploadState::Stored
                    || asset_bytes + upload.size > MAX_ASSET_BYTES
                {
                    continue;
                }
                let bytes = self
                    .storage_for(&upload.store)?
                    .read_all(&upload.key, upload.size)
                    .await?;
                asset_bytes += bytes.len() as u64;
                files.push((format!("assets/{}-{}", upload.id, upload.name), bytes));
            }
        }
        let zip = zip_files(&files)?;
        let name = format!("{}-data.zip", user.username);
        let upload = self.store_export(&user, "", &name, zip).await?;
        op.status = ExportStatus::Completed;
        op.file_id = Some(upload.id.clone());
        op.updated_at = Ts::now();
        self.store.update_export(&op).await?;
        tracing::info!(user_id = %user.id, operation_id = id, file_id = %upload.id, "data download built");
        self.mail_export_ready(&user, &upload, "Your Data File is Ready to Download")
            .await
    }
}
