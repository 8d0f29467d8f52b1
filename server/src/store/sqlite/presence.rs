//! Presence on SQLite: table `presence_conns` (one row per live connection) and the
//! presence fields inside the users' documents.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};

use super::{
    exec, like_pattern, map_err, query_count, query_doc, query_docs, to_json, SqliteStore,
};
use crate::store::presence::{PresenceConn, PresenceFields, PresenceStore, StatusQuery};
use crate::store::{Listing, Page, StoreResult, Ts, User};

fn conns(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<PresenceConn>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok(PresenceConn {
                id: r.get(0)?,
                user_id: r.get(1)?,
                instance_id: r.get(2)?,
                status: r.get(3)?,
                expires_at: Ts(r.get(4)?),
            })
        })
        .map_err(map_err)?;
    rows.map(|r| r.map_err(map_err)).collect()
}

/// Deletes the rows `filter` selects; returns their distinct users.
fn remove_where(conn: &Connection, filter: &str, arg: SqlValue) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "DELETE FROM presence_conns WHERE {filter} RETURNING user_id"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map([arg], |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut users = rows
        .map(|r| r.map_err(map_err))
        .collect::<StoreResult<Vec<_>>>()?;
    users.sort();
    users.dedup();
    Ok(users)
}

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn put_presence_conn(&self, c: &PresenceConn) -> StoreResult<()> {
        let c = c.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO presence_conns (id, user_id, instance_id, status, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
                   instance_id = excluded.instance_id, status = excluded.status,
                   expires_at = excluded.expires_at",
                params![c.id, c.user_id, c.instance_id, c.status, c.expires_at.0],
            )
            .map(drop)
        })
        .await
    }

    async fn set_presence_conn_status(&self, id: &str, status: &str) -> StoreResult<bool> {
        let (id, status) = (id.to_string(), status.to_string());
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE presence_conns SET status = ?2 WHERE id = ?1",
                params![id, status],
            )? > 0)
        })
        .await
    }

    async fn remove_presence_conn(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM presence_conns WHERE id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn presence_conns_of(&self, user_id: &str, now: Ts) -> StoreResult<Vec<PresenceConn>> {
        let id = user_id.to_string();
        self.read(move |conn| {
            conns(
                conn,
                "SELECT id, user_id, instance_id, status, expires_at FROM presence_conns
                 WHERE user_id = ?1 AND expires_at > ?2",
                params![id, now.0],
            )
        })
        .await
    }

    async fn renew_presence_conns(&self, instance_id: &str, expires_at: Ts) -> StoreResult<u64> {
        let id = instance_id.to_string();
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE presence_conns SET expires_at = ?2 WHERE instance_id = ?1",
                params![id, expires_at.0],
            )? as u64)
        })
        .await
    }

    async fn remove_expired_presence_conns(&self, now: Ts) -> StoreResult<Vec<String>> {
        self.write(move |conn| remove_where(conn, "expires_at <= ?1", SqlValue::Integer(now.0)))
            .await
    }

    async fn remove_instance_presence_conns(&self, instance_id: &str) -> StoreResult<Vec<String>> {
        let id = instance_id.to_string();
        self.write(move |conn| remove_where(conn, "instance_id = ?1", SqlValue::Text(id)))
            .await
    }

    async fn set_user_presence(
        &self,
        user_id: &str,
        fields: &PresenceFields,
        updated_at: Ts,
    ) -> StoreResult<bool> {
        let (id, fields) = (user_id.to_string(), fields.clone());
        self.write(move |conn| {
            let Some(mut user): Option<User> =
                query_doc(conn, "SELECT doc FROM users WHERE id = ?1", [&id])?
            else {
                return Ok(false);
            };
            let set = |slot: &mut Option<String>, v: Option<String>| {
                if v.is_some() {
                    *slot = v;
                }
            };
            set(&mut user.status, fields.status);
            set(&mut user.status_connection, fields.status_connection);
            set(&mut user.status_default, fields.status_default);
            set(&mut user.status_text, fields.status_text);
            user.updated_at = updated_at;
            exec(
                conn,
                "UPDATE users SET doc = ?2 WHERE id = ?1",
                params![id, to_json(&user)?],
            )?;
            Ok(true)
        })
        .await
    }

    async fn users_by_status(&self, q: &StatusQuery, page: Page) -> StoreResult<Listing<User>> {
        let mut filter = String::from("WHERE 1 = 1");
        let mut args: Vec<SqlValue> = Vec::new();
        let list = |values: &[String], args: &mut Vec<SqlValue>| {
            let marks: Vec<String> = values
                .iter()
                .map(|v| {
                    args.push(SqlValue::Text(v.clone()));
                    format!("?{}", args.len())
                })
                .collect();
            marks.join(", ")
        };
        if !q.statuses.is_empty() {
            let marks = list(&q.statuses, &mut args);
            filter.push_str(&format!(
                " AND coalesce(json_extract(doc, '$.status'), 'offline') IN ({marks})"
            ));
        }
        if let Some(ids) = &q.ids {
            if ids.is_empty() {
                return Ok(Listing {
                    items: Vec::new(),
                    total: 0,
                });
            }
            let marks = list(ids, &mut args);
            filter.push_str(&format!(" AND id IN ({marks})"));
        }
        if let Some(since) = q.updated_since {
            args.push(SqlValue::Integer(since.0));
            filter.push_str(&format!(
                " AND json_extract(doc, '$._updatedAt') >= ?{}",
                args.len()
            ));
        }
        if let Some(active) = q.active {
            filter.push_str(if active {
                " AND json_extract(doc, '$.active') = 1"
            } else {
                " AND json_extract(doc, '$.active') = 0"
            });
        }
        if let Some(logged_in) = q.has_logged_in {
            filter.push_str(if logged_in {
                " AND json_extract(doc, '$.lastLogin') IS NOT NULL"
            } else {
                " AND json_extract(doc, '$.lastLogin') IS NULL"
            });
        }
        if let Some(kind) = &q.kind {
            args.push(SqlValue::Text(kind.clone()));
            filter.push_str(&format!(
                " AND json_extract(doc, '$.type') = ?{}",
                args.len()
            ));
        }
        if let Some(search) = &q.search {
            args.push(SqlValue::Text(like_pattern(search)));
            let n = args.len();
            filter.push_str(&format!(
                " AND (username_key LIKE ?{n} ESCAPE '\\' \
                 OR lower(json_extract(doc, '$.name')) LIKE ?{n} ESCAPE '\\')"
            ));
        }
        self.read(move |conn| {
            let total = query_count(
                conn,
                &format!("SELECT count(*) FROM users {filter}"),
                rusqlite::params_from_iter(args.iter()),
            )?;
            let n = args.len();
            let mut paged = args;
            paged.push(SqlValue::Integer(
                i64::try_from(page.count).unwrap_or(i64::MAX),
            ));
            paged.push(SqlValue::Integer(
                i64::try_from(page.offset).unwrap_or(i64::MAX),
            ));
            let items = query_docs(
                conn,
                &format!(
                    "SELECT doc FROM users {filter} ORDER BY username_key, id LIMIT ?{} OFFSET ?{}",
                    n + 1,
                    n + 2
                ),
                rusqlite::params_from_iter(paged.iter()),
            )?;
            Ok(Listing { items, total })
        })
        .await
    }
}
