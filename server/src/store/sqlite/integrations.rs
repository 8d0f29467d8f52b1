//! Integrations (incoming webhooks) on SQLite: table `integrations`, one JSON
//! document per integration next to its creation time (the listing order).

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::integrations::{Integration, IntegrationHistory, IntegrationStore};
use crate::store::{Listing, Page, StoreResult, Ts};

fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn insert_integration(&self, integration: &Integration) -> StoreResult<()> {
        let (id, at, doc) = (
            integration.id.clone(),
            integration.created_at.0,
            to_json(integration)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO integrations (id, created_at, doc) VALUES (?1, ?2, ?3)",
                params![id, at, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn integration(&self, id: &str) -> StoreResult<Option<Integration>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM integrations WHERE id = ?1", [&id]))
            .await
    }

    async fn list_integrations(&self, page: Page) -> StoreResult<Listing<Integration>> {
        self.read(move |conn| {
            let total = query_count(conn, "SELECT count(*) FROM integrations", [])?;
            let items = query_docs(
                conn,
                "SELECT doc FROM integrations ORDER BY created_at, id LIMIT ?1 OFFSET ?2",
                params![
                    i64::try_from(page.count).unwrap_or(i64::MAX),
                    i64::try_from(page.offset).unwrap_or(i64::MAX)
                ],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn update_integration(&self, integration: &Integration) -> StoreResult<bool> {
        let (id, doc) = (integration.id.clone(), to_json(integration)?);
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE integrations SET doc = ?2 WHERE id = ?1",
                params![id, doc],
            )? > 0)
        })
        .await
    }

    async fn delete_integration(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| Ok(exec(conn, "DELETE FROM integrations WHERE id = ?1", [&id])? > 0))
            .await
    }

    async fn insert_integration_history(&self, entry: &IntegrationHistory) -> StoreResult<()> {
        let (id, integration, at, doc) = (
            entry.id.clone(),
            entry.integration_id.clone(),
            entry.at.0,
            to_json(entry)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO integration_history (id, integration_id, at, doc) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, integration, at, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn integration_history(
        &self,
        integration_id: &str,
        page: Page,
    ) -> StoreResult<Listing<IntegrationHistory>> {
        let integration = integration_id.to_string();
        self.read(move |conn| {
            let total = query_count(
                conn,
                "SELECT count(*) FROM integration_history WHERE integration_id = ?1",
                [&integration],
            )?;
            let items = query_docs(
                conn,
                "SELECT doc FROM integration_history WHERE integration_id = ?1 \
                 ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3",
                params![integration, sql_int(page.count), sql_int(page.offset)],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn prune_integration_history(
        &self,
        integration_id: &str,
        keep: u64,
        before: Ts,
    ) -> StoreResult<u64> {
        let integration = integration_id.to_string();
        self.write(move |conn| {
            let n = exec(
                conn,
                "DELETE FROM integration_history WHERE integration_id = ?1 AND (at < ?3 \
                 OR id IN (SELECT id FROM integration_history WHERE integration_id = ?1 \
                 ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?2))",
                params![integration, sql_int(keep), before.0],
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_integration_history(&self, integration_id: &str) -> StoreResult<u64> {
        let integration = integration_id.to_string();
        self.write(move |conn| {
            let n = exec(
                conn,
                "DELETE FROM integration_history WHERE integration_id = ?1",
                [&integration],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
