//! Room exports (Rocket.Chat's `rooms.export`): a room's messages over a range of
//! dates as an HTML or JSON file, zipped and stored for the person who asked, who
//! is mailed a download link; or chosen messages mailed to people. Building the
//! file is queued work (outbox kind `export`), off the request, as Rocket.Chat
//! answers before the export exists.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::error::{ChatError, ChatResult};
use super::files::object_key;
use super::mail::Mail;
use super::permissions::Perm;
use super::{ids, Chat};
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::uploads::{Upload, UploadState, TYPE_GROUP_EXPORT};
use crate::store::{HistoryQuery, Message, Room, Ts, User};
use crate::worker::outbox::policy::DeliveryError;

/// Most messages one room export holds; older ones in the range are left out.
pub const MAX_EXPORTED: u64 = 50_000;
/// Most messages mailed at once.
pub const MAX_MAILED: usize = 500;
const PAGE: u64 = 500;

/// The file a room export is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Html,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "html" => Some(ExportFormat::Html),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }

    pub(super) fn extension(self) -> &'static str {
        match self {
            ExportFormat::Html => "html",
            ExportFormat::Json => "json",
        }
    }
}

/// One queued export; what an outbox item of kind `export` carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportJob {
    /// Room `rid`'s messages with `from <= ts < to`, for `user_id`.
    RoomFile {
        user_id: String,
        rid: String,
        format: ExportFormat,
        from: Ts,
        to: Ts,
    },
    /// A person's own data (`users.requestDataDownload`), operation `operation_id`.
    UserData { operation_id: String },
}

/// Messages of a room to mail (`rooms.export` with `type: "email"`).
#[derive(Clone, Debug, Default)]
pub struct MailExport {
    /// Usernames; those without a usable address come back as missing.
    pub to_users: Vec<String>,
    pub to_emails: Vec<String>,
    pub subject: String,
    pub message_ids: Vec<String>,
}

/// A plausible mail address (Rocket.Chat's `checkAddressFormat`).
fn plausible_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One message as Rocket.Chat's `exportMessageObject` writes it.
pub(super) fn export_line(format: ExportFormat, m: &Message) -> String {
    let username = m.u.username.as_str();
    match format {
        ExportFormat::Json => {
            let mut o = serde_json::json!({
                "msg": m.msg,
                "username": username,
                "ts": crate::wire::iso(m.ts.0),
            });
            if let Some(t) = &m.t {
                o["type"] = serde_json::json!(t);
            }
            o.to_string()
        }
        ExportFormat::Html => {
            let when = chrono::DateTime::from_timestamp_millis(m.ts.0)
                .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                .unwrap_or_default();
            let text = escape_html(&m.msg).replace('\n', "<br/>");
            let text = if m.t.is_some() {
                format!("<i>{text}</i>")
            } else {
                text
            };
            format!(
                "<p><strong>{}</strong> ({when}):<br/>\n{text}\n</p>",
                escape_html(username)
            )
        }
    }
}

/// The zip of one exported file named `name`.
fn zip_one(name: &str, content: &[u8]) -> ChatResult<Vec<u8>> {
    zip_files(&[(name.to_string(), content.to_vec())])
}

/// A zip of named files.
pub(super) fn zip_files(files: &[(String, Vec<u8>)]) -> ChatResult<Vec<u8>> {
    let failed =
        |e: &dyn std::fmt::Display| ChatError::invalid(format!("cannot zip the export: {e}"));
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| failed(&e))?;
        zip.write_all(content).map_err(|e| failed(&e))?;
    }
    zip.finish().map_err(|e| failed(&e))?;
    Ok(out.into_inner())
}

impl Chat {
    /// Rocket.Chat's checks of `rooms.export`: `mail-messages` in the room, the
    /// room, and read access to it.
    async fn exportable_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        if !self
            .has_permission(actor, Perm::MAIL_MESSAGES, Some(rid))
            .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Mailing is not allowed",
            ));
        }
        let room = self
            .store
            .room_by_id(rid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-room", "error-invalid-room"))?;
        if !self.can_access_room(actor, &room).await? {
            return Err(ChatError::refused("error-not-allowed", "Not Allowed"));
        }
        Ok(room)
    }

    /// Checks a room export as a file and queues it; the person is mailed a link
    /// once it is built. `from <= ts < to`.
    pub async fn export_room_file(
        &self,
        actor: &User,
        rid: &str,
        format: ExportFormat,
        from: Ts,
        to: Ts,
    ) -> ChatResult<()> {
        let room = self.exportable_room(actor, rid).await?;
        if from > to {
            return Err(ChatError::refused(
                "error-invalid-dates",
                "From date cannot be after To date",
            ));
        }
        let job = ExportJob::RoomFile {
            user_id: actor.id.clone(),
            rid: room.id.clone(),
            format,
            from,
            to,
        };
        let payload = serde_json::to_value(&job)
            .map_err(|e| ChatError::invalid(format!("unencodable export: {e}")))?;
        let id = ids::new_id();
        let item = OutboxItem::new(id.clone(), OutboxKind::Export, id, payload, Ts::now());
        self.store.enqueue_outbox(&[item]).await?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, "room export queued");
        Ok(())
    }

    /// Mails chosen messages of a room to people and addresses; the usernames no
    /// address was found for come back (Rocket.Chat's `missing`).
    pub async fn export_room_mail(
        &self,
        actor: &User,
        rid: &str,
        export: MailExport,
    ) -> ChatResult<Vec<String>> {
        let room = self.exportable_room(actor, rid).await?;
        if export.to_users.is_empty() && export.to_emails.is_empty() {
            return Err(ChatError::refused(
                "error-invalid-recipient",
                "error-invalid-recipient",
            ));
        }
        if export.message_ids.len() > MAX_MAILED {
            return Err(ChatError::invalid(format!(
                "At most {MAX_MAILED} messages can be mailed at once"
            )));
        }
        let mut to: Vec<String> = export
            .to_emails
            .iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        let mut missing = Vec::new();
        for username in export.to_users.iter().filter(|u| !u.is_empty()) {
            let address = self
                .store
                .user_by_username(username)
                .await?
                .and_then(|u| u.emails.first().map(|e| e.address.clone()));
            match address {
                Some(a) => to.push(a),
                None => missing.push(username.clone()),
            }
        }
        if let Some(bad) = to.iter().find(|a| !plausible_address(a)) {
            tracing::info!(address = %bad, "room export refused: not a mail address");
            return Err(ChatError::refused(
                "error-invalid-email",
                "error-invalid-email",
            ));
        }
        to.sort();
        to.dedup();
        let batch = ids::new_id();
        let mails = to
            .into_iter()
            .map(|address| {
                let key = format!("room-export:{batch}:{address}");
                let mail = Mail::RoomMessages {
                    to: address,
                    sender_id: actor.id.clone(),
                    rid: room.id.clone(),
                    subject: export.subject.clone(),
                    message_ids: export.message_ids.clone(),
                };
                (key, mail)
            })
            .collect();
        self.queue_mail(mails).await?;
        Ok(missing)
    }

    /// Builds a queued export: the file, stored for the person, who is mailed a
    /// link to it. An export whose person or room is gone is dropped.
    pub async fn run_export(&self, job: &ExportJob) -> ChatResult<()> {
        let (user_id, rid, format, from, to) = match job {
            ExportJob::RoomFile {
                user_id,
                rid,
                format,
                from,
                to,
            } => (user_id, rid, format, from, to),
            ExportJob::UserData { operation_id } => {
                return self.run_user_export(operation_id).await
            }
        };
        let (Some(user), Some(room)) = (
            self.store.user_by_id(user_id).await?,
            self.store.room_by_id(rid).await?,
        ) else {
            tracing::info!(room_id = %rid, user_id = %user_id, "room export dropped: the room or the person is gone");
            return Ok(());
        };
        let messages = self.exported_messages(rid, *from, *to).await?;
        let lines: Vec<String> = messages.iter().map(|m| export_line(*format, m)).collect();
        let content = match format {
            ExportFormat::Json => lines.join("\n"),
            ExportFormat::Html => format!(
                "<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n{}",
                lines.join("\n")
            ),
        };
        // Rocket.Chat names a JSON export after the room, an HTML one after its id.
        let stem = match (format, &room.name) {
            (ExportFormat::Json, Some(name)) => name.clone(),
            _ => room.id.clone(),
        };
        let inner = format!("{stem}.{}", format.extension());
        let bytes = zip_one(&inner, content.as_bytes())?;
        let upload = self
            .store_export(&user, &room.id, &format!("{stem}-export.zip"), bytes)
            .await?;
        tracing::info!(room_id = %room.id, user_id = %user.id, file_id = %upload.id, messages = messages.len(), "room export built");
        self.mail_export_ready(&user, &upload, "Channel Export")
            .await
    }

    /// Mails `user` the link to their finished export.
    pub(super) async fn mail_export_ready(
        &self,
        user: &User,
        upload: &Upload,
        subject: &str,
    ) -> ChatResult<()> {
        let Some(address) = user.emails.first().map(|e| e.address.clone()) else {
            return Ok(());
        };
        let mail = Mail::ExportReady {
            user_id: user.id.clone(),
            to: address,
            subject: subject.to_string(),
            file_id: upload.id.clone(),
            file_name: upload.name.clone(),
        };
        self.queue_mail(vec![(format!("export-ready:{}", upload.id), mail)])
            .await?;
        Ok(())
    }

    /// The room's messages with `from <= ts < to`, oldest first, at most
    /// [`MAX_EXPORTED`] (the newest of them).
    pub(super) async fn exported_messages(
        &self,
        rid: &str,
        from: Ts,
        to: Ts,
    ) -> ChatResult<Vec<Message>> {
        let mut out: Vec<Message> = Vec::new();
        let mut latest = Ts(to.0 - 1);
        let mut skip = 0;
        while (out.len() as u64) < MAX_EXPORTED {
            let page = self
                .store
                .history(
                    rid,
                    &HistoryQuery {
                        latest: Some(latest),
                        oldest: Some(from),
                        inclusive: true,
                        offset: skip,
                        count: PAGE,
                        exclude_thread_replies: false,
                    },
                )
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            // Keyset paging on `ts`; messages of the last page's millisecond are
            // skipped by count on the next one.
            skip = if last.ts == latest {
                skip + page.len() as u64
            } else {
                page.iter().filter(|m| m.ts == last.ts).count() as u64
            };
            latest = last.ts;
            let full = page.len() as u64 == PAGE;
            out.extend(page);
            if !full {
                break;
            }
        }
        out.truncate(usize::try_from(MAX_EXPORTED).unwrap_or(usize::MAX));
        out.reverse();
        Ok(out)
    }

    /// Stores an export's bytes as a file only `owner` may download.
    pub(super) async fn store_export(
        &self,
        owner: &User,
        rid: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> ChatResult<Upload> {
        let storage = self.file_storage()?;
        let id = ids::new_id();
        let mut upload = Upload {
            key: object_key(&id),
            id,
            name: name.to_string(),
            size: 0,
            content_type: "application/zip".into(),
            sha256: String::new(),
            rid: rid.to_string(),
            user_id: owner.id.clone(),
            username: owner.username.clone(),
            store: storage.backend_name().to_string(),
            state: UploadState::Uploading,
            uploaded_at: Ts::now(),
            expires_at: None,
            message_id: None,
            description: None,
            dimensions: None,
            format: None,
            preview: None,
            thumb_id: None,
            type_group: Some(TYPE_GROUP_EXPORT.into()),
            original_file_id: None,
        };
        self.store.insert_upload(&upload).await?;
        let body: crate::files::ByteStream = Box::pin(futures::stream::once(async move {
            Ok(bytes::Bytes::from(bytes))
        }));
        let stored = match storage.put(&upload.key, body, None).await {
            Ok(stored) => stored,
            Err(e) => {
                if let Err(del) = self.store.delete_upload(&upload.id).await {
                    tracing::warn!(file_id = %upload.id, error = %del, "cannot remove a failed export's record");
                }
                return Err(e.into());
            }
        };
        upload.size = stored.size;
        upload.sha256 = stored.sha256;
        upload.state = UploadState::Stored;
        self.store.update_upload(&upload).await?;
        Ok(upload)
    }
}

/// Builds queued exports (the outbox's handler of kind `export`).
pub struct ExportHandler(pub std::sync::Arc<Chat>);

#[async_trait::async_trait]
impl crate::worker::outbox::DeliveryHandler for ExportHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Export
    }

    /// Exports are heavy: one at a time per instance.
    fn concurrency(&self) -> Option<usize> {
        Some(1)
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let job: ExportJob = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable export item: {e}")))?;
        self.0.run_export(&job).await.map_err(|e| match e {
            ChatError::Store(_) | ChatError::Files(_) => DeliveryError::transient(e.to_string()),
            other => DeliveryError::permanent(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_for_shape() {
        assert!(plausible_address("a@example.com"));
        assert!(!plausible_address("a@localhost"));
        assert!(!plausible_address("not an address"));
        assert!(!plausible_address("@example.com"));
    }

    #[test]
    fn html_lines_escape_the_text() {
        let mut m: Message = serde_json::from_value(serde_json::json!({
            "_id": "m", "rid": "r", "msg": "<b>hi</b>", "ts": 0,
            "u": {"_id": "u", "username": "alice"}, "_updatedAt": 0
        }))
        .expect("a message");
        let line = export_line(ExportFormat::Html, &m);
        assert!(line.contains("&lt;b&gt;hi&lt;/b&gt;"), "{line}");
        assert!(line.starts_with("<p><strong>alice</strong> (Thu, 01 Jan 1970 00:00:00 GMT)"));
        m.t = Some("uj".into());
        let json: serde_json::Value =
            serde_json::from_str(&export_line(ExportFormat::Json, &m)).expect("json");
        assert_eq!(json["type"], "uj");
        assert_eq!(json["username"], "alice");
    }
}
