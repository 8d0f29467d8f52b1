//! Who is notified of a message, and through which channel: Rocket.Chat's rules
//! (`sendNotificationsOnMessage`, `shouldNotifyEmail`, `shouldNotifyMobile`), as pure
//! functions of the message's facts and one member's subscription and preferences.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::NoticeReason;
use crate::store::{RoomType, Subscription};

/// A channel preference: the room's, else the user's, else the workspace default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pref {
    All,
    Mentions,
    Nothing,
}

impl Pref {
    pub fn parse(s: &str) -> Option<Pref> {
        match s {
            "all" => Some(Pref::All),
            "mentions" => Some(Pref::Mentions),
            "nothing" => Some(Pref::Nothing),
            _ => None,
        }
    }
}

/// What is known of the message, the same for every member.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub room_type: Option<RoomType>,
    pub sender_id: String,
    /// Users mentioned by name.
    pub mentioned: HashSet<String>,
    /// `@all` / `@here` that count (the sender may, and the room is not too large).
    pub to_all: bool,
    pub to_here: bool,
    /// A thread reply (not also sent to the room).
    pub is_thread: bool,
    /// Who follows the thread: its starter and those who replied.
    pub followers: HashSet<String>,
    /// The room is above `Notifications_Max_Room_Members`: only mentions notify.
    pub disable_all: bool,
}

/// The workspace defaults (`Accounts_Default_User_Preferences_*`).
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub email: Pref,
    pub push: Pref,
    pub email_allowed: bool,
}

/// What one member gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub reason: NoticeReason,
    pub push: bool,
    pub email: bool,
}

/// The user's own preference (`users.setPreferences`), if they set one.
fn user_pref(prefs: &Map<String, Value>, key: &str) -> Option<Pref> {
    prefs.get(key).and_then(Value::as_str).and_then(Pref::parse)
}

/// Decides for one member. `prefs` are the user's stored preferences (only what
/// they changed). Presence is not considered here (see the worker).
pub fn decide(
    facts: &Facts,
    sub: &Subscription,
    prefs: &Map<String, Value>,
    defaults: &Defaults,
) -> Option<Decision> {
    let uid = sub.u.id.as_str();
    if uid == facts.sender_id || sub.notify.disable_notifications {
        return None;
    }
    let direct = facts.room_type == Some(RoomType::Direct);
    let to_user = facts.mentioned.contains(uid);
    let reply = facts.is_thread && facts.followers.contains(uid);
    let group = facts.to_all || facts.to_here;
    if !to_user && !reply && sub.notify.mute_group_mentions && group {
        return None;
    }
    let reason = if direct {
        NoticeReason::Direct
    } else if to_user {
        NoticeReason::Mention
    } else if reply {
        NoticeReason::Thread
    } else if facts.to_all {
        NoticeReason::All
    } else if facts.to_here {
        NoticeReason::Here
    } else {
        NoticeReason::Everything
    };
    let thread_ok = !facts.is_thread || reply || to_user;

    // E-mail (shouldNotifyEmail).
    let room_email = sub.notify.email.as_deref().and_then(Pref::parse);
    let email_pref = room_email
        .or_else(|| user_pref(prefs, "emailNotificationMode"))
        .unwrap_or(defaults.email);
    // In a room over the size limit only mentions notify, unless the room's own
    // preference says otherwise.
    let email_muted_by_size = room_email.is_none() && facts.disable_all && !to_user && !reply;
    let email = defaults.email_allowed
        && email_pref != Pref::Nothing
        && !email_muted_by_size
        && (direct
            || email_pref == Pref::All
            || to_user
            || reply
            || (!facts.disable_all && facts.to_all))
        && thread_ok;

    // Mobile push (shouldNotifyMobile).
    let room_push = sub.notify.mobile.as_deref().and_then(Pref::parse);
    let push_pref = room_push
        .or_else(|| user_pref(prefs, "pushNotifications"))
        .unwrap_or(defaults.push);
    let push_muted_by_size = room_push.is_none() && facts.disable_all && !to_user && !reply;
    let push = push_pref != Pref::Nothing
        && !push_muted_by_size
        && (direct
            || push_pref == Pref::All && !facts.disable_all
            || to_user
            || reply
            || (!facts.disable_all && facts.to_all))
        && thread_ok;

    (push || email).then_some(Decision {
        reason,
        push,
        email,
    })
}

/// Whether `text` says `@all` / `@here` (as words, like mentions are parsed).
pub fn group_mentions(text: &str) -> (bool, bool) {
    let mut all = false;
    let mut here = false;
    for (i, _) in text.match_indices('@') {
        let preceded_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([{,;".contains(c));
        if !preceded_ok {
            continue;
        }
        let word: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .collect();
        match word.trim_end_matches('.') {
            "all" => all = true,
            "here" => here = true,
            _ => {}
        }
    }
    (all, here)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SubscriptionNotify, Ts, UserRef};
    use serde_json::json;

    fn sub(uid: &str, notify: SubscriptionNotify) -> Subscription {
        Subscription {
            id: format!("s-{uid}"),
            rid: "r".into(),
            u: UserRef {
                id: uid.into(),
                username: uid.into(),
                name: None,
            },
            name: "room".into(),
            fname: None,
            t: RoomType::Channel,
            open: true,
            alert: false,
            unread: 0,
            user_mentions: 0,
            group_mentions: 0,
            ls: None,
            roles: vec![],
            archived: false,
            f: false,
            ts: Ts(0),
            updated_at: Ts(0),
            notify,
            prid: None,
            threads: Default::default(),
        }
    }

    const DEFAULTS: Defaults = Defaults {
        email: Pref::Mentions,
        push: Pref::All,
        email_allowed: true,
    };

    fn channel(sender: &str) -> Facts {
        Facts {
            room_type: Some(RoomType::Channel),
            sender_id: sender.into(),
            ..Facts::default()
        }
    }

    #[test]
    fn the_sender_and_muted_rooms_are_never_notified() {
        let mut f = channel("a");
        f.room_type = Some(RoomType::Direct);
        assert_eq!(
            decide(&f, &sub("a", Default::default()), &Map::new(), &DEFAULTS),
            None
        );
        let muted = SubscriptionNotify {
            disable_notifications: true,
            ..Default::default()
        };
        assert_eq!(decide(&f, &sub("b", muted), &Map::new(), &DEFAULTS), None);
        let d = decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).unwrap();
        assert_eq!(d.reason, NoticeReason::Direct);
        assert!(d.email && d.push);
    }

    #[test]
    fn mentions_mail_plain_messages_do_not_by_default() {
        let mut f = channel("a");
        let plain = decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).unwrap();
        assert!(!plain.email && plain.push);
        f.mentioned.insert("b".into());
        let m = decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).unwrap();
        assert_eq!(m.reason, NoticeReason::Mention);
        assert!(m.email);
    }

    #[test]
    fn preferences_room_over_user_over_default() {
        let mut f = channel("a");
        f.mentioned.insert("b".into());
        let mut prefs = Map::new();
        prefs.insert("emailNotificationMode".into(), json!("nothing"));
        let d = decide(&f, &sub("b", Default::default()), &prefs, &DEFAULTS).unwrap();
        assert!(!d.email, "the user's nothing");
        let room_all = SubscriptionNotify {
            email: Some("all".into()),
            mobile: Some("nothing".into()),
            ..Default::default()
        };
        let d = decide(&f, &sub("b", room_all), &prefs, &DEFAULTS).unwrap();
        assert!(d.email && !d.push, "the room's choice wins");
    }

    #[test]
    fn group_mentions_respect_mute_and_room_size() {
        let mut f = channel("a");
        f.to_all = true;
        let d = decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).unwrap();
        assert_eq!(d.reason, NoticeReason::All);
        assert!(d.email);
        let mute = SubscriptionNotify {
            mute_group_mentions: true,
            ..Default::default()
        };
        assert_eq!(decide(&f, &sub("b", mute), &Map::new(), &DEFAULTS), None);
        f.disable_all = true;
        assert_eq!(
            decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS),
            None
        );
        f.mentioned.insert("b".into());
        assert!(decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).is_some());
    }

    #[test]
    fn thread_replies_go_to_followers() {
        let mut f = channel("a");
        f.is_thread = true;
        f.followers.insert("b".into());
        let d = decide(&f, &sub("b", Default::default()), &Map::new(), &DEFAULTS).unwrap();
        assert_eq!(d.reason, NoticeReason::Thread);
        assert!(d.email && d.push);
        assert_eq!(
            decide(&f, &sub("c", Default::default()), &Map::new(), &DEFAULTS),
            None
        );
    }

    #[test]
    fn finds_group_mentions() {
        assert_eq!(group_mentions("hey @all."), (true, false));
        assert_eq!(group_mentions("@here now"), (false, true));
        assert_eq!(group_mentions("mail a@all.com @allison"), (false, false));
    }
}
