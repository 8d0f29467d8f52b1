//! The event bus: `chat` publishes here after a commit; the realtime API and the
//! apps engine consume. Publishing never blocks: a lagging consumer loses events
//! and is told so by the broadcast channel.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::store::{Message, Room, Subscription, User};

/// Serializable so that instances sharing one MongoDB can exchange them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    MessageSent {
        room: Room,
        message: Message,
    },
    MessageUpdated {
        room: Room,
        message: Message,
    },
    MessageDeleted {
        room: Room,
        message: Message,
    },
    /// A user added (`added`) or removed a reaction; sent after the
    /// `MessageUpdated` carrying the new reactions, for those (the Matrix bridge)
    /// who need to know who reacted with what.
    ReactionChanged {
        room: Room,
        message_id: String,
        emoji: String,
        user: User,
        added: bool,
    },
    /// A thread's parent message as it is after a reply is sent or deleted (reply
    /// count, last reply time): clients redraw it; it is not an edit, so apps are
    /// not told.
    ThreadChanged {
        room: Room,
        message: Message,
    },
    RoomCreated {
        room: Room,
    },
    /// A room's settings changed (topic, name, type, archived, …): members' clients
    /// get `rooms-changed`.
    RoomChanged {
        room: Room,
    },
    RoomDeleted {
        room: Room,
        member_ids: Vec<String>,
    },
    UserJoined {
        room: Room,
        user: User,
    },
    UserLeft {
        room: Room,
        user: User,
    },
    SubscriptionChanged {
        user_id: String,
        subscription: Subscription,
    },
    UserCreated {
        user: User,
    },
    UserUpdated {
        user: User,
    },
    /// A user's avatar was set or reset (`user` as stored after it): clients
    /// reload it (Rocket.Chat's `updateAvatar`), the Matrix bridge syncs puppets.
    AvatarChanged {
        user: User,
    },
    /// A login token was revoked (logout). Realtime sessions logged in with it end
    /// their subscriptions, as Meteor does when a token disappears.
    LoggedOut {
        user_id: String,
        token_hash: String,
    },
    /// A member's activity in a room (typing, …), not stored. Carries the room and the
    /// user so that delivery can be limited to those who may read the room.
    UserActivity {
        room_id: String,
        user_id: String,
        username: String,
        /// Rocket.Chat activity names, e.g. `user-typing`; empty when the user stopped.
        activities: Vec<String>,
        /// Client-supplied extras, passed through (`{}` when none).
        extras: serde_json::Value,
        /// Opaque id of the client connection it came from, so it is not echoed back
        /// to its sender (Rocket.Chat's `retransmitToSelf: false`).
        origin: Option<String>,
    },
    /// A workspace setting changed (stored by an admin). `value` is what readers may
    /// see (a secret's is empty); other instances re-read the stored value.
    SettingChanged {
        id: String,
        public: bool,
        value: serde_json::Value,
    },
    /// A user's presence or status text changed (`status`: online, away, busy,
    /// offline).
    UserStatusChanged {
        user_id: String,
        username: String,
        name: String,
        roles: Vec<String>,
        status: String,
        status_text: String,
    },
    /// A permission's roles changed (`stream-notify-logged` `permissions-changed`).
    PermissionChanged {
        permission: super::permissions::Permission,
    },
    /// A role was created or changed (`removed: false`) or deleted (`stream-roles`).
    RoleChanged {
        role: crate::store::role_store::Role,
        removed: bool,
    },
    /// A user gained (`added`) or lost a role, globally or in the room `scope`
    /// (`stream-notify-logged` `roles-change`).
    UserRoleChanged {
        role_id: String,
        user: crate::store::UserRef,
        added: bool,
        scope: Option<String>,
    },
    /// A message only `user_id` sees, never stored (server or app notices).
    Ephemeral {
        user_id: String,
        message: Message,
    },
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity);
        EventBus { tx }
    }

    pub fn publish(&self, event: Event) {
        // No receiver is fine: nobody is listening yet.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
