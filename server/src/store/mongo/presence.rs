//! Presence on MongoDB: collection `presence_conns` (one document per live
//! connection, indexed by user, instance and expiry) and the presence fields of the
//! user documents.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::users::user_projection;
use super::{backend, collect, page_limit, substring, to_doc, Ctx, MongoStore};
use crate::store::presence::{PresenceConn, PresenceFields, PresenceStore, StatusQuery};
use crate::store::{Listing, Page, StoreResult, Ts, User};

const PRESENCE_CONNS: &str = "presence_conns";

impl MongoStore {
    fn presence_coll(&self) -> Collection<Document> {
        self.coll(PRESENCE_CONNS)
    }

    /// Creates the presence indexes (idempotently).
    pub(super) async fn create_presence_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_string()).build())
                .build()
        };
        self.presence_coll()
            .create_indexes([
                index(doc! { "user_id": 1 }, "by_user"),
                index(doc! { "instance_id": 1 }, "by_instance"),
                index(doc! { "expires_at": 1 }, "by_expiry"),
            ])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{PRESENCE_CONNS}", self.database),
                    e,
                )
            })?;
        self.users
            .create_indexes([index(doc! { "status": 1 }, "by_status")])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating the users' status index in {}", self.database),
                    e,
                )
            })?;
        Ok(())
    }

    /// Deletes the connections `filter` selects; returns their distinct users.
    async fn remove_conns(&self, filter: Document) -> StoreResult<Vec<String>> {
        let users = self
            .presence_coll()
            .distinct("user_id", filter.clone())
            .await
            .ctx("find presence connections")?;
        self.presence_coll()
            .delete_many(filter)
            .await
            .ctx("remove presence connections")?;
        Ok(users
            .into_iter()
            .filter_map(|b| match b {
                Bson::String(s) => Some(s),
                _ => None,
            })
            .collect())
    }
}

#[async_trait]
impl PresenceStore for MongoStore {
    async fn put_presence_conn(&self, c: &PresenceConn) -> StoreResult<()> {
        self.presence_coll()
            .replace_one(doc! { "_id": &c.id }, to_doc(c, "presence connection")?)
            .upsert(true)
            .await
            .ctx("put presence connection")?;
        Ok(())
    }

    async fn set_presence_conn_status(&self, id: &str, status: &str) -> StoreResult<bool> {
        let r = self
            .presence_coll()
            .update_one(doc! { "_id": id }, doc! { "$set": { "status": status } })
            .await
            .ctx("set presence connection status")?;
        Ok(r.matched_count > 0)
    }

    async fn remove_presence_conn(&self, id: &str) -> StoreResult<bool> {
        let r = self
            .presence_coll()
            .delete_one(doc! { "_id": id })
            .await
            .ctx("remove presence connection")?;
        Ok(r.deleted_count > 0)
    }

    async fn presence_conns_of(&self, user_id: &str, now: Ts) -> StoreResult<Vec<PresenceConn>> {
        let cursor = self
            .presence_coll()
            .find(doc! { "user_id": user_id, "expires_at": { "$gt": now.0 } })
            .await
            .ctx("find presence connections")?;
        collect(cursor, "presence connection").await
    }

    async fn renew_presence_conns(&self, instance_id: &str, expires_at: Ts) -> StoreResult<u64> {
        let r = self
            .presence_coll()
            .update_many(
                doc! { "instance_id": instance_id },
                doc! { "$set": { "expires_at": expires_at.0 } },
            )
            .await
            .ctx("renew presence connections")?;
        Ok(r.modified_count)
    }

    async fn remove_expired_presence_conns(&self, now: Ts) -> StoreResult<Vec<String>> {
        self.remove_conns(doc! { "expires_at": { "$lte": now.0 } })
            .await
    }

    async fn remove_instance_presence_conns(&self, instance_id: &str) -> StoreResult<Vec<String>> {
        self.remove_conns(doc! { "instance_id": instance_id }).await
    }

    async fn set_user_presence(
        &self,
        user_id: &str,
        fields: &PresenceFields,
        updated_at: Ts,
    ) -> StoreResult<bool> {
        let mut set = doc! { "_updatedAt": updated_at.0 };
        for (key, value) in [
            ("status", &fields.status),
            ("statusConnection", &fields.status_connection),
            ("statusDefault", &fields.status_default),
            ("statusText", &fields.status_text),
        ] {
            if let Some(v) = value {
                set.insert(key, v.as_str());
            }
        }
        let r = self
            .users
            .update_one(doc! { "_id": user_id }, doc! { "$set": set })
            .await
            .ctx("set user presence")?;
        Ok(r.matched_count > 0)
    }

    async fn users_by_status(&self, q: &StatusQuery, page: Page) -> StoreResult<Listing<User>> {
        let mut filter = Document::new();
        if !q.statuses.is_empty() {
            let mut statuses: Vec<Bson> =
                q.statuses.iter().map(|s| Bson::String(s.clone())).collect();
            if q.statuses.iter().any(|s| s == "offline") {
                statuses.push(Bson::Null); // absent: never connected
            }
            filter.insert("status", doc! { "$in": statuses });
        }
        if let Some(ids) = &q.ids {
            filter.insert("_id", doc! { "$in": ids });
        }
        if let Some(since) = q.updated_since {
            filter.insert("_updatedAt", doc! { "$gte": since.0 });
        }
        if let Some(active) = q.active {
            filter.insert("active", active);
        }
        if let Some(logged_in) = q.has_logged_in {
            filter.insert("lastLogin", doc! { "$exists": logged_in });
        }
        if let Some(kind) = &q.kind {
            filter.insert("type", kind.as_str());
        }
        if let Some(text) = &q.search {
            let re = substring(text);
            filter.insert(
                "$or",
                vec![doc! { "usernameKey": re.clone() }, doc! { "name": re }],
            );
        }
        let total = self
            .users
            .count_documents(filter.clone())
            .await
            .ctx("count users by status")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .users
            .find(filter)
            .sort(doc! { "usernameKey": 1, "_id": 1 })
            .skip(page.offset)
            .limit(page_limit(page))
            .projection(user_projection())
            .await
            .ctx("list users by status")?;
        Ok(Listing {
            items: collect(cursor, "user").await?,
            total,
        })
    }
}
