//! The delivery queue on SQLite: table `outbox`, one row per item. The single
//! writer makes each lease (one `UPDATE … RETURNING`) atomic.

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

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

/// Matches every kind when parameter `n` is NULL, else that kind.
fn kind_filter(n: usize) -> String {
    format!("(?{n} IS NULL OR kind = ?{n})")
}

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

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_outbox(&self, items: &[OutboxItem]) -> StoreResult<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::with_capacity(items.len());
        for i in items {
            rows.push((i.clone(), to_json(&i.payload)?));
        }
        self.write(move |conn| {
            let mut inserted = 0u64;
            for (i, payload) in &rows {
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
                        payload,
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
            let total = query_count(
                conn,
                &format!(
                    "SELECT count(*) FROM outbox WHERE state = 'dead' AND {}",
                    kind_filter(1)
                ),
                params![kind],
            )?;
            let items = query_items(
                conn,
                &format!(
                    "SELECT {COLUMNS} FROM outbox WHERE state = 'dead' AND {}
                     ORDER BY created_at, id LIMIT ?2 OFFSET ?3",
                    kind_filter(1)
                ),
                params![
                    kind,
                    i64::try_from(page.count).unwrap_or(i64::MAX),
                    page.offset as i64
                ],
            )?;
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
            Ok(exec(
                conn,
                &format!(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt = ?3,
                         since = ?3, lease_owner = NULL, lease_until = 0
                     WHERE state = 'dead' AND (?1 IS NULL OR id = ?1) AND {}",
                    kind_filter(2)
                ),
                params![id, kind, now.0],
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
            Ok(exec(
                conn,
                &format!(
                    "DELETE FROM outbox WHERE state = 'dead' AND (?1 IS NULL OR id = ?1) AND {}",
                    kind_filter(2)
                ),
                params![id, kind],
            )? as u64)
        })
        .await
    }

    async fn outbox_stats(&self, now: Ts) -> StoreResult<Vec<OutboxStats>> {
        self.read(move |conn| {
            let mut out = Vec::with_capacity(OutboxKind::ALL.len());
            for kind in OutboxKind::ALL {
                let (pending, leased, oldest): (i64, i64, Option<i64>) = conn
                    .prepare_cached(
                        "SELECT count(*), coalesce(sum(lease_until > ?2), 0), min(created_at)
                         FROM outbox WHERE kind = ?1 AND state = 'pending'",
                    )
                    .map_err(map_err)?
                    .query_row(params![kind.as_str(), now.0], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(map_err)?;
                let dead = query_count(
                    conn,
                    "SELECT count(*) FROM outbox WHERE kind = ?1 AND state = 'dead'",
                    [kind.as_str()],
                )?;
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
