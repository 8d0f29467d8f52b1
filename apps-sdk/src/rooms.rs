//! Rooms. Reading needs `room.read`; creating and changing needs `room.write`.

use crate::bindings::palaver::apps::rooms as wit;
use crate::{Result, Room, RoomKind, UserRef};

fn owned<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

/// The room with this id.
pub fn get(id: &str) -> Result<Room> {
    Ok(wit::get(id)?)
}

/// The channel or group with this unique name.
pub fn get_by_name(name: &str) -> Result<Room> {
    Ok(wit::get_by_name(name)?)
}

/// Creates a channel or private group owned by the app's bot, with these members
/// (usernames).
pub fn create<S: AsRef<str>>(kind: RoomKind, name: &str, members: &[S]) -> Result<Room> {
    Ok(wit::create(kind, name, &owned(members))?)
}

/// Opens (or finds) the direct conversation between the app's bot and these users.
pub fn create_direct<S: AsRef<str>>(usernames: &[S]) -> Result<Room> {
    Ok(wit::create_direct(&owned(usernames))?)
}

/// Members of a room, at most `limit` starting at `offset`, sorted by username.
pub fn members(room_id: &str, offset: u32, limit: u32) -> Result<Vec<UserRef>> {
    Ok(wit::members(room_id, offset, limit)?)
}

/// Adds a user to a room the app's bot owns. Needs `room.write`.
pub fn add_member(room_id: &str, user_id: &str) -> Result<()> {
    Ok(wit::add_member(room_id, user_id)?)
}
