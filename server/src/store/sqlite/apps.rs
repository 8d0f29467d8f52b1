//! The apps engine's records on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{exec, map_err, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::apps::{
    log_level_rank, AppLogEntry, AppRecord, AppStore, DataQuota, JobRecord, SetOutcome,
};
use crate::store::{Listing, Page, StoreResult, Ts};

/// A page of an app's logs, newest first: `app_logs_app` (app_id, ts) walked
/// backwards, the level filtered on the way; `OFFSET` (the admin API's) costs one
/// index step per skipped entry. Logs are pruned by age, which bounds the total's count.
pub(super) const APP_LOGS_PAGE: &str = "SELECT doc FROM app_logs INDEXED BY app_logs_app
     WHERE app_id = ?1 AND level_rank >= ?2 ORDER BY ts DESC, rowid DESC LIMIT ?3 OFFSET ?4";

/// The total of an app's log page: counted in the app's range of `app_logs_level`
/// (app_id, level_rank), covering, so no entry is read; bounded by the retention.
pub(super) const APP_LOGS_COUNT: &str =
    "SELECT count(*) FROM app_logs WHERE app_id = ?1 AND level_rank >= ?2";

/// An app's keys under a prefix, in key order: a range of the primary key (app_id,
/// key) from the prefix to its successor (see [`prefix_end`]), not a filter over
/// every key of the app.
pub(super) const APP_DATA_KEYS: &str = "SELECT key FROM app_data WHERE app_id = ?1
     AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4";
/// [`APP_DATA_KEYS`] for a prefix without a successor (the empty one).
pub(super) const APP_DATA_KEYS_FROM: &str = "SELECT key FROM app_data WHERE app_id = ?1
     AND key >= ?2 ORDER BY key LIMIT ?3";

/// The least string greater than every string starting with `prefix` (its last
/// character that can be, incremented; text compares by code point, as UTF-8
/// bytes do); `None` when there is none (an empty prefix: every key).
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The scheduler's due jobs: a range of `app_jobs_due` (next_run), in its order.
pub(super) const DUE_JOBS: &str = "SELECT doc FROM app_jobs WHERE next_run <= ?1
     AND coalesce(json_extract(doc, '$.lease_until'), 0) <= ?1 ORDER BY next_run LIMIT ?2";

#[async_trait]
impl AppStore for SqliteStore {
    async fn put_app(&self, app: &AppRecord) -> StoreResult<()> {
        let (id, at, doc) = (app.id.clone(), app.installed_at.0, to_json(app)?);
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO apps (id, installed_at, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                params![id, at, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn app(&self, id: &str) -> StoreResult<Option<AppRecord>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM apps WHERE id = ?1", [&id]))
            .await
    }

    async fn apps(&self) -> StoreResult<Vec<AppRecord>> {
        self.read(|conn| query_docs(conn, "SELECT doc FROM apps ORDER BY installed_at, id", []))
            .await
    }

    async fn delete_app(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            for table in ["app_data", "app_logs", "app_jobs"] {
                exec(
                    conn,
                    &format!("DELETE FROM {table} WHERE app_id = ?1"),
                    [&id],
                )?;
            }
            Ok(exec(conn, "DELETE FROM apps WHERE id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn app_data_get(&self, app_id: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let (app, key) = (app_id.to_string(), key.to_string());
        self.read(move |conn| {
            conn.prepare_cached("SELECT value FROM app_data WHERE app_id = ?1 AND key = ?2")
                .map_err(map_err)?
                .query_row([&app, &key], |r| r.get::<_, Vec<u8>>(0))
                .optional()
                .map_err(map_err)
        })
        .await
    }

    async fn app_data_set(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome> {
        self.write_app_data(app_id, key, value, quota, false).await
    }

    async fn app_data_insert(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome> {
        self.write_app_data(app_id, key, value, quota, true).await
    }

    async fn app_data_delete(&self, app_id: &str, key: &str) -> StoreResult<bool> {
        let (app, key) = (app_id.to_string(), key.to_string());
        self.write(move |conn| {
            Ok(exec(
                conn,
                "DELETE FROM app_data WHERE app_id = ?1 AND key = ?2",
                [&app, &key],
            )? > 0)
        })
        .await
    }

    async fn app_data_keys(
        &self,
        app_id: &str,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let (app, prefix) = (app_id.to_string(), prefix.to_string());
        self.read(move |conn| {
            let (sql, args): (_, Vec<rusqlite::types::Value>) = match prefix_end(&prefix) {
                Some(end) => (
                    APP_DATA_KEYS,
                    vec![app.into(), prefix.into(), end.into(), limit.into()],
                ),
                None => (
                    APP_DATA_KEYS_FROM,
                    vec![app.into(), prefix.into(), limit.into()],
                ),
            };
            let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
                .map_err(map_err)?;
            rows.map(|r| r.map_err(map_err)).collect()
        })
        .await
    }

    async fn append_app_logs(&self, entries: &[AppLogEntry]) -> StoreResult<()> {
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            rows.push((
                e.app_id.clone(),
                e.ts.0,
                log_level_rank(&e.level),
                to_json(e)?,
            ));
        }
        self.write(move |conn| {
            for (app, ts, rank, doc) in &rows {
                exec(
                    conn,
                    "INSERT INTO app_logs (app_id, ts, level_rank, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![app, ts, rank, doc],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn app_logs(
        &self,
        app_id: &str,
        min_level: i64,
        page: Page,
    ) -> StoreResult<Listing<AppLogEntry>> {
        let app = app_id.to_string();
        self.read(move |conn| {
            let total = query_count(conn, APP_LOGS_COUNT, params![app, min_level])?;
            let items = query_docs(
                conn,
                APP_LOGS_PAGE,
                params![app, min_level, page.count as i64, page.offset as i64],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn prune_app_logs(&self, before: Ts) -> StoreResult<u64> {
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM app_logs WHERE ts < ?1", [before.0])? as u64)
        })
        .await
    }

    async fn put_job(&self, job: &JobRecord) -> StoreResult<()> {
        let (id, app, next, doc) = (
            job.id.clone(),
            job.app_id.clone(),
            job.next_run.0,
            to_json(job)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO app_jobs (id, app_id, next_run, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET next_run = excluded.next_run, doc = excluded.doc",
                params![id, app, next, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn delete_job(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let (app, id) = (app_id.to_string(), id.to_string());
        self.write(move |conn| {
            Ok(exec(
                conn,
                "DELETE FROM app_jobs WHERE id = ?1 AND app_id = ?2",
                [&id, &app],
            )? > 0)
        })
        .await
    }

    async fn delete_app_jobs(&self, app_id: &str) -> StoreResult<u64> {
        let app = app_id.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM app_jobs WHERE app_id = ?1", [&app])? as u64)
        })
        .await
    }

    async fn app_jobs(&self, app_id: &str) -> StoreResult<Vec<JobRecord>> {
        let app = app_id.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM app_jobs WHERE app_id = ?1 ORDER BY next_run, id",
                [&app],
            )
        })
        .await
    }

    async fn count_app_jobs(&self, app_id: &str) -> StoreResult<u64> {
        let app = app_id.to_string();
        self.read(move |conn| {
            query_count(
                conn,
                "SELECT count(*) FROM app_jobs WHERE app_id = ?1",
                [&app],
            )
        })
        .await
    }

    async fn claim_due_jobs(
        &self,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        let owner = owner.to_string();
        self.write(move |conn| {
            let due: Vec<JobRecord> = query_docs(conn, DUE_JOBS, params![now.0, limit])?;
            let mut claimed = Vec::with_capacity(due.len());
            for mut job in due {
                job.lease_owner = Some(owner.clone());
                job.lease_until = Some(lease_until);
                exec(
                    conn,
                    "UPDATE app_jobs SET doc = ?2 WHERE id = ?1",
                    params![job.id, to_json(&job)?],
                )?;
                claimed.push(job);
            }
            Ok(claimed)
        })
        .await
    }

    async fn finish_job(&self, id: &str, owner: &str, next_run: Option<Ts>) -> StoreResult<()> {
        let (id, owner) = (id.to_string(), owner.to_string());
        self.write(move |conn| {
            let Some(mut job) =
                query_doc::<JobRecord>(conn, "SELECT doc FROM app_jobs WHERE id = ?1", [&id])?
            else {
                return Ok(());
            };
            if job.lease_owner.as_deref() != Some(owner.as_str()) {
                return Ok(());
            }
            match next_run {
                Some(next) => {
                    job.next_run = next;
                    job.lease_owner = None;
                    job.lease_until = None;
                    exec(
                        conn,
                        "UPDATE app_jobs SET next_run = ?2, doc = ?3 WHERE id = ?1",
                        params![id, next.0, to_json(&job)?],
                    )?;
                }
                None => {
                    exec(conn, "DELETE FROM app_jobs WHERE id = ?1", [&id])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn release_job_leases(&self, owner: &str) -> StoreResult<u64> {
        let owner = owner.to_string();
        self.write(move |conn| {
            let held: Vec<JobRecord> = query_docs(
                conn,
                "SELECT doc FROM app_jobs WHERE json_extract(doc, '$.lease_owner') = ?1",
                [&owner],
            )?;
            for mut job in held.iter().cloned() {
                job.lease_owner = None;
                job.lease_until = None;
                exec(
                    conn,
                    "UPDATE app_jobs SET doc = ?2 WHERE id = ?1",
                    params![job.id, to_json(&job)?],
                )?;
            }
            Ok(held.len() as u64)
        })
        .await
    }
}

impl SqliteStore {
    /// Quota check and write in one step of the single writer, so both are atomic.
    async fn write_app_data(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
        only_if_absent: bool,
    ) -> StoreResult<SetOutcome> {
        let (app, key, value) = (app_id.to_string(), key.to_string(), value.to_vec());
        self.write(move |conn| {
            if only_if_absent {
                let exists = conn
                    .prepare_cached("SELECT 1 FROM app_data WHERE app_id = ?1 AND key = ?2")
                    .map_err(map_err)?
                    .exists([&app, &key])
                    .map_err(map_err)?;
                if exists {
                    return Ok(SetOutcome::Exists);
                }
            }
            let (keys, bytes): (i64, i64) = conn
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0)
                     FROM app_data WHERE app_id = ?1 AND key <> ?2",
                )
                .map_err(map_err)?
                .query_row([&app, &key], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(map_err)?;
            if keys as u64 + 1 > quota.max_keys {
                return Ok(SetOutcome::QuotaExceeded("persistence-keys"));
            }
            if (bytes as u64) + (key.len() + value.len()) as u64 > quota.max_bytes {
                return Ok(SetOutcome::QuotaExceeded("persistence-bytes"));
            }
            exec(
                conn,
                "INSERT INTO app_data (app_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
                params![app, key, value],
            )?;
            Ok(SetOutcome::Stored)
        })
        .await
    }
}
