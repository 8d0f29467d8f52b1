//! The event bus: `chat` publishes here after a commit; the realtime API and the
//! apps engine consume. Publishing never blocks: a lagging consumer loses events
//! and is told so by the broadcast channel.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::store::{Message, Room, Subscription, User};

#[derive(Clone, Debug)]
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
    RoomCreated {
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
