//! Discussions on SQLite: a room's discussions (`rooms_prid`, a partial index of
//! discussion rooms by parent and `fname`) and the parent message's link to one
//! (`messages_drid`, a partial index of linking messages by discussion).

use rusqlite::params;

use super::messages::{refresh_last_message, save_message};
use super::{query_count, query_docs, SqliteStore};
use crate::store::{Listing, Message, Page, Room, StoreResult, Ts};

/// SQLite's LIMIT/OFFSET are signed; a client's huge value means "all".
fn limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteStore {
    pub(super) async fn discussions_of(
        &self,
        prid: &str,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        let prid = prid.to_string();
        self.read(move |conn| {
            let total = query_count(
                conn,
                "SELECT count(*) FROM rooms WHERE json_extract(doc, '$.prid') = ?1
                   AND json_extract(doc, '$.prid') IS NOT NULL",
                [&prid],
            )?;
            let items = query_docs(
                conn,
                "SELECT doc FROM rooms WHERE json_extract(doc, '$.prid') = ?1
                   AND json_extract(doc, '$.prid') IS NOT NULL
                 ORDER BY json_extract(doc, '$.fname'), id LIMIT ?2 OFFSET ?3",
                params![prid, limit(page.count), limit(page.offset)],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    pub(super) async fn refresh_discussion_link(
        &self,
        drid: &str,
        activity: Option<(i64, Option<Ts>)>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let drid = drid.to_string();
        self.write(move |conn| {
            let linking: Vec<Message> = query_docs(
                conn,
                "SELECT doc FROM messages WHERE json_extract(doc, '$.drid') = ?1
                   AND json_extract(doc, '$.drid') IS NOT NULL",
                [&drid],
            )?;
            let mut changed = None;
            for mut msg in linking {
                match activity {
                    Some((count, lm)) => {
                        msg.discussion.dcount = Some(count);
                        msg.discussion.dlm = lm;
                    }
                    None => msg.discussion = Default::default(),
                }
                msg.updated_at = at;
                save_message(conn, &msg)?;
                refresh_last_message(conn, &msg.rid, &msg.id)?;
                changed.get_or_insert(msg);
            }
            Ok(changed)
        })
        .await
    }
}

/// Teams on SQLite: a team's rooms (`rooms_team`) and the main rooms (`rooms_team_main`).
impl SqliteStore {
    pub(super) async fn rooms_of_team(
        &self,
        team_id: &str,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        let team_id = team_id.to_string();
        self.read(move |conn| {
            let total = query_count(
                conn,
                "SELECT count(*) FROM rooms WHERE json_extract(doc, '$.teamId') = ?1
                   AND json_extract(doc, '$.teamId') IS NOT NULL",
                [&team_id],
            )?;
            let items = query_docs(
                conn,
                "SELECT doc FROM rooms WHERE json_extract(doc, '$.teamId') = ?1
                   AND json_extract(doc, '$.teamId') IS NOT NULL
                 ORDER BY name_key, id LIMIT ?2 OFFSET ?3",
                params![team_id, limit(page.count), limit(page.offset)],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    pub(super) async fn main_room_of_team(&self, team_id: &str) -> StoreResult<Option<Room>> {
        let team_id = team_id.to_string();
        self.read(move |conn| {
            let mut rooms: Vec<Room> = query_docs(
                conn,
                "SELECT doc FROM rooms WHERE json_extract(doc, '$.teamId') = ?1
                   AND json_extract(doc, '$.teamId') IS NOT NULL
                   AND json_extract(doc, '$.teamMain') = 1 LIMIT 1",
                [&team_id],
            )?;
            Ok(rooms.pop())
        })
        .await
    }

    pub(super) async fn main_rooms(&self, page: Page) -> StoreResult<Listing<Room>> {
        self.read(move |conn| {
            let total = query_count(
                conn,
                "SELECT count(*) FROM rooms WHERE json_extract(doc, '$.teamMain') = 1",
                params![],
            )?;
            let items = query_docs(
                conn,
                "SELECT doc FROM rooms WHERE json_extract(doc, '$.teamMain') = 1
                 ORDER BY name_key, id LIMIT ?1 OFFSET ?2",
                params![limit(page.count), limit(page.offset)],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }
}
