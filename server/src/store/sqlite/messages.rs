//! Messages on SQLite: the post path (message + room + thread + unread counters in
//! one transaction), edits, reactions, deletes and history.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use super::rooms::{load_room, save_room};
use super::{exec, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::message_urls::MessageUrl;
use crate::store::{
    CleanHistory, DeletedMessage, HistoryQuery, Listing, Message, MessageFilter, MessageStore,
    Page, PostEffects, StoreResult, SyncScope, Tombstone, Ts, UserRef,
};

pub(super) fn load_message(conn: &Connection, id: &str) -> StoreResult<Option<Message>> {
    query_doc(conn, "SELECT doc FROM messages WHERE id = ?1", [id])
}

pub(super) fn save_message(conn: &Connection, msg: &Message) -> StoreResult<bool> {
    Ok(exec(
        conn,
        "UPDATE messages SET doc = ?2 WHERE id = ?1",
        params![msg.id, to_json(msg)?],
    )? > 0)
}

/// Keeps the room's `lastMessage` in step with an edited or deleted message (the
/// newest message that is not a system message).
pub(super) fn refresh_last_message(
    conn: &Connection,
    rid: &str,
    changed_id: &str,
) -> StoreResult<()> {
    let Some(mut room) = load_room(conn, rid)? else {
        return Ok(());
    };
    if room.last_message.as_ref().map(|m| m.id.as_str()) != Some(changed_id) {
        return Ok(());
    }
    let latest: Option<Message> = query_doc(
        conn,
        "SELECT doc FROM messages WHERE rid = ?1 AND json_extract(doc, '$.t') IS NULL \
         ORDER BY ts DESC, rowid DESC LIMIT 1",
        [rid],
    )?;
    room.last_message = latest.map(Box::new);
    save_room(conn, &room)
}

/// Deletes a stored message with its effects on the room and its thread parent.
fn remove_message(conn: &Connection, msg: &Message) -> StoreResult<DeletedMessage> {
    exec(conn, "DELETE FROM messages WHERE id = ?1", [&msg.id])?;
    super::message_lists::bury(conn, msg, Ts::now())?;
    if let Some(mut room) = load_room(conn, &msg.rid)? {
        room.msgs = (room.msgs - 1).max(0);
        save_room(conn, &room)?;
    }
    let mut thread_parent = None;
    if let Some(tmid) = &msg.tmid {
        if let Some(mut parent) = load_message(conn, tmid)? {
            let count = parent.tcount.unwrap_or(0);
            parent.tcount = Some((count - 1).max(0));
            parent.updated_at = parent.updated_at.max(Ts::now());
            save_message(conn, &parent)?;
            // As on MongoDB: a count already at zero did not change.
            thread_parent = (count > 0).then_some(parent);
        }
    }
    refresh_last_message(conn, &msg.rid, &msg.id)?;
    Ok(DeletedMessage { thread_parent })
}

/// The messages `rooms.cleanHistory` deletes: a range of `messages_room_ts`
/// (rid, ts) from the newest, the other conditions checked on the way.
pub(super) fn clean_statement(rid: &str, c: &CleanHistory) -> (String, Vec<Value>) {
    let (lt, gt) = if c.inclusive {
        ("<=", ">=")
    } else {
        ("<", ">")
    };
    let mut sql = format!("SELECT doc FROM messages WHERE rid = ?1 AND ts {lt} ?2 AND ts {gt} ?3");
    let mut args = vec![
        Value::from(rid.to_string()),
        Value::from(c.latest.0),
        Value::from(c.oldest.0),
    ];
    if !c.from_user_ids.is_empty() {
        args.push(Value::from(
            serde_json::to_string(&c.from_user_ids).unwrap_or_else(|_| "[]".into()),
        ));
        sql.push_str(&format!(
            " AND json_extract(doc, '$.u._id') IN (SELECT value FROM json_each(?{}))",
            args.len()
        ));
    }
    if c.exclude_pinned {
        sql.push_str(" AND coalesce(json_extract(doc, '$.pinned'), 0) = 0");
    }
    if c.files_only {
        sql.push_str(" AND json_extract(doc, '$.file') IS NOT NULL");
    }
    if c.ignore_threads {
        sql.push_str(" AND tmid IS NULL AND json_extract(doc, '$.tcount') IS NULL");
    }
    sql.push_str(" ORDER BY ts DESC, rowid DESC");
    if c.limit > 0 {
        args.push(Value::from(limit(c.limit)));
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
    }
    (sql, args)
}

/// Commits a post; returns a reply's parent as updated.
fn apply_post(
    conn: &Connection,
    msg: &Message,
    effects: &PostEffects,
) -> StoreResult<Option<Message>> {
    exec(
        conn,
        "INSERT INTO messages (id, rid, ts, tmid, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![msg.id, msg.rid, msg.ts.0, msg.tmid, to_json(msg)?],
    )?;
    super::outbox::insert_items(conn, &effects.queue)?;
    if let Some(mut room) = load_room(conn, &msg.rid)? {
        room.msgs += 1;
        // System messages count but are not the room's last message (Rocket.Chat's
        // `saveSystemMessage` leaves `lastMessage` and `lm` alone).
        if msg.t.is_none() {
            room.lm = Some(msg.ts);
            room.last_message = Some(Box::new(msg.clone()));
        }
        room.updated_at = msg.ts;
        save_room(conn, &room)?;
    }
    let mut thread_parent = None;
    if let Some(tmid) = &msg.tmid {
        if let Some(mut parent) = load_message(conn, tmid)? {
            parent.tcount = Some(parent.tcount.unwrap_or(0) + 1);
            parent.tlm = Some(msg.ts);
            parent.updated_at = parent.updated_at.max(msg.ts);
            let replies = parent.replies.get_or_insert_with(Vec::new);
            let followers = effects.thread.iter().flat_map(|t| &t.followers);
            for uid in std::iter::once(&msg.u.id).chain(followers) {
                if !replies.contains(uid) {
                    replies.push(uid.clone());
                }
            }
            save_message(conn, &parent)?;
            thread_parent = Some(parent);
        }
        // A thread reply marks its thread unread for the followers instead of the
        // room for everyone (Rocket.Chat's thread hooks).
        let marks = effects.thread.as_ref().map(|t| t.unread.as_slice());
        return super::thread_unread::mark_threads_unread(conn, msg, marks.unwrap_or_default())
            .map(|()| thread_parent);
    }
    let group = i64::from(effects.group_mention);
    exec(
        conn,
        "UPDATE subscriptions SET updated_at = ?3, doc = json_set(doc,
            '$.unread', json_extract(doc, '$.unread') + 1,
            '$.groupMentions', coalesce(json_extract(doc, '$.groupMentions'), 0) + ?4,
            '$.alert', json('true'), '$.open', json('true'), '$._updatedAt', ?3)
         WHERE rid = ?1 AND uid <> ?2",
        params![msg.rid, msg.u.id, msg.ts.0, group],
    )?;
    for uid in &effects.mentioned_user_ids {
        if *uid == msg.u.id {
            continue;
        }
        exec(
            conn,
            "UPDATE subscriptions SET doc = json_set(doc,
                '$.userMentions', coalesce(json_extract(doc, '$.userMentions'), 0) + 1)
             WHERE rid = ?1 AND uid = ?2",
            params![msg.rid, uid],
        )?;
    }
    Ok(thread_parent)
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(
        &self,
        msg: &Message,
        effects: &PostEffects,
    ) -> StoreResult<Option<Message>> {
        let (msg, effects) = (msg.clone(), effects.clone());
        self.write(move |conn| apply_post(conn, &msg, &effects))
            .await
    }

    async fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        let id = id.to_string();
        self.read(move |conn| load_message(conn, &id)).await
    }

    async fn update_message(&self, msg: &Message) -> StoreResult<bool> {
        let mut msg = msg.clone();
        self.write(move |conn| {
            let Some(stored) = load_message(conn, &msg.id)? else {
                return Ok(false);
            };
            msg.tcount = stored.tcount;
            msg.tlm = stored.tlm;
            msg.replies = stored.replies;
            msg.reactions = stored.reactions;
            msg.marks = stored.marks;
            msg.discussion = stored.discussion;
            save_message(conn, &msg)?;
            refresh_last_message(conn, &msg.rid, &msg.id)?;
            Ok(true)
        })
        .await
    }

    async fn set_message_urls(
        &self,
        id: &str,
        msg: &str,
        urls: &[MessageUrl],
        updated_at: Ts,
    ) -> StoreResult<Option<Message>> {
        let (id, msg, urls) = (id.to_string(), msg.to_string(), urls.to_vec());
        self.write(move |conn| {
            let Some(mut stored) = load_message(conn, &id)? else {
                return Ok(None);
            };
            if stored.msg != msg {
                return Ok(None);
            }
            stored.urls = urls;
            stored.updated_at = updated_at;
            save_message(conn, &stored)?;
            refresh_last_message(conn, &stored.rid, &stored.id)?;
            Ok(Some(stored))
        })
        .await
    }

    async fn set_reaction(
        &self,
        id: &str,
        emoji: &str,
        username: &str,
        react: bool,
        updated_at: Ts,
    ) -> StoreResult<Option<Message>> {
        let (id, emoji, username) = (id.to_string(), emoji.to_string(), username.to_string());
        self.write(move |conn| {
            let Some(mut msg) = load_message(conn, &id)? else {
                return Ok(None);
            };
            let entry = msg.reactions.entry(emoji.clone()).or_default();
            let has = entry.usernames.contains(&username);
            if react && !has {
                entry.usernames.push(username);
            } else if !react && has {
                entry.usernames.retain(|u| *u != username);
            }
            if entry.usernames.is_empty() {
                msg.reactions.remove(&emoji);
            }
            msg.updated_at = updated_at;
            save_message(conn, &msg)?;
            refresh_last_message(conn, &msg.rid, &msg.id)?;
            Ok(Some(msg))
        })
        .await
    }

    async fn delete_message_and_parent(&self, id: &str) -> StoreResult<Option<DeletedMessage>> {
        let id = id.to_string();
        self.write_freeing(move |conn| {
            let Some(msg) = load_message(conn, &id)? else {
                return Ok(None);
            };
            remove_message(conn, &msg).map(Some)
        })
        .await
    }

    async fn clean_history(&self, rid: &str, clean: &CleanHistory) -> StoreResult<Vec<Message>> {
        let (sql, args) = clean_statement(rid, clean);
        self.write_freeing(move |conn| {
            let doomed: Vec<Message> = query_docs(conn, &sql, params_from_iter(args))?;
            for msg in &doomed {
                remove_message(conn, msg)?;
            }
            Ok(doomed)
        })
        .await
    }

    async fn history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<Vec<Message>> {
        let (sql, args) = history_statement(rid, query, false);
        self.read(move |conn| query_docs(conn, &sql, params_from_iter(args)))
            .await
    }

    async fn count_history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<u64> {
        let (sql, args) = history_statement(rid, query, true);
        self.read(move |conn| query_count(conn, &sql, params_from_iter(args)))
            .await
    }

    async fn thread_messages(&self, tmid: &str, page: Page) -> StoreResult<Vec<Message>> {
        let tmid = tmid.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                THREAD_PAGE,
                params![tmid, limit(page.count), limit(page.offset)],
            )
        })
        .await
    }

    async fn room_messages(
        &self,
        rid: &str,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Listing<Message>> {
        let (rid, filter) = (rid.to_string(), filter.clone());
        self.read(move |conn| super::message_lists::room_messages(conn, &rid, &filter, page))
            .await
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

/// A thread's replies, oldest first (a millisecond's in posting order): a range of
/// `messages_thread` (`tmid`, `ts`, then the rowid every index ends in).
pub(super) const THREAD_PAGE: &str = "SELECT doc FROM messages WHERE tmid = ?1
     ORDER BY ts ASC, rowid ASC LIMIT ?2 OFFSET ?3";

/// SQLite's LIMIT/OFFSET are signed; a client's huge value means "all".
fn limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The statement of one history shape and its arguments. Each combination of bounds,
/// inclusiveness and thread filter is its own SQL text (so its own cached prepared
/// statement): only predicates that are present appear, as plain range terms on
/// `messages_room_ts` (rid, ts, rowid), which is what lets SQLite seek the index instead of filtering
/// the whole room (`?2 IS NULL OR ts < ?2` defeats that). Without thread replies
/// the partial index `messages_room_main` holds only the room's top-level messages,
/// so skipping replies costs nothing either.
pub(super) fn history_statement(rid: &str, q: &HistoryQuery, count: bool) -> (String, Vec<Value>) {
    let (lt, gt) = if q.inclusive {
        ("<=", ">=")
    } else {
        ("<", ">")
    };
    // A count has no ORDER BY to steer the planner, and without statistics it may
    // pick another (rid, …) index that is not covering: name the one it must seek.
    let mut sql = String::from(match (count, q.exclude_thread_replies) {
        (true, false) => "SELECT count(*) FROM messages INDEXED BY messages_room_ts WHERE rid = ?1",
        (true, true) => {
            "SELECT count(*) FROM messages INDEXED BY messages_room_main WHERE rid = ?1"
        }
        (false, _) => "SELECT doc FROM messages WHERE rid = ?1",
    });
    let mut args = vec![Value::from(rid.to_string())];
    if q.exclude_thread_replies {
        sql.push_str(" AND tmid IS NULL");
    }
    if let Some(latest) = q.latest {
        args.push(Value::from(latest.0));
        sql.push_str(&format!(" AND ts {lt} ?{}", args.len()));
    }
    if let Some(oldest) = q.oldest {
        args.push(Value::from(oldest.0));
        sql.push_str(&format!(" AND ts {gt} ?{}", args.len()));
    }
    if !count {
        args.push(Value::from(limit(q.count)));
        args.push(Value::from(limit(q.offset)));
        sql.push_str(&format!(
            " ORDER BY ts DESC, rowid DESC LIMIT ?{} OFFSET ?{}",
            args.len() - 1,
            args.len()
        ));
    }
    (sql, args)
}

impl SqliteStore {
    /// Posts many messages in one transaction, each with the store effects of
    /// [`MessageStore::insert_message`] (no mentions) but no events: for imports and
    /// for filling benchmark databases, not for live posts.
    pub async fn import_messages(&self, msgs: Vec<Message>) -> StoreResult<()> {
        self.write(move |conn| {
            let effects = PostEffects::default();
            for msg in &msgs {
                apply_post(conn, msg, &effects)?;
            }
            Ok(())
        })
        .await
    }
}
