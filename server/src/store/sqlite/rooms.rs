//! Rooms and subscriptions (memberships) on SQLite.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use super::users::{trigram_phrase, SEARCH_CANDIDATES};
use super::{
    exec, like_pattern, page_args, query_count, query_doc, query_docs, to_json, SqliteStore,
};
use crate::store::{
    Direction, Listing, MuteChange, Page, RemovedSubscription, Room, RoomKinds, RoomMatch,
    RoomStore, RoomType, Sort, SortKey, StoreResult, Subscription, SubscriptionPatch,
    SubscriptionStore, Ts,
};

pub(super) fn load_room(conn: &Connection, id: &str) -> StoreResult<Option<Room>> {
    query_doc(conn, "SELECT doc FROM rooms WHERE id = ?1", [id])
}

pub(super) fn save_room(conn: &Connection, room: &Room) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE rooms SET doc = ?2 WHERE id = ?1",
        params![room.id, to_json(room)?],
    )
    .map(drop)
}

fn insert_subscription(conn: &Connection, sub: &Subscription) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO subscriptions (id, rid, uid, username, updated_at, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            sub.id,
            sub.rid,
            sub.u.id,
            sub.u.username.to_lowercase(),
            sub.updated_at.0,
            to_json(sub)?
        ],
    )
    .map(drop)
}

/// Removes the (rid, uid) subscription, recording the removal. Returns whether one
/// existed.
fn remove_subscription_row(conn: &Connection, rid: &str, uid: &str, at: Ts) -> StoreResult<bool> {
    let n = exec(
        conn,
        "INSERT INTO removed_subscriptions (id, rid, uid, deleted_at)
         SELECT id, rid, uid, ?3 FROM subscriptions WHERE rid = ?1 AND uid = ?2",
        params![rid, uid, at.0],
    )?;
    exec(
        conn,
        "DELETE FROM subscriptions WHERE rid = ?1 AND uid = ?2",
        params![rid, uid],
    )?;
    Ok(n > 0)
}

fn adjust_users_count(conn: &Connection, rid: &str, delta: i64, at: Ts) -> StoreResult<()> {
    if let Some(mut room) = load_room(conn, rid)? {
        room.users_count = (room.users_count + delta).max(0);
        room.updated_at = at;
        save_room(conn, &room)?;
    }
    Ok(())
}

fn type_list(types: &[RoomType]) -> String {
    let codes: Vec<String> = types.iter().map(|t| format!("'{}'", t.code())).collect();
    if codes.is_empty() {
        "''".into()
    } else {
        codes.join(",")
    }
}

/// The total and the page statements of a rooms listing (`types` from [`type_list`]).
/// For one type (the listings requests make: `channels.list`) the page is a range of
/// the index for its order (`rooms_type_name`, `rooms_type_ts`, `rooms_type_users`,
/// `rooms_type_msgs`: the type, the key, `id`) and stops after `offset + count`
/// rooms; `OFFSET` (Rocket.Chat's pagination) costs one index step per skipped room.
/// Several types are merged in a sort of all their rooms. The total counts the
/// rooms of the types in the narrowest of those indexes; with a name filter (a
/// substring no index serves) there is no count: the page is probed (see
/// [`Listing`]). A term few rooms match takes [`rooms_search`] instead.
pub(super) fn rooms_listing(
    types: &str,
    sort: Sort,
    filtered: bool,
    display_names: bool,
    kinds: &str,
) -> (Option<String>, String) {
    let order = rooms_order(sort);
    let filter = if filtered && display_names {
        format!(
            "t IN ({types}) AND (name_key LIKE ?1 ESCAPE '\\'
             OR lower(json_extract(doc, '$.fname')) LIKE ?1 ESCAPE '\\')"
        )
    } else if filtered {
        format!("t IN ({types}) AND name_key LIKE ?1 ESCAPE '\\'")
    } else {
        format!("t IN ({types})")
    };
    let filter = format!("{filter}{kinds}");
    let n = if filtered { 2 } else { 1 };
    (
        (!filtered).then(|| format!("SELECT count(*) FROM rooms WHERE {filter}")),
        format!(
            "SELECT doc FROM rooms WHERE {filter} ORDER BY {order}
             LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
    )
}

/// How many rooms the trigram index finds with the phrase in their name, counting at
/// most [`SEARCH_CANDIDATES`]: below that the search reads those rooms only.
pub(super) const ROOMS_SEARCH_CANDIDATE_COUNT: &str = "SELECT count(*) FROM
     (SELECT 1 FROM rooms_search WHERE rooms_search MATCH ?1 LIMIT ?2)";

/// The term as an FTS5 query of room names (the `name` column of `rooms_search`), if
/// it has the three characters a trigram needs.
pub(super) fn room_name_phrase(term: &str) -> Option<String> {
    trigram_phrase(term).map(|phrase| format!("{{name}} : {phrase}"))
}

/// The term as an FTS5 query of room display names (`fname`), whose case the
/// trigram index folds beyond ASCII (`LIKE` does not).
pub(super) fn room_fname_phrase(term: &str) -> Option<String> {
    trigram_phrase(term).map(|phrase| format!("{{fname}} : {phrase}"))
}

/// The term as an FTS5 query of room names or display names: a search's candidates.
pub(super) fn room_names_phrase(term: &str) -> Option<String> {
    trigram_phrase(term).map(|phrase| format!("{{name fname}} : {phrase}"))
}

/// The total and page statements of a rooms search the trigram index answers (a
/// term fewer than [`SEARCH_CANDIDATES`] rooms' names or display names hold): its
/// matches by primary key, checked against the walk's own filter (types, `LIKE` on
/// the name, which folds case less widely than the index; a display name is taken
/// as the index matched it, as Rocket.Chat's case-insensitive regex), then sorted —
/// so the cost is the matches, whatever the number of rooms, and the total is exact.
/// A commoner term walks the listing's index ([`rooms_listing`]), where matches are
/// dense enough for the page to fill soon. Parameters: `?1` the names phrase, `?2`
/// the pattern, `?3` the display names phrase (when they are searched), then the
/// page's limit and offset.
pub(super) fn rooms_search(
    types: &str,
    sort: Sort,
    display_names: bool,
    kinds: &str,
) -> (String, String) {
    let order = rooms_order(sort);
    let (filter, limit) = if display_names {
        (
            format!(
                "WHERE id IN (SELECT rid FROM rooms_search WHERE rooms_search MATCH ?1)
                 AND t IN ({types}) AND (name_key LIKE ?2 ESCAPE '\\'
                 OR id IN (SELECT rid FROM rooms_search WHERE rooms_search MATCH ?3)){kinds}"
            ),
            "LIMIT ?4 OFFSET ?5",
        )
    } else {
        (
            format!(
                "WHERE id IN (SELECT rid FROM rooms_search WHERE rooms_search MATCH ?1)
                 AND t IN ({types}) AND name_key LIKE ?2 ESCAPE '\\'{kinds}"
            ),
            "LIMIT ?3 OFFSET ?4",
        )
    };
    (
        format!("SELECT count(*) FROM rooms INDEXED BY sqlite_autoindex_rooms_1 {filter}"),
        format!(
            "SELECT doc FROM rooms INDEXED BY sqlite_autoindex_rooms_1 {filter}
             ORDER BY {order} {limit}"
        ),
    )
}

/// The condition (`AND …`, or nothing) leaving out the kinds of rooms a listing
/// does not keep, and, when the kinds kept are listed whatever their type, the
/// rooms of other types (than `plain`, a [`type_list`]) not of those kinds: a
/// filter on its walk.
pub(super) fn kinds_condition(kinds: RoomKinds, plain: &str) -> String {
    let mut out = String::new();
    if kinds.widen_types() {
        let mut any = vec![format!("t IN ({plain})")];
        if kinds.discussions {
            any.push("json_extract(doc, '$.prid') IS NOT NULL".into());
        }
        if kinds.team_mains {
            any.push("json_extract(doc, '$.teamMain') IS 1".into());
        }
        out.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    if !kinds.discussions {
        out.push_str(" AND json_extract(doc, '$.prid') IS NULL");
    }
    if !kinds.team_mains {
        out.push_str(" AND json_extract(doc, '$.teamMain') IS NOT 1");
    }
    out
}

/// A rooms listing's `ORDER BY`: the key, then `id`, both in the asked direction.
fn rooms_order(sort: Sort) -> String {
    let key = match sort.key {
        // `Status` is a users' key; room listings are never asked for it.
        SortKey::Name | SortKey::Status => "name_key",
        SortKey::Ts => "json_extract(doc, '$.ts')",
        SortKey::UsersCount => "json_extract(doc, '$.usersCount')",
        SortKey::Msgs => "json_extract(doc, '$.msgs')",
    };
    let dir = match sort.dir {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    format!("{key} {dir}, id {dir}")
}

/// The default rooms: a walk of the partial index `rooms_default`, which holds them
/// only, in name order.
pub(super) const DEFAULT_ROOMS: &str = "SELECT doc FROM rooms INDEXED BY rooms_default
     WHERE json_extract(doc, '$.default') = 1 AND t IN ('c', 'p') ORDER BY name_key, id";

#[async_trait]
impl RoomStore for SqliteStore {
    async fn create_room(&self, room: &Room, subs: &[Subscription]) -> StoreResult<()> {
        let room = room.clone();
        let subs = subs.to_vec();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO rooms (id, t, name_key, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    room.id,
                    room.t.code(),
                    room.name.as_ref().map(|n| n.to_lowercase()),
                    to_json(&room)?
                ],
            )?;
            for sub in &subs {
                insert_subscription(conn, sub)?;
            }
            Ok(())
        })
        .await
    }

    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>> {
        let id = id.to_string();
        self.read(move |conn| load_room(conn, &id)).await
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>> {
        let key = name.to_lowercase();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM rooms WHERE name_key = ?1", [&key]))
            .await
    }

    async fn list_rooms_of_kinds(
        &self,
        types: &[RoomType],
        filter: Option<RoomMatch<'_>>,
        kinds: RoomKinds,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        // Kinds listed whatever their type walk every type's rooms; the listing's
        // own types are then a filter on that walk (see `kinds_condition`).
        let plain = type_list(types);
        let types = if kinds.widen_types() {
            type_list(&[RoomType::Channel, RoomType::Group, RoomType::Direct])
        } else {
            plain.clone()
        };
        let kinds = kinds_condition(kinds, &plain);
        let display_names = filter.is_some_and(|f| f.display_names);
        let filter = filter.map(|f| f.term);
        let pattern = filter.map(like_pattern);
        let phrase = if display_names {
            filter.and_then(room_names_phrase)
        } else {
            filter.and_then(room_name_phrase)
        };
        let fname_phrase = filter.filter(|_| display_names).and_then(room_fname_phrase);
        self.read(move |conn| {
            if let (Some(phrase), Some(pattern)) = (&phrase, &pattern) {
                let candidates = query_count(
                    conn,
                    ROOMS_SEARCH_CANDIDATE_COUNT,
                    params![phrase, SEARCH_CANDIDATES],
                )?;
                if candidates < SEARCH_CANDIDATES as u64 {
                    let (count_sql, page_sql) = rooms_search(&types, sort, display_names, &kinds);
                    let mut args: Vec<Value> = vec![phrase.clone().into(), pattern.clone().into()];
                    args.extend(fname_phrase.clone().map(Value::from));
                    let total = query_count(conn, &count_sql, params_from_iter(&args))?;
                    args.push(i64::try_from(page.count).unwrap_or(i64::MAX).into());
                    args.push(i64::try_from(page.offset).unwrap_or(i64::MAX).into());
                    let items = query_docs(conn, &page_sql, params_from_iter(&args))?;
                    return Ok(Listing { items, total });
                }
            }
            let (count_sql, page_sql) =
                rooms_listing(&types, sort, pattern.is_some(), display_names, &kinds);
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

    async fn default_rooms(&self) -> StoreResult<Vec<Room>> {
        self.read(|conn| query_docs(conn, DEFAULT_ROOMS, [])).await
    }

    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>> {
        let ids = serde_json::to_string(ids).map_err(super::backend)?;
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM rooms WHERE id IN (SELECT value FROM json_each(?1))",
                [&ids],
            )
        })
        .await
    }

    async fn update_room_meta(&self, room: &Room) -> StoreResult<()> {
        let given = room.clone();
        self.write(move |conn| {
            let Some(mut stored) = load_room(conn, &given.id)? else {
                return Ok(());
            };
            stored.name = given.name.clone();
            stored.fname = given.fname.clone();
            stored.topic = given.topic.clone();
            stored.description = given.description.clone();
            stored.ro = given.ro;
            stored.default = given.default;
            stored.updated_at = given.updated_at;
            exec(
                conn,
                "UPDATE rooms SET name_key = ?2, doc = ?3 WHERE id = ?1",
                params![
                    stored.id,
                    stored.name.as_ref().map(|n| n.to_lowercase()),
                    to_json(&stored)?
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_room_settings(&self, room: &Room) -> StoreResult<()> {
        let given = room.clone();
        self.write(move |conn| {
            let Some(mut stored) = load_room(conn, &given.id)? else {
                return Ok(());
            };
            stored.name = given.name.clone();
            stored.fname = given.fname.clone();
            stored.t = given.t;
            stored.topic = given.topic.clone();
            stored.description = given.description.clone();
            stored.announcement = given.announcement.clone();
            stored.ro = given.ro;
            stored.react_when_read_only = given.react_when_read_only;
            stored.default = given.default;
            stored.archived = given.archived;
            stored.custom_fields = given.custom_fields.clone();
            stored.join_code = given.join_code.clone();
            stored.join_code_required = given.join_code_required;
            stored.avatar_etag = given.avatar_etag.clone();
            stored.avatar_file_id = given.avatar_file_id.clone();
            stored.extra.featured = given.extra.featured;
            stored.extra.sys_mes = given.extra.sys_mes.clone();
            stored.extra.favorite = given.extra.favorite;
            stored.extra.team_id = given.extra.team_id.clone();
            stored.extra.team_main = given.extra.team_main;
            stored.extra.team_default = given.extra.team_default;
            stored.extra.sidepanel = given.extra.sidepanel.clone();
            stored.updated_at = given.updated_at;
            exec(
                conn,
                "UPDATE rooms SET name_key = ?2, t = ?3, doc = ?4 WHERE id = ?1",
                params![
                    stored.id,
                    stored.name.as_ref().map(|n| n.to_lowercase()),
                    stored.t.code(),
                    to_json(&stored)?
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn set_room_mute(
        &self,
        rid: &str,
        username: &str,
        change: MuteChange,
        at: Ts,
    ) -> StoreResult<Option<Room>> {
        let (rid, username) = (rid.to_string(), username.to_string());
        self.write(move |conn| {
            let Some(mut room) = load_room(conn, &rid)? else {
                return Ok(None);
            };
            change.apply(&mut room.extra, &username);
            room.updated_at = at;
            save_room(conn, &room)?;
            Ok(Some(room))
        })
        .await
    }

    async fn discussions(&self, prid: &str, page: Page) -> StoreResult<Listing<Room>> {
        self.discussions_of(prid, page).await
    }

    async fn team_rooms(&self, team_id: &str, page: Page) -> StoreResult<Listing<Room>> {
        self.rooms_of_team(team_id, page).await
    }

    async fn team_main_room(&self, team_id: &str) -> StoreResult<Option<Room>> {
        self.main_room_of_team(team_id).await
    }

    async fn team_main_rooms(&self, page: Page) -> StoreResult<Listing<Room>> {
        self.main_rooms(page).await
    }

    async fn delete_room(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        let now = Ts::now();
        self.write_freeing(move |conn| {
            exec(
                conn,
                "INSERT INTO removed_subscriptions (id, rid, uid, deleted_at)
                 SELECT id, rid, uid, ?2 FROM subscriptions WHERE rid = ?1",
                params![id, now.0],
            )?;
            exec(conn, "DELETE FROM subscriptions WHERE rid = ?1", [&id])?;
            exec(conn, "DELETE FROM messages WHERE rid = ?1", [&id])?;
            Ok(exec(conn, "DELETE FROM rooms WHERE id = ?1", [&id])? > 0)
        })
        .await
    }
}

/// A user's subscriptions: a range of `subscriptions_user` (uid, updated_at).
pub(super) const SUBSCRIPTIONS_ALL: &str =
    "SELECT doc FROM subscriptions WHERE uid = ?1 ORDER BY updated_at";
/// A user's subscriptions changed after a time (`subscriptions.get?updatedSince`).
pub(super) const SUBSCRIPTIONS_SINCE: &str =
    "SELECT doc FROM subscriptions WHERE uid = ?1 AND updated_at > ?2 ORDER BY updated_at";

/// A page of a room's members by username: a walk of the room's range of
/// `subscriptions_room_order` (rid, username, uid) that stops at the `LIMIT`;
/// `OFFSET` (Rocket.Chat's `channels.members`) costs one index step per skipped member.
pub(super) const MEMBERS_PAGE: &str = "SELECT doc FROM subscriptions WHERE rid = ?1
     ORDER BY username, uid LIMIT ?2 OFFSET ?3";
/// The members' total Rocket.Chat's listing carries: counted in the room's range of
/// the covering index, so the work is the room's membership (the listing itself),
/// never its history.
pub(super) const MEMBERS_COUNT: &str = "SELECT count(*) FROM subscriptions WHERE rid = ?1";

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn subscription(&self, rid: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        let (rid, uid) = (rid.to_string(), user_id.to_string());
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM subscriptions WHERE rid = ?1 AND uid = ?2",
                [&rid, &uid],
            )
        })
        .await
    }

    async fn user_subscriptions(
        &self,
        user_id: &str,
        since: Option<Ts>,
    ) -> StoreResult<Vec<Subscription>> {
        let uid = user_id.to_string();
        // Two statements, not `?2 IS NULL OR updated_at > ?2`, so that `since` is a
        // seek in `subscriptions_user` (uid, updated_at) rather than a filter.
        self.read(move |conn| match since {
            Some(since) => query_docs(conn, SUBSCRIPTIONS_SINCE, params![uid, since.0]),
            None => query_docs(conn, SUBSCRIPTIONS_ALL, params![uid]),
        })
        .await
    }

    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Ts,
    ) -> StoreResult<Vec<RemovedSubscription>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, rid, deleted_at FROM removed_subscriptions
                     WHERE uid = ?1 AND deleted_at > ?2 ORDER BY deleted_at",
                )
                .map_err(super::map_err)?;
            let rows = stmt
                .query_map(params![uid, since.0], |r| {
                    Ok(RemovedSubscription {
                        id: r.get(0)?,
                        rid: r.get(1)?,
                        deleted_at: Ts(r.get(2)?),
                    })
                })
                .map_err(super::map_err)?;
            rows.map(|r| r.map_err(super::map_err)).collect()
        })
        .await
    }

    async fn room_subscriptions(
        &self,
        rid: &str,
        page: Page,
    ) -> StoreResult<Listing<Subscription>> {
        let rid = rid.to_string();
        self.read(move |conn| {
            let total = query_count(conn, MEMBERS_COUNT, [&rid])?;
            let items = query_docs(
                conn,
                MEMBERS_PAGE,
                params![
                    rid,
                    i64::try_from(page.count).unwrap_or(i64::MAX),
                    i64::try_from(page.offset).unwrap_or(i64::MAX)
                ],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn room_members_after(
        &self,
        rid: &str,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        let (rid, after) = (rid.to_string(), after.unwrap_or_default().to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // A range of the (rid, uid) unique index, from the cursor on.
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM subscriptions WHERE rid = ?1 AND uid > ?2
                 ORDER BY uid LIMIT ?3",
                params![rid, after, limit],
            )
        })
        .await
    }

    async fn unread_totals(&self, user_ids: &[String]) -> StoreResult<Vec<(String, u64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(user_ids).map_err(super::backend)?;
        // Each user's range of `subscriptions_user`.
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT uid, coalesce(sum(max(coalesce(json_extract(doc, '$.unread'), 0), 0)), 0)
                     FROM subscriptions
                     WHERE uid IN (SELECT value FROM json_each(?1))
                       AND coalesce(json_extract(doc, '$.archived'), 0) = 0
                     GROUP BY uid",
                )
                .map_err(super::map_err)?;
            let rows = stmt
                .query_map([&ids], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
                })
                .map_err(super::map_err)?;
            rows.map(|r| r.map_err(super::map_err)).collect()
        })
        .await
    }

    async fn add_subscription(&self, sub: &Subscription) -> StoreResult<bool> {
        let sub = sub.clone();
        self.write(move |conn| {
            let exists = query_count(
                conn,
                "SELECT count(*) FROM subscriptions WHERE rid = ?1 AND uid = ?2",
                [&sub.rid, &sub.u.id],
            )? > 0;
            if exists {
                return Ok(false);
            }
            insert_subscription(conn, &sub)?;
            adjust_users_count(conn, &sub.rid, 1, sub.updated_at)?;
            Ok(true)
        })
        .await
    }

    async fn remove_subscription(&self, rid: &str, user_id: &str) -> StoreResult<bool> {
        let (rid, uid) = (rid.to_string(), user_id.to_string());
        let now = Ts::now();
        self.write(move |conn| {
            let removed = remove_subscription_row(conn, &rid, &uid, now)?;
            if removed {
                adjust_users_count(conn, &rid, -1, now)?;
            }
            Ok(removed)
        })
        .await
    }

    async fn mark_read(
        &self,
        rid: &str,
        user_id: &str,
        ls: Ts,
        read_threads: bool,
    ) -> StoreResult<bool> {
        let (rid, uid) = (rid.to_string(), user_id.to_string());
        self.write(move |conn| {
            let n = exec(
                conn,
                "UPDATE subscriptions SET updated_at = ?3, doc = json_set(
                    CASE WHEN ?4 THEN json_remove(doc, '$.tunread', '$.tunreadUser',
                        '$.tunreadGroup') ELSE doc END,
                    '$.unread', 0, '$.userMentions', 0, '$.groupMentions', 0,
                    '$.alert', CASE WHEN NOT ?4 AND json_extract(doc, '$.alert')
                        AND json_array_length(doc, '$.tunread') > 0
                        THEN json('true') ELSE json('false') END,
                    '$.ls', ?3, '$._updatedAt', ?3)
                 WHERE rid = ?1 AND uid = ?2",
                params![rid, uid, ls.0, read_threads],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn patch_subscriptions(
        &self,
        rid: &str,
        user_id: Option<&str>,
        patch: &SubscriptionPatch,
    ) -> StoreResult<u64> {
        let (rid, uid) = (rid.to_string(), user_id.map(str::to_string));
        let now = Ts::now();
        let mut sets: Vec<(&'static str, serde_json::Value)> = Vec::new();
        let p = patch.clone();
        let text = |v: String| serde_json::Value::String(v);
        if let Some(v) = p.name {
            sets.push(("$.name", text(v)));
        }
        if let Some(v) = p.fname {
            sets.push(("$.fname", text(v)));
        }
        if let Some(v) = p.t {
            sets.push(("$.t", text(v.code().into())));
        }
        if let Some(v) = p.archived {
            sets.push(("$.archived", v.into()));
        }
        if let Some(v) = p.open {
            sets.push(("$.open", v.into()));
        }
        if let Some(v) = p.f {
            sets.push(("$.f", v.into()));
        }
        if let Some(v) = p.unread {
            sets.push(("$.unread", v.into()));
        }
        if let Some(v) = p.alert {
            sets.push(("$.alert", v.into()));
        }
        if let Some(v) = p.ls {
            sets.push(("$.ls", v.0.into()));
        }
        let notify: Vec<(String, serde_json::Value)> = p
            .notify
            .iter()
            .filter(|(k, _)| k.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|(k, v)| (format!("$.{k}"), v.clone()))
            .collect();
        sets.push(("$._updatedAt", now.0.into()));
        self.write(move |conn| {
            // Each value goes in as JSON text and is set with json(), so booleans
            // stay booleans.
            let mut sql =
                String::from("UPDATE subscriptions SET updated_at = ?1, doc = json_set(doc");
            let mut args: Vec<rusqlite::types::Value> = vec![now.0.into()];
            let paths = sets
                .iter()
                .map(|(p, v)| (p.to_string(), v))
                .chain(notify.iter().map(|(p, v)| (p.clone(), v)));
            for (path, value) in paths {
                args.push(value.to_string().into());
                sql.push_str(&format!(", '{path}', json(?{})", args.len()));
            }
            args.push(rid.clone().into());
            sql.push_str(&format!(") WHERE rid = ?{}", args.len()));
            if let Some(uid) = &uid {
                args.push(uid.clone().into());
                sql.push_str(&format!(" AND uid = ?{}", args.len()));
            }
            let n = exec(conn, &sql, rusqlite::params_from_iter(args))?;
            Ok(n as u64)
        })
        .await
    }

    async fn set_subscription_open(
        &self,
        rid: &str,
        user_id: &str,
        open: bool,
    ) -> StoreResult<bool> {
        let (rid, uid) = (rid.to_string(), user_id.to_string());
        let now = Ts::now();
        self.write(move |conn| {
            let n = exec(
                conn,
                "UPDATE subscriptions SET updated_at = ?4, doc = json_set(doc,
                    '$.open', json(?3), '$._updatedAt', ?4)
                 WHERE rid = ?1 AND uid = ?2",
                params![rid, uid, if open { "true" } else { "false" }, now.0],
            )?;
            Ok(n > 0)
        })
        .await
    }
}
