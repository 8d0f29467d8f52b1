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
        self.rooms_where("prid", prid, "json_extract(doc, '$.fname'), id", page)
            .await
    }

    /// Rooms whose document field `field` is `value` (a partial index on
    /// `json_extract(doc, '$.<field>')` serves it), a page in `order`.
    async fn rooms_where(
        &self,
        field: &'static str,
        value: &str,
        order: &'static str,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        let value = value.to_string();
        let filter = format!(
            "json_extract(doc, '$.{field}') = ?1 AND json_extract(doc, '$.{field}') IS NOT NULL"
        );
        self.read(move |conn| {
            let total = query_count(
                conn,
                &format!("SELECT count(*) FROM rooms WHERE {filter}"),
                [&value],
            )?;
            let items = query_docs(
                conn,
                &format!(
                    "SELECT doc FROM rooms WHERE {filter} ORDER BY {order} LIMIT ?2 OFFSET ?3"
                ),
                params![value, limit(page.count), limit(page.offset)],
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
        self.rooms_where("teamId", team_id, "name_key, id", page)
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
