//! Who is connected, as whom, subscribed to what, and a member of which rooms.
//!
//! One registry behind one mutex, touched only briefly and never across an await:
//! the fan-out locks it once per event and finds the recipients through indexes (by
//! room, by user, by membership). Everything that authorizes delivery lives here, so
//! that revoking access (leave, kick, logout, deactivation) takes effect for the very
//! next event.
//!
//! Membership (which rooms a logged-in connection's user belongs to) is loaded from
//! storage at login. Changes that arrive on the bus while the load is in flight are
//! logged and replayed over the loaded set, so a leave that races with a login is
//! never lost.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde_json::Value;

use super::connection::ConnShared;
use super::protocol::{self, DdpError};
use crate::store::{Room, Subscription, User};

pub type ConnId = u64;

/// What a `<uid>/…` user stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTopic {
    RoomsChanged,
    SubscriptionsChanged,
    Message,
    Notification,
    /// Accepted for compatibility with clients that ask for it; nothing is sent.
    Other,
}

/// What a `<rid>/…` room stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomTopic {
    DeleteMessage,
    UserActivity,
    /// Legacy typing (`[username, bool]`).
    Typing,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// `stream-room-messages` of one room.
    RoomMessages {
        rid: String,
    },
    /// `stream-room-messages` `__my_messages__`: every room the user belongs to.
    MyMessages,
    User {
        topic: UserTopic,
    },
    Room {
        rid: String,
        topic: RoomTopic,
    },
    /// Setting changes: `stream-notify-all` `public-settings-changed`, or for those
    /// who may read every setting `stream-notify-logged` `private-settings-changed`.
    Settings {
        private: bool,
    },
    /// `stream-user-presence`: the statuses of the users the connection watches
    /// ([`Entry::watched`]); one per connection, as Rocket.Chat.
    Presence,
    /// `stream-notify-logged` `user-status`: every user's status changes.
    UserStatus,
    /// Events every logged-in user receives (`stream-roles` `roles`,
    /// `stream-notify-logged` `permissions-changed` / `roles-change`).
    Logged,
    /// A stream we accept but never publish on.
    Silent,
}

impl SubKind {
    pub fn room(&self) -> Option<&str> {
        match self {
            SubKind::RoomMessages { rid } | SubKind::Room { rid, .. } => Some(rid),
            _ => None,
        }
    }
}

pub struct Sub {
    pub kind: SubKind,
    pub collection: String,
    pub event_name: String,
    pub use_collection: bool,
    /// Events flow only once the subscription was authorized and `ready` was sent.
    pub active: bool,
    /// Access was revoked while the subscription was being authorized.
    pub revoked: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Login {
    pub user: User,
    pub token_hash: String,
}

#[derive(Debug)]
pub enum MembershipOp {
    Add { rid: String, sub_id: String },
    Remove { rid: String },
}

/// The rooms a connection's user belongs to: room id → subscription id.
#[derive(Debug)]
pub enum Membership {
    Off,
    Loading(Vec<MembershipOp>),
    Ready(HashMap<String, String>),
}

pub struct Entry {
    pub conn: Arc<ConnShared>,
    pub login: Option<Login>,
    pub membership: Membership,
    pub subs: HashMap<String, Sub>,
    /// Users whose status the connection's `stream-user-presence` follows.
    pub watched: HashSet<String>,
}

impl Entry {
    pub fn user_id(&self) -> Option<&str> {
        self.login.as_ref().map(|l| l.user.id.as_str())
    }
}

/// Rooms seen on the bus recently, to show a room document when a user gains one.
#[derive(Default)]
pub struct RoomCache {
    rooms: HashMap<String, Room>,
}

const ROOM_CACHE_MAX: usize = 4096;

impl RoomCache {
    pub fn put(&mut self, room: &Room) {
        if self.rooms.len() >= ROOM_CACHE_MAX && !self.rooms.contains_key(&room.id) {
            self.rooms.clear();
        }
        self.rooms.insert(room.id.clone(), room.clone());
    }
    pub fn get(&self, rid: &str) -> Option<&Room> {
        self.rooms.get(rid)
    }
    pub fn remove(&mut self, rid: &str) {
        self.rooms.remove(rid);
    }
}

#[derive(Default)]
pub struct Registry {
    pub(super) conns: HashMap<ConnId, Entry>,
    /// Logged-in connections of each user.
    pub(super) by_user: HashMap<String, HashSet<ConnId>>,
    /// Connections with a room-scoped subscription (messages, notify-room) per room.
    pub(super) by_room: HashMap<String, HashSet<ConnId>>,
    /// Connections whose user is a member of the room (loaded membership only).
    pub(super) members: HashMap<String, HashSet<ConnId>>,
    pub(super) rooms: RoomCache,
    /// Where logins and logouts of connections go, for presence (set at start).
    pub(super) presence: Option<tokio::sync::mpsc::UnboundedSender<PresenceOp>>,
}

/// A logged-in connection came or went: presence records it in the store.
#[derive(Debug)]
pub enum PresenceOp {
    Connected { user_id: String, session: String },
    Disconnected { user_id: String, session: String },
}

fn index_add(index: &mut HashMap<String, HashSet<ConnId>>, key: &str, id: ConnId) {
    index.entry(key.to_string()).or_default().insert(id);
}

fn index_remove(index: &mut HashMap<String, HashSet<ConnId>>, key: &str, id: ConnId) {
    if let Some(set) = index.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

impl Registry {
    pub fn register(&mut self, conn: Arc<ConnShared>) {
        self.conns.insert(
            conn.id,
            Entry {
                conn,
                login: None,
                membership: Membership::Off,
                subs: HashMap::new(),
                watched: HashSet::new(),
            },
        );
    }

    pub fn unregister(&mut self, id: ConnId) {
        let Some(entry) = self.conns.remove(&id) else {
            return;
        };
        self.drop_indexes(id, &entry);
        self.presence_gone(&entry);
    }

    fn presence_op(&self, op: PresenceOp) {
        if let Some(tx) = &self.presence {
            // Closed only at shutdown, when presence removes this instance's
            // connections anyway.
            let _ = tx.send(op);
        }
    }

    fn presence_gone(&self, entry: &Entry) {
        if let Some(uid) = entry.user_id() {
            self.presence_op(PresenceOp::Disconnected {
                user_id: uid.to_string(),
                session: entry.conn.session.clone(),
            });
        }
    }

    fn drop_indexes(&mut self, id: ConnId, entry: &Entry) {
        if let Some(uid) = entry.user_id() {
            index_remove(&mut self.by_user, uid, id);
        }
        if let Membership::Ready(rooms) = &entry.membership {
            for rid in rooms.keys() {
                index_remove(&mut self.members, rid, id);
            }
        }
        for sub in entry.subs.values() {
            if let Some(rid) = sub.kind.room() {
                index_remove(&mut self.by_room, rid, id);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    pub fn conn(&self, id: ConnId) -> Option<&Arc<ConnShared>> {
        self.conns.get(&id).map(|e| &e.conn)
    }

    pub fn login_of(&self, id: ConnId) -> Option<Login> {
        self.conns.get(&id).and_then(|e| e.login.clone())
    }

    /// Records a login. A different user than before ends the old subscriptions.
    /// Returns whether the membership must be loaded (then call [`Self::membership_loaded`]).
    pub fn login(&mut self, id: ConnId, user: User, token_hash: String) -> bool {
        let same_user = self
            .conns
            .get(&id)
            .and_then(Entry::user_id)
            .is_some_and(|uid| uid == user.id);
        if !same_user {
            self.logout(id, "Logged in as another user");
        }
        let Some(entry) = self.conns.get_mut(&id) else {
            return false;
        };
        entry.conn.set_user(Some(&user.id));
        index_add(&mut self.by_user, &user.id, id);
        let session = entry.conn.session.clone();
        if !same_user {
            self.presence_op(PresenceOp::Connected {
                user_id: user.id.clone(),
                session,
            });
        }
        let Some(entry) = self.conns.get_mut(&id) else {
            return false;
        };
        entry.login = Some(Login { user, token_hash });
        match entry.membership {
            Membership::Ready(_) | Membership::Loading(_) => false,
            Membership::Off => {
                entry.membership = Membership::Loading(Vec::new());
                true
            }
        }
    }

    /// The loaded membership of `user_id`, with changes seen meanwhile replayed.
    pub fn membership_loaded(&mut self, id: ConnId, user_id: &str, subs: Vec<Subscription>) {
        let Some(entry) = self.conns.get_mut(&id) else {
            return;
        };
        if entry.user_id() != Some(user_id) {
            return;
        }
        let Membership::Loading(log) = &mut entry.membership else {
            return;
        };
        let log = std::mem::take(log);
        let mut rooms: HashMap<String, String> = subs.into_iter().map(|s| (s.rid, s.id)).collect();
        for op in log {
            match op {
                MembershipOp::Add { rid, sub_id } => {
                    rooms.insert(rid, sub_id);
                }
                MembershipOp::Remove { rid } => {
                    rooms.remove(&rid);
                }
            }
        }
        for rid in rooms.keys() {
            index_add(&mut self.members, rid, id);
        }
        entry.membership = Membership::Ready(rooms);
    }

    /// Ends the session's login and every subscription, telling the client why.
    pub fn logout(&mut self, id: ConnId, reason: &str) {
        let Some(mut entry) = self.conns.remove(&id) else {
            return;
        };
        self.drop_indexes(id, &entry);
        self.presence_gone(&entry);
        entry.watched.clear();
        let error = DdpError::not_allowed(reason);
        for (sub_id, sub) in entry.subs.drain() {
            if sub.active {
                entry
                    .conn
                    .push(protocol::nosub(&Value::String(sub_id), Some(&error)));
            }
        }
        if entry.login.take().is_some() {
            tracing::debug!(session = %entry.conn.session, reason, "realtime session logged out");
        }
        entry.conn.set_user(None);
        entry.membership = Membership::Off;
        self.conns.insert(id, entry);
    }

    /// Registers a subscription that is not yet authorized. `false` if the id is taken
    /// (Meteor ignores a duplicate `sub`).
    pub fn add_pending_sub(&mut self, id: ConnId, sub_id: &str, sub: Sub) -> bool {
        let Some(entry) = self.conns.get_mut(&id) else {
            return false;
        };
        if entry.subs.contains_key(sub_id) {
            return false;
        }
        if let Some(rid) = sub.kind.room() {
            index_add(&mut self.by_room, rid, id);
        }
        entry.subs.insert(sub_id.to_string(), sub);
        true
    }

    /// Activates an authorized subscription: `added` (useCollection) then `ready`,
    /// queued under the lock so no event can overtake them. If access was revoked
    /// meanwhile, or the session logged out, answers `nosub` with the reason.
    pub fn activate_sub(&mut self, id: ConnId, sub_id: &str) {
        let Some(entry) = self.conns.get_mut(&id) else {
            return;
        };
        let sub_key = Value::String(sub_id.to_string());
        let Some(sub) = entry.subs.get_mut(sub_id) else {
            let error = DdpError::not_allowed("Not allowed");
            entry.conn.push(protocol::nosub(&sub_key, Some(&error)));
            return;
        };
        if let Some(reason) = sub.revoked.clone() {
            self.refuse_sub(id, sub_id, DdpError::not_allowed(reason));
            return;
        }
        sub.active = true;
        if sub.use_collection {
            entry
                .conn
                .push(protocol::added(&sub.collection, &sub.event_name));
        }
        entry.conn.push(protocol::ready(sub_id));
    }

    /// Drops a pending subscription and answers `nosub` with `error`.
    pub fn refuse_sub(&mut self, id: ConnId, sub_id: &str, error: DdpError) {
        self.remove_sub(id, sub_id);
        if let Some(entry) = self.conns.get(&id) {
            let key = Value::String(sub_id.to_string());
            entry.conn.push(protocol::nosub(&key, Some(&error)));
        }
    }

    /// Forgets a subscription; returns whether it existed.
    pub fn remove_sub(&mut self, id: ConnId, sub_id: &str) -> bool {
        let Some(entry) = self.conns.get_mut(&id) else {
            return false;
        };
        let Some(sub) = entry.subs.remove(sub_id) else {
            return false;
        };
        if sub.kind == SubKind::Presence {
            entry.watched.clear();
        }
        if let Some(rid) = sub.kind.room() {
            let still = entry.subs.values().any(|s| s.kind.room() == Some(rid));
            if !still {
                index_remove(&mut self.by_room, rid, id);
            }
        }
        true
    }

    /// Ends the connection's subscriptions scoped to `rid` (access to the room is
    /// gone): active ones get `nosub` with `reason` now, pending ones when they finish
    /// authorizing.
    pub(super) fn end_room_subs(&mut self, id: ConnId, rid: &str, reason: &str) {
        let Some(entry) = self.conns.get_mut(&id) else {
            return;
        };
        let error = DdpError::not_allowed(reason);
        let mut ended = Vec::new();
        for (sub_id, sub) in entry.subs.iter_mut() {
            if sub.kind.room() != Some(rid) {
                continue;
            }
            if sub.active {
                ended.push(sub_id.clone());
            } else {
                sub.revoked = Some(reason.to_string());
            }
        }
        for sub_id in ended {
            entry.subs.remove(&sub_id);
            entry
                .conn
                .push(protocol::nosub(&Value::String(sub_id), Some(&error)));
        }
        if !entry.subs.values().any(|s| s.kind.room() == Some(rid)) {
            index_remove(&mut self.by_room, rid, id);
        }
    }

    /// The user gained (or changed) a room subscription. `Some(true)` when the room is
    /// new to a loaded membership, `Some(false)` when known, `None` when not loaded.
    pub(super) fn membership_add(&mut self, id: ConnId, rid: &str, sub_id: &str) -> Option<bool> {
        let entry = self.conns.get_mut(&id)?;
        match &mut entry.membership {
            Membership::Off => None,
            Membership::Loading(log) => {
                log.push(MembershipOp::Add {
                    rid: rid.to_string(),
                    sub_id: sub_id.to_string(),
                });
                None
            }
            Membership::Ready(rooms) => {
                let new = rooms.insert(rid.to_string(), sub_id.to_string()).is_none();
                if new {
                    index_add(&mut self.members, rid, id);
                }
                Some(new)
            }
        }
    }

    /// The user lost a room; returns the subscription id it had, if loaded and known.
    pub(super) fn membership_remove(&mut self, id: ConnId, rid: &str) -> Option<String> {
        let entry = self.conns.get_mut(&id)?;
        match &mut entry.membership {
            Membership::Off => None,
            Membership::Loading(log) => {
                log.push(MembershipOp::Remove {
                    rid: rid.to_string(),
                });
                None
            }
            Membership::Ready(rooms) => {
                let removed = rooms.remove(rid);
                if removed.is_some() {
                    index_remove(&mut self.members, rid, id);
                }
                removed
            }
        }
    }

    /// Connection ids of a user (a copy, so the registry can be changed meanwhile).
    pub(super) fn user_conns(&self, user_id: &str) -> Vec<ConnId> {
        self.by_user
            .get(user_id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(super) fn room_conns(&self, rid: &str) -> Vec<ConnId> {
        self.by_room
            .get(rid)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(super) fn member_conns(&self, rid: &str) -> Vec<ConnId> {
        self.members
            .get(rid)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Sends `frame_for(sub)` on every active subscription of `id` that `want` selects.
    pub(super) fn push_matching(
        &self,
        id: ConnId,
        want: impl Fn(&SubKind) -> bool,
        mut frame_for: impl FnMut(&Entry, &Sub) -> Option<Utf8Bytes>,
    ) {
        let Some(entry) = self.conns.get(&id) else {
            return;
        };
        for sub in entry.subs.values() {
            if sub.active && want(&sub.kind) {
                if let Some(frame) = frame_for(entry, sub) {
                    entry.conn.push(frame);
                }
            }
        }
    }
}
