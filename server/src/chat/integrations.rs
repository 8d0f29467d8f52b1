//! Incoming webhooks (Rocket.Chat "integrations" of type `webhook-incoming`): admins
//! manage them; senders that know an integration's id and token post Slack-style
//! payloads, which become messages posted through [`Chat::send_message`] as the
//! integration's user, so pre-send app hooks, notifications and realtime delivery
//! happen exactly as for any other message.
//!
//! Palaver runs no integration scripts: its apps engine replaces them, so an
//! integration with a script to run (`scriptEnabled` and a non-empty `script`) is
//! refused; `scriptEnabled` with an empty script is kept (Rocket.Chat, too, runs
//! nothing then).

pub mod history;
pub mod options;
pub mod outgoing;
pub mod payload;

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::messages::{normalize_emoji, NewMessage};
use super::permissions::Perm;
use super::{ids, Chat};
use crate::store::integrations::{CreatedBy, Integration, WEBHOOK_INCOMING, WEBHOOK_OUTGOING};
use crate::store::{Listing, Message, Page, Room, RoomType, Ts, User};
use payload::{is_http_url, split_channels, HookPayload};

/// Length of a generated hook token (Rocket.Chat uses `Random.id(48)`).
const TOKEN_LEN: usize = 48;
/// Longest integration name and alias, in characters.
const MAX_NAME: usize = 200;

/// Fields of `integrations.create`/`integrations.update`; `None` means "not given"
/// (on update: keep the current value).
#[derive(Clone, Debug, Default)]
pub struct IntegrationInput {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// `#channel`, `@username` or a room id; commas separate several.
    pub channel: Option<String>,
    pub username: Option<String>,
    /// An empty string clears it.
    pub alias: Option<String>,
    pub avatar: Option<String>,
    pub emoji: Option<String>,
    pub script_enabled: Option<bool>,
    /// The script's source; only an empty one is accepted.
    pub script: Option<String>,
    pub override_channel: Option<bool>,
    /// Outgoing webhooks' own fields.
    pub outgoing: outgoing::OutgoingInput,
}

/// Why a hook call was refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Unknown id or wrong token (indistinguishable on purpose).
    #[error("Invalid integration id or token provided.")]
    InvalidToken,
    #[error("Service Unavailable")]
    Disabled,
    /// Over the hook's rate limit (`ChatError::RateLimited`: 429 with `Retry-After`).
    #[error(transparent)]
    RateLimited(ChatError),
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl From<crate::store::StoreError> for HookError {
    fn from(e: crate::store::StoreError) -> Self {
        HookError::Chat(e.into())
    }
}

fn new_token() -> String {
    ids::random_id(TOKEN_LEN)
}

/// Compares two secrets in time independent of where they differ.
fn tokens_match(given: &str, stored: &str) -> bool {
    let (a, b) = (given.as_bytes(), stored.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A deactivated user cannot post, so no integration may post as one; `label`
/// starts the refusal's message.
fn require_active(user: User, label: &str) -> ChatResult<User> {
    if user.active {
        Ok(user)
    } else {
        Err(ChatError::refused(
            "error-invalid-user",
            format!("{label} {:?} is deactivated", user.username),
        ))
    }
}

fn integration_not_found() -> ChatError {
    ChatError::refused("error-invalid-integration", "Invalid integration")
}

/// Trims; `Some("")` clears the value.
fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn check_alias(alias: Option<String>) -> ChatResult<Option<String>> {
    let alias = optional_text(alias);
    if alias.as_ref().is_some_and(|a| a.chars().count() > MAX_NAME) {
        return Err(ChatError::invalid(format!(
            "The alias must be at most {MAX_NAME} characters"
        )));
    }
    Ok(alias)
}

fn check_avatar(avatar: Option<String>) -> ChatResult<Option<String>> {
    match optional_text(avatar) {
        Some(url) if !is_http_url(&url) => Err(ChatError::refused(
            "error-invalid-avatar",
            format!("The avatar must be an http(s) URL, not {url:?}"),
        )),
        other => Ok(other),
    }
}

fn check_emoji(emoji: Option<String>) -> ChatResult<Option<String>> {
    optional_text(emoji)
        .map(|e| normalize_emoji(&e))
        .transpose()
}

impl Chat {
    /// Whether `actor` may manage integrations of `kind` created by `owner`:
    /// `manage-<kind>-integrations`, or `manage-own-<kind>-integrations` for their
    /// own (or, with `owner` `None`, for a new one).
    pub(crate) async fn may_manage_integration(
        &self,
        actor: &User,
        kind: &str,
        owner: Option<&str>,
    ) -> ChatResult<bool> {
        let (all, own) = if kind == WEBHOOK_OUTGOING {
            (
                Perm::MANAGE_OUTGOING_INTEGRATIONS,
                Perm::MANAGE_OWN_OUTGOING_INTEGRATIONS,
            )
        } else {
            (
                Perm::MANAGE_INCOMING_INTEGRATIONS,
                Perm::MANAGE_OWN_INCOMING_INTEGRATIONS,
            )
        };
        if self.has_permission(actor, all, None).await? {
            return Ok(true);
        }
        Ok(owner.is_none_or(|o| o == actor.id) && self.has_permission(actor, own, None).await?)
    }

    /// Rocket.Chat's `hasAllPermission(['manage-incoming-integrations',
    /// 'manage-own-incoming-integrations'])`: may point an incoming integration at
    /// rooms they are not in.
    async fn manages_all_incoming(&self, actor: &User) -> ChatResult<bool> {
        Ok(self
            .has_permission(actor, Perm::MANAGE_INCOMING_INTEGRATIONS, None)
            .await?
            && self
                .has_permission(actor, Perm::MANAGE_OWN_INCOMING_INTEGRATIONS, None)
                .await?)
    }

    async fn require_integration(
        &self,
        actor: &User,
        kind: &str,
        owner: Option<&str>,
    ) -> ChatResult<()> {
        match self.may_manage_integration(actor, kind, owner).await? {
            true => Ok(()),
            false => Err(ChatError::not_allowed()),
        }
    }

    /// Creates an incoming webhook with a fresh token (admins only).
    pub async fn create_integration(
        &self,
        actor: &User,
        input: IntegrationInput,
    ) -> ChatResult<Integration> {
        check_kind(input.kind.as_deref(), true)?;
        let kind = input.kind.as_deref().unwrap_or(WEBHOOK_INCOMING);
        if !self.may_manage_integration(actor, kind, None).await? {
            // Rocket.Chat's `addIncomingIntegration`/`addOutgoingIntegration`.
            return Err(ChatError::refused("not_authorized", "Unauthorized"));
        }
        if input.kind.as_deref() == Some(WEBHOOK_OUTGOING) {
            return self.create_outgoing(actor, input).await;
        }
        let script_enabled = check_no_script(input.script_enabled, input.script.as_deref())?;
        let name = check_name(input.name)?;
        let username = input.username.unwrap_or_default();
        let user = self.integration_user(&username).await?;
        let channel = self.check_channels(actor, input.channel.as_deref()).await?;
        let now = Ts::now();
        let integration = Integration {
            id: ids::new_id(),
            kind: WEBHOOK_INCOMING.to_string(),
            name,
            enabled: input.enabled.unwrap_or(true),
            channel,
            user_id: user.id.clone(),
            username: user.username.clone(),
            alias: check_alias(input.alias)?,
            avatar: check_avatar(input.avatar)?,
            emoji: check_emoji(input.emoji)?,
            token: new_token(),
            // Rocket.Chat: `overrideDestinationChannelEnabled ?? false`.
            override_channel: input.override_channel.unwrap_or(false),
            script_enabled,
            created_by: CreatedBy {
                id: actor.id.clone(),
                username: actor.username.clone(),
            },
            created_at: now,
            updated_at: now,
            outgoing: None,
        };
        self.store.insert_integration(&integration).await?;
        tracing::info!(integration_id = %integration.id, user_id = %actor.id, "incoming webhook created");
        Ok(integration)
    }

    /// Every integration, in creation order (admins only).
    pub async fn list_integrations(
        &self,
        actor: &User,
        page: Page,
    ) -> ChatResult<Listing<Integration>> {
        let mut any = false;
        for kind in [WEBHOOK_INCOMING, WEBHOOK_OUTGOING] {
            any |= self.may_manage_integration(actor, kind, None).await?;
        }
        if !any {
            return Err(ChatError::unauthorized_bare());
        }
        let mut listing = self.store.list_integrations(page).await?;
        let mut kept = Vec::with_capacity(listing.items.len());
        for i in listing.items {
            if self
                .may_manage_integration(actor, &i.kind, Some(&i.created_by.id))
                .await?
            {
                kept.push(i);
            } else {
                listing.total = listing.total.saturating_sub(1);
            }
        }
        listing.items = kept;
        Ok(listing)
    }

    /// The integrations of a room (`channels|groups.getIntegrations`): those the
    /// caller may manage whose channel names the room (`#name` or its id).
    /// `Forbidden("unauthorized")` without any integrations permission. Work: the
    /// workspace's integrations, read in batches.
    pub async fn room_integrations(
        &self,
        actor: &User,
        room: &crate::store::Room,
        page: Page,
    ) -> ChatResult<Listing<Integration>> {
        const BATCH: u64 = 500;
        let mut any = false;
        for kind in [WEBHOOK_INCOMING, WEBHOOK_OUTGOING] {
            any |= self.may_manage_integration(actor, kind, None).await?;
        }
        if !any {
            return Err(ChatError::Forbidden("unauthorized".into()));
        }
        let names: Vec<String> = [
            Some(room.id.clone()),
            room.name.as_ref().map(|n| format!("#{n}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut matching = Vec::new();
        let mut offset = 0;
        loop {
            let batch = self
                .store
                .list_integrations(Page::new(offset, BATCH))
                .await?;
            let read = batch.items.len() as u64;
            for i in batch.items {
                if i.channel.iter().any(|c| names.contains(c))
                    && self
                        .may_manage_integration(actor, &i.kind, Some(&i.created_by.id))
                        .await?
                {
                    matching.push(i);
                }
            }
            offset += read;
            if read < BATCH {
                break;
            }
        }
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
            .collect();
        Ok(Listing { items, total })
    }

    /// One integration (admins only), refused in Rocket.Chat's words
    /// (`findOneIntegration`: plain failures, no error type of their own).
    pub async fn get_integration(&self, actor: &User, id: &str) -> ChatResult<Integration> {
        let integration = self
            .store
            .integration(id)
            .await?
            .ok_or_else(|| ChatError::invalid("The integration does not exists."))?;
        if !self
            .may_manage_integration(actor, &integration.kind, Some(&integration.created_by.id))
            .await?
        {
            return Err(ChatError::invalid("not-authorized"));
        }
        Ok(integration)
    }

    /// Changes the given fields of an integration; the token stays (admins only).
    pub async fn update_integration(
        &self,
        actor: &User,
        id: &str,
        input: IntegrationInput,
    ) -> ChatResult<Integration> {
        check_kind(input.kind.as_deref(), false)?;
        let script_enabled = check_no_script(input.script_enabled, input.script.as_deref())?;
        let mut integration = self
            .store
            .integration(id)
            .await?
            .ok_or_else(integration_not_found)?;
        self.require_integration(actor, &integration.kind, Some(&integration.created_by.id))
            .await?;
        if integration.kind == WEBHOOK_OUTGOING {
            return self.update_outgoing(integration, input).await;
        }
        if input.name.is_some() {
            integration.name = check_name(input.name)?;
        }
        if let Some(enabled) = input.enabled {
            integration.enabled = enabled;
        }
        if input.username.is_some() || input.channel.is_some() {
            let user = match input.username {
                Some(username) => self.integration_user(&username).await?,
                None => self.integration_user_by_id(&integration).await?,
            };
            let channels = input
                .channel
                .unwrap_or_else(|| integration.channel.join(","));
            integration.channel = self.check_channels(actor, Some(&channels)).await?;
            integration.user_id = user.id.clone();
            integration.username = user.username.clone();
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
        if let Some(allow) = input.override_channel {
            integration.override_channel = allow;
        }
        if input.script_enabled.is_some() {
            integration.script_enabled = script_enabled;
        }
        integration.updated_at = Ts::now();
        if !self.store.update_integration(&integration).await? {
            return Err(integration_not_found());
        }
        tracing::info!(integration_id = %integration.id, user_id = %actor.id, "incoming webhook updated");
        Ok(integration)
    }

    /// Deletes an integration; returns it as it was (admins only).
    pub async fn remove_integration(
        &self,
        actor: &User,
        id: &str,
        kind: Option<&str>,
    ) -> ChatResult<Integration> {
        // Rocket.Chat: any integrations permission at all, or its bare 403; then the
        // request's shape; then the integration and the permission over it.
        let mut any = false;
        for kind in [WEBHOOK_INCOMING, WEBHOOK_OUTGOING] {
            any |= self.may_manage_integration(actor, kind, None).await?;
        }
        if !any {
            return Err(ChatError::unauthorized_bare());
        }
        if !matches!(kind, Some(WEBHOOK_INCOMING | WEBHOOK_OUTGOING)) {
            return Err(ChatError::refused(
                "invalid-params",
                "must match exactly one schema in oneOf",
            ));
        }
        let integration = self
            .store
            .integration(id)
            .await?
            .ok_or_else(|| ChatError::invalid("No integration found."))?;
        if !self
            .may_manage_integration(actor, &integration.kind, Some(&integration.created_by.id))
            .await?
        {
            return Err(ChatError::refused("not_authorized", "Unauthorized"));
        }
        if !self.store.delete_integration(id).await? {
            return Err(integration_not_found());
        }
        if let Err(e) = self.store.delete_integration_history(id).await {
            tracing::warn!(integration_id = %id, error = %e, "removed integration's history not deleted");
        }
        self.integrations_changed();
        tracing::info!(integration_id = %id, user_id = %actor.id, kind = %integration.kind, "integration removed");
        Ok(integration)
    }

    /// Runs a hook call: checks the token, reads the payload and posts one message
    /// per destination room as the integration's user.
    pub async fn execute_webhook(
        &self,
        id: &str,
        token: &str,
        payload: &Value,
    ) -> Result<Vec<(Room, Message)>, HookError> {
        let integration = match self.store.integration(id).await? {
            Some(i) if i.kind == WEBHOOK_INCOMING && tokens_match(token, &i.token) => i,
            _ => {
                tracing::info!(integration_id = %id, "webhook call with an unknown id or a wrong token");
                return Err(HookError::InvalidToken);
            }
        };
        if !integration.enabled {
            tracing::info!(integration_id = %id, "webhook call to a disabled integration");
            return Err(HookError::Disabled);
        }
        // Per hook, after the token: wrong tokens cannot use up a hook's allowance.
        if let Some(limiter) = &self.hook_limiter {
            if let Err(e) = limiter.hit(&integration.id, Ts::now()) {
                tracing::info!(integration_id = %id, "webhook call over the hook's rate limit");
                return Err(HookError::RateLimited(e));
            }
        }
        let hook = payload::parse(payload)?;
        if !hook.channels.is_empty() && !integration.override_channel {
            // Rocket.Chat's `API.v1.failure(...)`: the text alone.
            return Err(ChatError::invalid(
                "overriding destination channel is disabled for this integration",
            )
            .into());
        }
        let user = self.integration_user_by_id(&integration).await?;
        let targets = if hook.channels.is_empty() {
            integration.channel.clone()
        } else {
            hook.channels.clone()
        };
        // The message and every destination are checked (reads only) before
        // anything is posted or joined, so a bad one changes nothing.
        self.check_content(&user, &mut hook_message(&integration, &hook, ""))
            .await?;
        let mut destinations = Vec::with_capacity(targets.len());
        for target in &targets {
            destinations.push(self.webhook_destination(&user, target).await?);
        }
        let mut posted = Vec::with_capacity(destinations.len());
        for destination in destinations {
            let room = match destination {
                Destination::Member(room) => room,
                Destination::Join(room) => self.join_room(&user, &room.id).await?,
                Destination::Direct(username) => self.create_direct(&user, &[username]).await?,
            };
            let new = hook_message(&integration, &hook, &room.id);
            let (room, message) = self.send_message(&user, new).await?;
            tracing::info!(
                integration_id = %integration.id,
                room_id = %room.id,
                message_id = %message.id,
                "webhook message posted"
            );
            posted.push((room, message));
        }
        Ok(posted)
    }

    /// The user an integration posts as, by username; must exist and be active.
    async fn integration_user(&self, username: &str) -> ChatResult<User> {
        let username = username.trim().trim_start_matches('@');
        if username.is_empty() {
            return Err(ChatError::refused(
                "error-invalid-username",
                "Invalid username: name the user the integration posts as",
            ));
        }
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| {
                ChatError::refused("error-invalid-user", format!("Invalid user {username:?}"))
            })?;
        require_active(user, "The user")
    }

    async fn integration_user_by_id(&self, integration: &Integration) -> ChatResult<User> {
        let user = self
            .store
            .user_by_id(&integration.user_id)
            .await?
            .ok_or_else(|| {
                ChatError::refused(
                    "error-invalid-user",
                    format!(
                        "The integration's user {:?} no longer exists",
                        integration.username
                    ),
                )
            })?;
        require_active(user, "The integration's user")
    }

    /// Checks an integration's destinations and returns them normalized. As
    /// Rocket.Chat's `addIncomingIntegration`: whoever sets them up (`actor`) must be
    /// in each room that is not public, unless they may manage every incoming
    /// integration and their own; whether the integration's user can post there is
    /// found when it posts (`webhook_destination`).
    async fn check_channels(&self, actor: &User, channel: Option<&str>) -> ChatResult<Vec<String>> {
        let channels = split_channels(channel.unwrap_or_default());
        if channels.is_empty() {
            return Err(ChatError::refused(
                "error-invalid-channel",
                "Invalid channel: name a #channel, an @username or a room id",
            ));
        }
        for target in &channels {
            if let Some(username) = target.strip_prefix('@') {
                self.store
                    .user_by_username(username)
                    .await?
                    .ok_or_else(|| {
                        ChatError::refused(
                            "error-invalid-user",
                            format!("Invalid user {target:?}: no such user"),
                        )
                    })?;
                continue;
            }
            let room = self.find_target_room(target).await?.ok_or_else(|| {
                ChatError::refused(
                    "error-invalid-room",
                    format!("Invalid room {target:?}: no such channel or group"),
                )
            })?;
            if room.t != RoomType::Channel
                && self
                    .store
                    .subscription(&room.id, &actor.id)
                    .await?
                    .is_none()
                && !self.manages_all_incoming(actor).await?
            {
                return Err(ChatError::refused(
                    "error-invalid-channel",
                    format!("You are not a member of {target:?}"),
                ));
            }
        }
        Ok(channels)
    }

    /// `#name` by name; anything else by id, then by name.
    async fn find_target_room(&self, target: &str) -> ChatResult<Option<Room>> {
        if let Some(name) = target.strip_prefix('#') {
            return Ok(self.store.room_by_name(name).await?);
        }
        match self.store.room_by_id(target).await? {
            Some(room) => Ok(Some(room)),
            None => Ok(self.store.room_by_name(target).await?),
        }
    }

    /// Where a hook posts, as Rocket.Chat resolves it: `@user` opens the DM, a
    /// public channel is joined if needed, a private room needs membership. Only
    /// reads; the joining and opening happen when posting.
    async fn webhook_destination(&self, user: &User, target: &str) -> ChatResult<Destination> {
        if let Some(username) = target.strip_prefix('@') {
            // The same checks and messages as `create_direct`, which opens it later.
            if username.trim().is_empty() {
                return Err(ChatError::invalid(
                    "Body param \"username\" or \"usernames\" is required",
                ));
            }
            let name = username.trim().trim_start_matches('@');
            if !name.is_empty() && self.store.user_by_username(name).await?.is_none() {
                return Err(ChatError::refused(
                    "error-invalid-user",
                    format!("No user named {name:?}"),
                ));
            }
            return Ok(Destination::Direct(username.to_string()));
        }
        let not_found = || {
            ChatError::refused(
                "error-invalid-channel",
                format!("Invalid channel {target:?}: no room the integration's user can post in"),
            )
        };
        let room = self.find_target_room(target).await?.ok_or_else(not_found)?;
        if self.store.subscription(&room.id, &user.id).await?.is_some() {
            return Ok(Destination::Member(room));
        }
        if room.t == RoomType::Channel {
            return Ok(Destination::Join(room));
        }
        Err(not_found())
    }
}

/// A checked hook destination.
enum Destination {
    /// A room the integration's user is in.
    Member(Room),
    /// A public channel the integration's user joins to post.
    Join(Room),
    /// The DM with this user, opened (or created) to post.
    Direct(String),
}

/// The message for one room: the payload's fields over the integration's defaults
/// (`alias`; `avatar` or else `emoji`, never both, as Rocket.Chat does).
fn hook_message(integration: &Integration, hook: &HookPayload, rid: &str) -> NewMessage {
    let (avatar, emoji) = if hook.avatar.is_some() {
        (hook.avatar.clone(), None)
    } else if hook.emoji.is_some() {
        (None, hook.emoji.clone())
    } else if integration.avatar.is_some() {
        (integration.avatar.clone(), None)
    } else {
        (None, integration.emoji.clone())
    };
    NewMessage {
        id: None,
        rid: rid.to_string(),
        msg: hook.text.clone(),
        tmid: hook.tmid.clone(),
        alias: hook.alias.clone().or_else(|| integration.alias.clone()),
        emoji,
        avatar,
        attachments: hook.attachments.clone(),
        custom_fields: hook.custom_fields.clone(),
        // The integration's own alias and avatar were set by an admin; a payload's
        // need the posting user to hold `message-impersonate`, as in Rocket.Chat.
        alias_from_admin: hook.alias.is_none() && hook.avatar.is_none(),
        integration_id: Some(integration.id.clone()),
        ..NewMessage::default()
    }
}

fn check_kind(kind: Option<&str>, required: bool) -> ChatResult<()> {
    match kind {
        Some(WEBHOOK_INCOMING | WEBHOOK_OUTGOING) => Ok(()),
        None if !required => Ok(()),
        None => Err(ChatError::invalid(
            "must have required property 'type' (\"webhook-incoming\" or \"webhook-outgoing\")",
        )),
        // Rocket.Chat's `API.v1.failure('Invalid integration type.')`.
        Some(_) => Err(ChatError::invalid("Invalid integration type.")),
    }
}

/// `scriptEnabled` as kept: refused with a script to run, since Palaver runs none.
fn check_no_script(script_enabled: Option<bool>, script: Option<&str>) -> ChatResult<bool> {
    let enabled = script_enabled == Some(true);
    if enabled && script.is_some_and(|s| !s.trim().is_empty()) {
        return Err(ChatError::refused(
            "error-scripts-not-supported",
            "Palaver runs no integration scripts: leave the script empty (or set \
             scriptEnabled to false), and use an app (the apps engine) to transform requests",
        ));
    }
    Ok(enabled)
}

fn check_name(name: Option<String>) -> ChatResult<String> {
    let name = optional_text(name)
        .ok_or_else(|| ChatError::invalid("must have required property 'name'"))?;
    if name.chars().count() > MAX_NAME {
        return Err(ChatError::invalid(format!(
            "The name must be at most {MAX_NAME} characters"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_compared_exactly() {
        let t = new_token();
        assert_eq!(t.len(), TOKEN_LEN);
        assert_ne!(t, new_token());
        assert!(tokens_match(&t, &t.clone()));
        assert!(!tokens_match(&t[..47], &t));
        let mut other = t.clone().into_bytes();
        other[47] = if other[47] == b'a' { b'b' } else { b'a' };
        assert!(!tokens_match(&String::from_utf8(other).unwrap(), &t));
    }

    #[test]
    fn kinds_and_scripts() {
        assert!(check_kind(Some("webhook-incoming"), true).is_ok());
        assert!(check_kind(None, true).is_err());
        assert!(check_kind(None, false).is_ok());
        assert!(check_kind(Some("webhook-outgoing"), true).is_ok());
        assert!(check_kind(Some("webhook-other"), false).is_err());
        assert!(check_no_script(Some(true), Some("return {};")).is_err());
        assert!(!check_no_script(Some(false), Some("return {};")).unwrap());
        assert!(check_no_script(Some(true), Some("  ")).unwrap());
        assert!(check_no_script(Some(true), None).unwrap());
        assert!(!check_no_script(None, None).unwrap());
    }
}
