//! What a fresh server has, as in Rocket.Chat: the built-in roles, the `#general`
//! channel every new user joins (like every channel marked default), and the
//! `rocket.cat` bot.

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::presence::ONLINE;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{roles, Room, RoomType, StoreError, Ts, User};
use sha2::{Digest, Sha256};

/// Rocket.Chat's ids for the first channel and the bot.
pub const GENERAL_ID: &str = "GENERAL";
pub const ROCKET_CAT_ID: &str = "rocket.cat";

impl Chat {
    /// Before the first account exists: the built-in roles, and on a server without
    /// users (a fresh one) the `#general` channel, marked default.
    pub async fn prepare_first_start(&self) -> ChatResult<()> {
        self.seed_roles().await?;
        if self.store.count_users().await? > 0 {
            return Ok(());
        }
        if self.store.room_by_name("general").await?.is_some() {
            return Ok(());
        }
        let now = Ts::now();
        let room = Room {
            avatar_etag: None,
            avatar_file_id: None,
            id: GENERAL_ID.into(),
            t: RoomType::Channel,
            name: Some("general".into()),
            fname: Some("general".into()),
            u: None,
            users_count: 0,
            msgs: 0,
            lm: None,
            last_message: None,
            ro: false,
            default: true,
            topic: None,
            description: None,
            announcement: None,
            archived: false,
            react_when_read_only: false,
            custom_fields: None,
            join_code: None,
            join_code_required: false,
            usernames: None,
            uids: None,
            ts: now,
            updated_at: now,
            extra: Default::default(),
        };
        match self.store.create_room(&room, &[]).await {
            // Another instance made it first.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(room_id = GENERAL_ID, "created #general");
        Ok(())
    }

    /// The `rocket.cat` bot, created when missing, as Rocket.Chat's: online (it never
    /// connects, and presence leaves alone those who never did), with an avatar
    /// etag. It has no password, so nobody logs in as it.
    pub async fn ensure_rocket_cat(&self) -> ChatResult<()> {
        if self.store.user_by_id(ROCKET_CAT_ID).await?.is_some()
            || self.store.user_by_username("rocket.cat").await?.is_some()
        {
            return Ok(());
        }
        let now = Ts::now();
        // Its avatar is its initials, drawn on demand like anyone's without a
        // picture, but named by an etag (the drawing's digest) as Rocket.Chat names
        // the picture it gives the bot, so clients cache it.
        let drawing = crate::media::initials_svg("rocket.cat", 200);
        let etag = hex::encode(&Sha256::digest(drawing.as_bytes())[..12]);
        let user = User {
            avatar_etag: Some(etag),
            avatar_origin: None,
            avatar_file_id: None,
            invite_token: None,
            require_password_change_reason: None,
            id: ROCKET_CAT_ID.into(),
            username: "rocket.cat".into(),
            name: "Rocket.Cat".into(),
            emails: Vec::new(),
            roles: vec![roles::BOT.into()],
            active: true,
            kind: "bot".into(),
            created_at: now,
            updated_at: now,
            last_login: None,
            require_password_change: false,
            bio: None,
            nickname: None,
            settings: Default::default(),
            custom_fields: None,
            status: Some(ONLINE.into()),
            status_connection: None,
            status_default: Some(ONLINE.into()),
            status_text: None,
            services: Default::default(),
        };
        match self.store.create_user(&user, None).await {
            Ok(()) => tracing::info!("created the rocket.cat bot"),
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Every channel or group marked default.
    pub async fn default_rooms(&self) -> ChatResult<Vec<Room>> {
        Ok(self.store.default_rooms().await?)
    }

    /// Adds a new user to every default room (Rocket.Chat's `addUserToDefaultChannels`).
    pub(crate) async fn join_default_channels(&self, user: &User) -> ChatResult<()> {
        if user.has_role(roles::BOT) && !user.has_role(roles::USER) {
            return Ok(());
        }
        for room in self.default_rooms().await? {
            self.add_member(user, &room, user, "uj").await?;
            // A default team brings its auto-join rooms along.
            if let Some(team_id) = room
                .extra
                .team_id
                .as_deref()
                .filter(|_| room.extra.team_main)
            {
                for team_room in self.team_default_rooms(team_id).await? {
                    if self
                        .store
                        .subscription(&team_room.id, &user.id)
                        .await?
                        .is_none()
                    {
                        self.add_member(user, &team_room, user, "uj").await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Marks a channel or group default (new users join it) or not: `edit-room`
    /// there and `view-room-administration`, as Rocket.Chat's room settings.
    pub async fn set_room_default(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        default: bool,
    ) -> ChatResult<Room> {
        let (mut room, _) = self.readable_room(actor, r).await?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Direct messages cannot be default",
            ));
        }
        if !self
            .has_permission(actor, Perm::EDIT_ROOM, Some(&room.id))
            .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Editing room is not allowed",
            ));
        }
        if !self
            .has_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, None)
            .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Viewing room administration is not allowed",
            ));
        }
        if room.default == default {
            return Err(ChatError::refused(
                "error-channels-setdefault-missing-default-param",
                "The channel default setting is the same as what it would be changed to.",
            ));
        }
        room.default = default;
        room.updated_at = Ts::now();
        self.store.update_room_meta(&room).await?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, default, "room default changed");
        Ok(room)
    }
}
