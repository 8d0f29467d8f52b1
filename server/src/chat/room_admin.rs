//! Room moderation and administration as Rocket.Chat's `rooms.*` endpoints serve
//! them: muting members, cleaning a room's history, the administrators' room
//! listings and the room name autocompletes.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{
    CleanHistory, Listing, MuteChange, Page, Room, RoomKinds, RoomMatch, RoomType, Sort, Ts, User,
};

/// How many rooms an autocomplete answers without paging (Rocket.Chat's limit).
pub const AUTOCOMPLETE_LIMIT: u64 = 10;

impl Chat {
    /// Mutes (`mute`) or unmutes `username` in a room (Rocket.Chat's
    /// `muteUserInRoom`/`unmuteUserInRoom`): `mute-user` there; in a read-only room
    /// unmuting lets the member post and muting withdraws that. Leaves a
    /// `user-muted`/`user-unmuted` system message.
    pub async fn set_muted(
        &self,
        actor: &User,
        rid: &str,
        username: &str,
        mute: bool,
    ) -> ChatResult<Room> {
        if !self
            .has_permission(actor, Perm::MUTE_USER, Some(rid))
            .await?
        {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        let room = self
            .store
            .room_by_id(rid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-room", "Invalid room"))?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-invalid-room-type",
                "d is not a valid room type",
            ));
        }
        let target = self
            .store
            .user_by_username(username.trim_start_matches('@'))
            .await?;
        let member = match &target {
            Some(user) => self.store.subscription(rid, &user.id).await?.is_some(),
            None => false,
        };
        if !member {
            return Err(ChatError::refused(
                "error-user-not-in-room",
                "User is not in this room",
            ));
        }
        let target = target.ok_or_else(ChatError::user_not_found)?;
        let change = match (mute, room.ro) {
            (true, false) => MuteChange::Mute,
            (true, true) => MuteChange::MuteReadOnly,
            (false, false) => MuteChange::Unmute,
            (false, true) => MuteChange::UnmuteReadOnly,
        };
        self.store
            .set_room_mute(rid, &target.username, change, Ts::now())
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-room", "Invalid room"))?;
        tracing::info!(room_id = %rid, user_id = %actor.id, target_id = %target.id, mute, "member mute changed");
        let t = if mute { "user-muted" } else { "user-unmuted" };
        self.post_system_message(&room, actor, t, &target.username)
            .await?;
        let room = self.room(RoomRef::Id(rid)).await?;
        self.bus.publish(Event::RoomChanged { room: room.clone() });
        Ok(room)
    }

    /// Deletes a room's messages `clean` selects (Rocket.Chat's `cleanRoomHistory`)
    /// and their files; returns how many went, "message removed" placeholders left
    /// out. The caller must be able to read the
    /// room and hold `clean-channel-history` there.
    pub async fn clean_history(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        clean: CleanHistory,
    ) -> ChatResult<(Room, u64)> {
        let no_access =
            || ChatError::refused("error-not-allowed", "User does not have access to the room");
        let (room, _) = self
            .readable_room(actor, r)
            .await
            .map_err(|_| no_access())?;
        if !self
            .has_room_permission(actor, Perm::CLEAN_CHANNEL_HISTORY, &room)
            .await?
        {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        let deleted = self.store.clean_history(&room.id, &clean).await?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, count = deleted.len(), "room history cleaned");
        let room = self.room(RoomRef::Id(&room.id)).await?;
        for message in &deleted {
            if message.file.is_some() || !message.files.is_empty() {
                self.remove_message_files(&message.id).await;
            }
            self.bus.publish(Event::MessageDeleted {
                room: room.clone(),
                message: message.clone(),
            });
        }
        if !deleted.is_empty() {
            self.bus.publish(Event::RoomChanged { room: room.clone() });
        }
        // "Message removed" placeholders go too, but are not counted (as Rocket.Chat).
        let count = deleted
            .iter()
            .filter(|m| m.t.as_deref() != Some("rm"))
            .count();
        Ok((room, count as u64))
    }

    /// Refuses callers without `view-room-administration`.
    async fn require_room_administration(&self, actor: &User) -> ChatResult<()> {
        if self
            .has_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, None)
            .await?
        {
            Ok(())
        } else {
            Err(ChatError::Forbidden("error-not-authorized".into()))
        }
    }

    /// The rooms of the given types (all when empty) for administrators
    /// (`rooms.adminRooms`), as Rocket.Chat's `findAdminRooms`: `filter` is a
    /// case-insensitive substring of the name or the display name (so a room named
    /// with special characters is found by what it was called); discussions and
    /// teams' main rooms are left out unless `kinds` keeps them (`types` holding
    /// `discussions`, `teams`), and then listed whatever their type: asking only
    /// for discussions lists every discussion and nothing else.
    pub async fn admin_rooms(
        &self,
        actor: &User,
        types: &[RoomType],
        kinds: RoomKinds,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        self.require_room_administration(actor).await?;
        let all = [RoomType::Channel, RoomType::Group, RoomType::Direct];
        let kinds = RoomKinds {
            of_any_type: true,
            ..kinds
        };
        // No type and no kind asked: every room; kinds alone: those rooms only.
        let types = if types.is_empty() && !kinds.widen_types() {
            &all[..]
        } else {
            types
        };
        let filter = filter
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|term| RoomMatch {
                term,
                display_names: true,
            });
        Ok(self
            .store
            .list_rooms_of_kinds(types, filter, kinds, sort, page)
            .await?)
    }

    /// One room for administrators (`rooms.adminRooms.getRoom`).
    pub async fn admin_room(&self, actor: &User, rid: &str) -> ChatResult<Option<Room>> {
        self.require_room_administration(actor).await?;
        Ok(self.store.room_by_id(rid).await?)
    }

    /// Channels and groups (discussions among them) whose name or display name
    /// holds `name`, for administrators (`rooms.autocomplete.adminRooms`).
    pub async fn autocomplete_admin_rooms(
        &self,
        actor: &User,
        name: &str,
        sort: Sort,
    ) -> ChatResult<Vec<Room>> {
        self.require_room_administration(actor).await?;
        let listing = self
            .store
            .list_rooms_matching(
                &[RoomType::Channel, RoomType::Group],
                Some(name).filter(|n| !n.is_empty()).map(|term| RoomMatch {
                    term,
                    display_names: true,
                }),
                sort,
                Page::new(0, AUTOCOMPLETE_LIMIT),
            )
            .await?;
        Ok(listing.items)
    }

    /// The actor's channels and groups whose name holds `name` (case-insensitive),
    /// by name (`rooms.autocomplete.channelAndPrivate` and its paged form,
    /// `availableForTeams`). Work: the actor's subscriptions.
    pub async fn autocomplete_own_rooms(
        &self,
        actor: &User,
        name: &str,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        let needle = name.to_lowercase();
        let ids: Vec<String> = self
            .store
            .user_subscriptions(&actor.id, None)
            .await?
            .into_iter()
            .filter(|s| matches!(s.t, RoomType::Channel | RoomType::Group))
            .filter(|s| {
                s.name.to_lowercase().contains(&needle)
                    || s.fname
                        .as_deref()
                        .is_some_and(|f| f.to_lowercase().contains(&needle))
            })
            .map(|s| s.rid)
            .collect();
        let mut rooms = self.store.rooms_by_ids(&ids).await?;
        rooms.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let total = rooms.len() as u64;
        let items = rooms
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
            .collect();
        Ok(Listing { items, total })
    }
}

impl Chat {
    /// The room's moderators (`channels|groups.moderators`), for whoever may read
    /// it: a range of the index of members holding room roles.
    pub async fn room_moderators(
        &self,
        actor: &User,
        r: RoomRef<'_>,
    ) -> ChatResult<(Room, Vec<crate::store::UserRef>)> {
        let (room, _) = self.readable_room(actor, r).await?;
        let subs = self
            .store
            .room_members_in_role(&room.id, crate::store::roles::MODERATOR)
            .await?;
        Ok((room, subs.into_iter().map(|s| s.u).collect()))
    }

    /// The room's members who are not offline (`channels|groups.online`), for
    /// whoever may read it: (id, username) pairs. Work: the room's members (at most
    /// `ONLINE_SCAN` are looked at) and one status lookup of those ids.
    pub async fn online_members(
        &self,
        actor: &User,
        room: &Room,
    ) -> ChatResult<Vec<(String, String)>> {
        const ONLINE_SCAN: u64 = 1_000;
        let not_allowed = || ChatError::refused("error-not-allowed", "Not Allowed");
        self.readable_room(actor, RoomRef::Id(&room.id))
            .await
            .map_err(|_| not_allowed())?;
        let members = self
            .store
            .room_subscriptions(&room.id, Page::new(0, ONLINE_SCAN))
            .await?
            .items;
        let statuses = self
            .statuses_of(members.iter().map(|s| s.u.id.clone()).collect())
            .await?;
        Ok(members
            .into_iter()
            .filter(|s| statuses.contains_key(&s.u.id))
            .map(|s| (s.u.id, s.u.username))
            .collect())
    }

    /// Every room of one type, for administrators (`groups.listAll`,
    /// `im.list.everyone`); `Forbidden` without `view-room-administration`.
    pub async fn all_rooms_of(
        &self,
        actor: &User,
        kind: RoomType,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        if !self
            .has_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, None)
            .await?
        {
            return Err(ChatError::Forbidden("unauthorized".into()));
        }
        Ok(self.store.list_rooms(&[kind], filter, sort, page).await?)
    }
}

impl Chat {
    /// A public channel's history for a caller without an account
    /// (`channels.anonymousread`), when `Accounts_AllowAnonymousRead` is on.
    pub async fn anonymous_history(
        &self,
        r: RoomRef<'_>,
        query: &crate::store::HistoryQuery,
    ) -> ChatResult<Listing<crate::store::Message>> {
        if !self.settings().bool("Accounts_AllowAnonymousRead") {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Enable \"Allow Anonymous Read\"",
            ));
        }
        let room = self.room(r).await?;
        if room.t != RoomType::Channel {
            return Err(ChatError::room_not_found());
        }
        let items = self.store.history(&room.id, query).await?;
        let total = u64::try_from(room.msgs).unwrap_or(0);
        Ok(Listing { items, total })
    }

    /// A direct conversation's history for administrators who are not in it
    /// (`im.messages.others`): `view-room-administration`, and the endpoint
    /// enabled by `API_Enable_Direct_Message_History_EndPoint`.
    pub async fn others_direct_history(
        &self,
        actor: &User,
        rid: &str,
        query: &crate::store::HistoryQuery,
    ) -> ChatResult<Listing<crate::store::Message>> {
        if !self
            .settings()
            .bool("API_Enable_Direct_Message_History_EndPoint")
        {
            return Err(ChatError::refused(
                "error-endpoint-disabled",
                "This endpoint is disabled",
            ));
        }
        if !self
            .has_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, None)
            .await?
        {
            return Err(ChatError::Forbidden("unauthorized".into()));
        }
        let room = self
            .store
            .room_by_id(rid)
            .await?
            .filter(|r| r.t == RoomType::Direct)
            .ok_or_else(|| ChatError::refused("error-room-not-found", "Room not found"))?;
        let items = self.store.history(&room.id, query).await?;
        let total = u64::try_from(room.msgs).unwrap_or(0);
        Ok(Listing { items, total })
    }
}

impl Chat {
    /// The room's posted images, newest first (`rooms.images`), optionally only
    /// those uploaded no later than `starting_from` (an upload id), which leads the
    /// list. `Forbidden` unless the caller may read the room. Work: the room's
    /// files (its files index, newest first), as no index holds images alone.
    pub async fn room_images(
        &self,
        actor: &User,
        rid: &str,
        starting_from: Option<&str>,
        page: Page,
    ) -> ChatResult<Listing<crate::store::uploads::Upload>> {
        let forbidden = || ChatError::Forbidden("unauthorized".into());
        let (room, _) = self
            .readable_room(actor, RoomRef::Id(rid))
            .await
            .map_err(|_| forbidden())?;
        let first = match starting_from {
            Some(id) => self.store.upload(id).await?.filter(|u| u.rid == room.id),
            None => None,
        };
        const BATCH: u64 = 200;
        let mut images = Vec::new();
        let mut total = 0u64;
        let mut offset = 0;
        loop {
            let batch = self
                .store
                .room_uploads(&room.id, None, Page::new(offset, BATCH))
                .await?;
            let n = batch.items.len() as u64;
            for upload in batch.items {
                let is_image = upload.content_type.starts_with("image/");
                let in_range = first
                    .as_ref()
                    .is_none_or(|f| upload.uploaded_at <= f.uploaded_at);
                if is_image && in_range {
                    if total >= page.offset && (images.len() as u64) < page.count {
                        images.push(upload);
                    }
                    total += 1;
                }
            }
            if n < BATCH {
                break;
            }
            offset += n;
        }
        if let Some(first) = first {
            if !images.iter().any(|u| u.id == first.id) {
                images.insert(0, first);
            }
        }
        Ok(Listing {
            items: images,
            total,
        })
    }
}
