//! The delivery queue on SQLite: table `outbox`, one row per item. The single
//! writer makes each lease (one `UPDATE … RETURNING`) atomic.

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, Row};

use super::{exec, from_json, map_err, query_count, to_json, SqliteStore};
use crate::store::outbox::{
    OutboxFailure, OutboxItem, OutboxKind, OutboxState, OutboxStats, OutboxStore,
};
use crate::store::{Listing, Page, StoreResult, Ts};

const COLUMNS: &str = "id, kind, dedupe_key, payload, state, attempts, next_attempt, \
                       last_error, created_at, since, lease_owner, lease_until";

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown outbox {what} {value:?}").into(),
    )
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<(OutboxItem, String)> {
    let kind: String = row.get(1)?;
    let state: String = row.get(4)?;
    let payload: String = row.get(3)?;
    let item = OutboxItem {
        id: row.get(0)?,
        kind: OutboxKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        dedupe_key: row.get(2)?,
        payload: serde_json::Value::Null,
        state: OutboxState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: row.get::<_, i64>(5)?.clamp(0, u32::MAX as i64) as u32,
        next_attempt: Ts(row.get(6)?),
        last_error: row.get(7)?,
        created_at: Ts(row.get(8)?),
        since: Ts(row.get(9)?),
        lease_owner: row.get(10)?,
        lease_until: Ts(row.get(11)?),
    };
    Ok((item, payload))
}

fn query_items(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<OutboxItem>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt.query_map(params, item_from_row).map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut item, payload) = row.map_err(map_err)?;
        item.payload = from_json(&payload)?;
        out.push(item);
    }
    Ok(out)
}

/// The dead letters' total and page statements (the admin's listing), oldest first:
/// of one kind a range of `outbox_state_kind` (state, kind, created_at, id, …), of
/// every kind a range of `outbox_state_order` (state, created_at, id), each walked
/// in its order to the `LIMIT`; `OFFSET` costs one index step per skipped item. The
/// total is counted in the same range (covering): the dead letters themselves.
pub(super) fn dead_statements(of_kind: bool) -> (String, String) {
    let (filter, n) = if of_kind {
        ("state = 'dead' AND kind = ?1", 2)
    } else {
        ("state = 'dead'", 1)
    };
    (
        format!("SELECT count(*) FROM outbox WHERE {filter}"),
        format!(
            "SELECT {COLUMNS} FROM outbox WHERE {filter} ORDER BY created_at, id
             LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
    )
}

/// The dead letters a retry or drop acts on, one statement per shape (an `id` is a
/// primary-key seek, a kind a range of `outbox_state_kind`), with its arguments
/// numbered from `?first`.
pub(super) fn dead_filter(
    id: Option<String>,
    kind: Option<&str>,
    first: usize,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut filter = String::from("state = 'dead'");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(id) = id {
        args.push(id.into());
        filter.push_str(&format!(" AND id = ?{}", first + args.len() - 1));
    }
    if let Some(kind) = kind {
        args.push(kind.to_string().into());
        filter.push_str(&format!(" AND kind = ?{}", first + args.len() - 1));
    }
    (filter, args)
}

/// A kind's pending backlog for the admin's statistics: counted in its range of
/// `outbox_state_kind`, which covers the lease column and starts at the oldest, so
/// the work is the backlog (the figure asked for), no document is read.
pub(super) const OUTBOX_PENDING_STATS: &str =
    "SELECT count(*), coalesce(sum(lease_until > ?2), 0), min(created_at)
     FROM outbox INDEXED BY outbox_state_kind WHERE state = 'pending' AND kind = ?1";
/// A kind's dead letters, counted in their range of `outbox_state_kind`.
pub(super) const OUTBOX_DEAD_COUNT: &str =
    "SELECT count(*) FROM outbox WHERE state = 'dead' AND kind = ?1";

/// Leases the due items of a kind: a range of `outbox_due_order` (kind, state,
/// next_attempt, created_at), already in the order served, so the cost is the items
/// leased, not the backlog.
pub(super) fn lease_statement() -> String {
    format!(
        "UPDATE outbox SET lease_owner = ?3, lease_until = ?4
         WHERE id IN (
             SELECT id FROM outbox
             WHERE kind = ?1 AND state = 'pending' AND next_attempt <= ?2
               AND lease_until <= ?2
             ORDER BY next_attempt, created_at LIMIT ?5
         )
         RETURNING {COLUMNS}"
    )
}

/// Inserts items inside the caller's transaction (the queue's own writes, and a
/// post's items committed with its message); those whose dedupe key is queued are
/// skipped. Returns how many were inserted.
pub(super) fn insert_items(conn: &Connection, items: &[OutboxItem]) -> StoreResult<u64> {
    let mut inserted = 0u64;
    for i in items {
        inserted += exec(
            conn,
            &format!(
                "INSERT INTO outbox ({COLUMNS}) VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (kind, dedupe_key) DO NOTHING"
            ),
            params![
                i.id,
                i.kind.as_str(),
                i.dedupe_key,
                to_json(&i.payload)?,
                i.state.as_str(),
                i.attempts,
                i.next_attempt.0,
                i.last_error,
                i.created_at.0,
                i.since.0,
                i.lease_owner,
                i.lease_until.0,
            ],
        )? as u64;
    }
    Ok(inserted)
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_outbox(&self, items: &[OutboxItem]) -> StoreResult<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let items = items.to_vec();
        self.write(move |conn| insert_items(conn, &items)).await
    }

    async fn enqueue_outbox_advancing(
        &self,
        items: &[OutboxItem],
        id: &str,
        owner: &str,
        payload: &serde_json::Value,
    ) -> StoreResult<Option<u64>> {
        let items = items.to_vec();
        let (id, owner, payload) = (id.to_string(), owner.to_string(), to_json(payload)?);
        self.write(move |conn| {
            let held = exec(
                conn,
                "UPDATE outbox SET payload = ?3
                 WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                params![id, owner, payload],
            )?;
            if held == 0 {
                return Ok(None);
            }
            insert_items(conn, &items).map(Some)
        })
        .await
    }

    async fn complete_outbox_many(&self, ids: &[String], owner: &str) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = serde_json::to_string(ids).map_err(super::backend)?;
        let owner = owner.to_string();
        self.write(move |conn| {
            Ok(exec(
                conn,
                "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?1))
                 AND lease_owner = ?2",
                params![ids, owner],
            )? as u64)
        })
        .await
    }

    async fn lease_outbox(
        &self,
        kind: OutboxKind,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let owner = owner.to_string();
        self.write(move |conn| {
            let mut items = query_items(
                conn,
                &lease_statement(),
                params![kind.as_str(), now.0, owner, lease_until.0, limit],
            )?;
            // RETURNING gives no order guarantee.
            items.sort_by_key(|i| (i.next_attempt, i.created_at));
            Ok(items)
        })
        .await
    }

    async fn complete_outbox(&self, id: &str, owner: &str) -> StoreResult<bool> {
        let (id, owner) = (id.to_string(), owner.to_string());
        self.write(move |conn| {
            Ok(exec(
                conn,
                "DELETE FROM outbox WHERE id = ?1 AND lease_owner = ?2",
                [&id, &owner],
            )? > 0)
        })
        .await
    }

    async fn fail_outbox(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        outcome: OutboxFailure,
    ) -> StoreResult<bool> {
        let (id, owner, error) = (id.to_string(), owner.to_string(), error.to_string());
        let (state, next) = match outcome {
            OutboxFailure::RetryAt(at) => (OutboxState::Pending, Some(at.0)),
            OutboxFailure::Dead => (OutboxState::Dead, None),
        };
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?3, state = ?4,
                     next_attempt = coalesce(?5, next_attempt),
                     lease_owner = NULL, lease_until = 0
                 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner, error, state.as_str(), next],
            )? > 0)
        })
        .await
    }

    async fn release_outbox(&self, ids: &[String], owner: &str) -> StoreResult<u64> {
        let (ids, owner) = (ids.to_vec(), owner.to_string());
        self.write(move |conn| {
            let mut released = 0u64;
            for id in &ids {
                released += exec(
                    conn,
                    "UPDATE outbox SET lease_owner = NULL, lease_until = 0
                     WHERE id = ?1 AND lease_owner = ?2",
                    [id, &owner],
                )? as u64;
            }
            Ok(released)
        })
        .await
    }

    async fn outbox_item(&self, id: &str) -> StoreResult<Option<OutboxItem>> {
        let id = id.to_string();
        self.read(move |conn| {
            Ok(query_items(
                conn,
                &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"),
                [&id],
            )?
            .pop())
        })
        .await
    }

    async fn dead_outbox(
        &self,
        kind: Option<OutboxKind>,
        page: Page,
    ) -> StoreResult<Listing<OutboxItem>> {
        let kind = kind.map(OutboxKind::as_str);
        self.read(move |conn| {
            let (count_sql, page_sql) = dead_statements(kind.is_some());
            let mut args: Vec<rusqlite::types::Value> =
                kind.map(|k| k.to_string().into()).into_iter().collect();
            let total = query_count(conn, &count_sql, params_from_iter(&args))?;
            args.push(i64::try_from(page.count).unwrap_or(i64::MAX).into());
            args.push(i64::try_from(page.offset).unwrap_or(i64::MAX).into());
            let items = query_items(conn, &page_sql, params_from_iter(&args))?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn retry_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
        now: Ts,
    ) -> StoreResult<u64> {
        let (id, kind) = (id.map(str::to_string), kind.map(OutboxKind::as_str));
        self.write(move |conn| {
            let (filter, mut args) = dead_filter(id, kind, 2);
            args.insert(0, now.0.into());
            Ok(exec(
                conn,
                &format!(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt = ?1,
                         since = ?1, lease_owner = NULL, lease_until = 0
                     WHERE {filter}"
                ),
                params_from_iter(&args),
            )? as u64)
        })
        .await
    }

    async fn drop_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
    ) -> StoreResult<u64> {
        let (id, kind) = (id.map(str::to_string), kind.map(OutboxKind::as_str));
        self.write(move |conn| {
            let (filter, args) = dead_filter(id, kind, 1);
            Ok(exec(
                conn,
                &format!("DELETE FROM outbox WHERE {filter}"),
                params_from_iter(&args),
            )? as u64)
        })
        .await
    }

    async fn outbox_stats(&self, now: Ts) -> StoreResult<Vec<OutboxStats>> {
        self.read(move |conn| {
            let mut out = Vec::with_capacity(OutboxKind::ALL.len());
            for kind in OutboxKind::ALL {
                let (pending, leased, oldest): (i64, i64, Option<i64>) = conn
                    .prepare_cached(OUTBOX_PENDING_STATS)
                    .map_err(map_err)?
                    .query_row(params![kind.as_str(), now.0], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(map_err)?;
                let dead = query_count(conn, OUTBOX_DEAD_COUNT, [kind.as_str()])?;
                out.push(OutboxStats {
                    kind: *kind,
                    pending: pending.max(0) as u64,
                    leased: leased.max(0) as u64,
                    dead,
                    oldest_pending: oldest.map(Ts),
                });
            }
            Ok(out)
        })
        .await
    }
}
