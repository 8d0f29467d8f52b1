//! Rooms and subscriptions (memberships) on MongoDB.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::Hint;

use super::search::{document_grams, IDX_SEARCH_GRAMS, SEARCH_GRAMS};
use super::{
    backend, collect, from_doc, page_limit, sort_dir, substring, to_doc, write_error, Ctx,
    MongoStore, IDX_ID, IDX_MEMBER, IDX_ROOM_NAME,
};
use crate::store::{
    Listing, MuteChange, Page, RemovedSubscription, Room, RoomKinds, RoomMatch, RoomStore,
    RoomType, Sort, SortKey, StoreError, StoreResult, Subscription, SubscriptionPatch,
    SubscriptionStore, Ts,
};

const ROOM_CONFLICTS: &[(&str, &str)] = &[(IDX_ROOM_NAME, "room name"), (IDX_ID, "id")];
const SUB_CONFLICTS: &[(&str, &str)] = &[(IDX_MEMBER, "subscription"), (IDX_ID, "id")];

fn room_doc(room: &Room) -> StoreResult<Document> {
    let mut doc = to_doc(room, "room")?;
    if let Some(name) = &room.name {
        doc.insert("nameKey", name.to_lowercase());
    }
    doc.insert(SEARCH_GRAMS, room_grams(room));
    Ok(doc)
}

/// A room's `searchGrams`: of its name and display name.
fn room_grams(room: &Room) -> Vec<String> {
    document_grams([room.name.as_deref(), room.fname.as_deref()])
}

fn sub_doc(sub: &Subscription) -> StoreResult<Document> {
    let mut doc = to_doc(sub, "subscription")?;
    doc.insert("usernameKey", sub.u.username.to_lowercase());
    Ok(doc)
}

fn tombstone(sub_id: &Bson, rid: &str, uid: &str, at: Ts) -> Document {
    doc! { "sid": sub_id.clone(), "rid": rid, "uid": uid, "_deletedAt": at.0 }
}

/// The members' user id of a stored subscription.
fn member_id(sub: &Document) -> Option<&str> {
    sub.get_document("u").ok()?.get_str("_id").ok()
}

/// A rooms listing as a find: for one type a range of the index for the order
/// (`by_type_name_id`, `by_type_ts`, `by_type_users`, `by_type_msgs`: the type, the
/// key, `_id`) walked to the limit; `skip` (Rocket.Chat's `offset`) costs one index
/// step per skipped room. A name substring is checked on the way (see `Listing`);
/// a rare term comes with its rarest `gram` (see `search.rs`): then the rooms
/// holding it are read through `by_search_grams`, filtered and sorted (fewer than
/// `SEARCH_CANDIDATES`), rather than every room of the types walked.
pub(super) fn rooms_find(
    types: &[RoomType],
    filter: Option<RoomMatch<'_>>,
    kinds: RoomKinds,
    sort: Sort,
    gram: Option<&str>,
) -> (Document, Document, &'static str) {
    let codes: Vec<&str> = types.iter().map(|t| t.code()).collect();
    let mut query = if kinds.widen_types() {
        // Every type's rooms are walked; the listing's own types are one way in.
        let mut any = vec![doc! { "t": { "$in": codes } }];
        if kinds.discussions {
            any.push(doc! { "prid": { "$exists": true } });
        }
        if kinds.team_mains {
            any.push(doc! { "teamMain": true });
        }
        doc! {
            "t": { "$in": ["c", "p", "d"] },
            "$and": [{ "$or": any }],
        }
    } else {
        doc! { "t": { "$in": codes } }
    };
    // The kinds left out: filters on the same walk.
    if !kinds.discussions {
        query.insert("prid", doc! { "$exists": false });
    }
    if !kinds.team_mains {
        query.insert("teamMain", doc! { "$ne": true });
    }
    match filter {
        Some(RoomMatch {
            term,
            display_names: true,
        }) => {
            query.insert(
                "$or",
                vec![
                    doc! { "nameKey": substring(term) },
                    doc! { "fname": substring(term) },
                ],
            );
        }
        Some(RoomMatch { term, .. }) => {
            query.insert("nameKey", substring(term));
        }
        None => {}
    }
    if let Some(gram) = gram {
        query.insert(SEARCH_GRAMS, gram);
        let dir = sort_dir(sort.dir);
        return (
            query,
            doc! { sort_key(sort.key): dir, "_id": dir },
            IDX_SEARCH_GRAMS,
        );
    }
    let (key, index) = match sort.key {
        // `Status` is a users' key; room listings are never asked for it.
        SortKey::Name | SortKey::Status => ("nameKey", super::IDX_TYPE_NAME_ID),
        SortKey::Ts => ("ts", "by_type_ts"),
        SortKey::UsersCount => ("usersCount", "by_type_users"),
        SortKey::Msgs => ("msgs", "by_type_msgs"),
    };
    let dir = sort_dir(sort.dir);
    (query, doc! { key: dir, "_id": dir }, index)
}

/// The field a rooms listing sorts on.
fn sort_key(key: SortKey) -> &'static str {
    match key {
        SortKey::Name | SortKey::Status => "nameKey",
        SortKey::Ts => "ts",
        SortKey::UsersCount => "usersCount",
        SortKey::Msgs => "msgs",
    }
}

/// A room's members by name: its range of `by_room_username_id`, walked to the
/// limit; `skip` (`channels.members`' offset) costs one index step per member.
pub(super) fn members_find(rid: &str) -> (Document, Document, &'static str) {
    (
        doc! { "rid": rid },
        doc! { "usernameKey": 1, "u._id": 1 },
        super::IDX_MEMBERS,
    )
}

impl MongoStore {
    async fn find_room(&self, filter: Document) -> StoreResult<Option<Room>> {
        self.rooms
            .find_one(filter)
            .await
            .ctx("find room")?
            .map(|d| from_doc(d, "room"))
            .transpose()
    }

    /// Lowers `usersCount` by one (not below zero) and stamps `_updatedAt`.
    async fn leave_room_count(&self, rid: &str, at: Ts) -> StoreResult<()> {
        let lowered = self
            .rooms
            .update_one(
                doc! { "_id": rid, "usersCount": { "$gt": 0_i64 } },
                doc! { "$inc": { "usersCount": -1_i64 }, "$set": { "_updatedAt": at.0 } },
            )
            .await
            .ctx("lower usersCount")?;
        if lowered.matched_count == 0 {
            self.rooms
                .update_one(doc! { "_id": rid }, doc! { "$set": { "_updatedAt": at.0 } })
                .await
                .ctx("lower usersCount")?;
        }
        Ok(())
    }
}

/// The default rooms' filter, sort and index (`by_default_name`).
pub(crate) fn default_rooms_find() -> (Document, Document, &'static str) {
    (
        doc! { "default": true, "t": { "$in": ["c", "p"] } },
        doc! { "default": 1, "nameKey": 1 },
        super::IDX_ROOM_DEFAULT,
    )
}

#[async_trait]
impl RoomStore for MongoStore {
    async fn create_room(&self, room: &Room, subs: &[Subscription]) -> StoreResult<()> {
        let room_doc = room_doc(room)?;
        let sub_docs = subs.iter().map(sub_doc).collect::<StoreResult<Vec<_>>>()?;
        self.rooms
            .insert_one(room_doc)
            .await
            .map_err(|e| write_error("create room", e, ROOM_CONFLICTS, "id"))?;
        if sub_docs.is_empty() {
            return Ok(());
        }
        let Err(e) = self.subs.insert_many(sub_docs).await else {
            return Ok(());
        };
        // No transaction: undo the room (and whichever subscriptions made it in).
        let err = write_error("create room subscriptions", e, SUB_CONFLICTS, "id");
        let ids: Vec<&str> = subs.iter().map(|s| s.id.as_str()).collect();
        if let Err(e) = self
            .subs
            .delete_many(doc! { "rid": &room.id, "_id": { "$in": ids } })
            .await
        {
            tracing::error!(room = %room.id, error = %e, "undoing a failed room creation");
        }
        if let Err(e) = self.rooms.delete_one(doc! { "_id": &room.id }).await {
            tracing::error!(room = %room.id, error = %e, "undoing a failed room creation");
        }
        Err(err)
    }

    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>> {
        self.find_room(doc! { "_id": id }).await
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>> {
        self.find_room(doc! { "nameKey": name.to_lowercase() })
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
        let gram = match filter {
            Some(RoomMatch { term, .. }) => self.rare_gram(&self.rooms, term).await?,
            None => None,
        };
        let (query, order, index) = rooms_find(types, filter, kinds, sort, gram.as_deref());
        // A substring filter walking the index is not counted: the page is probed
        // (see `Listing`); otherwise the count is a range of the type's index, or
        // of a rare term's gram (fewer than `SEARCH_CANDIDATES` rooms).
        let probe = filter.is_some() && gram.is_none();
        let total = if probe {
            0
        } else {
            self.rooms
                .count_documents(query.clone())
                .hint(Hint::Name(index.into()))
                .await
                .ctx("count rooms")?
        };
        if page.count == 0 && !probe {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .rooms
            .find(query)
            .sort(order)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page) + i64::from(probe))
            .await
            .ctx("list rooms")?;
        let items = collect(cursor, "room").await?;
        Ok(if probe {
            Listing::probed(items, page)
        } else {
            Listing { items, total }
        })
    }

    async fn default_rooms(&self) -> StoreResult<Vec<Room>> {
        let (filter, sort, index) = default_rooms_find();
        let cursor = self
            .rooms
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .await
            .ctx("list default rooms")?;
        collect(cursor, "room").await
    }

    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let cursor = self
            .rooms
            .find(doc! { "_id": { "$in": ids } })
            .await
            .ctx("rooms by ids")?;
        collect(cursor, "room").await
    }

    async fn update_room_meta(&self, room: &Room) -> StoreResult<()> {
        let mut set = doc! {
            "ro": room.ro,
            "default": room.default,
            "_updatedAt": room.updated_at.0,
            SEARCH_GRAMS: room_grams(room),
        };
        let mut unset = Document::new();
        let name_key = room.name.as_ref().map(|n| n.to_lowercase());
        let texts = [
            ("name", &room.name),
            ("nameKey", &name_key),
            ("fname", &room.fname),
            ("topic", &room.topic),
            ("description", &room.description),
        ];
        for (field, value) in texts {
            match value {
                Some(v) => set.insert(field, v.as_str()),
                None => unset.insert(field, ""),
            };
        }
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        self.rooms
            .update_one(doc! { "_id": &room.id }, update)
            .await
            .map_err(|e| write_error("update room", e, ROOM_CONFLICTS, "id"))?;
        Ok(())
    }

    async fn update_room_settings(&self, room: &Room) -> StoreResult<()> {
        let full = room_doc(room)?;
        let mut set = Document::new();
        let mut unset = Document::new();
        let fields = [
            "name",
            "nameKey",
            "fname",
            "t",
            "topic",
            "description",
            "announcement",
            "ro",
            "reactWhenReadOnly",
            "default",
            "archived",
            "customFields",
            "joinCode",
            "joinCodeRequired",
            "avatarETag",
            "avatarFileId",
            "featured",
            "sysMes",
            "favorite",
            "teamId",
            "teamMain",
            "teamDefault",
            "sidepanel",
            "_updatedAt",
            SEARCH_GRAMS,
        ];
        for field in fields {
            match full.get(field) {
                Some(v) => set.insert(field, v.clone()),
                None => unset.insert(field, ""),
            };
        }
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        self.rooms
            .update_one(doc! { "_id": &room.id }, update)
            .await
            .map_err(|e| write_error("update room settings", e, ROOM_CONFLICTS, "id"))?;
        Ok(())
    }

    async fn set_room_mute(
        &self,
        rid: &str,
        username: &str,
        change: MuteChange,
        at: Ts,
    ) -> StoreResult<Option<Room>> {
        // The operators of Rocket.Chat's `muteUsernameByRoomId` and friends.
        let mut update = match change {
            MuteChange::Mute => doc! {
                "$addToSet": { "muted": username },
                "$pull": { "unmuted": username },
            },
            MuteChange::MuteReadOnly => doc! { "$pull": { "unmuted": username } },
            MuteChange::Unmute => doc! { "$pull": { "muted": username } },
            MuteChange::UnmuteReadOnly => doc! {
                "$pull": { "muted": username },
                "$addToSet": { "unmuted": username },
            },
        };
        update.insert("$set", doc! { "_updatedAt": at.0 });
        let room = self
            .rooms
            .find_one_and_update(doc! { "_id": rid }, update)
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .ctx("mute in room")?;
        room.map(|d| from_doc(d, "room")).transpose()
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
        let now = Ts::now();
        // Tombstones first, the room document last: a failure midway leaves a state
        // that a retry completes.
        let members = self
            .subs
            .find(doc! { "rid": id })
            .projection(doc! { "_id": 1, "u._id": 1 })
            .await
            .ctx("list room members")?;
        let members: Vec<Document> = collect(members, "subscription").await?;
        let tombstones: Vec<Document> = members
            .iter()
            .filter_map(|m| Some(tombstone(m.get("_id")?, id, member_id(m)?, now)))
            .collect();
        if !tombstones.is_empty() {
            self.removed
                .insert_many(tombstones)
                .await
                .ctx("record removed subscriptions")?;
        }
        self.subs
            .delete_many(doc! { "rid": id })
            .await
            .ctx("delete room subscriptions")?;
        self.messages
            .delete_many(doc! { "rid": id })
            .await
            .ctx("delete room messages")?;
        let deleted = self
            .rooms
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete room")?;
        Ok(deleted.deleted_count > 0)
    }
}

#[async_trait]
impl SubscriptionStore for MongoStore {
    async fn subscription(&self, rid: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        self.subs
            .find_one(doc! { "rid": rid, "u._id": user_id })
            .await
            .ctx("find subscription")?
            .map(|d| from_doc(d, "subscription"))
            .transpose()
    }

    async fn user_subscriptions(
        &self,
        user_id: &str,
        since: Option<Ts>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut query = doc! { "u._id": user_id };
        if let Some(since) = since {
            query.insert("_updatedAt", doc! { "$gt": since.0 });
        }
        let cursor = self
            .subs
            .find(query)
            .sort(doc! { "_updatedAt": 1, "_id": 1 })
            .await
            .ctx("list user subscriptions")?;
        collect(cursor, "subscription").await
    }

    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Ts,
    ) -> StoreResult<Vec<RemovedSubscription>> {
        let cursor = self
            .removed
            .find(doc! { "uid": user_id, "_deletedAt": { "$gt": since.0 } })
            .sort(doc! { "_deletedAt": 1, "_id": 1 })
            .await
            .ctx("list removed subscriptions")?;
        let docs: Vec<Document> = collect(cursor, "removed subscription").await?;
        docs.into_iter()
            .map(|d| {
                let corrupt =
                    |e| StoreError::Backend(format!("corrupt removed subscription record: {e}"));
                Ok(RemovedSubscription {
                    id: d.get_str("sid").map_err(corrupt)?.to_string(),
                    rid: d.get_str("rid").map_err(corrupt)?.to_string(),
                    deleted_at: Ts(d.get_i64("_deletedAt").map_err(corrupt)?),
                })
            })
            .collect()
    }

    async fn room_subscriptions(
        &self,
        rid: &str,
        page: Page,
    ) -> StoreResult<Listing<Subscription>> {
        let (query, order, index) = members_find(rid);
        // The members' total, counted in the room's range of the index: the
        // room's membership (the listing itself), never its history.
        let total = self
            .subs
            .count_documents(query.clone())
            .hint(Hint::Name(index.into()))
            .await
            .ctx("count room members")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .subs
            .find(query)
            .sort(order)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list room members")?;
        Ok(Listing {
            items: collect(cursor, "subscription").await?,
            total,
        })
    }

    async fn room_members_after(
        &self,
        rid: &str,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A range of the (rid, u._id) unique index, from the cursor on.
        let cursor = self
            .subs
            .find(doc! { "rid": rid, "u._id": { "$gt": after.unwrap_or_default() } })
            .sort(doc! { "u._id": 1 })
            .hint(Hint::Name(IDX_MEMBER.into()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .ctx("list room members after")?;
        collect(cursor, "subscription").await
    }

    async fn unread_totals(&self, user_ids: &[String]) -> StoreResult<Vec<(String, u64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Each user's range of `by_user_updated`.
        let mut cursor = self
            .subs
            .aggregate([
                doc! { "$match": { "u._id": { "$in": user_ids }, "archived": { "$ne": true } } },
                doc! { "$group": {
                    "_id": "$u._id",
                    "unread": { "$sum": { "$max": [ { "$ifNull": ["$unread", 0_i64] }, 0_i64 ] } },
                } },
            ])
            .await
            .ctx("unread totals")?;
        let mut out = Vec::new();
        while cursor.advance().await.ctx("unread totals")? {
            let d = cursor.deserialize_current().ctx("unread totals")?;
            let uid = d
                .get_str("_id")
                .map_err(|e| backend("unread totals", e))?
                .to_string();
            let n = match d.get("unread") {
                Some(Bson::Int32(n)) => i64::from(*n),
                Some(Bson::Int64(n)) => *n,
                Some(Bson::Double(n)) => *n as i64,
                _ => 0,
            };
            out.push((uid, n.max(0) as u64));
        }
        Ok(out)
    }

    async fn add_subscription(&self, sub: &Subscription) -> StoreResult<bool> {
        let doc = sub_doc(sub)?;
        if let Err(e) = self.subs.insert_one(doc).await {
            return match write_error("add subscription", e, SUB_CONFLICTS, "id") {
                StoreError::Conflict("subscription") => Ok(false),
                // Already a member under another subscription id counts as "already".
                StoreError::Conflict(what) => match self.subscription(&sub.rid, &sub.u.id).await? {
                    Some(_) => Ok(false),
                    None => Err(StoreError::Conflict(what)),
                },
                other => Err(other),
            };
        }
        self.rooms
            .update_one(
                doc! { "_id": &sub.rid },
                doc! {
                    "$inc": { "usersCount": 1_i64 },
                    "$set": { "_updatedAt": sub.updated_at.0 },
                },
            )
            .await
            .ctx("raise usersCount")?;
        Ok(true)
    }

    async fn remove_subscription(&self, rid: &str, user_id: &str) -> StoreResult<bool> {
        let now = Ts::now();
        let removed = self
            .subs
            .find_one_and_delete(doc! { "rid": rid, "u._id": user_id })
            .projection(doc! { "_id": 1 })
            .await
            .ctx("remove subscription")?;
        let Some(removed) = removed else {
            return Ok(false);
        };
        let sid = removed
            .get("_id")
            .ok_or_else(|| backend("remove subscription", "record without _id"))?;
        self.removed
            .insert_one(tombstone(sid, rid, user_id, now))
            .await
            .ctx("record removed subscription")?;
        self.leave_room_count(rid, now).await?;
        Ok(true)
    }

    async fn mark_read(
        &self,
        rid: &str,
        user_id: &str,
        ls: Ts,
        read_threads: bool,
    ) -> StoreResult<bool> {
        let mut set = doc! {
            "unread": 0_i64,
            "userMentions": 0_i64,
            "groupMentions": 0_i64,
            "ls": ls.0,
            "_updatedAt": ls.0,
        };
        let mut update = doc! {};
        if read_threads {
            set.insert("alert", false);
            update.insert(
                "$unset",
                doc! { "tunread": 1, "tunreadUser": 1, "tunreadGroup": 1 },
            );
        }
        update.insert("$set", set);
        let result = self
            .subs
            .update_one(doc! { "rid": rid, "u._id": user_id }, update)
            .await
            .ctx("mark read")?;
        if !read_threads && result.matched_count > 0 {
            // The alert stays while threads remain unread (Rocket.Chat's readMessages).
            self.subs
                .update_one(
                    doc! { "rid": rid, "u._id": user_id, "tunread.0": { "$exists": false } },
                    doc! { "$set": { "alert": false } },
                )
                .await
                .ctx("mark read")?;
        }
        Ok(result.matched_count > 0)
    }

    async fn patch_subscriptions(
        &self,
        rid: &str,
        user_id: Option<&str>,
        patch: &SubscriptionPatch,
    ) -> StoreResult<u64> {
        let mut set = doc! { "_updatedAt": Ts::now().0 };
        let p = patch.clone();
        if let Some(v) = p.name {
            set.insert("name", v);
        }
        if let Some(v) = p.fname {
            set.insert("fname", v);
        }
        if let Some(v) = p.t {
            set.insert("t", v.code());
        }
        if let Some(v) = p.archived {
            set.insert("archived", v);
        }
        if let Some(v) = p.open {
            set.insert("open", v);
        }
        if let Some(v) = p.f {
            set.insert("f", v);
        }
        if let Some(v) = p.unread {
            set.insert("unread", v);
        }
        if let Some(v) = p.alert {
            set.insert("alert", v);
        }
        if let Some(v) = p.ls {
            set.insert("ls", v.0);
        }
        for (k, v) in &p.notify {
            let v = mongodb::bson::to_bson(v)
                .map_err(|e| StoreError::Backend(format!("notification preference: {e}")))?;
            set.insert(*k, v);
        }
        let mut filter = doc! { "rid": rid };
        if let Some(uid) = user_id {
            filter.insert("u._id", uid);
        }
        let result = self
            .subs
            .update_many(filter, doc! { "$set": set })
            .await
            .ctx("patch subscriptions")?;
        Ok(result.matched_count)
    }

    async fn set_subscription_open(
        &self,
        rid: &str,
        user_id: &str,
        open: bool,
    ) -> StoreResult<bool> {
        let result = self
            .subs
            .update_one(
                doc! { "rid": rid, "u._id": user_id },
                doc! { "$set": { "open": open, "_updatedAt": Ts::now().0 } },
            )
            .await
            .ctx("set subscription open")?;
        Ok(result.matched_count > 0)
    }
}
