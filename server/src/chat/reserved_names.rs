//! Names nobody may take, as Rocket.Chat reserves them: the system's own names
//! (`Accounts_SystemBlockedUsernameList`, for users and rooms alike), the mention
//! keywords, and the usernames an admin blocks (`Accounts_BlockedUsernameList`).
//! Accounts that already hold a name keep it; only taking a name is checked.

use super::error::{ChatError, ChatResult};
use super::Chat;

/// Rocket.Chat's `Accounts_SystemBlockedUsernameList` default, which no admin changes.
const SYSTEM_NAMES: &[&str] = &["admin", "administrator", "system", "user"];
/// Words a mention already means (`@all`, `@here`).
const MENTION_KEYWORDS: &[&str] = &["all", "here"];

/// Whether a name is one of the system's own (any case).
pub fn is_system_name(name: &str) -> bool {
    SYSTEM_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Why a username cannot be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// One of the system's own names.
    System,
    /// A mention keyword or on the admin's list.
    Listed,
}

impl Chat {
    /// Whether `username` may be taken by a new or renamed account.
    pub fn username_blocked(&self, username: &str) -> Option<Blocked> {
        if is_system_name(username) {
            return Some(Blocked::System);
        }
        let listed = self.settings().string("Accounts_BlockedUsernameList");
        let on_list = MENTION_KEYWORDS
            .iter()
            .copied()
            .chain(listed.split(',').map(str::trim))
            .any(|b| !b.is_empty() && b.eq_ignore_ascii_case(username));
        on_list.then_some(Blocked::Listed)
    }

    /// Refuses a blocked username for a new account, as Rocket.Chat's
    /// `checkUsernameAvailability` does.
    pub fn check_new_username(&self, username: &str) -> ChatResult<()> {
        match self.username_blocked(username) {
            None => Ok(()),
            Some(_) => Err(blocked_error(username)),
        }
    }

    /// Refuses a blocked username for a rename: Rocket.Chat answers a system name
    /// with `error-could-not-save-identity` (its `saveUserIdentity` fails) and a
    /// listed one with `error-blocked-username`.
    pub fn check_renamed_username(&self, username: &str) -> ChatResult<()> {
        match self.username_blocked(username) {
            None => Ok(()),
            Some(Blocked::System) => Err(ChatError::refused(
                "error-could-not-save-identity",
                "Could not save user identity",
            )),
            Some(Blocked::Listed) => Err(blocked_error(username)),
        }
    }
}

fn blocked_error(username: &str) -> ChatError {
    // Valid usernames hold no markup, so the name needs no escaping here.
    ChatError::refused(
        "error-blocked-username",
        format!("{username} is blocked and can't be used!"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_in_any_case() {
        for name in ["admin", "ADMIN", "Administrator", "system", "user"] {
            assert!(is_system_name(name), "{name}");
        }
        for name in ["admins", "user1", "sys", "rocket.cat", ""] {
            assert!(!is_system_name(name), "{name}");
        }
    }
}
