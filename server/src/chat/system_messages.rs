//! System messages (`uj`, `ul`, `au`, `ru`, role changes, …): what Rocket.Chat
//! posts in a room when its membership or settings change.

use super::error::ChatResult;
use super::events::Event;
use super::ids;
use super::Chat;
use crate::store::{DiscussionLink, Message, PostEffects, Room, Ts, User};

impl Chat {
    /// Posts a system message (`uj`, `ul`, `au`, `ru`, ...) in the room.
    pub(crate) async fn post_system_message(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
    ) -> ChatResult<Message> {
        self.post_role_message(room, actor, t, msg, None).await
    }

    /// A system message, with the `role` a room-role change is about.
    pub(crate) async fn post_role_message(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
        role: Option<&str>,
    ) -> ChatResult<Message> {
        self.insert_system(room, actor, t, msg, role, Vec::new())
            .await
    }

    /// A system message carrying attachments (`message_pinned` quotes the message).
    pub(crate) async fn post_system_with_attachments(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
        attachments: Vec<serde_json::Value>,
    ) -> ChatResult<Message> {
        self.insert_system(room, actor, t, msg, None, attachments)
            .await
    }

    /// A system message linking to a discussion (`discussion-created`).
    pub(crate) async fn insert_system_linked(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
        attachments: Vec<serde_json::Value>,
        link: DiscussionLink,
    ) -> ChatResult<Message> {
        self.insert_system_with(room, actor, t, msg, None, attachments, link)
            .await
    }

    async fn insert_system(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
        role: Option<&str>,
        attachments: Vec<serde_json::Value>,
    ) -> ChatResult<Message> {
        self.insert_system_with(room, actor, t, msg, role, attachments, Default::default())
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_system_with(
        &self,
        room: &Room,
        actor: &User,
        t: &str,
        msg: &str,
        role: Option<&str>,
        attachments: Vec<serde_json::Value>,
        discussion: DiscussionLink,
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
            attachments,
            bot: None,
            mentions: Vec::new(),
            custom_fields: None,
            groupable: Some(false),
            file: None,
            files: Vec::new(),
            role: role.map(str::to_string),
            marks: Default::default(),
            discussion,
            // Rocket.Chat parses only what people write.
            md: None,
            urls: Vec::new(),
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
}
