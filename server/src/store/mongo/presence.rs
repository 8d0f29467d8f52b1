//! Presence on MongoDB: collection `presence_conns` (one document per live
//! connection, indexed by user, instance and expiry) and the presence fields of the
//! user documents.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::{Collection, IndexModel};

use super::search::{IDX_SEARCH_GRAMS, SEARCH_GRAMS};
use super::users::user_projection;
use super::{backend, collect, page_limit, substring, to_doc, Ctx, MongoStore};
use crate::store::presence::{PresenceConn, PresenceFields, PresenceStore, StatusQuery};
use crate::store::{Listing, Page, StoreResult, Ts, User};

const PRESENCE_CONNS: &str = "presence_conns";

/// A users query: its filter and sort, the index that serves it, and whether its
/// total is counted (not for a substring search: the page is probed, see
/// [`Listing`]).
pub struct UsersFind {
    pub filter: Document,
    pub sort: Document,
    pub index: &'static str,
    pub counted: bool,
}

/// `q` as a find, on the index that serves its most selective part (as
/// `status_statement` on SQLite): ids, present statuses, `_updatedAt`, then the
/// admin listing's `active` or `type` ranges in username order, else the username
/// index. A search term is a filter on that walk, unless it comes with its rarest
/// `gram` (a rare term, see `search.rs`; not with ids, which bound the answer
/// already): then the users holding the gram are read through `by_search_grams`,
/// filtered, sorted and counted (fewer than `SEARCH_CANDIDATES` of them).
pub fn status_find(q: &StatusQuery, gram: Option<&str>) -> UsersFind {
    let present_only = !q.statuses.is_empty() && !q.statuses.iter().any(|s| s == "offline");
    let mut filter = Document::new();
    if !q.statuses.is_empty() {
        let mut statuses: Vec<Bson> = q.statuses.iter().map(|s| Bson::String(s.clone())).collect();
        if !present_only {
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
    if !q.roles.is_empty() {
        filter.insert("roles", doc! { "$in": &q.roles });
    }
    if let Some(text) = &q.search {
        let re = substring(text);
        filter.insert(
            "$or",
            vec![doc! { "usernameKey": re.clone() }, doc! { "name": re }],
        );
    }
    let gram = gram.filter(|_| q.ids.is_none() && q.search.is_some());
    if let Some(gram) = gram {
        filter.insert(SEARCH_GRAMS, gram);
    }
    let index = if q.ids.is_some() {
        super::IDX_ID
    } else if gram.is_some() {
        IDX_SEARCH_GRAMS
    } else if present_only {
        "by_status"
    } else if q.updated_since.is_some() {
        super::IDX_USER_UPDATED
    } else if q.active.is_some() {
        super::IDX_ACTIVE_USERNAME
    } else if q.kind.is_some() {
        super::IDX_TYPE_USERNAME
    } else {
        super::IDX_USERNAME
    };
    UsersFind {
        filter,
        sort: doc! { "usernameKey": 1, "_id": 1 },
        index,
        counted: q.search.is_none() || gram.is_some(),
    }
}

impl MongoStore {
    /// The query plans (`explain`, `queryPlanner`) of the users queries requests
    /// make, the very finds the store sends: `users_by_status` for `q`, then
    /// `users_in_role` for `role`; the conformance suite checks they are index scans.
    pub async fn explain_users(
        &self,
        q: Option<&StatusQuery>,
        role: Option<&str>,
        page: Page,
    ) -> StoreResult<Document> {
        let find = match (q, role) {
            (Some(q), _) => status_find(q, None),
            (None, Some(role)) => super::roles::role_find(role),
            (None, None) => {
                return Err(crate::store::StoreError::Backend(
                    "nothing to explain".into(),
                ))
            }
        };
        self.explain_find(
            super::USERS,
            find.filter,
            find.sort,
            find.index,
            page.offset,
            page_limit(page) + i64::from(!find.counted),
        )
        .await
    }

    /// [`MongoStore::explain_users`] for the default rooms.
    pub async fn explain_default_rooms(&self) -> StoreResult<Document> {
        let (filter, sort, index) = super::rooms::default_rooms_find();
        self.explain_find(super::ROOMS, filter, sort, index, 0, 0)
            .await
    }

    async fn explain_find(
        &self,
        coll: &str,
        filter: Document,
        sort: Document,
        index: &str,
        skip: u64,
        limit: i64,
    ) -> StoreResult<Document> {
        let mut find = doc! { "find": coll, "filter": filter, "sort": sort, "hint": index };
        if skip > 0 {
            find.insert("skip", skip as i64);
        }
        if limit > 0 {
            find.insert("limit", limit);
        }
        self.client
            .database(&self.database)
            .run_command(doc! { "explain": find, "verbosity": "queryPlanner" })
            .await
            .ctx("explain")
    }

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
        let gram = match (&q.search, &q.ids) {
            (Some(term), None) => self.rare_gram(&self.users, term).await?,
            _ => None,
        };
        let find = status_find(q, gram.as_deref());
        let total = if find.counted {
            self.users
                .count_documents(find.filter.clone())
                .hint(Hint::Name(find.index.into()))
                .await
                .ctx("count users by status")?
        } else {
            0
        };
        if page.count == 0 && find.counted {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .users
            .find(find.filter)
            .sort(find.sort)
            .hint(Hint::Name(find.index.into()))
            .skip(page.offset)
            .limit(page_limit(page) + i64::from(!find.counted))
            .projection(user_projection())
            .await
            .ctx("list users by status")?;
        let items = collect(cursor, "user").await?;
        Ok(if find.counted {
            Listing { items, total }
        } else {
            Listing::probed(items, page)
        })
    }
}
