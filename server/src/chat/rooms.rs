//! Rooms: channels (public), groups (private), direct messages, and memberships.

use std::collections::BTreeSet;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::permissions::Perm;
use super::Chat;
use crate::store::{
    roles, Listing, Page, RemovedSubscription, Room, RoomType, Sort, SortKey, StoreError,
    Subscription, Ts, User, UserRef,
};

/// How a request names a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomRef<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// A new channel or private group.
#[derive(Clone, Debug)]
pub struct NewRoom {
    pub kind: RoomType,
    pub name: String,
    /// Usernames to add besides the creator.
    pub members: Vec<String>,
    pub read_only: bool,
    pub topic: Option<String>,
    pub description: Option<String>,
    /// Room custom fields (a JSON object).
    pub custom_fields: Option<serde_json::Value>,
    /// A team to create the room in (`extraData.teamId`); needs
    /// `create-team-channel` or `create-team-group` in the team.
    pub team_id: Option<String>,
}

/// A room the user no longer has (left, kicked, deleted), for `rooms.get` syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedRoom {
    pub id: String,
    pub deleted_at: Ts,
}

pub fn validate_room_name(name: &str) -> ChatResult<()> {
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(ChatError::refused(
            "error-invalid-room-name",
            format!(
                "{name:?} is not a valid room name: use 1 to 100 letters, digits, '.', '_' or '-'"
            ),
        ));
    }
    if super::reserved_names::is_system_name(name) {
        return Err(ChatError::refused(
            "error-invalid-room-name",
            format!("{name} is not a valid room name: the name is reserved"),
        ));
    }
    Ok(())
}

/// A DM's id: its members' ids, sorted and concatenated (Rocket.Chat's scheme for
/// one-to-one DMs), so the same members always find the same room.
fn direct_room_id<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.concat()
}

fn subscription_for(
    room: &Room,
    user: &UserRef,
    name: String,
    fname: Option<String>,
) -> Subscription {
    let now = Ts::now();
    Subscription {
        id: ids::new_id(),
        rid: room.id.clone(),
        u: UserRef {
            id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
        },
        name,
        fname,
        t: room.t,
        open: true,
        alert: false,
        unread: 0,
        user_mentions: 0,
        group_mentions: 0,
        ls: Some(now),
        roles: Vec::new(),
        archived: room.archived,
        f: false,
        ts: now,
        updated_at: now,
        notify: Default::default(),
        prid: room.extra.prid.clone(),
        threads: Default::default(),
    }
}

pub(crate) fn member_subscription(room: &Room, user: &User) -> Subscription {
    let name = room.name.clone().unwrap_or_default();
    let mut sub = subscription_for(room, &user.as_ref(), name, room.fname.clone());
    apply_user_notification_prefs(&mut sub, user);
    sub
}

/// A new membership starts with the user's own notification preferences where
/// they chose one (Rocket.Chat's `getDefaultSubscriptionPref`): desktop, mobile
/// (`pushNotifications`) and e-mail (`emailNotificationMode`).
fn apply_user_notification_prefs(sub: &mut Subscription, user: &User) {
    let prefs = &user.settings.preferences;
    let chosen = |key: &str| {
        prefs
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty() && *v != "default")
            .map(str::to_string)
    };
    sub.notify.desktop = chosen("desktopNotifications");
    sub.notify.mobile = chosen("pushNotifications");
    sub.notify.email = chosen("emailNotificationMode");
}

impl Chat {
    /// Looks a room up without any access check (internal use).
    pub async fn room(&self, r: RoomRef<'_>) -> ChatResult<Room> {
        let found = match r {
            RoomRef::Id(id) => self.store.room_by_id(id).await?,
            RoomRef::Name(name) => {
                self.store
                    .room_by_name(name.trim_start_matches('#'))
                    .await?
            }
        };
        found.ok_or_else(ChatError::room_not_found)
    }

    /// The room if `user` may read it, with their subscription. Private rooms the user
    /// is not in are reported as not found, so their existence does not leak.
    pub async fn readable_room(
        &self,
        user: &User,
        r: RoomRef<'_>,
    ) -> ChatResult<(Room, Option<Subscription>)> {
        let room = self.room(r).await?;
        let sub = self.store.subscription(&room.id, &user.id).await?;
        if room.t != RoomType::Channel && sub.is_none() {
            return Err(ChatError::room_not_found());
        }
        Ok((room, sub))
    }

    /// The room if `user` is a member of it, with their subscription.
    pub async fn joined_room(
        &self,
        user: &User,
        r: RoomRef<'_>,
    ) -> ChatResult<(Room, Subscription)> {
        let (room, sub) = self.readable_room(user, r).await?;
        match sub {
            Some(sub) => Ok((room, sub)),
            None => Err(ChatError::refused(
                "error-user-not-in-room",
                "You must join the room first",
            )),
        }
    }

    pub async fn create_room(&self, actor: &User, new: NewRoom) -> ChatResult<Room> {
        if new.kind == RoomType::Direct {
            return Err(ChatError::invalid("Use im.create for direct messages"));
        }
        let perm = match new.kind {
            RoomType::Group => Perm::CREATE_P,
            _ => Perm::CREATE_C,
        };
        self.require_permission(actor, perm, None).await?;
        let (name, fname) = self.room_names(&new.name, None).await?;
        let team_id = match new.team_id.as_deref().filter(|t| !t.is_empty()) {
            Some(team_id) => Some(self.team_for_new_room(actor, team_id).await?),
            None => None,
        };
        let mut members = Vec::new();
        let mut seen = BTreeSet::from([actor.id.clone()]);
        for username in &new.members {
            // Rocket.Chat's `createRoom` adds the members it finds
            // (`findUsersByUsernames`): a name of nobody is left out, not refused.
            let Some(user) = self
                .store
                .user_by_username(username.trim_start_matches('@'))
                .await?
            else {
                tracing::debug!(user_id = %actor.id, username = %username, "room creation: no such member, left out");
                continue;
            };
            if seen.insert(user.id.clone()) {
                members.push(user);
            }
        }
        let now = Ts::now();
        let room = Room {
            avatar_etag: None,
            avatar_file_id: None,
            id: ids::new_id(),
            t: new.kind,
            name: Some(name.clone()),
            fname: Some(fname),
            u: Some(UserRef {
                id: actor.id.clone(),
                username: actor.username.clone(),
                name: None,
            }),
            users_count: 1 + members.len() as i64,
            msgs: 0,
            lm: None,
            last_message: None,
            ro: new.read_only,
            default: false,
            topic: new.topic.filter(|t| !t.is_empty()),
            description: new.description.filter(|d| !d.is_empty()),
            announcement: None,
            archived: false,
            react_when_read_only: false,
            custom_fields: new.custom_fields,
            join_code: None,
            join_code_required: false,
            usernames: None,
            uids: None,
            ts: now,
            updated_at: now,
            extra: crate::store::RoomExtra {
                team_id,
                ..Default::default()
            },
        };
        let mut owner = member_subscription(&room, actor);
        owner.roles = vec![roles::OWNER.into()];
        let mut subs = vec![owner];
        subs.extend(members.iter().map(|m| member_subscription(&room, m)));
        self.store
            .create_room(&room, &subs)
            .await
            .map_err(|e| match e {
                StoreError::Conflict("room name") => ChatError::refused(
                    "error-duplicate-channel-name",
                    format!("A channel with name '{name}' exists"),
                ),
                other => ChatError::Store(other),
            })?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, name = %name, "room created");
        self.bus.publish(Event::RoomCreated { room: room.clone() });
        for sub in subs {
            self.bus.publish(Event::SubscriptionChanged {
                user_id: sub.u.id.clone(),
                subscription: sub,
            });
        }
        Ok(room)
    }

    /// Joins a public channel. Joining twice is not an error.
    pub async fn join_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        self.join_room_with_code(actor, rid, None).await
    }

    /// Joins a public channel, giving its join code if it has one (Rocket.Chat's
    /// `joinRoom`): those holding `join-without-join-code` need none.
    pub async fn join_room_with_code(
        &self,
        actor: &User,
        rid: &str,
        code: Option<&str>,
    ) -> ChatResult<Room> {
        let (room, sub) = self.readable_room(actor, RoomRef::Id(rid)).await?;
        if sub.is_some() {
            return Ok(room);
        }
        if room.t != RoomType::Channel {
            return Err(ChatError::not_allowed());
        }
        Chat::check_not_archived(&room)?;
        let code = code.filter(|c| !c.is_empty());
        if room.join_code_required
            && code != room.join_code.as_deref()
            && !self
                .has_permission(actor, Perm::JOIN_WITHOUT_JOIN_CODE, None)
                .await?
        {
            return Err(match code {
                None => ChatError::refused("error-code-required", "Code required"),
                Some(_) => ChatError::refused("error-code-invalid", "Invalid code"),
            });
        }
        self.add_member(actor, &room, actor, "uj").await
    }

    /// Adds `user` to `room` on `actor`'s behalf, with a system message of type `t`.
    pub(crate) async fn add_member(
        &self,
        actor: &User,
        room: &Room,
        user: &User,
        t: &str,
    ) -> ChatResult<Room> {
        let sub = member_subscription(room, user);
        if !self.store.add_subscription(&sub).await? {
            return Ok(room.clone());
        }
        let room = self.room(RoomRef::Id(&room.id)).await?;
        tracing::info!(room_id = %room.id, user_id = %user.id, "member added");
        self.post_system_message(&room, actor, t, &user.username)
            .await?;
        // As stored after both: the new count and the system message's `msgs`.
        let room = self.room(RoomRef::Id(&room.id)).await?;
        self.bus.publish(Event::SubscriptionChanged {
            user_id: user.id.clone(),
            subscription: sub,
        });
        self.bus.publish(Event::UserJoined {
            room: room.clone(),
            user: user.clone(),
        });
        Ok(room)
    }

    async fn remove_member(
        &self,
        actor: &User,
        room: &Room,
        user: &User,
        t: &str,
    ) -> ChatResult<Room> {
        if !self.store.remove_subscription(&room.id, &user.id).await? {
            return Err(ChatError::refused(
                "error-user-not-in-room",
                format!("{} is not in this room", user.username),
            ));
        }
        let room = self.room(RoomRef::Id(&room.id)).await?;
        tracing::info!(room_id = %room.id, user_id = %user.id, "member removed");
        self.post_system_message(&room, actor, t, &user.username)
            .await?;
        let room = self.room(RoomRef::Id(&room.id)).await?;
        self.bus.publish(Event::UserLeft {
            room: room.clone(),
            user: user.clone(),
        });
        Ok(room)
    }

    /// Refuses to let the last owner walk away from a room: one others still use
    /// (a kick), or any (leaving, as Rocket.Chat refuses even the only member).
    async fn check_not_last_owner(
        &self,
        room: &Room,
        sub: &Subscription,
        even_alone: bool,
    ) -> ChatResult<()> {
        if !sub.roles.iter().any(|r| r == roles::OWNER) || (room.users_count <= 1 && !even_alone) {
            return Ok(());
        }
        // The room's owners: a range of the index of members holding room roles,
        // not the room's whole membership.
        let owners = self
            .store
            .room_members_in_role(&room.id, roles::OWNER)
            .await?;
        let other_owner = owners.iter().any(|s| s.u.id != sub.u.id);
        if other_owner {
            Ok(())
        } else {
            Err(ChatError::refused(
                "error-you-are-last-owner",
                "You are the last owner. Please set new owner before leaving the room.",
            ))
        }
    }

    pub async fn leave_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        let (room, sub) = self.joined_room(actor, RoomRef::Id(rid)).await?;
        let permission = match room.t {
            RoomType::Direct => {
                return Err(ChatError::refused(
                    "error-not-allowed",
                    "Direct messages can't be left; hide them instead",
                ))
            }
            RoomType::Channel => Perm::LEAVE_C,
            RoomType::Group => Perm::LEAVE_P,
        };
        // Global roles only, as Rocket.Chat checks `leave-c`/`leave-p`.
        if !self.has_permission(actor, permission, None).await? {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        self.check_not_last_owner(&room, &sub, true).await?;
        self.remove_member(actor, &room, actor, "ul").await
    }

    /// Adds a user to a room: as a member holding `add-user-to-joined-room` there,
    /// or with `add-user-to-any-c-room` / `add-user-to-any-p-room` (Rocket.Chat's
    /// `addUsersToRoom`).
    pub async fn invite(&self, actor: &User, rid: &str, user: &User) -> ChatResult<Room> {
        let room = self.room(RoomRef::Id(rid)).await?;
        let sub = self.store.subscription(&room.id, &actor.id).await?;
        let any = match room.t {
            RoomType::Channel => Perm::ADD_USER_TO_ANY_C_ROOM,
            RoomType::Group => Perm::ADD_USER_TO_ANY_P_ROOM,
            RoomType::Direct => return Err(ChatError::not_allowed()),
        };
        let allowed = self.has_permission(actor, any, None).await?
            || (sub.is_some()
                && self
                    .has_permission(actor, Perm::ADD_USER_TO_JOINED_ROOM, Some(&room.id))
                    .await?);
        if !allowed {
            if room.t != RoomType::Channel && sub.is_none() {
                return Err(ChatError::room_not_found());
            }
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        Chat::check_not_archived(&room)?;
        self.add_member(actor, &room, user, "au").await
    }

    /// Removes a user from a room (`remove-user` there, or
    /// `kick-user-from-any-c-room` / `kick-user-from-any-p-room`).
    pub async fn kick(&self, actor: &User, rid: &str, user: &User) -> ChatResult<Room> {
        let room = self.room(RoomRef::Id(rid)).await?;
        let sub = self.store.subscription(&room.id, &actor.id).await?;
        let any = match room.t {
            RoomType::Channel => Perm::KICK_USER_FROM_ANY_C_ROOM,
            RoomType::Group => Perm::KICK_USER_FROM_ANY_P_ROOM,
            RoomType::Direct => return Err(ChatError::not_allowed()),
        };
        let any_room = self.has_permission(actor, any, None).await?;
        // A private group is found only by its members and those who may kick
        // from any group (Rocket.Chat's lookup before the kick).
        if room.t == RoomType::Group && sub.is_none() && !any_room {
            return Err(ChatError::room_not_found());
        }
        let allowed = any_room
            || self
                .has_permission(actor, Perm::REMOVE_USER, Some(&room.id))
                .await?;
        if !allowed {
            if room.t != RoomType::Channel && sub.is_none() {
                return Err(ChatError::room_not_found());
            }
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        let Some(target) = self.store.subscription(&room.id, &user.id).await? else {
            // Rocket.Chat checks membership only for those who may not kick from
            // any room; for the others, kicking a non-member succeeds and changes
            // nothing.
            if any_room {
                return Ok(room);
            }
            return Err(ChatError::refused(
                "error-user-not-in-room",
                "User is not in this room",
            ));
        };
        self.check_not_last_owner(&room, &target, false).await?;
        self.remove_member(actor, &room, user, "ru").await
    }

    /// Deletes a room with its messages (`delete-c` / `delete-p` / `delete-d`,
    /// held globally or as a room role there).
    pub async fn delete_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        let room = self.room(RoomRef::Id(rid)).await?;
        let sub = self.store.subscription(&room.id, &actor.id).await?;
        let perm = match room.t {
            RoomType::Channel => Perm::DELETE_C,
            RoomType::Group => Perm::DELETE_P,
            RoomType::Direct => Perm::DELETE_D,
        };
        if !self.has_permission(actor, perm, Some(&room.id)).await? {
            if room.t != RoomType::Channel && sub.is_none() {
                return Err(ChatError::room_not_found());
            }
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Deleting room is not allowed",
            ));
        }
        self.remove_room(&room).await?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, "room deleted");
        self.after_room_deleted(&room).await?;
        Ok(room)
    }

    /// Deletes a room with its messages, subscriptions and files, and tells its
    /// members; no permission check (the caller's).
    pub(crate) async fn remove_room(&self, room: &Room) -> ChatResult<()> {
        let member_ids = self
            .store
            .room_subscriptions(&room.id, Page::new(0, u64::MAX >> 1))
            .await?
            .items
            .into_iter()
            .map(|s| s.u.id)
            .collect();
        self.store.delete_room(&room.id).await?;
        // Its invite links lead nowhere now.
        self.store.delete_room_invites(&room.id).await?;
        tracing::debug!(room_id = %room.id, "room removed");
        self.remove_room_files(&room.id).await;
        self.bus.publish(Event::RoomDeleted {
            room: room.clone(),
            member_ids,
        });
        Ok(())
    }

    /// Members of a readable room, sorted by username.
    pub async fn room_members(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        page: Page,
    ) -> ChatResult<(Room, Listing<Subscription>)> {
        let (room, _) = self.readable_room(actor, r).await?;
        let members = self.store.room_subscriptions(&room.id, page).await?;
        Ok((room, members))
    }

    /// Every public channel.
    pub async fn list_channels(
        &self,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        Ok(self
            .store
            .list_rooms(&[RoomType::Channel], filter, sort, page)
            .await?)
    }

    /// Rooms of the given kinds the user is a member of.
    pub async fn user_rooms(
        &self,
        actor: &User,
        kinds: &[RoomType],
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        let ids: Vec<String> = self
            .store
            .user_subscriptions(&actor.id, None)
            .await?
            .into_iter()
            .filter(|s| kinds.contains(&s.t))
            .map(|s| s.rid)
            .collect();
        let mut rooms = self.store.rooms_by_ids(&ids).await?;
        rooms.sort_by(|a, b| {
            let ord = match sort.key {
                SortKey::Name | SortKey::Status => a.name.cmp(&b.name),
                SortKey::Ts => a.ts.cmp(&b.ts),
                SortKey::UsersCount => a.users_count.cmp(&b.users_count),
                SortKey::Msgs => a.msgs.cmp(&b.msgs),
            }
            .then_with(|| a.id.cmp(&b.id));
            match sort.dir {
                crate::store::Direction::Asc => ord,
                crate::store::Direction::Desc => ord.reverse(),
            }
        });
        let total = rooms.len() as u64;
        let items = rooms
            .into_iter()
            .skip(page.offset as usize)
            .take(page.count as usize)
            .collect();
        Ok(Listing { items, total })
    }

    /// Opens (or finds) the direct conversation between `actor` and `usernames`.
    /// The id is the members' sorted ids concatenated, as Rocket.Chat does for
    /// one-to-one DMs, so creating it twice finds the same room.
    pub async fn create_direct(&self, actor: &User, usernames: &[String]) -> ChatResult<Room> {
        self.create_direct_with(actor, usernames, false).await
    }

    /// `create_direct`, optionally without the actor among the members
    /// (`excludeSelf`, as Rocket.Chat: for an admin opening a DM between others).
    pub async fn create_direct_with(
        &self,
        actor: &User,
        usernames: &[String],
        exclude_self: bool,
    ) -> ChatResult<Room> {
        let mut members = if exclude_self {
            Vec::new()
        } else {
            vec![actor.clone()]
        };
        for name in usernames {
            let name = name.trim().trim_start_matches('@');
            if name.is_empty() {
                continue;
            }
            let user = self.store.user_by_username(name).await?.ok_or_else(|| {
                ChatError::refused("error-invalid-user", format!("No user named {name:?}"))
            })?;
            let already = members.iter().any(|m| m.id == user.id);
            let is_excluded_self = exclude_self && user.id == actor.id;
            if !already && !is_excluded_self {
                members.push(user);
            }
        }
        if usernames.iter().all(|u| u.trim().is_empty()) {
            return Err(ChatError::invalid(
                "Body param \"username\" or \"usernames\" is required",
            ));
        }
        // A DM of one is only the actor's own (a self-DM).
        if members.is_empty() || (members.len() == 1 && members[0].id != actor.id) {
            return Err(ChatError::refused("error-invalid-user", "Invalid user"));
        }
        // Named in the order given (the id sorts them itself).
        let rid = direct_room_id(members.iter().map(|m| m.id.as_str()));
        if let Some(room) = self.store.room_by_id(&rid).await? {
            self.store
                .set_subscription_open(&room.id, &actor.id, true)
                .await?;
            return Ok(room);
        }
        if !self.has_permission(actor, Perm::CREATE_D, None).await? {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        let now = Ts::now();
        let mut usernames: Vec<String> = members.iter().map(|m| m.username.clone()).collect();
        usernames.sort();
        let room = Room {
            avatar_etag: None,
            avatar_file_id: None,
            id: rid,
            t: RoomType::Direct,
            name: None,
            fname: None,
            u: None,
            users_count: members.len() as i64,
            msgs: 0,
            lm: None,
            last_message: None,
            ro: false,
            default: false,
            topic: None,
            description: None,
            announcement: None,
            archived: false,
            react_when_read_only: false,
            custom_fields: None,
            join_code: None,
            join_code_required: false,
            usernames: Some(usernames),
            uids: Some(members.iter().map(|m| m.id.clone()).collect()),
            ts: now,
            updated_at: now,
            extra: Default::default(),
        };
        let subs: Vec<Subscription> = members
            .iter()
            .map(|m| {
                let others: Vec<&User> = members.iter().filter(|o| o.id != m.id).collect();
                let (name, fname) = if others.is_empty() {
                    (m.username.clone(), m.name.clone())
                } else {
                    (
                        others
                            .iter()
                            .map(|o| o.username.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        others
                            .iter()
                            .map(|o| o.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                };
                let mut sub = subscription_for(&room, &m.as_ref(), name, Some(fname));
                apply_user_notification_prefs(&mut sub, m);
                sub.open = m.id == actor.id || (exclude_self && actor.is_admin());
                sub
            })
            .collect();
        match self.store.create_room(&room, &subs).await {
            Ok(()) => {}
            // Created concurrently by the other member: use theirs.
            Err(StoreError::Conflict("id")) => return self.room(RoomRef::Id(&room.id)).await,
            Err(e) => return Err(e.into()),
        }
        tracing::info!(room_id = %room.id, user_id = %actor.id, "direct room created");
        self.bus.publish(Event::RoomCreated { room: room.clone() });
        for sub in subs {
            self.bus.publish(Event::SubscriptionChanged {
                user_id: sub.u.id.clone(),
                subscription: sub,
            });
        }
        Ok(room)
    }

    /// The one-to-one DM between `actor` and `username`, if it exists.
    pub async fn find_direct(&self, actor: &User, username: &str) -> ChatResult<Room> {
        let other = self
            .store
            .user_by_username(username.trim_start_matches('@'))
            .await?
            .ok_or_else(ChatError::user_not_found)?;
        let rid = direct_room_id([actor.id.as_str(), other.id.as_str()]);
        let room = self.room(RoomRef::Id(&rid)).await?;
        Ok(room)
    }

    /// The user's rooms changed after `since` (all with `None`), and those removed.
    pub async fn rooms_since(
        &self,
        actor: &User,
        since: Option<Ts>,
    ) -> ChatResult<(Vec<Room>, Vec<RemovedRoom>)> {
        let ids: Vec<String> = self
            .store
            .user_subscriptions(&actor.id, None)
            .await?
            .into_iter()
            .map(|s| s.rid)
            .collect();
        let mut rooms = self.store.rooms_by_ids(&ids).await?;
        if let Some(since) = since {
            rooms.retain(|r| r.updated_at > since);
        }
        rooms.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id)));
        let removed = match since {
            Some(since) => self
                .store
                .removed_subscriptions(&actor.id, since)
                .await?
                .into_iter()
                .filter(|r| !ids.contains(&r.rid))
                .map(|r| RemovedRoom {
                    id: r.rid,
                    deleted_at: r.deleted_at,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok((rooms, removed))
    }

    /// The user's subscriptions changed after `since` (all with `None`), and those
    /// removed.
    pub async fn subscriptions_since(
        &self,
        actor: &User,
        since: Option<Ts>,
    ) -> ChatResult<(Vec<Subscription>, Vec<RemovedSubscription>)> {
        let subs = self.store.user_subscriptions(&actor.id, since).await?;
        let removed = match since {
            Some(since) => self.store.removed_subscriptions(&actor.id, since).await?,
            None => Vec::new(),
        };
        Ok((subs, removed))
    }

    /// The user's subscription to one room.
    pub async fn subscription(&self, actor: &User, rid: &str) -> ChatResult<Subscription> {
        self.joined_room(actor, RoomRef::Id(rid))
            .await
            .map(|(_, s)| s)
    }

    /// Marks a room read for the user; with `read_threads` its threads too
    /// (Rocket.Chat's `readMessages`).
    pub async fn mark_read(&self, actor: &User, rid: &str, read_threads: bool) -> ChatResult<()> {
        let (_, _) = self.joined_room(actor, RoomRef::Id(rid)).await?;
        self.store
            .mark_read(rid, &actor.id, Ts::now(), read_threads)
            .await?;
        if let Some(sub) = self.store.subscription(rid, &actor.id).await? {
            self.bus.publish(Event::SubscriptionChanged {
                user_id: actor.id.clone(),
                subscription: sub,
            });
        }
        Ok(())
    }
}
