//! Messages on MongoDB: the post path (message, then room, thread parent and
//! members' counters with atomic update operators), edits, reactions, deletes and
//! history.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Hint, ReturnDocument};

use super::{
    backend, collect, from_doc, page_limit, set_unset, to_doc, write_error, Ctx, MongoStore,
    IDX_ID, IDX_ROOM_TS, IDX_THREAD_TS, MESSAGES,
};
use crate::store::message_urls::MessageUrl;
use crate::store::{
    CleanHistory, DeletedMessage, HistoryQuery, Listing, Message, MessageFilter, MessageStore,
    Page, PostEffects, Reaction, StoreResult, SyncScope, Tombstone, Ts, UserRef,
};

/// Fields of a message document that may be absent.
const MESSAGE_OPTIONAL: &[&str] = &[
    "t",
    "editedAt",
    "editedBy",
    "reactions",
    "tmid",
    "tcount",
    "tlm",
    "replies",
    "alias",
    "emoji",
    "avatar",
    "attachments",
    "bot",
    "mentions",
    "customFields",
    "pinned",
    "pinnedAt",
    "pinnedBy",
    "starred",
    "md",
    "urls",
];
/// What an edit keeps from the stored copy.
const EDIT_KEEPS: &[&str] = &[
    "tcount",
    "tlm",
    "replies",
    "reactions",
    "pinned",
    "pinnedAt",
    "pinnedBy",
    "starred",
    "drid",
    "dcount",
    "dlm",
];

/// Tries of the compare-and-swap path of `set_reaction` before giving up.
const REACTION_CAS_ATTEMPTS: usize = 32;

/// A reaction name usable as a field name in an update path.
fn storable_emoji(emoji: &str) -> bool {
    !emoji.is_empty() && !emoji.contains('.') && !emoji.starts_with('$') && !emoji.contains('\0')
}

fn usernames_of(doc: &Document, emoji: &str) -> Option<usize> {
    let reaction = doc
        .get_document("reactions")
        .ok()?
        .get_document(emoji)
        .ok()?;
    reaction.get_array("usernames").ok().map(Vec::len)
}

/// A thread parent read back after a committed post or delete. An unreadable one is
/// logged and left out rather than failing an operation that already happened.
fn committed_parent(parent: Document, message_id: &str) -> Option<Message> {
    match from_doc(parent, "message") {
        Ok(parent) => Some(parent),
        Err(e) => {
            tracing::warn!(message_id, error = %e, "cannot read a thread's parent");
            None
        }
    }
}

impl MongoStore {
    async fn find_message(&self, filter: Document) -> StoreResult<Option<Message>> {
        self.messages
            .find_one(filter)
            .await
            .ctx("find message")?
            .map(|d| from_doc(d, "message"))
            .transpose()
    }

    /// A window of messages in `sort` order: `find` with a sort an index serves and a
    /// limit, no count (totals are the maintained `msgs`/`tcount`). `offset` is a
    /// skip: one index step per skipped message.
    async fn page_messages(
        &self,
        (filter, sort, index): Find,
        offset: u64,
        count: u64,
    ) -> StoreResult<Vec<Message>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .messages
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.to_string()))
            .skip(offset)
            .limit(page_limit(Page::new(offset, count)))
            .await
            .ctx("list messages")?;
        collect(cursor, "message").await
    }

    /// The query plan (`explain`, `queryPlanner`) MongoDB chooses for a history page,
    /// the very filter and sort [`MessageStore::history`] sends: the conformance suite
    /// checks it is an index scan without a blocking sort.
    pub async fn explain_history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<Document> {
        self.explain_messages(history_find(rid, query), query.offset, query.count)
            .await
    }

    /// [`MongoStore::explain_history`] for a thread page.
    pub async fn explain_thread(&self, tmid: &str, page: Page) -> StoreResult<Document> {
        self.explain_messages(thread_find(tmid), page.offset, page.count)
            .await
    }

    async fn explain_messages(
        &self,
        (filter, sort, index): Find,
        offset: u64,
        count: u64,
    ) -> StoreResult<Document> {
        let find = doc! {
            "find": MESSAGES,
            "filter": filter,
            "sort": sort,
            "hint": index,
            "skip": offset as i64,
            "limit": page_limit(Page::new(offset, count)),
        };
        self.client
            .database(&self.database)
            .run_command(doc! { "explain": find, "verbosity": "queryPlanner" })
            .await
            .ctx("explain")
    }

    /// Points the room's `lastMessage` at the newest remaining message that is not a
    /// system message, if it was the (now deleted) message `gone`.
    async fn replace_last_message(&self, rid: &str, gone: &str) -> StoreResult<()> {
        let is_last = self
            .rooms
            .find_one(doc! { "_id": rid, "lastMessage._id": gone })
            .projection(doc! { "_id": 1 })
            .await
            .ctx("find room of message")?
            .is_some();
        if !is_last {
            return Ok(());
        }
        let latest = self
            .messages
            .find_one(doc! { "rid": rid, "t": { "$exists": false } })
            .sort(doc! { "ts": -1, "_id": -1 })
            .await
            .ctx("find latest message")?;
        let update = match latest {
            Some(latest) => doc! { "$set": { "lastMessage": latest } },
            None => doc! { "$unset": { "lastMessage": "" } },
        };
        // Only if no newer post replaced it meanwhile.
        self.rooms
            .update_one(doc! { "_id": rid, "lastMessage._id": gone }, update)
            .await
            .ctx("refresh last message")?;
        Ok(())
    }
}

impl MongoStore {
    /// `set_reaction` for a reaction name that cannot appear in an update path
    /// (`.`, leading `$`): reads the whole reactions map, changes it and writes it
    /// back only if it is still as read (compare-and-swap), retrying on a race.
    async fn set_reaction_whole(
        &self,
        id: &str,
        emoji: &str,
        username: &str,
        react: bool,
        updated_at: Ts,
    ) -> StoreResult<Option<Message>> {
        for _ in 0..REACTION_CAS_ATTEMPTS {
            let Some(stored) = self
                .messages
                .find_one(doc! { "_id": id })
                .projection(doc! { "reactions": 1 })
                .await
                .ctx("read reactions")?
            else {
                return Ok(None);
            };
            let old = stored.get("reactions").cloned();
            let mut reactions: BTreeMap<String, Reaction> = match &old {
                Some(Bson::Document(d)) => from_doc(d.clone(), "reactions")?,
                _ => BTreeMap::new(),
            };
            let entry = reactions.entry(emoji.to_string()).or_default();
            let has = entry.usernames.iter().any(|u| u == username);
            if react && !has {
                entry.usernames.push(username.to_string());
            } else if !react && has {
                entry.usernames.retain(|u| u != username);
            }
            if entry.usernames.is_empty() {
                reactions.remove(emoji);
            }
            let filter = match old {
                Some(value) => doc! { "_id": id, "reactions": value },
                None => doc! { "_id": id, "reactions": { "$exists": false } },
            };
            let update = doc! { "$set": {
                "reactions": to_doc(&reactions, "reactions")?,
                "_updatedAt": updated_at.0,
            } };
            let after = self
                .messages
                .find_one_and_update(filter, update)
                .return_document(ReturnDocument::After)
                .await
                .ctx("set reaction")?;
            if let Some(after) = after {
                self.refresh_room_last(&after).await?;
                return from_doc(after, "message").map(Some);
            }
        }
        Err(backend(
            "set reaction",
            format!("reactions of message {id} kept changing; gave up"),
        ))
    }
}

#[async_trait]
impl MessageStore for MongoStore {
    async fn insert_message(
        &self,
        msg: &Message,
        effects: &PostEffects,
    ) -> StoreResult<Option<Message>> {
        let doc = to_doc(msg, "message")?;
        let ts = msg.ts.0;
        // Before the commit point, so an acknowledged message always has them; an
        // item whose message then failed to commit finds no message and does
        // nothing (a retry with the same id finds its items queued).
        crate::store::outbox::OutboxStore::enqueue_outbox(self, &effects.queue).await?;
        // The commit point: everything below is derived from this message.
        self.messages
            .insert_one({
                let mut stored = doc.clone();
                stored.insert("_words", super::message_lists::words_of(msg));
                stored
            })
            .await
            .map_err(|e| write_error("insert message", e, &[(IDX_ID, "id")], "id"))?;

        // Room counters; `lastMessage` only moves forward in time. One round trip in
        // the usual case (the new message is the newest). System messages count
        // but are not the last message (Rocket.Chat's `saveSystemMessage`).
        if msg.t.is_some() {
            self.rooms
                .update_one(
                    doc! { "_id": &msg.rid },
                    doc! { "$inc": { "msgs": 1_i64 }, "$max": { "_updatedAt": ts } },
                )
                .await
                .ctx("update room after post")?;
        } else {
            let counters =
                doc! { "$inc": { "msgs": 1_i64 }, "$max": { "lm": ts, "_updatedAt": ts } };
            let mut with_last = counters.clone();
            with_last.insert("$set", doc! { "lastMessage": doc });
            let newest = self
                .rooms
                .update_one(
                    doc! { "_id": &msg.rid, "$or": [
                        { "lastMessage.ts": { "$lte": ts } },
                        { "lastMessage": { "$exists": false } },
                    ] },
                    with_last,
                )
                .await
                .ctx("update room after post")?;
            if newest.matched_count == 0 {
                self.rooms
                    .update_one(doc! { "_id": &msg.rid }, counters)
                    .await
                    .ctx("update room after post")?;
            }
        }

        if let Some(tmid) = &msg.tmid {
            let mut followers = vec![msg.u.id.clone()];
            followers.extend(effects.thread.iter().flat_map(|t| t.followers.clone()));
            let parent = self
                .messages
                .find_one_and_update(
                    doc! { "_id": tmid },
                    doc! {
                        "$inc": { "tcount": 1_i64 },
                        "$max": { "tlm": ts, "_updatedAt": ts },
                        "$addToSet": { "replies": { "$each": followers } },
                    },
                )
                .return_document(ReturnDocument::After)
                .await
                .ctx("update thread parent")?;
            // A thread reply marks its thread unread for the followers instead of
            // the room for everyone (Rocket.Chat's thread hooks).
            let marks = effects.thread.as_ref().map(|t| t.unread.as_slice());
            self.mark_threads_unread(msg, marks.unwrap_or_default())
                .await?;
            return Ok(parent.and_then(|parent| committed_parent(parent, &msg.id)));
        }

        self.subs
            .update_many(
                doc! { "rid": &msg.rid, "u._id": { "$ne": &msg.u.id } },
                doc! {
                    "$inc": {
                        "unread": 1_i64,
                        "groupMentions": i64::from(effects.group_mention),
                    },
                    "$set": { "alert": true, "open": true },
                    "$max": { "_updatedAt": ts },
                },
            )
            .await
            .ctx("update subscriptions after post")?;
        let mentioned: Vec<&str> = effects
            .mentioned_user_ids
            .iter()
            .map(String::as_str)
            .filter(|id| *id != msg.u.id)
            .collect();
        if !mentioned.is_empty() {
            self.subs
                .update_many(
                    doc! { "rid": &msg.rid, "u._id": { "$in": mentioned } },
                    doc! { "$inc": { "userMentions": 1_i64 } },
                )
                .await
                .ctx("update mentions after post")?;
        }
        Ok(None)
    }

    async fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        self.find_message(doc! { "_id": id }).await
    }

    async fn update_message(&self, msg: &Message) -> StoreResult<bool> {
        // `$set`/`$unset` leaves the thread counters and reactions as stored, even if
        // they changed since the caller read the message.
        let mut update = set_unset(to_doc(msg, "message")?, MESSAGE_OPTIONAL, EDIT_KEEPS);
        if let Ok(set) = update.get_document_mut("$set") {
            set.insert("_words", super::message_lists::words_of(msg));
        }
        let updated = self
            .messages
            .find_one_and_update(doc! { "_id": &msg.id }, update)
            .return_document(ReturnDocument::After)
            .await
            .ctx("update message")?;
        let Some(mut updated) = updated else {
            return Ok(false);
        };
        updated.remove("_words");
        // Keep the room's copy of its last message in step with the edit.
        self.rooms
            .update_one(
                doc! { "_id": &msg.rid, "lastMessage._id": &msg.id },
                doc! { "$set": { "lastMessage": updated } },
            )
            .await
            .ctx("refresh last message")?;
        Ok(true)
    }

    async fn set_message_urls(
        &self,
        id: &str,
        msg: &str,
        urls: &[MessageUrl],
        updated_at: Ts,
    ) -> StoreResult<Option<Message>> {
        let urls = mongodb::bson::to_bson(urls).map_err(|e| backend("encode urls", e))?;
        let after = self
            .messages
            .find_one_and_update(
                doc! { "_id": id, "msg": msg },
                doc! { "$set": { "urls": urls, "_updatedAt": updated_at.0 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .ctx("set message urls")?;
        let Some(after) = after else {
            return Ok(None);
        };
        self.refresh_room_last(&after).await?;
        from_doc(after, "message").map(Some)
    }

    async fn set_reaction(
        &self,
        id: &str,
        emoji: &str,
        username: &str,
        react: bool,
        updated_at: Ts,
    ) -> StoreResult<Option<Message>> {
        if !storable_emoji(emoji) {
            return self
                .set_reaction_whole(id, emoji, username, react, updated_at)
                .await;
        }
        let path = format!("reactions.{emoji}.usernames");
        let change = if react { "$addToSet" } else { "$pull" };
        let after = self
            .messages
            .find_one_and_update(
                doc! { "_id": id },
                doc! { change: { &path: username }, "$set": { "_updatedAt": updated_at.0 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .ctx("set reaction")?;
        let Some(after) = after else {
            return Ok(None);
        };
        if react || usernames_of(&after, emoji) != Some(0) {
            self.refresh_room_last(&after).await?;
            return from_doc(after, "message").map(Some);
        }
        // The last user took their reaction back: drop the emoji, unless someone
        // reacted again in between.
        let cleaned = self
            .messages
            .find_one_and_update(
                doc! { "_id": id, &path: { "$size": 0 } },
                doc! { "$unset": { format!("reactions.{emoji}"): "" } },
            )
            .return_document(ReturnDocument::After)
            .await
            .ctx("set reaction")?;
        match cleaned {
            Some(doc) => {
                self.refresh_room_last(&doc).await?;
                from_doc(doc, "message").map(Some)
            }
            // Someone reacted again in between; their change refreshed the room.
            None => self.message(id).await,
        }
    }

    async fn delete_message_and_parent(&self, id: &str) -> StoreResult<Option<DeletedMessage>> {
        let deleted = self
            .messages
            .find_one_and_delete(doc! { "_id": id })
            .projection(doc! { "_id": 1, "rid": 1, "tmid": 1, "tcount": 1 })
            .await
            .ctx("delete message")?;
        let Some(deleted) = deleted else {
            return Ok(None);
        };
        self.bury(&deleted, Ts::now()).await?;
        let thread_parent = match deleted.get_str("tmid") {
            Ok(tmid) => self
                .messages
                .find_one_and_update(
                    doc! { "_id": tmid, "tcount": { "$gt": 0_i64 } },
                    doc! { "$inc": { "tcount": -1_i64 }, "$max": { "_updatedAt": Ts::now().0 } },
                )
                .return_document(ReturnDocument::After)
                .await
                .ctx("update thread parent")?
                .and_then(|parent| committed_parent(parent, id)),
            Err(_) => None,
        };
        if let Ok(rid) = deleted.get_str("rid") {
            self.rooms
                .update_one(
                    doc! { "_id": rid, "msgs": { "$gt": 0_i64 } },
                    doc! { "$inc": { "msgs": -1_i64 } },
                )
                .await
                .ctx("update room after delete")?;
            self.replace_last_message(rid, id).await?;
        }
        Ok(Some(DeletedMessage { thread_parent }))
    }

    async fn clean_history(&self, rid: &str, clean: &CleanHistory) -> StoreResult<Vec<Message>> {
        let limit = if clean.limit == 0 {
            u64::MAX >> 1
        } else {
            clean.limit
        };
        let doomed = self.page_messages(clean_find(rid, clean), 0, limit).await?;
        // Each one with its effects, as a single delete does them.
        let mut deleted = Vec::with_capacity(doomed.len());
        for msg in doomed {
            if self.delete_message_and_parent(&msg.id).await?.is_some() {
                deleted.push(msg);
            }
        }
        Ok(deleted)
    }

    async fn history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<Vec<Message>> {
        self.page_messages(history_find(rid, query), query.offset, query.count)
            .await
    }

    async fn count_history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<u64> {
        let (filter, _, index) = history_find(rid, query);
        self.messages
            .count_documents(filter)
            .hint(Hint::Name(index.to_string()))
            .await
            .ctx("count messages")
    }

    async fn thread_messages(&self, tmid: &str, page: Page) -> StoreResult<Vec<Message>> {
        self.page_messages(thread_find(tmid), page.offset, page.count)
            .await
    }

    async fn room_messages(
        &self,
        rid: &str,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Listing<Message>> {
        self.list_room_messages(rid, filter, page).await
    }

    async fn set_pinned(
        &self,
        id: &str,
        by: Option<&UserRef>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        self.pin(id, by, at).await
    }

    async fn set_starred(
        &self,
        id: &str,
        user_id: &str,
        star: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        self.star(id, user_id, star, at).await
    }

    async fn set_thread_follower(
        &self,
        id: &str,
        user_id: &str,
        follow: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        self.follow(id, user_id, follow, at).await
    }

    async fn messages_changed_since(
        &self,
        scope: &SyncScope,
        since: Ts,
        limit: u64,
    ) -> StoreResult<Vec<Message>> {
        self.changed_since(scope, since, limit).await
    }

    async fn deleted_messages(
        &self,
        scope: &SyncScope,
        since: Ts,
        page: Page,
    ) -> StoreResult<Listing<Tombstone>> {
        self.tombstones(scope, since, page).await
    }

    async fn refresh_discussion(
        &self,
        drid: &str,
        activity: Option<(i64, Option<Ts>)>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        self.refresh_discussion_link(drid, activity, at).await
    }

    async fn search_messages(
        &self,
        rid: &str,
        words: &[String],
        page: Page,
    ) -> StoreResult<Vec<Message>> {
        self.search(rid, words, page).await
    }
}

/// A find on messages: filter, sort and the index it must use (named as a hint, so
/// that no planner, however its statistics look, falls back to a collection scan).
type Find = (Document, Document, &'static str);

/// Filter and sort of a history page: a range of `by_room_ts_id` (`rid`, `ts`,
/// `_id`) walked backwards, so the sort needs no blocking `SORT` stage. Leaving out
/// thread replies filters the fetched documents (MongoDB has no partial index on
/// "field absent"): its cost grows with the replies between the bounds, not the room.
fn history_find(rid: &str, query: &HistoryQuery) -> Find {
    let mut filter = doc! { "rid": rid };
    let mut ts = Document::new();
    // `ts` is whole milliseconds, so an inclusive bound is the exclusive one a
    // millisecond further. Always exclusive, the bounds come out right on the
    // compound index in SecantusDB too (which drops keys equal to an inclusive
    // bound when the index has fields after `ts`).
    let widen = i64::from(query.inclusive);
    if let Some(latest) = query.latest {
        ts.insert("$lt", latest.0.saturating_add(widen));
    }
    if let Some(oldest) = query.oldest {
        ts.insert("$gt", oldest.0.saturating_sub(widen));
    }
    if !ts.is_empty() {
        filter.insert("ts", ts);
    }
    if query.exclude_thread_replies {
        // Matches an absent `tmid` too.
        filter.insert("tmid", Bson::Null);
    }
    (filter, doc! { "ts": -1, "_id": -1 }, IDX_ROOM_TS)
}

/// The messages `rooms.cleanHistory` deletes: a range of `by_room_ts_id` walked
/// from the newest, the other conditions checked on the fetched documents.
fn clean_find(rid: &str, c: &CleanHistory) -> Find {
    let widen = i64::from(c.inclusive);
    let mut filter = doc! {
        "rid": rid,
        "ts": { "$lt": c.latest.0.saturating_add(widen), "$gt": c.oldest.0.saturating_sub(widen) },
    };
    if !c.from_user_ids.is_empty() {
        filter.insert("u._id", doc! { "$in": c.from_user_ids.clone() });
    }
    if c.exclude_pinned {
        filter.insert("pinned", doc! { "$ne": true });
    }
    if c.files_only {
        filter.insert("file", doc! { "$exists": true });
    }
    if c.ignore_threads {
        filter.insert("tmid", Bson::Null);
        filter.insert("tcount", doc! { "$exists": false });
    }
    (filter, doc! { "ts": -1, "_id": -1 }, IDX_ROOM_TS)
}

/// Filter and sort of a thread page: a range of `by_thread_ts_id`.
fn thread_find(tmid: &str) -> Find {
    (
        doc! { "tmid": tmid },
        doc! { "ts": 1, "_id": 1 },
        IDX_THREAD_TS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_names_usable_as_fields() {
        assert!(storable_emoji(":+1:"));
        assert!(storable_emoji(":smile:"));
        assert!(!storable_emoji(""));
        assert!(!storable_emoji(":a.b:"));
        assert!(!storable_emoji("$x"));
    }

    #[test]
    fn counts_reaction_usernames() {
        let doc = doc! { "reactions": { ":a:": { "usernames": ["x", "y"] }, ":b:": { "usernames": [] } } };
        assert_eq!(usernames_of(&doc, ":a:"), Some(2));
        assert_eq!(usernames_of(&doc, ":b:"), Some(0));
        assert_eq!(usernames_of(&doc, ":c:"), None);
    }
}
