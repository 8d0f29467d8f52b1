//! Changing posted messages: editing (`chat.update`, `updateMessage`), deleting
//! (`chat.delete`, `deleteMessage`) and reactions (`chat.react`, `setReaction`), each
//! within Rocket.Chat's permissions and time windows.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::messages::{normalize_emoji, parse_mentions};
use super::permissions::Perm;
use super::Chat;
use crate::store::{Message, Room, Ts, User, UserRef};

impl Chat {
    pub async fn update_message(
        &self,
        actor: &User,
        rid: &str,
        mid: &str,
        text: &str,
    ) -> ChatResult<Message> {
        self.update_message_with(actor, rid, mid, text, None).await
    }

    /// Edits a message's text and, when given, its custom fields (checked against
    /// the workspace's custom fields settings, as on sending). An unchanged text
    /// without custom fields changes nothing.
    pub async fn update_message_with(
        &self,
        actor: &User,
        rid: &str,
        mid: &str,
        text: &str,
        custom_fields: Option<serde_json::Value>,
    ) -> ChatResult<Message> {
        let (room, mut message) = self.message_in(actor, rid, mid).await?;
        if message.t.is_some() {
            return Err(ChatError::not_allowed());
        }
        // Rocket.Chat: `edit-message` edits any message whatever the setting says;
        // otherwise only one's own, when the setting allows editing.
        let edit_any = self
            .has_permission(actor, Perm::EDIT_MESSAGE, Some(&room.id))
            .await?;
        let own = message.u.id == actor.id;
        let own_allowed = own && self.settings().bool("Message_AllowEditing");
        if !(edit_any || own_allowed) {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Message editing not allowed",
            ));
        }
        self.check_time_window(
            actor,
            &message,
            "Message_AllowEditing_BlockEditInMinutes",
            ChatError::refused(
                "error-message-editing-blocked",
                "Message editing is blocked",
            ),
        )
        .await?;
        if text.trim().is_empty() && message.attachments.is_empty() {
            return Err(ChatError::invalid(
                "The message must have text or attachments",
            ));
        }
        self.message_limits().check_text(text)?;
        if let Some(fields) = &custom_fields {
            let settings = self.settings();
            super::message_validation::validate_custom_fields(
                fields,
                settings.bool("Message_CustomFields_Enabled"),
                &settings.string("Message_CustomFields"),
            )?;
        } else if message.msg == text {
            // Rocket.Chat: nothing to change, and no `editedAt` for it.
            return Ok(message);
        }
        if custom_fields.is_some() {
            message.custom_fields = custom_fields;
        }
        // Rocket.Chat parses the mentions of the new text (its `beforeSave`); it
        // notifies nobody for an edit, and neither does Palaver.
        let (names, _) = parse_mentions(text);
        message.mentions = self.mentioned_users(names).await?;
        // Quotes follow the new text (Rocket.Chat drops the old ones first).
        message.attachments.retain(|a| !super::quotes::is_quote(a));
        self.quote_links(actor, text, &mut message.attachments)
            .await?;
        let now = Ts::now();
        message.msg = self.censor(text).unwrap_or_else(|| text.to_string());
        self.parse_message_text(&mut message);
        self.find_links(&mut message, None);
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

    /// Refuses with `blocked` once `message` is older than the minutes the setting
    /// `minutes_setting` allows (0: no limit), unless `actor` holds
    /// `bypass-time-limit-edit-and-delete`.
    async fn check_time_window(
        &self,
        actor: &User,
        message: &Message,
        minutes_setting: &str,
        blocked: ChatError,
    ) -> ChatResult<()> {
        let minutes = self.settings().int(minutes_setting);
        if minutes <= 0
            || self
                .has_permission(actor, Perm::BYPASS_TIME_LIMIT_EDIT_AND_DELETE, None)
                .await?
        {
            return Ok(());
        }
        if Ts::now().0 - message.ts.0 >= minutes * 60_000 {
            return Err(blocked);
        }
        Ok(())
    }

    pub async fn delete_message(&self, actor: &User, rid: &str, mid: &str) -> ChatResult<Message> {
        let (room, message) = self.message_in(actor, rid, mid).await?;
        // Rocket.Chat's `canDeleteMessage`: `force-delete-message` deletes anything;
        // otherwise `delete-message` (any) or `delete-own-message` (one's own), when
        // the setting allows deleting.
        let rid = Some(room.id.as_str());
        let force = self
            .has_permission(actor, Perm::FORCE_DELETE_MESSAGE, rid)
            .await?;
        if !force {
            let any = self
                .has_permission(actor, Perm::DELETE_MESSAGE, rid)
                .await?;
            let own = message.u.id == actor.id
                && self
                    .has_permission(actor, Perm::DELETE_OWN_MESSAGE, None)
                    .await?;
            if !any && !own {
                return Err(ChatError::refused(
                    "error-action-not-allowed",
                    "Not allowed",
                ));
            }
            if !self.settings().bool("Message_AllowDeleting") {
                return Err(ChatError::refused(
                    "error-action-not-allowed",
                    "Message deleting not allowed",
                ));
            }
        }
        self.check_time_window(
            actor,
            &message,
            "Message_AllowDeleting_BlockDeleteInMinutes",
            ChatError::refused(
                "error-message-deleting-blocked",
                "Message deleting is blocked",
            ),
        )
        .await?;
        if self.settings().bool("Message_ShowDeletedStatus") {
            // Rocket.Chat's "message removed" placeholder: the message stays, emptied.
            let mut removed = message.clone();
            removed.t = Some("rm".into());
            removed.msg = String::new();
            removed.attachments.clear();
            removed.file = None;
            removed.files.clear();
            removed.mentions.clear();
            removed.edited_at = Some(Ts::now());
            removed.edited_by = Some(actor.as_ref());
            removed.updated_at = Ts::now();
            self.store.update_message(&removed).await?;
            tracing::info!(room_id = %room.id, user_id = %actor.id, message_id = %mid, "message removed, placeholder kept");
            self.remove_message_files(mid).await;
            self.bus.publish(Event::MessageUpdated {
                room: room.clone(),
                message: removed,
            });
            self.after_message_deleted(&room, &message).await?;
            return Ok(message);
        }
        let deleted = self
            .store
            .delete_message_and_parent(mid)
            .await?
            .ok_or_else(ChatError::message_not_found)?;
        tracing::info!(room_id = %room.id, user_id = %actor.id, message_id = %mid, "message deleted");
        self.remove_message_files(mid).await;
        self.bus.publish(Event::MessageDeleted {
            room: room.clone(),
            message: message.clone(),
        });
        // A thread gone is nobody's unread thread (Rocket.Chat's deleteMessage).
        if message.tcount.unwrap_or(0) > 0 {
            self.forget_unread_thread(&room.id, &message.id).await?;
        }
        // The parent's count went down: streamed again, as when a reply is sent.
        if let Some(parent) = deleted.thread_parent {
            self.bus.publish(Event::ThreadChanged {
                room: room.clone(),
                message: parent,
            });
        }
        self.after_message_deleted(&room, &message).await?;
        Ok(message)
    }

    /// What deleting a message does to discussions (Rocket.Chat's
    /// `PropagateDiscussionMetadata` on delete): a discussion's activity is
    /// propagated again; a message linking to a discussion takes it along.
    async fn after_message_deleted(&self, room: &Room, message: &Message) -> ChatResult<()> {
        if room.extra.prid.is_some() {
            self.refresh_discussion_activity(&room.id).await;
        }
        if let Some(drid) = &message.discussion.drid {
            if let Some(discussion) = self.store.room_by_id(drid).await? {
                self.remove_room(&discussion).await?;
                tracing::info!(room_id = %drid, message_id = %message.id, "discussion deleted with its message");
            }
        }
        Ok(())
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
        Chat::check_not_archived(&room)?;
        if room.ro
            && !room.react_when_read_only
            && !self
                .has_room_permission(actor, Perm::POST_READONLY, &room)
                .await?
        {
            return Err(ChatError::refused(
                "error-not-allowed",
                "You can't send messages because the room is readonly.",
            ));
        }
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
            room: room.clone(),
            message: updated.clone(),
        });
        if react != has {
            self.bus.publish(Event::ReactionChanged {
                room,
                message_id: mid.to_string(),
                emoji,
                user: actor.clone(),
                added: react,
            });
        }
        Ok(updated)
    }
}
