//! The settings audit log on SQLite: table `setting_changes`, one JSON document per
//! change next to the columns it is filtered and ordered by.

use async_trait::async_trait;
use rusqlite::params;
use rusqlite::types::Value as SqlValue;

use super::{exec, query_count, query_docs, to_json, SqliteStore};
use crate::store::settings_audit::{SettingAuditStore, SettingChange, SettingChangeQuery};
use crate::store::{Listing, Page, StoreResult};

/// The filter of an audit listing, one statement per shape (only the terms asked
/// for), its arguments and the order. With a setting or an actor the listing is a
/// range of `setting_changes_setting_order` / `setting_changes_actor` (the key,
/// ts, id), else of `setting_changes_ts` (ts, id), walked in its order to the
/// `LIMIT`; `OFFSET` (the admin API's) costs one index step per skipped change. The
/// total is counted in the same range: the changes the filter selects.
pub(super) fn audit_filter(query: &SettingChangeQuery) -> (String, Vec<SqlValue>, &'static str) {
    let mut filter = String::from("WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(id) = &query.setting_id {
        args.push(SqlValue::Text(id.clone()));
        filter.push_str(&format!(" AND setting_id = ?{}", args.len()));
    }
    if let Some(actor) = &query.actor_id {
        args.push(SqlValue::Text(actor.clone()));
        filter.push_str(&format!(" AND actor_id = ?{}", args.len()));
    }
    if let Some(since) = query.since {
        args.push(SqlValue::Integer(since.0));
        filter.push_str(&format!(" AND ts >= ?{}", args.len()));
    }
    if let Some(until) = query.until {
        args.push(SqlValue::Integer(until.0));
        filter.push_str(&format!(" AND ts <= ?{}", args.len()));
    }
    let dir = if query.oldest_first { "ASC" } else { "DESC" };
    (filter, args, dir)
}

#[async_trait]
impl SettingAuditStore for SqliteStore {
    async fn insert_setting_change(&self, change: &SettingChange) -> StoreResult<()> {
        let (id, setting, ts, actor, doc) = (
            change.id.clone(),
            change.setting_id.clone(),
            change.ts.0,
            change.actor.id.clone(),
            to_json(change)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO setting_changes (id, setting_id, ts, actor_id, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, setting, ts, actor, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn setting_changes(
        &self,
        query: &SettingChangeQuery,
        page: Page,
    ) -> StoreResult<Listing<SettingChange>> {
        let (filter, args, dir) = audit_filter(query);
        self.read(move |conn| {
            let total = query_count(
                conn,
                &format!("SELECT count(*) FROM setting_changes {filter}"),
                rusqlite::params_from_iter(args.iter()),
            )?;
            let mut paged = args.clone();
            paged.push(SqlValue::Integer(
                i64::try_from(page.count).unwrap_or(i64::MAX),
            ));
            paged.push(SqlValue::Integer(
                i64::try_from(page.offset).unwrap_or(i64::MAX),
            ));
            let n = args.len();
            let items = query_docs(
                conn,
                &format!(
                    "SELECT doc FROM setting_changes {filter} ORDER BY ts {dir}, id {dir} \
                     LIMIT ?{} OFFSET ?{}",
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
