//! Avatars of users and rooms: set from an uploaded image, a URL (fetched through
//! the guarded outbound client) or the directory's photo, reset, and served
//! resized with an ETag; the initials SVG when there is none.
//!
//! An avatar is stored once as a square of `Accounts_AvatarSize` pixels in the file
//! storage, recorded as an upload of `type_group` `avatar` (so storage migration and
//! room deletion see it); the user or room carries `avatarETag` and the record's id.
//! Smaller sizes are scaled on demand and kept in a bounded memory cache.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::error::{ChatError, ChatResult};
use super::events::{AvatarOwner, Event};
use super::media::{body_of, media_error};
use super::permissions::Perm;
use super::{ids, Chat};
use crate::media::{self, Encoded};
use crate::outbound::{HttpPolicy, OperatorAllow, OutboundRequest};
use crate::store::uploads::{ImageDimensions, Upload, UploadState, TYPE_GROUP_AVATAR};
use crate::store::{Room, RoomType, Ts, User};

/// Smallest and largest `?size=` served (Rocket.Chat's bounds).
const MIN_SIZE: u32 = 16;
const MAX_SIZE: u32 = 1024;

/// Where a new avatar comes from.
pub enum AvatarSource {
    /// An uploaded image with its declared type.
    Image {
        bytes: Vec<u8>,
        content_type: String,
    },
    /// A URL the user gave (`avatarUrl`).
    Url(String),
}

/// Whose avatar: the caller or another user (`userId` or `username`).
pub enum AvatarTarget<'a> {
    Me,
    Id(&'a str),
    Username(&'a str),
}

/// An avatar to send.
pub enum AvatarImage {
    Stored {
        image: Arc<Encoded>,
        /// Changes with the image and the size.
        etag: String,
    },
    /// No avatar: draw the initials of this name.
    Initials { name: String },
}

impl Chat {
    /// `users.setAvatar`: checks the setting and permissions, then stores the image.
    pub async fn set_user_avatar(
        &self,
        actor: &User,
        target: AvatarTarget<'_>,
        source: AvatarSource,
    ) -> ChatResult<User> {
        let user = self.avatar_target(actor, target).await?;
        let (bytes, origin) = match source {
            AvatarSource::Image {
                bytes,
                content_type,
            } => {
                if !content_type.to_ascii_lowercase().starts_with("image/") {
                    return Err(ChatError::refused(
                        "error-invalid-file-type",
                        "File type is not accepted",
                    ));
                }
                (bytes, "rest")
            }
            AvatarSource::Url(url) => (self.fetch_avatar(&url).await?, "url"),
        };
        let etag = ids::new_id();
        self.store_user_avatar(user, &bytes, origin, etag).await
    }

    /// `users.resetAvatar`: back to the initials.
    pub async fn reset_user_avatar(
        &self,
        actor: &User,
        target: AvatarTarget<'_>,
    ) -> ChatResult<()> {
        let user = self.avatar_target(actor, target).await?;
        self.clear_user_avatar(user).await?;
        tracing::info!(actor_id = %actor.id, "avatar reset");
        Ok(())
    }

    /// A remote user's avatar brought from their network (the Matrix bridge):
    /// an image of `content_type`, stored like any avatar; `origin` names the
    /// network. The etag is the image's digest, so the same picture is not
    /// stored twice.
    pub async fn set_avatar_from_peer(
        &self,
        user: &User,
        bytes: &[u8],
        content_type: &str,
        origin: &str,
    ) -> ChatResult<User> {
        if !content_type.to_ascii_lowercase().starts_with("image/") {
            return Err(ChatError::refused(
                "error-invalid-file-type",
                format!("The avatar is not an image ({content_type})"),
            ));
        }
        let etag = hex::encode(&Sha256::digest(bytes)[..12]);
        let current = self
            .store
            .user_by_id(&user.id)
            .await?
            .ok_or_else(ChatError::user_not_found)?;
        if current.avatar_origin.as_deref() == Some(origin)
            && current.avatar_etag.as_deref() == Some(etag.as_str())
        {
            return Ok(current);
        }
        self.store_user_avatar(current, bytes, origin, etag).await
    }

    /// A remote user's network removed their avatar: back to the initials.
    pub async fn clear_peer_avatar(&self, user: &User) -> ChatResult<User> {
        let current = self
            .store
            .user_by_id(&user.id)
            .await?
            .ok_or_else(ChatError::user_not_found)?;
        if current.avatar_file_id.is_none() && current.avatar_etag.is_none() {
            return Ok(current);
        }
        self.clear_user_avatar(current).await
    }

    async fn clear_user_avatar(&self, mut user: User) -> ChatResult<User> {
        let old = user.avatar_file_id.take();
        user.avatar_etag = None;
        user.avatar_origin = None;
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        self.drop_avatar_file(old).await;
        tracing::info!(user_id = %user.id, "avatar cleared");
        self.avatar_changed(
            AvatarOwner::User {
                username: user.username.clone(),
            },
            None,
        );
        // The Matrix bridge follows profile changes (its puppets' avatars).
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    /// The directory's photo (LDAP `thumbnailPhoto`/`jpegPhoto`) as the user's
    /// avatar; returns the updated user, `None` when the photo is the one already
    /// set from it.
    pub async fn set_avatar_from_directory(
        &self,
        user: &User,
        photo: &[u8],
    ) -> ChatResult<Option<User>> {
        let etag = hex::encode(&Sha256::digest(photo)[..12]);
        if user.avatar_origin.as_deref() == Some("ldap")
            && user.avatar_etag.as_deref() == Some(etag.as_str())
        {
            return Ok(None);
        }
        let Some(current) = self.store.user_by_id(&user.id).await? else {
            return Err(ChatError::user_not_found());
        };
        Ok(Some(
            self.store_user_avatar(current, photo, "ldap", etag).await?,
        ))
    }

    /// A picture URL an identity provider names (OAuth `avatar_field`) as the user's
    /// avatar: fetched through the outbound guard like `avatarUrl`, no permission
    /// check (the provider is configured by an admin), origin `origin`.
    pub async fn set_avatar_from_url(
        &self,
        user: &User,
        url: &str,
        origin: &str,
    ) -> ChatResult<User> {
        let bytes = self.fetch_avatar(url).await?;
        let Some(current) = self.store.user_by_id(&user.id).await? else {
            return Err(ChatError::user_not_found());
        };
        let etag = ids::new_id();
        self.store_user_avatar(current, &bytes, origin, etag).await
    }

    /// Removes a deleted user's avatar file.
    pub(crate) async fn remove_user_avatar(&self, user: &User) {
        self.drop_avatar_file(user.avatar_file_id.clone()).await;
    }

    /// `rooms.saveRoomSettings`' `roomAvatar`: a data URI, or empty to reset
    /// (needs `edit-room`).
    pub async fn set_room_avatar(&self, actor: &User, rid: &str, data_uri: &str) -> ChatResult<()> {
        let Some(mut room) = self.store.room_by_id(rid).await? else {
            return Err(ChatError::refused("error-invalid-room", "Invalid room"));
        };
        self.require_room_permission(
            actor,
            Perm::EDIT_ROOM,
            &room,
            "error-action-not-allowed",
            "Editing room is not allowed",
        )
        .await?;
        let old = room.avatar_file_id.take();
        if data_uri.trim().is_empty() {
            room.avatar_etag = None;
        } else {
            let bytes = parse_data_uri(data_uri)?;
            let (record, _) = self
                .store_avatar_image(&bytes, &room.id, &actor.id, &actor.username)
                .await?;
            room.avatar_etag = Some(ids::new_id());
            room.avatar_file_id = Some(record.id);
        }
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        self.drop_avatar_file(old).await;
        self.avatar_changed(
            AvatarOwner::Room {
                rid: room.id.clone(),
            },
            room.avatar_etag.clone(),
        );
        tracing::info!(room_id = %room.id, user_id = %actor.id, "room avatar changed");
        Ok(())
    }

    /// `GET /avatar/:username`: the user's avatar at `size`, or their initials.
    pub async fn user_avatar(&self, username: &str, size: Option<u32>) -> ChatResult<AvatarImage> {
        let user = self.store.user_by_username(username).await?;
        let Some(user) = user else {
            return Ok(AvatarImage::Initials {
                name: username.to_string(),
            });
        };
        match (&user.avatar_file_id, &user.avatar_etag) {
            (Some(file), Some(etag)) => self.stored_avatar(file, etag, size, &user.username).await,
            _ => Ok(AvatarImage::Initials {
                name: user.username,
            }),
        }
    }

    /// `GET /avatar/room/:rid`: the room's avatar, or the initials of its name
    /// (a direct message: of the other member). `None`: no such room.
    pub async fn room_avatar(
        &self,
        rid: &str,
        size: Option<u32>,
    ) -> ChatResult<Option<AvatarImage>> {
        let Some(room) = self.store.room_by_id(rid).await? else {
            return Ok(None);
        };
        let name = room_display_name(&room);
        Ok(Some(match (&room.avatar_file_id, &room.avatar_etag) {
            (Some(file), Some(etag)) => self.stored_avatar(file, etag, size, &name).await?,
            _ => AvatarImage::Initials { name },
        }))
    }

    /// Resolves whose avatar changes and checks the caller may change it.
    async fn avatar_target(&self, actor: &User, target: AvatarTarget<'_>) -> ChatResult<User> {
        let edit_other = self
            .has_permission(actor, Perm::EDIT_OTHER_USER_AVATAR, None)
            .await?;
        if !self.settings().bool("Accounts_AllowUserAvatarChange") && !edit_other {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Change avatar is not allowed",
            ));
        }
        let user = match target {
            AvatarTarget::Me => None,
            AvatarTarget::Id(id) => Some(self.store.user_by_id(id).await?),
            AvatarTarget::Username(name) => Some(self.store.user_by_username(name).await?),
        };
        match user {
            None => self
                .store
                .user_by_id(&actor.id)
                .await?
                .ok_or_else(ChatError::user_not_found),
            Some(None) => Err(ChatError::refused(
                "error-invalid-user",
                "The optional \"userId\" or \"username\" param provided does not match any users",
            )),
            Some(Some(u)) if u.id == actor.id || edit_other => Ok(u),
            Some(Some(_)) => Err(ChatError::refused("error-not-allowed", "Not allowed")),
        }
    }

    /// Fetches `avatarUrl` through the guarded client: any public host, private
    /// addresses only if the operator allows them, no redirect to elsewhere
    /// unvetted, an image content type, bounded size and time.
    async fn fetch_avatar(&self, url: &str) -> ChatResult<Vec<u8>> {
        let invalid = || {
            ChatError::refused(
                "error-avatar-invalid-url",
                format!("Invalid avatar URL: {url}"),
            )
        };
        let allow: Vec<OperatorAllow> = self
            .opts
            .outbound_allow
            .iter()
            .filter_map(|a| OperatorAllow::parse(a).ok())
            .collect();
        let mut policy = HttpPolicy::public(allow);
        policy.max_response_bytes = usize::try_from(self.avatar_max_bytes()).unwrap_or(usize::MAX);
        let response = self
            .avatar_http()
            .send(&policy, OutboundRequest::get(url))
            .await
            .map_err(|e| {
                tracing::info!(url, error = %e, "avatar URL refused or failed");
                ChatError::refused(
                    "error-avatar-invalid-url",
                    format!("Invalid avatar URL: {url} ({e})"),
                )
            })?;
        if response.status != 200 {
            return Err(invalid());
        }
        let content_type = response
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        if !content_type.starts_with("image/") {
            return Err(invalid());
        }
        Ok(response.body)
    }

    /// The largest avatar image accepted, in bytes.
    pub(crate) fn avatar_max_bytes(&self) -> u64 {
        let max = self.settings().int("FileUpload_MaxFileSize");
        let limit = u64::try_from(max).unwrap_or(u64::MAX);
        limit.min(self.opts.image_max_bytes)
    }

    /// Makes and stores the square image; returns its record and image.
    async fn store_avatar_image(
        &self,
        bytes: &[u8],
        rid: &str,
        user_id: &str,
        username: &str,
    ) -> ChatResult<(Upload, Encoded)> {
        if bytes.len() as u64 > self.avatar_max_bytes() {
            return Err(ChatError::refused(
                "error-file-too-large",
                format!(
                    "The avatar is larger than the limit of {} bytes",
                    self.avatar_max_bytes()
                ),
            ));
        }
        let size = u32::try_from(self.settings().int("Accounts_AvatarSize"))
            .unwrap_or(200)
            .clamp(MIN_SIZE, MAX_SIZE);
        let max = self.image_max_pixels();
        let owned = bytes.to_vec();
        let image = self
            .image_job(move || media::avatar(&owned, max, size))
            .await?
            .map_err(media_error)?;
        let storage = self.file_storage()?;
        let id = ids::new_id();
        let mut record = Upload {
            key: format!("avatars/{id}"),
            id,
            name: "avatar".into(),
            size: 0,
            content_type: image.content_type.to_string(),
            sha256: String::new(),
            rid: rid.to_string(),
            user_id: user_id.to_string(),
            username: username.to_string(),
            store: storage.backend_name().to_string(),
            state: UploadState::Uploading,
            uploaded_at: Ts::now(),
            expires_at: None,
            message_id: None,
            description: None,
            dimensions: Some(ImageDimensions {
                width: image.width,
                height: image.height,
            }),
            format: Some(image.content_type.trim_start_matches("image/").to_string()),
            preview: None,
            thumb_id: None,
            type_group: Some(TYPE_GROUP_AVATAR.into()),
            original_file_id: None,
        };
        self.store.insert_upload(&record).await?;
        match storage
            .put(&record.key, body_of(image.bytes.clone()), None)
            .await
        {
            Ok(stored) => {
                record.size = stored.size;
                record.sha256 = stored.sha256;
                record.state = UploadState::Stored;
                self.store.update_upload(&record).await?;
                Ok((record, image))
            }
            Err(e) => {
                self.remove_uploads(vec![record]).await;
                Err(e.into())
            }
        }
    }

    async fn store_user_avatar(
        &self,
        mut user: User,
        bytes: &[u8],
        origin: &str,
        etag: String,
    ) -> ChatResult<User> {
        let (record, _) = self
            .store_avatar_image(bytes, "", &user.id, &user.username)
            .await?;
        let old = user.avatar_file_id.replace(record.id);
        user.avatar_etag = Some(etag);
        user.avatar_origin = Some(origin.to_string());
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        self.drop_avatar_file(old).await;
        self.avatar_changed(
            AvatarOwner::User {
                username: user.username.clone(),
            },
            user.avatar_etag.clone(),
        );
        tracing::info!(user_id = %user.id, origin, "avatar set");
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    /// Tells every logged-in client (`updateAvatar`), here and on other instances.
    fn avatar_changed(&self, owner: AvatarOwner, etag: Option<String>) {
        self.bus.publish(Event::AvatarChanged { owner, etag });
    }

    async fn drop_avatar_file(&self, file_id: Option<String>) {
        let Some(id) = file_id else { return };
        match self.store.upload(&id).await {
            Ok(Some(record)) => {
                self.remove_uploads(vec![record]).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(file_id = %id, error = %e, "cannot find an old avatar"),
        }
    }

    /// The stored avatar, scaled down to `size` when asked (cached).
    async fn stored_avatar(
        &self,
        file_id: &str,
        etag: &str,
        size: Option<u32>,
        name: &str,
    ) -> ChatResult<AvatarImage> {
        let record = self.store.upload(file_id).await?.filter(|u| {
            u.state == UploadState::Stored && u.type_group.as_deref() == Some(TYPE_GROUP_AVATAR)
        });
        let Some(record) = record else {
            tracing::warn!(file_id, "avatar record missing; initials served");
            return Ok(AvatarImage::Initials {
                name: name.to_string(),
            });
        };
        let full = record.dimensions.as_ref().map_or(0, |d| d.width);
        let size = size
            .map(|s| s.clamp(MIN_SIZE, MAX_SIZE))
            .filter(|s| *s < full);
        let key = size.unwrap_or(0);
        let cached = self
            .media
            .scaled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(file_id, key);
        let image = match cached {
            Some(image) => image,
            None => {
                let bytes = self
                    .storage_for(&record.store)?
                    .read_all(&record.key, 64 << 20)
                    .await?;
                let image = match size {
                    None => Encoded {
                        bytes,
                        content_type: if record.content_type == "image/png" {
                            "image/png"
                        } else {
                            "image/jpeg"
                        },
                        width: full,
                        height: full,
                    },
                    Some(s) => {
                        let max = self.image_max_pixels();
                        self.image_job(move || media::scale_avatar(&bytes, max, s))
                            .await?
                            .map_err(media_error)?
                    }
                };
                let image = Arc::new(image);
                self.media
                    .scaled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(file_id, key, image.clone());
                image
            }
        };
        Ok(AvatarImage::Stored {
            etag: format!("{etag}-{}", image.width),
            image,
        })
    }
}

/// What a room's initials are drawn from.
fn room_display_name(room: &Room) -> String {
    match room.t {
        RoomType::Direct => room
            .fname
            .clone()
            .or_else(|| room.name.clone())
            .unwrap_or_else(|| "?".into()),
        _ => room
            .name
            .clone()
            .or_else(|| room.fname.clone())
            .unwrap_or_else(|| "?".into()),
    }
}

/// The bytes of a `data:image/…;base64,…` URI.
fn parse_data_uri(uri: &str) -> ChatResult<Vec<u8>> {
    use base64::Engine;
    let invalid = || {
        ChatError::refused(
            "error-invalid-image",
            "The room avatar must be a base64 image data URI",
        )
    };
    let rest = uri.trim().strip_prefix("data:").ok_or_else(invalid)?;
    let (meta, data) = rest.split_once(',').ok_or_else(invalid)?;
    if !meta.to_ascii_lowercase().starts_with("image/") || !meta.ends_with(";base64") {
        return Err(invalid());
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris() {
        assert_eq!(
            parse_data_uri("data:image/png;base64,AAEC").unwrap(),
            vec![0, 1, 2]
        );
        assert!(parse_data_uri("data:text/html;base64,AAEC").is_err());
        assert!(parse_data_uri("https://x/y.png").is_err());
        assert!(parse_data_uri("data:image/png,AAEC").is_err());
    }
}
