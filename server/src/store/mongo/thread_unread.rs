//! Unread threads on subscriptions, MongoDB: `$addToSet`/`$pull` on the
//! subscription's `tunread`, `tunreadUser` and `tunreadGroup`, as Rocket.Chat's
//! own model does.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;

use super::{from_doc, Ctx, MongoStore};
use crate::store::thread_unread::ThreadUnreadStore;
use crate::store::{Message, StoreResult, Subscription, ThreadMention, ThreadUnreadMark, Ts};

impl MongoStore {
    /// Marks `reply`'s thread unread for `marks`: the thread joins their `tunread`
    /// (and `tunreadUser`/`tunreadGroup` for a mention), and their room shows an
    /// alert and is open, as Rocket.Chat's thread hooks do. One write per kind of
    /// mention.
    pub(super) async fn mark_threads_unread(
        &self,
        reply: &Message,
        marks: &[ThreadUnreadMark],
    ) -> StoreResult<()> {
        let Some(tmid) = &reply.tmid else {
            return Ok(());
        };
        for (mention, extra) in [
            (ThreadMention::None, None),
            (ThreadMention::User, Some("tunreadUser")),
            (ThreadMention::Group, Some("tunreadGroup")),
        ] {
            let uids: Vec<&str> = marks
                .iter()
                .filter(|m| m.mention == mention && m.user_id != reply.u.id)
                .map(|m| m.user_id.as_str())
                .collect();
            if uids.is_empty() {
                continue;
            }
            let mut add = doc! { "tunread": tmid };
            if let Some(field) = extra {
                add.insert(field, tmid);
            }
            self.subs
                .update_many(
                    doc! { "rid": &reply.rid, "u._id": { "$in": uids } },
                    doc! {
                        "$addToSet": add,
                        "$set": { "alert": true, "open": true },
                        "$max": { "_updatedAt": reply.ts.0 },
                    },
                )
                .await
                .ctx("mark thread unread")?;
        }
        Ok(())
    }
}

fn pull_thread(tmid: &str) -> Document {
    doc! { "tunread": tmid, "tunreadUser": tmid, "tunreadGroup": tmid }
}

#[async_trait]
impl ThreadUnreadStore for MongoStore {
    async fn read_thread(
        &self,
        rid: &str,
        user_id: &str,
        tmid: &str,
        at: Ts,
    ) -> StoreResult<Option<Subscription>> {
        let Some(after) = self
            .subs
            .find_one_and_update(
                doc! { "rid": rid, "u._id": user_id, "tunread": tmid },
                doc! { "$pull": pull_thread(tmid), "$set": { "_updatedAt": at.0 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .ctx("read thread")?
        else {
            return Ok(None);
        };
        let mut sub: Subscription = from_doc(after, "subscription")?;
        if sub.alert && sub.threads.tunread.is_empty() && sub.unread == 0 {
            // Only if nothing made it unread since: the alert then is a new one.
            let cleared = self
                .subs
                .update_one(
                    doc! { "rid": rid, "u._id": user_id, "unread": 0_i64,
                    "tunread.0": { "$exists": false } },
                    doc! { "$set": { "alert": false } },
                )
                .await
                .ctx("read thread")?;
            sub.alert = cleared.modified_count == 0;
        }
        Ok(Some(sub))
    }

    async fn forget_thread(&self, rid: &str, tmid: &str, at: Ts) -> StoreResult<Vec<String>> {
        let mut changed = Vec::new();
        let mut cursor = self
            .subs
            .find(doc! { "rid": rid, "tunread": tmid })
            .projection(doc! { "u._id": 1 })
            .await
            .ctx("find unread thread")?;
        while cursor.advance().await.ctx("find unread thread")? {
            let d = cursor.deserialize_current().ctx("find unread thread")?;
            if let Some(uid) = d.get_document("u").ok().and_then(|u| u.get_str("_id").ok()) {
                changed.push(uid.to_string());
            }
        }
        if !changed.is_empty() {
            self.subs
                .update_many(
                    doc! { "rid": rid, "tunread": tmid },
                    doc! { "$pull": pull_thread(tmid), "$set": { "_updatedAt": at.0 } },
                )
                .await
                .ctx("forget thread")?;
        }
        Ok(changed)
    }
}
