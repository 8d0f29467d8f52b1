//! Storage conformance: one set of cases, run against every backend (SQLite in a temp
//! dir, MongoDB on SecantusDB or `PALAVER_TEST_MONGODB_URI`). Each case is a
//! `#[tokio::test]` per backend: `store_conformance::sqlite::<case>` and
//! `store_conformance::mongo::<case>`.

mod apps;
mod discussions;
mod exports;
mod fanout;
mod history;
mod indexed;
mod integrations;
mod invites;
mod job_leases;
mod matrix;
mod message_marks;
mod message_urls;
mod messages;
mod moderation;
mod once_keys;
mod outbox;
mod push;
mod roles;
mod room_kinds;
mod room_moderation;
mod rooms;
mod search;
mod settings_audit;
mod thread_unread;
mod uploads;
mod user_fields;
mod users;
mod users_status;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use palaver_server::store::{
    self, DynStore, Email, Message, Room, RoomType, StorageTarget, Subscription, Ts, User, UserRef,
};
use tempfile::TempDir;

/// Where one test's data lives; keeps the SQLite temp dir alive.
pub struct Fixture {
    pub target: StorageTarget,
    _dir: Option<TempDir>,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        Fixture {
            target: StorageTarget::Sqlite(dir.path().join("palaver.db")),
            _dir: Some(dir),
        }
    }

    pub fn mongo(case: &str) -> Fixture {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut database = format!(
            "conf_{}_{}_{nanos}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            case
        );
        database.truncate(60);
        let uri = palaver_tests::mongo::mongo_uri(&database);
        Fixture {
            target: StorageTarget::Mongo { uri, database },
            _dir: None,
        }
    }

    pub async fn open(&self) -> DynStore {
        match store::open(&self.target, true).await {
            Ok(store) => store,
            Err(e) => panic!("opening {:?}: {e}", self.target),
        }
    }
}

macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = super::Fixture::sqlite();
                    let store = fixture.open().await;
                    super::$module::$case(store.clone()).await;
                    store.close().await.expect("close");
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopen() {
                super::reopen(super::Fixture::sqlite()).await;
            }
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = super::Fixture::mongo(stringify!($case));
                    let store = fixture.open().await;
                    super::$module::$case(store.clone()).await;
                    store.close().await.expect("close");
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopen() {
                super::reopen(super::Fixture::mongo("reopen")).await;
            }
        }
    };
}

conformance! {
    users::users,
    users::user_updates,
    users::user_services,
    users::list_users,
    users_status::list_users_by_status,
    user_fields::optional_user_fields,
    users::tokens,
    users::personal_tokens,
    users::user_custom_fields,
    users::settings,
    rooms::rooms,
    rooms::room_conflicts,
    rooms::list_rooms,
    rooms::list_rooms_by_display_names,
    room_kinds::list_rooms_of_kinds,
    rooms::subscriptions,
    rooms::remove_subscriptions,
    rooms::delete_room,
    rooms::room_settings,
    room_moderation::room_mute,
    room_moderation::clean_history,
    messages::post_effects,
    messages::threads,
    messages::edits,
    message_urls::message_urls,
    messages::reactions,
    messages::deletes,
    messages::history,
    messages::concurrent_posts,
    thread_unread::thread_unread,
    exports::export_operations,
    invites::invites,
    message_marks::pins_and_stars,
    message_marks::thread_lists,
    message_marks::changes_and_tombstones,
    message_marks::search,
    history::history_ties,
    apps::apps,
    apps::app_data,
    apps::app_data_quota_races,
    apps::app_data_insert_once,
    apps::app_logs,
    apps::app_jobs,
    apps::job_claim_races,
    apps::job_leases_released,
    integrations::integrations,
    integrations::integration_history,
    matrix::matrix_links,
    matrix::matrix_outbox_order_gate,
    outbox::outbox_queue,
    outbox::outbox_lease_expiry,
    outbox::outbox_lease_races,
    outbox::outbox_advancing,
    settings_audit::setting_changes,
    moderation::message_reports,
    uploads::uploads,
    roles::roles,
    indexed::indexed_queries,
    job_leases::job_leases,
    push::push_devices,
    push::push_keys,
    once_keys::once_keys,
    search::search_paths,
    fanout::notify_fanout,
    discussions::discussions,
}

/// On MongoDB (SecantusDB answers `explain` as mongod does), history and thread
/// pages are index scans of `by_room_ts_id`/`by_thread_ts_id` in the order asked
/// for: no collection scan, no blocking `SORT` stage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_history_plans() {
    use palaver_server::store::mongo::MongoStore;
    use palaver_server::store::{HistoryQuery, MessageStore, Page, RoomStore, Store};
    let fixture = Fixture::mongo("plans");
    let StorageTarget::Mongo { uri, database } = &fixture.target else {
        unreachable!()
    };
    let store = MongoStore::connect(uri, database).await.expect("connect");
    // An index scan, no collection scan; and on a real mongod no blocking sort.
    // (SecantusDB reports a `SORT` whenever the sort key is not an index's first
    // field, which an equality prefix like `rid` always makes it.)
    let served = |explain: &mongodb::bson::Document, stages: &[String]| {
        let secantus = explain
            .get_document("serverInfo")
            .and_then(|i| i.get_str("host"))
            == Ok("secantus");
        stages.iter().any(|s| s == "IXSCAN")
            && !stages.iter().any(|s| s == "COLLSCAN")
            && (secantus || !stages.iter().any(|s| s == "SORT"))
    };
    let alice = user("u-alice", "alice", None);
    let room = channel("r-1", "general", 1);
    store
        .create_room(&room, &[sub(&room, &alice, Ts(1))])
        .await
        .unwrap();
    let fx = Default::default();
    for i in 0..20 {
        let m = message(&format!("m-{i:02}"), "r-1", &alice, 1_000 + i, "x");
        store.insert_message(&m, &fx).await.unwrap();
    }
    let parent = store.message("m-00").await.unwrap().unwrap();
    for i in 0..5 {
        let r = reply(&format!("t-{i}"), &parent, &alice, 2_000 + i, "r");
        store.insert_message(&r, &fx).await.unwrap();
    }
    for latest in [None, Some(Ts(1_015))] {
        for oldest in [None, Some(Ts(1_005))] {
            for inclusive in [false, true] {
                for exclude_thread_replies in [false, true] {
                    let q = HistoryQuery {
                        latest,
                        oldest,
                        inclusive,
                        offset: 2,
                        count: 5,
                        exclude_thread_replies,
                    };
                    let explain = store.explain_history("r-1", &q).await.unwrap();
                    let (stages, indexes) = history::plan_stages(&explain);
                    assert!(
                        served(&explain, &stages) && indexes.iter().all(|i| i == "by_room_ts_id"),
                        "{q:?}: {stages:?} {indexes:?}\n{explain}"
                    );
                }
            }
        }
    }
    let explain = store.explain_thread("m-00", Page::new(1, 2)).await.unwrap();
    let (stages, indexes) = history::plan_stages(&explain);
    assert!(
        served(&explain, &stages) && indexes.iter().all(|i| i == "by_thread_ts_id"),
        "thread: {stages:?} {indexes:?}\n{explain}"
    );
    store.close().await.unwrap();
}

/// On MongoDB, the users queries requests make (role members, the admin's tabs,
/// presence) and the default rooms are index scans of the index meant for each: no
/// collection scan; no blocking `SORT` on a real mongod where the index gives the
/// order (presence shapes sort their answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_users_plans() {
    use palaver_server::store::mongo::MongoStore;
    use palaver_server::store::presence::StatusQuery;
    use palaver_server::store::{Page, Store, Ts};
    let fixture = Fixture::mongo("users_plans");
    let StorageTarget::Mongo { uri, database } = &fixture.target else {
        unreachable!()
    };
    let store = MongoStore::connect(uri, database).await.expect("connect");
    let check = |explain: &mongodb::bson::Document, index: &str, sorted: bool, what: &str| {
        let secantus = explain
            .get_document("serverInfo")
            .and_then(|i| i.get_str("host"))
            == Ok("secantus");
        let (stages, indexes) = history::plan_stages(explain);
        assert!(
            stages.iter().any(|s| s == "IXSCAN")
                && !stages.iter().any(|s| s == "COLLSCAN")
                && indexes.iter().all(|i| i == index)
                && (secantus || !sorted || !stages.iter().any(|s| s == "SORT")),
            "{what}: {stages:?} {indexes:?}\n{explain}"
        );
    };
    let page = Page::new(10, 25);
    let explain = store
        .explain_users(None, Some("admin"), page)
        .await
        .unwrap();
    check(&explain, "by_role_username", true, "users in role");
    let present = vec!["online".to_string(), "away".into(), "busy".into()];
    let shapes: Vec<(StatusQuery, &str, bool)> = vec![
        (
            StatusQuery {
                active: Some(true),
                has_logged_in: Some(true),
                ..Default::default()
            },
            "by_active_username",
            true,
        ),
        (
            StatusQuery {
                active: Some(false),
                search: Some("al".into()),
                ..Default::default()
            },
            "by_active_username",
            true,
        ),
        (
            StatusQuery {
                has_logged_in: Some(false),
                kind: Some("user".into()),
                ..Default::default()
            },
            "by_type_username",
            true,
        ),
        (
            StatusQuery {
                search: Some("al".into()),
                ..Default::default()
            },
            "uniq_username",
            true,
        ),
        (
            StatusQuery {
                statuses: present.clone(),
                ..Default::default()
            },
            "by_status",
            false,
        ),
        (
            StatusQuery {
                statuses: present,
                ids: Some(vec!["a".into(), "b".into()]),
                ..Default::default()
            },
            "_id_",
            false,
        ),
        (
            StatusQuery {
                updated_since: Some(Ts(1_000)),
                ..Default::default()
            },
            "by_updated",
            false,
        ),
    ];
    for (q, index, sorted) in shapes {
        let explain = store.explain_users(Some(&q), None, page).await.unwrap();
        check(&explain, index, sorted, &format!("{q:?}"));
    }
    let explain = store.explain_default_rooms().await.unwrap();
    check(&explain, "by_default_name", true, "default rooms");
    store.close().await.unwrap();
}

/// On MongoDB, the other finds requests make (listings, members, room roles, a
/// service's accounts, files, dead letters, the settings audit, app logs) are index
/// scans of the index meant for each: no collection scan, and no blocking `SORT` on
/// a real mongod where the index gives the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_request_plans() {
    use palaver_server::store::mongo::{MongoStore, Planned};
    use palaver_server::store::outbox::OutboxKind;
    use palaver_server::store::settings_audit::SettingChangeQuery;
    use palaver_server::store::{Direction, Page, Sort, SortKey, Store};
    let fixture = Fixture::mongo("request_plans");
    let StorageTarget::Mongo { uri, database } = &fixture.target else {
        unreachable!()
    };
    let store = MongoStore::connect(uri, database).await.expect("connect");
    let page = Page::new(10, 25);
    let check = |explain: &mongodb::bson::Document, index: &str, sorted: bool, what: &str| {
        let secantus = explain
            .get_document("serverInfo")
            .and_then(|i| i.get_str("host"))
            == Ok("secantus");
        let (stages, indexes) = history::plan_stages(explain);
        assert!(
            stages.iter().any(|s| s == "IXSCAN")
                && !stages.iter().any(|s| s == "COLLSCAN")
                && indexes.iter().all(|i| i == index)
                && (secantus || !sorted || !stages.iter().any(|s| s == "SORT")),
            "{what}: {stages:?} {indexes:?}\n{explain}"
        );
    };
    let channels = [RoomType::Channel];
    let mut cases: Vec<(Planned<'_>, &str, bool)> = Vec::new();
    for dir in [Direction::Asc, Direction::Desc] {
        for filter in [None, Some("al")] {
            for (key, index) in [
                (SortKey::Name, "by_username_id"),
                (SortKey::Ts, "by_created_id"),
            ] {
                cases.push((
                    Planned::Users {
                        filter,
                        sort: Sort { key, dir },
                    },
                    index,
                    true,
                ));
            }
            for (key, index) in [
                (SortKey::Name, "by_type_name_id"),
                (SortKey::Ts, "by_type_ts"),
                (SortKey::UsersCount, "by_type_users"),
                (SortKey::Msgs, "by_type_msgs"),
            ] {
                cases.push((
                    Planned::Rooms {
                        types: &channels,
                        filter,
                        sort: Sort { key, dir },
                    },
                    index,
                    true,
                ));
            }
        }
    }
    let audit_setting = SettingChangeQuery {
        setting_id: Some("Site_Name".into()),
        since: Some(Ts(1)),
        ..Default::default()
    };
    let audit_actor = SettingChangeQuery {
        actor_id: Some("u-1".into()),
        oldest_first: true,
        ..Default::default()
    };
    let audit_all = SettingChangeQuery::default();
    cases.extend([
        (Planned::Members { rid: "r-1" }, "by_room_username_id", true),
        (
            Planned::RoomRoles {
                rid: "r-1",
                role: Some("owner"),
            },
            "by_room_roles",
            true,
        ),
        // Any role: a range over the roles, the (small) answer sorted.
        (
            Planned::RoomRoles {
                rid: "r-1",
                role: None,
            },
            "by_room_roles",
            false,
        ),
        (
            Planned::UsersOfService { service: "ldap" },
            "uniq_service",
            false,
        ),
        (
            Planned::RoomUploads {
                rid: "r-1",
                name: None,
            },
            "by_room_uploaded_id",
            true,
        ),
        (
            Planned::RoomUploads {
                rid: "r-1",
                name: Some("pdf"),
            },
            "by_room_uploaded_id",
            true,
        ),
        (
            Planned::DeadOutbox {
                kind: Some(OutboxKind::ALL[0]),
            },
            "by_state_kind_created_id",
            true,
        ),
        (
            Planned::DeadOutbox { kind: None },
            "by_state_created_id",
            true,
        ),
        (
            Planned::SettingChanges(&audit_setting),
            "by_setting_ts",
            true,
        ),
        (Planned::SettingChanges(&audit_actor), "by_actor_ts", true),
        (Planned::SettingChanges(&audit_all), "by_ts", true),
        (
            Planned::AppLogs {
                app_id: "app-1",
                min_level: 2,
            },
            "by_app_ts_id",
            true,
        ),
    ]);
    for (what, index, sorted) in cases {
        let name = format!("{what:?}");
        let explain = store.explain(what, page).await.unwrap();
        check(&explain, index, sorted, &name);
    }
    store.close().await.unwrap();
}

/// What was written is there after closing and opening the store again.
async fn reopen(fixture: Fixture) {
    let store = fixture.open().await;
    let alice = user("u-alice", "alice", Some("alice@example.com"));
    store.create_user(&alice, Some("hash")).await.unwrap();
    let room = channel("r-1", "general", 1);
    store
        .create_room(&room, &[sub(&room, &alice, Ts(1000))])
        .await
        .unwrap();
    let m = message("m-1", &room.id, &alice, 2000, "hello");
    store.insert_message(&m, &Default::default()).await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = fixture.open().await;
    assert_eq!(store.user_by_id("u-alice").await.unwrap(), Some(alice));
    assert_eq!(
        store.password_hash("u-alice").await.unwrap().as_deref(),
        Some("hash")
    );
    assert_eq!(store.message("m-1").await.unwrap(), Some(m));
    let room = store.room_by_id("r-1").await.unwrap().unwrap();
    assert_eq!(room.msgs, 1);
    store.close().await.unwrap();
}

// ---------------------------------------------------------------------------------
// Record builders.

pub fn user(id: &str, username: &str, email: Option<&str>) -> User {
    User {
        avatar_etag: None,
        avatar_origin: None,
        avatar_file_id: None,
        invite_token: None,
        require_password_change_reason: None,
        id: id.into(),
        username: username.into(),
        name: format!("{username} name"),
        emails: email
            .map(|a| {
                vec![Email {
                    address: a.into(),
                    verified: false,
                }]
            })
            .unwrap_or_default(),
        roles: vec!["user".into()],
        active: true,
        kind: "user".into(),
        created_at: Ts(1_000),
        updated_at: Ts(1_000),
        last_login: None,
        status: None,
        status_connection: None,
        status_default: None,
        status_text: None,
        services: Default::default(),
        require_password_change: false,
        bio: None,
        nickname: None,
        settings: Default::default(),
        custom_fields: None,
    }
}

pub fn uref(user: &User) -> UserRef {
    UserRef {
        id: user.id.clone(),
        username: user.username.clone(),
        name: Some(user.name.clone()),
    }
}

pub fn room(id: &str, t: RoomType, name: Option<&str>, users_count: i64) -> Room {
    Room {
        avatar_etag: None,
        avatar_file_id: None,
        id: id.into(),
        t,
        name: name.map(Into::into),
        fname: name.map(Into::into),
        u: None,
        users_count,
        msgs: 0,
        lm: None,
        last_message: None,
        ro: false,
        default: false,
        topic: None,
        description: None,
        announcement: None,
        archived: false,
        react_when_read_only: false,
        custom_fields: None,
        join_code: None,
        join_code_required: false,
        usernames: None,
        uids: None,
        ts: Ts(1_000),
        updated_at: Ts(1_000),
        extra: Default::default(),
    }
}

pub fn channel(id: &str, name: &str, users_count: i64) -> Room {
    room(id, RoomType::Channel, Some(name), users_count)
}

pub fn sub(room: &Room, user: &User, at: Ts) -> Subscription {
    Subscription {
        id: format!("s-{}-{}", room.id, user.id),
        rid: room.id.clone(),
        u: UserRef {
            id: user.id.clone(),
            username: user.username.clone(),
            name: None,
        },
        name: room.name.clone().unwrap_or_default(),
        fname: room.fname.clone(),
        t: room.t,
        open: true,
        alert: false,
        unread: 0,
        user_mentions: 0,
        group_mentions: 0,
        ls: None,
        roles: Vec::new(),
        archived: false,
        f: false,
        ts: at,
        updated_at: at,
        notify: Default::default(),
        prid: None,
        threads: Default::default(),
    }
}

pub fn message(id: &str, rid: &str, from: &User, ts: i64, text: &str) -> Message {
    Message {
        id: id.into(),
        rid: rid.into(),
        msg: text.into(),
        ts: Ts(ts),
        u: uref(from),
        updated_at: Ts(ts),
        t: None,
        edited_at: None,
        edited_by: None,
        reactions: BTreeMap::new(),
        tmid: None,
        tcount: None,
        tlm: None,
        replies: None,
        alias: None,
        emoji: None,
        avatar: None,
        attachments: Vec::new(),
        bot: None,
        mentions: Vec::new(),
        custom_fields: None,
        groupable: None,
        file: None,
        files: Vec::new(),
        role: None,
        marks: Default::default(),
        discussion: Default::default(),
        md: None,
        urls: Vec::new(),
    }
}

pub fn reply(id: &str, parent: &Message, from: &User, ts: i64, text: &str) -> Message {
    Message {
        tmid: Some(parent.id.clone()),
        ..message(id, &parent.rid, from, ts, text)
    }
}

/// The ids of a list of records, in order.
pub fn ids<T, F: Fn(&T) -> &str>(items: &[T], id: F) -> Vec<String> {
    items.iter().map(|i| id(i).to_string()).collect()
}

/// Asserts that a result is `Err(Conflict(what))`.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: store::StoreResult<T>, what: &str) {
    match result {
        Err(store::StoreError::Conflict(w)) if w == what => {}
        other => panic!("expected Conflict({what:?}), got {other:?}"),
    }
}
