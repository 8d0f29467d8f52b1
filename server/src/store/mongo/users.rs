//! Users, login tokens and settings on MongoDB.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::Hint;

use super::search::{document_grams, IDX_SEARCH_GRAMS, SEARCH_GRAMS};
use super::{
    backend, collect, from_doc, is_duplicate, page_limit, set_unset, sort_dir, substring, to_doc,
    write_error, Ctx, MongoStore, IDX_EMAIL, IDX_ID, IDX_SERVICE, IDX_STATUS_ACTIVE, IDX_USERNAME,
};
use crate::store::{
    Direction, Listing, LoginToken, Page, Setting, SettingStore, Sort, SortKey, StoreResult,
    TokenStore, User, UserStore,
};

/// Fields of a user document that may be absent.
const USER_OPTIONAL: &[&str] = &[
    "lastLogin",
    "emailKeys",
    "serviceKeys",
    "bio",
    "nickname",
    "settings",
    "services",
    "avatarETag",
    "avatarOrigin",
    "avatarFileId",
    "customFields",
    "inviteToken",
    "requirePasswordChangeReason",
];
const USER_CONFLICTS: &[(&str, &str)] = &[
    (IDX_USERNAME, "username"),
    (IDX_EMAIL, "email"),
    (IDX_SERVICE, "service"),
    (IDX_ID, "id"),
];

/// The presence fields of a user document, which whole-user updates leave alone.
const PRESENCE_FIELDS: &[&str] = &["status", "statusConnection", "statusDefault", "statusText"];

/// Keeps the password hash, the lookup keys and the search trigrams out of user reads.
pub(super) fn user_projection() -> Document {
    doc! {
        "passwordHash": 0, "usernameKey": 0, "emailKeys": 0, "serviceKeys": 0,
        SEARCH_GRAMS: 0,
    }
}

/// The lookup key of one linked identity: `<service>\u{0}<id>` (a service name
/// never holds a NUL), so one unique multikey index covers every service.
pub(super) fn service_key(service: &str, id: &str) -> String {
    format!("{service}\u{0}{id}")
}

/// A users listing as a find: a walk of the index in the listing's order
/// (`by_username_id`, `by_created_id`: the key, then `_id`) that stops at the
/// limit; `skip` (Rocket.Chat's `offset`) costs one index step per skipped user. A
/// substring filter is checked on the way (see [`Listing`]): a term few users
/// match would walk far, at most the whole index, as no index serves a substring —
/// so a rare term comes with its rarest `gram` (see `search.rs`): then the users
/// holding it are read through `by_search_grams`, filtered by the same regex and
/// sorted (fewer than `SEARCH_CANDIDATES` of them).
pub(super) fn users_find(
    filter: Option<&str>,
    sort: Sort,
    gram: Option<&str>,
) -> (Document, Document, &'static str) {
    let mut query = match filter {
        Some(text) => {
            let re = substring(text);
            doc! { "$or": [ { "usernameKey": re.clone() }, { "name": re } ] }
        }
        None => Document::new(),
    };
    let (key, mut index) = match sort.key {
        SortKey::Ts => ("createdAt", super::IDX_CREATED_ID),
        _ => ("usernameKey", super::IDX_USERNAME_ID),
    };
    if let Some(gram) = gram {
        query.insert(SEARCH_GRAMS, gram);
        index = IDX_SEARCH_GRAMS;
    }
    let dir = sort_dir(sort.dir);
    (query, doc! { key: dir, "_id": dir }, index)
}

/// The presence statuses in ascending order, each a group of `status` values a
/// status sort reads as one: absent (never connected) is shown, and sorted, as
/// `offline`. Anything else Palaver never writes comes last.
const STATUS_GROUPS: &[&[Option<&str>]] = &[
    &[Some("away")],
    &[Some("busy")],
    &[None, Some("offline")],
    &[Some("online")],
];

impl MongoStore {
    /// A users listing sorted by status (see [`SortKey::Status`]). An index
    /// can't fold absent into `offline`, so the status groups are read one after
    /// another, each a `$in` range of `by_status_active_username` merged in
    /// (active, username) order, until `offset + count` users are had: the work
    /// is the page and what it skips, as the other listings' walks.
    async fn list_users_by_status(
        &self,
        filter: Option<&str>,
        dir: Direction,
        page: Page,
    ) -> StoreResult<Listing<User>> {
        let base = match filter {
            Some(text) => {
                let re = substring(text);
                doc! { "$or": [ { "usernameKey": re.clone() }, { "name": re } ] }
            }
            None => Document::new(),
        };
        let as_bson = |s: &Option<&str>| s.map_or(Bson::Null, |s| Bson::String(s.into()));
        let mut groups: Vec<Document> = STATUS_GROUPS
            .iter()
            .map(|g| doc! { "$in": g.iter().map(as_bson).collect::<Vec<_>>() })
            .collect();
        let known: Vec<Bson> = STATUS_GROUPS
            .iter()
            .flat_map(|g| g.iter().map(as_bson))
            .collect();
        groups.push(doc! { "$nin": known });
        if dir == Direction::Desc {
            groups.reverse();
        }
        let probe = filter.is_some();
        let want = page
            .offset
            .saturating_add(page.count)
            .saturating_add(u64::from(probe));
        let d = sort_dir(dir);
        let mut items: Vec<User> = Vec::new();
        for status in groups {
            let left = want.saturating_sub(items.len() as u64);
            if left == 0 {
                break;
            }
            let mut query = base.clone();
            query.insert("status", status);
            let cursor = self
                .users
                .find(query)
                // Not by `status`: absent and `offline` are one group.
                .sort(doc! { "active": d, "usernameKey": d })
                .hint(Hint::Name(IDX_STATUS_ACTIVE.into()))
                .limit(i64::try_from(left).unwrap_or(i64::MAX))
                .projection(user_projection())
                .await
                .ctx("list users by status")?;
            items.extend(collect::<User>(cursor, "user").await?);
        }
        let items: Vec<User> = items
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .collect();
        if probe {
            return Ok(Listing::probed(items, page));
        }
        let total = self
            .users
            .estimated_document_count()
            .await
            .ctx("count users")?;
        Ok(Listing { items, total })
    }
}

/// The accounts linked to `service`: the range of `uniq_service` holding the
/// service's keys (`<service>\u{0}` up to `<service>\u{1}`; `$elemMatch` keeps both
/// bounds on the multikey index): the work is those accounts.
pub(super) fn service_find(service: &str) -> (Document, &'static str) {
    let (from, to) = (format!("{service}\u{0}"), format!("{service}\u{1}"));
    (
        doc! { "serviceKeys": { "$elemMatch": { "$gte": from, "$lt": to } } },
        IDX_SERVICE,
    )
}

fn user_doc(user: &User) -> StoreResult<Document> {
    let mut doc = to_doc(user, "user")?;
    let username_key = user.username.to_lowercase();
    doc.insert(
        SEARCH_GRAMS,
        document_grams([Some(username_key.as_str()), Some(user.name.as_str())]),
    );
    doc.insert("usernameKey", username_key);
    let mut keys: Vec<String> = user
        .emails
        .iter()
        .map(|e| e.address.to_lowercase())
        .collect();
    keys.sort();
    keys.dedup();
    if !keys.is_empty() {
        doc.insert("emailKeys", keys);
    }
    let services: Vec<String> = user
        .services
        .iter()
        .map(|(service, link)| service_key(service, &link.id))
        .collect();
    if !services.is_empty() {
        doc.insert("serviceKeys", services);
    }
    Ok(doc)
}

impl MongoStore {
    async fn find_user(&self, filter: Document) -> StoreResult<Option<User>> {
        self.users
            .find_one(filter)
            .projection(user_projection())
            .await
            .ctx("find user")?
            .map(|d| from_doc(d, "user"))
            .transpose()
    }
}

#[async_trait]
impl UserStore for MongoStore {
    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> StoreResult<()> {
        let mut doc = user_doc(user)?;
        if let Some(hash) = password_hash {
            doc.insert("passwordHash", hash);
        }
        self.users
            .insert_one(doc)
            .await
            .map_err(|e| write_error("create user", e, USER_CONFLICTS, "id"))?;
        Ok(())
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        // `$set`/`$unset` rather than a replacement keeps the password hash.
        // Presence is written by its own store calls only.
        let update = set_unset(user_doc(user)?, USER_OPTIONAL, PRESENCE_FIELDS);
        self.users
            .update_one(doc! { "_id": &user.id }, update)
            .await
            .map_err(|e| write_error("update user", e, USER_CONFLICTS, "id"))?;
        Ok(())
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "_id": id }).await
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let cursor = self
            .users
            .find(doc! { "_id": { "$in": ids } })
            .projection(user_projection())
            .await
            .ctx("users by ids")?;
        collect(cursor, "user").await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "usernameKey": username.to_lowercase() })
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "emailKeys": email.to_lowercase() })
            .await
    }

    async fn user_by_service(&self, service: &str, id: &str) -> StoreResult<Option<User>> {
        self.find_user(doc! { "serviceKeys": service_key(service, id) })
            .await
    }

    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        let found = self
            .users
            .find_one(doc! { "_id": user_id })
            .projection(doc! { "_id": 0, "passwordHash": 1 })
            .await
            .ctx("read password hash")?;
        Ok(found.and_then(|d| d.get_str("passwordHash").ok().map(str::to_string)))
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! { "$set": { "passwordHash": hash } },
            )
            .await
            .ctx("set password hash")?;
        Ok(())
    }

    async fn list_users(
        &self,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<User>> {
        if sort.key == SortKey::Status {
            return self.list_users_by_status(filter, sort.dir, page).await;
        }
        let gram = match filter {
            Some(term) => self.rare_gram(&self.users, term).await?,
            None => None,
        };
        let (query, order, index) = users_find(filter, sort, gram.as_deref());
        // A substring filter walking the index is not counted: the page is probed
        // (see `Listing`); a rare term's matches are counted (fewer than
        // `SEARCH_CANDIDATES`). Unfiltered, the total is the collection's count from
        // its metadata (`estimatedDocumentCount`, no scan; exact but after an
        // unclean shutdown).
        let probe = filter.is_some() && gram.is_none();
        let total = if probe {
            0
        } else if gram.is_some() {
            self.users
                .count_documents(query.clone())
                .hint(Hint::Name(index.into()))
                .await
                .ctx("count users")?
        } else {
            self.users
                .estimated_document_count()
                .await
                .ctx("count users")?
        };
        if page.count == 0 && !probe {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .users
            .find(query)
            .sort(order)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page) + i64::from(probe))
            .projection(user_projection())
            .await
            .ctx("list users")?;
        let items = collect(cursor, "user").await?;
        Ok(if probe {
            Listing::probed(items, page)
        } else {
            Listing { items, total }
        })
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.users.count_documents(doc! {}).await.ctx("count users")
    }

    async fn users_of_service(&self, service: &str) -> StoreResult<Vec<User>> {
        let (filter, index) = service_find(service);
        let cursor = self
            .users
            .find(filter)
            .hint(Hint::Name(index.into()))
            .projection(user_projection())
            .await
            .ctx("list users of service")?;
        collect(cursor, "user").await
    }
}

#[async_trait]
impl TokenStore for MongoStore {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()> {
        let mut doc = to_doc(token, "login token")?;
        doc.insert("_id", &token.hashed);
        self.tokens
            .insert_one(doc)
            .await
            .map_err(|e| write_error("insert token", e, &[], "id"))?;
        Ok(())
    }

    async fn token(&self, hashed: &str) -> StoreResult<Option<LoginToken>> {
        self.tokens
            .find_one(doc! { "_id": hashed })
            .await
            .ctx("find token")?
            .map(|d| from_doc(d, "login token"))
            .transpose()
    }

    async fn delete_token(&self, hashed: &str) -> StoreResult<bool> {
        let result = self
            .tokens
            .delete_one(doc! { "_id": hashed })
            .await
            .ctx("delete token")?;
        Ok(result.deleted_count > 0)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        self.tokens
            .delete_many(doc! { "user_id": id })
            .await
            .ctx("delete user tokens")?;
        let result = self
            .users
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete user")?;
        Ok(result.deleted_count > 0)
    }

    async fn delete_user_tokens(&self, user_id: &str) -> StoreResult<u64> {
        let result = self
            .tokens
            .delete_many(doc! { "user_id": user_id })
            .await
            .ctx("delete user tokens")?;
        Ok(result.deleted_count)
    }

    async fn user_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let cursor = self
            .tokens
            .find(doc! { "user_id": user_id })
            .hint(Hint::Name("by_user".into()))
            .await
            .ctx("list user tokens")?;
        let mut tokens: Vec<LoginToken> = collect(cursor, "login token").await?;
        tokens.sort_by(|a, b| (a.created_at, &a.hashed).cmp(&(b.created_at, &b.hashed)));
        Ok(tokens)
    }

    async fn delete_sessions_except(&self, user_id: &str, keep: &str) -> StoreResult<Vec<String>> {
        // `personal_name: null` matches a missing field too.
        let filter = doc! { "user_id": user_id, "_id": { "$ne": keep }, "personal_name": null };
        let cursor = self
            .tokens
            .find(filter)
            .hint(Hint::Name("by_user".into()))
            .projection(doc! { "_id": 1 })
            .await
            .ctx("find user sessions")?;
        let docs: Vec<Document> = collect(cursor, "login token").await?;
        let hashes: Vec<String> = docs
            .iter()
            .filter_map(|d| d.get_str("_id").ok().map(str::to_string))
            .collect();
        if !hashes.is_empty() {
            self.tokens
                .delete_many(doc! { "_id": { "$in": hashes.clone() }, "user_id": user_id })
                .await
                .ctx("delete user sessions")?;
        }
        Ok(hashes)
    }
}

#[async_trait]
impl SettingStore for MongoStore {
    async fn settings(&self) -> StoreResult<Vec<Setting>> {
        let cursor = self
            .settings
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .ctx("list settings")?;
        collect(cursor, "setting").await
    }

    async fn setting(&self, id: &str) -> StoreResult<Option<Setting>> {
        self.settings
            .find_one(doc! { "_id": id })
            .await
            .ctx("find setting")?
            .map(|d| from_doc(d, "setting"))
            .transpose()
    }

    async fn insert_setting_if_missing(&self, setting: &Setting) -> StoreResult<bool> {
        let mut doc = to_doc(setting, "setting")?;
        doc.remove("_id");
        // An upsert that only sets fields on insert: atomic. Two racing upserts of
        // the same id may surface as a duplicate key: the other one inserted it.
        let result = self
            .settings
            .update_one(doc! { "_id": &setting.id }, doc! { "$setOnInsert": doc })
            .upsert(true)
            .await;
        match result {
            Ok(r) => Ok(r.upserted_id.is_some()),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(backend("insert setting", e)),
        }
    }

    async fn put_setting(&self, setting: &Setting) -> StoreResult<()> {
        let doc = to_doc(setting, "setting")?;
        self.settings
            .replace_one(doc! { "_id": &setting.id }, doc)
            .upsert(true)
            .await
            .ctx("put setting")?;
        Ok(())
    }
}
