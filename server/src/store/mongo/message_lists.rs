//! Messages on MongoDB beyond the post path: pins, stars, thread followers, the
//! filtered listings of a room (each on an index of its own, named as a hint),
//! syncs by change time, tombstones of deleted messages (`messages_trash`) and
//! search over a words array (`_words`, indexed with the room).

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Hint, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, page_limit, substring, Ctx, MongoStore, IDX_THREAD_TS};
use crate::store::{
    search_words, Listing, Message, MessageFilter, Page, StoreResult, SyncScope, Tombstone, Ts,
    UserRef,
};

const TRASH: &str = "messages_trash";
const IDX_PINNED: &str = "by_room_pinned_ts";
const IDX_STARRED: &str = "by_room_starred_ts";
const IDX_MENTIONS: &str = "by_room_mentions_ts";
const IDX_THREADS: &str = "by_room_tlm";
const IDX_CHANGED: &str = "by_room_updated";
const IDX_WORDS: &str = "by_room_words_ts";
const IDX_TRASH_ROOM: &str = "by_room_deleted";
const IDX_TRASH_THREAD: &str = "by_thread_deleted";

/// The `_words` field a message document carries for search.
pub(super) fn words_of(msg: &Message) -> Bson {
    Bson::Array(
        search_words(&msg.msg)
            .into_iter()
            .map(Bson::String)
            .collect(),
    )
}

/// Filter, sort and index of a room listing.
fn listing_find(rid: &str, filter: &MessageFilter) -> (Document, Document, &'static str) {
    let newest = doc! { "ts": -1, "_id": -1 };
    match filter {
        MessageFilter::Pinned => (doc! { "rid": rid, "pinned": true }, newest, IDX_PINNED),
        MessageFilter::StarredBy(uid) => {
            (doc! { "rid": rid, "starred._id": uid }, newest, IDX_STARRED)
        }
        MessageFilter::Mentioning(uid) => (
            doc! { "rid": rid, "mentions._id": uid },
            newest,
            IDX_MENTIONS,
        ),
        MessageFilter::Threads {
            text,
            follower,
            ids,
        } => {
            // Thread parents are the room's messages with a `tlm`.
            let mut f = doc! { "rid": rid, "tlm": { "$gt": 0_i64 }, "tcount": { "$exists": true } };
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                f.insert("msg", substring(text));
            }
            if let Some(uid) = follower {
                f.insert("replies", uid);
            }
            if let Some(ids) = ids {
                f.insert("_id", doc! { "$in": ids.clone() });
            }
            (f, doc! { "tlm": -1, "_id": -1 }, IDX_THREADS)
        }
        MessageFilter::Discussions { text } => {
            let mut f = doc! { "rid": rid, "drid": { "$exists": true } };
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                f.insert("msg", substring(text));
            }
            (f, newest, super::discussions::IDX_ROOM_DISCUSSIONS)
        }
    }
}

impl MongoStore {
    fn trash(&self) -> Collection<Document> {
        self.coll(TRASH)
    }

    /// Creates the indexes of the listings, syncs, tombstones and search.
    pub(super) async fn create_message_list_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_string()).build())
                .build()
        };
        self.messages
            .create_indexes([
                index(
                    doc! { "rid": 1, "pinned": 1, "ts": -1, "_id": -1 },
                    IDX_PINNED,
                ),
                index(
                    doc! { "rid": 1, "starred._id": 1, "ts": -1, "_id": -1 },
                    IDX_STARRED,
                ),
                index(
                    doc! { "rid": 1, "mentions._id": 1, "ts": -1, "_id": -1 },
                    IDX_MENTIONS,
                ),
                index(doc! { "rid": 1, "tlm": -1, "_id": -1 }, IDX_THREADS),
                index(doc! { "rid": 1, "_updatedAt": 1 }, IDX_CHANGED),
                index(
                    doc! { "rid": 1, "_words": 1, "ts": -1, "_id": -1 },
                    IDX_WORDS,
                ),
            ])
            .await
            .map_err(|e| backend("creating message list indexes", e))?;
        self.trash()
            .create_indexes([
                index(doc! { "rid": 1, "_deletedAt": 1, "_id": 1 }, IDX_TRASH_ROOM),
                index(
                    doc! { "tmid": 1, "_deletedAt": 1, "_id": 1 },
                    IDX_TRASH_THREAD,
                ),
            ])
            .await
            .map_err(|e| backend("creating trash indexes", e))?;
        Ok(())
    }

    pub(super) async fn list_room_messages(
        &self,
        rid: &str,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Listing<Message>> {
        let (f, sort, index) = listing_find(rid, filter);
        let total = self
            .messages
            .count_documents(f.clone())
            .hint(Hint::Name(index.to_string()))
            .await
            .ctx("count messages")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .messages
            .find(f)
            .sort(sort)
            .hint(Hint::Name(index.to_string()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list messages")?;
        Ok(Listing {
            items: collect(cursor, "message").await?,
            total,
        })
    }

    pub(super) async fn change_one(
        &self,
        id: &str,
        update: Document,
    ) -> StoreResult<Option<Message>> {
        let after = self
            .messages
            .find_one_and_update(doc! { "_id": id }, update)
            .return_document(ReturnDocument::After)
            .await
            .ctx("update message")?;
        let Some(after) = after else {
            return Ok(None);
        };
        self.refresh_room_last(&after).await?;
        from_doc(after, "message").map(Some)
    }

    /// Keeps the room's copy of its last message in step with a changed message
    /// (`after`, the message's stored document).
    pub(super) async fn refresh_room_last(&self, after: &Document) -> StoreResult<()> {
        let (Ok(rid), Ok(id)) = (after.get_str("rid"), after.get_str("_id")) else {
            return Ok(());
        };
        let mut last = after.clone();
        last.remove("_words");
        self.rooms
            .update_one(
                doc! { "_id": rid, "lastMessage._id": id },
                doc! { "$set": { "lastMessage": last } },
            )
            .await
            .ctx("refresh last message")?;
        Ok(())
    }

    pub(super) async fn pin(
        &self,
        id: &str,
        by: Option<&UserRef>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let update = match by {
            Some(by) => doc! { "$set": {
                "pinned": true, "pinnedAt": at.0, "_updatedAt": at.0,
                "pinnedBy": { "_id": &by.id, "username": &by.username },
            } },
            None => doc! {
                "$set": { "pinned": false, "_updatedAt": at.0 },
                "$unset": { "pinnedBy": "" },
            },
        };
        self.change_one(id, update).await
    }

    pub(super) async fn star(
        &self,
        id: &str,
        user_id: &str,
        star: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let change = if star { "$addToSet" } else { "$pull" };
        let after = self
            .change_one(
                id,
                doc! { change: { "starred": { "_id": user_id } }, "$set": { "_updatedAt": at.0 } },
            )
            .await?;
        // The last star gone: no empty array left behind (the index and the
        // document shape stay as if it had never been starred).
        if after.as_ref().is_some_and(|m| m.marks.starred.is_empty()) {
            self.messages
                .update_one(
                    doc! { "_id": id, "starred": { "$size": 0 } },
                    doc! { "$unset": { "starred": "" } },
                )
                .await
                .ctx("update message")?;
        }
        Ok(after)
    }

    pub(super) async fn follow(
        &self,
        id: &str,
        user_id: &str,
        follow: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let change = if follow { "$addToSet" } else { "$pull" };
        self.change_one(
            id,
            doc! { change: { "replies": user_id }, "$set": { "_updatedAt": at.0 } },
        )
        .await
    }

    pub(super) async fn changed_since(
        &self,
        scope: &SyncScope,
        since: Ts,
        count: u64,
    ) -> StoreResult<Vec<Message>> {
        let after = doc! { "$gt": since.0 };
        let (f, index) = match scope {
            SyncScope::Room(rid) => (doc! { "rid": rid, "_updatedAt": after }, IDX_CHANGED),
            SyncScope::Threads(rid) => (
                doc! { "rid": rid, "tlm": { "$gt": 0_i64 }, "tcount": { "$exists": true }, "_updatedAt": after },
                IDX_THREADS,
            ),
            SyncScope::Thread(tmid) => (doc! { "tmid": tmid, "_updatedAt": after }, IDX_THREAD_TS),
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .messages
            .find(f)
            .sort(doc! { "_updatedAt": 1 })
            .hint(Hint::Name(index.to_string()))
            .limit(i64::try_from(count).unwrap_or(i64::MAX))
            .await
            .ctx("changed messages")?;
        collect(cursor, "message").await
    }

    pub(super) async fn tombstones(
        &self,
        scope: &SyncScope,
        since: Ts,
        page: Page,
    ) -> StoreResult<Listing<Tombstone>> {
        let after = doc! { "$gt": since.0 };
        let (f, index) = match scope {
            SyncScope::Room(rid) => (doc! { "rid": rid, "_deletedAt": after }, IDX_TRASH_ROOM),
            SyncScope::Threads(rid) => (
                doc! { "rid": rid, "_deletedAt": after, "wasThread": true },
                IDX_TRASH_ROOM,
            ),
            SyncScope::Thread(tmid) => {
                (doc! { "tmid": tmid, "_deletedAt": after }, IDX_TRASH_THREAD)
            }
        };
        let total = self
            .trash()
            .count_documents(f.clone())
            .hint(Hint::Name(index.to_string()))
            .await
            .ctx("count deleted messages")?;
        let mut items = Vec::new();
        if page.count > 0 {
            let mut cursor = self
                .trash()
                .find(f)
                .sort(doc! { "_deletedAt": 1, "_id": 1 })
                .hint(Hint::Name(index.to_string()))
                .skip(page.offset)
                .limit(page_limit(page))
                .await
                .ctx("deleted messages")?;
            while cursor.advance().await.ctx("deleted messages")? {
                let d = Document::try_from(cursor.current())
                    .map_err(|e| backend("corrupt tombstone", e))?;
                items.push(Tombstone {
                    id: d.get_str("_id").unwrap_or_default().to_string(),
                    rid: d.get_str("rid").unwrap_or_default().to_string(),
                    tmid: d.get_str("tmid").ok().map(str::to_string),
                    was_thread: d.get_bool("wasThread").unwrap_or(false),
                    deleted_at: Ts(d.get_i64("_deletedAt").unwrap_or(0)),
                });
            }
        }
        Ok(Listing { items, total })
    }

    /// Records a deleted message's tombstone.
    pub(super) async fn bury(&self, msg: &Document, at: Ts) -> StoreResult<()> {
        let Ok(id) = msg.get_str("_id") else {
            return Ok(());
        };
        let mut tomb = doc! {
            "_id": id,
            "rid": msg.get_str("rid").unwrap_or_default(),
            "wasThread": msg.contains_key("tcount"),
            "_deletedAt": at.0,
        };
        if let Ok(tmid) = msg.get_str("tmid") {
            tomb.insert("tmid", tmid);
        }
        self.trash()
            .replace_one(doc! { "_id": id }, tomb)
            .upsert(true)
            .await
            .ctx("record deleted message")?;
        Ok(())
    }

    pub(super) async fn search(
        &self,
        rid: &str,
        words: &[String],
        page: Page,
    ) -> StoreResult<Vec<Message>> {
        if words.is_empty() || page.count == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .messages
            .find(doc! { "rid": rid, "_words": { "$all": words.to_vec() } })
            .sort(doc! { "ts": -1, "_id": -1 })
            .hint(Hint::Name(IDX_WORDS.to_string()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("search messages")?;
        collect(cursor, "message").await
    }
}
