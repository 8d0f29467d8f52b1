//! Avatars both ways.
//!
//! - Palaver → Matrix: a puppet's `avatar_url` follows its Palaver user's avatar.
//!   The image is uploaded to the homeserver's media repository as the puppet and
//!   set on its profile (the homeserver updates its member events in every room);
//!   a reset avatar removes it. The link remembers the `avatarETag` synced, so an
//!   unchanged avatar is never uploaded again.
//! - Matrix → Palaver: a Matrix user's member event carrying `avatar_url`
//!   (`mxc://`) brings the image, downloaded through the homeserver (at most
//!   [`REMOTE_AVATAR_MAX`]), as their remote user's avatar; an event without one
//!   clears it. The link remembers the `mxc://` URL brought over.

use super::client::CallError;
use super::MatrixBridge;
use crate::chat::avatars::AvatarImage;
use crate::chat::ChatError;
use crate::store::{StoreError, User};

/// The largest Matrix avatar brought over (10 MiB); the chat's own avatar limit
/// applies as well.
pub const REMOTE_AVATAR_MAX: usize = 10 << 20;

/// The avatar origin of remote users' avatars (`avatarOrigin`).
pub const AVATAR_ORIGIN: &str = "matrix";

fn local_error(e: impl std::fmt::Display) -> CallError {
    CallError {
        status: None,
        errcode: None,
        message: e.to_string(),
    }
}

impl MatrixBridge {
    /// Sets the puppet's `avatar_url` to the Palaver user's avatar (uploaded
    /// first), or removes it when the user has none.
    pub(super) async fn sync_puppet_avatar(
        &self,
        user: &User,
        mxid: &str,
    ) -> Result<(), CallError> {
        let avatar = self
            .chat
            .user_avatar(&user.username, None)
            .await
            .map_err(local_error)?;
        let mxc = match avatar {
            AvatarImage::Stored { image, .. } => {
                let name = if image.content_type == "image/png" {
                    "avatar.png"
                } else {
                    "avatar.jpg"
                };
                let size = image.bytes.len() as u64;
                self.hs
                    .upload(
                        mxid,
                        name,
                        image.content_type,
                        reqwest::Body::from(image.bytes.clone()),
                        size,
                    )
                    .await?
            }
            AvatarImage::Initials { .. } => String::new(),
        };
        self.hs.set_avatar_url(mxid, &mxc).await?;
        tracing::info!(user_id = %user.id, mxid, avatar = %mxc, "matrix: puppet avatar synced");
        Ok(())
    }

    /// Brings a Matrix user's avatar (`avatar_url` of their member event) over as
    /// their remote user's avatar, or clears it. What cannot be brought (too
    /// large, not an image, media gone) is logged and tried again on their next
    /// member event; only storage failures are errors.
    pub(super) async fn sync_remote_avatar(
        &self,
        user: &User,
        mxid: &str,
        avatar_url: Option<&str>,
    ) -> Result<(), ChatError> {
        let wanted = avatar_url.filter(|u| !u.trim().is_empty());
        let Some(mut link) = self.store.matrix_user_by_mxid(mxid).await? else {
            return Ok(());
        };
        if !link.remote || link.avatar.as_deref() == wanted {
            return Ok(());
        }
        match wanted {
            None => {
                self.chat.clear_peer_avatar(user).await?;
            }
            Some(mxc) => {
                let (bytes, content_type) = match self
                    .hs
                    .download_capped(mxc, REMOTE_AVATAR_MAX)
                    .await
                {
                    Ok(media) => media,
                    Err(e) => {
                        tracing::info!(user_id = %user.id, mxid, mxc, error = %e, "matrix: avatar not brought over");
                        return Ok(());
                    }
                };
                let content_type = content_type.unwrap_or_default();
                let stored = self
                    .chat
                    .set_avatar_from_peer(user, &bytes, &content_type, AVATAR_ORIGIN)
                    .await;
                match stored {
                    Ok(_) => {}
                    Err(e @ ChatError::Store(StoreError::Backend(_) | StoreError::Full(_))) => {
                        return Err(e)
                    }
                    Err(e) => {
                        tracing::info!(user_id = %user.id, mxid, mxc, error = %e, "matrix: avatar not brought over");
                        return Ok(());
                    }
                }
            }
        }
        link.avatar = wanted.map(str::to_string);
        self.store.put_matrix_user(&link).await?;
        tracing::info!(user_id = %user.id, mxid, avatar = ?link.avatar, "matrix: remote avatar synced");
        Ok(())
    }
}
