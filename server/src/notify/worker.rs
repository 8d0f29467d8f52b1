//! The notification worker: follows this instance's message events (never the
//! posting request), finds who is notified ([`rules`]) and hands the notices on:
//! push notices to the [`PushSink`] (unless the person is active on a device),
//! e-mail as one queued batch per person, room and window (unless they have a live
//! session). A post to a room of 10,000 members costs its poster what a post to a
//! room of two does; the work is here.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::rules::{self, Decision, Defaults, Facts, Pref};
use super::{Notice, PushSink};
use crate::chat::mail::{Mail, MISSED_GRACE_MS};
use crate::chat::permissions::Perm;
use crate::chat::presence::OFFLINE;
use crate::chat::{Chat, Event};
use crate::store::{Message, Page, Room, RoomType, Subscription, Ts, User};
use crate::worker::Worker;

/// Members read per store call.
const PAGE: u64 = 1000;
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

/// Starts the worker.
pub fn start(chat: Arc<Chat>, push: Option<Arc<dyn PushSink>>) -> Worker {
    let mut events = chat.events().subscribe();
    Worker::spawn("notifications", move |mut stop| async move {
        loop {
            let event = tokio::select! {
                _ = stop.stopped() => break,
                e = events.recv() => e,
            };
            match event {
                Ok(e) => handle(&chat, push.as_ref(), &e).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::error!(
                        skipped = n,
                        "notifications: fell behind the event bus; those messages notify nobody"
                    );
                }
                Err(RecvError::Closed) => break,
            }
        }
        // What was posted before the stop is still handled.
        while let Ok(e) = events.try_recv() {
            handle(&chat, push.as_ref(), &e).await;
        }
    })
}

async fn handle(chat: &Chat, push: Option<&Arc<dyn PushSink>>, event: &Event) {
    let Event::MessageSent { room, message } = event else {
        return;
    };
    if chat.settings().bool("Troubleshoot_Disable_Notifications") {
        return;
    }
    // System messages and messages in the past (imports) notify nobody.
    if message.t.is_some() || (Ts::now().0 - message.ts.0).abs() > 60_000 {
        return;
    }
    let started = std::time::Instant::now();
    let facts = facts(chat, room, message).await;
    let defaults = defaults(chat);
    let store = chat.store();
    let (from, until) = window_of(chat, message.ts);
    let mut mail_to = Vec::new();
    let mut pushed = 0usize;
    let mut offset = 0;
    loop {
        let page = match store
            .room_subscriptions(&room.id, Page::new(offset, PAGE))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(room_id = %room.id, message_id = %message.id, error = %e, "notifications: cannot read the members");
                return;
            }
        };
        let n = page.items.len() as u64;
        let mut notices = Vec::new();
        for sub in &page.items {
            // The user's record is read only for members the rules may notify.
            let prefilter =
                rules::decide(&facts, sub, &Default::default(), &defaults_all(&defaults));
            if !prefilter.is_some_and(|d| d.email || push.is_some()) {
                continue;
            }
            let user = match store.user_by_id(&sub.u.id).await {
                Ok(Some(u)) if u.active => u,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(user_id = %sub.u.id, error = %e, "notifications: cannot read a member");
                    continue;
                }
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
                    .has_permission(&user, Perm::VIEW_D_ROOM, None)
                    .await
                    .unwrap_or(false)
            {
                continue;
            }
            let online = connected(&user);
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
            if email && !online && mail_address(&user).is_some() {
                mail_to.push(user.id.clone());
            }
        }
        // One queue write per page of members.
        if let (Some(sink), false) = (push, notices.is_empty()) {
            match sink.enqueue(&notices).await {
                Ok(queued) => pushed += queued,
                Err(e) => {
                    tracing::error!(room_id = %room.id, message_id = %message.id, recipients = notices.len(), error = %e, "push notices not queued")
                }
            }
        }
        if n < PAGE {
            break;
        }
        offset += n;
    }
    // Decided now, as the mails are queued: finding the members may have taken a
    // while.
    let late = Ts::now().0 + LATE_MARGIN_MS >= until.0 + MISSED_GRACE_MS;
    if late && !mail_to.is_empty() {
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
    let mailed = mails.len();
    if !mails.is_empty() {
        if let Err(e) = chat.queue_mail(mails).await {
            tracing::error!(room_id = %room.id, message_id = %message.id, error = %e, "notification mails not queued");
        }
    }
    tracing::debug!(room_id = %room.id, message_id = %message.id, pushed, mailed, took_ms = started.elapsed().as_millis() as u64, "notifications handed on");
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
