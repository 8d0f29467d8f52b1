//! Room settings as Rocket.Chat's `saveRoomSettings`: topic, description,
//! announcement, name, type, read-only, custom fields, join code; archiving. Each
//! change leaves Rocket.Chat's system message in the room, updates the members'
//! subscriptions where they mirror the room, and is pushed to the members' clients.

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{Page, Room, RoomType, StoreError, Subscription, SubscriptionPatch, Ts, User};

/// A change to a room's settings (`rooms.saveRoomSettings`); `None` leaves a
/// setting alone.
#[derive(Clone, Debug, Default)]
pub struct RoomSettingsChange {
    pub name: Option<String>,
    pub topic: Option<String>,
    pub announcement: Option<String>,
    pub description: Option<String>,
    pub custom_fields: Option<Value>,
    pub kind: Option<RoomType>,
    pub read_only: Option<bool>,
    pub react_when_read_only: Option<bool>,
    /// An empty code removes it.
    pub join_code: Option<String>,
    pub default: Option<bool>,
    /// Shown among the directory's featured rooms (administrators only).
    pub featured: Option<bool>,
    /// The system message types hidden in the room (`systemMessages`).
    pub sys_mes: Option<Vec<String>>,
    /// Rocket.Chat's `favorite: {favorite, defaultValue}`: the room is a default
    /// favourite only when both are true.
    pub favorite: Option<bool>,
    /// A team's side panel (its main room, `edit-team`).
    pub sidepanel: Option<crate::store::Sidepanel>,
}

impl Chat {
    /// Whether `actor` holds `permission` in `room` (global roles, or the room roles
    /// of their subscription there).
    pub async fn has_room_permission(
        &self,
        actor: &User,
        permission: Perm,
        room: &Room,
    ) -> ChatResult<bool> {
        self.has_permission(actor, permission, Some(&room.id)).await
    }

    /// `has_room_permission`, failing with `error_type` and `message`.
    pub async fn require_room_permission(
        &self,
        actor: &User,
        permission: Perm,
        room: &Room,
        error_type: &'static str,
        message: &str,
    ) -> ChatResult<()> {
        if self.has_room_permission(actor, permission, room).await? {
            Ok(())
        } else {
            Err(ChatError::refused(error_type, message))
        }
    }

    /// Applies `change` to the room (Rocket.Chat's `saveRoomSettings`), returning the
    /// room as it is afterwards.
    pub async fn save_room_settings(
        &self,
        actor: &User,
        rid: &str,
        change: RoomSettingsChange,
    ) -> ChatResult<Room> {
        let invalid_room = || ChatError::refused("error-invalid-room", "Invalid room");
        let before = self.store.room_by_id(rid).await?.ok_or_else(invalid_room)?;
        let not_allowed = "error-action-not-allowed";
        self.require_room_permission(
            actor,
            Perm::EDIT_ROOM,
            &before,
            not_allowed,
            "Editing room is not allowed",
        )
        .await?;
        // Validations first: nothing is changed unless every part is allowed.
        if (change.default.is_some() || change.featured.is_some())
            && !self
                .has_room_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, &before)
                .await?
        {
            return Err(ChatError::refused(
                not_allowed,
                "Viewing room administration is not allowed",
            ));
        }
        if change.sidepanel.is_some() {
            if !before.extra.team_main {
                return Err(ChatError::refused(not_allowed, "Invalid room"));
            }
            if !self
                .has_permission(actor, Perm::EDIT_TEAM, Some(&before.id))
                .await?
            {
                return Err(ChatError::refused(
                    not_allowed,
                    "You do not have permission to change sidepanel items",
                ));
            }
        }
        if let Some(kind) = change.kind.filter(|k| *k != before.t) {
            if before.t == RoomType::Direct {
                return Err(ChatError::refused(
                    "error-direct-room",
                    "Can't change type of direct rooms",
                ));
            }
            let (permission, what) = match kind {
                RoomType::Channel => (
                    Perm::CREATE_C,
                    "Changing a private group to a public channel is not allowed",
                ),
                RoomType::Group => (
                    Perm::CREATE_P,
                    "Changing a public channel to a private room is not allowed",
                ),
                RoomType::Direct => {
                    return Err(ChatError::refused(
                        "error-invalid-room-type",
                        "error-invalid-room-type",
                    ))
                }
            };
            self.require_room_permission(actor, permission, &before, not_allowed, what)
                .await?;
        }
        if let Some(fields) = &change.custom_fields {
            if !fields.is_object() {
                return Err(ChatError::invalid(
                    "The bodyParam \"customFields\" is required with a type like object.",
                ));
            }
        }
        let mut room = before.clone();
        // (system message type, text), posted once the change is stored.
        let mut notes: Vec<(&'static str, String)> = Vec::new();
        let mut subs_patch = SubscriptionPatch::default();
        if let Some(name) = change.name.as_deref().map(str::trim) {
            // A discussion's name is generated: renaming one changes its title
            // (`fname`) only, any text (Rocket.Chat's `saveRoomName`).
            if before.extra.prid.is_some() {
                if !name.is_empty() && Some(name) != before.fname.as_deref() {
                    room.fname = Some(name.to_string());
                    subs_patch.fname = Some(name.to_string());
                    notes.push(("r", name.to_string()));
                }
            } else if !name.is_empty()
                && Some(name) != before.name.as_deref()
                && Some(name) != before.fname.as_deref()
            {
                if before.t == RoomType::Direct {
                    return Err(ChatError::refused("error-not-allowed", "Not allowed"));
                }
                let (name, fname) = self.room_names(name, Some(&before.id)).await?;
                room.name = Some(name.clone());
                room.fname = Some(fname.clone());
                subs_patch.name = Some(name);
                subs_patch.fname = Some(fname.clone());
                notes.push(("r", fname));
            }
        }
        if let Some(topic) = change.topic {
            if room.topic.as_deref().unwrap_or("") != topic {
                notes.push(("room_changed_topic", topic.clone()));
                room.topic = Some(topic);
            }
        }
        if let Some(text) = change.announcement {
            if room.announcement.as_deref().unwrap_or("") != text {
                notes.push(("room_changed_announcement", text.clone()));
                room.announcement = Some(text);
            }
        }
        if let Some(fields) = change.custom_fields {
            room.custom_fields = Some(fields);
        }
        if let Some(text) = change.description {
            if room.description.as_deref() != Some(text.as_str()) {
                notes.push(("room_changed_description", text.clone()));
                room.description = Some(text);
            }
        }
        if let Some(kind) = change.kind.filter(|k| *k != before.t) {
            room.t = kind;
            subs_patch.t = Some(kind);
            let word = if kind == RoomType::Channel {
                "public"
            } else {
                "private"
            };
            notes.push(("room_changed_privacy", word.to_string()));
        }
        if let Some(ro) = change.read_only.filter(|ro| *ro != before.ro) {
            room.ro = ro;
            let t = if ro {
                "room-set-read-only"
            } else {
                "room-removed-read-only"
            };
            notes.push((t, String::new()));
        }
        if let Some(react) = change
            .react_when_read_only
            .filter(|r| *r != before.react_when_read_only)
        {
            room.react_when_read_only = react;
            let t = if react {
                "room-allowed-reacting"
            } else {
                "room-disallowed-reacting"
            };
            notes.push((t, String::new()));
        }
        if let Some(code) = change.join_code {
            let code = code.trim().to_string();
            room.join_code_required = !code.is_empty();
            room.join_code = (!code.is_empty()).then_some(code);
        }
        if let Some(default) = change.default {
            room.default = default;
        }
        if let Some(featured) = change.featured {
            room.extra.featured = featured;
        }
        if let Some(types) = change.sys_mes {
            room.extra.sys_mes = Some(types);
        }
        if let Some(favorite) = change.favorite {
            room.extra.favorite = favorite;
        }
        if let Some(sidepanel) = change.sidepanel {
            room.extra.sidepanel = Some(sidepanel);
        }
        room.updated_at = Ts::now();
        self.store
            .update_room_settings(&room)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ChatError::refused(
                    "error-duplicate-channel-name",
                    format!(
                        "A channel with name '{}' exists",
                        room.name.as_deref().unwrap_or_default()
                    ),
                ),
                other => other.into(),
            })?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, "room settings changed");
        if subs_patch != SubscriptionPatch::default() {
            self.store
                .patch_subscriptions(&room.id, None, &subs_patch)
                .await?;
            self.publish_member_subscriptions(&room.id).await?;
        }
        self.after_room_change(actor, &room.id, notes).await
    }

    /// Posts the system messages of a change, then publishes the room as stored and
    /// returns it.
    async fn after_room_change(
        &self,
        actor: &User,
        rid: &str,
        notes: Vec<(&'static str, String)>,
    ) -> ChatResult<Room> {
        let room = self.room(RoomRef::Id(rid)).await?;
        for (t, msg) in &notes {
            self.post_system_message(&room, actor, t, msg).await?;
        }
        let room = self.room(RoomRef::Id(rid)).await?;
        self.bus.publish(Event::RoomChanged { room: room.clone() });
        Ok(room)
    }

    /// Publishes every member's subscription (after a change to all of them).
    pub(crate) async fn publish_member_subscriptions(&self, rid: &str) -> ChatResult<()> {
        let members = self
            .store
            .room_subscriptions(rid, Page::new(0, u64::MAX >> 1))
            .await?;
        for sub in members.items {
            self.publish_subscription(sub);
        }
        Ok(())
    }

    pub(crate) fn publish_subscription(&self, sub: Subscription) {
        self.bus.publish(Event::SubscriptionChanged {
            user_id: sub.u.id.clone(),
            subscription: sub,
        });
    }

    /// Archives a channel or group: no posts, no joins; members keep reading it.
    pub async fn archive_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        self.set_archived(actor, rid, true).await
    }

    pub async fn unarchive_room(&self, actor: &User, rid: &str) -> ChatResult<Room> {
        self.set_archived(actor, rid, false).await
    }

    async fn set_archived(&self, actor: &User, rid: &str, archived: bool) -> ChatResult<Room> {
        let mut room = self
            .store
            .room_by_id(rid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-room", "Invalid room"))?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-direct-message-room",
                "rooms type: d can not be archived",
            ));
        }
        let permission = if archived {
            Perm::ARCHIVE_ROOM
        } else {
            Perm::UNARCHIVE_ROOM
        };
        self.require_room_permission(
            actor,
            permission,
            &room,
            "error-not-authorized",
            "Not authorized",
        )
        .await?;
        room.archived = archived;
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        tracing::info!(room_id = %rid, user_id = %actor.id, archived, "room archive state changed");
        let t = if archived {
            "room-archived"
        } else {
            "room-unarchived"
        };
        // The system message first: posting opens members' subscriptions, which
        // archiving then closes.
        let room = self
            .after_room_change(actor, rid, vec![(t, String::new())])
            .await?;
        let patch = SubscriptionPatch {
            archived: Some(archived),
            open: Some(!archived),
            alert: Some(false),
            ..Default::default()
        };
        self.store.patch_subscriptions(rid, None, &patch).await?;
        self.publish_member_subscriptions(rid).await?;
        Ok(room)
    }

    /// Refuses posting to, or joining, an archived room.
    pub(crate) fn check_not_archived(room: &Room) -> ChatResult<()> {
        if room.archived {
            let what = if room.t == RoomType::Group {
                "private group"
            } else {
                "channel"
            };
            return Err(ChatError::refused(
                "error-room-archived",
                format!(
                    "The {what}, {}, is archived",
                    room.name.as_deref().unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }
}
