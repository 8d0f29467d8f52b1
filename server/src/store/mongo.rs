//! MongoDB backend (the official `mongodb` driver, 3.x).
//!
//! # Layout
//!
//! One collection per record kind, `_id` = the record's id (a string):
//! `users` (plus `usernameKey`, the lower-cased username, `emailKeys`, the lower-cased
//! addresses, `serviceKeys`, the linked identities, and `passwordHash`), `login_tokens` (`_id` = the hashed token),
//! `rooms` (plus `nameKey`, the lower-cased name, only when the room has a name; users
//! and rooms also hold `searchGrams`, the trigrams substring search reads through, see
//! `mongo/search.rs`),
//! `subscriptions`, `subscriptions_removed` (tombstones), `messages` and `settings`;
//! the apps engine's collections are described in `mongo/apps.rs`.
//! Timestamps are int64 milliseconds, so range queries and sorts work on them.
//! Uniqueness is enforced by indexes created idempotently at start-up; duplicate-key
//! errors (11000) are mapped to [`StoreError::Conflict`] by the index they name.
//!
//! # Atomicity
//!
//! Multi-document transactions need a replica set, serialize badly on the hot
//! documents (every message of a room bumps the same room document, so concurrent
//! transactions would abort on write conflicts and retry) and are not available on
//! a standalone `mongod`. This backend therefore uses **no** transactions. Every
//! operation is built from single-document atomic writes (`$inc`, `$max`,
//! `$addToSet`, `$pull`, conditional updates), ordered so that the first write is the
//! commit point of the operation and the rest are derived effects:
//!
//! - `insert_message` inserts the message first (a duplicate id stops everything),
//!   then bumps the room, the thread parent and the members' subscriptions with
//!   atomic update operators. Concurrent posts never lose an increment; a crash (or
//!   a lost connection) between the steps can leave a counter behind, never a
//!   counter ahead of the messages.
//! - `create_room` inserts the room, then its subscriptions; if those fail the room
//!   and the subscriptions already inserted are removed again (compensation).
//! - `delete_room` writes the tombstones, deletes subscriptions and messages, and
//!   removes the room document last, so a failure midway can be retried.
//!
//! Writes use write concern `majority` with journaling (unless the URI names its own
//! write concern), so an acknowledged write is durable.

mod apps;
mod discussions;
mod events;
mod exports;
mod integrations;
mod invites;
mod job_leases;
mod matrix;
mod message_lists;
mod messages;
mod moderation;
mod once;
mod outbox;
mod plans;
mod presence;
mod push;
mod roles;
mod rooms;
mod search;
mod settings_audit;
mod thread_unread;
mod uploads;
mod users;

pub use plans::Planned;
pub use search::SEARCH_CANDIDATES;

use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{self, doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Direction, Page, Store, StoreError, StoreResult};

const USERS: &str = "users";
const TOKENS: &str = "login_tokens";
const ROOMS: &str = "rooms";
const SUBSCRIPTIONS: &str = "subscriptions";
const REMOVED_SUBSCRIPTIONS: &str = "subscriptions_removed";
const MESSAGES: &str = "messages";
const SETTINGS: &str = "settings";

/// Index names; duplicate-key errors are attributed by these.
const IDX_USERNAME: &str = "uniq_username";
const IDX_EMAIL: &str = "uniq_email";
const IDX_SERVICE: &str = "uniq_service";
const IDX_ROOM_NAME: &str = "uniq_room_name";
const IDX_MEMBER: &str = "uniq_member";
const IDX_ID: &str = "_id_";
/// The indexes history and thread pages are read through.
const IDX_ROOM_TS: &str = "by_room_ts_id";
const IDX_THREAD_TS: &str = "by_thread_ts_id";
const IDX_ROLE_USERNAME: &str = "by_role_username";
const IDX_ACTIVE_USERNAME: &str = "by_active_username";
const IDX_TYPE_USERNAME: &str = "by_type_username";
const IDX_USER_UPDATED: &str = "by_updated";
const IDX_ROOM_DEFAULT: &str = "by_default_name";
/// scale: the listings' and the room role queries' indexes, each in its order.
const IDX_USERNAME_ID: &str = "by_username_id";
const IDX_CREATED_ID: &str = "by_created_id";
/// `users.list` sorted by status: (status, active, username).
pub(crate) const IDX_STATUS_ACTIVE: &str = "by_status_active_username";
const IDX_TYPE_NAME_ID: &str = "by_type_name_id";
const IDX_MEMBERS: &str = "by_room_username_id";
const IDX_ROOM_ROLES: &str = "by_room_roles";

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    client: Client,
    database: String,
    users: Collection<Document>,
    tokens: Collection<Document>,
    rooms: Collection<Document>,
    subs: Collection<Document>,
    removed: Collection<Document>,
    messages: Collection<Document>,
    settings: Collection<Document>,
}

/// The database named by the URI's path (`mongodb://h:1/chat?x=y` → `chat`), if any.
pub fn database_from_uri(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("mongodb://")
        .or_else(|| uri.strip_prefix("mongodb+srv://"))
        .unwrap_or(uri);
    // The host list ends at the first `/` (or at `?` when there is no path).
    let slash = rest.find('/')?;
    if let Some(q) = rest.find('?') {
        if q < slash {
            return None;
        }
    }
    let path = &rest[slash + 1..];
    let name = path.split('?').next().unwrap_or_default();
    let name = percent_decode(name);
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MongoStore {
    /// Connects, pings the server and creates the indexes (idempotently).
    pub async fn connect(uri: &str, database: &str) -> StoreResult<MongoStore> {
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError::Backend(format!("invalid MongoDB URI: {e}")))?;
        if options.write_concern.is_none() {
            options.write_concern = Some(
                WriteConcern::builder()
                    .w(Acknowledgment::Majority)
                    .journal(true)
                    .build(),
            );
        } else {
            tracing::info!(
                write_concern = ?options.write_concern,
                "using the write concern named by the MongoDB URI"
            );
        }
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(Duration::from_secs(15));
        }
        if options.app_name.is_none() {
            options.app_name = Some("palaver".into());
        }
        let client = Client::with_options(options)
            .map_err(|e| StoreError::Backend(format!("MongoDB client: {e}")))?;
        let db = client.database(database);
        db.run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| StoreError::Backend(format!("cannot reach MongoDB: {e}")))?;
        let store = MongoStore::new(client, &db, database);
        store.create_indexes().await?;
        store.create_app_indexes().await?;
        store.create_integration_indexes().await?;
        store.create_matrix_indexes().await?;
        store.create_outbox_indexes().await?;
        store.create_setting_change_indexes().await?;
        store.create_report_indexes().await?;
        store.create_export_indexes().await?;
        store.create_invite_indexes().await?;
        store.create_upload_indexes().await?;
        store.create_presence_indexes().await?;
        store.create_role_indexes().await?;
        store.create_push_indexes().await?;
        store.create_message_list_indexes().await?;
        store.create_discussion_indexes().await?;
        store.create_team_indexes().await?;
        events::create_indexes(&store.client.database(database)).await?;
        store.backfill_search_grams().await?;
        tracing::info!(database, "mongodb storage open");
        Ok(store)
    }

    fn new(client: Client, db: &Database, database: &str) -> MongoStore {
        MongoStore {
            users: db.collection(USERS),
            tokens: db.collection(TOKENS),
            rooms: db.collection(ROOMS),
            subs: db.collection(SUBSCRIPTIONS),
            removed: db.collection(REMOVED_SUBSCRIPTIONS),
            messages: db.collection(MESSAGES),
            settings: db.collection(SETTINGS),
            database: database.to_string(),
            client,
        }
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        fn index(keys: Document, name: &str) -> IndexModel {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_string()).build())
                .build()
        }
        fn unique(keys: Document, name: &str) -> IndexModel {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_string())
                        .unique(true)
                        .build(),
                )
                .build()
        }
        let plan: Vec<(&Collection<Document>, Vec<IndexModel>)> = vec![
            (
                &self.users,
                vec![
                    unique(doc! { "usernameKey": 1 }, IDX_USERNAME),
                    // `emailKeys` is absent for users without addresses.
                    IndexModel::builder()
                        .keys(doc! { "emailKeys": 1 })
                        .options(
                            IndexOptions::builder()
                                .name(IDX_EMAIL.to_string())
                                .unique(true)
                                .sparse(true)
                                .build(),
                        )
                        .build(),
                    // `serviceKeys` is absent for users without linked identities.
                    IndexModel::builder()
                        .keys(doc! { "serviceKeys": 1 })
                        .options(
                            IndexOptions::builder()
                                .name(IDX_SERVICE.to_string())
                                .unique(true)
                                .sparse(true)
                                .build(),
                        )
                        .build(),
                    index(doc! { "createdAt": 1 }, "by_created"),
                    // scale: role members, the admin's user tabs and presence
                    // deltas are ranges of these, in the listing's order.
                    index(
                        doc! { "roles": 1, "usernameKey": 1, "_id": 1 },
                        IDX_ROLE_USERNAME,
                    ),
                    index(
                        doc! { "active": 1, "usernameKey": 1, "_id": 1 },
                        IDX_ACTIVE_USERNAME,
                    ),
                    index(
                        doc! { "type": 1, "usernameKey": 1, "_id": 1 },
                        IDX_TYPE_USERNAME,
                    ),
                    index(doc! { "_updatedAt": 1 }, IDX_USER_UPDATED),
                    // scale: the users listing in each order, `_id` breaking ties.
                    index(doc! { "usernameKey": 1, "_id": 1 }, IDX_USERNAME_ID),
                    index(doc! { "createdAt": 1, "_id": 1 }, IDX_CREATED_ID),
                    index(
                        doc! { "status": 1, "active": 1, "usernameKey": 1 },
                        IDX_STATUS_ACTIVE,
                    ),
                    // Substring search of usernames and names (see `search.rs`).
                    index(doc! { search::SEARCH_GRAMS: 1 }, search::IDX_SEARCH_GRAMS),
                ],
            ),
            (&self.tokens, vec![index(doc! { "user_id": 1 }, "by_user")]),
            (
                &self.rooms,
                vec![
                    // Only rooms with a name take part in the namespace.
                    IndexModel::builder()
                        .keys(doc! { "nameKey": 1 })
                        .options(
                            IndexOptions::builder()
                                .name(IDX_ROOM_NAME.to_string())
                                .unique(true)
                                .partial_filter_expression(
                                    doc! { "nameKey": { "$type": "string" } },
                                )
                                .build(),
                        )
                        .build(),
                    index(doc! { "t": 1, "nameKey": 1 }, "by_type_name"),
                    // scale: listings in each order, and the default rooms.
                    index(doc! { "t": 1, "ts": 1, "_id": 1 }, "by_type_ts"),
                    index(doc! { "t": 1, "usersCount": 1, "_id": 1 }, "by_type_users"),
                    index(doc! { "t": 1, "msgs": 1, "_id": 1 }, "by_type_msgs"),
                    index(doc! { "default": 1, "nameKey": 1 }, IDX_ROOM_DEFAULT),
                    index(doc! { "t": 1, "nameKey": 1, "_id": 1 }, IDX_TYPE_NAME_ID),
                    // Substring search of room names (see `search.rs`).
                    index(doc! { search::SEARCH_GRAMS: 1 }, search::IDX_SEARCH_GRAMS),
                ],
            ),
            (
                &self.subs,
                vec![
                    unique(doc! { "rid": 1, "u._id": 1 }, IDX_MEMBER),
                    index(doc! { "u._id": 1, "_updatedAt": 1 }, "by_user_updated"),
                    index(doc! { "rid": 1, "usernameKey": 1 }, "by_room_username"),
                    // scale: a room's members by name, and those holding room roles
                    // (owners, moderators, leaders) by role.
                    index(doc! { "rid": 1, "usernameKey": 1, "u._id": 1 }, IDX_MEMBERS),
                    index(
                        doc! { "rid": 1, "roles": 1, "usernameKey": 1, "u._id": 1 },
                        IDX_ROOM_ROLES,
                    ),
                ],
            ),
            (
                &self.removed,
                vec![index(doc! { "uid": 1, "_deletedAt": 1 }, "by_user_deleted")],
            ),
            (
                &self.messages,
                vec![
                    // `_id` last: history and thread pages sort on it as the
                    // tiebreaker, and only then does the index serve the sort.
                    index(doc! { "rid": 1, "ts": 1, "_id": 1 }, IDX_ROOM_TS),
                    index(doc! { "tmid": 1, "ts": 1, "_id": 1 }, IDX_THREAD_TS),
                ],
            ),
        ];
        for (coll, models) in plan {
            coll.create_indexes(models).await.map_err(|e| {
                StoreError::Backend(format!(
                    "creating indexes on {}.{}: {e}",
                    self.database,
                    coll.name()
                ))
            })?;
        }
        // Superseded by the `_id`-suffixed indexes created above; gone from older databases.
        for old in ["by_room_ts", "by_thread_ts"] {
            if let Err(e) = self.messages.drop_index(old).await {
                tracing::debug!(index = old, error = %e, "old index not dropped");
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Store for MongoStore {
    fn backend_name(&self) -> &'static str {
        "mongodb"
    }

    fn event_relay(&self) -> Option<std::sync::Arc<dyn super::EventRelay>> {
        Some(std::sync::Arc::new(events::MongoRelay::new(
            self.client
                .database(&self.database)
                .collection(events::EVENTS),
        )))
    }

    async fn close(&self) -> StoreResult<()> {
        // Ends the sessions and closes the pools; in-flight operations elsewhere fail
        // with a shutdown error instead of hanging.
        self.client.clone().shutdown().immediate(true).await;
        tracing::info!(database = %self.database, "mongodb storage closed");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Helpers shared by the submodules.

/// `Backend` error for a failed driver call.
pub(crate) fn backend(op: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("mongodb {op}: {e}"))
}

/// Adds the operation name to driver errors.
pub(crate) trait Ctx<T> {
    fn ctx(self, op: &str) -> StoreResult<T>;
}

impl<T> Ctx<T> for Result<T, mongodb::error::Error> {
    fn ctx(self, op: &str) -> StoreResult<T> {
        self.map_err(|e| {
            if out_of_space(&e) {
                super::full::full("mongodb", format!("{op}: {e}"))
            } else {
                backend(op, e)
            }
        })
    }
}

/// MongoDB's `OutOfDiskSpace`.
const OUT_OF_DISK_SPACE: i32 = 14031;

/// Whether the server refused the operation for lack of disk space.
fn out_of_space(e: &mongodb::error::Error) -> bool {
    let code = match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) => Some(we.code),
        ErrorKind::Command(ce) => Some(ce.code),
        ErrorKind::InsertMany(im) => im.write_errors.as_ref().and_then(|errs| {
            errs.iter()
                .map(|we| we.code)
                .find(|c| *c == OUT_OF_DISK_SPACE)
        }),
        _ => None,
    };
    code == Some(OUT_OF_DISK_SPACE) || e.to_string().contains("No space left on device")
}

/// The server's message if `e` is a duplicate-key error.
fn duplicate_key_message(e: &mongodb::error::Error) -> Option<&str> {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) if we.code == DUPLICATE_KEY => {
            Some(we.message.as_str())
        }
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()?
            .iter()
            .find(|we| we.code == DUPLICATE_KEY)
            .map(|we| we.message.as_str()),
        ErrorKind::Command(ce) if ce.code == DUPLICATE_KEY => Some(ce.message.as_str()),
        _ => None,
    }
}

/// The index named by a duplicate-key message (`... index: uniq_username dup key: ...`).
fn duplicate_index(message: &str) -> Option<&str> {
    let start = message.find("index: ")? + "index: ".len();
    message[start..].split_whitespace().next()
}

/// Maps a write error: duplicate keys on one of `indexes` become `Conflict(name)`
/// (an unknown index becomes `Conflict(fallback)`); anything else is `Backend`.
pub(crate) fn write_error(
    op: &str,
    e: mongodb::error::Error,
    indexes: &[(&str, &'static str)],
    fallback: &'static str,
) -> StoreError {
    match duplicate_key_message(&e) {
        Some(message) => {
            let index = duplicate_index(message).unwrap_or_default();
            let what = indexes
                .iter()
                .find(|(name, _)| *name == index)
                .map(|(_, what)| *what)
                .unwrap_or(fallback);
            tracing::debug!(op, index, what, "duplicate key");
            StoreError::Conflict(what)
        }
        None => backend(op, e),
    }
}

/// Whether `e` is a duplicate-key error.
pub(crate) fn is_duplicate(e: &mongodb::error::Error) -> bool {
    duplicate_key_message(e).is_some()
}

pub(crate) fn to_doc<T: Serialize>(value: &T, what: &str) -> StoreResult<Document> {
    bson::to_document(value).map_err(|e| StoreError::Backend(format!("encoding {what}: {e}")))
}

pub(crate) fn from_doc<T: DeserializeOwned>(doc: Document, what: &str) -> StoreResult<T> {
    bson::from_document(doc).map_err(|e| StoreError::Backend(format!("corrupt {what} record: {e}")))
}

/// Collects a cursor of documents into records.
pub(crate) async fn collect<T: DeserializeOwned>(
    mut cursor: mongodb::Cursor<Document>,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    while cursor.advance().await.ctx(what)? {
        let raw = cursor.current();
        let doc = Document::try_from(raw)
            .map_err(|e| StoreError::Backend(format!("corrupt {what} record: {e}")))?;
        out.push(from_doc(doc, what)?);
    }
    Ok(out)
}

/// `$set` every field of `new` but `_id` and `keep`, `$unset` every field of
/// `optional` that `new` lacks: replaces a record's content in place while leaving
/// the `keep` fields (and any field not named) as stored.
pub(crate) fn set_unset(mut new: Document, optional: &[&str], keep: &[&str]) -> Document {
    new.remove("_id");
    for k in keep {
        new.remove(*k);
    }
    let mut unset = Document::new();
    for field in optional {
        if !keep.contains(field) && !new.contains_key(*field) {
            unset.insert(*field, "");
        }
    }
    let mut update = doc! { "$set": new };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    update
}

/// A case-insensitive substring match of `text` (regex metacharacters escaped).
pub(crate) fn substring(text: &str) -> Bson {
    let mut pattern = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '^'
                | '$'
                | '.'
                | '|'
                | '?'
                | '*'
                | '+'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '-'
                | '#'
                | '/'
        ) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    Bson::RegularExpression(bson::Regex {
        pattern,
        options: "i".into(),
    })
}

pub(crate) fn sort_dir(dir: Direction) -> i32 {
    match dir {
        Direction::Asc => 1,
        Direction::Desc => -1,
    }
}

/// The `find` limit of a page. A page of `count` 0 holds no items (as SQL's
/// `LIMIT 0`); callers must not query then, since a MongoDB limit of 0 means "all".
pub(crate) fn page_limit(page: Page) -> i64 {
    i64::try_from(page.count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_from_uris() {
        assert_eq!(
            database_from_uri("mongodb://h:1/chat?x=y"),
            Some("chat".into())
        );
        assert_eq!(database_from_uri("mongodb://h:1/chat"), Some("chat".into()));
        assert_eq!(database_from_uri("mongodb://h:1"), None);
        assert_eq!(database_from_uri("mongodb://h:1/"), None);
        assert_eq!(database_from_uri("mongodb://h:1/?replicaSet=rs"), None);
        assert_eq!(database_from_uri("mongodb://h:1?replicaSet=rs"), None);
        assert_eq!(
            database_from_uri("mongodb://u:p%40ss@h1:1,h2:2/db1?authSource=admin"),
            Some("db1".into())
        );
        assert_eq!(
            database_from_uri("mongodb+srv://cluster.example.com/prod"),
            Some("prod".into())
        );
        assert_eq!(
            database_from_uri("mongodb://h/my%2Ddb"),
            Some("my-db".into())
        );
    }

    #[test]
    fn finds_the_duplicate_index() {
        let msg = "E11000 duplicate key error collection: exp.users index: uniq_username \
                   dup key: { usernameKey: \"a\" }";
        assert_eq!(duplicate_index(msg), Some("uniq_username"));
        assert_eq!(duplicate_index("no index here"), None);
    }

    #[test]
    fn escapes_regex_metacharacters() {
        let Bson::RegularExpression(re) = substring("a.b*(c)") else {
            panic!("not a regex");
        };
        assert_eq!(re.pattern, "a\\.b\\*\\(c\\)");
        assert_eq!(re.options, "i");
    }

    #[test]
    fn set_unset_keeps_and_clears_fields() {
        let update = set_unset(
            doc! { "_id": "x", "a": 1, "keep": 2 },
            &["a", "b", "keep"],
            &["keep"],
        );
        assert_eq!(update, doc! { "$set": { "a": 1 }, "$unset": { "b": "" } });
    }
}
