//! Users, login tokens and settings on SQLite.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use super::{
    exec, like_pattern, map_err, page_args, query_count, query_doc, query_docs, to_json,
    SqliteStore,
};
use crate::store::{
    Direction, Listing, LoginToken, Page, Setting, SettingStore, Sort, SortKey, StoreResult,
    TokenStore, User, UserStore,
};

/// Writes the user's lookup rows (addresses, linked identities), which carry the
/// uniqueness the document itself cannot.
fn insert_keys(conn: &Connection, user: &User) -> StoreResult<()> {
    for email in &user.emails {
        exec(
            conn,
            "INSERT INTO user_emails (address, user_id) VALUES (?1, ?2)",
            params![email.address.to_lowercase(), user.id],
        )?;
    }
    for (service, link) in &user.services {
        exec(
            conn,
            "INSERT INTO user_services (service, service_id, user_id) VALUES (?1, ?2, ?3)",
            params![service, link.id, user.id],
        )?;
    }
    Ok(())
}

/// The total and the page statements of a users listing. The page walks an index in
/// the listing's order (`username_key` is unique, `users_created` ends in `id`), so it
/// stops after `offset + count` rows; `OFFSET` (Rocket.Chat's pagination) costs one
/// index step per skipped user. The total counts the smallest index without a
/// filter; with one (a substring, which no index serves) there is no count: the page
/// is probed (see [`Listing`]).
/// A users listing's `ORDER BY`, every term in the asked direction: the key's
/// index columns (`users_status_active`'s expressions for a status sort, whose
/// unique username ends the order), else the key then `id`.
fn users_order(sort: Sort) -> String {
    let dir = match sort.dir {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    match sort.key {
        SortKey::Status => {
            format!("{STATUS_KEY} {dir}, json_extract(doc, '$.active') {dir}, username_key {dir}")
        }
        SortKey::Ts => format!("created_at {dir}, id {dir}"),
        _ => format!("username_key {dir}, id {dir}"),
    }
}

/// A user's status as shown (absent: never connected, `offline`): the first
/// expression of the `users_status_active` index, written the same way here so
/// SQLite matches it.
const STATUS_KEY: &str = "coalesce(json_extract(doc, '$.status'), 'offline')";

pub(super) fn users_listing(sort: Sort, filtered: bool) -> (Option<String>, String) {
    let order = users_order(sort);
    let filter = if filtered {
        " WHERE (username_key LIKE ?1 ESCAPE '\\'
             OR lower(json_extract(doc, '$.name')) LIKE ?1 ESCAPE '\\')"
    } else {
        ""
    };
    let n = if filtered { 2 } else { 1 };
    (
        (!filtered).then(|| "SELECT count(*) FROM users".to_string()),
        format!(
            "SELECT doc FROM users{filter} ORDER BY {order}
             LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
    )
}

/// Most matches a users search reads through the trigram index: a term that fewer
/// users match (a rare one) is answered from `users_search` — those users only,
/// sorted, with an exact total — whatever the user base; a commoner term walks the
/// listing's index (as [`users_listing`]), where matches are dense enough that the
/// page fills after about `(offset + count) × users / matches` rows, i.e. at most
/// `users / SEARCH_CANDIDATES` rows per row of the page.
pub(super) const SEARCH_CANDIDATES: i64 = 2_000;

/// How many users the trigram index finds for a phrase, counting at most
/// [`SEARCH_CANDIDATES`].
pub(super) const SEARCH_CANDIDATE_COUNT: &str = "SELECT count(*) FROM
     (SELECT 1 FROM users_search WHERE users_search MATCH ?1 LIMIT ?2)";

/// The term as an FTS5 phrase for the trigram index, if it has the three
/// characters a trigram needs (shorter terms walk the listing's index).
pub(super) fn trigram_phrase(term: &str) -> Option<String> {
    let term = term.to_lowercase();
    (term.chars().count() >= 3).then(|| format!("\"{}\"", term.replace('"', "\"\"")))
}

/// The total and page statements of a search the trigram index answers (see
/// [`SEARCH_CANDIDATES`]): its matches by primary key, checked against the same
/// substring filter as the walk (the index folds case more widely than `LIKE`),
/// sorted — fewer than `SEARCH_CANDIDATES` rows.
pub(super) fn users_search(sort: Sort) -> (String, String) {
    let order = users_order(sort);
    let filter = "WHERE id IN (SELECT uid FROM users_search WHERE users_search MATCH ?1)
         AND (username_key LIKE ?2 ESCAPE '\\'
             OR lower(json_extract(doc, '$.name')) LIKE ?2 ESCAPE '\\')";
    (
        format!("SELECT count(*) FROM users {filter}"),
        format!("SELECT doc FROM users {filter} ORDER BY {order} LIMIT ?3 OFFSET ?4"),
    )
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> StoreResult<()> {
        let user = user.clone();
        let doc = to_json(&user)?;
        let hash = password_hash.map(str::to_string);
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO users (id, username_key, created_at, password_hash, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    user.id,
                    user.username.to_lowercase(),
                    user.created_at.0,
                    hash,
                    doc
                ],
            )?;
            insert_keys(conn, &user)
        })
        .await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let mut user = user.clone();
        self.write(move |conn| {
            // Presence is written by its own store calls only.
            let stored: Option<User> =
                query_doc(conn, "SELECT doc FROM users WHERE id = ?1", [&user.id])?;
            if let Some(stored) = stored {
                crate::store::presence::keep_presence(&mut user, &stored);
            }
            let doc = to_json(&user)?;
            exec(
                conn,
                "UPDATE users SET username_key = ?2, doc = ?3 WHERE id = ?1",
                params![user.id, user.username.to_lowercase(), doc],
            )?;
            exec(
                conn,
                "DELETE FROM user_emails WHERE user_id = ?1",
                [&user.id],
            )?;
            exec(
                conn,
                "DELETE FROM user_services WHERE user_id = ?1",
                [&user.id],
            )?;
            insert_keys(conn, &user)
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM users WHERE id = ?1", [&id]))
            .await
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).map_err(super::backend)?;
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM users WHERE id IN (SELECT value FROM json_each(?1))",
                [&ids],
            )
        })
        .await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let key = username.to_lowercase();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM users WHERE username_key = ?1",
                [&key],
            )
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let address = email.to_lowercase();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM users WHERE id = (SELECT user_id FROM user_emails WHERE address = ?1)",
                [&address],
            )
        })
        .await
    }

    async fn user_by_service(&self, service: &str, id: &str) -> StoreResult<Option<User>> {
        let (service, id) = (service.to_string(), id.to_string());
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM users WHERE id = (SELECT user_id FROM user_services
                     WHERE service = ?1 AND service_id = ?2)",
                params![service, id],
            )
        })
        .await
    }

    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        let id = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")
                .map_err(super::map_err)?;
            let mut rows = stmt.query([&id]).map_err(super::map_err)?;
            match rows.next().map_err(super::map_err)? {
                Some(row) => row.get::<_, Option<String>>(0).map_err(super::map_err),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        let id = user_id.to_string();
        let hash = hash.to_string();
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )
            .map(drop)
        })
        .await
    }

    async fn list_users(
        &self,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<User>> {
        let pattern = filter.map(like_pattern);
        let phrase = filter.and_then(trigram_phrase);
        self.read(move |conn| {
            if let (Some(phrase), Some(pattern)) = (&phrase, &pattern) {
                let candidates = query_count(
                    conn,
                    SEARCH_CANDIDATE_COUNT,
                    params![phrase, SEARCH_CANDIDATES],
                )?;
                if candidates < SEARCH_CANDIDATES as u64 {
                    let (count_sql, page_sql) = users_search(sort);
                    let total = query_count(conn, &count_sql, params![phrase, pattern])?;
                    let items = query_docs(
                        conn,
                        &page_sql,
                        params![
                            phrase,
                            pattern,
                            i64::try_from(page.count).unwrap_or(i64::MAX),
                            i64::try_from(page.offset).unwrap_or(i64::MAX)
                        ],
                    )?;
                    return Ok(Listing { items, total });
                }
            }
            let (count_sql, page_sql) = users_listing(sort, pattern.is_some());
            let mut args: Vec<Value> = pattern.map(Value::from).into_iter().collect();
            page_args(&mut args, page, count_sql.is_none());
            let items = query_docs(conn, &page_sql, params_from_iter(&args))?;
            match count_sql {
                Some(sql) => Ok(Listing {
                    items,
                    total: query_count(conn, &sql, [])?,
                }),
                None => Ok(Listing::probed(items, page)),
            }
        })
        .await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.read(|conn| query_count(conn, "SELECT count(*) FROM users", []))
            .await
    }

    async fn users_of_service(&self, service: &str) -> StoreResult<Vec<User>> {
        let service = service.to_string();
        self.read(move |conn| query_docs(conn, USERS_OF_SERVICE, [&service]))
            .await
    }
}

/// The accounts linked to a service: its range of `user_services`' primary key
/// (service, service_id), each account by its primary key.
pub(super) const USERS_OF_SERVICE: &str = "SELECT u.doc FROM user_services s
     JOIN users u ON u.id = s.user_id WHERE s.service = ?1 ORDER BY s.service_id";

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()> {
        let doc = to_json(token)?;
        let (hashed, user) = (token.hashed.clone(), token.user_id.clone());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO tokens (hashed, user_id, doc) VALUES (?1, ?2, ?3)",
                params![hashed, user, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn token(&self, hashed: &str) -> StoreResult<Option<LoginToken>> {
        let hashed = hashed.to_string();
        self.read(move |conn| {
            query_doc(conn, "SELECT doc FROM tokens WHERE hashed = ?1", [&hashed])
        })
        .await
    }

    async fn delete_token(&self, hashed: &str) -> StoreResult<bool> {
        let hashed = hashed.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM tokens WHERE hashed = ?1", [&hashed])? > 0)
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write_freeing(move |conn| {
            exec(conn, "DELETE FROM tokens WHERE user_id = ?1", [&id])?;
            // Its e-mails and linked identities go with it (ON DELETE CASCADE).
            Ok(exec(conn, "DELETE FROM users WHERE id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn delete_user_tokens(&self, user_id: &str) -> StoreResult<u64> {
        let id = user_id.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM tokens WHERE user_id = ?1", [&id])? as u64)
        })
        .await
    }

    async fn user_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let id = user_id.to_string();
        // The user's range of `tokens_user`; a user has a handful of tokens.
        let mut tokens: Vec<LoginToken> = self
            .read(move |conn| query_docs(conn, "SELECT doc FROM tokens WHERE user_id = ?1", [&id]))
            .await?;
        tokens.sort_by(|a, b| (a.created_at, &a.hashed).cmp(&(b.created_at, &b.hashed)));
        Ok(tokens)
    }

    async fn delete_sessions_except(&self, user_id: &str, keep: &str) -> StoreResult<Vec<String>> {
        let (id, keep) = (user_id.to_string(), keep.to_string());
        // One write job (one savepoint): the hashes read are the rows deleted.
        self.write(move |conn| {
            let hashes: Vec<String> = {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT hashed FROM tokens WHERE user_id = ?1 AND hashed <> ?2 \
                         AND json_extract(doc, '$.personal_name') IS NULL",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![id, keep], |r| r.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            for h in &hashes {
                exec(conn, "DELETE FROM tokens WHERE hashed = ?1", [h])?;
            }
            Ok(hashes)
        })
        .await
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn settings(&self) -> StoreResult<Vec<Setting>> {
        self.read(|conn| query_docs(conn, "SELECT doc FROM settings ORDER BY id", []))
            .await
    }

    async fn setting(&self, id: &str) -> StoreResult<Option<Setting>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM settings WHERE id = ?1", [&id]))
            .await
    }

    async fn insert_setting_if_missing(&self, setting: &Setting) -> StoreResult<bool> {
        let doc = to_json(setting)?;
        let id = setting.id.clone();
        self.write(move |conn| {
            Ok(exec(
                conn,
                "INSERT OR IGNORE INTO settings (id, doc) VALUES (?1, ?2)",
                params![id, doc],
            )? > 0)
        })
        .await
    }

    async fn put_setting(&self, setting: &Setting) -> StoreResult<()> {
        let doc = to_json(setting)?;
        let id = setting.id.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO settings (id, doc) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                params![id, doc],
            )
            .map(drop)
        })
        .await
    }
}
