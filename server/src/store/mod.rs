//! Storage: one set of traits, two backends (embedded SQLite, MongoDB) that pass the
//! same conformance suite (`tests/suite/store_conformance.rs`).
//!
//! Every method that returns `Ok` for a write has committed it: callers acknowledge
//! operations to clients only after that.

pub mod apps;
pub mod exports;
mod full;
pub mod integrations;
pub mod invites;
pub mod job_leases;
pub mod lane;
pub mod matrix;
pub mod message_md;
pub mod message_urls;
pub mod model;
pub mod moderation;
pub mod mongo;
pub mod once;
pub mod outbox;
pub mod presence;
pub mod push;
pub mod role_store;
pub mod settings_audit;
pub mod sqlite;
pub mod thread_unread;
pub mod uploads;

use std::sync::Arc;

use async_trait::async_trait;

pub use model::*;

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write; the string names what clashed
    /// (`username`, `email`, `room name`, `id`).
    #[error("duplicate {0}")]
    Conflict(&'static str),
    /// The backend failed; the operation did not happen (or is unknown for a lost
    /// connection mid-commit, which the backend reports as this too).
    #[error("storage failure: {0}")]
    Backend(String),
    /// The disk (or the configured database size cap) is full: the write did not
    /// happen; reads still work.
    #[error("storage full: {0}")]
    Full(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A window of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub count: u64,
}

impl Page {
    pub const fn new(offset: u64, count: u64) -> Page {
        Page { offset, count }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// Sort keys for room and user listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Ts,
    UsersCount,
    Msgs,
    /// Users only (rooms have no presence; room listings never get it): the
    /// presence `status` (absent counts as `offline`, as it is shown), then
    /// `active`, then the username, all in the asked direction, as Rocket.Chat's
    /// `users.list` adds `active` to a `status` sort. So a deactivated user comes
    /// first among the offline ones in ascending order.
    Status,
}

/// A rooms listing's substring filter: the name, or the display name (`fname`)
/// too, as Rocket.Chat's autocompletes and spotlight search. The display name's
/// case is folded as the store's index folds it (beyond ASCII where it can).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomMatch<'a> {
    pub term: &'a str,
    pub display_names: bool,
}

/// Which rooms a listing keeps besides plain rooms: discussions (rooms with a
/// `prid`) and teams' main rooms. Rocket.Chat's admin listing (`rooms.adminRooms`)
/// leaves both out unless its `types` ask for them, and lists the kinds asked
/// whatever their type (`of_any_type`): `types=discussions` alone is every
/// discussion, `types=c&types=teams` the channels and every team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomKinds {
    pub discussions: bool,
    pub team_mains: bool,
    /// The kinds kept are listed whatever their type, beside the rooms of the
    /// listing's types (which may then be none).
    pub of_any_type: bool,
}

impl RoomKinds {
    /// Every room of the types.
    pub const ALL: RoomKinds = RoomKinds {
        discussions: true,
        team_mains: true,
        of_any_type: false,
    };

    /// Whether rooms outside the listing's types may be listed.
    pub fn widen_types(self) -> bool {
        self.of_any_type && (self.discussions || self.team_mains)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub dir: Direction,
}

/// A listing window with Rocket.Chat's `total`.
///
/// How `total` is had, per listing, so that no page costs work proportional to the
/// user base or the workspace:
/// - Unfiltered listings, and filters an index serves (a role, a room type, the
///   admin's user tabs: active/deactivated, pending), count the range of that index:
///   the work is bounded by what the index covers, i.e. by the listing itself.
/// - A substring filter (`users.list`/`rooms` listings' `filter`, `listByStatus`'s
///   `searchTerm`) is served by no index, so its total is not counted: the page is
///   read with one row more than asked ([`Listing::probed`]) and `total` is a lower
///   bound, `offset + items` plus one while more exist. That is exactly what
///   Rocket.Chat's clients use `total` for (the mobile app loads the next page while
///   `offset < total` and stops at `length === total`; the web admin's pager shows
///   one more page while there is one); the page itself walks an index in the
///   listing's order and stops at its `LIMIT`.
/// - The cost of that walk is the rows it reads before the page is full: about
///   `(offset + count) × rows / matches`. For a term many rows match that is close
///   to the page; for a term few or none match it is the whole index (every room of
///   the types, every user), as no B-tree index serves a substring. On SQLite the
///   users search avoids that: a term of 3+ characters is looked up in a trigram
///   index first, and when fewer than `SEARCH_CANDIDATES` (2,000) users match, only
///   they are read (and `total` is exact); the walk is left for common terms, where
///   it reads at most `users / 2,000` rows per row of the page. Room names (the
///   rooms listings, `rooms_search`) and `users_by_status` searches do the same. On
///   MongoDB each user and room carries its trigrams (`searchGrams`, indexed): a few
///   of the term's are counted, each count stopping at 2,000, and when the rarest is
///   under that only the documents holding it are read (see `store/mongo/search.rs`);
///   else the walk, which reads index keys for the username and fetches a document
///   only to test the name.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Listing<T> {
    /// A page read with `LIMIT page.count + 1`: the extra row only says more exist,
    /// and `total` is the lower bound described on [`Listing`].
    pub fn probed(mut items: Vec<T>, page: Page) -> Listing<T> {
        let more = items.len() as u64 > page.count;
        items.truncate(usize::try_from(page.count).unwrap_or(usize::MAX));
        let total = page.offset + items.len() as u64 + u64::from(more);
        Listing { items, total }
    }
}

/// A history query over one room, newest first. Messages of the same millisecond come
/// in one stable order: posting order on SQLite (rowid), `_id` on MongoDB.
///
/// `latest`/`oldest` bound `ts` and are the keyset cursor: a page costs the same
/// however deep in the room it starts. `offset` is Rocket.Chat's and costs one index
/// step per skipped message; clients page with `latest` instead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    pub latest: Option<Ts>,
    pub oldest: Option<Ts>,
    /// Whether `latest`/`oldest` themselves are included.
    pub inclusive: bool,
    /// Messages skipped after the bounds (work proportional to it).
    pub offset: u64,
    pub count: u64,
    /// Leave out thread replies (messages with a `tmid`).
    pub exclude_thread_replies: bool,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Conflict("username"|"email"|"service"|"id")` when taken
    /// (names and addresses case-insensitive).
    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> StoreResult<()>;
    /// Replaces a user record (same id); `Conflict` if the new username/email is taken.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// Users by id in one query, in no particular order; unknown ids are skipped.
    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>>;
    /// Case-insensitive.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Case-insensitive, any of the user's addresses.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The account linked to an external identity (`services.<service>.id`).
    async fn user_by_service(&self, service: &str, id: &str) -> StoreResult<Option<User>>;
    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()>;
    /// Users sorted by the key; `filter` matches username or name (substring,
    /// case-insensitive).
    async fn list_users(
        &self,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Every account linked to `service` (a directory sync's), in no particular
    /// order: a range of the linked-identities index, so the work is those
    /// accounts, not the user base.
    async fn users_of_service(&self, service: &str) -> StoreResult<Vec<User>>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()>;
    async fn token(&self, hashed: &str) -> StoreResult<Option<LoginToken>>;
    /// Returns whether a token was deleted.
    async fn delete_token(&self, hashed: &str) -> StoreResult<bool>;
    /// Deletes every token of the user; returns how many.
    async fn delete_user_tokens(&self, user_id: &str) -> StoreResult<u64>;
    /// Every token of the user (sessions and personal access tokens), oldest first.
    async fn user_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>>;
    /// Deletes the user's login sessions but `keep` (personal access tokens stay);
    /// returns the deleted tokens' hashes, so their live connections can be ended.
    async fn delete_sessions_except(&self, user_id: &str, keep: &str) -> StoreResult<Vec<String>>;
    /// Deletes an account and its tokens (its subscriptions and messages are the
    /// caller's business); `false` if there was none.
    async fn delete_user(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Inserts the room and its initial subscriptions atomically. `usersCount` is
    /// taken from the room as given. `Conflict("room name"|"id")` when taken.
    async fn create_room(&self, room: &Room, subs: &[Subscription]) -> StoreResult<()>;
    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>>;
    /// Case-insensitive; channels and groups share one namespace.
    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>>;
    /// Rooms of the given types; `filter` is a case-insensitive name substring.
    async fn list_rooms(
        &self,
        types: &[RoomType],
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        let filter = filter.map(|term| RoomMatch {
            term,
            display_names: false,
        });
        self.list_rooms_matching(types, filter, sort, page).await
    }
    /// Rooms of the given types whose name (or display name too, as the match
    /// says) holds a case-insensitive substring.
    async fn list_rooms_matching(
        &self,
        types: &[RoomType],
        filter: Option<RoomMatch<'_>>,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        self.list_rooms_of_kinds(types, filter, RoomKinds::ALL, sort, page)
            .await
    }
    /// [`RoomStore::list_rooms_matching`] keeping only the `kinds` of rooms asked
    /// (a filter on the same walk, counted in the total).
    async fn list_rooms_of_kinds(
        &self,
        types: &[RoomType],
        filter: Option<RoomMatch<'_>>,
        kinds: RoomKinds,
        sort: Sort,
        page: Page,
    ) -> StoreResult<Listing<Room>>;
    /// Rooms by id, in no particular order; unknown ids are skipped.
    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>>;
    /// The channels and groups marked default (joined at registration), by name: a
    /// range of an index holding only them.
    async fn default_rooms(&self) -> StoreResult<Vec<Room>>;
    /// Rewrites the room's descriptive fields (name, fname, topic, description, ro,
    /// default, `_updatedAt`); counters and last message are left alone.
    async fn update_room_meta(&self, room: &Room) -> StoreResult<()>;
    /// Deletes the room, its messages and its subscriptions (recording each as removed).
    async fn delete_room(&self, id: &str) -> StoreResult<bool>;
    /// Rewrites the room's settings: what `update_room_meta` writes plus `t`,
    /// announcement, archived, reactWhenReadOnly, customFields, the join code and
    /// the avatar (`avatarETag`, `avatarFileId`).
    /// `Conflict("room name")` if a rename takes another room's name. Also writes
    /// the room's `featured`, `sysMes` and `favorite` (not its mute lists).
    async fn update_room_settings(&self, room: &Room) -> StoreResult<()>;
    /// Changes the room's `muted`/`unmuted` lists atomically (stamping
    /// `_updatedAt`) and returns the room afterwards; `None` if there is no such
    /// room.
    async fn set_room_mute(
        &self,
        rid: &str,
        username: &str,
        change: MuteChange,
        at: Ts,
    ) -> StoreResult<Option<Room>>;
    /// The discussions of room `prid` (rooms whose `prid` it is), by `fname`
    /// (then id), with their exact total: a range of an index on `prid`.
    async fn discussions(&self, prid: &str, page: Page) -> StoreResult<Listing<Room>>;
    /// The rooms of team `team_id` (its main room among them), by name (then id),
    /// with their exact total: a range of an index on `teamId`.
    async fn team_rooms(&self, team_id: &str, page: Page) -> StoreResult<Listing<Room>>;
    /// The main room of team `team_id`.
    async fn team_main_room(&self, team_id: &str) -> StoreResult<Option<Room>>;
    /// Every team's main room, by name (then id), with their exact total: a
    /// partial index of main rooms.
    async fn team_main_rooms(&self, page: Page) -> StoreResult<Listing<Room>>;
}

/// Which messages `rooms.cleanHistory` deletes from one room: those with `ts`
/// between `oldest` and `latest` (inclusive or not), newest first up to `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanHistory {
    pub oldest: Ts,
    pub latest: Ts,
    pub inclusive: bool,
    /// At most this many (0: no limit).
    pub limit: u64,
    /// Only messages of these users (empty: anyone's).
    pub from_user_ids: Vec<String>,
    /// Keep pinned messages.
    pub exclude_pinned: bool,
    /// Only messages carrying a file.
    pub files_only: bool,
    /// Keep thread parents and replies.
    pub ignore_threads: bool,
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn subscription(&self, rid: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
    /// The user's subscriptions, optionally only those updated after `since`.
    async fn user_subscriptions(
        &self,
        user_id: &str,
        since: Option<Ts>,
    ) -> StoreResult<Vec<Subscription>>;
    /// Subscriptions of the user removed after `since`.
    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Ts,
    ) -> StoreResult<Vec<RemovedSubscription>>;
    /// Members of a room sorted by username.
    async fn room_subscriptions(&self, rid: &str, page: Page)
        -> StoreResult<Listing<Subscription>>;
    /// Up to `limit` members of a room in user-id order, after the member `after`
    /// (keyset: a page costs the same however deep in the room it starts).
    async fn room_members_after(
        &self,
        rid: &str,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>>;
    /// Each user's unread messages over the rooms they have not archived (the push
    /// badge), for many users in one query; users with none may be missing.
    async fn unread_totals(&self, user_ids: &[String]) -> StoreResult<Vec<(String, u64)>>;
    /// Adds a member, bumping the room's `usersCount`; `Ok(false)` if already a member.
    async fn add_subscription(&self, sub: &Subscription) -> StoreResult<bool>;
    /// Removes a member (recording the removal), lowering `usersCount`;
    /// `Ok(false)` if not a member.
    async fn remove_subscription(&self, rid: &str, user_id: &str) -> StoreResult<bool>;
    /// Marks the room read up to `ls` for the user: unread and mentions reset. With `read_threads` its unread threads go too; without, `alert` stays
    /// while threads remain unread (Rocket.Chat's `setAsReadByRoomIdAndUserId`).
    async fn mark_read(
        &self,
        rid: &str,
        user_id: &str,
        ls: Ts,
        read_threads: bool,
    ) -> StoreResult<bool>;
    /// Applies `patch` to one member's subscription (`Some(user_id)`) or to every
    /// member's (`None`), stamping `_updatedAt`; returns how many matched.
    async fn patch_subscriptions(
        &self,
        rid: &str,
        user_id: Option<&str>,
        patch: &SubscriptionPatch,
    ) -> StoreResult<u64>;
    /// Sets `open` (a DM shown or hidden in the sidebar).
    async fn set_subscription_open(
        &self,
        rid: &str,
        user_id: &str,
        open: bool,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Commits a new message and, in the same transaction: bumps the room's `msgs`,
    /// `lm`, `lastMessage`; for a thread reply the parent's `tcount`, `tlm`, `replies`;
    /// every other member's subscription `unread`, `alert`, `open` and mentions.
    /// Returns a reply's parent after that change (`None` for other messages, or if
    /// the parent is gone), so callers publish it without reading it again.
    /// `Conflict("id")` if the id exists.
    async fn insert_message(
        &self,
        msg: &Message,
        effects: &PostEffects,
    ) -> StoreResult<Option<Message>>;
    async fn message(&self, id: &str) -> StoreResult<Option<Message>>;
    /// Replaces a message's content (edit); keeps `tcount`/`tlm`/`replies`/reactions
    /// of the stored copy.
    async fn update_message(&self, msg: &Message) -> StoreResult<bool>;
    /// Sets a message's link previews (`urls`) and `_updatedAt`, if its text is
    /// still `msg` (an edit since makes them stale); the message after the change,
    /// `None` when it is gone or was edited.
    async fn set_message_urls(
        &self,
        id: &str,
        msg: &str,
        urls: &[message_urls::MessageUrl],
        updated_at: Ts,
    ) -> StoreResult<Option<Message>>;
    /// Adds or removes `username` from the reaction `emoji`, atomically; returns the
    /// message after the change, `None` if it does not exist.
    async fn set_reaction(
        &self,
        id: &str,
        emoji: &str,
        username: &str,
        react: bool,
        updated_at: Ts,
    ) -> StoreResult<Option<Message>>;
    /// Deletes a message, lowering its room's `msgs` (as Rocket.Chat does); a thread
    /// reply lowers its parent's `tcount`. `None` if there was no such message.
    async fn delete_message_and_parent(&self, id: &str) -> StoreResult<Option<DeletedMessage>>;
    /// [`MessageStore::delete_message_and_parent`] for callers that only need to
    /// know whether the message existed.
    async fn delete_message(&self, id: &str) -> StoreResult<bool> {
        Ok(self.delete_message_and_parent(id).await?.is_some())
    }
    /// A window of a room's history (see [`HistoryQuery`]): an index range scan, no
    /// count. The room's maintained `msgs` is its total.
    async fn history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<Vec<Message>>;
    /// How many messages `query`'s bounds select (`offset`/`count` ignored). Work
    /// proportional to that number: only for ranges a caller asks about (DDP
    /// `loadHistory`'s unread messages), never per page.
    async fn count_history(&self, rid: &str, query: &HistoryQuery) -> StoreResult<u64>;
    /// Deletes the room's messages `clean` selects, in one transaction, with what
    /// deleting each one does ([`MessageStore::delete_message_and_parent`]: the
    /// room's `msgs` and `lastMessage`, a reply's parent's `tcount`). Returns the
    /// deleted messages. Work proportional to the range of the room's history
    /// walked.
    async fn clean_history(&self, rid: &str, clean: &CleanHistory) -> StoreResult<Vec<Message>>;
    /// Replies of a thread, oldest first (ties as in [`HistoryQuery`]). The parent's maintained
    /// `tcount` is their total. `page.offset` costs one index step per skipped reply.
    async fn thread_messages(&self, tmid: &str, page: Page) -> StoreResult<Vec<Message>>;
    /// A window of a room's messages `filter` selects, with their exact total
    /// (counted over the filter's own index).
    async fn room_messages(
        &self,
        rid: &str,
        filter: &MessageFilter,
        page: Page,
    ) -> StoreResult<Listing<Message>>;
    /// Pins (`Some(by)`) or unpins a message, stamping `_updatedAt`; the message
    /// after the change, `None` if it does not exist.
    async fn set_pinned(
        &self,
        id: &str,
        by: Option<&UserRef>,
        at: Ts,
    ) -> StoreResult<Option<Message>>;
    /// Adds or removes `user_id` among the message's `starred`, atomically.
    async fn set_starred(
        &self,
        id: &str,
        user_id: &str,
        star: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>>;
    /// Adds or removes `user_id` among a thread parent's followers (`replies`).
    async fn set_thread_follower(
        &self,
        id: &str,
        user_id: &str,
        follow: bool,
        at: Ts,
    ) -> StoreResult<Option<Message>>;
    /// Messages of `scope` changed (`_updatedAt`) after `since`, oldest change
    /// first, at most `limit`: a range of an index on the change time.
    async fn messages_changed_since(
        &self,
        scope: &SyncScope,
        since: Ts,
        limit: u64,
    ) -> StoreResult<Vec<Message>>;
    /// Tombstones of messages of `scope` deleted after `since`, oldest first, with
    /// their total.
    async fn deleted_messages(
        &self,
        scope: &SyncScope,
        since: Ts,
        page: Page,
    ) -> StoreResult<Listing<Tombstone>>;
    /// Messages of the room containing every word of `words` (lower-cased whole
    /// words), newest first (posting order on SQLite, `ts` on MongoDB): a full-text
    /// index, never a scan of the room.
    async fn search_messages(
        &self,
        rid: &str,
        words: &[String],
        page: Page,
    ) -> StoreResult<Vec<Message>>;
    /// Sets the discussion activity (`dcount`, `dlm`) on the message linking to
    /// discussion `drid`, stamping `_updatedAt`, or with `None` removes the link
    /// (`drid`, `dcount`, `dlm`: the discussion is gone). Returns the message after
    /// the change, `None` if no message links to it.
    async fn refresh_discussion(
        &self,
        drid: &str,
        activity: Option<(i64, Option<Ts>)>,
        at: Ts,
    ) -> StoreResult<Option<Message>>;
}

/// Which messages of one room a listing selects. Each is served by an index of its
/// own (partial on SQLite), so a listing's work is what it selects, not the room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageFilter {
    /// Pinned messages, newest first.
    Pinned,
    /// Messages the user starred, newest first.
    StarredBy(String),
    /// Messages mentioning the user by name, newest first.
    Mentioning(String),
    /// Thread parents, latest reply first; `text` a case-insensitive substring of
    /// the parent's text, `follower` a user among its `replies`, `ids` only these.
    Threads {
        text: Option<String>,
        follower: Option<String>,
        ids: Option<Vec<String>>,
    },
    /// Messages linking to a discussion (`drid`), newest first; `text` a
    /// case-insensitive substring of the message's text.
    Discussions { text: Option<String> },
}

/// Most words a message's search entry (MongoDB) or a search (both) keeps.
pub const SEARCH_WORDS_MAX: usize = 64;

/// The words a text is searched by: maximal runs of letters and digits,
/// lower-cased, each once, at most [`SEARCH_WORDS_MAX`] (as SQLite's `unicode61`
/// tokenizer splits them, so both backends find the same messages).
pub fn search_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() || words.len() >= SEARCH_WORDS_MAX {
            continue;
        }
        let w = w.to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

/// Which part of a room a sync asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncScope {
    /// Every message of the room.
    Room(String),
    /// The room's thread parents.
    Threads(String),
    /// One thread's replies.
    Thread(String),
}

#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn settings(&self) -> StoreResult<Vec<Setting>>;
    async fn setting(&self, id: &str) -> StoreResult<Option<Setting>>;
    /// Inserts the setting unless it exists; returns whether it was inserted.
    async fn insert_setting_if_missing(&self, setting: &Setting) -> StoreResult<bool>;
    async fn put_setting(&self, setting: &Setting) -> StoreResult<()>;
}

/// Exchange of events between instances sharing one database.
#[async_trait]
pub trait EventRelay: Send + Sync {
    /// Publishes an event (JSON) from `origin` to the other instances.
    async fn publish(&self, origin: &str, event: &str) -> StoreResult<()>;
    /// Events other origins publish from now on, in order.
    async fn subscribe(
        &self,
        origin: &str,
    ) -> StoreResult<futures::stream::BoxStream<'static, StoreResult<String>>>;
}

/// Everything the chat services need from storage.
#[async_trait]
pub trait Store:
    UserStore
    + TokenStore
    + RoomStore
    + SubscriptionStore
    + MessageStore
    + SettingStore
    + apps::AppStore
    + integrations::IntegrationStore
    + matrix::MatrixStore
    + outbox::OutboxStore
    + settings_audit::SettingAuditStore
    + moderation::ModerationStore
    + uploads::UploadStore
    + presence::PresenceStore
    + role_store::RoleStore
    + job_leases::JobLeaseStore
    + once::OnceStore
    + push::PushStore
    + thread_unread::ThreadUnreadStore
    + exports::ExportStore
    + invites::InviteStore
{
    /// A short name for logs (`sqlite`, `mongodb`).
    fn backend_name(&self) -> &'static str;
    /// Flushes and releases the backend (graceful shutdown).
    async fn close(&self) -> StoreResult<()>;
    /// How this backend lets several instances share events; `None` for a backend
    /// only one instance can use (SQLite).
    fn event_relay(&self) -> Option<Arc<dyn EventRelay>>;
}

pub type DynStore = Arc<dyn Store>;

/// Where the data lives, parsed from `PALAVER_STORAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageTarget {
    Sqlite(std::path::PathBuf),
    Mongo { uri: String, database: String },
}

impl StorageTarget {
    /// `sqlite` (file `<data_dir>/palaver.db`), `sqlite:<path>`, or a
    /// `mongodb://…`/`mongodb+srv://…` URI whose path names the database
    /// (default `palaver`).
    pub fn parse(spec: &str, data_dir: &std::path::Path) -> Result<StorageTarget, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("sqlite") {
            return Ok(StorageTarget::Sqlite(data_dir.join("palaver.db")));
        }
        if let Some(path) = spec.strip_prefix("sqlite:") {
            return Ok(StorageTarget::Sqlite(path.into()));
        }
        if spec.starts_with("mongodb://") || spec.starts_with("mongodb+srv://") {
            let database = mongo::database_from_uri(spec).unwrap_or_else(|| "palaver".into());
            return Ok(StorageTarget::Mongo {
                uri: spec.to_string(),
                database,
            });
        }
        Err(format!(
            "unknown storage {spec:?}: use \"sqlite\", \"sqlite:<file>\" or a mongodb:// URI"
        ))
    }
}

/// Opens the backend named by `target`, creating schema/indexes as needed.
pub async fn open(target: &StorageTarget, sqlite_sync_full: bool) -> StoreResult<DynStore> {
    open_capped(target, sqlite_sync_full, 0).await
}

/// [`open`], with SQLite's database file capped at `sqlite_max_bytes` (0: no cap).
pub async fn open_capped(
    target: &StorageTarget,
    sqlite_sync_full: bool,
    sqlite_max_bytes: u64,
) -> StoreResult<DynStore> {
    match target {
        StorageTarget::Sqlite(path) => Ok(Arc::new(
            sqlite::SqliteStore::open_capped(path, sqlite_sync_full, sqlite_max_bytes).await?,
        )),
        StorageTarget::Mongo { uri, database } => {
            Ok(Arc::new(mongo::MongoStore::connect(uri, database).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_storage_targets() {
        let dir = std::path::Path::new("/d");
        assert_eq!(
            StorageTarget::parse("sqlite", dir).unwrap(),
            StorageTarget::Sqlite("/d/palaver.db".into())
        );
        assert_eq!(
            StorageTarget::parse("sqlite:/x.db", dir).unwrap(),
            StorageTarget::Sqlite("/x.db".into())
        );
        assert_eq!(
            StorageTarget::parse("mongodb://h:1/chat?w=majority", dir).unwrap(),
            StorageTarget::Mongo {
                uri: "mongodb://h:1/chat?w=majority".into(),
                database: "chat".into()
            }
        );
        assert_eq!(
            StorageTarget::parse("mongodb://h:1", dir).unwrap(),
            StorageTarget::Mongo {
                uri: "mongodb://h:1".into(),
                database: "palaver".into()
            }
        );
        assert!(StorageTarget::parse("postgres://x", dir).is_err());
    }

    #[test]
    fn splits_search_words() {
        assert_eq!(
            search_words("Hello, hello WORLD! café-42 x"),
            vec!["hello", "world", "café", "42", "x"]
        );
        assert!(search_words(" .,; ").is_empty());
    }
}
