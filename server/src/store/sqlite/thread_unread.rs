//! Unread threads on subscriptions, SQLite: read, changed and written back as the
//! subscription's document (a thread's followers are few).

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{exec, query_doc, query_docs, to_json, SqliteStore};
use crate::store::thread_unread::ThreadUnreadStore;
use crate::store::{Message, StoreResult, Subscription, ThreadMention, ThreadUnreadMark, Ts};

fn load_sub(conn: &Connection, rid: &str, uid: &str) -> StoreResult<Option<Subscription>> {
    query_doc(
        conn,
        "SELECT doc FROM subscriptions WHERE rid = ?1 AND uid = ?2",
        [rid, uid],
    )
}

fn save_sub(conn: &Connection, sub: &Subscription) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE subscriptions SET updated_at = ?2, doc = ?3 WHERE id = ?1",
        params![sub.id, sub.updated_at.0, to_json(sub)?],
    )
    .map(drop)
}

fn add_once(list: &mut Vec<String>, id: &str) {
    if !list.iter().any(|t| t == id) {
        list.push(id.to_string());
    }
}

/// Marks `reply`'s thread unread for `marks` (in the reply's transaction): the
/// thread joins their `tunread` (and `tunreadUser`/`tunreadGroup` for a mention),
/// and their room shows an alert and is open, as Rocket.Chat's thread hooks do.
pub(super) fn mark_threads_unread(
    conn: &Connection,
    reply: &Message,
    marks: &[ThreadUnreadMark],
) -> StoreResult<()> {
    let Some(tmid) = &reply.tmid else {
        return Ok(());
    };
    for mark in marks.iter().filter(|m| m.user_id != reply.u.id) {
        let Some(mut sub) = load_sub(conn, &reply.rid, &mark.user_id)? else {
            continue;
        };
        add_once(&mut sub.threads.tunread, tmid);
        match mark.mention {
            ThreadMention::User => add_once(&mut sub.threads.tunread_user, tmid),
            ThreadMention::Group => add_once(&mut sub.threads.tunread_group, tmid),
            ThreadMention::None => {}
        }
        sub.alert = true;
        sub.open = true;
        sub.updated_at = sub.updated_at.max(reply.ts);
        save_sub(conn, &sub)?;
    }
    Ok(())
}

/// Takes `tmid` off `sub`'s unread threads; whether it was there.
fn drop_thread(sub: &mut Subscription, tmid: &str) -> bool {
    let before = sub.threads.tunread.len();
    sub.threads.tunread.retain(|t| t != tmid);
    sub.threads.tunread_user.retain(|t| t != tmid);
    sub.threads.tunread_group.retain(|t| t != tmid);
    sub.threads.tunread.len() != before
}

#[async_trait]
impl ThreadUnreadStore for SqliteStore {
    async fn read_thread(
        &self,
        rid: &str,
        user_id: &str,
        tmid: &str,
        at: Ts,
    ) -> StoreResult<Option<Subscription>> {
        let (rid, uid, tmid) = (rid.to_string(), user_id.to_string(), tmid.to_string());
        self.write(move |conn| {
            let Some(mut sub) = load_sub(conn, &rid, &uid)? else {
                return Ok(None);
            };
            if !drop_thread(&mut sub, &tmid) {
                return Ok(None);
            }
            if sub.threads.tunread.is_empty() && sub.unread == 0 {
                sub.alert = false;
            }
            sub.updated_at = at;
            save_sub(conn, &sub)?;
            Ok(Some(sub))
        })
        .await
    }

    async fn forget_thread(&self, rid: &str, tmid: &str, at: Ts) -> StoreResult<Vec<String>> {
        let (rid, tmid) = (rid.to_string(), tmid.to_string());
        self.write(move |conn| {
            let subs: Vec<Subscription> = query_docs(
                conn,
                "SELECT s.doc FROM subscriptions s, json_each(s.doc, '$.tunread') t
                 WHERE s.rid = ?1 AND t.value = ?2",
                [&rid, &tmid],
            )?;
            let mut changed = Vec::new();
            for mut sub in subs {
                if drop_thread(&mut sub, &tmid) {
                    sub.updated_at = at;
                    save_sub(conn, &sub)?;
                    changed.push(sub.u.id);
                }
            }
            Ok(changed)
        })
        .await
    }
}
