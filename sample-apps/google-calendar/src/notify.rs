//! Telling a user something outside a command: a direct message from the app's bot,
//! or a private notice in a room when no direct conversation can be opened.

use palaver_apps_sdk::{messages, rooms, users, warn, Message, Result};

/// Sends `text` to the user in their direct conversation with the app's bot; returns
/// the message id. Opening a one-to-one conversation needs only `message.write`;
/// finding the user's name needs `user.read`.
pub fn direct(user_id: &str, text: &str) -> Result<String> {
    let user = users::get(user_id)?;
    let room = rooms::create_direct(&[user.username.as_str()])?;
    messages::send(&Message::new(room.id, text).emoji(":calendar:"))
}

/// [`direct`], or, when that fails, a private notice in `room_id` (shown if the
/// user is online there). Failures are logged: the caller has nobody else to tell.
pub fn tell(user_id: &str, room_id: Option<&str>, text: &str) {
    let Err(e) = direct(user_id, text) else {
        return;
    };
    warn!("cannot send a direct message to user {user_id}: {e}");
    if let Some(room_id) = room_id {
        if let Err(e) = messages::notify_user(user_id, room_id, text) {
            warn!("cannot notify user {user_id} in room {room_id} either: {e}");
        }
    }
}
