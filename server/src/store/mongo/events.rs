//! Events between instances: each instance inserts its events into `events` and
//! tails the collection with a change stream, skipping its own. Entries expire after
//! a few minutes (TTL index); they are a transport, not a history.

use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

use super::Ctx;
use crate::store::{EventRelay, StoreError, StoreResult};

pub(super) const EVENTS: &str = "events";

pub(super) async fn create_indexes(db: &Database) -> StoreResult<()> {
    let ttl = IndexModel::builder()
        .keys(doc! {"at": 1})
        .options(
            IndexOptions::builder()
                .name("ttl_at".to_string())
                .expire_after(Duration::from_secs(300))
                .build(),
        )
        .build();
    db.collection::<Document>(EVENTS)
        .create_index(ttl)
        .await
        .ctx("create event indexes")?;
    Ok(())
}

pub(super) struct MongoRelay {
    events: Collection<Document>,
}

impl MongoRelay {
    pub(super) fn new(events: Collection<Document>) -> MongoRelay {
        MongoRelay { events }
    }
}

#[async_trait::async_trait]
impl EventRelay for MongoRelay {
    async fn publish(&self, origin: &str, event: &str) -> StoreResult<()> {
        self.events
            .insert_one(doc! {"origin": origin, "at": DateTime::now(), "event": event})
            .await
            .ctx("publish event")?;
        Ok(())
    }

    async fn subscribe(
        &self,
        origin: &str,
    ) -> StoreResult<BoxStream<'static, StoreResult<String>>> {
        let stream = self
            .events
            .watch()
            .pipeline([doc! {"$match": {
                "operationType": "insert",
                "fullDocument.origin": {"$ne": origin},
            }}])
            .await
            .ctx("watch events")?;
        Ok(stream
            .map(|change| {
                let change =
                    change.map_err(|e| StoreError::Backend(format!("event stream: {e}")))?;
                change
                    .full_document
                    .and_then(|d| d.get_str("event").ok().map(str::to_string))
                    .ok_or_else(|| StoreError::Backend("event without a body".into()))
            })
            .boxed())
    }
}
