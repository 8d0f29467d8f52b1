//! Messages. Sending needs `message.write`; reading needs `message.read`.
//!
//! Build messages with [`Message::new`] and its builder methods.

use crate::bindings::palaver::apps::messages as wit;
use crate::{Message, Result};

/// Posts `message` as the app's bot user (with its alias, emoji or avatar if set);
/// returns the new message's id. The bot joins public channels by itself; private
/// rooms need `room.write` so it can be added ([`rooms::add_member`](crate::rooms::add_member)).
pub fn send(message: &Message) -> Result<String> {
    Ok(wit::send(message)?)
}

/// Posts `text` in the room `room_id` as the app's bot user; returns the message id.
pub fn send_text(room_id: &str, text: &str) -> Result<String> {
    send(&Message::new(room_id, text))
}

/// Replaces the text of a message the app's bot sent.
pub fn update(id: &str, text: &str) -> Result<()> {
    Ok(wit::update(id, text)?)
}

/// The message with this id. Needs `message.read`.
pub fn get(id: &str) -> Result<Message> {
    Ok(wit::get(id)?)
}

/// Shows `text` to one user in a room, privately and without storing it ("only you can
/// see this").
pub fn notify_user(user_id: &str, room_id: &str, text: &str) -> Result<()> {
    Ok(wit::notify_user(user_id, room_id, text)?)
}

/// Shows `text` privately to every member of a room who is online now.
pub fn notify_room(room_id: &str, text: &str) -> Result<()> {
    Ok(wit::notify_room(room_id, text)?)
}
