//! Pins, stars and thread follows; a room's pinned, starred and mentioning
//! messages and its threads; syncs of what changed or was deleted since a time;
//! search. Rules, errors and shapes as Rocket.Chat's (`pinMessage`,
//! `starMessage`, `followMessage`, `chat.getThreadsList`, `messages/get`, ...).

use serde_json::json;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{
    search_words, Listing, Message, MessageFilter, Page, Room, RoomType, SyncScope, Tombstone, Ts,
    User, UserRef,
};

/// Most changed messages one sync answers with.
pub const SYNC_MAX: u64 = 1_000;

/// Which threads `chat.getThreadsList` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadsKind {
    All,
    /// Those the caller follows.
    Following,
    /// Those with replies the caller has not read.
    Unread,
}

impl ThreadsKind {
    pub fn parse(s: Option<&str>) -> ThreadsKind {
        match s {
            Some("following") => ThreadsKind::Following,
            Some("unread") => ThreadsKind::Unread,
            _ => ThreadsKind::All,
        }
    }
}

/// What changed in part of a room since a time.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub updated: Vec<Message>,
    pub deleted: Vec<Tombstone>,
}

fn threads_disabled() -> ChatError {
    ChatError::refused("error-not-allowed", "Threads Disabled")
}

fn not_allowed_cap() -> ChatError {
    ChatError::refused("error-not-allowed", "Not Allowed")
}

impl Chat {
    /// Rocket.Chat's `canAccessRoom`: a public channel with `view-c-room`, or any
    /// room the user is a member of.
    pub async fn can_access_room(&self, actor: &User, room: &Room) -> ChatResult<bool> {
        if room.t == RoomType::Channel
            && self.has_permission(actor, Perm::VIEW_C_ROOM, None).await?
        {
            return Ok(true);
        }
        Ok(self
            .store
            .subscription(&room.id, &actor.id)
            .await?
            .is_some())
    }

    /// The room `rid` if it exists and `actor` may access it, else `denied`.
    pub(super) async fn accessible(
        &self,
        actor: &User,
        rid: &str,
        denied: ChatError,
    ) -> ChatResult<Room> {
        let Some(room) = self.store.room_by_id(rid).await? else {
            return Err(denied);
        };
        if !self.can_access_room(actor, &room).await? {
            return Err(denied);
        }
        Ok(room)
    }

    pub(super) fn require_threads(&self) -> ChatResult<()> {
        if self.settings().bool("Threads_enabled") {
            Ok(())
        } else {
            Err(threads_disabled())
        }
    }

    /// Whether message `mid` exists in room `rid` (a thread a command runs in).
    pub async fn message_is_in_room(&self, mid: &str, rid: &str) -> ChatResult<bool> {
        Ok(self.store.message(mid).await?.is_some_and(|m| m.rid == rid))
    }

    /// Pins or unpins a message. Pinning posts Rocket.Chat's `message_pinned` system
    /// message quoting it, which is returned; unpinning returns the message.
    pub async fn pin_message(&self, actor: &User, mid: &str, pin: bool) -> ChatResult<Message> {
        if !self.settings().bool("Message_AllowPinning") {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Message pinning not allowed",
            ));
        }
        let message = self
            .store
            .message(mid)
            .await?
            .ok_or_else(message_id_not_found)?;
        let verb = if pin { "pinning" } else { "unpinning" };
        let not_found = || {
            ChatError::refused(
                "error-invalid-message",
                format!("Message you are {verb} was not found"),
            )
        };
        if self
            .store
            .subscription(&message.rid, &actor.id)
            .await?
            .is_none()
        {
            return Err(not_found());
        }
        if !self
            .has_permission(actor, Perm::PIN_MESSAGE, Some(&message.rid))
            .await?
        {
            return Err(ChatError::refused("not-authorized", "Not Authorized"));
        }
        let room = self.room(RoomRef::Id(&message.rid)).await?;
        let by = UserRef {
            id: actor.id.clone(),
            username: actor.username.clone(),
            name: None,
        };
        let updated = self
            .store
            .set_pinned(mid, pin.then_some(&by), Ts::now())
            .await?
            .ok_or_else(not_found)?;
        tracing::debug!(room_id = %room.id, user_id = %actor.id, message_id = %mid, pin, "message pin changed");
        self.bus.publish(Event::MessageUpdated {
            room: room.clone(),
            message: updated.clone(),
        });
        if !pin {
            return Ok(updated);
        }
        let ts = crate::wire::iso(message.ts.0);
        let attachment = json!({
            "text": message.msg,
            "author_name": message.u.username,
            "author_icon": format!("/avatar/{}", message.u.username),
            "ts": ts,
            "attachments": message.attachments,
        });
        self.post_system_with_attachments(&room, actor, "message_pinned", "", vec![attachment])
            .await
    }

    /// Stars or unstars a message for `actor`.
    pub async fn star_message(&self, actor: &User, mid: &str, star: bool) -> ChatResult<()> {
        if !self.settings().bool("Message_AllowStarring") {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Message starring not allowed",
            ));
        }
        let message = self
            .store
            .message(mid)
            .await?
            .ok_or_else(message_id_not_found)?;
        let room = self.room(RoomRef::Id(&message.rid)).await?;
        if self
            .store
            .subscription(&room.id, &actor.id)
            .await?
            .is_none()
            || !self.can_access_room(actor, &room).await?
        {
            return Err(ChatError::refused("not-authorized", "Not Authorized"));
        }
        let updated = self
            .store
            .set_starred(mid, &actor.id, star, Ts::now())
            .await?
            .ok_or_else(message_id_not_found)?;
        self.bus.publish(Event::MessageUpdated {
            room,
            message: updated,
        });
        Ok(())
    }

    /// Follows or unfollows the thread of `mid` (its parent, for a reply).
    pub async fn follow_message(&self, actor: &User, mid: &str, follow: bool) -> ChatResult<()> {
        let denied = || ChatError::refused("error-not-allowed", "not-allowed");
        if !self.settings().bool("Threads_enabled") {
            return Err(denied());
        }
        let message = self
            .store
            .message(mid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-message", "Invalid message"))?;
        let room = self.accessible(actor, &message.rid, denied()).await?;
        let tmid = message.tmid.clone().unwrap_or(message.id);
        // Unfollowing also reads the thread (Rocket.Chat's `unfollow`).
        if !follow {
            self.thread_read(actor, &room.id, &tmid).await?;
        }
        if let Some(parent) = self
            .store
            .set_thread_follower(&tmid, &actor.id, follow, Ts::now())
            .await?
        {
            self.bus.publish(Event::MessageUpdated {
                room,
                message: parent,
            });
        }
        Ok(())
    }

    /// A room's pinned, starred-by-me or mentioning-me messages (`chat.getPinnedMessages`,
    /// `getStarredMessages`, `getMentionedMessages`).
    pub async fn marked_messages(
        &self,
        actor: &User,
        rid: &str,
        filter: MessageFilter,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        let denied = match filter {
            MessageFilter::Pinned => ChatError::refused("error-not-allowed", "Not allowed"),
            // Rocket.Chat throws a plain `Error('error-not-allowed')` here.
            _ => ChatError::failure("error-not-allowed", "error-not-allowed"),
        };
        let room = self.accessible(actor, rid, denied).await?;
        Ok(self.store.room_messages(&room.id, &filter, page).await?)
    }

    /// A room's threads, latest reply first (`chat.getThreadsList`).
    pub async fn threads(
        &self,
        actor: &User,
        rid: &str,
        kind: ThreadsKind,
        text: Option<&str>,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        self.require_threads()?;
        let room = self.accessible(actor, rid, not_allowed_cap()).await?;
        let filter = MessageFilter::Threads {
            text: text.map(str::to_string),
            follower: (kind == ThreadsKind::Following).then(|| actor.id.clone()),
            ids: match kind {
                ThreadsKind::Unread => Some(
                    self.store
                        .subscription(&room.id, &actor.id)
                        .await?
                        .map(|s| s.threads.tunread)
                        .unwrap_or_default(),
                ),
                _ => None,
            },
        };
        Ok(self.store.room_messages(&room.id, &filter, page).await?)
    }

    /// The thread parent `tmid` and its room, checked as `chat.getThreadMessages`.
    async fn thread_parent(&self, actor: &User, tmid: &str) -> ChatResult<(Room, Message)> {
        self.require_threads()?;
        let parent = self
            .store
            .message(tmid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-message", "Invalid Message"))?;
        let room = self
            .accessible(actor, &parent.rid, not_allowed_cap())
            .await?;
        Ok((room, parent))
    }

    /// A thread's replies, oldest first, with Rocket.Chat's checks.
    pub async fn thread_replies(
        &self,
        actor: &User,
        tmid: &str,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        let (_, parent) = self.thread_parent(actor, tmid).await?;
        let items = self.store.thread_messages(&parent.id, page).await?;
        let total = u64::try_from(parent.tcount.unwrap_or(0)).unwrap_or(0);
        Ok(Listing { items, total })
    }

    /// A room's threads changed or deleted since `since` (`chat.syncThreadsList`).
    pub async fn sync_threads(&self, actor: &User, rid: &str, since: Ts) -> ChatResult<Changes> {
        self.require_threads()?;
        let room = self.accessible(actor, rid, not_allowed_cap()).await?;
        self.changes(SyncScope::Threads(room.id), since).await
    }

    /// A thread's replies changed or deleted since `since` (`chat.syncThreadMessages`).
    pub async fn sync_thread(&self, actor: &User, tmid: &str, since: Ts) -> ChatResult<Changes> {
        let (_, parent) = self.thread_parent(actor, tmid).await?;
        self.changes(SyncScope::Thread(parent.id), since).await
    }

    /// A readable room's messages changed or deleted since `since`
    /// (`chat.syncMessages`, realtime `messages/get`).
    pub async fn sync_messages(&self, actor: &User, rid: &str, since: Ts) -> ChatResult<Changes> {
        let (room, _) = self.readable_room(actor, RoomRef::Id(rid)).await?;
        self.changes(SyncScope::Room(room.id), since).await
    }

    /// One kind of a readable room's changes after `since`, at most `count`, oldest
    /// first (the cursor form of `chat.syncMessages`).
    pub async fn sync_messages_page(
        &self,
        actor: &User,
        rid: &str,
        since: Ts,
        count: u64,
        deleted: bool,
    ) -> ChatResult<Changes> {
        let (room, _) = self.readable_room(actor, RoomRef::Id(rid)).await?;
        let scope = SyncScope::Room(room.id);
        let count = count.min(SYNC_MAX);
        Ok(if deleted {
            Changes {
                updated: Vec::new(),
                deleted: self
                    .store
                    .deleted_messages(&scope, since, Page::new(0, count))
                    .await?
                    .items,
            }
        } else {
            Changes {
                updated: self
                    .store
                    .messages_changed_since(&scope, since, count)
                    .await?,
                deleted: Vec::new(),
            }
        })
    }

    async fn changes(&self, scope: SyncScope, since: Ts) -> ChatResult<Changes> {
        let updated = self
            .store
            .messages_changed_since(&scope, since, SYNC_MAX)
            .await?;
        let deleted = self
            .store
            .deleted_messages(&scope, since, Page::new(0, SYNC_MAX))
            .await?
            .items;
        Ok(Changes { updated, deleted })
    }

    /// Tombstones of a readable room's messages deleted since `since`
    /// (`chat.getDeletedMessages`).
    pub async fn deleted_messages(
        &self,
        actor: &User,
        rid: &str,
        since: Ts,
        page: Page,
    ) -> ChatResult<Listing<Tombstone>> {
        let (room, _) = self.readable_room(actor, RoomRef::Id(rid)).await?;
        Ok(self
            .store
            .deleted_messages(&SyncScope::Room(room.id), since, page)
            .await?)
    }

    /// A readable room's messages containing every word of `text`, newest first.
    pub async fn search_messages(
        &self,
        actor: &User,
        rid: &str,
        text: &str,
        page: Page,
    ) -> ChatResult<Vec<Message>> {
        let (room, _) = self.readable_room(actor, RoomRef::Id(rid)).await?;
        let words = search_words(text);
        Ok(self.store.search_messages(&room.id, &words, page).await?)
    }
}

/// Rocket.Chat's answer to an unknown `messageId` on pins, stars and reactions.
fn message_id_not_found() -> ChatError {
    ChatError::refused(
        "error-message-not-found",
        "The provided \"messageId\" does not match any existing message.",
    )
}
