//! Versioned schema migrations, applied in order inside one transaction each;
//! `PRAGMA user_version` records how far a database file has come.

use rusqlite::Connection;

use super::backend;
use crate::store::{StoreError, StoreResult};

use super::migrations::MIGRATIONS;

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::Backend(format!(
            "database schema version {current} is newer than this palaver understands ({known}); \
             upgrade palaver"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Backend(format!("schema migration to version {version} failed: {e}"))
        })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(version, "sqlite schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_fresh_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn the_room_trigram_index_is_filled_from_existing_rooms() {
        // A database from before the migration: its rooms are indexed by it.
        let at = MIGRATIONS
            .iter()
            .position(|m| m.contains("CREATE VIRTUAL TABLE rooms_search"))
            .unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..at] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", at as i64).unwrap();
        conn.execute(
            r#"INSERT INTO rooms (id, t, name_key, doc) VALUES
               ('r1', 'c', 'general', '{"fname": "General"}'), ('r2', 'd', NULL, '{}')"#,
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let found: Vec<String> = conn
            .prepare("SELECT rid FROM rooms_search WHERE rooms_search MATCH '{name} : \"ener\"'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(found, ["r1"]);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM rooms_search_rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn refuses_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
