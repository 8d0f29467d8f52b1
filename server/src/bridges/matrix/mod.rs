//! Palaver as a Matrix application service.
//!
//! - [`appservice`]: the HTTP API the homeserver calls (its own listener):
//!   transactions of events (deduplicated durably by transaction id, each event
//!   applied once through the chat services), and the user and alias queries that
//!   let Matrix users reach `@palaver_<username>` puppets and `#palaver_<name>` rooms.
//! - [`outbound`]: Palaver's events in bridged rooms become `matrix` items of the
//!   delivery queue, delivered one at a time and in order per room; each send uses
//!   the item's id as Matrix transaction id, so a repeated attempt is one event.
//! - The store keeps the links (rooms, users, events) and the handled transactions.
//!
//! Matrix users appear as remote Palaver users (`<localpart>_<server>`, no login);
//! Palaver users act on Matrix as `@palaver_<username>:<server>`.

pub mod appservice;
pub mod client;
pub mod config;
pub mod content;
pub mod format;
pub mod outbound;
pub mod profiles;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::chat::rooms::RoomRef;
use crate::chat::{Chat, ChatError, ChatResult};
use crate::store::matrix::{MatrixRoomLink, MatrixUserLink};
use crate::store::{DynStore, Room, RoomType, Ts, User};
use client::{CallError, HomeserverClient};
pub use config::{MatrixConfig, Registration};

/// The bridge: its configuration, the homeserver client, and what it caches.
pub struct MatrixBridge {
    chat: Arc<Chat>,
    store: DynStore,
    config: MatrixConfig,
    registration: Registration,
    hs: HomeserverClient,
    /// One transaction at a time (the homeserver sends them in order anyway).
    txn_lock: tokio::sync::Mutex<()>,
    /// (puppet, Matrix room) pairs known to be joined.
    joined: Mutex<HashSet<(String, String)>>,
}

fn homeserver_error(e: CallError) -> ChatError {
    ChatError::refused("error-matrix-homeserver", e.message)
}

impl MatrixBridge {
    pub fn new(
        chat: Arc<Chat>,
        store: DynStore,
        config: MatrixConfig,
        registration: Registration,
    ) -> Arc<MatrixBridge> {
        let hs = HomeserverClient::new(config.homeserver(), registration.as_token.clone());
        Arc::new(MatrixBridge {
            chat,
            store,
            config,
            registration,
            hs,
            txn_lock: tokio::sync::Mutex::new(()),
            joined: Mutex::new(HashSet::new()),
        })
    }

    pub fn config(&self) -> &MatrixConfig {
        &self.config
    }

    pub fn bot_mxid(&self) -> String {
        format!("@{}:{}", config::SENDER_LOCALPART, self.config.server_name)
    }

    /// The puppet of a Palaver username.
    pub fn puppet_mxid(&self, username: &str) -> String {
        format!(
            "@{}{}:{}",
            config::PREFIX,
            username.to_lowercase(),
            self.config.server_name
        )
    }

    /// Whether a Matrix user is the bridge's own (its bot or a puppet): their
    /// events are echoes of what Palaver sent.
    pub fn is_ours(&self, mxid: &str) -> bool {
        let Some((local, server)) = mxid.trim_start_matches('@').split_once(':') else {
            return false;
        };
        server == self.config.server_name
            && (local == config::SENDER_LOCALPART || local.starts_with(config::PREFIX))
    }

    /// The Palaver username of a Matrix user: `alice_example.org` for
    /// `@alice:example.org` (letters, digits, `.`, `_`, `-` only).
    pub fn remote_username(mxid: &str) -> String {
        let id = mxid.trim_start_matches('@');
        let (local, server) = id.split_once(':').unwrap_or((id, ""));
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let mut name = format!("{}_{}", clean(local), clean(server));
        name.truncate(64);
        name
    }

    fn link_error(e: crate::store::StoreError) -> ChatError {
        ChatError::Store(e)
    }

    /// The Palaver user of a Matrix user (created on first sight).
    pub async fn remote_user(&self, mxid: &str, display: Option<&str>) -> ChatResult<User> {
        let display = display.filter(|d| !d.trim().is_empty());
        if let Some(link) = self.store.matrix_user_by_mxid(mxid).await? {
            if let Some(user) = self.store.user_by_id(&link.user_id).await? {
                if let Some(d) = display {
                    if d != user.name {
                        return self.chat.ensure_remote_user(&user.username, d, mxid).await;
                    }
                }
                return Ok(user);
            }
        }
        let name = display.unwrap_or(mxid);
        let user = self
            .chat
            .ensure_remote_user(&Self::remote_username(mxid), name, mxid)
            .await?;
        self.store
            .put_matrix_user(&MatrixUserLink {
                user_id: user.id.clone(),
                mxid: mxid.to_string(),
                remote: true,
                display_name: None,
                avatar: None,
            })
            .await
            .map_err(Self::link_error)?;
        Ok(user)
    }

    /// Whether a Palaver user is a Matrix user's mirror.
    pub async fn is_remote(&self, user_id: &str) -> ChatResult<bool> {
        Ok(self
            .store
            .matrix_user_by_user(user_id)
            .await?
            .is_some_and(|l| l.remote))
    }

    /// Makes `user` a member of `room` (a remote user joining from Matrix).
    pub async fn ensure_member(&self, user: &User, room: &Room) -> ChatResult<()> {
        if self.store.subscription(&room.id, &user.id).await?.is_some() {
            return Ok(());
        }
        match room.t {
            RoomType::Channel => self.chat.join_room(user, &room.id).await.map(drop),
            // A bridged group admits whoever is in the Matrix room: the admin
            // bridged it.
            _ => self.chat.add_member(user, room, user, "uj").await.map(drop),
        }
    }

    /// The puppet of a Palaver user: registered, with their display name and
    /// avatar (each set again only when it changed since last synced).
    pub async fn puppet(&self, user: &User) -> Result<String, CallError> {
        let mxid = self.puppet_mxid(&user.username);
        let link = self
            .store
            .matrix_user_by_user(&user.id)
            .await
            .map_err(|e| CallError {
                status: None,
                errcode: None,
                message: e.to_string(),
            })?;
        let name = if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        };
        let link = link.filter(|l| l.mxid == mxid);
        let name_synced = link
            .as_ref()
            .is_some_and(|l| l.display_name.as_deref() == Some(name.as_str()));
        // A new puppet has no avatar on Matrix: synced when the user has none.
        let synced_avatar = link.as_ref().and_then(|l| l.avatar.clone());
        let avatar_synced = synced_avatar == user.avatar_etag;
        if name_synced && avatar_synced {
            return Ok(mxid);
        }
        if !name_synced {
            let local = mxid
                .trim_start_matches('@')
                .split(':')
                .next()
                .unwrap_or_default();
            self.hs.register(local).await?;
            self.hs.set_displayname(&mxid, name).await?;
        }
        if !avatar_synced {
            self.sync_puppet_avatar(user, &mxid).await?;
        }
        let stored = self
            .store
            .put_matrix_user(&MatrixUserLink {
                user_id: user.id.clone(),
                mxid: mxid.clone(),
                remote: false,
                display_name: Some(name.clone()),
                avatar: user.avatar_etag.clone(),
            })
            .await;
        if let Err(e) = stored {
            tracing::warn!(user_id = %user.id, error = %e, "matrix: puppet link not stored");
        }
        Ok(mxid)
    }

    /// Makes the puppet a member of the Matrix room (invited by the bot first, for
    /// rooms that are not public).
    pub async fn puppet_in_room(&self, mxid: &str, matrix_room_id: &str) -> Result<(), CallError> {
        let key = (mxid.to_string(), matrix_room_id.to_string());
        if self
            .joined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        if let Err(first) = self.hs.join(Some(mxid), matrix_room_id).await {
            if first.status.is_none() {
                return Err(first);
            }
            self.hs.invite(None, matrix_room_id, mxid).await?;
            self.hs.join(Some(mxid), matrix_room_id).await?;
        }
        self.joined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
        Ok(())
    }

    pub fn forget_membership(&self, mxid: &str, matrix_room_id: &str) {
        self.joined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(mxid.to_string(), matrix_room_id.to_string()));
    }

    /// An admin bridges a Palaver room (channel or private group) to a Matrix room
    /// given by id (`!x:server`) or alias (`#x:server`); the bot joins it.
    pub async fn bridge_room(
        &self,
        actor: &User,
        rid: &str,
        target: &str,
    ) -> ChatResult<MatrixRoomLink> {
        crate::chat::accounts::require_admin(actor)?;
        let room = self.chat.room(RoomRef::Id(rid)).await?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Direct messages cannot be bridged",
            ));
        }
        let target = target.trim();
        let (matrix_room_id, alias) = if target.starts_with('#') {
            let id = self
                .hs
                .resolve_alias(target)
                .await
                .map_err(homeserver_error)?;
            (id, Some(target.to_string()))
        } else if target.len() > 1 && target.starts_with('!') {
            // Room version 12 ids have no server part.
            (target.to_string(), None)
        } else {
            return Err(ChatError::invalid(
                "matrixRoom must be a Matrix room id (!id) or alias (#alias:server)",
            ));
        };
        if let Some(other) = self.store.matrix_room_by_matrix(&matrix_room_id).await? {
            if other.room_id != room.id {
                return Err(ChatError::refused(
                    "error-matrix-room-bridged",
                    format!("{matrix_room_id} is bridged to another room already"),
                ));
            }
        }
        self.hs
            .join(None, &matrix_room_id)
            .await
            .map_err(homeserver_error)?;
        let link = MatrixRoomLink {
            room_id: room.id.clone(),
            matrix_room_id,
            alias,
            explicit: true,
            created_at: Ts::now(),
        };
        self.store.put_matrix_room(&link).await?;
        tracing::info!(room_id = %room.id, matrix_room_id = %link.matrix_room_id, "matrix: room bridged");
        Ok(link)
    }

    pub async fn unbridge_room(&self, actor: &User, rid: &str) -> ChatResult<bool> {
        crate::chat::accounts::require_admin(actor)?;
        let removed = self.store.delete_matrix_room(rid).await?;
        if removed {
            tracing::info!(room_id = %rid, "matrix: room unbridged");
        }
        Ok(removed)
    }

    pub async fn bridged_rooms(&self, actor: &User) -> ChatResult<Vec<MatrixRoomLink>> {
        crate::chat::accounts::require_admin(actor)?;
        Ok(self.store.matrix_rooms().await?)
    }

    /// The homeserver asks about `#palaver_<name>:<server>`: a public channel of that
    /// name gets a Matrix room (created by the bot, with that alias). Private
    /// groups are reachable only when an admin bridged them.
    pub async fn open_alias(&self, alias: &str) -> Result<bool, ChatError> {
        let suffix = format!(":{}", self.config.server_name);
        let Some(name) = alias
            .strip_prefix('#')
            .and_then(|a| a.strip_prefix(config::PREFIX))
            .and_then(|a| a.strip_suffix(&suffix))
        else {
            return Ok(false);
        };
        let room = match self.chat.room(RoomRef::Name(name)).await {
            Ok(room) => room,
            Err(_) => return Ok(false),
        };
        if room.t != RoomType::Channel {
            return Ok(false);
        }
        if self.store.matrix_room_by_room(&room.id).await?.is_some() {
            // Bridged to another Matrix room already: that one has the conversation.
            return Ok(false);
        }
        let topic = room.topic.clone().unwrap_or_default();
        let body = json!({
            "room_alias_name": format!("{}{}", config::PREFIX, name),
            "name": room.fname.clone().unwrap_or_else(|| room.name.clone().unwrap_or_default()),
            "topic": topic,
            "preset": "public_chat",
            "visibility": "private",
        });
        let matrix_room_id = self.hs.create_room(body).await.map_err(homeserver_error)?;
        self.store
            .put_matrix_room(&MatrixRoomLink {
                room_id: room.id.clone(),
                matrix_room_id: matrix_room_id.clone(),
                alias: Some(alias.to_string()),
                explicit: false,
                created_at: Ts::now(),
            })
            .await?;
        tracing::info!(room_id = %room.id, %matrix_room_id, alias, "matrix: channel opened through its alias");
        Ok(true)
    }

    /// The homeserver asks about `@palaver_<username>:<server>`: a Palaver user of
    /// that name gets their puppet.
    pub async fn open_user(&self, mxid: &str) -> Result<bool, ChatError> {
        let suffix = format!(":{}", self.config.server_name);
        let Some(username) = mxid
            .strip_prefix('@')
            .and_then(|a| a.strip_prefix(config::PREFIX))
            .and_then(|a| a.strip_suffix(&suffix))
        else {
            return Ok(false);
        };
        let Some(user) = self.store.user_by_username(username).await? else {
            return Ok(false);
        };
        if self.is_remote(&user.id).await? {
            return Ok(false);
        }
        self.puppet(&user).await.map_err(homeserver_error)?;
        Ok(true)
    }
}
