//! A member's notification preferences for one room (`rooms.saveNotification`,
//! the `saveNotificationSettings` method), kept on the subscription as Rocket.Chat
//! keeps them and served with it.

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::{Chat, Event};
use crate::store::{Subscription, SubscriptionPatch};

/// The per-room channel preferences' values; `default` removes the room's own choice.
const CHANNEL_VALUES: [&str; 4] = ["all", "mentions", "nothing", "default"];

/// The subscription field a preference is stored in, and whether it is a channel
/// preference (`all`/`mentions`/`nothing`/`default`) or a flag (`"1"`/`"0"`).
fn field(name: &str) -> Option<(&'static str, bool)> {
    Some(match name {
        "desktopNotifications" => ("desktopNotifications", true),
        "mobilePushNotifications" => ("mobilePushNotifications", true),
        "emailNotifications" => ("emailNotifications", true),
        "disableNotifications" => ("disableNotifications", false),
        "hideUnreadStatus" => ("hideUnreadStatus", false),
        "hideMentionStatus" => ("hideMentionStatus", false),
        "muteGroupMentions" => ("muteGroupMentions", false),
        _ => return None,
    })
}

/// Reads a flag as Rocket.Chat does (`"1"`, or a boolean from newer clients).
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::String(s) => Some(s == "1" || s == "true"),
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() == Some(1)),
        _ => None,
    }
}

/// The changes `notifications` asks for, checked: unknown fields and bad values are
/// refused before anything is stored.
pub fn parse_changes(
    notifications: &serde_json::Map<String, Value>,
) -> ChatResult<Vec<(&'static str, Value)>> {
    let invalid_field = || ChatError::refused("error-invalid-settings", "Invalid settings field");
    let invalid_value = || ChatError::refused("error-invalid-settings", "Invalid settings value");
    let mut changes = Vec::new();
    for (name, value) in notifications {
        // Accepted and ignored, as Rocket.Chat stores them for its own clients only.
        if matches!(name.as_str(), "unreadAlert" | "audioNotificationValue") {
            continue;
        }
        let (key, channel) = field(name).ok_or_else(invalid_field)?;
        let stored = if channel {
            let v = value.as_str().ok_or_else(invalid_value)?;
            if !CHANNEL_VALUES.contains(&v) {
                return Err(invalid_value());
            }
            if v == "default" {
                Value::Null
            } else {
                Value::String(v.to_string())
            }
        } else {
            Value::Bool(flag(value).ok_or_else(invalid_value)?)
        };
        changes.push((key, stored));
    }
    Ok(changes)
}

impl Chat {
    /// Stores a member's notification preferences for a room and tells their clients.
    pub async fn save_notification(
        &self,
        actor: &crate::store::User,
        rid: &str,
        notifications: &serde_json::Map<String, Value>,
    ) -> ChatResult<Subscription> {
        let changes = parse_changes(notifications)?;
        let Some(_) = self.store.subscription(rid, &actor.id).await? else {
            return Err(ChatError::refused(
                "error-invalid-subscription",
                "Invalid subscription",
            ));
        };
        if !changes.is_empty() {
            let patch = SubscriptionPatch {
                notify: changes,
                ..Default::default()
            };
            self.store
                .patch_subscriptions(rid, Some(&actor.id), &patch)
                .await?;
        }
        let sub = self
            .store
            .subscription(rid, &actor.id)
            .await?
            .ok_or_else(|| {
                ChatError::refused("error-invalid-subscription", "Invalid subscription")
            })?;
        tracing::info!(user_id = %actor.id, room_id = %rid, "room notification preferences saved");
        self.bus.publish(Event::SubscriptionChanged {
            user_id: actor.id.clone(),
            subscription: sub.clone(),
        });
        Ok(sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channel_values_and_flags_are_checked() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        let ok = parse_changes(&m(json!({
            "emailNotifications": "nothing",
            "desktopNotifications": "default",
            "muteGroupMentions": "1",
            "hideUnreadStatus": "0",
        })))
        .unwrap();
        assert!(ok.contains(&("emailNotifications", json!("nothing"))));
        assert!(ok.contains(&("desktopNotifications", Value::Null)));
        assert!(ok.contains(&("muteGroupMentions", json!(true))));
        assert!(ok.contains(&("hideUnreadStatus", json!(false))));
        assert!(parse_changes(&m(json!({"emailNotifications": "loud"}))).is_err());
        assert!(parse_changes(&m(json!({"nonsense": "1"}))).is_err());
    }
}
