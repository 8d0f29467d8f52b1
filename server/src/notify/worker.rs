//! The notification fan-out: each post commits a marker (queue kind `notify`,
//! keyed by the message) with the message; the queue's worker, never the posting
//! request, works it: finds who is notified ([`rules`]) and hands the notices on:
//! push notices to the [`PushSink`] (unless the person is active on a device),
//! e-mail as one queued batch per person, room and window (unless they have a live
//! session). A post to a room of 10,000 members costs its poster what a post to a
//! room of two does; the work is here. A crash before the fan-out finished leaves
//! the marker queued: the next process (or another instance) does it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::rules::{self, Decision, Defaults, Facts, Pref};
use super::{Notice, PushSink};
use crate::chat::hooks::NoticeQueue;
use crate::chat::mail::{Mail, MISSED_GRACE_MS};
use crate::chat::permissions::Perm;
use crate::chat::presence::OFFLINE;
use crate::chat::Chat;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Message, Room, RoomType, Subscription, Ts, User};
use crate::worker::outbox::{DeliveryError, DeliveryHandler, Outbox};

/// Members read per store call; their notices are one write, which a request's
/// write may wait behind (see `store::lane`), so it is kept to about a
/// millisecond: with 250 a post made during another large room's fan-out took
/// 1.15–1.19× as long as without notifications, with 64 1.06–1.08×
/// (`benches/notify.rs`), pushes arriving no later.
const PAGE: u64 = 64;
/// Fan-outs under way at once on one instance: one at a time reads a room's
/// members and writes its notices in short steps, so a burst of large-room posts
/// queues here instead of holding the store's readers and writer together.
const FANOUTS_AT_ONCE: usize = 2;
/// How long a marker whose message is not found waits for it (MongoDB writes the
/// marker first).
const UNCOMMITTED_GRACE_MS: i64 = 30_000;
/// A window whose mail is due within this margin may already be in the SMTP
/// server's hands: a notice this late gets a mail of its own (see [`missed_mail`]).
const LATE_MARGIN_MS: i64 = 1000;

pub fn defaults(chat: &Chat) -> Defaults {
    let s = chat.settings();
    Defaults {
        email: Pref::parse(&s.string("Accounts_Default_User_Preferences_emailNotificationMode"))
            .unwrap_or(Pref::Mentions),
        push: Pref::parse(&s.string("Accounts_Default_User_Preferences_pushNotifications"))
            .unwrap_or(Pref::All),
        email_allowed: s.bool("Accounts_AllowEmailNotifications"),
    }
}

/// The batching window (ms) a message falls in: `[from, until)`.
pub fn window_of(chat: &Chat, ts: Ts) -> (Ts, Ts) {
    let w = chat
        .settings()
        .int("Email_Notification_Window_Seconds")
        .max(1)
        * 1000;
    let from = ts.0 - ts.0.rem_euclid(w);
    (Ts(from), Ts(from + w))
}

/// The facts of a message (mentions that count, the thread's followers).
pub async fn facts(chat: &Chat, room: &Room, message: &Message) -> Facts {
    let store = chat.store();
    let s = chat.settings();
    let (mut to_all, mut to_here) = rules::group_mentions(&message.msg);
    if room.t == RoomType::Direct {
        (to_all, to_here) = (false, false);
    }
    let max_all = s.int("Message_MaxAll");
    if max_all > 0 && room.users_count > max_all {
        (to_all, to_here) = (false, false);
    }
    if to_all || to_here {
        match store.user_by_id(&message.u.id).await {
            Ok(Some(sender)) => {
                let rid = Some(room.id.as_str());
                to_all = to_all
                    && chat
                        .has_permission(&sender, Perm::MENTION_ALL, rid)
                        .await
                        .unwrap_or(false);
                to_here = to_here
                    && chat
                        .has_permission(&sender, Perm::MENTION_HERE, rid)
                        .await
                        .unwrap_or(false);
            }
            _ => (to_all, to_here) = (false, false),
        }
    }
    let mut followers = HashSet::new();
    if let Some(tmid) = &message.tmid {
        if let Ok(Some(parent)) = store.message(tmid).await {
            followers.insert(parent.u.id.clone());
            followers.extend(parent.replies.unwrap_or_default());
        }
    }
    let max_members = s.int("Notifications_Max_Room_Members");
    Facts {
        room_type: Some(room.t),
        sender_id: message.u.id.clone(),
        mentioned: message.mentions.iter().map(|m| m.id.clone()).collect(),
        to_all,
        to_here,
        is_thread: message.tmid.is_some(),
        followers,
        disable_all: max_members > 0 && room.users_count > max_members,
    }
}

/// Whether the user has a live realtime session (any instance).
pub fn connected(user: &User) -> bool {
    user.status_connection
        .as_deref()
        .is_some_and(|s| s != OFFLINE)
}

/// The person's first verified address (Rocket.Chat mails only verified ones).
pub fn mail_address(user: &User) -> Option<&str> {
    user.emails
        .iter()
        .find(|e| e.verified)
        .map(|e| e.address.as_str())
}

/// The room's name as `user` sees it (for a DM: the other member's).
fn room_name(room: &Room, sub: &Subscription, message: &Message) -> String {
    match room.t {
        RoomType::Direct => message.u.username.clone(),
        _ => room
            .fname
            .clone()
            .or_else(|| room.name.clone())
            .unwrap_or_else(|| sub.name.clone()),
    }
}

/// What a `notify` queue item carries: the message to fan out, and how far the
/// fan-out got (recorded with each page's notices, in the same write).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FanoutJob {
    pub mid: String,
    pub rid: String,
    /// The last member whose notices are queued: a fan-out cut short (a crash, a
    /// stop) resumes after them, so nobody already notified is notified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The fan-out's marker of `message`, due `delay` after `now`: keyed by the
/// message id, so writing it twice (a retried post) queues it once.
pub fn marker(message: &Message, now: Ts, delay: Duration) -> OutboxItem {
    let job = FanoutJob {
        mid: message.id.clone(),
        rid: message.rid.clone(),
        after: None,
    };
    let mut item = OutboxItem::new(
        crate::chat::ids::new_id(),
        OutboxKind::Notify,
        message.id.clone(),
        serde_json::to_value(&job).unwrap_or_default(),
        now,
    );
    item.next_attempt = Ts(now.0.saturating_add(delay.as_millis() as i64));
    item
}

/// The notification fan-out: the marker each post commits ([`NoticeQueue`]) and
/// the queue handler of kind `notify` that works it.
pub struct Fanout {
    chat: Arc<Chat>,
    push: Option<Arc<dyn PushSink>>,
    outbox: Arc<Outbox>,
    /// `outbox.fanout_start_delay_ms`.
    delay: Duration,
}

impl Fanout {
    pub fn new(
        chat: Arc<Chat>,
        push: Option<Arc<dyn PushSink>>,
        outbox: Arc<Outbox>,
    ) -> Arc<Fanout> {
        let delay = Duration::from_millis(outbox.config().fanout_start_delay_ms);
        Arc::new(Fanout {
            chat,
            push,
            outbox,
            delay,
        })
    }

    /// The delivery handler of kind `notify`.
    pub fn handler(self: &Arc<Self>) -> Arc<dyn DeliveryHandler> {
        Arc::new(FanoutHandler(self.clone()))
    }
}

impl NoticeQueue for Fanout {
    fn marker(&self, message: &Message) -> OutboxItem {
        marker(message, Ts::now(), self.delay)
    }

    fn queued(&self) {
        if self.delay.is_zero() {
            self.outbox.wake(OutboxKind::Notify);
            return;
        }
        // The worker would otherwise find the item at its next poll.
        self.outbox
            .wake_at(OutboxKind::Notify, tokio::time::Instant::now() + self.delay);
    }
}

struct FanoutHandler(Arc<Fanout>);

#[async_trait]
impl DeliveryHandler for FanoutHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Notify
    }

    /// Fan-outs read a room's members page by page: a few at once leave the store
    /// to the people posting.
    fn concurrency(&self) -> Option<usize> {
        Some(FANOUTS_AT_ONCE)
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let job: FanoutJob = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable notify item: {e}")))?;
        // Whether notifications were on was decided as the message was posted
        // (no marker otherwise): flipping `Troubleshoot_Disable_Notifications`
        // later does not cancel a fan-out under way or queued.
        let chat = &self.0.chat;
        let store = chat.store();
        let transient = |what: &str, e: crate::store::StoreError| {
            DeliveryError::transient(format!("{what}: {e}"))
        };
        let Some(message) = store
            .message(&job.mid)
            .await
            .map_err(|e| transient("reading the message", e))?
        else {
            // On MongoDB the marker is written before the message: give the post
            // time to commit; after that it never did (or was deleted).
            let age = Ts::now().0 - item.created_at.0;
            if age < UNCOMMITTED_GRACE_MS {
                return Err(DeliveryError::transient("the message is not committed yet"));
            }
            tracing::debug!(message_id = %job.mid, "notifications: the message is gone; nobody notified");
            return Ok(());
        };
        // System messages notify nobody.
        if message.t.is_some() {
            return Ok(());
        }
        let Some(room) = store
            .room_by_id(&job.rid)
            .await
            .map_err(|e| transient("reading the room", e))?
        else {
            return Ok(());
        };
        let step = Step {
            outbox: &self.0.outbox,
            marker: item,
            job,
        };
        fan_out(chat, self.0.push.as_ref(), step, &room, &message).await
    }
}

/// The `notify` item being worked, and where its fan-out stands.
struct Step<'a> {
    outbox: &'a Outbox,
    marker: &'a OutboxItem,
    job: FanoutJob,
}

/// Why a fan-out stopped short (it is tried again, from where it got).
#[derive(Debug, thiserror::Error)]
enum FanoutError {
    #[error("reading the room's members: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("building the push deliveries: {0}")]
    Push(#[from] super::PushSinkError),
    #[error("building the mails: {0}")]
    Mail(#[from] crate::chat::ChatError),
    #[error("another instance took this fan-out over")]
    LeaseLost,
}

impl From<FanoutError> for DeliveryError {
    fn from(e: FanoutError) -> Self {
        DeliveryError::transient(format!("fan-out: {e}"))
    }
}

/// Finds who is notified of `message` and queues their pushes and mails, a page
/// of members at a time: each page's deliveries are queued in one write with the
/// fan-out's progress, so run again after a crash it starts after the last member
/// whose notices were queued, and never queues (or delivers) one twice.
async fn fan_out(
    chat: &Chat,
    push: Option<&Arc<dyn PushSink>>,
    mut step: Step<'_>,
    room: &Room,
    message: &Message,
) -> Result<(), DeliveryError> {
    let started = std::time::Instant::now();
    let facts = facts(chat, room, message).await;
    let defaults = defaults(chat);
    let generous = defaults_all(&defaults);
    let store = chat.store();
    let (from, until) = window_of(chat, message.ts);
    let (mut pushed, mut mailed) = (0usize, 0usize);
    if step.job.after.is_some() {
        tracing::info!(room_id = %room.id, message_id = %message.id, "notifications: resuming a fan-out cut short");
    }
    loop {
        // Keyset: the page after the last member seen, a range of the
        // (room, user) index however deep in the room.
        let page = store
            .room_members_after(&room.id, step.job.after.as_deref(), PAGE)
            .await
            .map_err(FanoutError::from)?;
        let Some(last) = page.last() else { break };
        let full = page.len() as u64 == PAGE;
        // The users' records are read only for members the rules may notify, in
        // one query for the page.
        let candidates: Vec<&Subscription> = page
            .iter()
            .filter(|sub| {
                rules::decide(&facts, sub, &Default::default(), &generous)
                    .is_some_and(|d| d.email || push.is_some())
            })
            .collect();
        let ids: Vec<String> = candidates.iter().map(|s| s.u.id.clone()).collect();
        let users: HashMap<String, User> = store
            .users_by_ids(&ids)
            .await
            .map_err(FanoutError::from)?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut notices = Vec::new();
        let mut mail_to = Vec::new();
        for sub in candidates {
            let Some(user) = users.get(&sub.u.id).filter(|u| u.active) else {
                continue;
            };
            let Some(Decision {
                reason,
                push: p,
                email,
            }) = rules::decide(&facts, sub, &user.settings.preferences, &defaults)
            else {
                continue;
            };
            if room.t == RoomType::Direct
                && !chat
                    .has_permission(user, Perm::VIEW_D_ROOM, None)
                    .await
                    .unwrap_or(false)
            {
                continue;
            }
            let online = connected(user);
            if p && push.is_some()
                && user.status_connection.as_deref() != Some(crate::chat::presence::ONLINE)
            {
                notices.push(Notice {
                    user_id: user.id.clone(),
                    rid: room.id.clone(),
                    room_type: room.t,
                    room_name: room_name(room, sub, message),
                    message_id: message.id.clone(),
                    tmid: message.tmid.clone(),
                    sender_id: message.u.id.clone(),
                    sender_username: message.u.username.clone(),
                    sender_name: message.u.name.clone().unwrap_or_default(),
                    text: message.msg.clone(),
                    reason,
                });
            }
            if email && !online && mail_address(user).is_some() {
                mail_to.push(user.id.clone());
            }
        }
        let mut items = match (push, notices.is_empty()) {
            (Some(sink), false) => sink.items(&notices).await.map_err(FanoutError::from)?,
            _ => Vec::new(),
        };
        pushed += items.len();
        // Late or not is decided now, as the mails are queued: finding the
        // members may have taken a while.
        if !mail_to.is_empty() {
            let late = Ts::now().0 + LATE_MARGIN_MS >= until.0 + MISSED_GRACE_MS;
            if late {
                tracing::warn!(room_id = %room.id, message_id = %message.id, "notifications: mails queued after the window's mail was due; this message is mailed on its own");
            }
            let mails: Vec<_> = mail_to
                .iter()
                .map(|uid| {
                    missed_mail(
                        uid,
                        &room.id,
                        (&message.id, message.ts),
                        (from, until),
                        late,
                    )
                })
                .collect();
            mailed += mails.len();
            items.extend(crate::chat::mail::mail_items(mails).map_err(FanoutError::from)?);
        }
        // The page's pushes and mails and the progress, in one short write (the
        // store's writer is shared with the people posting).
        step.job.after = Some(last.u.id.clone());
        let progress = serde_json::to_value(&step.job)
            .map_err(|e| DeliveryError::permanent(format!("unencodable notify item: {e}")))?;
        step.outbox
            .enqueue_advancing(&items, step.marker, &progress)
            .await
            .map_err(FanoutError::from)?
            .ok_or(FanoutError::LeaseLost)?;
        if !full {
            break;
        }
    }
    tracing::debug!(room_id = %room.id, message_id = %message.id, pushed, mailed, took_ms = started.elapsed().as_millis() as u64, "notifications handed on");
    Ok(())
}

/// The queued mail (dedupe key, mail) that tells `user_id` of `message`: the
/// batch of its room and window, one per person, room and window, whatever the
/// number of messages. A `late` notice (its window's mail may already be sent)
/// gets a mail listing that message alone: queued into the sent window again,
/// the batch would list the window's other messages a second time.
fn missed_mail(
    user_id: &str,
    rid: &str,
    (mid, ts): (&str, Ts),
    (from, until): (Ts, Ts),
    late: bool,
) -> (String, Mail) {
    let (key, from, until) = if late {
        (
            format!("missed\u{1f}{user_id}\u{1f}{rid}\u{1f}late\u{1f}{mid}"),
            ts,
            Ts(ts.0 + 1),
        )
    } else {
        // The window's length is in the key: after the setting changed, a window
        // of the new length is a batch of its own, not a duplicate of the old one.
        (
            format!(
                "missed\u{1f}{user_id}\u{1f}{rid}\u{1f}{}\u{1f}{}",
                from.0, until.0
            ),
            from,
            until,
        )
    };
    (
        key,
        Mail::Missed {
            user_id: user_id.to_string(),
            rid: rid.to_string(),
            from,
            until,
        },
    )
}

/// The most generous preferences: a member these reject is notified by nothing.
fn defaults_all(d: &Defaults) -> Defaults {
    Defaults {
        email: Pref::All,
        push: Pref::All,
        email_allowed: d.email_allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(mail: &Mail) -> (i64, i64) {
        match mail {
            Mail::Missed { from, until, .. } => (from.0, until.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_batch_per_person_room_and_window_and_late_notices_alone() {
        let w = (Ts(10_000), Ts(12_000));
        let (k1, m1) = missed_mail("u", "r", ("m1", Ts(10_500)), w, false);
        let (k2, m2) = missed_mail("u", "r", ("m2", Ts(11_999)), w, false);
        assert_eq!(k1, k2, "one batch for the window");
        assert_eq!(range(&m1), (10_000, 12_000));
        assert_eq!(m1, m2);
        // Another window length is another batch.
        let (k3, _) = missed_mail(
            "u",
            "r",
            ("m3", Ts(10_500)),
            (Ts(10_000), Ts(13_000)),
            false,
        );
        assert_ne!(k1, k3);
        // Late: its own mail, listing that message only.
        let (k4, m4) = missed_mail("u", "r", ("m4", Ts(11_999)), w, true);
        assert_ne!(k1, k4);
        assert_eq!(range(&m4), (11_999, 12_000));
        let (k5, _) = missed_mail("u", "r", ("m5", Ts(11_999)), w, true);
        assert_ne!(k4, k5);
    }
}
