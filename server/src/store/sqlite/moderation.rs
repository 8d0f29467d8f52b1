//! Message reports on SQLite: table `message_reports`, one JSON document per report
//! next to the message id and time it is listed by.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_count, query_docs, to_json, SqliteStore};
use crate::store::moderation::{MessageReport, ModerationStore};
use crate::store::{Listing, Page, StoreResult};

#[async_trait]
impl ModerationStore for SqliteStore {
    async fn insert_message_report(&self, report: &MessageReport) -> StoreResult<()> {
        let (id, mid, ts, doc) = (
            report.id.clone(),
            report.message_id.clone(),
            report.ts.0,
            to_json(report)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO message_reports (id, message_id, ts, doc) VALUES (?1, ?2, ?3, ?4)",
                params![id, mid, ts, doc],
            )
            .map(drop)
        })
        .await
    }

    /// A range of `message_reports_by_message`, walked backwards to the limit.
    async fn message_reports(
        &self,
        message_id: &str,
        page: Page,
    ) -> StoreResult<Listing<MessageReport>> {
        let mid = message_id.to_string();
        self.read(move |conn| {
            let total = query_count(
                conn,
                "SELECT count(*) FROM message_reports WHERE message_id = ?1",
                params![mid],
            )?;
            let items = query_docs(
                conn,
                "SELECT doc FROM message_reports WHERE message_id = ?1 \
                 ORDER BY ts DESC, id DESC LIMIT ?2 OFFSET ?3",
                params![
                    mid,
                    i64::try_from(page.count).unwrap_or(i64::MAX),
                    i64::try_from(page.offset).unwrap_or(i64::MAX)
                ],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }
}
