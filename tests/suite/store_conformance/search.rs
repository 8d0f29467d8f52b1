//! Substring search's two paths (issue #21): a term of 3+ characters that fewer
//! than `SEARCH_CANDIDATES` (2,000) records match is read through a trigram index
//! (`users_search`/`rooms_search` on SQLite, `searchGrams` on MongoDB) and counted
//! exactly; commoner and shorter terms walk the listing's index, their total probed
//! (see `Listing`). Either way the page is the naive answer: every record whose
//! username or name (a room's name) holds the term, case-insensitively, in the
//! listing's order — through renames and deletions.

use std::collections::BTreeMap;

use palaver_server::store::presence::StatusQuery;
use palaver_server::store::{
    Direction, DynStore, Listing, Page, Room, RoomType, Sort, SortKey, Ts, User,
};

use super::{channel, room, user};

/// Records more than this many match a common term (the bound is 2,000).
const COMMON: usize = 2_010;
const RARE_BELOW: usize = 2_000;

/// The naive answer: `matches` (sorted) paged as the store pages them, with the
/// exact total on the trigram path (a term of 3+ characters fewer than 2,000 records
/// hold, whatever the listing's other filters: `candidates`), else the probed one.
fn naive<T: Clone>(matches: &[T], candidates: usize, term: &str, page: Page) -> (Vec<T>, u64) {
    let from = (page.offset as usize).min(matches.len());
    let to = (from + page.count as usize).min(matches.len());
    let items = matches[from..to].to_vec();
    let rare = term.chars().count() >= 3 && candidates < RARE_BELOW;
    let total = if rare {
        matches.len() as u64
    } else {
        page.offset + items.len() as u64 + u64::from(matches.len() > to)
    };
    (items, total)
}

fn holds(text: &str, term: &str) -> bool {
    text.to_lowercase().contains(&term.to_lowercase())
}

struct Users(BTreeMap<String, User>);

impl Users {
    /// The naive matches, by username then id, in `dir`.
    fn matching(&self, term: &str, dir: Direction, filter: impl Fn(&User) -> bool) -> Vec<String> {
        let mut found: Vec<&User> = self
            .0
            .values()
            .filter(|u| (holds(&u.username, term) || holds(&u.name, term)) && filter(u))
            .collect();
        found.sort_by(|a, b| {
            (a.username.to_lowercase(), &a.id).cmp(&(b.username.to_lowercase(), &b.id))
        });
        if dir == Direction::Desc {
            found.reverse();
        }
        found.into_iter().map(|u| u.id.clone()).collect()
    }
}

fn listed<T>(l: Listing<T>, id: impl Fn(&T) -> String) -> (Vec<String>, u64) {
    (l.items.iter().map(id).collect(), l.total)
}

/// The orders and pages to check: all of them on SQLite; on MongoDB (SecantusDB, a
/// MongoDB written in Python, takes minutes over the full set) the first page in one
/// order, which still takes both the rare and the common path.
fn quick(store: &DynStore) -> bool {
    store.backend_name() != "sqlite"
}

fn pages(store: &DynStore) -> Vec<Page> {
    if quick(store) {
        vec![Page::new(0, 25)]
    } else {
        vec![Page::new(0, 25), Page::new(1, 2), Page::new(2_003, 5)]
    }
}

fn dirs(store: &DynStore) -> Vec<Direction> {
    if quick(store) {
        vec![Direction::Asc]
    } else {
        vec![Direction::Asc, Direction::Desc]
    }
}

async fn check_users(store: &DynStore, users: &Users, terms: &[&str]) {
    for &term in terms {
        for dir in dirs(store) {
            let sort = Sort {
                key: SortKey::Name,
                dir,
            };
            let all = users.matching(term, dir, |_| true);
            let candidates = all.len();
            for page in pages(store) {
                let got = store.list_users(Some(term), sort, page).await.unwrap();
                assert_eq!(
                    listed(got, |u| u.id.clone()),
                    naive(&all, candidates, term, page),
                    "users {term:?} {dir:?} {page:?}"
                );
            }
        }
        // users.listByStatus: alone and with the admin's active tab; by username.
        let candidates = users.matching(term, Direction::Asc, |_| true).len();
        for active in [None, Some(true)] {
            let q = StatusQuery {
                search: Some(term.into()),
                active,
                ..Default::default()
            };
            let all = users.matching(term, Direction::Asc, |u| {
                active.is_none_or(|a| u.active == a)
            });
            for page in pages(store).into_iter().take(2) {
                let got = store.users_by_status(&q, page).await.unwrap();
                assert_eq!(
                    listed(got, |u| u.id.clone()),
                    naive(&all, candidates, term, page),
                    "listByStatus {term:?} {active:?} {page:?}"
                );
            }
        }
    }
}

struct Rooms(BTreeMap<String, Room>);

impl Rooms {
    fn matching(&self, term: &str, types: &[RoomType], sort: Sort) -> Vec<String> {
        let mut found: Vec<&Room> = self
            .0
            .values()
            .filter(|r| types.contains(&r.t))
            .filter(|r| r.name.as_deref().is_some_and(|n| holds(n, term)))
            .collect();
        found.sort_by(|a, b| match sort.key {
            SortKey::UsersCount => (a.users_count, &a.id).cmp(&(b.users_count, &b.id)),
            _ => (a.name.as_ref().map(|n| n.to_lowercase()), &a.id)
                .cmp(&(b.name.as_ref().map(|n| n.to_lowercase()), &b.id)),
        });
        if sort.dir == Direction::Desc {
            found.reverse();
        }
        found.into_iter().map(|r| r.id.clone()).collect()
    }
}

async fn check_rooms(store: &DynStore, rooms: &Rooms, terms: &[&str]) {
    let kinds: [&[RoomType]; 2] = [&[RoomType::Channel], &[RoomType::Channel, RoomType::Group]];
    let every = [RoomType::Channel, RoomType::Group, RoomType::Direct];
    for &term in terms {
        let candidates = rooms
            .matching(
                term,
                &every,
                Sort {
                    key: SortKey::Name,
                    dir: Direction::Asc,
                },
            )
            .len();
        for types in kinds {
            for key in [SortKey::Name, SortKey::UsersCount] {
                for dir in dirs(store) {
                    let sort = Sort { key, dir };
                    let all = rooms.matching(term, types, sort);
                    for page in pages(store) {
                        let got = store
                            .list_rooms(types, Some(term), sort, page)
                            .await
                            .unwrap();
                        assert_eq!(
                            listed(got, |r| r.id.clone()),
                            naive(&all, candidates, term, page),
                            "rooms {term:?} {types:?} {key:?} {dir:?} {page:?}"
                        );
                    }
                }
            }
        }
    }
}

pub async fn search_paths(store: DynStore) {
    // Users: a crowd sharing "member" (a common term), and a few with rare names,
    // mixed case and non-ASCII. (Names keep their non-ASCII letters in lower case:
    // SQLite's `lower()` folds ASCII only.)
    let mut users = Users(BTreeMap::new());
    let mut add_user = |u: User| {
        users.0.insert(u.id.clone(), u.clone());
        u
    };
    let mut crowd = Vec::new();
    for i in 0..COMMON {
        let mut u = user(&format!("u-{i:04}"), &format!("member{i:04}"), None);
        u.name = format!("Common Member {i}");
        u.active = i % 3 != 0;
        crowd.push(add_user(u));
    }
    let mut alice = user("u-alice", "alice", None);
    alice.name = "Alice Liddell".into();
    let mut jurgen = user("u-jurgen", "JÜRGEN", None);
    jurgen.name = "Jürgen Groß".into();
    let mut zoe = user("u-zoe", "zoe", None);
    zoe.name = "Zoë ünal".into();
    let mut mad = user("u-mad", "MadHatter", None);
    mad.name = "Hatter".into();
    for u in [alice, jurgen, zoe, mad] {
        crowd.push(add_user(u));
    }
    for u in &crowd {
        store.create_user(u, None).await.unwrap();
    }
    let user_terms = [
        "lidd",
        "LIDDELL",
        "alice",
        "ALICE LIDD",
        "hatter",
        "madhat",
        "jürg",
        "JÜRGEN",
        "groß",
        "zoë",
        "ËÜ",
        "ünal",
        "ë ü",
        "member",
        "MEMBER1",
        "member200",
        "common",
        "ber0007",
        "mon mem",
        "qqqzzz",
        "e",
        "Li",
        "ß",
        "20",
    ];
    check_users(&store, &users, &user_terms).await;

    // Renames and deletions move users in and out of both paths.
    let mut alice = users.0["u-alice"].clone();
    alice.username = "Alicia".into();
    alice.name = "Alicia Pleasance".into();
    store.update_user(&alice).await.unwrap();
    users.0.insert(alice.id.clone(), alice);
    let mut renamed = users.0["u-0007"].clone();
    renamed.username = "liddell7".into();
    store.update_user(&renamed).await.unwrap();
    users.0.insert(renamed.id.clone(), renamed);
    for id in ["u-zoe", "u-0042"] {
        assert!(store.delete_user(id).await.unwrap());
        users.0.remove(id);
    }
    // Presence writes leave the search as it is.
    store
        .set_user_presence(
            "u-jurgen",
            &palaver_server::store::presence::PresenceFields {
                status: Some("online".into()),
                ..Default::default()
            },
            Ts(9_000),
        )
        .await
        .unwrap();
    check_users(
        &store,
        &users,
        &[
            "lidd",
            "alicia",
            "pleasance",
            "alice",
            "zoë",
            "member0042",
            "member0007",
            "member",
            "jürgen",
            "li",
        ],
    )
    .await;

    // Rooms: a crowd of channels sharing "common", rare names (one a group, one a
    // non-ASCII name), a direct message (no name).
    let mut rooms = Rooms(BTreeMap::new());
    let mut made = Vec::new();
    for i in 0..COMMON {
        made.push(channel(
            &format!("r-{i:04}"),
            &format!("common-room-{i:04}"),
            (i % 7) as i64,
        ));
    }
    made.push(channel("r-general", "General", 3));
    made.push(channel("r-cafe", "Ünal-Café", 2));
    made.push(room("r-secret", RoomType::Group, Some("General-Secret"), 1));
    made.push(room("r-dm", RoomType::Direct, None, 2));
    let mut fname = channel("r-fname", "plain", 1);
    fname.fname = Some("Display Only Genera".into());
    made.push(fname);
    for r in made {
        store.create_room(&r, &[]).await.unwrap();
        rooms.0.insert(r.id.clone(), r);
    }
    let room_terms = [
        "general",
        "GENERAL-sec",
        "café",
        "ÜNAL",
        "nal-c",
        "common",
        "common-room-00",
        "room-2001",
        "display",
        "plain",
        "zzzq",
        "ge",
        "é",
        "00",
    ];
    check_rooms(&store, &rooms, &room_terms).await;

    // Renames (both ways a room is rewritten) and a deletion.
    let mut general = rooms.0["r-general"].clone();
    general.name = Some("town-square".into());
    general.fname = Some("Town Square".into());
    store.update_room_meta(&general).await.unwrap();
    rooms.0.insert(general.id.clone(), general);
    let mut cafe = rooms.0["r-cafe"].clone();
    cafe.name = Some("Général".into());
    store.update_room_settings(&cafe).await.unwrap();
    rooms.0.insert(cafe.id.clone(), cafe);
    let mut one = rooms.0["r-0005"].clone();
    one.name = Some("generalist".into());
    store.update_room_settings(&one).await.unwrap();
    rooms.0.insert(one.id.clone(), one);
    assert!(store.delete_room("r-secret").await.unwrap());
    rooms.0.remove("r-secret");
    check_rooms(
        &store,
        &rooms,
        &[
            "general",
            "GÉNÉRAL",
            "town",
            "square",
            "café",
            "common-room-0005",
            "common",
            "secret",
        ],
    )
    .await;
}

/// On MongoDB, a rare term's search (users, rooms, `listByStatus`) is an index scan
/// of `by_search_grams`, not a collection scan or a walk of another index. Its
/// answer (fewer than 2,000 documents) is sorted after, so a `SORT` is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_search_plans() {
    use palaver_server::store::mongo::{MongoStore, Planned};
    use palaver_server::store::{StorageTarget, Store};
    let fixture = super::Fixture::mongo("search_plans");
    let StorageTarget::Mongo { uri, database } = &fixture.target else {
        unreachable!()
    };
    let store = MongoStore::connect(uri, database).await.expect("connect");
    let channels = [RoomType::Channel];
    let status = [
        StatusQuery {
            search: Some("alice".into()),
            ..Default::default()
        },
        StatusQuery {
            search: Some("alice".into()),
            active: Some(true),
            has_logged_in: Some(false),
            kind: Some("user".into()),
            ..Default::default()
        },
        StatusQuery {
            search: Some("alice".into()),
            statuses: vec!["online".into()],
            ..Default::default()
        },
    ];
    let mut cases: Vec<Planned<'_>> = Vec::new();
    for dir in [Direction::Asc, Direction::Desc] {
        for key in [SortKey::Name, SortKey::Ts] {
            cases.push(Planned::UsersSearch {
                term: "lidd",
                sort: Sort { key, dir },
            });
        }
        for key in [SortKey::Name, SortKey::UsersCount, SortKey::Msgs] {
            cases.push(Planned::RoomsSearch {
                types: &channels,
                term: "general",
                sort: Sort { key, dir },
            });
        }
    }
    cases.extend(status.iter().map(Planned::StatusSearch));
    for what in cases {
        let name = format!("{what:?}");
        let explain = store.explain(what, Page::new(2, 25)).await.unwrap();
        let (stages, indexes) = super::history::plan_stages(&explain);
        assert!(
            stages.iter().any(|s| s == "IXSCAN")
                && !stages.iter().any(|s| s == "COLLSCAN")
                && indexes.iter().all(|i| i == "by_search_grams"),
            "{name}: {stages:?} {indexes:?}\n{explain}"
        );
    }
    store.close().await.unwrap();
}
