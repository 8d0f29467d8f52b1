//! Fan-out: turns one bus event into the frames each authorized subscription gets.
//!
//! Runs under the registry lock and never waits: frames go into each connection's
//! bounded queue with `try_send`, and a connection whose queue is full is cut off
//! (see [`super::connection::ConnShared::push`]) instead of slowing anyone else.
//! Frames shared by many recipients are serialized once, lazily, only if someone
//! actually receives them.

use std::cell::OnceCell;

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};

use super::protocol::{self, NOTIFY_ROOM, NOTIFY_USER, ROOM_MESSAGES};
use super::registry::{Entry, Registry, RoomTopic, Sub, SubKind, UserTopic};
use crate::chat::Event;
use crate::store::{Message, Room, RoomType, Subscription, User};
use crate::wire::{self, DateStyle};

fn ejson<T: serde::Serialize>(record: &T) -> Value {
    wire::render(record, DateStyle::Ejson)
}

/// A message as realtime clients see it.
pub fn message_json(message: &Message) -> Value {
    ejson(message)
}

fn user_event(sub: &Sub, args: &str) -> Utf8Bytes {
    protocol::changed(NOTIFY_USER, &sub.event_name, args)
}

/// The name a user sees for a room: its name, or for a DM the other members.
fn room_name_for(room: &Room, viewer: &Entry) -> Value {
    if let Some(name) = &room.name {
        return json!(name);
    }
    let me = viewer.login.as_ref().map(|l| l.user.username.as_str());
    let others: Vec<&str> = room
        .usernames
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|u| Some(*u) != me)
        .collect();
    match others.is_empty() {
        true => json!(me.unwrap_or_default()),
        false => json!(others.join(", ")),
    }
}

impl Registry {
    /// Delivers one event to every connection allowed to see it.
    pub fn dispatch(&mut self, event: &Event) {
        match event {
            Event::MessageSent { room, message } => {
                self.rooms.put(room);
                self.on_message(room, message, true);
            }
            Event::MessageUpdated { room, message } | Event::ThreadChanged { room, message } => {
                self.on_message(room, message, false)
            }
            Event::MessageDeleted { room, message } => self.on_deleted(room, message),
            Event::RoomCreated { room } => self.rooms.put(room),
            Event::RoomChanged { room } => {
                self.rooms.put(room);
                self.rooms_changed_to_members(room, None);
            }
            Event::RoomDeleted { room, member_ids } => self.on_room_deleted(room, member_ids),
            Event::UserJoined { room, user } => {
                self.rooms.put(room);
                self.rooms_changed_to_members(room, Some(&user.id));
            }
            Event::UserLeft { room, user } => self.on_user_left(room, user),
            Event::SubscriptionChanged {
                user_id,
                subscription,
            } => self.on_subscription(user_id, subscription),
            // Clients redraw reactions from the `MessageUpdated` before it.
            Event::UserCreated { .. } | Event::ReactionChanged { .. } => {}
            Event::UserUpdated { user } => self.on_user_updated(user),
            Event::AvatarChanged { user } => {
                self.on_user_updated(user);
                // Rocket.Chat's `user.avatarUpdate` broadcast.
                self.on_logged(
                    "stream-notify-logged",
                    "updateAvatar",
                    &json!([{"username": user.username, "etag": user.avatar_etag}]),
                )
            }
            Event::LoggedOut {
                user_id,
                token_hash,
            } => {
                for id in self.user_conns(user_id) {
                    let same_token = self
                        .login_of(id)
                        .is_some_and(|l| &l.token_hash == token_hash);
                    if same_token {
                        self.logout(id, "Logged out");
                    }
                }
            }
            Event::UserActivity {
                room_id,
                username,
                activities,
                extras,
                origin,
                ..
            } => self.on_activity(room_id, username, activities, extras, origin.as_deref()),
            Event::SettingChanged { id, public, value } => self.on_setting(id, *public, value),
            Event::UserStatusChanged {
                user_id,
                username,
                name,
                roles,
                status,
                status_text,
            } => self.on_user_status(user_id, username, name, roles, status, status_text),
            Event::PermissionChanged { permission } => self.on_logged(
                "stream-notify-logged",
                "permissions-changed",
                &json!(["updated", ejson(permission)]),
            ),
            Event::RoleChanged { role, removed } => {
                let mut payload = ejson(role);
                payload["type"] = json!(if *removed { "removed" } else { "changed" });
                self.on_logged("stream-roles", "roles", &json!([payload]))
            }
            Event::UserRoleChanged {
                role_id,
                user,
                added,
                scope,
            } => {
                let mut payload = json!({
                    "type": if *added { "added" } else { "removed" },
                    "_id": role_id,
                    "u": {"_id": user.id, "username": user.username, "name": user.name},
                });
                if let Some(scope) = scope {
                    payload["scope"] = json!(scope);
                }
                self.on_logged("stream-notify-logged", "roles-change", &json!([payload]))
            }
            Event::Ephemeral { user_id, message } => {
                let mut payload = message_json(message);
                payload["private"] = json!(true);
                let args = Value::Array(vec![payload]).to_string();
                for id in self.user_conns(user_id) {
                    self.push_matching(
                        id,
                        |k| {
                            *k == SubKind::User {
                                topic: UserTopic::Message,
                            }
                        },
                        |_, sub| Some(user_event(sub, &args)),
                    );
                }
            }
        }
    }

    /// Rocket.Chat's `[clientAction, {_id, value}]` to every settings subscription
    /// that may see it (a private one sees every setting, a public one only public
    /// settings).
    fn on_setting(&self, id: &str, public: bool, value: &Value) {
        let args = json!(["updated", {"_id": id, "value": value}]).to_string();
        for entry in self.conns.values() {
            for sub in entry.subs.values().filter(|s| s.active) {
                if let SubKind::Settings { private } = sub.kind {
                    if private || public {
                        entry
                            .conn
                            .push(protocol::changed(&sub.collection, &sub.event_name, &args));
                    }
                }
            }
        }
    }

    /// `args` on `collection`/`event_name` to every logged-in subscriber of it.
    fn on_logged(&self, collection: &str, event_name: &str, args: &Value) {
        let text = OnceCell::new();
        let frame = || text.get_or_init(|| args.to_string()).as_str();
        for entry in self.conns.values().filter(|e| e.login.is_some()) {
            for sub in entry.subs.values().filter(|s| s.active) {
                if sub.kind == SubKind::Logged
                    && sub.collection == collection
                    && sub.event_name == event_name
                {
                    entry
                        .conn
                        .push(protocol::changed(&sub.collection, &sub.event_name, frame()));
                }
            }
        }
    }

    fn on_message(&self, room: &Room, message: &Message, new: bool) {
        let rid = room.id.as_str();
        let msg = OnceCell::new();
        let msg = || msg.get_or_init(|| message_json(message));
        let room_frame = OnceCell::new();
        if let Some(ids) = self.by_room.get(rid) {
            for id in ids {
                self.push_matching(
                    *id,
                    |k| matches!(k, SubKind::RoomMessages { rid: r } if r == rid),
                    |_, _| {
                        let frame = room_frame.get_or_init(|| {
                            let args = Value::Array(vec![msg().clone()]).to_string();
                            protocol::changed(ROOM_MESSAGES, rid, &args)
                        });
                        Some(frame.clone())
                    },
                );
            }
        }
        let Some(ids) = self.members.get(rid) else {
            return;
        };
        // `__my_messages__`: the message plus how the room looks to this user.
        let mine = |room_name: Value| {
            let extra =
                json!({"roomParticipant": true, "roomType": room.t.code(), "roomName": room_name});
            let args = Value::Array(vec![msg().clone(), extra]).to_string();
            protocol::changed(ROOM_MESSAGES, "__my_messages__", &args)
        };
        let shared_mine = OnceCell::new();
        let notify_ids: Vec<&str> = match (new, message.t.is_some(), room.t) {
            (false, _, _) | (_, true, _) => Vec::new(),
            (_, _, RoomType::Direct) => room.uids.iter().flatten().map(String::as_str).collect(),
            _ => message.mentions.iter().map(|m| m.id.as_str()).collect(),
        };
        let room_doc = OnceCell::new();
        let room_doc = || {
            room_doc.get_or_init(|| {
                let mut updated = room.clone();
                updated.last_message = Some(Box::new(message.clone()));
                updated.lm = Some(message.ts);
                updated.updated_at = message.ts;
                ejson(&updated).to_string()
            })
        };
        let notification = OnceCell::new();
        for id in ids {
            let Some(entry) = self.conns.get(id) else {
                continue;
            };
            for sub in entry.subs.values().filter(|s| s.active) {
                let frame = match &sub.kind {
                    SubKind::MyMessages if room.t == RoomType::Direct => {
                        mine(room_name_for(room, entry))
                    }
                    SubKind::MyMessages => {
                        shared_mine.get_or_init(|| mine(json!(room.name))).clone()
                    }
                    SubKind::User {
                        topic: UserTopic::RoomsChanged,
                    } if new => user_event(sub, &format!(r#"["updated",{}]"#, room_doc())),
                    SubKind::User {
                        topic: UserTopic::Notification,
                    } if entry
                        .user_id()
                        .is_some_and(|uid| uid != message.u.id && notify_ids.contains(&uid)) =>
                    {
                        let payload = notification
                            .get_or_init(|| notification_json(room, message).to_string());
                        user_event(sub, &format!("[{payload}]"))
                    }
                    _ => continue,
                };
                entry.conn.push(frame);
            }
        }
    }

    fn on_deleted(&mut self, room: &Room, message: &Message) {
        let args = json!([{"_id": message.id}]).to_string();
        let mut frame = None;
        for id in self.room_conns(&room.id) {
            self.push_matching(
                id,
                |k| matches!(k, SubKind::Room { rid, topic: RoomTopic::DeleteMessage } if *rid == room.id),
                |_, sub| {
                    Some(
                        frame
                            .get_or_insert_with(|| {
                                protocol::changed(NOTIFY_ROOM, &sub.event_name, &args)
                            })
                            .clone(),
                    )
                },
            );
        }
    }

    fn on_activity(
        &mut self,
        rid: &str,
        username: &str,
        activities: &[String],
        extras: &Value,
        origin: Option<&str>,
    ) {
        let typing = activities.iter().any(|a| a == "user-typing");
        for id in self.room_conns(rid) {
            let from_here = self
                .conn(id)
                .is_some_and(|c| Some(c.session.as_str()) == origin);
            if from_here {
                continue;
            }
            self.push_matching(
                id,
                |k| matches!(k, SubKind::Room { rid: r, topic: RoomTopic::UserActivity | RoomTopic::Typing } if r == rid),
                |_, sub| {
                    let args = match sub.kind {
                        SubKind::Room {
                            topic: RoomTopic::Typing,
                            ..
                        } => json!([username, typing]),
                        _ => json!([username, activities, extras]),
                    };
                    Some(protocol::changed(NOTIFY_ROOM, &sub.event_name, &args.to_string()))
                },
            );
        }
    }

    /// `rooms-changed` `updated` to the members of a room (but `except` one user).
    fn rooms_changed_to_members(&mut self, room: &Room, except: Option<&str>) {
        let doc = ejson(room).to_string();
        let args = format!(r#"["updated",{doc}]"#);
        for id in self.member_conns(&room.id) {
            self.push_matching(
                id,
                |k| {
                    *k == SubKind::User {
                        topic: UserTopic::RoomsChanged,
                    }
                },
                |entry, sub| (entry.user_id() != except).then(|| user_event(sub, &args)),
            );
        }
    }

    /// The user lost `room`: tell their sessions and stop its streams for them.
    fn lose_room(&mut self, id: u64, room_id: &str, reason: &str) {
        self.end_room_subs(id, room_id, reason);
        let Some(sub_id) = self.membership_remove(id, room_id) else {
            return;
        };
        let Some(entry) = self.conns.get(&id) else {
            return;
        };
        let u = entry
            .login
            .as_ref()
            .map(|l| json!({"_id": l.user.id, "username": l.user.username}));
        let sub_args = json!(["removed", {"_id": sub_id, "rid": room_id, "u": u}]).to_string();
        let room_args = json!(["removed", {"_id": room_id}]).to_string();
        self.push_matching(
            id,
            |k| {
                matches!(
                    k,
                    SubKind::User {
                        topic: UserTopic::SubscriptionsChanged | UserTopic::RoomsChanged
                    }
                )
            },
            |_, sub| match sub.kind {
                SubKind::User {
                    topic: UserTopic::SubscriptionsChanged,
                } => Some(user_event(sub, &sub_args)),
                _ => Some(user_event(sub, &room_args)),
            },
        );
    }

    fn on_user_left(&mut self, room: &Room, user: &User) {
        self.rooms.put(room);
        for id in self.user_conns(&user.id) {
            self.lose_room(id, &room.id, "You are no longer in this room");
        }
        self.rooms_changed_to_members(room, Some(&user.id));
    }

    fn on_room_deleted(&mut self, room: &Room, member_ids: &[String]) {
        let reason = "The room was deleted";
        let mut ids = self.room_conns(&room.id);
        ids.extend(self.member_conns(&room.id));
        for uid in member_ids {
            ids.extend(self.user_conns(uid));
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.lose_room(id, &room.id, reason);
        }
        self.rooms.remove(&room.id);
    }

    fn on_subscription(&mut self, user_id: &str, subscription: &Subscription) {
        let sub_doc = ejson(subscription).to_string();
        for id in self.user_conns(user_id) {
            let inserted =
                self.membership_add(id, &subscription.rid, &subscription.id) == Some(true);
            let verb = if inserted { "inserted" } else { "updated" };
            let sub_args = format!(r#"["{verb}",{sub_doc}]"#);
            let room_doc = match self.rooms.get(&subscription.rid) {
                Some(room) => ejson(room),
                None => {
                    json!({"_id": subscription.rid, "t": subscription.t.code(), "name": subscription.name})
                }
            };
            let room_args = format!(r#"["inserted",{room_doc}]"#);
            self.push_matching(
                id,
                |k| {
                    matches!(
                        k,
                        SubKind::User {
                            topic: UserTopic::SubscriptionsChanged | UserTopic::RoomsChanged
                        }
                    )
                },
                |_, sub| match sub.kind {
                    SubKind::User {
                        topic: UserTopic::SubscriptionsChanged,
                    } => Some(user_event(sub, &sub_args)),
                    _ => inserted.then(|| user_event(sub, &room_args)),
                },
            );
        }
    }

    fn on_user_updated(&mut self, user: &User) {
        for id in self.user_conns(&user.id) {
            if !user.active {
                self.logout(id, "The user was deactivated");
            } else if let Some(entry) = self.conns.get_mut(&id) {
                let mut lost_role = false;
                if let Some(login) = entry.login.as_mut() {
                    lost_role = login.user.roles.iter().any(|r| !user.has_role(r));
                    login.user = user.clone();
                }
                // Losing a role may take away the permission that let the user
                // follow every setting: the client must subscribe again, and is
                // checked afresh.
                if lost_role {
                    end_private_settings(entry, "The user's roles changed");
                }
            }
        }
    }
}

/// Ends the entry's `private-settings-changed` subscriptions with `nosub`.
fn end_private_settings(entry: &mut Entry, reason: &str) {
    let ended: Vec<String> = entry
        .subs
        .iter()
        .filter(|(_, s)| s.kind == SubKind::Settings { private: true })
        .map(|(id, _)| id.clone())
        .collect();
    let error = protocol::DdpError::not_allowed(reason);
    for sub_id in ended {
        let was_active = entry.subs.remove(&sub_id).is_some_and(|s| s.active);
        if was_active {
            entry
                .conn
                .push(protocol::nosub(&Value::String(sub_id), Some(&error)));
        }
    }
}

/// Rocket.Chat's desktop notification payload for a mention or a direct message.
fn notification_json(room: &Room, message: &Message) -> Value {
    let sender = &message.u;
    let (title, text) = match (&room.name, room.t) {
        (Some(name), RoomType::Channel | RoomType::Group) => (
            format!("#{name}"),
            format!("{}: {}", sender.username, message.msg),
        ),
        _ => (format!("@{}", sender.username), message.msg.clone()),
    };
    let mut payload = json!({
        "_id": message.id,
        "rid": message.rid,
        "sender": {"_id": sender.id, "username": sender.username, "name": sender.name},
        "type": room.t.code(),
        "message": {"msg": message.msg},
    });
    if let Some(name) = &room.name {
        payload["name"] = json!(name);
    }
    if let Some(tmid) = &message.tmid {
        payload["tmid"] = json!(tmid);
    }
    json!({"title": title, "text": text, "payload": payload})
}
