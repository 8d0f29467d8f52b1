//! Uploaded files: who may upload where and what, recording each object in the
//! store, posting it as a message the way Rocket.Chat does (`file`, `files`,
//! `attachments`), serving it to those who may read the room, and removing files
//! with their message or room, or when never confirmed (`file_cleanup`); the
//! storage itself is `file_storage`'s.

use serde_json::{json, Value};

use super::error::{ChatError, ChatResult};
use super::messages::NewMessage;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::{ids, Chat};
use crate::files::{ByteRange, ByteStream, FilesError, ObjectRead};
use crate::store::uploads::{Upload, UploadState, TYPE_GROUP_AVATAR, TYPE_GROUP_EXPORT};
use crate::store::{Listing, Message, Page, Room, Ts, User};

/// What a confirmation adds to an upload (`rooms.mediaConfirm`'s body).
#[derive(Clone, Debug, Default)]
pub struct Confirm {
    pub msg: String,
    pub description: Option<String>,
    pub tmid: Option<String>,
    pub file_name: Option<String>,
    /// The message's custom fields (checked as any person's message's are).
    pub custom_fields: Option<serde_json::Value>,
}

/// Media types shown inline by browsers without risk; everything else downloads.
const INLINE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/mp4",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "text/plain",
];

/// Whether a file of this type may be shown inline (never HTML, SVG, XML, PDF).
pub fn inline_safe(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or("").trim();
    INLINE_TYPES.iter().any(|t| t.eq_ignore_ascii_case(base))
}

/// Rocket.Chat's media type list match: `type/*` wildcards, comma-separated.
fn type_listed(list: &str, content_type: &str) -> bool {
    let content_type = content_type.to_ascii_lowercase();
    list.split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| match entry.strip_suffix("/*") {
            Some(major) => content_type.split('/').next() == Some(major),
            None => entry == content_type,
        })
}

/// The URL path Rocket.Chat clients fetch a file from.
pub fn file_path(upload: &Upload) -> String {
    format!(
        "/file-upload/{}/{}",
        upload.id,
        url::form_urlencoded::byte_serialize(upload.name.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    )
}

/// An attachment's `format`: the name's extension upper-cased, `file` without
/// one (Rocket.Chat's `getFileExtension`).
fn format_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_uppercase(),
        _ => "file".to_string(),
    }
}

/// The media type an upload is recorded with, as Rocket.Chat's `getMimeType`
/// decides it: the declared type when it is a known one whose usual extension
/// differs from the file's (the name may be wrong); else the type of the name's
/// extension (`.lst` is text, as Rocket.Chat adds); else opaque bytes. Clients
/// often declare `application/octet-stream` for anything they do not know.
pub(crate) fn media_type_of(declared: &str, file_name: &str) -> String {
    const OCTET: &str = "application/octet-stream";
    let declared = declared.trim().to_ascii_lowercase();
    let ext = file_name.rsplit('.').next().unwrap_or(file_name);
    let usual = mime_guess::get_mime_extensions_str(&declared).and_then(|e| e.first());
    if declared != OCTET && usual.is_some_and(|u| *u != ext) {
        return declared;
    }
    if ext.eq_ignore_ascii_case("lst") {
        return "text/plain".to_string();
    }
    mime_guess::from_ext(ext)
        .first_raw()
        .map_or_else(|| OCTET.to_string(), str::to_string)
}

/// The object key of an upload: its id (unique, safe on every backend).
pub(super) fn object_key(id: &str) -> String {
    format!("uploads/{id}")
}

impl Chat {
    /// Checks the user may upload into the room (as posting) and the type is allowed.
    async fn check_upload(&self, actor: &User, rid: &str, content_type: &str) -> ChatResult<Room> {
        if !self.settings().bool("FileUpload_Enabled") {
            return Err(ChatError::refused(
                "error-file-upload-disabled",
                "File upload is disabled",
            ));
        }
        let (room, _) = self.joined_room(actor, RoomRef::Id(rid)).await?;
        Chat::check_not_archived(&room)?;
        if room.ro
            && !self
                .has_room_permission(actor, Perm::POST_READONLY, &room)
                .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "This room is read only",
            ));
        }
        let s = self.settings();
        let black = s.string("FileUpload_MediaTypeBlackList");
        let white = s.string("FileUpload_MediaTypeWhiteList");
        if type_listed(&black, content_type)
            || (!white.trim().is_empty() && !type_listed(&white, content_type))
        {
            return Err(ChatError::refused(
                "error-invalid-file-type",
                format!("File type {content_type} is not accepted"),
            ));
        }
        Ok(room)
    }

    /// Streams an upload into the storage as an unconfirmed file of the room.
    /// Nothing stays behind when it fails (too large, client gone, storage down).
    pub async fn upload_file(
        &self,
        actor: &User,
        rid: &str,
        name: &str,
        content_type: &str,
        body: ByteStream,
    ) -> ChatResult<Upload> {
        let content_type = &media_type_of(content_type, name);
        let room = self.check_upload(actor, rid, content_type).await?;
        let storage = self.file_storage()?;
        let name = sanitize_name(name);
        let id = ids::new_id();
        let now = Ts::now();
        let ttl_ms =
            i64::try_from(self.opts.unconfirmed_upload_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut upload = Upload {
            key: object_key(&id),
            id,
            name,
            size: 0,
            content_type: content_type.to_string(),
            sha256: String::new(),
            rid: room.id.clone(),
            user_id: actor.id.clone(),
            username: actor.username.clone(),
            store: storage.backend_name().to_string(),
            state: UploadState::Uploading,
            uploaded_at: now,
            expires_at: Some(Ts(now.0.saturating_add(ttl_ms))),
            message_id: None,
            description: None,
            dimensions: None,
            format: None,
            preview: None,
            thumb_id: None,
            type_group: None,
            original_file_id: None,
        };
        // Recorded first: a crash mid-upload leaves a record the sweeper finds.
        self.store.insert_upload(&upload).await?;
        let max = self.settings().int("FileUpload_MaxFileSize");
        let limit = u64::try_from(max).ok();
        let stored = match storage.put(&upload.key, body, limit).await {
            Ok(stored) => stored,
            Err(e) => {
                if let Err(del) = self.store.delete_upload(&upload.id).await {
                    tracing::warn!(file_id = %upload.id, error = %del, "cannot remove a failed upload's record");
                }
                tracing::info!(room_id = %room.id, user_id = %actor.id, error = %e, "upload refused or failed");
                return Err(e.into());
            }
        };
        upload.size = stored.size;
        upload.sha256 = stored.sha256;
        upload.state = UploadState::Stored;
        if let Err(e) = self.describe_image(&storage, &mut upload).await {
            // A refused image (a decompression bomb) leaves nothing behind.
            self.remove_uploads(vec![upload.clone()]).await;
            return Err(e);
        }
        self.store.update_upload(&upload).await?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, file_id = %upload.id, size = upload.size, "file uploaded");
        Ok(upload)
    }

    /// Posts an uploaded file into its room as a message (`rooms.mediaConfirm`).
    pub async fn confirm_upload(
        &self,
        actor: &User,
        rid: &str,
        file_id: &str,
        confirm: Confirm,
    ) -> ChatResult<(Room, Message)> {
        self.confirm_upload_as(actor, rid, file_id, confirm, None)
            .await
    }

    /// [`Chat::confirm_upload`] with the message's id chosen by the caller (a
    /// bridge's message id derived from the remote event: applied again, it
    /// conflicts instead of posting twice).
    pub async fn confirm_upload_as(
        &self,
        actor: &User,
        rid: &str,
        file_id: &str,
        confirm: Confirm,
        message_id: Option<String>,
    ) -> ChatResult<(Room, Message)> {
        self.confirm_uploads(actor, rid, &[file_id.to_string()], confirm, message_id)
            .await
    }

    /// Posts one message with several of `actor`'s uploads (Rocket.Chat 7's
    /// `sendMessage` with `filesToConfirm`), in the order given: the message's
    /// `files` and `attachments` list each (with its thumbnail). A new name or a
    /// description in `confirm` applies to a lone file only.
    pub async fn confirm_uploads(
        &self,
        actor: &User,
        rid: &str,
        file_ids: &[String],
        confirm: Confirm,
        message_id: Option<String>,
    ) -> ChatResult<(Room, Message)> {
        if file_ids.is_empty() {
            return Err(ChatError::refused("invalid-file", "Invalid file"));
        }
        let lone = file_ids.len() == 1;
        let mut uploads = Vec::with_capacity(file_ids.len());
        let (mut files, mut attachments) = (Vec::new(), Vec::new());
        for file_id in file_ids {
            if uploads.iter().any(|(u, _): &(Upload, _)| &u.id == file_id) {
                continue;
            }
            let mut upload = self
                .store
                .upload(file_id)
                .await?
                .filter(|u| u.rid == rid && u.user_id == actor.id && u.state == UploadState::Stored)
                // Past its expiry the sweeper may be removing it right now.
                .filter(|u| u.expires_at.is_none_or(|t| t > Ts::now()) || u.message_id.is_some())
                .ok_or_else(|| ChatError::refused("invalid-file", "Invalid file"))?;
            if upload.message_id.is_some() {
                return Err(ChatError::refused(
                    "invalid-file",
                    "The file was already posted",
                ));
            }
            if lone {
                if let Some(name) = confirm.file_name.clone().filter(|n| !n.trim().is_empty()) {
                    upload.name = sanitize_name(&name);
                }
                upload.description = confirm.description.clone().filter(|d| !d.is_empty());
            }
            let thumb = self.thumbnail_of(&upload).await?;
            let (f, a) = file_message_parts(&upload, thumb.as_ref());
            files.extend(f);
            attachments.extend(a);
            uploads.push((upload, thumb));
        }
        let new = NewMessage {
            id: message_id,
            rid: rid.to_string(),
            msg: confirm.msg,
            tmid: confirm.tmid.filter(|t| !t.is_empty()),
            custom_fields: confirm.custom_fields,
            attachments,
            files,
            groupable: Some(false),
            ..NewMessage::default()
        };
        let (room, message) = self.send_message(actor, new).await?;
        for (mut upload, thumb) in uploads {
            upload.expires_at = None;
            upload.message_id = Some(message.id.clone());
            self.store.update_upload(&upload).await?;
            if let Some(mut thumb) = thumb {
                thumb.expires_at = None;
                thumb.message_id = Some(message.id.clone());
                self.store.update_upload(&thumb).await?;
            }
        }
        Ok((room, message))
    }

    /// An upload as `actor` (or an anonymous caller) may read it, by Rocket.Chat's
    /// rules (`requestCanAccessFiles`): anyone when `FileUpload_ProtectFiles` is
    /// off; else a signed-in user, restricted by `FileUpload_Restrict_to_room_members`
    /// (members only) and `FileUpload_Restrict_to_users_who_can_access_room` (those
    /// who may read the room); with both on, the stricter (members) applies. Refused
    /// with 403, as Rocket.Chat answers, credentials or not.
    pub async fn readable_upload(&self, actor: Option<&User>, file_id: &str) -> ChatResult<Upload> {
        let not_found = || ChatError::Files(FilesError::NotFound(file_id.to_string()));
        let upload = self
            .store
            .upload(file_id)
            .await?
            .filter(|u| u.state == UploadState::Stored)
            // Avatars are served by /avatar only.
            .filter(|u| u.type_group.as_deref() != Some(TYPE_GROUP_AVATAR))
            .ok_or_else(not_found)?;
        // An export is its owner's alone, whatever the file settings.
        if upload.type_group.as_deref() == Some(TYPE_GROUP_EXPORT) {
            return match actor {
                Some(user) if user.id == upload.user_id => Ok(upload),
                _ => Err(ChatError::Forbidden("You may not read this file".into())),
            };
        }
        let settings = self.settings();
        if !settings.bool("FileUpload_ProtectFiles") {
            return Ok(upload);
        }
        let refused = || ChatError::Forbidden("You may not read this file".into());
        let user = actor.ok_or_else(refused)?;
        let members_only = settings.bool("FileUpload_Restrict_to_room_members");
        let readers_only = settings.bool("FileUpload_Restrict_to_users_who_can_access_room");
        let allowed = if members_only {
            self.store
                .subscription(&upload.rid, &user.id)
                .await?
                .is_some()
        } else if readers_only {
            self.readable_room(user, RoomRef::Id(&upload.rid))
                .await
                .is_ok()
        } else {
            true
        };
        if allowed {
            Ok(upload)
        } else {
            Err(refused())
        }
    }

    /// Opens the upload's bytes (or a range of them).
    pub async fn open_upload(
        &self,
        upload: &Upload,
        range: Option<ByteRange>,
    ) -> ChatResult<ObjectRead> {
        let storage = self.storage_for(&upload.store)?;
        Ok(storage.get(&upload.key, range, Some(upload.size)).await?)
    }

    /// Confirmed files of a readable room, newest first.
    pub async fn room_files(
        &self,
        actor: &User,
        room: RoomRef<'_>,
        name: Option<&str>,
        page: Page,
    ) -> ChatResult<(Room, Listing<Upload>)> {
        let (room, _) = self.readable_room(actor, room).await?;
        let listing = self.store.room_uploads(&room.id, name, page).await?;
        Ok((room, listing))
    }
}

/// A file name safe to store and show: no path, no control characters, bounded.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim().to_string();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".to_string()
    } else {
        clean
    }
}

/// The message's `files` and `attachments` for an upload (and its thumbnail), as
/// Rocket.Chat's `parseFileIntoMessageAttachments` builds them.
fn file_message_parts(upload: &Upload, thumb: Option<&Upload>) -> (Vec<Value>, Vec<Value>) {
    let url = file_path(upload);
    let mut files = vec![json!({
        "_id": upload.id,
        "name": upload.name,
        "type": upload.content_type,
        "size": upload.size,
        "format": upload.format.as_deref().unwrap_or(""),
    })];
    let major = upload.content_type.split('/').next().unwrap_or("");
    let mut attachment = json!({
        "title": upload.name,
        "type": "file",
        "title_link": url,
        "title_link_download": true,
    });
    if let Some(d) = &upload.description {
        attachment["description"] = json!(d);
    }
    match major {
        "image" => {
            attachment["image_url"] = json!(url);
            attachment["image_type"] = json!(upload.content_type);
            attachment["image_size"] = json!(upload.size);
            if let Some(dim) = &upload.dimensions {
                attachment["image_dimensions"] = json!({"width": dim.width, "height": dim.height});
            }
            if let Some(preview) = &upload.preview {
                attachment["image_preview"] = json!(preview);
            }
            if let Some(thumb) = thumb {
                // The thumbnail is shown; its URL carries the original's name.
                let thumb_url = file_path(&Upload {
                    id: thumb.id.clone(),
                    name: upload.name.clone(),
                    ..thumb.clone()
                });
                attachment["image_url"] = json!(thumb_url);
                attachment["image_type"] = json!(thumb.content_type);
                if let Some(dim) = &thumb.dimensions {
                    attachment["image_dimensions"] =
                        json!({"width": dim.width, "height": dim.height});
                }
                files.push(json!({
                    "_id": thumb.id,
                    "name": thumb.name,
                    "type": thumb.content_type,
                    "size": thumb.size,
                    "format": thumb.format.as_deref().unwrap_or(""),
                }));
            }
        }
        "audio" => {
            attachment["audio_url"] = json!(url);
            attachment["audio_type"] = json!(upload.content_type);
            attachment["audio_size"] = json!(upload.size);
        }
        "video" => {
            attachment["video_url"] = json!(url);
            attachment["video_type"] = json!(upload.content_type);
            attachment["video_size"] = json!(upload.size);
        }
        _ => {
            attachment["format"] = json!(format_of(&upload.name));
            attachment["size"] = json!(upload.size);
        }
    }
    (files, vec![attachment])
}

impl From<FilesError> for ChatError {
    fn from(e: FilesError) -> ChatError {
        ChatError::Files(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_lists() {
        assert!(type_listed("image/svg+xml", "image/svg+xml"));
        assert!(type_listed("image/*, application/pdf", "IMAGE/PNG"));
        assert!(type_listed("image/*, application/pdf", "application/pdf"));
        assert!(!type_listed("image/*", "application/pdf"));
        assert!(!type_listed("", "image/png"));
    }

    #[test]
    fn only_safe_media_is_inline() {
        assert!(inline_safe("image/png"));
        assert!(inline_safe("video/mp4"));
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/pdf",
            "text/xml",
            "",
        ] {
            assert!(!inline_safe(t), "{t}");
        }
    }

    #[test]
    fn media_types_follow_rocket_chat() {
        assert_eq!(
            media_type_of("application/octet-stream", "a.lst"),
            "text/plain"
        );
        assert_eq!(
            media_type_of("application/octet-stream", "d.drawio"),
            "application/octet-stream"
        );
        assert_eq!(media_type_of("image/png", "logo.png"), "image/png");
        assert_eq!(
            media_type_of("application/octet-stream", "logo.png"),
            "image/png"
        );
        assert_eq!(media_type_of("image/jpeg", "x.jpg"), "image/jpeg");
        // A known declared type wins over a misleading name.
        assert_eq!(media_type_of("image/png", "x.txt"), "image/png");
        assert_eq!(format_of("a.lst"), "LST");
        assert_eq!(format_of("noext"), "file");
        assert_eq!(format_of(".hidden"), "file");
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\x\\a b.txt"), "a b.txt");
        assert_eq!(sanitize_name("a\nb"), "ab");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(""), "file");
    }
}
