//! Discussions, as Rocket.Chat has them: a room of its own (`prid` naming the
//! parent room, a generated `name`, the title as `fname`) whose creator owns it,
//! announced in the parent by a `discussion-created` message that links to it
//! (`drid`) and follows its activity (`dcount`, `dlm`). Deleting the parent
//! deletes its discussions; deleting the linking message deletes the discussion.

use std::collections::BTreeSet;

use serde_json::json;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::messages::NewMessage;
use super::permissions::Perm;
use super::rooms::{member_subscription, RoomRef};
use super::Chat;
use crate::store::{
    roles, Listing, Message, MessageFilter, Page, Room, RoomType, Ts, User, UserRef,
};

/// What `rooms.createDiscussion` / the `createDiscussion` method take.
#[derive(Clone, Debug, Default)]
pub struct NewDiscussion {
    /// The parent room; may be left out when `pmid` is given.
    pub prid: Option<String>,
    /// The message the discussion is about (quoted in the parent's announcement;
    /// its author is invited).
    pub pmid: Option<String>,
    /// The discussion's title (`fname`).
    pub t_name: String,
    /// A first message posted in the discussion by its creator.
    pub reply: Option<String>,
    /// Usernames to invite besides the creator.
    pub users: Vec<String>,
    pub topic: Option<String>,
    /// End-to-end encrypted (refused together with a `reply`, as Rocket.Chat).
    pub encrypted: Option<bool>,
}

fn not_allowed() -> ChatError {
    ChatError::refused(
        "error-action-not-allowed",
        "You are not allowed to create a discussion",
    )
}

fn invalid_arguments(message: &str) -> ChatError {
    ChatError::refused("error-invalid-arguments", message.to_string())
}

/// The quote of the parent message a discussion starts from (Rocket.Chat's
/// `attachMessage`).
fn quote(message: &Message, parent: &Room) -> serde_json::Value {
    let link_base = match parent.t {
        RoomType::Group => "group",
        RoomType::Direct => "direct",
        RoomType::Channel => "channel",
    };
    json!({
        "text": message.msg,
        "author_name": message.alias.clone().unwrap_or_else(|| message.u.username.clone()),
        "author_icon": format!("/avatar/{}", message.u.username),
        "message_link": format!(
            "/{link_base}/{}?msg={}",
            parent.name.as_deref().unwrap_or(&parent.id),
            message.id
        ),
        "attachments": message.attachments,
        "ts": crate::wire::iso(message.ts.0),
    })
}

impl Chat {
    /// Creates a discussion (Rocket.Chat's `createDiscussion`): checks the setting
    /// and permissions, then that the creator may post in the parent room.
    pub async fn create_discussion(&self, actor: &User, new: NewDiscussion) -> ChatResult<Room> {
        if !self.settings().bool("Discussion_enabled") {
            return Err(not_allowed());
        }
        let scope = new.prid.as_deref();
        if !self
            .has_permission(actor, Perm::START_DISCUSSION, scope)
            .await?
            && !self
                .has_permission(actor, Perm::START_DISCUSSION_OTHER_USER, scope)
                .await?
        {
            return Err(not_allowed());
        }
        let mut prid = new.prid.clone().filter(|p| !p.is_empty());
        let message = match new.pmid.as_deref().filter(|p| !p.is_empty()) {
            Some(pmid) => {
                let message = self.store.message(pmid).await?.ok_or_else(|| {
                    ChatError::refused("error-invalid-message", "Invalid message")
                })?;
                match &prid {
                    Some(prid) => {
                        // A message of a discussion belongs to the discussion's parent.
                        let of = self.store.room_by_id(&message.rid).await?;
                        let root = of.map(|r| r.extra.prid.clone().unwrap_or(r.id));
                        if root.as_deref() != Some(prid.as_str()) {
                            return Err(invalid_arguments(
                                "Root message room ID does not match parent room ID ",
                            ));
                        }
                    }
                    None => prid = Some(message.rid.clone()),
                }
                Some(message)
            }
            None => None,
        };
        let prid = prid.ok_or_else(|| invalid_arguments("Missing parent room ID"))?;
        let parent = self.parent_for_discussion(actor, &prid).await?;
        if parent.extra.prid.is_some() {
            return Err(ChatError::refused(
                "error-nested-discussion",
                "Cannot create nested discussions",
            ));
        }
        if new.encrypted == Some(true) && new.reply.as_deref().is_some_and(|r| !r.is_empty()) {
            return Err(invalid_arguments(
                "Encrypted discussions must not receive an initial reply.",
            ));
        }
        // The quoted message's author is invited, then whoever was named.
        let mut names: Vec<&str> = message.iter().map(|m| m.u.username.as_str()).collect();
        names.extend(new.users.iter().map(|u| u.trim().trim_start_matches('@')));
        let mut seen = BTreeSet::from([actor.id.clone()]);
        let mut members = Vec::new();
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            // Unknown names are skipped, as Rocket.Chat's `createRoom` does.
            if let Some(user) = self.store.user_by_username(name).await? {
                if seen.insert(user.id.clone()) {
                    members.push(user);
                }
            }
        }
        let discussion = self
            .insert_discussion_room(actor, &parent, &new, message.as_ref(), &members)
            .await?;
        let (announce_in, attachments) = match &message {
            Some(m) => {
                let room = self.room(RoomRef::Id(&m.rid)).await?;
                let attachments = vec![quote(m, &parent)];
                (room, attachments)
            }
            None => (parent.clone(), Vec::new()),
        };
        self.post_discussion_created(&announce_in, actor, &discussion, &new.t_name, attachments)
            .await?;
        if let Some(reply) = new.reply.filter(|r| !r.trim().is_empty()) {
            self.send_message(
                actor,
                NewMessage {
                    rid: discussion.id.clone(),
                    msg: reply,
                    ..Default::default()
                },
            )
            .await?;
        }
        // As stored after the reply (its `msgs`, `lastMessage`).
        self.room(RoomRef::Id(&discussion.id)).await
    }

    /// The parent room if `actor` may post there (Rocket.Chat's
    /// `canSendMessage`, whose error names become the error types).
    async fn parent_for_discussion(&self, actor: &User, prid: &str) -> ChatResult<Room> {
        let Some(room) = self.store.room_by_id(prid).await? else {
            return Err(ChatError::refused(
                "error-invalid-room",
                "error-invalid-room",
            ));
        };
        let member = self
            .store
            .subscription(&room.id, &actor.id)
            .await?
            .is_some();
        let can_view = match room.t {
            RoomType::Channel => {
                member || self.has_permission(actor, Perm::VIEW_C_ROOM, None).await?
            }
            _ => member,
        };
        if !can_view {
            return Err(ChatError::refused("error-not-allowed", "error-not-allowed"));
        }
        self.check_may_post(
            actor,
            &room,
            ChatError::refused(
                "error-not-allowed",
                "You can't send messages because the room is readonly.",
            ),
        )
        .await?;
        Ok(room)
    }

    /// A discussion of a channel is a channel, unless the channel is in a private
    /// team; of a group or a DM, a group (Rocket.Chat's `getDiscussionType`).
    async fn discussion_type(&self, parent: &Room) -> ChatResult<RoomType> {
        if parent.t != RoomType::Channel {
            return Ok(RoomType::Group);
        }
        if let Some(team_id) = &parent.extra.team_id {
            let main = self.store.team_main_room(team_id).await?;
            if main.is_some_and(|m| m.t == RoomType::Group) {
                return Ok(RoomType::Group);
            }
        }
        Ok(RoomType::Channel)
    }

    async fn insert_discussion_room(
        &self,
        actor: &User,
        parent: &Room,
        new: &NewDiscussion,
        message: Option<&Message>,
        members: &[User],
    ) -> ChatResult<Room> {
        let kind = self.discussion_type(parent).await?;
        let now = Ts::now();
        let topic = new
            .topic
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| parent.name.clone());
        let room = Room {
            id: ids::new_id(),
            t: kind,
            name: Some(ids::new_id()),
            fname: Some(new.t_name.clone()),
            u: Some(UserRef {
                id: actor.id.clone(),
                username: actor.username.clone(),
                name: None,
            }),
            users_count: 1 + members.len() as i64,
            msgs: 0,
            lm: None,
            last_message: None,
            ro: false,
            default: false,
            topic,
            description: message.map(|m| m.msg.clone()).filter(|d| !d.is_empty()),
            announcement: None,
            archived: false,
            react_when_read_only: false,
            avatar_etag: None,
            avatar_file_id: None,
            custom_fields: None,
            join_code: None,
            join_code_required: false,
            usernames: None,
            uids: None,
            ts: now,
            updated_at: now,
            extra: crate::store::RoomExtra {
                prid: Some(parent.id.clone()),
                ..Default::default()
            },
        };
        let mut owner = member_subscription(&room, actor);
        owner.roles = vec![roles::OWNER.into()];
        let mut subs = vec![owner];
        subs.extend(members.iter().map(|m| member_subscription(&room, m)));
        self.store.create_room(&room, &subs).await?;
        tracing::info!(room_id = %room.id, parent_id = %parent.id, user_id = %actor.id, "discussion created");
        self.bus.publish(Event::RoomCreated { room: room.clone() });
        for sub in subs {
            self.bus.publish(Event::SubscriptionChanged {
                user_id: sub.u.id.clone(),
                subscription: sub,
            });
        }
        Ok(room)
    }

    /// The parent's `discussion-created` message: the title as text, linking to the
    /// discussion (`drid`), quoting the message it started from.
    async fn post_discussion_created(
        &self,
        room: &Room,
        actor: &User,
        discussion: &Room,
        title: &str,
        attachments: Vec<serde_json::Value>,
    ) -> ChatResult<Message> {
        let link = crate::store::DiscussionLink {
            drid: Some(discussion.id.clone()),
            dcount: Some(0),
            dlm: None,
        };
        self.insert_system_linked(room, actor, "discussion-created", title, attachments, link)
            .await
    }

    /// After a message is posted in or deleted from discussion `room`: the
    /// parent's linking message takes the discussion's count and last message time
    /// (Rocket.Chat's `PropagateDiscussionMetadata`). The change is already
    /// committed when this runs, so a failure here is logged, not returned.
    pub(crate) async fn refresh_discussion_activity(&self, discussion_id: &str) {
        let result = async {
            let Some(room) = self.store.room_by_id(discussion_id).await? else {
                return Ok(());
            };
            let linking = self
                .store
                .refresh_discussion(&room.id, Some((room.msgs, room.lm)), Ts::now())
                .await?;
            self.publish_linking_message(linking).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(room_id = %discussion_id, error = %e, "discussion activity not propagated");
        }
    }

    async fn publish_linking_message(&self, linking: Option<Message>) -> ChatResult<()> {
        if let Some(message) = linking {
            if let Some(room) = self.store.room_by_id(&message.rid).await? {
                self.bus.publish(Event::ThreadChanged { room, message });
            }
        }
        Ok(())
    }

    /// What deleting room `room` does to discussions (Rocket.Chat's
    /// `DeleteDiscussionChain` and `CleanDiscussionMessage`): its own discussions
    /// are deleted, and a message linking to it (it was a discussion) loses the link.
    pub(crate) async fn after_room_deleted(&self, room: &Room) -> ChatResult<()> {
        if room.extra.prid.is_some() {
            let linking = self
                .store
                .refresh_discussion(&room.id, None, Ts::now())
                .await?;
            self.publish_linking_message(linking).await?;
            return Ok(());
        }
        // Discussions do not nest: one level to remove.
        loop {
            let page = self.store.discussions(&room.id, Page::new(0, 100)).await?;
            if page.items.is_empty() {
                return Ok(());
            }
            for discussion in page.items {
                self.remove_room(&discussion).await?;
            }
        }
    }

    /// `rooms.getDiscussions`: the discussions of a room the user may read, by
    /// title.
    pub async fn room_discussions(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        let (room, _) = match self.readable_room(actor, r).await {
            Err(ChatError::Refused { .. }) => {
                return Err(ChatError::refused("not-allowed", "Not Allowed"));
            }
            other => other?,
        };
        Ok(self.store.discussions(&room.id, page).await?)
    }

    /// `chat.getDiscussions`: a readable room's messages linking to discussions,
    /// newest first, optionally those whose text holds `text`.
    pub async fn discussion_messages(
        &self,
        actor: &User,
        rid: &str,
        text: Option<String>,
        page: Page,
    ) -> ChatResult<Listing<Message>> {
        // Rocket.Chat throws a plain `Error('error-not-allowed')` here: the bare
        // text, no error type.
        let (room, _) = match self.readable_room(actor, RoomRef::Id(rid)).await {
            Err(ChatError::Refused { .. }) => {
                return Err(ChatError::invalid("error-not-allowed"));
            }
            other => other?,
        };
        Ok(self
            .store
            .room_messages(&room.id, &MessageFilter::Discussions { text }, page)
            .await?)
    }
}
