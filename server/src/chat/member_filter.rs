//! Filtered member listings (`channels|groups|im.members` with `filter` and
//! `status[]`), as Rocket.Chat's `findUsersOfRoom` answers them: a member matches
//! the text in one of the `Accounts_SearchFields` and holds one of the statuses.

use std::collections::{HashMap, HashSet};

use super::rooms::RoomRef;
use super::{Chat, ChatResult};
use crate::store::{Listing, Page, Room, Subscription, User};

/// What a member listing keeps; empty: everyone.
#[derive(Clone, Debug, Default)]
pub struct MemberFilter {
    /// A case-insensitive substring of a search field.
    pub text: Option<String>,
    /// Only members with one of these statuses (`offline` includes never seen).
    pub statuses: Vec<String>,
}

impl MemberFilter {
    fn is_empty(&self) -> bool {
        self.text.is_none() && self.statuses.is_empty()
    }
}

/// Most members a filtered listing reads: no index serves these filters, so a
/// filtered listing covers a room's first this many members (by username).
const MEMBER_SCAN: u64 = 1_000;

impl Chat {
    /// A room's members the filter keeps, a page of them with their total.
    pub async fn room_members_filtered(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        filter: &MemberFilter,
        page: Page,
    ) -> ChatResult<(Room, Listing<Subscription>)> {
        if filter.is_empty() {
            return self.room_members(actor, r, page).await;
        }
        let (room, _) = self.readable_room(actor, r).await?;
        let subs = self
            .store
            .room_subscriptions(&room.id, Page::new(0, MEMBER_SCAN))
            .await?
            .items;
        let ids: Vec<String> = subs.iter().map(|s| s.u.id.clone()).collect();
        let fields: HashSet<String> = self
            .settings()
            .string("Accounts_SearchFields")
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        let text = filter.text.as_deref().map(str::to_lowercase);
        // Bio and nickname live on the users, not on their subscriptions.
        let profiles: HashMap<String, User> =
            if text.is_some() && (fields.contains("bio") || fields.contains("nickname")) {
                self.store
                    .users_by_ids(&ids)
                    .await?
                    .into_iter()
                    .map(|u| (u.id.clone(), u))
                    .collect()
            } else {
                HashMap::new()
            };
        let statuses = if filter.statuses.is_empty() {
            HashMap::new()
        } else {
            self.statuses_of(ids).await?
        };
        let text_matches = |s: &Subscription, needle: &str| {
            let has = |v: Option<&str>| v.is_some_and(|v| v.to_lowercase().contains(needle));
            let profile = profiles.get(&s.u.id);
            (fields.contains("username") && has(Some(&s.u.username)))
                || (fields.contains("name") && has(s.u.name.as_deref()))
                || (fields.contains("bio") && has(profile.and_then(|u| u.bio.as_deref())))
                || (fields.contains("nickname") && has(profile.and_then(|u| u.nickname.as_deref())))
        };
        let kept: Vec<Subscription> = subs
            .into_iter()
            .filter(|s| text.as_deref().is_none_or(|t| text_matches(s, t)))
            .filter(|s| {
                filter.statuses.is_empty() || {
                    let status = statuses.get(&s.u.id).map_or("offline", String::as_str);
                    filter.statuses.iter().any(|w| w == status)
                }
            })
            .collect();
        let total = kept.len() as u64;
        let items = kept
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
            .collect();
        Ok((room, Listing { items, total }))
    }
}
