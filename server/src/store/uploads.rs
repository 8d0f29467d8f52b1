//! Records of uploaded files: where the object lives, its size, sha256 and content
//! type, the room and message it belongs to. The bytes live in the object storage
//! (`crate::files`); this is the index that says what they are.
//!
//! Life of a record: inserted `Uploading` with an expiry before the first byte is
//! stored (so a crash mid-upload leaves a record the sweeper finds), `Stored` once
//! the object is complete, confirmed (expiry cleared, message set) when posted.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadState {
    /// Bytes are being written; the object may be absent or partial.
    Uploading,
    /// The object is complete and matches `size` and `sha256`.
    Stored,
}

/// Image facts recorded at upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDimensions {
    pub width: u32,
    pub height: u32,
}

/// One uploaded file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    #[serde(rename = "_id")]
    pub id: String,
    /// The file name as the user gave it (or `fileName` at confirmation).
    pub name: String,
    pub size: u64,
    /// The content type as recorded (sniffed or declared, then vetted).
    #[serde(rename = "type")]
    pub content_type: String,
    /// Lower-case hex sha256 of the stored bytes (empty while uploading).
    pub sha256: String,
    pub rid: String,
    #[serde(rename = "userId")]
    pub user_id: String,
    pub username: String,
    /// Which backend holds the object (`local`, `s3`, `webdav`) and under which key.
    pub store: String,
    pub key: String,
    pub state: UploadState,
    #[serde(rename = "uploadedAt")]
    pub uploaded_at: Ts,
    /// Set until the upload is confirmed into a message; the sweeper removes
    /// records (and objects) past it.
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Ts>,
    /// The message the file was posted with.
    #[serde(rename = "messageId", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<ImageDimensions>,
    /// The image format read from the bytes (`jpeg`, `png`, `gif`, `webp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The blurred base64 JPEG preview of an image (`image_preview`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// The thumbnail made from this image at upload, if it was larger than one.
    #[serde(rename = "thumbId", default, skip_serializing_if = "Option::is_none")]
    pub thumb_id: Option<String>,
    /// `thumb` (a thumbnail of `original_file_id`) or `avatar` (a user's or room's
    /// avatar); absent for files people posted. Only posted files are listed.
    #[serde(rename = "typeGroup", default, skip_serializing_if = "Option::is_none")]
    pub type_group: Option<String>,
    #[serde(
        rename = "originalFileId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub original_file_id: Option<String>,
}

/// `type_group` of thumbnails.
pub const TYPE_GROUP_THUMB: &str = "thumb";
/// `type_group` of avatars.
pub const TYPE_GROUP_AVATAR: &str = "avatar";
/// `type_group` of data exports (`rooms.export`): only the person who asked for
/// one may download it.
pub const TYPE_GROUP_EXPORT: &str = "export";

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// `Conflict("id")` if the id exists.
    async fn insert_upload(&self, upload: &Upload) -> StoreResult<()>;
    async fn upload(&self, id: &str) -> StoreResult<Option<Upload>>;
    /// Replaces the record (same id); `false` if there is none.
    async fn update_upload(&self, upload: &Upload) -> StoreResult<bool>;
    async fn delete_upload(&self, id: &str) -> StoreResult<bool>;
    /// Confirmed files of a room (no expiry, no `type_group`: thumbnails and
    /// avatars are left out), newest first; `name` filters by a case-insensitive
    /// substring of the file name.
    async fn room_uploads(
        &self,
        rid: &str,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Listing<Upload>>;
    /// Every record of a room, confirmed or not (for deleting the room).
    async fn all_room_uploads(&self, rid: &str) -> StoreResult<Vec<Upload>>;
    /// Records attached to a message.
    async fn message_uploads(&self, message_id: &str) -> StoreResult<Vec<Upload>>;
    /// Up to `limit` records whose expiry is at or before `now`, oldest expiry first.
    async fn expired_uploads(&self, now: Ts, limit: u64) -> StoreResult<Vec<Upload>>;
    /// Up to `limit` stored records whose object lives on another backend than
    /// `store` (what `palaver files migrate` has left to copy), oldest first.
    async fn uploads_elsewhere(&self, store: &str, limit: u64) -> StoreResult<Vec<Upload>>;
    /// How many stored records live on another backend than `store`.
    async fn count_uploads_elsewhere(&self, store: &str) -> StoreResult<u64>;
}
