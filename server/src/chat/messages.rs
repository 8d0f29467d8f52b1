//! Messages: posting (the hot path), editing, deleting, reactions, history, threads.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::rooms::{can_moderate, RoomRef};
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
}

/// `@name` mentions in a text: user names, and whether `@all`/`@here` appears.
fn parse_mentions(text: &str) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut group = false;
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
            "all" | "here" => group = true,
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

impl Chat {
    fn check_text(&self, text: &str) -> ChatResult<()> {
        if text.chars().count() > self.opts.max_message_len {
            return Err(ChatError::refused(
                "error-message-size-exceeded",
                format!(
                    "Message size exceeds the allowed {} characters",
                    self.opts.max_message_len
                ),
            ));
        }
        Ok(())
    }

    /// Validates, authorizes and commits a message, then publishes it. Only returns
    /// once the message is durable.
    pub async fn send_message(&self, actor: &User, new: NewMessage) -> ChatResult<(Room, Message)> {
        let (room, sub) = self.joined_room(actor, RoomRef::Id(&new.rid)).await?;
        if room.ro && !can_moderate(actor, Some(&sub)) {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "This room is read only",
            ));
        }
        if new.msg.trim().is_empty() && new.attachments.is_empty() {
            return Err(ChatError::invalid(
                "The message must have text or attachments",
            ));
        }
        self.check_text(&new.msg)?;
        if let Some(id) = &new.id {
            if !ids::is_valid_client_id(id) {
                return Err(ChatError::invalid(
                    "The message _id must be 1 to 64 letters, digits, '-' or '_'",
                ));
            }
        }
        let tmid = match &new.tmid {
            Some(tmid) => {
                let parent = self
                    .store
                    .message(tmid)
                    .await?
                    .filter(|p| p.rid == room.id)
                    .ok_or_else(|| {
                        ChatError::refused(
                            "error-invalid-message",
                            "Thread parent not found in this room",
                        )
                    })?;
                // Replies to a reply belong to the same thread.
                Some(parent.tmid.unwrap_or(parent.id))
            }
            None => None,
        };
        let (names, group_mention) = parse_mentions(&new.msg);
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
            alias: new.alias.filter(|s| !s.is_empty()),
            emoji: new.emoji.filter(|s| !s.is_empty()),
            avatar: new.avatar.filter(|s| !s.is_empty()),
            attachments: new.attachments,
            bot: actor
                .has_role(crate::store::roles::BOT)
                .then(|| serde_json::json!({})),
            mentions,
            custom_fields: new.custom_fields,
            groupable: None,
        };
        let message = match self.pre_send.get() {
            Some(hook) => {
                let changed = hook.pre_send(actor, &room, message.clone()).await?;
                self.revalidate(&message, changed)?
            }
            None => message,
        };
        let effects = PostEffects {
            mentioned_user_ids: message.mentions.iter().map(|m| m.id.clone()).collect(),
            group_mention,
        };
        let thread_parent = match self.store.insert_message(&message, &effects).await {
            Ok(parent) => parent,
            Err(StoreError::Conflict(_)) => {
                return self.existing_retry(actor, &room, &message).await
            }
            Err(e) => return Err(e.into()),
        };
        tracing::debug!(room_id = %room.id, user_id = %actor.id, message_id = %message.id, "message sent");
        self.bus.publish(Event::MessageSent {
            room: room.clone(),
            message: message.clone(),
        });
        // Rocket.Chat streams the parent again with its new count.
        if let Some(parent) = thread_parent {
            self.bus.publish(Event::ThreadChanged {
                room: room.clone(),
                message: parent,
            });
        }
        Ok((room, message))
    }

    /// Checks a message a hook changed: the content may change, not who sent it
    /// where, and it must still be a message we would accept.
    fn revalidate(&self, original: &Message, changed: Message) -> ChatResult<Message> {
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
        self.check_text(&changed.msg)?;
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

    /// Posts a system message (`uj`, `ul`, `au`, `ru`, ...) in the room.
    pub(crate) async fn post_system_message(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
    ) -> ChatResult<Message> {
        let now = Ts::now();
        let message = Message {
            id: ids::new_id(),
            rid: room.id.clone(),
            msg: msg.to_string(),
            ts: now,
            u: actor.as_ref(),
            updated_at: now,
            t: Some(t.to_string()),
            edited_at: None,
            edited_by: None,
            reactions: Default::default(),
            tmid: None,
            tcount: None,
            tlm: None,
            replies: None,
            alias: None,
            emoji: None,
            avatar: None,
            attachments: Vec::new(),
            bot: None,
            mentions: Vec::new(),
            custom_fields: None,
            groupable: Some(false),
        };
        self.store
            .insert_message(&message, &PostEffects::default())
            .await?;
        self.bus.publish(Event::MessageSent {
            room: room.clone(),
            message: message.clone(),
        });
        Ok(message)
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

    /// A message `actor` may change: their own, or any as an admin.
    async fn own_message(&self, actor: &User, rid: &str, mid: &str) -> ChatResult<(Room, Message)> {
        let (room, message) = self.get_message(actor, mid).await?;
        if message.rid != rid {
            return Err(ChatError::refused(
                "error-invalid-room",
                "The message is not in the given room",
            ));
        }
        if message.u.id != actor.id && !actor.is_admin() {
            return Err(ChatError::not_allowed());
        }
        Ok((room, message))
    }

    pub async fn update_message(
        &self,
        actor: &User,
        rid: &str,
        mid: &str,
        text: &str,
    ) -> ChatResult<Message> {
        let (room, mut message) = self.own_message(actor, rid, mid).await?;
        if message.t.is_some() {
            return Err(ChatError::not_allowed());
        }
        if text.trim().is_empty() && message.attachments.is_empty() {
            return Err(ChatError::invalid(
                "The message must have text or attachments",
            ));
        }
        self.check_text(text)?;
        let now = Ts::now();
        message.msg = text.to_string();
        message.edited_at = Some(now);
        message.edited_by = Some(UserRef {
            id: actor.id.clone(),
            username: actor.username.clone(),
            name: None,
        });
        message.updated_at = now;
        if !self.store.update_message(&message).await? {
            return Err(ChatError::message_not_found());
        }
        let message = self
            .store
            .message(mid)
            .await?
            .ok_or_else(ChatError::message_not_found)?;
        tracing::debug!(room_id = %room.id, user_id = %actor.id, message_id = %mid, "message edited");
        self.bus.publish(Event::MessageUpdated {
            room,
            message: message.clone(),
        });
        Ok(message)
    }

    pub async fn delete_message(&self, actor: &User, rid: &str, mid: &str) -> ChatResult<Message> {
        let (room, message) = self.own_message(actor, rid, mid).await?;
        let deleted = self
            .store
            .delete_message_and_parent(mid)
            .await?
            .ok_or_else(ChatError::message_not_found)?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, message_id = %mid, "message deleted");
        self.bus.publish(Event::MessageDeleted {
            room: room.clone(),
            message: message.clone(),
        });
        // The parent's count went down: streamed again, as when a reply is sent.
        if let Some(parent) = deleted.thread_parent {
            self.bus.publish(Event::ThreadChanged {
                room,
                message: parent,
            });
        }
        Ok(message)
    }

    /// Adds, removes (`Some(false)`) or toggles (`None`) the actor's reaction.
    pub async fn react(
        &self,
        actor: &User,
        mid: &str,
        emoji: &str,
        should_react: Option<bool>,
    ) -> ChatResult<Message> {
        let emoji = normalize_emoji(emoji)?;
        let (room, message) = self.get_message(actor, mid).await?;
        let has = message
            .reactions
            .get(&emoji)
            .is_some_and(|r| r.usernames.contains(&actor.username));
        let react = should_react.unwrap_or(!has);
        let updated = self
            .store
            .set_reaction(mid, &emoji, &actor.username, react, Ts::now())
            .await?
            .ok_or_else(ChatError::message_not_found)?;
        self.bus.publish(Event::MessageUpdated {
            room,
            message: updated.clone(),
        });
        Ok(updated)
    }

    /// A readable room's history, newest first.
    pub async fn history(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        query: &HistoryQuery,
    ) -> ChatResult<(Room, Listing<Message>)> {
        let (room, _) = self.readable_room(actor, r).await?;
        let messages = self.store.history(&room.id, query).await?;
        Ok((room, messages))
    }

    /// A thread's replies, oldest first.
    pub async fn thread_messages(
        &self,
        actor: &User,
        tmid: &str,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        let (_, parent) = self.get_message(actor, tmid).await?;
        Ok(self.store.thread_messages(&parent.id, page).await?)
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
        assert!(group);
        let (names, group) = parse_mentions("no mentions here");
        assert!(names.is_empty() && !group);
    }

    #[test]
    fn normalizes_emoji() {
        assert_eq!(normalize_emoji("smile").unwrap(), ":smile:");
        assert_eq!(normalize_emoji(":+1:").unwrap(), ":+1:");
        assert!(normalize_emoji("<b>").is_err());
        assert!(normalize_emoji("::").is_err());
    }
}
