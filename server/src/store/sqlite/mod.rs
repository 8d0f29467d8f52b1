//! Embedded SQLite backend (rusqlite, bundled).
//!
//! Writes go to one dedicated writer thread ([`writer`]) that group-commits, and
//! serves requests' writes before background ones; another thread checkpoints the
//! write-ahead log ([`checkpoint`]), so no commit pays for it. Reads use a small pool of
//! read-only connections on tokio's blocking pool, so no SQLite call ever runs on
//! an async worker thread.
//!
//! Records are stored as JSON documents next to the few columns that are indexed or
//! unique.

mod apps;
mod checkpoint;
mod discussions;
mod exports;
mod integrations;
mod invites;
mod job_leases;
mod matrix;
mod message_lists;
mod messages;
mod migrations;
mod moderation;
mod once;
mod outbox;
mod presence;
mod push;
mod roles;
mod rooms;
mod schema;
mod settings_audit;
mod thread_unread;
mod uploads;
mod users;
mod writer;

#[cfg(test)]
mod plans;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::lane::{thread_lane, Lane};
use super::{Store, StoreError, StoreResult};

const READERS: usize = 4;
/// The writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Readers background work may hold at once: the rest stay free for requests.
const BACKGROUND_READERS: usize = 2;

pub struct SqliteStore {
    writer: writer::Writer,
    /// The size cap in pages (`max_page_count`), when there is one.
    cap_pages: Option<u64>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_slots: Arc<Semaphore>,
    background_read_slots: Arc<Semaphore>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps SQLite uniqueness failures to `Conflict` naming what clashed.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(code, _) = &e {
        // SQLITE_FULL: the disk, or `max_page_count` (the configured size cap).
        if code.code == rusqlite::ErrorCode::DiskFull {
            return super::full::full("sqlite", e);
        }
    }
    if let rusqlite::Error::SqliteFailure(code, Some(msg)) = &e {
        if code.code == rusqlite::ErrorCode::ConstraintViolation {
            let what = if msg.contains("roles.name") {
                "role name"
            } else if msg.contains("username_key") {
                "username"
            } else if msg.contains("user_emails") {
                "email"
            } else if msg.contains("user_services") {
                "service"
            } else if msg.contains("name_key") {
                "room name"
            } else if msg.contains("subscriptions.rid") {
                "subscription"
            } else {
                "id"
            };
            return StoreError::Conflict(what);
        }
    }
    backend(e)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(backend)
}

pub(crate) fn from_json<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("corrupt record: {e}")))
}

/// Runs a query whose first column is a JSON document; at most one row.
pub(crate) fn query_doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    let doc: Option<String> = conn
        .prepare_cached(sql)
        .map_err(map_err)?
        .query_row(params, |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    doc.map(|d| from_json(&d)).transpose()
}

/// Runs a query whose first column is a JSON document; every row.
pub(crate) fn query_docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    rows.map(|doc| from_json(&doc.map_err(map_err)?)).collect()
}

/// Appends `LIMIT`/`OFFSET` arguments for `page`; `probe` asks one row more (see
/// [`super::Listing::probed`]).
pub(crate) fn page_args(args: &mut Vec<rusqlite::types::Value>, page: super::Page, probe: bool) {
    let count = page.count.saturating_add(u64::from(probe));
    args.push(i64::try_from(count).unwrap_or(i64::MAX).into());
    args.push(i64::try_from(page.offset).unwrap_or(i64::MAX).into());
}

/// Runs a query returning one integer (a count).
pub(crate) fn query_count(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(sql)
        .map_err(map_err)?
        .query_row(params, |r| r.get(0))
        .map_err(map_err)?;
    Ok(n.max(0) as u64)
}

/// Executes a statement; returns the number of rows changed.
pub(crate) fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .map_err(map_err)?
        .execute(params)
        .map_err(map_err)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` substring pattern.
pub(crate) fn like_pattern(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len() + 2);
    out.push('%');
    for c in filter.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn open_connection(path: &Path, flags: OpenFlags, sync_full: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Caps the database at `max_bytes` with `max_page_count` (on the writer, the only
/// connection that grows the file). SQLite never sets it below the current size.
/// Returns the cap in pages.
fn cap_size(conn: &Connection, max_bytes: u64) -> StoreResult<u64> {
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(backend)?;
    let pages = (max_bytes / page_size.max(512) as u64).max(1);
    let set = set_max_pages(conn, pages)?;
    tracing::info!(
        max_bytes,
        max_pages = set,
        page_size,
        "sqlite database size capped"
    );
    Ok(pages)
}

fn set_max_pages(conn: &Connection, pages: u64) -> StoreResult<i64> {
    conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
        r.get(0)
    })
    .map_err(backend)
}

/// Pages beyond the cap a write that frees space may use: deleting still writes a
/// little (the search index records deletions, a deleted message leaves a
/// tombstone), and a full database must let an administrator delete.
fn freeing_reserve(cap_pages: u64) -> u64 {
    (cap_pages / 100).max(64)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates its schema.
    /// `sync_full` makes every commit survive power loss, not only a process crash.
    pub async fn open(path: &Path, sync_full: bool) -> StoreResult<SqliteStore> {
        Self::open_capped(path, sync_full, 0).await
    }

    /// [`open`](Self::open), refusing writes (as [`StoreError::Full`]) that would
    /// grow the file past `max_bytes` (0: no cap).
    pub async fn open_capped(
        path: &Path,
        sync_full: bool,
        max_bytes: u64,
    ) -> StoreResult<SqliteStore> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, sync_full, max_bytes))
            .await
            .map_err(backend)?
    }

    fn open_blocking(path: &Path, sync_full: bool, max_bytes: u64) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let mut conn = open_connection(path, OpenFlags::default(), sync_full)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        schema::migrate(&mut conn)?;
        // The writer's page cache holds a large room's subscriptions, which every
        // post to it updates, beside the pages background writes pass through
        // (SQLite's default is 2 MB).
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(backend)?;
        // Every write runs in a savepoint of the writer's group transaction, so the
        // pages it changes are copied to a statement journal; past 64 KiB SQLite
        // spills that journal to a temporary file, created, written and deleted
        // once per transaction (a fifth of the writer's time under a large room's
        // notifications). In memory it stays, bounded by what one write touches.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(backend)?;
        let cap_pages = if max_bytes > 0 {
            Some(cap_size(&conn, max_bytes)?)
        } else {
            None
        };

        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let r = Connection::open_with_flags(path, flags).map_err(backend)?;
            r.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(backend)?;
            readers.push(r);
        }

        let checkpoints =
            open_connection(path, OpenFlags::default(), sync_full).map_err(backend)?;
        let writer = writer::Writer::start(conn, Some(checkpoints)).map_err(backend)?;
        tracing::info!(path = %path.display(), sync_full, "sqlite storage open");
        Ok(SqliteStore {
            writer,
            cap_pages,
            readers: Arc::new(Mutex::new(readers)),
            read_slots: Arc::new(Semaphore::new(READERS)),
            background_read_slots: Arc::new(Semaphore::new(BACKGROUND_READERS)),
        })
    }

    /// Runs `f` on the writer connection inside a savepoint; resolves once the
    /// enclosing transaction has committed.
    pub(crate) async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// [`SqliteStore::write`] for a write that frees space (deleting messages,
    /// rooms, files, users): it may grow the file a little past the size cap
    /// ([`freeing_reserve`]), so a full database can always be emptied. The cap is
    /// back for the next write (SQLite keeps it at the file's size if that is
    /// larger by then).
    pub(crate) async fn write_freeing<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let Some(cap) = self.cap_pages else {
            return self.write(f).await;
        };
        self.writer
            .write(move |conn| {
                set_max_pages(conn, cap + freeing_reserve(cap))?;
                let result = f(conn);
                let restored = set_max_pages(conn, cap);
                let out = result?;
                restored?;
                Ok(out)
            })
            .await
    }

    /// Runs `f` on a pooled read-only connection on the blocking pool. Background
    /// reads (a fan-out's pages, a push's device) take at most
    /// [`BACKGROUND_READERS`] of the connections, so a request never queues
    /// behind thousands of them.
    pub(crate) async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let background = match thread_lane() {
            Lane::Background => Some(
                self.background_read_slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(backend)?,
            ),
            Lane::Request => None,
        };
        let permit = self
            .read_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(backend)?;
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .lock()
                .map_err(|_| StoreError::Backend("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Backend("no reader connection".into()))?;
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&conn)))
                .unwrap_or_else(|_| Err(StoreError::Backend("read panicked".into())));
            if let Ok(mut pool) = pool.lock() {
                pool.push(conn);
            }
            drop(permit);
            drop(background);
            result
        })
        .await
        .map_err(backend)?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    /// One process owns the database file: there are no other instances.
    fn event_relay(&self) -> Option<Arc<dyn crate::store::EventRelay>> {
        None
    }

    async fn close(&self) -> StoreResult<()> {
        self.writer.close().await
    }
}
