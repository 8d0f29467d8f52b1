//! The directory and spotlight searches (`directory`, `spotlight`): people and
//! public channels by name, as Rocket.Chat's `browseChannels` and `spotlight`
//! methods answer them.

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::Chat;
use crate::store::{Direction, Listing, Page, Room, RoomType, Sort, SortKey, User};

/// What a directory search lists (`query.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryKind {
    Users,
    Channels,
    /// Teams: Palaver has none, so the listing is empty.
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
}

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
                    return Ok(DirectoryPage::Rooms(Listing {
                        items: Vec::new(),
                        total: 0,
                    }));
                }
                let listing = self
                    .store
                    .list_rooms(&[RoomType::Channel], filter, sort, page)
                    .await?;
                Ok(DirectoryPage::Rooms(listing))
            }
        }
    }

    /// `spotlight`: users and rooms whose name contains `text`; `@name` searches
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
                rooms = self
                    .store
                    .list_rooms(&[RoomType::Channel], filter, sort, page)
                    .await?
                    .items;
            }
            let own = self
                .user_rooms(actor, &[RoomType::Group], sort, Page::new(0, 100))
                .await?
                .items;
            let needle = term.to_lowercase();
            for room in own {
                let name = room.name.as_deref().unwrap_or_default().to_lowercase();
                if name.contains(&needle) && !rooms.iter().any(|r| r.id == room.id) {
                    rooms.push(room);
                }
            }
        }
        Ok((users, rooms))
    }
}
