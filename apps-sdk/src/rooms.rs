//! Rooms. Reading needs `room.read`; creating and changing needs `room.write`.

use crate::bindings::palaver::apps::rooms as wit;
use crate::{Result, Room, RoomKind, UserRef};

fn owned<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

/// The room with this id.
pub fn get(id: &str) -> Result<Room> {
    Ok(wit::get(id)?)
}

/// The channel or group with this unique name.
pub fn get_by_name(name: &str) -> Result<Room> {
    Ok(wit::get_by_name(name)?)
}

/// Creates a channel or private group owned by the app's bot, with these members
/// (usernames).
pub fn create<S: AsRef<str>>(kind: RoomKind, name: &str, members: &[S]) -> Result<Room> {
    Ok(wit::create(kind, name, &owned(members))?)
}

/// Opens (or finds) the direct conversation between the app's bot and these users.
pub fn create_direct<S: AsRef<str>>(usernames: &[S]) -> Result<Room> {
    Ok(wit::create_direct(&owned(usernames))?)
}

/// Members of a room, at most `limit` starting at `offset`, sorted by username.
pub fn members(room_id: &str, offset: u32, limit: u32) -> Result<Vec<UserRef>> {
    Ok(wit::members(room_id, offset, limit)?)
}

/// How many members [`all_members`] asks for per call (the host allows up to 1000).
const MEMBERS_PAGE: u32 = 200;

/// Every member of a room, sorted by username, but at most `max`: pages through
/// [`members`] so an app does not hand-roll the offset loop (and its off-by-one at the
/// last page) for each room it reads.
pub fn all_members(room_id: &str, max: u32) -> Result<Vec<UserRef>> {
    collect_pages(max, MEMBERS_PAGE, |offset, limit| {
        members(room_id, offset, limit)
    })
}

/// Calls `fetch(offset, limit)` page after page until a short page or `max` items;
/// separate from the host call so it can be tested natively.
fn collect_pages<T>(
    max: u32,
    page_size: u32,
    mut fetch: impl FnMut(u32, u32) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let page_size = page_size.max(1);
    let mut items = Vec::new();
    let mut offset = 0u32;
    while offset < max {
        let limit = page_size.min(max - offset);
        let page = fetch(offset, limit)?;
        let n = u32::try_from(page.len()).unwrap_or(u32::MAX);
        items.extend(page);
        if n < limit {
            break;
        }
        offset = offset.saturating_add(n);
    }
    items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok(items)
}

/// Adds a user to a room the app's bot owns. Needs `room.write`.
pub fn add_member(room_id: &str, user_id: &str) -> Result<()> {
    Ok(wit::add_member(room_id, user_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// A room of `total` members, served in pages like the host does.
    fn room(
        total: u32,
        calls: &mut Vec<(u32, u32)>,
    ) -> impl FnMut(u32, u32) -> Result<Vec<u32>> + '_ {
        move |offset, limit| {
            calls.push((offset, limit));
            Ok((offset..total.min(offset + limit)).collect())
        }
    }

    #[test]
    fn pages_until_a_short_page() {
        let mut calls = Vec::new();
        let all = collect_pages(u32::MAX, 200, room(450, &mut calls)).unwrap();
        assert_eq!(all, (0..450).collect::<Vec<_>>());
        assert_eq!(calls, [(0, 200), (200, 200), (400, 200)]);

        // A room that fills its last page exactly takes one more (empty) call.
        let mut calls = Vec::new();
        assert_eq!(
            collect_pages(u32::MAX, 200, room(400, &mut calls))
                .unwrap()
                .len(),
            400
        );
        assert_eq!(calls, [(0, 200), (200, 200), (400, 200)]);

        let mut calls = Vec::new();
        assert!(collect_pages(u32::MAX, 200, room(0, &mut calls))
            .unwrap()
            .is_empty());
        assert_eq!(calls, [(0, 200)]);
    }

    #[test]
    fn stops_at_max() {
        let mut calls = Vec::new();
        let all = collect_pages(500, 200, room(10_000, &mut calls)).unwrap();
        assert_eq!(all.len(), 500);
        assert_eq!(calls, [(0, 200), (200, 200), (400, 100)]);

        let mut calls = Vec::new();
        assert!(collect_pages(0, 200, room(10, &mut calls))
            .unwrap()
            .is_empty());
        assert!(calls.is_empty());
    }

    #[test]
    fn errors_stop_paging() {
        let mut n = 0;
        let r = collect_pages(u32::MAX, 2, |offset, _| {
            n += 1;
            if offset == 0 {
                Ok(vec![1, 2])
            } else {
                Err(Error::Timeout)
            }
        });
        assert_eq!(r, Err(Error::Timeout));
        assert_eq!(n, 2);
    }
}
