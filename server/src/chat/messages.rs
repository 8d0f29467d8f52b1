//! Messages: posting (the hot path), history, threads; edits, deletions and
//! reactions are in `message_edits`, system messages in `system_messages`.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::message_limits::Content;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{
    HistoryQuery, Listing, Message, Page, PostEffects, Room, StoreError, Ts, User, UserRef,
};

/// A message as a client submits it.
#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    /// Client-chosen id (idempotent retries); generated when absent.
    pub id: Option<String>,
    pub rid: String,
    pub msg: String,
    pub tmid: Option<String>,
    pub alias: Option<String>,
    pub emoji: Option<String>,
    pub avatar: Option<String>,
    pub attachments: Vec<serde_json::Value>,
    pub custom_fields: Option<serde_json::Value>,
    /// The alias and avatar were chosen by an admin (an incoming webhook's
    /// configuration), not by the sender: no `message-impersonate` needed.
    pub alias_from_admin: bool,
    /// Sent by this app (through its bot user): marked `bot: {i: <app id>}`.
    pub app_id: Option<String>,
    /// Posted by this integration (an incoming webhook's message, an outgoing
    /// webhook's reply): marked `bot: {i: <integration id>}`, as Rocket.Chat, which
    /// is also how an outgoing webhook recognises its own posts.
    pub integration_id: Option<String>,
    /// Uploaded files (`{_id, name, type, size, format}`); the first becomes `file`.
    pub files: Vec<serde_json::Value>,
    /// `groupable: false` for file messages, as Rocket.Chat.
    pub groupable: Option<bool>,
    /// The links the sender wants previews of (Rocket.Chat's `previewUrls`);
    /// `None`: all of them.
    pub preview_urls: Option<Vec<String>>,
}

/// Which group mentions a text makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct GroupMentions {
    all: bool,
    here: bool,
}

impl GroupMentions {
    fn any(self) -> bool {
        self.all || self.here
    }
}

/// `@name` mentions in a text: user names, and which of `@all`/`@here` appear.
pub(super) fn parse_mentions(text: &str) -> (Vec<String>, GroupMentions) {
    let mut names = Vec::new();
    let mut group = GroupMentions::default();
    for (i, _) in text.match_indices('@') {
        let preceded_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([{,;".contains(c));
        if !preceded_ok {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .collect();
        let name = name.trim_end_matches('.').to_string();
        match name.as_str() {
            "" => {}
            "all" => group.all = true,
            "here" => group.here = true,
            _ if !names.contains(&name) => names.push(name),
            _ => {}
        }
    }
    (names, group)
}

/// `:smile:` for `smile` or `:smile:`; refuses anything that is not an emoji name.
pub fn normalize_emoji(emoji: &str) -> ChatResult<String> {
    let name = emoji.trim().trim_matches(':');
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'));
    if ok {
        Ok(format!(":{name}:"))
    } else {
        Err(ChatError::refused(
            "error-not-allowed",
            format!("Invalid emoji {emoji:?}"),
        ))
    }
}

/// Refusal for an alias or avatar without `message-impersonate`.
fn impersonation_refused() -> ChatError {
    // Rocket.Chat's `sendMessage` throws a plain `Error('Not enough permission')`.
    ChatError::failure("error-action-not-allowed", "Not enough permission")
}

impl Chat {
    /// The checks of what `actor` chose to send, before anything is read or written:
    /// the message limits and `message-impersonate`. Normalizes empty fields away and
    /// the emoji to `:name:`.
    pub(crate) async fn check_content(&self, actor: &User, new: &mut NewMessage) -> ChatResult<()> {
        new.alias = new.alias.take().filter(|s| !s.is_empty());
        new.avatar = new.avatar.take().filter(|s| !s.is_empty());
        new.emoji = new.emoji.take().filter(|s| !s.is_empty());
        self.message_limits().check(Content::from(&*new))?;
        super::message_validation::validate_attachments(&new.attachments)?;
        // Rocket.Chat checks custom fields in its `sendMessage` method, which people's
        // clients call; apps and webhooks post through its function underneath, unchecked.
        let from_person = new.app_id.is_none() && new.integration_id.is_none();
        if let Some(fields) = new.custom_fields.as_ref().filter(|_| from_person) {
            let settings = self.settings();
            super::message_validation::validate_custom_fields(
                fields,
                settings.bool("Message_CustomFields_Enabled"),
                &settings.string("Message_CustomFields"),
            )?;
        }
        new.emoji = new.emoji.as_deref().map(normalize_emoji).transpose()?;
        if !new.alias_from_admin {
            self.check_impersonation(actor, new.alias.as_deref(), new.avatar.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Whether `actor` may show `alias`/`avatar` instead of their own name and face.
    async fn check_impersonation(
        &self,
        actor: &User,
        alias: Option<&str>,
        avatar: Option<&str>,
    ) -> ChatResult<()> {
        if (alias.is_some() || avatar.is_some())
            && !self
                .has_permission(actor, Perm::MESSAGE_IMPERSONATE, None)
                .await?
        {
            return Err(impersonation_refused());
        }
        Ok(())
    }

    /// Stores the parsed text with the message, as Rocket.Chat's `beforeSave`: `md`
    /// for its text, `descriptionMd` for its first attachment's description.
    pub(super) fn parse_message_text(&self, message: &mut Message) {
        message.md = self.parse_text(&message.msg);
        if let Some(attachment) = message
            .attachments
            .first_mut()
            .and_then(|a| a.as_object_mut())
        {
            let parsed = attachment
                .get("description")
                .and_then(|d| d.as_str())
                .and_then(|d| self.parse_text(d))
                .and_then(|tree| serde_json::to_value(tree).ok());
            match parsed {
                Some(tree) => {
                    attachment.insert("descriptionMd".into(), tree);
                }
                None => {
                    attachment.remove("descriptionMd");
                }
            }
        }
    }

    /// Validates, authorizes and commits a message, then publishes it. Only returns
    /// once the message is durable.
    pub async fn send_message(&self, actor: &User, new: NewMessage) -> ChatResult<(Room, Message)> {
        // Whoever may read a room may post to it, joined or not: Rocket.Chat's
        // `canSendMessage` asks `canAccessRoom`, so a bot posts to a public channel
        // without joining it first.
        let (room, _) = self.readable_room(actor, RoomRef::Id(&new.rid)).await?;
        Chat::check_not_archived(&room)?;
        self.check_may_post(
            actor,
            &room,
            ChatError::refused("error-action-not-allowed", "This room is read only"),
        )
        .await?;
        if new.msg.trim().is_empty() && new.attachments.is_empty() {
            return Err(ChatError::invalid(
                "The message must have text or attachments",
            ));
        }
        let mut new = new;
        self.check_content(actor, &mut new).await?;
        if let Some(id) = &new.id {
            if !ids::is_valid_client_id(id) {
                return Err(ChatError::invalid(
                    "The message _id must be 1 to 64 letters, digits, '-' or '_'",
                ));
            }
        }
        let thread_root = match &new.tmid {
            Some(tmid) => Some(self.thread_root(&room, tmid).await?),
            None => None,
        };
        let tmid = thread_root.as_ref().map(|root| root.id.clone());
        let (names, group) = parse_mentions(&new.msg);
        if group.any() {
            self.check_group_mentions(actor, &room, group).await?;
        }
        let group_mention = group.any();
        let mentions = self.mentioned_users(names).await?;
        let preview_urls = new.preview_urls;
        let mut attachments = new.attachments;
        self.quote_links(actor, &new.msg, &mut attachments).await?;
        let now = Ts::now();
        let message = Message {
            id: new.id.clone().unwrap_or_else(ids::new_id),
            rid: room.id.clone(),
            msg: new.msg,
            ts: now,
            u: actor.as_ref(),
            updated_at: now,
            t: None,
            edited_at: None,
            edited_by: None,
            reactions: Default::default(),
            tmid,
            tcount: None,
            tlm: None,
            replies: None,
            alias: new.alias,
            emoji: new.emoji,
            avatar: new.avatar,
            attachments,
            // Rocket.Chat's marker: `{i: <app or integration id>}` from an app or an
            // integration, `{}` from another bot.
            bot: match new.app_id.or(new.integration_id) {
                Some(id) => Some(serde_json::json!({ "i": id })),
                None => actor
                    .has_role(crate::store::roles::BOT)
                    .then(|| serde_json::json!({})),
            },
            mentions,
            custom_fields: new.custom_fields,
            groupable: new.groupable,
            file: new.files.first().cloned(),
            files: new.files,
            role: None,
            marks: Default::default(),
            discussion: Default::default(),
            md: None,
            urls: Vec::new(),
        };
        let message = match self.pre_send.get() {
            Some(hook) => {
                let changed = hook.pre_send(actor, &room, message.clone()).await?;
                self.revalidate(actor, &message, changed).await?
            }
            None => message,
        };
        // After the apps' hooks, as Rocket.Chat's `beforeSave`: what is stored
        // (and seen by everyone) is the masked text.
        let mut message = message;
        if let Some(clean) = self.censor(&message.msg) {
            message.msg = clean;
        }
        self.parse_message_text(&mut message);
        self.find_links(&mut message, preview_urls.as_deref());
        // No marker while notifications are off (`Troubleshoot_Disable_Notifications`).
        let notices = self
            .notices
            .get()
            .filter(|_| !self.settings().bool("Troubleshoot_Disable_Notifications"));
        let effects = PostEffects {
            mentioned_user_ids: message.mentions.iter().map(|m| m.id.clone()).collect(),
            group_mention,
            thread: thread_root.as_ref().map(|root| {
                super::thread_unread::reply_effects(&room, root, &message, group_mention)
            }),
            // Committed with the message: who is notified is worked out off this
            // request, from the queue, and survives a crash.
            queue: notices.map(|q| q.marker(&message)).into_iter().collect(),
        };
        let thread_parent = match self.store.insert_message(&message, &effects).await {
            Ok(parent) => parent,
            Err(StoreError::Conflict(_)) => {
                return self.existing_retry(actor, &room, &message).await
            }
            Err(e) => return Err(e.into()),
        };
        tracing::debug!(room_id = %room.id, user_id = %actor.id, message_id = %message.id, "message sent");
        if let Some(q) = notices {
            q.queued();
        }
        self.bus.publish(Event::MessageSent {
            room: room.clone(),
            message: message.clone(),
        });
        if let Some(thread) = &effects.thread {
            self.publish_thread_unread(&room.id, thread).await;
        }
        // Rocket.Chat streams the parent again with its new count.
        if let Some(parent) = thread_parent {
            self.bus.publish(Event::ThreadChanged {
                room: room.clone(),
                message: parent,
            });
        }
        if room.extra.prid.is_some() {
            self.refresh_discussion_activity(&room.id).await;
        }
        Ok((room, message))
    }

    /// A read-only room takes posts from those holding `post-readonly` and those
    /// unmuted there; a muted member posts nowhere (Rocket.Chat's
    /// `canSendMessage`). `read_only` is the refusal the caller's Rocket.Chat
    /// method gives for a read-only room.
    pub(crate) async fn check_may_post(
        &self,
        actor: &User,
        room: &Room,
        read_only: ChatError,
    ) -> ChatResult<()> {
        if room.ro
            && !room.is_unmuted(&actor.username)
            && !self
                .has_permission(actor, Perm::POST_READONLY, Some(&room.id))
                .await?
        {
            return Err(read_only);
        }
        if room.is_muted(&actor.username) {
            return Err(ChatError::refused(
                "error-user-muted",
                "You_have_been_muted",
            ));
        }
        Ok(())
    }

    /// The users named by `@name` mentions (names of no user are left out).
    pub(super) async fn mentioned_users(&self, names: Vec<String>) -> ChatResult<Vec<UserRef>> {
        let mut mentions = Vec::new();
        for name in names {
            if let Some(user) = self.store.user_by_username(&name).await? {
                mentions.push(UserRef {
                    id: user.id,
                    username: user.username,
                    name: Some(user.name),
                });
            }
        }
        Ok(mentions)
    }

    /// Rocket.Chat's rules for `@all` / `@here` (`MentionsServer`,
    /// `BeforeSavePreventMention`): refused in a room above `Message_MaxAll`
    /// members, and without `mention-all` / `mention-here` (global or in the room).
    /// Refused rather than sent without notifying, so the sender knows.
    async fn check_group_mentions(
        &self,
        actor: &User,
        room: &Room,
        group: GroupMentions,
    ) -> ChatResult<()> {
        let max_all = self.settings().int("Message_MaxAll");
        if max_all > 0 && room.users_count > max_all {
            tracing::debug!(room_id = %room.id, user_id = %actor.id, members = room.users_count, max_all, "group mention refused: room too large");
            return Err(ChatError::refused(
                "error-action-not-allowed",
                format!(
                    "Group mentions `@all` and `@here` have been disabled for rooms with more than {max_all} members."
                ),
            ));
        }
        for (used, perm, word) in [
            (group.all, Perm::MENTION_ALL, "all"),
            (group.here, Perm::MENTION_HERE, "here"),
        ] {
            if used && !self.has_permission(actor, perm, Some(&room.id)).await? {
                tracing::debug!(room_id = %room.id, user_id = %actor.id, permission = %perm, "group mention refused: no permission");
                return Err(ChatError::refused(
                    "error-action-not-allowed",
                    format!("Notify {word} in this room not allowed"),
                ));
            }
        }
        Ok(())
    }

    /// Checks a message a hook changed: the content may change, not who sent it
    /// where, and it must still be a message we would accept from the sender. A
    /// change that fails is refused, never dropped: the sender's original may be
    /// what the app meant to keep out (a redaction), so it is not sent instead.
    async fn revalidate(
        &self,
        sender: &User,
        original: &Message,
        changed: Message,
    ) -> ChatResult<Message> {
        if changed.id != original.id
            || changed.rid != original.rid
            || changed.u != original.u
            || changed.tmid != original.tmid
        {
            return Err(ChatError::refused(
                "error-app-prevented",
                "An app changed the message's identity, room, sender or thread",
            ));
        }
        if changed.msg.trim().is_empty() && changed.attachments.is_empty() {
            return Err(ChatError::refused(
                "error-app-prevented",
                "An app emptied the message",
            ));
        }
        self.message_limits().check(Content::from(&changed))?;
        // An app may keep the alias the message had, not give a person a new one.
        let alias = changed
            .alias
            .as_deref()
            .filter(|a| *a != original.alias.as_deref().unwrap_or(""));
        let avatar = changed
            .avatar
            .as_deref()
            .filter(|a| *a != original.avatar.as_deref().unwrap_or(""));
        self.check_impersonation(sender, alias, avatar).await?;
        Ok(changed)
    }

    /// A client retrying a post with the same `_id` gets the stored message back;
    /// any other reuse of an id is refused.
    async fn existing_retry(
        &self,
        actor: &User,
        room: &Room,
        attempted: &Message,
    ) -> ChatResult<(Room, Message)> {
        match self.store.message(&attempted.id).await? {
            Some(m) if m.u.id == actor.id && m.rid == room.id && m.msg == attempted.msg => {
                Ok((room.clone(), m))
            }
            _ => Err(ChatError::refused(
                "error-duplicate-message-id",
                "A message with this _id already exists",
            )),
        }
    }

    /// The message if `actor` may read its room.
    pub async fn get_message(&self, actor: &User, mid: &str) -> ChatResult<(Room, Message)> {
        let message = self
            .store
            .message(mid)
            .await?
            .ok_or_else(ChatError::message_not_found)?;
        let (room, _) = self
            .readable_room(actor, RoomRef::Id(&message.rid))
            .await
            .map_err(|_| ChatError::message_not_found())?;
        Ok((room, message))
    }

    /// A message of the room `rid` that `actor` may read.
    pub(super) async fn message_in(
        &self,
        actor: &User,
        rid: &str,
        mid: &str,
    ) -> ChatResult<(Room, Message)> {
        let (room, message) = self.get_message(actor, mid).await?;
        if message.rid != rid {
            return Err(ChatError::refused(
                "error-invalid-room",
                "The message is not in the given room",
            ));
        }
        Ok((room, message))
    }

    /// A readable room's history, newest first. The total is the room's maintained
    /// `msgs` counter (every message in the room, whatever the bounds), not a count
    /// of the range: Rocket.Chat's history answers carry no total, and counting would
    /// cost a scan of the room on every page.
    pub async fn history(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        query: &HistoryQuery,
    ) -> ChatResult<(Room, Listing<Message>)> {
        let (room, _) = self.readable_room(actor, r).await?;
        let items = self.store.history(&room.id, query).await?;
        let total = u64::try_from(room.msgs).unwrap_or(0);
        Ok((room, Listing { items, total }))
    }

    /// How many messages of a readable room `query`'s bounds select. Counts them:
    /// only for a range the caller needs the size of (unread messages).
    pub async fn count_history(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        query: &HistoryQuery,
    ) -> ChatResult<u64> {
        let (room, _) = self.readable_room(actor, r).await?;
        Ok(self.store.count_history(&room.id, query).await?)
    }

    /// A thread's replies, oldest first; the total is the parent's maintained `tcount`.
    pub async fn thread_messages(
        &self,
        actor: &User,
        tmid: &str,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        let (_, parent) = self.get_message(actor, tmid).await?;
        let items = self.store.thread_messages(&parent.id, page).await?;
        let total = u64::try_from(parent.tcount.unwrap_or(0)).unwrap_or(0);
        Ok(Listing { items, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mentions() {
        let (names, group) =
            parse_mentions("hi @alice and @bob.smith, also @alice. mail a@b.c @here");
        assert_eq!(names, vec!["alice", "bob.smith"]);
        assert_eq!(
            group,
            GroupMentions {
                all: false,
                here: true
            }
        );
        let (_, group) = parse_mentions("(@all) mail a@all.com");
        assert!(group.all && !group.here);
        let (names, group) = parse_mentions("no mentions here");
        assert!(names.is_empty() && !group.any());
    }

    #[test]
    fn normalizes_emoji() {
        assert_eq!(normalize_emoji("smile").unwrap(), ":smile:");
        assert_eq!(normalize_emoji(":+1:").unwrap(), ":+1:");
        assert!(normalize_emoji("<b>").is_err());
        assert!(normalize_emoji("::").is_err());
    }
}
