//! Messages on SQLite beyond the post path: pins, stars, thread followers, the
//! filtered listings of a room (each on a partial index of its own), syncs by change
//! time, tombstones of deleted messages and full-text search.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::{exec, map_err, query_count, query_docs, SqliteStore};
use crate::store::{
    IdRef, Listing, Message, MessageFilter, Page, StoreResult, SyncScope, Tombstone, Ts, UserRef,
};

/// SQLite's LIMIT/OFFSET are signed; a client's huge value means "all".
fn limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `WHERE` text (after `rid = ?1`) and extra arguments of a filter, and its order.
/// The partial-index predicate is repeated verbatim so SQLite picks that index.
fn filter_sql(filter: &MessageFilter, args: &mut Vec<Value>) -> (String, &'static str) {
    match filter {
        MessageFilter::Pinned => (
            " AND json_extract(doc, '$.pinned') = 1".into(),
            "ts DESC, rowid DESC",
        ),
        MessageFilter::StarredBy(uid) => {
            args.push(Value::from(uid.clone()));
            (
                format!(
                    " AND json_extract(doc, '$.starred[0]') IS NOT NULL AND EXISTS
                     (SELECT 1 FROM json_each(doc, '$.starred')
                      WHERE json_extract(value, '$._id') = ?{})",
                    args.len()
                ),
                "ts DESC, rowid DESC",
            )
        }
        MessageFilter::Mentioning(uid) => {
            args.push(Value::from(uid.clone()));
            (
                format!(
                    " AND json_extract(doc, '$.mentions[0]') IS NOT NULL AND EXISTS
                     (SELECT 1 FROM json_each(doc, '$.mentions')
                      WHERE json_extract(value, '$._id') = ?{})",
                    args.len()
                ),
                "ts DESC, rowid DESC",
            )
        }
        MessageFilter::Threads {
            text,
            follower,
            ids,
        } => {
            let mut sql = String::from(" AND json_extract(doc, '$.tcount') IS NOT NULL");
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                args.push(Value::from(text.to_lowercase()));
                sql.push_str(&format!(
                    " AND instr(lower(coalesce(json_extract(doc, '$.msg'), '')), ?{}) > 0",
                    args.len()
                ));
            }
            if let Some(uid) = follower {
                args.push(Value::from(uid.clone()));
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM json_each(doc, '$.replies') WHERE value = ?{})",
                    args.len()
                ));
            }
            if let Some(ids) = ids {
                args.push(Value::from(
                    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()),
                ));
                sql.push_str(&format!(
                    " AND id IN (SELECT value FROM json_each(?{}))",
                    args.len()
                ));
            }
            (sql, "json_extract(doc, '$.tlm') DESC, rowid DESC")
        }
        MessageFilter::Discussions { text } => {
            let mut sql = String::from(" AND json_extract(doc, '$.drid') IS NOT NULL");
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                args.push(Value::from(text.to_lowercase()));
                sql.push_str(&format!(
                    " AND instr(lower(coalesce(json_extract(doc, '$.msg'), '')), ?{}) > 0",
                    args.len()
                ));
            }
            (sql, "ts DESC, rowid DESC")
        }
    }
}

pub(super) fn room_messages(
    conn: &Connection,
    rid: &str,
    filter: &MessageFilter,
    page: Page,
) -> StoreResult<Listing<Message>> {
    let mut args = vec![Value::from(rid.to_string())];
    let (cond, order) = filter_sql(filter, &mut args);
    let total = query_count(
        conn,
        &format!("SELECT count(*) FROM messages WHERE rid = ?1{cond}"),
        params_from_iter(args.clone()),
    )?;
    args.push(Value::from(limit(page.count)));
    args.push(Value::from(limit(page.offset)));
    let n = args.len();
    let items = query_docs(
        conn,
        &format!(
            "SELECT doc FROM messages WHERE rid = ?1{cond} ORDER BY {order} LIMIT ?{} OFFSET ?{n}",
            n - 1
        ),
        params_from_iter(args),
    )?;
    Ok(Listing { items, total })
}

/// Reads, changes and writes back one message in the writer's transaction.
fn change_message(
    conn: &Connection,
    id: &str,
    at: Ts,
    f: impl FnOnce(&mut Message),
) -> StoreResult<Option<Message>> {
    let Some(mut msg) = super::messages::load_message(conn, id)? else {
        return Ok(None);
    };
    f(&mut msg);
    msg.updated_at = at;
    super::messages::save_message(conn, &msg)?;
    super::messages::refresh_last_message(conn, &msg.rid, &msg.id)?;
    Ok(Some(msg))
}

impl SqliteStore {
    pub(super) async fn pin(
        &self,
        id: &str,
        by: Option<&UserRef>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let (id, by) = (id.to_string(), by.cloned());
        self.write(move |conn| {
            change_message(conn, &id, at, |m| {
                m.marks.pinned = Some(by.is_some());
                if by.is_some() {
                    m.marks.pinned_at = Some(at);
                }
                m.marks.pinned_by = by;
            })
        })
        .await
    }

    pub(super) async fn star(
        &self,
        id: &str,
        user_id: &str,
        star: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let (id, uid) = (id.to_string(), user_id.to_string());
        self.write(move |conn| {
            change_message(conn, &id, at, |m| {
                m.marks.starred.retain(|s| s.id != uid);
                if star {
                    m.marks.starred.push(IdRef { id: uid });
                }
            })
        })
        .await
    }

    pub(super) async fn follow(
        &self,
        id: &str,
        user_id: &str,
        follow: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let (id, uid) = (id.to_string(), user_id.to_string());
        self.write(move |conn| {
            change_message(conn, &id, at, |m| {
                let replies = m.replies.get_or_insert_with(Vec::new);
                replies.retain(|r| *r != uid);
                if follow {
                    replies.push(uid);
                }
            })
        })
        .await
    }

    pub(super) async fn changed_since(
        &self,
        scope: &SyncScope,
        since: Ts,
        count: u64,
    ) -> StoreResult<Vec<Message>> {
        let (sql, key) = match scope {
            // `messages_changed`.
            SyncScope::Room(rid) => (
                "SELECT doc FROM messages WHERE rid = ?1
                 AND json_extract(doc, '$._updatedAt') > ?2
                 ORDER BY json_extract(doc, '$._updatedAt') ASC LIMIT ?3",
                rid,
            ),
            // `messages_threads`: the room's thread parents only.
            SyncScope::Threads(rid) => (
                "SELECT doc FROM messages WHERE rid = ?1
                 AND json_extract(doc, '$.tcount') IS NOT NULL
                 AND json_extract(doc, '$._updatedAt') > ?2
                 ORDER BY json_extract(doc, '$._updatedAt') ASC LIMIT ?3",
                rid,
            ),
            // `messages_thread`: the thread's replies only.
            SyncScope::Thread(tmid) => (
                "SELECT doc FROM messages WHERE tmid = ?1
                 AND json_extract(doc, '$._updatedAt') > ?2
                 ORDER BY json_extract(doc, '$._updatedAt') ASC LIMIT ?3",
                tmid,
            ),
        };
        let args = vec![
            Value::from(key.clone()),
            Value::from(since.0),
            Value::from(limit(count)),
        ];
        self.read(move |conn| query_docs(conn, sql, params_from_iter(args)))
            .await
    }

    pub(super) async fn tombstones(
        &self,
        scope: &SyncScope,
        since: Ts,
        page: Page,
    ) -> StoreResult<Listing<Tombstone>> {
        let (cond, key) = match scope {
            SyncScope::Room(rid) => ("rid = ?1", rid),
            SyncScope::Threads(rid) => ("rid = ?1 AND was_thread = 1", rid),
            SyncScope::Thread(tmid) => ("tmid = ?1", tmid),
        };
        let key = key.clone();
        self.read(move |conn| {
            let total = query_count(
                conn,
                &format!("SELECT count(*) FROM messages_trash WHERE {cond} AND deleted_at > ?2"),
                rusqlite::params![key, since.0],
            )?;
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT id, rid, tmid, was_thread, deleted_at FROM messages_trash
                     WHERE {cond} AND deleted_at > ?2 ORDER BY deleted_at ASC, id ASC
                     LIMIT ?3 OFFSET ?4"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    rusqlite::params![key, since.0, limit(page.count), limit(page.offset)],
                    |r| {
                        Ok(Tombstone {
                            id: r.get(0)?,
                            rid: r.get(1)?,
                            tmid: r.get(2)?,
                            was_thread: r.get::<_, i64>(3)? != 0,
                            deleted_at: Ts(r.get(4)?),
                        })
                    },
                )
                .map_err(map_err)?;
            let items = rows.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok(Listing { items, total })
        })
        .await
    }

    pub(super) async fn search(
        &self,
        rid: &str,
        words: &[String],
        page: Page,
    ) -> StoreResult<Vec<Message>> {
        if words.is_empty() || page.count == 0 {
            return Ok(Vec::new());
        }
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut query = format!("rid : {}", quote(rid));
        for w in words {
            query.push_str(&format!(" AND msg : {}", quote(w)));
        }
        let args = vec![
            Value::from(query),
            Value::from(limit(page.count)),
            Value::from(limit(page.offset)),
        ];
        // The index's rows in reverse insertion order: newest posts first, and the
        // walk stops at the page.
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT m.doc FROM messages_search s JOIN messages m ON m.id = s.mid
                 WHERE messages_search MATCH ?1 ORDER BY s.rowid DESC LIMIT ?2 OFFSET ?3",
                params_from_iter(args),
            )
        })
        .await
    }
}

/// Records the tombstone of a message being deleted (in the delete's transaction).
pub(super) fn bury(conn: &Connection, msg: &Message, at: Ts) -> StoreResult<()> {
    exec(
        conn,
        "INSERT OR REPLACE INTO messages_trash (id, rid, tmid, was_thread, deleted_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            msg.id,
            msg.rid,
            msg.tmid,
            i64::from(msg.tcount.is_some()),
            at.0
        ],
    )?;
    Ok(())
}
