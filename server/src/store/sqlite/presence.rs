//! Presence on SQLite: table `presence_conns` (one row per live connection) and the
//! presence fields inside the users' documents.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};

use super::users::{trigram_phrase, SEARCH_CANDIDATES, SEARCH_CANDIDATE_COUNT};
use super::{
    exec, like_pattern, map_err, page_args, query_count, query_doc, query_docs, to_json,
    SqliteStore,
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

/// The statements of a `users_by_status` query, and the index its rows come from.
pub(super) struct StatusSql {
    /// `None`: a substring search walking an index, not counted (the page is probed,
    /// see [`Listing`]); a rare term's search (read through `users_search`) is counted.
    pub count: Option<String>,
    pub page: String,
    pub args: Vec<SqlValue>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub index: &'static str,
    /// Whether the page walks `index` in the listing's order (it stops at its
    /// `LIMIT`); otherwise it seeks the matching rows and sorts them, which costs
    /// what the answer is (ids asked for, users present, users changed since).
    #[cfg_attr(not(test), allow(dead_code))]
    pub ordered: bool,
}

/// The presence index for `q`'s statuses: only when they leave out `offline`
/// (which also means "no status") is the set a range of `users_status`.
fn present_only(q: &StatusQuery) -> bool {
    !q.statuses.is_empty() && !q.statuses.iter().any(|s| s == "offline")
}

/// Builds the statement of `q`, choosing the index that serves its most selective
/// part; the rest of `q` filters the rows that index yields. Presence queries seek
/// their ids, statuses or `_updatedAt` range; the admin's user listing
/// (`listByStatus`: `active`, `hasLoggedIn`, `type`) walks an index whose leading
/// keys are its filters and whose order is the username's, so the web admin's tabs
/// (all, active, deactivated, pending: `hasLoggedIn=false&type=user`) each read a
/// range of their own. A search term (a substring) is a filter on that walk — unless
/// `rare` holds the term's trigram phrase (a term fewer than [`SEARCH_CANDIDATES`]
/// users match, see [`status_search_phrase`]): then the users the trigram index finds
/// are read by primary key, filtered and sorted, so the cost is those users, whatever
/// the user base, and the total is exact.
pub(super) fn status_statement(q: &StatusQuery, rare: Option<&str>) -> StatusSql {
    let mut args: Vec<SqlValue> = Vec::new();
    let mut filter: Vec<String> = Vec::new();
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
    if present_only(q) {
        let marks = list(&q.statuses, &mut args);
        filter.push(format!("json_extract(doc, '$.status') IN ({marks})"));
    } else if !q.statuses.is_empty() {
        let marks = list(&q.statuses, &mut args);
        filter.push(format!(
            "coalesce(json_extract(doc, '$.status'), 'offline') IN ({marks})"
        ));
    }
    if let Some(ids) = &q.ids {
        let marks = list(ids, &mut args);
        filter.push(format!("id IN ({marks})"));
    }
    if let Some(since) = q.updated_since {
        args.push(SqlValue::Integer(since.0));
        filter.push(format!(
            "json_extract(doc, '$._updatedAt') >= ?{}",
            args.len()
        ));
    }
    if let Some(active) = q.active {
        filter.push(format!(
            "json_extract(doc, '$.active') = {}",
            i32::from(active)
        ));
    }
    if let Some(logged_in) = q.has_logged_in {
        filter.push(format!(
            "(json_extract(doc, '$.lastLogin') IS NOT NULL) = {}",
            i32::from(logged_in)
        ));
    }
    if let Some(kind) = &q.kind {
        args.push(SqlValue::Text(kind.clone()));
        filter.push(format!("json_extract(doc, '$.type') = ?{}", args.len()));
    }
    if !q.roles.is_empty() {
        let marks = list(&q.roles, &mut args);
        filter.push(format!(
            "EXISTS (SELECT 1 FROM json_each(doc, '$.roles') WHERE value IN ({marks}))"
        ));
    }
    if let Some(search) = &q.search {
        args.push(SqlValue::Text(like_pattern(search)));
        let n = args.len();
        filter.push(format!(
            "(username_key LIKE ?{n} ESCAPE '\\' \
             OR lower(json_extract(doc, '$.name')) LIKE ?{n} ESCAPE '\\')"
        ));
    }
    // With ids the answer is already bounded by the ask.
    let rare = rare.filter(|_| q.ids.is_none());
    if let Some(phrase) = rare {
        args.push(SqlValue::Text(phrase.to_string()));
        filter.push(format!(
            "id IN (SELECT uid FROM users_search WHERE users_search MATCH ?{})",
            args.len()
        ));
    }
    let (index, ordered) = if q.ids.is_some() || rare.is_some() {
        ("sqlite_autoindex_users_1", false)
    } else if present_only(q) {
        ("users_status", false)
    } else if q.updated_since.is_some() {
        ("users_updated", false)
    } else if q.has_logged_in.is_some() && q.kind.is_some() {
        ("users_login_type_name", true)
    } else if q.active.is_some() {
        ("users_active_name", true)
    } else if q.kind.is_some() {
        ("users_type_name", true)
    } else {
        ("sqlite_autoindex_users_2", true)
    };
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filter.join(" AND "))
    };
    let from = format!("users INDEXED BY {index}{filter}");
    let n = args.len();
    StatusSql {
        count: (q.search.is_none() || rare.is_some())
            .then(|| format!("SELECT count(*) FROM {from}")),
        page: format!(
            "SELECT doc FROM {from} ORDER BY username_key, id LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        ),
        args,
        index,
        ordered,
    }
}

/// The trigram phrase of a search term if few enough users match it (fewer than
/// [`SEARCH_CANDIDATES`], counted in the trigram index) for the search to read them
/// rather than walk the listing's index.
fn status_search_phrase(conn: &Connection, phrase: Option<String>) -> StoreResult<Option<String>> {
    let Some(phrase) = phrase else {
        return Ok(None);
    };
    let candidates = query_count(
        conn,
        SEARCH_CANDIDATE_COUNT,
        params![phrase, SEARCH_CANDIDATES],
    )?;
    Ok((candidates < SEARCH_CANDIDATES as u64).then_some(phrase))
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
        if q.ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
            });
        }
        let phrase = q.search.as_deref().and_then(trigram_phrase);
        let q = q.clone();
        self.read(move |conn| {
            let rare = status_search_phrase(conn, phrase)?;
            let sql = status_statement(&q, rare.as_deref());
            let StatusSql {
                count,
                page: page_sql,
                mut args,
                ..
            } = sql;
            let total = match &count {
                Some(count) => Some(query_count(
                    conn,
                    count,
                    rusqlite::params_from_iter(args.iter()),
                )?),
                None => None,
            };
            page_args(&mut args, page, total.is_none());
            let items = query_docs(conn, &page_sql, rusqlite::params_from_iter(args.iter()))?;
            Ok(match total {
                Some(total) => Listing { items, total },
                None => Listing::probed(items, page),
            })
        })
        .await
    }
}
