//! Users. Needs `user.read`.

use crate::bindings::palaver::apps::users as wit;
use crate::{Result, User};

/// The user with this id.
pub fn get(id: &str) -> Result<User> {
    Ok(wit::get(id)?)
}

/// The user with this username.
pub fn get_by_username(username: &str) -> Result<User> {
    Ok(wit::get_by_username(username)?)
}

/// The user's e-mail address, if they have one. Addresses are personal data: ask
/// only when the app needs one (e.g. to invite the user to an event).
pub fn email(id: &str) -> Result<Option<String>> {
    Ok(wit::email(id)?)
}
