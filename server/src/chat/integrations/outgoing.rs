//! Outgoing webhooks (Rocket.Chat's `webhook-outgoing`), event `sendMessage`: which
//! messages trigger which integration, the body Rocket.Chat POSTs, and posting a
//! target's JSON reply back into the room. Delivery itself goes through the durable
//! queue (`bridges::outgoing_webhooks`), so posting never waits for a target.
//!
//! Not yet (issue 20): the other events (`fileUploaded`, `roomJoined`, …),
//! scripts, `integrations.history`, the signature header.

use serde_json::{json, Value};

use super::super::error::{ChatError, ChatResult};
use super::super::{ids, Chat};
use super::payload::{self, is_http_url, split_channels};
use super::{
    check_alias, check_avatar, check_emoji, check_name, check_no_script, hook_message,
    integration_not_found, new_token, optional_text, Destination, IntegrationInput,
};
use crate::store::integrations::{CreatedBy, Integration, OutgoingHook, WEBHOOK_OUTGOING};
use crate::store::{Message, Room, RoomType, Ts, User};

/// The only event Palaver triggers on so far.
pub const EVENT_SEND_MESSAGE: &str = "sendMessage";
/// Rocket.Chat's other events, refused with a clear message until they are built.
const LATER_EVENTS: &[&str] = &[
    "fileUploaded",
    "roomCreated",
    "roomArchived",
    "roomJoined",
    "roomLeft",
    "userCreated",
];
pub const RETRY_DELAYS: &[&str] = &["powers-of-ten", "powers-of-two", "increments-of-two"];
/// Rocket.Chat's defaults for a new outgoing webhook.
const DEFAULT_RETRY_COUNT: u32 = 6;
const DEFAULT_RETRY_DELAY: &str = "powers-of-ten";
const MAX_URLS: usize = 20;
const MAX_TRIGGER_WORDS: usize = 100;

/// The outgoing-only fields of `integrations.create`/`update`; `None`: not given.
#[derive(Clone, Debug, Default)]
pub struct OutgoingInput {
    pub event: Option<String>,
    pub urls: Option<Vec<String>>,
    pub trigger_words: Option<Vec<String>>,
    pub trigger_word_anywhere: Option<bool>,
    pub run_on_edits: Option<bool>,
    /// An empty string clears it.
    pub target_room: Option<String>,
    pub retry_failed_calls: Option<bool>,
    pub retry_count: Option<u32>,
    pub retry_delay: Option<String>,
    pub impersonate_user: Option<bool>,
    /// Sent to targets as `token`; generated when absent on create.
    pub token: Option<String>,
}

fn check_event(event: Option<&str>) -> ChatResult<String> {
    match event.map(str::trim) {
        Some(EVENT_SEND_MESSAGE) => Ok(EVENT_SEND_MESSAGE.to_string()),
        None | Some("") => Err(ChatError::invalid("must have required property 'event'")),
        Some(e) if LATER_EVENTS.contains(&e) => Err(ChatError::refused(
            "error-invalid-event",
            format!(
                "Palaver does not trigger outgoing webhooks on {e:?} yet; only \"sendMessage\""
            ),
        )),
        Some(e) => Err(ChatError::refused(
            "error-invalid-event",
            format!("Invalid event {e:?}"),
        )),
    }
}

fn check_urls(urls: Option<Vec<String>>) -> ChatResult<Vec<String>> {
    let urls: Vec<String> = urls
        .unwrap_or_default()
        .into_iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(ChatError::refused(
            "error-invalid-urls",
            "Invalid URLs: name at least one http(s) URL",
        ));
    }
    if urls.len() > MAX_URLS {
        return Err(ChatError::invalid(format!("At most {MAX_URLS} URLs")));
    }
    if let Some(bad) = urls.iter().find(|u| !is_http_url(u)) {
        return Err(ChatError::refused(
            "error-invalid-urls",
            format!("Invalid URL {bad:?}: only http(s) URLs are called"),
        ));
    }
    Ok(urls)
}

fn check_trigger_words(words: Option<Vec<String>>) -> ChatResult<Vec<String>> {
    let words: Vec<String> = words
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > MAX_TRIGGER_WORDS {
        return Err(ChatError::invalid(format!(
            "At most {MAX_TRIGGER_WORDS} trigger words"
        )));
    }
    Ok(words)
}

fn check_retry_delay(delay: Option<String>) -> ChatResult<String> {
    let delay = delay
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_RETRY_DELAY.to_string());
    if !RETRY_DELAYS.contains(&delay.as_str()) {
        return Err(ChatError::refused(
            "error-invalid-retry-delay",
            format!(
                "Invalid retryDelay {delay:?}: one of {}",
                RETRY_DELAYS.join(", ")
            ),
        ));
    }
    Ok(delay)
}

fn check_retry_count(count: u32) -> ChatResult<u32> {
    if count > 100 {
        return Err(ChatError::invalid("retryCount must be at most 100"));
    }
    Ok(count)
}

fn check_token(token: Option<String>) -> ChatResult<Option<String>> {
    match optional_text(token) {
        Some(t) if t.chars().count() > 200 => Err(ChatError::invalid(
            "The token must be at most 200 characters",
        )),
        other => Ok(other),
    }
}

/// Whether `target` (one of an outgoing integration's `channel` entries) covers
/// `room`, as Rocket.Chat's `getTriggersToExecute` decides.
fn channel_covers(target: &str, room: &Room, sender: &str) -> bool {
    match (target, room.t) {
        ("all_public_channels", RoomType::Channel) => true,
        ("all_private_groups", RoomType::Group) => true,
        ("all_direct_messages", RoomType::Direct) => true,
        ("all_public_channels" | "all_private_groups" | "all_direct_messages", _) => false,
        _ => {
            if let Some(user) = target.strip_prefix('@') {
                return room.t == RoomType::Direct
                    && (room.uids.iter().flatten().any(|id| id == user)
                        || room.usernames.iter().flatten().any(|u| {
                            u.eq_ignore_ascii_case(user) && !u.eq_ignore_ascii_case(sender)
                        }));
            }
            let name = target.strip_prefix('#').unwrap_or(target);
            room.t != RoomType::Direct
                && (name == room.id
                    || room
                        .name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name)))
        }
    }
}

/// The trigger word a message matched: `Some(None)` when the integration has no
/// trigger words (every message), `None` when the message does not trigger it.
pub fn trigger_word(hook: &OutgoingHook, text: &str) -> Option<Option<String>> {
    if hook.trigger_words.is_empty() {
        return Some(None);
    }
    hook.trigger_words
        .iter()
        .find(|w| {
            if hook.trigger_word_anywhere {
                text.contains(w.as_str())
            } else {
                text.starts_with(w.as_str())
            }
        })
        .map(|w| Some(w.clone()))
}

/// Whether the message (new, or edited when `edited`) in `room` triggers the
/// integration, and with which trigger word. An integration never triggers on its
/// own user's messages (its replies), so a target that answers cannot loop.
pub fn triggers(
    integration: &Integration,
    room: &Room,
    message: &Message,
    edited: bool,
) -> Option<Option<String>> {
    let hook = integration.outgoing.as_ref()?;
    if !integration.enabled
        || integration.kind != WEBHOOK_OUTGOING
        || hook.event != EVENT_SEND_MESSAGE
        || message.t.is_some()
        || message.u.id == integration.user_id
        || (edited && !hook.run_on_edits)
    {
        return None;
    }
    let covered = if integration.channel.is_empty() {
        room.t == RoomType::Channel
    } else {
        integration
            .channel
            .iter()
            .any(|c| channel_covers(c, room, &message.u.username))
    };
    if !covered {
        return None;
    }
    trigger_word(hook, &message.msg)
}

/// The body Rocket.Chat POSTs for `sendMessage` (`mapEventArgsToData`).
pub fn send_message_body(
    integration: &Integration,
    room: &Room,
    message: &Message,
    word: Option<&str>,
    site_url: &str,
) -> Value {
    let mut body = json!({
        "token": integration.token,
        "bot": message.bot.is_some(),
        "channel_id": room.id,
        "channel_name": room.name,
        "message_id": message.id,
        "timestamp": crate::wire::iso(message.ts.0),
        "user_id": message.u.id,
        "user_name": message.u.username,
        "text": message.msg,
        "siteUrl": site_url,
    });
    if let Some(word) = word {
        body["trigger_word"] = json!(word);
    }
    if let Some(alias) = &message.alias {
        body["alias"] = json!(alias);
    }
    if message.edited_at.is_some() {
        body["isEdited"] = json!(true);
    }
    if let Some(tmid) = &message.tmid {
        body["tmid"] = json!(tmid);
    }
    body
}

impl Chat {
    /// Creates an outgoing webhook (permission checked by the caller).
    pub(super) async fn create_outgoing(
        &self,
        actor: &User,
        input: IntegrationInput,
    ) -> ChatResult<Integration> {
        check_no_script(input.script_enabled)?;
        let out = input.outgoing;
        let name = check_name(input.name)?;
        let user = self
            .integration_user(input.username.as_deref().unwrap_or_default())
            .await?;
        let channel = self
            .check_outgoing_channels(input.channel.as_deref())
            .await?;
        let retry_failed_calls = out.retry_failed_calls.unwrap_or(true);
        let hook = OutgoingHook {
            event: check_event(out.event.as_deref())?,
            urls: check_urls(out.urls)?,
            trigger_words: check_trigger_words(out.trigger_words)?,
            trigger_word_anywhere: out.trigger_word_anywhere.unwrap_or(false),
            run_on_edits: out.run_on_edits.unwrap_or(false),
            target_room: optional_text(out.target_room),
            retry_failed_calls,
            retry_count: check_retry_count(out.retry_count.unwrap_or(DEFAULT_RETRY_COUNT))?,
            retry_delay: check_retry_delay(out.retry_delay)?,
            impersonate_user: out.impersonate_user.unwrap_or(false),
        };
        let now = Ts::now();
        let integration = Integration {
            id: ids::new_id(),
            kind: WEBHOOK_OUTGOING.to_string(),
            name,
            enabled: input.enabled.unwrap_or(true),
            channel,
            user_id: user.id.clone(),
            username: user.username.clone(),
            alias: check_alias(input.alias)?,
            avatar: check_avatar(input.avatar)?,
            emoji: check_emoji(input.emoji)?,
            token: check_token(out.token)?.unwrap_or_else(new_token),
            override_channel: false,
            created_by: CreatedBy {
                id: actor.id.clone(),
                username: actor.username.clone(),
            },
            created_at: now,
            updated_at: now,
            outgoing: Some(hook),
        };
        self.store.insert_integration(&integration).await?;
        self.integrations_changed();
        tracing::info!(integration_id = %integration.id, user_id = %actor.id, "outgoing webhook created");
        Ok(integration)
    }

    /// Applies the given fields to an outgoing webhook.
    pub(super) async fn update_outgoing(
        &self,
        mut integration: Integration,
        input: IntegrationInput,
    ) -> ChatResult<Integration> {
        check_no_script(input.script_enabled)?;
        let out = input.outgoing;
        let mut hook = integration
            .outgoing
            .clone()
            .ok_or_else(integration_not_found)?;
        if input.name.is_some() {
            integration.name = check_name(input.name)?;
        }
        if let Some(enabled) = input.enabled {
            integration.enabled = enabled;
        }
        if let Some(username) = input.username {
            let user = self.integration_user(&username).await?;
            integration.user_id = user.id.clone();
            integration.username = user.username.clone();
        }
        if input.channel.is_some() {
            integration.channel = self
                .check_outgoing_channels(input.channel.as_deref())
                .await?;
        }
        if input.alias.is_some() {
            integration.alias = check_alias(input.alias)?;
        }
        if input.avatar.is_some() {
            integration.avatar = check_avatar(input.avatar)?;
        }
        if input.emoji.is_some() {
            integration.emoji = check_emoji(input.emoji)?;
        }
        if out.event.is_some() {
            hook.event = check_event(out.event.as_deref())?;
        }
        if out.urls.is_some() {
            hook.urls = check_urls(out.urls)?;
        }
        if out.trigger_words.is_some() {
            hook.trigger_words = check_trigger_words(out.trigger_words)?;
        }
        if let Some(v) = out.trigger_word_anywhere {
            hook.trigger_word_anywhere = v;
        }
        if let Some(v) = out.run_on_edits {
            hook.run_on_edits = v;
        }
        if out.target_room.is_some() {
            hook.target_room = optional_text(out.target_room);
        }
        if let Some(v) = out.retry_failed_calls {
            hook.retry_failed_calls = v;
        }
        if let Some(v) = out.retry_count {
            hook.retry_count = check_retry_count(v)?;
        }
        if out.retry_delay.is_some() {
            hook.retry_delay = check_retry_delay(out.retry_delay)?;
        }
        if let Some(v) = out.impersonate_user {
            hook.impersonate_user = v;
        }
        if let Some(token) = check_token(out.token)? {
            integration.token = token;
        }
        integration.outgoing = Some(hook);
        integration.updated_at = Ts::now();
        if !self.store.update_integration(&integration).await? {
            return Err(integration_not_found());
        }
        self.integrations_changed();
        tracing::info!(integration_id = %integration.id, "outgoing webhook updated");
        Ok(integration)
    }

    /// `#room`, `@user`, a room id, or `all_public_channels`/`all_private_groups`/
    /// `all_direct_messages`; none means every public channel (as Rocket.Chat).
    async fn check_outgoing_channels(&self, channel: Option<&str>) -> ChatResult<Vec<String>> {
        let channels = split_channels(channel.unwrap_or_default());
        for target in &channels {
            if matches!(
                target.as_str(),
                "all_public_channels" | "all_private_groups" | "all_direct_messages"
            ) {
                continue;
            }
            if let Some(username) = target.strip_prefix('@') {
                if self.store.user_by_username(username).await?.is_none() {
                    return Err(ChatError::refused(
                        "error-invalid-user",
                        format!("Invalid user {target:?}: no such user"),
                    ));
                }
                continue;
            }
            if self.find_target_room(target).await?.is_none() {
                return Err(ChatError::refused(
                    "error-invalid-room",
                    format!("Invalid room {target:?}: no such channel or group"),
                ));
            }
        }
        Ok(channels)
    }

    /// Every enabled outgoing webhook (for the trigger matcher's cache).
    pub async fn outgoing_webhooks(&self) -> ChatResult<Vec<Integration>> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .list_integrations(crate::store::Page::new(offset, 500))
                .await?;
            let n = page.items.len() as u64;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|i| i.kind == WEBHOOK_OUTGOING && i.enabled && i.outgoing.is_some()),
            );
            offset += n;
            if n == 0 || offset >= page.total {
                return Ok(out);
            }
        }
    }

    /// An outgoing webhook as it is now (`None` if removed or no longer outgoing).
    pub async fn outgoing_webhook(&self, id: &str) -> ChatResult<Option<Integration>> {
        Ok(self
            .store
            .integration(id)
            .await?
            .filter(|i| i.kind == WEBHOOK_OUTGOING))
    }

    /// Disables an outgoing webhook whose target answered 410 Gone (as Rocket.Chat).
    pub async fn disable_gone_webhook(&self, id: &str) -> ChatResult<()> {
        if let Some(mut integration) = self.outgoing_webhook(id).await? {
            integration.enabled = false;
            integration.updated_at = Ts::now();
            self.store.update_integration(&integration).await?;
            self.integrations_changed();
            tracing::warn!(integration_id = %id, "outgoing webhook disabled: its target answered 410 Gone");
        }
        Ok(())
    }

    /// Posts a target's JSON reply (`text`, `attachments`, …, as an incoming hook's
    /// payload) as the integration's user, in `target_room` or the triggering room.
    /// `Ok(None)` when the reply holds nothing to post.
    pub async fn post_webhook_reply(
        &self,
        integration: &Integration,
        room_id: &str,
        reply: &Value,
    ) -> ChatResult<Option<(Room, Message)>> {
        let has_text = reply
            .get("text")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.trim().is_empty());
        let has_attachments = reply
            .get("attachments")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_text && !has_attachments {
            return Ok(None);
        }
        let hook = payload::parse(reply)?;
        let user = self.integration_user_by_id(integration).await?;
        let target = integration
            .outgoing
            .as_ref()
            .and_then(|h| h.target_room.clone())
            .or_else(|| hook.channels.first().cloned())
            .unwrap_or_else(|| room_id.to_string());
        let room = match self.webhook_destination(&user, &target).await? {
            Destination::Member(room) => room,
            Destination::Join(room) => self.join_room(&user, &room.id).await?,
            Destination::Direct(username) => self.create_direct(&user, &[username]).await?,
        };
        let new = hook_message(integration, &hook, &room.id);
        let posted = self.send_message(&user, new).await?;
        tracing::info!(integration_id = %integration.id, room_id = %posted.0.id, message_id = %posted.1.id, "outgoing webhook reply posted");
        Ok(Some(posted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserRef;

    fn hook(words: &[&str], anywhere: bool) -> OutgoingHook {
        OutgoingHook {
            event: EVENT_SEND_MESSAGE.into(),
            urls: vec!["http://x.test/".into()],
            trigger_words: words.iter().map(|w| w.to_string()).collect(),
            trigger_word_anywhere: anywhere,
            run_on_edits: false,
            target_room: None,
            retry_failed_calls: true,
            retry_count: 6,
            retry_delay: "powers-of-ten".into(),
            impersonate_user: false,
        }
    }

    fn room(id: &str, t: RoomType, name: Option<&str>) -> Room {
        serde_json::from_value(json!({
            "_id": id, "t": t, "name": name, "usersCount": 2, "msgs": 0,
            "ts": 0, "_updatedAt": 0,
            "usernames": ["alice", "bob"], "uids": ["u-a", "u-b"],
        }))
        .expect("a room")
    }

    fn message(text: &str, from: &str) -> Message {
        serde_json::from_value(json!({
            "_id": "m1", "rid": "r1", "msg": text, "ts": 1000, "_updatedAt": 1000,
            "u": UserRef { id: format!("u-{from}"), username: from.into(), name: None },
        }))
        .expect("a message")
    }

    fn integration(channel: &[&str], h: OutgoingHook) -> Integration {
        Integration {
            id: "i1".into(),
            kind: WEBHOOK_OUTGOING.into(),
            name: "out".into(),
            enabled: true,
            channel: channel.iter().map(|c| c.to_string()).collect(),
            user_id: "u-bot".into(),
            username: "bot".into(),
            alias: None,
            avatar: None,
            emoji: None,
            token: "tok".into(),
            override_channel: false,
            created_by: CreatedBy {
                id: "u-admin".into(),
                username: "admin".into(),
            },
            created_at: Ts(0),
            updated_at: Ts(0),
            outgoing: Some(h),
        }
    }

    #[test]
    fn trigger_words_start_or_anywhere() {
        assert_eq!(trigger_word(&hook(&[], false), "hi"), Some(None));
        let h = hook(&["!deploy", "!ship"], false);
        assert_eq!(trigger_word(&h, "!ship it"), Some(Some("!ship".into())));
        assert_eq!(trigger_word(&h, "please !ship"), None);
        let h = hook(&["!ship"], true);
        assert_eq!(trigger_word(&h, "please !ship"), Some(Some("!ship".into())));
    }

    #[test]
    fn rooms_covered() {
        let general = room("r1", RoomType::Channel, Some("general"));
        let group = room("r2", RoomType::Group, Some("secret"));
        let dm = room("u-au-b", RoomType::Direct, None);
        let msg = message("hello", "alice");
        let on = |channels: &[&str], r: &Room| {
            triggers(&integration(channels, hook(&[], false)), r, &msg, false).is_some()
        };
        assert!(on(&["#general"], &general));
        assert!(on(&["#GENERAL"], &general));
        assert!(on(&["r1"], &general));
        assert!(!on(&["#general"], &group));
        assert!(on(&[], &general), "no channel: every public channel");
        assert!(!on(&[], &group));
        assert!(on(&["all_private_groups"], &group));
        assert!(!on(&["all_public_channels"], &group));
        assert!(on(&["all_direct_messages"], &dm));
        assert!(on(&["@bob"], &dm), "a DM with bob");
        assert!(
            !on(&["@alice"], &dm),
            "the sender's own name is not the DM's other side"
        );
        assert!(on(&["@u-b"], &dm), "a member's id");
        assert!(!on(&["#general"], &dm));
    }

    #[test]
    fn never_on_its_own_messages_system_messages_or_unwanted_edits() {
        let general = room("r1", RoomType::Channel, Some("general"));
        let i = integration(&["#general"], hook(&[], false));
        assert!(triggers(&i, &general, &message("hi", "bot"), false).is_none());
        let mut system = message("", "alice");
        system.t = Some("uj".into());
        assert!(triggers(&i, &general, &system, false).is_none());
        assert!(triggers(&i, &general, &message("hi", "alice"), true).is_none());
        let mut edits = hook(&[], false);
        edits.run_on_edits = true;
        let i = integration(&["#general"], edits);
        assert!(triggers(&i, &general, &message("hi", "alice"), true).is_some());
        let mut off = integration(&["#general"], hook(&[], false));
        off.enabled = false;
        assert!(triggers(&off, &general, &message("hi", "alice"), false).is_none());
    }

    #[test]
    fn body_has_rocket_chat_fields() {
        let general = room("r1", RoomType::Channel, Some("general"));
        let mut msg = message("!ship it", "alice");
        msg.tmid = Some("m0".into());
        let i = integration(&["#general"], hook(&["!ship"], false));
        let body = send_message_body(&i, &general, &msg, Some("!ship"), "https://chat.test");
        assert_eq!(body["token"], "tok");
        assert_eq!(body["channel_id"], "r1");
        assert_eq!(body["channel_name"], "general");
        assert_eq!(body["message_id"], "m1");
        assert_eq!(body["user_id"], "u-alice");
        assert_eq!(body["user_name"], "alice");
        assert_eq!(body["text"], "!ship it");
        assert_eq!(body["trigger_word"], "!ship");
        assert_eq!(body["bot"], false);
        assert_eq!(body["tmid"], "m0");
        assert_eq!(body["siteUrl"], "https://chat.test");
        assert!(body["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("1970-01-01T00:00:01"));
        assert!(body.get("isEdited").is_none());
    }

    #[test]
    fn checks() {
        assert!(check_event(Some("sendMessage")).is_ok());
        assert!(check_event(Some("roomJoined")).is_err());
        assert!(check_event(None).is_err());
        assert!(check_urls(Some(vec!["ftp://x".into()])).is_err());
        assert!(check_urls(Some(vec![])).is_err());
        assert!(check_urls(Some(vec![" https://x.test/a ".into()])).is_ok());
        assert!(check_retry_delay(Some("powers-of-two".into())).is_ok());
        assert!(check_retry_delay(Some("fibonacci".into())).is_err());
        assert_eq!(check_retry_delay(None).unwrap(), "powers-of-ten");
    }
}
