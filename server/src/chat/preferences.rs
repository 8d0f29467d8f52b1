//! User preferences (Rocket.Chat's `user.settings.preferences`): the defaults every
//! user starts from, as Rocket.Chat's `Accounts_Default_User_Preferences_*` ship, and
//! the checks a change goes through. Only what a user changed is stored.

use serde_json::{json, Map, Value};

use super::error::{ChatError, ChatResult};

/// The preferences and their defaults, in Rocket.Chat's order.
fn defaults() -> Map<String, Value> {
    let v = json!({
        "alsoSendThreadToChannel": "default",
        "newRoomNotification": "door",
        "newMessageNotification": "chime",
        "showThreadsInMainChannel": false,
        "useEmojis": true,
        "convertAsciiEmoji": true,
        "saveMobileBandwidth": true,
        "collapseMediaByDefault": false,
        "autoImageLoad": true,
        "emailNotificationMode": "mentions",
        "unreadAlert": true,
        "notificationsSoundVolume": 100,
        "omnichannelTranscriptEmail": false,
        "desktopNotifications": "all",
        "pushNotifications": "all",
        "enableAutoAway": true,
        "desktopNotificationRequireInteraction": false,
        "hideUsernames": false,
        "hideRoles": false,
        "displayAvatars": true,
        "hideFlexTab": false,
        "sendOnEnter": "normal",
        "idleTimeLimit": 300,
        "sidebarShowFavorites": true,
        "sidebarShowUnread": false,
        "themeAppearence": "auto",
        "sidebarSortby": "activity",
        "sidebarViewMode": "medium",
        "sidebarDisplayAvatar": true,
        "sidebarGroupByType": true,
        "sidebarSectionsOrder": ["Incoming_Calls", "Incoming_Livechats", "Open_Livechats",
            "On_Hold_Chats", "Unread", "Favorites", "Teams", "Discussions", "Channels",
            "Direct_Messages", "Conversations"],
        "muteFocusedConversations": true,
        "notifyCalendarEvents": true,
        "enableMobileRinging": true,
        "featuresPreview": [],
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Preferences a user may set beyond the ones with defaults (Rocket.Chat's
/// `users.setPreferences` schema).
const EXTRA: &[&str] = &[
    "language",
    "highlights",
    "clockMode",
    "messageViewMode",
    "hideAvatars",
    "receiveLoginDetectionEmail",
    "dontAskAgainList",
    "masterVolume",
    "notifyCalendarEvents",
    "mentionsWithSymbol",
    "omnichannelTranscriptPDF",
];

/// The user's preferences: the defaults overlaid with what they set.
pub fn effective(stored: &Map<String, Value>) -> Map<String, Value> {
    let mut all = defaults();
    for (k, v) in stored {
        all.insert(k.clone(), v.clone());
    }
    all
}

/// Checks a `users.setPreferences` change: known keys, each of its default's type.
pub fn validate(changes: &Map<String, Value>) -> ChatResult<()> {
    let defaults = defaults();
    for (key, value) in changes {
        let ok = match defaults.get(key) {
            Some(Value::Bool(_)) => value.is_boolean(),
            Some(Value::Number(_)) => value.is_number(),
            Some(Value::String(_)) => value.is_string(),
            Some(Value::Array(_)) => value.is_array(),
            Some(_) => true,
            None if EXTRA.contains(&key.as_str()) => {
                !value.is_object() || key == "dontAskAgainList"
            }
            None => {
                return Err(ChatError::invalid(format!(
                    "must NOT have additional properties [{key}]"
                )))
            }
        };
        if !ok {
            return Err(ChatError::invalid(format!("{key} has the wrong type")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_preferences_override_defaults_and_unknown_keys_are_refused() {
        let mut stored = Map::new();
        stored.insert("useEmojis".into(), json!(false));
        let all = effective(&stored);
        assert_eq!(all["useEmojis"], json!(false));
        assert_eq!(all["sendOnEnter"], json!("normal"));
        assert!(validate(&stored).is_ok());
        let mut bad = Map::new();
        bad.insert("useEmojis".into(), json!("no"));
        assert!(validate(&bad).is_err());
        let mut unknown = Map::new();
        unknown.insert("nonsense".into(), json!(1));
        assert!(validate(&unknown).is_err());
    }
}
