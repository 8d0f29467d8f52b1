//! A member's own view of a room, as Rocket.Chat keeps it on the subscription:
//! shown or hidden (`open`), favourite (`f`), marked unread; the room's counters as
//! one member sees them; and bulk membership (`channels.addAll`).

use serde::Serialize;

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::{HistoryQuery, Page, Room, RoomType, Subscription, SubscriptionPatch, Ts, User};

/// `channels|groups|im.counters`, as Rocket.Chat answers them: unread figures only
/// for a member who has the room open; room figures for members and admins.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomCounters {
    pub joined: bool,
    pub members: Option<i64>,
    pub unreads: Option<u64>,
    pub unreads_from: Option<Ts>,
    pub msgs: Option<i64>,
    pub latest: Option<Ts>,
    pub user_mentions: Option<i64>,
}

impl Chat {
    /// `user_id`'s subscription to the room, if any (no access check).
    pub async fn subscription_of(
        &self,
        rid: &str,
        user_id: &str,
    ) -> ChatResult<Option<Subscription>> {
        Ok(self.store.subscription(rid, user_id).await?)
    }

    async fn patch_own_subscription(
        &self,
        actor: &User,
        rid: &str,
        patch: SubscriptionPatch,
    ) -> ChatResult<Subscription> {
        self.store
            .patch_subscriptions(rid, Some(&actor.id), &patch)
            .await?;
        let sub = self
            .store
            .subscription(rid, &actor.id)
            .await?
            .ok_or_else(|| {
                ChatError::refused("error-invalid-subscription", "Invalid subscription")
            })?;
        self.publish_subscription(sub.clone());
        Ok(sub)
    }

    /// Shows (`open`) or hides the room in the member's sidebar.
    pub async fn set_room_open(&self, actor: &User, rid: &str, open: bool) -> ChatResult<()> {
        self.patch_own_subscription(
            actor,
            rid,
            SubscriptionPatch {
                open: Some(open),
                ..Default::default()
            },
        )
        .await
        .map(drop)
    }

    /// Marks the room a favourite of the member, or not.
    pub async fn set_favorite(&self, actor: &User, rid: &str, favorite: bool) -> ChatResult<()> {
        if self.store.subscription(rid, &actor.id).await?.is_none() {
            return Err(ChatError::refused(
                "error-invalid-subscription",
                "You must be part of a room to favorite it",
            ));
        }
        self.patch_own_subscription(
            actor,
            rid,
            SubscriptionPatch {
                f: Some(favorite),
                ..Default::default()
            },
        )
        .await
        .map(drop)
    }

    /// Marks messages unread for the member (`subscriptions.unread`): from
    /// `first_unread` (a message id) on, or else the room's last message.
    pub async fn mark_unread(
        &self,
        actor: &User,
        first_unread: Option<&str>,
        rid: Option<&str>,
    ) -> ChatResult<()> {
        let not_allowed = || ChatError::refused("error-action-not-allowed", "Not allowed");
        let (rid, from) = match (rid, first_unread) {
            (Some(rid), _) => {
                let (room, _) = self.joined_room(actor, RoomRef::Id(rid)).await?;
                let last = self
                    .store
                    .history(&room.id, &history_window(None, None, 1))
                    .await?;
                let Some(last) = last.into_iter().next() else {
                    return Err(ChatError::refused(
                        "error-no-message-for-unread",
                        "There are no messages to mark unread",
                    ));
                };
                (room.id, last.ts)
            }
            (None, Some(mid)) => {
                let message = self.store.message(mid).await?.ok_or_else(not_allowed)?;
                if message.u.id == actor.id {
                    return Err(not_allowed());
                }
                let sub = self
                    .store
                    .subscription(&message.rid, &actor.id)
                    .await?
                    .filter(|s| s.ls.is_some())
                    .ok_or_else(|| {
                        ChatError::refused("error-subscription-not-found", "Subscription not found")
                    })?;
                if sub.ls.is_some_and(|ls| message.ts >= ls) {
                    return Ok(());
                }
                (message.rid, message.ts)
            }
            (None, None) => return Err(not_allowed()),
        };
        // Proportional to the messages marked unread, as in Rocket.Chat.
        let unread = self
            .store
            .count_history(&rid, &history_window(Some(from), None, 0))
            .await? as i64;
        self.patch_own_subscription(
            actor,
            &rid,
            SubscriptionPatch {
                open: Some(true),
                alert: Some(true),
                ls: Some(from),
                unread: Some(unread),
                ..Default::default()
            },
        )
        .await
        .map(drop)
    }

    /// The room's counters as `user_id` (default: the actor) sees them; another
    /// user's only for room administrators.
    pub async fn room_counters(
        &self,
        actor: &User,
        room: &Room,
        user_id: Option<&str>,
    ) -> ChatResult<RoomCounters> {
        let admin = self
            .has_room_permission(actor, Perm::VIEW_ROOM_ADMINISTRATION, room)
            .await?;
        let uid = match user_id {
            Some(uid) if !admin && uid != actor.id => return Err(ChatError::not_allowed()),
            Some(uid) => uid,
            None => actor.id.as_str(),
        };
        let sub = self.store.subscription(&room.id, uid).await?;
        let latest = room.lm.unwrap_or(room.updated_at);
        let mut counters = RoomCounters {
            joined: false,
            members: None,
            unreads: None,
            unreads_from: None,
            msgs: None,
            latest: None,
            user_mentions: None,
        };
        let open_sub = sub.filter(|s| s.open);
        if let Some(sub) = open_sub.as_ref().filter(|_| room.t == RoomType::Direct) {
            // DMs: the subscription's own count, once the member has read something.
            if let Some(ls) = sub.ls.filter(|_| room.msgs > 0) {
                counters.unreads = Some(sub.unread.max(0) as u64);
                counters.unreads_from = Some(ls);
            }
            counters.user_mentions = Some(sub.user_mentions);
            counters.joined = true;
        } else if let Some(sub) = open_sub {
            let since = sub.ls.unwrap_or(sub.ts);
            // Proportional to the member's unread messages, as in Rocket.Chat.
            counters.unreads = Some(
                self.store
                    .count_history(&room.id, &history_window(Some(since), Some(latest), 0))
                    .await?,
            );
            counters.unreads_from = Some(since);
            counters.user_mentions = Some(sub.user_mentions);
            counters.joined = true;
        }
        if admin || counters.joined {
            counters.msgs = Some(room.msgs);
            counters.latest = Some(latest);
            counters.members = Some(room.users_count);
        }
        Ok(counters)
    }

    /// Adds every user (active ones only if asked) to a channel (`add-all-to-room`).
    pub async fn add_all_users(
        &self,
        actor: &User,
        rid: &str,
        active_only: bool,
    ) -> ChatResult<Room> {
        let room = self.room(RoomRef::Id(rid)).await?;
        if !self
            .has_room_permission(actor, Perm::ADD_ALL_TO_ROOM, &room)
            .await?
        {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        Chat::check_not_archived(&room)?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        // Rocket.Chat's `API_User_Limit` (it counts active users; this counts all).
        let limit = u64::try_from(self.settings().int("API_User_Limit")).unwrap_or(0);
        if self.store.count_users().await? > limit {
            return Err(ChatError::refused(
                "error-user-limit-exceeded",
                "User Limit Exceeded",
            ));
        }
        const BATCH: u64 = 500;
        let mut offset = 0;
        loop {
            let users = self
                .store
                .list_users(
                    None,
                    crate::store::Sort {
                        key: crate::store::SortKey::Ts,
                        dir: crate::store::Direction::Asc,
                    },
                    Page::new(offset, BATCH),
                )
                .await?;
            let n = users.items.len() as u64;
            for user in users.items {
                if active_only && !user.active {
                    continue;
                }
                self.add_member(&user, &room, &user, "uj").await?;
            }
            if n < BATCH {
                break;
            }
            offset += n;
        }
        let room = self.room(RoomRef::Id(rid)).await?;
        tracing::info!(room_id = %rid, user_id = %actor.id, "every user added to the room");
        Ok(room)
    }
}

/// A history query that only counts (count 0) or takes the newest `count`, between
/// `oldest` and `latest` inclusive.
fn history_window(oldest: Option<Ts>, latest: Option<Ts>, count: u64) -> HistoryQuery {
    HistoryQuery {
        latest,
        oldest,
        inclusive: true,
        offset: 0,
        count,
        exclude_thread_replies: false,
    }
}

impl Chat {
    /// After `user` changed username or name: the names of their direct
    /// conversations as the other members see them (Rocket.Chat's
    /// `updateGroupDMsName` and its one-to-one counterpart): a one-to-one DM is
    /// named after the other member; a group DM after the other members sorted by
    /// name, usernames joined with `,` and names with `, `. Work: the user's
    /// direct conversations and their members.
    pub(crate) async fn refresh_direct_names(&self, user: &User) -> ChatResult<()> {
        let rids: Vec<String> = self
            .store
            .user_subscriptions(&user.id, None)
            .await?
            .into_iter()
            .filter(|s| s.t == RoomType::Direct)
            .map(|s| s.rid)
            .collect();
        if rids.is_empty() {
            return Ok(());
        }
        let rooms = self.store.rooms_by_ids(&rids).await?;
        let mut people: std::collections::HashMap<String, User> = Default::default();
        people.insert(user.id.clone(), user.clone());
        for room in &rooms {
            for uid in room.uids.iter().flatten() {
                if !people.contains_key(uid) {
                    if let Some(found) = self.store.user_by_id(uid).await? {
                        people.insert(uid.clone(), found);
                    }
                }
            }
        }
        let shown = |u: &User| {
            if u.name.is_empty() {
                u.username.clone()
            } else {
                u.name.clone()
            }
        };
        for room in rooms {
            let mut members: Vec<&User> = room
                .uids
                .iter()
                .flatten()
                .filter_map(|uid| people.get(uid))
                .collect();
            members.sort_by_key(|u| shown(u).to_lowercase());
            for member in &members {
                let others: Vec<&&User> = members.iter().filter(|o| o.id != member.id).collect();
                let (name, fname) = match others.as_slice() {
                    // A DM with oneself is named after oneself.
                    [] => (member.username.clone(), shown(member)),
                    [one] => (one.username.clone(), shown(one)),
                    many => (
                        many.iter()
                            .map(|o| o.username.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        many.iter().map(|o| shown(o)).collect::<Vec<_>>().join(", "),
                    ),
                };
                let patch = SubscriptionPatch {
                    name: Some(name),
                    fname: Some(fname),
                    ..Default::default()
                };
                if self
                    .store
                    .patch_subscriptions(&room.id, Some(member.id.as_str()), &patch)
                    .await?
                    > 0
                {
                    if let Some(sub) = self.store.subscription(&room.id, &member.id).await? {
                        self.publish_subscription(sub);
                    }
                }
            }
        }
        Ok(())
    }
}
