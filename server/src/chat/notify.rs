//! Notifications that are never stored: what a member is doing in a room (typing,
//! recording, …) and ephemeral messages shown to a single user. They travel on the
//! event bus like everything else, carrying the room or user that delivery is
//! authorized against, so the realtime API never has to guess who may see them.

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{Message, Room, RoomType, Ts, User, UserRef};

/// Most activities one notification may carry (Rocket.Chat sends one or two).
const MAX_ACTIVITIES: usize = 8;
/// Largest `extras` object accepted with an activity, serialized.
const MAX_EXTRAS_BYTES: usize = 1024;

/// The sender shown on server notices, as Rocket.Chat shows its built-in bot.
pub const NOTICE_SENDER_ID: &str = "rocket.cat";

/// A message for one user's eyes only.
#[derive(Clone, Debug, Default)]
pub struct EphemeralMessage {
    /// The room the message is shown in.
    pub rid: String,
    pub msg: String,
    /// Who it appears to come from; the server's notice sender when `None`.
    pub sender: Option<UserRef>,
    pub alias: Option<String>,
    pub emoji: Option<String>,
    pub avatar: Option<String>,
    pub attachments: Vec<Value>,
}

fn valid_activity(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Chat {
    /// Publishes what `actor` is doing in a room (`user-typing`, …; empty when they
    /// stopped). Only members may announce activity, as only they can post.
    pub async fn notify_activity(
        &self,
        actor: &User,
        rid: &str,
        activities: Vec<String>,
        extras: Value,
        origin: Option<String>,
    ) -> ChatResult<()> {
        if activities.len() > MAX_ACTIVITIES || !activities.iter().all(|a| valid_activity(a)) {
            return Err(ChatError::invalid(
                "Activities must be at most 8 names of letters, digits, '-', '_' or '.'",
            ));
        }
        let extras = match extras {
            Value::Null => Value::Object(Default::default()),
            Value::Object(map) => Value::Object(map),
            _ => return Err(ChatError::invalid("Activity extras must be an object")),
        };
        if extras.to_string().len() > MAX_EXTRAS_BYTES {
            return Err(ChatError::invalid("Activity extras are too large"));
        }
        let (room, _) = self.joined_room(actor, RoomRef::Id(rid)).await?;
        self.bus.publish(Event::UserActivity {
            room_id: room.id,
            user_id: actor.id.clone(),
            username: actor.username.clone(),
            activities,
            extras,
            origin,
        });
        Ok(())
    }

    /// Shows `message` to `user_id` only; nothing is stored, and only that user's
    /// realtime sessions (subscribed to `<uid>/message`) receive it. Used by the server
    /// for notices and, later, by apps. Returns the message as delivered.
    pub fn notify_user(&self, user_id: &str, message: EphemeralMessage) -> ChatResult<Message> {
        if user_id.is_empty() || message.rid.is_empty() {
            return Err(ChatError::invalid(
                "An ephemeral message needs a user and a room",
            ));
        }
        if message.msg.trim().is_empty() && message.attachments.is_empty() {
            return Err(ChatError::invalid(
                "The message must have text or attachments",
            ));
        }
        let max_chars = self.message_limits().max_text_chars;
        if message.msg.chars().count() > max_chars {
            return Err(ChatError::refused(
                "error-message-size-exceeded",
                format!("Message size exceeds the allowed {max_chars} characters"),
            ));
        }
        let now = Ts::now();
        let sender = message.sender.unwrap_or_else(|| UserRef {
            id: NOTICE_SENDER_ID.into(),
            username: NOTICE_SENDER_ID.into(),
            name: Some(self.settings().string("Site_Name")),
        });
        // Parsed as a posted message is (Rocket.Chat's ephemeral listener does).
        let md = self.parse_text(&message.msg);
        let message = Message {
            id: ids::new_id(),
            rid: message.rid,
            msg: message.msg,
            ts: now,
            u: sender,
            updated_at: now,
            t: None,
            edited_at: None,
            edited_by: None,
            reactions: Default::default(),
            tmid: None,
            tcount: None,
            tlm: None,
            replies: None,
            alias: message.alias.filter(|s| !s.is_empty()),
            emoji: message.emoji.filter(|s| !s.is_empty()),
            avatar: message.avatar.filter(|s| !s.is_empty()),
            attachments: message.attachments,
            bot: None,
            mentions: Vec::new(),
            custom_fields: None,
            groupable: Some(false),
            file: None,
            files: Vec::new(),
            role: None,
            marks: Default::default(),
            discussion: Default::default(),
            md,
            urls: Vec::new(),
        };
        tracing::debug!(user_id = %user_id, room_id = %message.rid, "ephemeral message");
        self.bus.publish(Event::Ephemeral {
            user_id: user_id.to_string(),
            message: message.clone(),
        });
        Ok(message)
    }

    /// Tells the author of `message` which of the users it mentions are not members
    /// of the room (so they will not see it), as Rocket.Chat does with an ephemeral
    /// notice. Direct messages have no outsiders to warn about.
    pub async fn warn_mentions_outside_room(
        &self,
        author: &User,
        room: &Room,
        message: &Message,
    ) -> ChatResult<()> {
        if room.t == RoomType::Direct || message.t.is_some() {
            return Ok(());
        }
        let mut outside = Vec::new();
        for mention in message.mentions.iter().filter(|m| m.id != author.id) {
            if self
                .store
                .subscription(&room.id, &mention.id)
                .await?
                .is_none()
            {
                outside.push(format!("@{}", mention.username));
            }
        }
        if outside.is_empty() {
            return Ok(());
        }
        let names = match outside.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => return Ok(()),
        };
        self.notify_user(
            &author.id,
            EphemeralMessage {
                rid: room.id.clone(),
                msg: format!("You mentioned {names}, but they're not in this room."),
                ..Default::default()
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_names() {
        assert!(valid_activity("user-typing"));
        assert!(!valid_activity(""));
        assert!(!valid_activity("a b"));
        assert!(!valid_activity(&"x".repeat(65)));
    }
}
