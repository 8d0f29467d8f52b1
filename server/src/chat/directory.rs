//! The directory and spotlight searches (`directory`, `spotlight`): people and
//! public channels by name, as Rocket.Chat's `browseChannels` and `spotlight`
//! methods answer them.

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::Chat;
use crate::store::{Direction, Listing, Page, Room, RoomMatch, RoomType, Sort, SortKey, User};

/// What a directory search lists (`query.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryKind {
    Users,
    Channels,
    /// Teams: their main rooms, public ones and those the caller is in.
    Teams,
}

impl DirectoryKind {
    pub fn parse(kind: &str) -> Option<DirectoryKind> {
        match kind {
            "users" => Some(DirectoryKind::Users),
            "channels" => Some(DirectoryKind::Channels),
            "teams" => Some(DirectoryKind::Teams),
            _ => None,
        }
    }
}

/// A directory page: users (with whether the caller may see their addresses) or rooms.
pub enum DirectoryPage {
    Users {
        listing: Listing<User>,
        show_emails: bool,
    },
    Rooms(Listing<Room>),
    /// Teams' main rooms, each with how many rooms its team has.
    Teams(Listing<(Room, u64)>),
}

/// Most teams one directory search looks through.
const TEAMS_SCANNED: u64 = 2_000;

/// How many users and rooms one spotlight search returns at most.
const SPOTLIGHT_LIMIT: u64 = 10;

/// Rocket.Chat's answer when `browseChannels` returns nothing (no permission).
fn verify_parameters() -> ChatError {
    ChatError::invalid("Please verify the parameters")
}

impl Chat {
    /// `directory`: active users (needs `view-outside-room` and `view-d-room`;
    /// addresses only with `view-full-other-user-info`) or public channels (needs
    /// `view-c-room`) whose name contains `text`.
    pub async fn directory(
        &self,
        actor: &User,
        kind: DirectoryKind,
        text: &str,
        sort: Sort,
        page: Page,
    ) -> ChatResult<DirectoryPage> {
        let filter = Some(text.trim()).filter(|t| !t.is_empty());
        match kind {
            DirectoryKind::Users => {
                if !self
                    .has_permission(actor, Perm::VIEW_OUTSIDE_ROOM, None)
                    .await?
                    || !self.has_permission(actor, Perm::VIEW_D_ROOM, None).await?
                {
                    return Err(verify_parameters());
                }
                let show_emails = self
                    .has_permission(actor, Perm::VIEW_FULL_OTHER_USER_INFO, None)
                    .await?;
                let mut listing = self.store.list_users(filter, sort, page).await?;
                // Deactivated accounts are not listed (the total may count them).
                listing.items.retain(|u| u.active);
                Ok(DirectoryPage::Users {
                    listing,
                    show_emails,
                })
            }
            DirectoryKind::Channels | DirectoryKind::Teams => {
                if !self.has_permission(actor, Perm::VIEW_C_ROOM, None).await? {
                    return Err(verify_parameters());
                }
                if kind == DirectoryKind::Teams {
                    return self.team_directory(actor, filter, sort, page).await;
                }
                let listing = self
                    .store
                    .list_rooms(&[RoomType::Channel], filter, sort, page)
                    .await?;
                Ok(DirectoryPage::Rooms(listing))
            }
        }
    }

    /// The teams `actor` may see (public ones, and private ones they are in) whose
    /// name contains `filter`, by name (Rocket.Chat's `browseChannels` for teams),
    /// with each team's number of rooms.
    async fn team_directory(
        &self,
        actor: &User,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<DirectoryPage> {
        let needle = filter.map(str::to_lowercase);
        let mut visible = Vec::new();
        for room in self
            .store
            .team_main_rooms(Page::new(0, TEAMS_SCANNED))
            .await?
            .items
        {
            let names = [room.name.as_deref(), room.fname.as_deref()];
            let matches = needle.as_ref().is_none_or(|n| {
                names
                    .iter()
                    .flatten()
                    .any(|name| name.to_lowercase().contains(n))
            });
            if !matches {
                continue;
            }
            if self.can_access_room(actor, &room).await? {
                visible.push(room);
            }
        }
        if sort.dir == Direction::Desc {
            visible.reverse();
        }
        let total = visible.len() as u64;
        let mut items = Vec::new();
        for room in visible
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
        {
            let rooms = match &room.extra.team_id {
                Some(team) => self.store.team_rooms(team, Page::new(0, 0)).await?.total,
                None => 0,
            };
            items.push((room, rooms));
        }
        Ok(DirectoryPage::Teams(Listing { items, total }))
    }

    /// `spotlight`: users and rooms whose name (a room's display name too) contains
    /// `text`; `@name` searches
    /// users only, `#name` rooms only. Rooms are public channels and the caller's
    /// own rooms.
    pub async fn spotlight(&self, actor: &User, text: &str) -> ChatResult<(Vec<User>, Vec<Room>)> {
        let text = text.trim();
        let (want_users, want_rooms, term) = match text.chars().next() {
            Some('@') => (true, false, &text[1..]),
            Some('#') => (false, true, &text[1..]),
            _ => (true, true, text),
        };
        let filter = Some(term).filter(|t| !t.is_empty());
        let sort = Sort {
            key: SortKey::Name,
            dir: Direction::Asc,
        };
        let page = Page::new(0, SPOTLIGHT_LIMIT);
        let mut users = Vec::new();
        if want_users
            && self
                .has_permission(actor, Perm::VIEW_OUTSIDE_ROOM, None)
                .await?
        {
            users = self.store.list_users(filter, sort, page).await?.items;
            users.retain(|u| u.active);
        }
        let mut rooms = Vec::new();
        if want_rooms {
            if self.has_permission(actor, Perm::VIEW_C_ROOM, None).await? {
                let by_names = filter.map(|term| RoomMatch {
                    term,
                    display_names: true,
                });
                rooms = self
                    .store
                    .list_rooms_matching(&[RoomType::Channel], by_names, sort, page)
                    .await?
                    .items;
            }
            let own = self
                .user_rooms(actor, &[RoomType::Group], sort, Page::new(0, 100))
                .await?
                .items;
            let needle = term.to_lowercase();
            for room in own {
                let holds = |n: Option<&str>| n.is_some_and(|n| n.to_lowercase().contains(&needle));
                let matched = holds(room.name.as_deref()) || holds(room.fname.as_deref());
                if matched && !rooms.iter().any(|r| r.id == room.id) {
                    rooms.push(room);
                }
            }
        }
        Ok((users, rooms))
    }
}
