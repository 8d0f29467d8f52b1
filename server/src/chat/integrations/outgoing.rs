//! Outgoing webhooks (Rocket.Chat's `webhook-outgoing`): which events (`sendMessage`,
//! `fileUploaded`, `roomCreated`, `roomArchived`, `roomJoined`, `roomLeft`,
//! `userCreated`) trigger which integration, the body Rocket.Chat POSTs for each
//! (`triggerHandler.mapEventArgsToData`), and posting a target's JSON reply back
//! into the room. Delivery itself goes through the durable queue
//! (`bridges::outgoing_webhooks`), so posting never waits for a target.
//!
//! Not built: scripts.

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

pub const EVENT_SEND_MESSAGE: &str = "sendMessage";
pub const EVENT_FILE_UPLOADED: &str = "fileUploaded";
pub const EVENT_ROOM_CREATED: &str = "roomCreated";
pub const EVENT_ROOM_ARCHIVED: &str = "roomArchived";
pub const EVENT_ROOM_JOINED: &str = "roomJoined";
pub const EVENT_ROOM_LEFT: &str = "roomLeft";
pub const EVENT_USER_CREATED: &str = "userCreated";
/// Rocket.Chat's outgoing events.
pub const EVENTS: &[&str] = &[
    EVENT_SEND_MESSAGE,
    EVENT_FILE_UPLOADED,
    EVENT_ROOM_CREATED,
    EVENT_ROOM_ARCHIVED,
    EVENT_ROOM_JOINED,
    EVENT_ROOM_LEFT,
    EVENT_USER_CREATED,
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
        None | Some("") => Err(ChatError::invalid("must have required property 'event'")),
        Some(e) => EVENTS
            .iter()
            .find(|known| **known == e)
            .map(|known| known.to_string())
            .ok_or_else(|| {
                ChatError::refused("error-invalid-event", format!("Invalid event {e:?}"))
            }),
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

/// Something outgoing webhooks trigger on.
#[derive(Clone, Copy, Debug)]
pub enum HookEvent<'a> {
    /// A message posted, or edited (`edited`): `sendMessage`; a file message is also
    /// `fileUploaded`, and the `room-archived` system message is `roomArchived`.
    Message {
        room: &'a Room,
        message: &'a Message,
        edited: bool,
    },
    RoomCreated {
        room: &'a Room,
    },
    RoomJoined {
        room: &'a Room,
        user: &'a User,
    },
    RoomLeft {
        room: &'a Room,
        user: &'a User,
    },
    UserCreated {
        user: &'a User,
    },
}

/// One integration's call for one event: the body, the room a reply goes to, and
/// what makes the call unique (with the integration and URL, the queue's dedupe key).
#[derive(Clone, Debug, PartialEq)]
pub struct HookCall {
    pub body: Value,
    pub room_id: Option<String>,
    pub subject: String,
}

/// Whether `room` is covered by the integration's `channel` (none: every public
/// channel, as Rocket.Chat).
fn covers(integration: &Integration, room: &Room, sender: &str) -> bool {
    if integration.channel.is_empty() {
        return room.t == RoomType::Channel;
    }
    integration
        .channel
        .iter()
        .any(|c| channel_covers(c, room, sender))
}

fn user_json(user: &User) -> Value {
    crate::wire::user_full(user, crate::wire::DateStyle::Iso)
}

fn room_json(room: &Room) -> Value {
    crate::wire::room(room, crate::wire::DateStyle::Iso)
}

/// The call `integration` makes for `event`, if it triggers: enabled, its event,
/// its rooms (for the events Rocket.Chat matches on rooms: messages, files, joins
/// and leaves), its trigger words (messages). An integration never triggers on
/// what it posted itself (`bot.i` is its id), so a target that answers cannot loop.
pub fn hook_call(
    integration: &Integration,
    event: HookEvent<'_>,
    site_url: &str,
) -> Option<HookCall> {
    let hook = integration.outgoing.as_ref()?;
    if !integration.enabled || integration.kind != WEBHOOK_OUTGOING {
        return None;
    }
    let mut body = json!({ "token": integration.token, "bot": false });
    let now = crate::wire::iso(Ts::now().0);
    match event {
        HookEvent::Message {
            room,
            message,
            edited,
        } => {
            let own = message
                .bot
                .as_ref()
                .and_then(|b| b.get("i"))
                .and_then(Value::as_str)
                == Some(integration.id.as_str());
            if own || (edited && !hook.run_on_edits) {
                return None;
            }
            let archived = message.t.as_deref() == Some("room-archived");
            let event = match hook.event.as_str() {
                EVENT_SEND_MESSAGE if message.t.is_none() => EVENT_SEND_MESSAGE,
                EVENT_FILE_UPLOADED if message.file.is_some() && !edited => EVENT_FILE_UPLOADED,
                EVENT_ROOM_ARCHIVED if archived && !edited => EVENT_ROOM_ARCHIVED,
                _ => return None,
            };
            if event != EVENT_ROOM_ARCHIVED && !covers(integration, room, &message.u.username) {
                return None;
            }
            let version = message.edited_at.map_or(0, |t| t.0);
            let subject = format!("{}\u{1f}{version}", message.id);
            if event == EVENT_ROOM_ARCHIVED {
                body["timestamp"] = json!(now);
                body["channel_id"] = json!(room.id);
                body["channel_name"] = json!(room.name);
                body["user_id"] = json!(message.u.id);
                body["user_name"] = json!(message.u.username);
                body["user"] = json!(message.u);
                body["room"] = room_json(room);
                return Some(HookCall {
                    body,
                    room_id: Some(room.id.clone()),
                    subject,
                });
            }
            let word = if event == EVENT_SEND_MESSAGE {
                trigger_word(hook, &message.msg)?
            } else {
                None
            };
            body["channel_id"] = json!(room.id);
            body["channel_name"] = json!(room.name);
            body["message_id"] = json!(message.id);
            body["timestamp"] = json!(crate::wire::iso(message.ts.0));
            body["user_id"] = json!(message.u.id);
            body["user_name"] = json!(message.u.username);
            body["text"] = json!(message.msg);
            if let Some(word) = word {
                body["trigger_word"] = json!(word);
            }
            if let Some(alias) = &message.alias {
                body["alias"] = json!(alias);
            }
            if let Some(bot) = &message.bot {
                body["bot"] = bot.clone();
            }
            if event == EVENT_SEND_MESSAGE {
                body["siteUrl"] = json!(site_url);
                if message.edited_at.is_some() {
                    body["isEdited"] = json!(true);
                }
                if let Some(tmid) = &message.tmid {
                    body["tmid"] = json!(tmid);
                }
            } else {
                body["user"] = json!(message.u);
                body["room"] = room_json(room);
                body["message"] = crate::wire::render(message, crate::wire::DateStyle::Iso);
            }
            Some(HookCall {
                body,
                room_id: Some(room.id.clone()),
                subject,
            })
        }
        HookEvent::RoomCreated { room } => {
            if hook.event != EVENT_ROOM_CREATED {
                return None;
            }
            body["channel_id"] = json!(room.id);
            body["channel_name"] = json!(room.name);
            body["timestamp"] = json!(crate::wire::iso(room.ts.0));
            if let Some(owner) = &room.u {
                body["user_id"] = json!(owner.id);
                body["user_name"] = json!(owner.username);
                body["owner"] = json!(owner);
            }
            body["room"] = room_json(room);
            Some(HookCall {
                body,
                room_id: Some(room.id.clone()),
                subject: room.id.clone(),
            })
        }
        HookEvent::RoomJoined { room, user } | HookEvent::RoomLeft { room, user } => {
            let name = if matches!(event, HookEvent::RoomJoined { .. }) {
                EVENT_ROOM_JOINED
            } else {
                EVENT_ROOM_LEFT
            };
            if hook.event != name || !covers(integration, room, &user.username) {
                return None;
            }
            body["timestamp"] = json!(now);
            body["channel_id"] = json!(room.id);
            body["channel_name"] = json!(room.name);
            body["user_id"] = json!(user.id);
            body["user_name"] = json!(user.username);
            body["user"] = user_json(user);
            body["room"] = room_json(room);
            if user.kind == "bot" {
                body["bot"] = json!(true);
            }
            Some(HookCall {
                body,
                room_id: Some(room.id.clone()),
                subject: format!("{}\u{1f}{}\u{1f}{}", room.id, user.id, Ts::now().0),
            })
        }
        HookEvent::UserCreated { user } => {
            if hook.event != EVENT_USER_CREATED {
                return None;
            }
            body["timestamp"] = json!(crate::wire::iso(user.created_at.0));
            body["user_id"] = json!(user.id);
            body["user_name"] = json!(user.username);
            body["user"] = user_json(user);
            if user.kind == "bot" {
                body["bot"] = json!(true);
            }
            Some(HookCall {
                body,
                room_id: None,
                subject: user.id.clone(),
            })
        }
    }
}

impl Chat {
    /// Creates an outgoing webhook (permission checked by the caller).
    pub(super) async fn create_outgoing(
        &self,
        actor: &User,
        input: IntegrationInput,
    ) -> ChatResult<Integration> {
        check_no_script(input.script_enabled, input.script.as_deref())?;
        let out = input.outgoing;
        let name = check_name(input.name)?;
        let user = self
            .integration_user(input.username.as_deref().unwrap_or_default())
            .await?;
        let channel = self
            .check_outgoing_channels(input.channel.as_deref())
            .await?;
        let retry_failed_calls = out.retry_failed_calls.unwrap_or(true);
        let event = check_event(out.event.as_deref())?;
        let urls = check_urls(out.urls)?;
        self.vet_webhook_urls(&urls).await?;
        let hook = OutgoingHook {
            event,
            urls,
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
            script_enabled: false,
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
        check_no_script(input.script_enabled, input.script.as_deref())?;
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
            self.vet_webhook_urls(&hook.urls).await?;
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
        room_id: Option<&str>,
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
            .or_else(|| room_id.map(str::to_string));
        let Some(target) = target else {
            // `userCreated` has no room: only a `targetRoom` or the reply's `channel`.
            return Ok(None);
        };
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
            script_enabled: false,
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
            let i = integration(channels, hook(&[], false));
            hook_call(
                &i,
                HookEvent::Message {
                    room: r,
                    message: &msg,
                    edited: false,
                },
                "",
            )
            .is_some()
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

    fn fires(i: &Integration, room: &Room, message: &Message, edited: bool) -> bool {
        hook_call(
            i,
            HookEvent::Message {
                room,
                message,
                edited,
            },
            "",
        )
        .is_some()
    }

    #[test]
    fn never_on_its_own_messages_system_messages_or_unwanted_edits() {
        let general = room("r1", RoomType::Channel, Some("general"));
        let i = integration(&["#general"], hook(&[], false));
        let mut own = message("hi", "bot");
        own.bot = Some(json!({ "i": "i1" }));
        assert!(!fires(&i, &general, &own, false), "its own reply");
        own.bot = Some(json!({ "i": "other-integration" }));
        assert!(
            fires(&i, &general, &own, false),
            "another integration's post"
        );
        assert!(
            fires(&i, &general, &message("hi", "bot"), false),
            "its user, by hand"
        );
        let mut system = message("", "alice");
        system.t = Some("uj".into());
        assert!(!fires(&i, &general, &system, false));
        assert!(!fires(&i, &general, &message("hi", "alice"), true));
        let mut edits = hook(&[], false);
        edits.run_on_edits = true;
        let i = integration(&["#general"], edits);
        assert!(fires(&i, &general, &message("hi", "alice"), true));
        let mut off = integration(&["#general"], hook(&[], false));
        off.enabled = false;
        assert!(!fires(&off, &general, &message("hi", "alice"), false));
    }

    fn on_event(event: &str) -> Integration {
        let mut h = hook(&[], false);
        h.event = event.into();
        integration(&["#general"], h)
    }

    #[test]
    fn each_event_fires_its_own_integrations_with_rocket_chat_bodies() {
        let general = room("r1", RoomType::Channel, Some("general"));
        let other = room("r9", RoomType::Channel, Some("other"));
        let user: User = serde_json::from_value(json!({
            "_id": "u-carol", "username": "carol", "active": true, "type": "user",
            "createdAt": 5000, "_updatedAt": 5000,
        }))
        .unwrap();
        let mut file = message("a file", "alice");
        file.file = Some(json!({ "_id": "f1", "name": "a.txt" }));
        let mut archived = message("", "alice");
        archived.t = Some("room-archived".into());
        let plain = message("hi", "alice");
        let events = [
            (
                EVENT_SEND_MESSAGE,
                HookEvent::Message {
                    room: &general,
                    message: &plain,
                    edited: false,
                },
            ),
            (
                EVENT_FILE_UPLOADED,
                HookEvent::Message {
                    room: &general,
                    message: &file,
                    edited: false,
                },
            ),
            (
                EVENT_ROOM_ARCHIVED,
                HookEvent::Message {
                    room: &other,
                    message: &archived,
                    edited: false,
                },
            ),
            (EVENT_ROOM_CREATED, HookEvent::RoomCreated { room: &other }),
            (
                EVENT_ROOM_JOINED,
                HookEvent::RoomJoined {
                    room: &general,
                    user: &user,
                },
            ),
            (
                EVENT_ROOM_LEFT,
                HookEvent::RoomLeft {
                    room: &general,
                    user: &user,
                },
            ),
            (EVENT_USER_CREATED, HookEvent::UserCreated { user: &user }),
        ];
        for (name, event) in events {
            for (other_name, _) in events {
                let call = hook_call(&on_event(other_name), event, "https://chat.test");
                let file_is_a_message =
                    name == EVENT_FILE_UPLOADED && other_name == EVENT_SEND_MESSAGE;
                assert_eq!(
                    call.is_some(),
                    name == other_name || file_is_a_message,
                    "{other_name} integration on a {name} event"
                );
            }
            let body = hook_call(&on_event(name), event, "https://chat.test")
                .unwrap()
                .body;
            assert_eq!(body["token"], "tok", "{name}");
            assert!(body["timestamp"].is_string(), "{name}: {body}");
            match name {
                EVENT_USER_CREATED => {
                    assert_eq!(body["user_id"], "u-carol");
                    assert_eq!(body["user"]["username"], "carol");
                }
                EVENT_ROOM_JOINED | EVENT_ROOM_LEFT => {
                    assert_eq!(
                        (&body["channel_id"], &body["user_name"]),
                        (&json!("r1"), &json!("carol"))
                    );
                    assert_eq!(body["room"]["_id"], "r1");
                }
                EVENT_ROOM_CREATED | EVENT_ROOM_ARCHIVED => {
                    assert_eq!(
                        body["channel_name"], "other",
                        "{name}: not bound to #general"
                    );
                }
                EVENT_FILE_UPLOADED => {
                    assert_eq!(body["message"]["file"]["_id"], "f1");
                    assert_eq!(body["user_name"], "alice");
                }
                _ => assert_eq!(body["text"], "hi"),
            }
        }
        // Room-bound events stay in the integration's rooms.
        let joined_elsewhere = HookEvent::RoomJoined {
            room: &other,
            user: &user,
        };
        assert!(hook_call(&on_event(EVENT_ROOM_JOINED), joined_elsewhere, "").is_none());
    }

    #[test]
    fn checks() {
        assert!(check_event(Some("sendMessage")).is_ok());
        assert!(check_event(Some("roomJoined")).is_ok());
        assert!(check_event(Some("roomExploded")).is_err());
        assert!(check_event(None).is_err());
        assert!(check_urls(Some(vec!["ftp://x".into()])).is_err());
        assert!(check_urls(Some(vec![])).is_err());
        assert!(check_urls(Some(vec![" https://x.test/a ".into()])).is_ok());
        assert!(check_retry_delay(Some("powers-of-two".into())).is_ok());
        assert!(check_retry_delay(Some("fibonacci".into())).is_err());
        assert_eq!(check_retry_delay(None).unwrap(), "powers-of-ten");
    }
}
