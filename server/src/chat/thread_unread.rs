//! Unread threads (Rocket.Chat's `tunread` on subscriptions, which its mobile app
//! shows as thread badges): who a thread reply marks the thread unread for, and how
//! a member reads it again (`readThreads`, `getThreadMessages`, unfollowing, and
//! `subscriptions.read` with `readThreads`).

use super::error::{ChatError, ChatResult};
use super::Chat;
use crate::store::{
    Message, Room, RoomType, ThreadMention, ThreadReplyEffects, ThreadUnreadMark, Ts, User,
};

/// What `reply` to the thread `root` does, as Rocket.Chat's `processThreads` and
/// `reply`: the thread's followers are its `replies` — on the first reply the
/// parent's author (in a DM every member) — plus whoever the reply mentions, and
/// the sender; it is unread for all of them but the sender, marked as a mention
/// for those named and as a group mention for the rest on `@all`/`@here`.
/// (Rocket.Chat reads the followers before the first reply records the author, so
/// there the author's first reply is not unread; here it is, which is what the
/// badge is for.)
pub(super) fn reply_effects(
    room: &Room,
    root: &Message,
    reply: &Message,
    group_mention: bool,
) -> ThreadReplyEffects {
    let sender = &reply.u.id;
    let mentioned: Vec<&String> = reply
        .mentions
        .iter()
        .map(|m| &m.id)
        .filter(|id| *id != sender)
        .collect();
    let mut followers: Vec<String> = if root.tcount.unwrap_or(0) == 0 {
        let mut first = vec![root.u.id.clone()];
        if room.t == RoomType::Direct {
            first.extend(room.uids.iter().flatten().cloned());
        }
        first
    } else {
        root.replies.clone().unwrap_or_default()
    };
    for id in &mentioned {
        if !followers.contains(id) {
            followers.push((*id).clone());
        }
    }
    let unread = followers
        .iter()
        .filter(|id| *id != sender)
        .map(|id| ThreadUnreadMark {
            user_id: id.clone(),
            mention: if mentioned.contains(&id) {
                ThreadMention::User
            } else if group_mention {
                ThreadMention::Group
            } else {
                ThreadMention::None
            },
        })
        .collect();
    ThreadReplyEffects { followers, unread }
}

impl Chat {
    /// The thread a reply to `tmid` in `room` joins: `tmid`'s own, or the thread
    /// `tmid` is itself a reply in.
    pub(super) async fn thread_root(&self, room: &Room, tmid: &str) -> ChatResult<Message> {
        let not_found = || {
            ChatError::refused(
                "error-invalid-message",
                "Thread parent not found in this room",
            )
        };
        let parent = self
            .store
            .message(tmid)
            .await?
            .filter(|p| p.rid == room.id)
            .ok_or_else(not_found)?;
        match &parent.tmid {
            Some(root) => self
                .store
                .message(root)
                .await?
                .filter(|p| p.rid == room.id)
                .ok_or_else(not_found),
            None => Ok(parent),
        }
    }

    /// Tells the members a reply marked a thread unread for that their
    /// subscription changed (`stream-notify-user` `subscriptions-changed`).
    pub(super) async fn publish_thread_unread(&self, rid: &str, thread: &ThreadReplyEffects) {
        for mark in &thread.unread {
            match self.store.subscription(rid, &mark.user_id).await {
                Ok(Some(sub)) => self.publish_subscription(sub),
                Ok(None) => {}
                // The reply is committed; a client catches up on its next sync.
                Err(e) => tracing::warn!(room_id = rid, error = %e, "cannot read a subscription"),
            }
        }
    }

    /// Rocket.Chat's `readThreads`: thread `tmid` is read for the caller. An
    /// unknown thread is nothing to read.
    pub async fn read_thread(&self, actor: &User, tmid: &str) -> ChatResult<()> {
        self.require_threads()?;
        let Some(thread) = self.store.message(tmid).await? else {
            return Ok(());
        };
        if self.store.room_by_id(&thread.rid).await?.is_none() {
            return Err(ChatError::refused(
                "error-room-does-not-exist",
                "This room does not exist",
            ));
        }
        self.accessible(
            actor,
            &thread.rid,
            ChatError::refused("error-not-allowed", "Not allowed"),
        )
        .await?;
        self.thread_read(actor, &thread.rid, tmid).await
    }

    /// Takes `tmid` off the caller's unread threads of room `rid` (access checked
    /// by the caller).
    pub(super) async fn thread_read(&self, actor: &User, rid: &str, tmid: &str) -> ChatResult<()> {
        if let Some(sub) = self
            .store
            .read_thread(rid, &actor.id, tmid, Ts::now())
            .await?
        {
            self.publish_subscription(sub);
        }
        Ok(())
    }

    /// A deleted thread is nobody's unread thread any more.
    pub(super) async fn forget_unread_thread(&self, rid: &str, tmid: &str) -> ChatResult<()> {
        for uid in self.store.forget_thread(rid, tmid, Ts::now()).await? {
            if let Some(sub) = self.store.subscription(rid, &uid).await? {
                self.publish_subscription(sub);
            }
        }
        Ok(())
    }
}
