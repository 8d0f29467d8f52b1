//! `EXPLAIN QUERY PLAN` of the statements requests run: each must seek the index
//! meant for it (`SEARCH … USING INDEX …`), never scan a table, and never sort in a
//! temporary B-tree, so its cost does not grow with the room, the user base or the
//! workspace. A listing in index order that stops at its `LIMIT` may walk the index
//! (`SCAN … USING INDEX …`), which is allowed only where named.

use rusqlite::Connection;

use super::apps::{APP_DATA_KEYS, APP_DATA_KEYS_FROM, APP_LOGS_COUNT, APP_LOGS_PAGE, DUE_JOBS};
use super::matrix::MATRIX_PENDING_BEFORE;
use super::messages::{history_statement, THREAD_PAGE};
use super::outbox::{
    dead_filter, dead_statements, lease_statement, OUTBOX_DEAD_COUNT, OUTBOX_PENDING_STATS,
};
use super::presence::status_statement;
use super::roles::{ROLE_COUNT, ROLE_PAGE, ROOM_ROLED, ROOM_ROLE_MEMBERS};
use super::rooms::{
    kinds_condition, room_fname_phrase, room_name_phrase, room_names_phrase, rooms_listing,
    rooms_search, DEFAULT_ROOMS, MEMBERS_COUNT, MEMBERS_PAGE, ROOMS_SEARCH_CANDIDATE_COUNT,
    SUBSCRIPTIONS_ALL, SUBSCRIPTIONS_SINCE,
};
use super::schema::migrate;
use super::settings_audit::audit_filter;
use super::uploads::{room_uploads_statements, EXPIRED_UPLOADS};
use super::users::{
    trigram_phrase, users_listing, users_search, SEARCH_CANDIDATE_COUNT, USERS_OF_SERVICE,
};
use crate::store::presence::StatusQuery;
use crate::store::settings_audit::SettingChangeQuery;
use crate::store::{Direction, HistoryQuery, RoomKinds, Sort, SortKey, Ts};

fn schema() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    conn
}

/// The plan's detail lines.
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    // Parameters left unbound: the plan is chosen at prepare time.
    let mut rows = stmt.raw_query();
    let mut lines = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        lines.push(row.get::<_, String>(3).unwrap());
    }
    lines
}

/// What is wrong with `sql`'s plan, if anything: it must use `index` by a search
/// (or, with `walk`, in order), with no table scan and no temporary B-tree.
fn plan_fault(conn: &Connection, sql: &str, index: &str, walk: bool) -> Option<String> {
    let lines = plan(conn, sql);
    let uses = |l: &String| {
        l.ends_with(&format!("INDEX {index}")) || l.contains(&format!("INDEX {index} ("))
    };
    let searched = lines
        .iter()
        .any(|l| uses(l) && (l.starts_with("SEARCH") || (walk && l.starts_with("SCAN"))));
    // Not table scans: the row an `EXISTS` wraps, one document's JSON array.
    let harmless = |l: &String| l == "SCAN CONSTANT ROW" || l.starts_with("SCAN json_each");
    let scan = lines
        .iter()
        .find(|l| l.starts_with("SCAN") && !harmless(l) && !(walk && uses(l)));
    let temp = lines.iter().find(|l| l.contains("TEMP B-TREE"));
    if !searched || scan.is_some() || temp.is_some() {
        Some(format!("{sql}\nwanted index {index}; plan: {lines:#?}"))
    } else {
        None
    }
}

#[track_caller]
fn assert_plan(conn: &Connection, sql: &str, index: &str) {
    if let Some(fault) = plan_fault(conn, sql, index, false) {
        panic!("{fault}");
    }
}

#[track_caller]
fn assert_ordered_walk(conn: &Connection, sql: &str, index: &str) {
    if let Some(fault) = plan_fault(conn, sql, index, true) {
        panic!("{fault}");
    }
}

/// Every shape of a history page: bounds present or not, inclusive or not, thread
/// replies in or out.
fn history_shapes() -> Vec<HistoryQuery> {
    let mut shapes = Vec::new();
    for latest in [None, Some(Ts(2_000))] {
        for oldest in [None, Some(Ts(1_000))] {
            for inclusive in [false, true] {
                for exclude_thread_replies in [false, true] {
                    shapes.push(HistoryQuery {
                        latest,
                        oldest,
                        inclusive,
                        offset: 10,
                        count: 50,
                        exclude_thread_replies,
                    });
                }
            }
        }
    }
    shapes
}

/// What is wrong with the plan of a history statement for `q`: besides
/// [`plan_fault`], the bounds must be part of the index seek, not filters.
fn history_fault(conn: &Connection, sql: &str, q: &HistoryQuery, index: &str) -> Option<String> {
    if let Some(fault) = plan_fault(conn, sql, index, false) {
        return Some(fault);
    }
    let seek = match (q.latest, q.oldest) {
        (None, None) => "(rid=?)",
        (Some(_), None) => "(rid=? AND ts<?)",
        (None, Some(_)) => "(rid=? AND ts>?)",
        (Some(_), Some(_)) => "(rid=? AND ts>? AND ts<?)",
    };
    let lines = plan(conn, sql);
    if lines.iter().any(|l| l.ends_with(seek)) {
        None
    } else {
        Some(format!(
            "{sql}
wanted the seek {seek}; plan: {lines:#?}"
        ))
    }
}

/// What `rooms.adminRooms` keeps by default: neither discussions nor team mains.
const ADMIN_KINDS: RoomKinds = RoomKinds {
    discussions: false,
    team_mains: false,
    of_any_type: true,
};

/// `rooms.adminRooms?types=c&types=discussions`: the channels and every discussion.
const ADMIN_DISCUSSIONS: RoomKinds = RoomKinds {
    discussions: true,
    team_mains: false,
    of_any_type: true,
};

#[test]
fn admin_listings_of_kinds_whatever_their_type_walk_as_every_type() {
    // Kinds of any type walk every type's rooms, as the admin's listing of all
    // rooms does (a range of the type index per type, merged in one sort): the
    // kinds and the listing's own types are filters on that walk, not a scan.
    let conn = schema();
    for key in [SortKey::Name, SortKey::Msgs] {
        for filtered in [false, true] {
            let sort = Sort {
                key,
                dir: Direction::Asc,
            };
            let all = "'c','p','d'";
            let kinds = kinds_condition(ADMIN_DISCUSSIONS, "'c'");
            let (_, page) = rooms_listing(all, sort, filtered, true, &kinds);
            let (_, every) = rooms_listing(
                all,
                sort,
                filtered,
                true,
                &kinds_condition(ADMIN_KINDS, all),
            );
            let lines = plan(&conn, &page);
            assert_eq!(lines, plan(&conn, &every), "{page}");
            assert!(
                lines.iter().any(|l| l.starts_with("SEARCH rooms USING")),
                "{page}: {lines:#?}"
            );
        }
    }
}

#[test]
fn history_pages_seek_the_room_index() {
    let conn = schema();
    for q in history_shapes() {
        let index = if q.exclude_thread_replies {
            "messages_room_main"
        } else {
            "messages_room_ts"
        };
        for count in [false, true] {
            let (sql, _) = history_statement("r", &q, count);
            if let Some(fault) = history_fault(&conn, &sql, &q, index) {
                panic!("{fault}");
            }
        }
    }
}

#[test]
fn the_old_history_statements_fail_the_check() {
    // What history ran before: `IS NULL OR` bounds over the (rid, ts) index. The
    // check must reject every bounded shape of it.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, rid TEXT NOT NULL, ts INTEGER NOT NULL,
             tmid TEXT, doc TEXT NOT NULL);
         CREATE INDEX messages_room_ts ON messages(rid, ts);",
    )
    .unwrap();
    for q in history_shapes() {
        if q.latest.is_none() && q.oldest.is_none() {
            continue;
        }
        let (lt, gt) = if q.inclusive {
            ("<=", ">=")
        } else {
            ("<", ">")
        };
        let threads = if q.exclude_thread_replies {
            " AND tmid IS NULL"
        } else {
            ""
        };
        let old = format!(
            "SELECT doc FROM messages WHERE rid = ?1 AND (?2 IS NULL OR ts {lt} ?2)
             AND (?3 IS NULL OR ts {gt} ?3){threads} ORDER BY ts DESC, rowid DESC
             LIMIT ?4 OFFSET ?5"
        );
        assert!(
            history_fault(&conn, &old, &q, "messages_room_ts").is_some(),
            "{old}: {:?}",
            plan(&conn, &old)
        );
    }
}

#[test]
fn thread_pages_seek_the_thread_index() {
    let conn = schema();
    assert_plan(&conn, THREAD_PAGE, "messages_thread");
}

#[test]
fn subscriptions_seek_the_user_index() {
    let conn = schema();
    assert_plan(&conn, SUBSCRIPTIONS_ALL, "subscriptions_user");
    assert_plan(&conn, SUBSCRIPTIONS_SINCE, "subscriptions_user");
    let lines = plan(&conn, SUBSCRIPTIONS_SINCE).join("\n");
    assert!(lines.contains("updated_at>?"), "{lines}");
}

#[test]
fn user_listings_walk_an_index_in_order() {
    let conn = schema();
    for (key, index) in [
        (SortKey::Name, "sqlite_autoindex_users_2"),
        (SortKey::Ts, "users_created"),
        (SortKey::Status, "users_status_active"),
    ] {
        for dir in [Direction::Asc, Direction::Desc] {
            for filtered in [false, true] {
                let (_, page) = users_listing(Sort { key, dir }, filtered);
                assert_ordered_walk(&conn, &page, index);
            }
        }
    }
}

#[test]
fn room_listings_seek_the_type_index_in_order() {
    let conn = schema();
    for (key, index) in [
        (SortKey::Name, "rooms_type_name"),
        (SortKey::Ts, "rooms_type_ts"),
        (SortKey::UsersCount, "rooms_type_users"),
        (SortKey::Msgs, "rooms_type_msgs"),
    ] {
        for dir in [Direction::Asc, Direction::Desc] {
            // The admin listing's kinds left out are filters on the same walk.
            let shapes = [
                (false, false, RoomKinds::ALL),
                (true, false, RoomKinds::ALL),
                (true, true, RoomKinds::ALL),
                (false, false, ADMIN_KINDS),
                (true, true, ADMIN_KINDS),
            ];
            for (filtered, display_names, kinds) in shapes {
                let (count, page) = rooms_listing(
                    "'c'",
                    Sort { key, dir },
                    filtered,
                    display_names,
                    &kinds_condition(kinds, "'c'"),
                );
                assert_plan(&conn, &page, index);
                assert_eq!(
                    count.is_none(),
                    filtered,
                    "a substring filter is not counted"
                );
                if let Some(count) = count {
                    // A range of the type's index; covering unless kinds are left
                    // out, whose test reads each room of the type.
                    let lines = plan(&conn, &count);
                    let range = if kinds == RoomKinds::ALL {
                        "SEARCH rooms USING COVERING INDEX rooms_type_"
                    } else {
                        "SEARCH rooms USING INDEX rooms_type_"
                    };
                    assert!(
                        lines.len() == 1 && lines[0].starts_with(range),
                        "{count}: {lines:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn app_logs_and_due_jobs_seek_their_indexes() {
    let conn = schema();
    assert_plan(&conn, APP_LOGS_PAGE, "app_logs_app");
    assert_plan(&conn, DUE_JOBS, "app_jobs_due");
}

#[test]
fn outbox_leases_seek_the_due_index() {
    let conn = schema();
    assert_plan(&conn, &lease_statement(), "outbox_due_order");
}

/// What is wrong with a role query's plan: it must seek the role's range of
/// `user_roles` and fetch each user by primary key, with no scan and no sort.
fn role_fault(conn: &Connection, sql: &str) -> Option<String> {
    let lines = plan(conn, sql);
    let seeks = lines
        .iter()
        .any(|l| l.starts_with("SEARCH") && l.contains("PRIMARY KEY (role=?)"));
    let bad = lines
        .iter()
        .any(|l| l.starts_with("SCAN") || l.contains("TEMP B-TREE"));
    (!seeks || bad).then(|| format!("{sql}\nplan: {lines:#?}"))
}

#[test]
fn users_in_role_seek_the_role_index() {
    let conn = schema();
    for sql in [ROLE_COUNT, ROLE_PAGE] {
        if let Some(fault) = role_fault(&conn, sql) {
            panic!("{fault}");
        }
    }
    // What ran before: each user's `roles` array read through `json_each`.
    let old = "SELECT doc FROM users WHERE EXISTS (SELECT 1 FROM json_each(doc, '$.roles')
         WHERE value = ?1) ORDER BY username_key, id LIMIT ?2 OFFSET ?3";
    assert!(role_fault(&conn, old).is_some(), "{:?}", plan(&conn, old));
}

#[test]
fn user_roles_follow_every_user_write() {
    let conn = schema();
    let members = |role: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT user_id FROM user_roles WHERE role = ?1 ORDER BY username_key")
            .unwrap();
        let rows = stmt.query_map([role], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let insert = |id: &str, name: &str, roles: &str| {
        conn.execute(
            "INSERT INTO users (id, username_key, created_at, doc) VALUES (?1, ?2, 0, ?3)",
            [id, name, &format!(r#"{{"roles": {roles}}}"#)],
        )
        .unwrap();
    };
    insert("u1", "zed", r#"["user", "admin"]"#);
    insert("u2", "amy", r#"["user"]"#);
    assert_eq!(members("user"), ["u2", "u1"]);
    assert_eq!(members("admin"), ["u1"]);
    conn.execute(
        r#"UPDATE users SET doc = '{"roles": ["user", "admin"]}', username_key = 'bob' WHERE id = 'u2'"#,
        [],
    )
    .unwrap();
    assert_eq!(members("admin"), ["u2", "u1"]);
    conn.execute(
        r#"UPDATE users SET doc = '{"roles": ["user"]}' WHERE id = 'u1'"#,
        [],
    )
    .unwrap();
    assert_eq!(members("admin"), ["u2"]);
    conn.execute("DELETE FROM users WHERE id = 'u2'", [])
        .unwrap();
    assert!(members("admin").is_empty());
    assert_eq!(members("user"), ["u1"]);
}

#[test]
fn default_rooms_walk_their_partial_index() {
    let conn = schema();
    assert_ordered_walk(&conn, DEFAULT_ROOMS, "rooms_default");
}

/// Every shape `users_by_status` is asked: presence (ids, statuses, a delta since)
/// and the admin's listing (`active`, `hasLoggedIn`, `type`, a search term).
fn status_shapes() -> Vec<StatusQuery> {
    let mut shapes = Vec::new();
    let present = vec!["online".to_string(), "away".into(), "busy".into()];
    for presence in 0..4 {
        for active in [None, Some(true), Some(false)] {
            for has_logged_in in [None, Some(true), Some(false)] {
                for kind in [None, Some("user".to_string())] {
                    for search in [None, Some("al".to_string())] {
                        let mut q = StatusQuery {
                            active,
                            has_logged_in,
                            kind: kind.clone(),
                            search,
                            ..Default::default()
                        };
                        match presence {
                            1 => q.statuses = present.clone(),
                            2 => {
                                q.statuses = present.clone();
                                q.ids = Some(vec!["a".into(), "b".into()]);
                            }
                            3 => q.updated_since = Some(Ts(1_000)),
                            _ => {}
                        }
                        shapes.push(q);
                    }
                }
            }
        }
    }
    shapes
}

#[test]
fn users_by_status_seek_or_walk_their_index() {
    let conn = schema();
    for q in status_shapes() {
        let sql = status_statement(&q, None);
        let fault = if sql.ordered {
            plan_fault(&conn, &sql.page, sql.index, true)
        } else {
            // Seeks what it asks for, then sorts the answer (no scan).
            let lines = plan(&conn, &sql.page);
            let seeks = lines
                .iter()
                .any(|l| l.starts_with("SEARCH") && l.contains(sql.index));
            (!seeks || lines.iter().any(|l| l.starts_with("SCAN")))
                .then(|| format!("{}\nplan: {lines:#?}", sql.page))
        };
        if let Some(fault) = fault {
            panic!("{q:?}: {fault}");
        }
        assert_eq!(sql.count.is_none(), q.search.is_some(), "{q:?}");
        if let Some(count) = &sql.count {
            let lines = plan(&conn, count);
            // Unfiltered: the whole listing is the answer; any covering index.
            let unfiltered = !count.contains("WHERE")
                && lines.len() == 1
                && lines[0].starts_with("SCAN users USING COVERING INDEX");
            let uses = unfiltered || lines.iter().any(|l| l.contains(sql.index));
            let scan = lines.iter().any(|l| {
                l.starts_with("SCAN") && !unfiltered && !(sql.ordered && l.contains(sql.index))
            });
            assert!(uses && !scan, "{q:?}: {count}\n{lines:#?}");
        }
    }
    // The admin's tabs (all, active, deactivated, pending) each read their own range.
    let tab = |active, has_logged_in, kind: Option<&str>| {
        status_statement(
            &StatusQuery {
                active,
                has_logged_in,
                kind: kind.map(str::to_string),
                ..Default::default()
            },
            None,
        )
        .index
    };
    assert_eq!(tab(Some(true), Some(true), None), "users_active_name");
    assert_eq!(tab(Some(false), Some(true), None), "users_active_name");
    assert_eq!(
        tab(None, Some(false), Some("user")),
        "users_login_type_name"
    );
    assert_eq!(
        tab(Some(false), Some(false), Some("user")),
        "users_login_type_name"
    );
}

/// A count must be answered from the index's keys alone (`COVERING INDEX`).
#[track_caller]
fn assert_covered_count(conn: &Connection, sql: &str, index: &str) {
    assert_plan(conn, sql, index);
    let lines = plan(conn, sql);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("COVERING INDEX {index}"))),
        "{sql}: not covered by {index}: {lines:#?}"
    );
}

#[test]
fn room_role_queries_seek_the_roled_index() {
    // channels.roles, and the last-owner check when an owner leaves: a range of the
    // partial index holding memberships with a role, not the room's members.
    let conn = schema();
    assert_plan(&conn, ROOM_ROLED, "subscriptions_roled");
    assert_plan(&conn, ROOM_ROLE_MEMBERS, "subscriptions_roled");
    // What ran before: the room's members, each document's roles read.
    let old = "SELECT doc FROM subscriptions WHERE EXISTS (SELECT 1 FROM json_each(doc, '$.roles')
         WHERE value = ?1) AND rid = ?2 ORDER BY username, id";
    assert!(
        plan_fault(&conn, old, "subscriptions_roled", false).is_some(),
        "{:?}",
        plan(&conn, old)
    );
}

#[test]
fn room_members_walk_the_room_index_in_order() {
    let conn = schema();
    assert_plan(&conn, MEMBERS_PAGE, "subscriptions_room_order");
    let lines = plan(&conn, MEMBERS_COUNT);
    assert!(
        lines.len() == 1 && lines[0].starts_with("SEARCH subscriptions USING COVERING INDEX"),
        "{lines:?}"
    );
}

#[test]
fn users_of_a_service_seek_the_identities_index() {
    // The directory sync's accounts: before, every user was listed and filtered.
    let conn = schema();
    assert_plan(&conn, USERS_OF_SERVICE, "sqlite_autoindex_user_services_1");
}

#[test]
fn room_files_walk_the_kept_files_index() {
    let conn = schema();
    for named in [false, true] {
        let (count, page) = room_uploads_statements(named);
        assert_plan(&conn, &page, "uploads_room_kept");
        // The count seeks the room's kept files but reads their rows: SQLite does not
        // treat the partial index's `typeGroup` term as covering the query's. The cost
        // is the room's own file count, the size of the answer's total.
        assert_plan(&conn, &count, "uploads_room_kept");
    }
    assert_plan(&conn, EXPIRED_UPLOADS, "uploads_expiry_order");
}

#[test]
fn dead_letters_and_queue_stats_seek_their_indexes() {
    let conn = schema();
    for (of_kind, index) in [(true, "outbox_state_kind"), (false, "outbox_state_order")] {
        let (count, page) = dead_statements(of_kind);
        assert_plan(&conn, &page, index);
        assert_covered_count(&conn, &count, index);
    }
    assert_covered_count(&conn, OUTBOX_PENDING_STATS, "outbox_state_kind");
    assert_covered_count(&conn, OUTBOX_DEAD_COUNT, "outbox_state_kind");
    // Retrying or dropping one dead letter seeks it by id; a kind's, their range.
    for (id, kind) in [
        (Some("x"), None),
        (Some("x"), Some("webhook")),
        (None, Some("webhook")),
    ] {
        let (filter, _) = dead_filter(id.map(str::to_string), kind, 1);
        let sql = format!("DELETE FROM outbox WHERE {filter}");
        let index = if id.is_some() {
            "sqlite_autoindex_outbox_1"
        } else {
            "outbox_state_kind"
        };
        assert_plan(&conn, &sql, index);
    }
}

#[test]
fn the_settings_audit_seeks_by_setting_actor_or_time() {
    let conn = schema();
    for (setting, actor, index) in [
        (Some("Site_Name"), None, "setting_changes_setting_order"),
        (None, Some("u1"), "setting_changes_actor"),
        (None, None, "setting_changes_ts"),
    ] {
        for (since, until) in [(None, None), (Some(Ts(1)), Some(Ts(2)))] {
            for oldest_first in [false, true] {
                let q = SettingChangeQuery {
                    setting_id: setting.map(str::to_string),
                    actor_id: actor.map(str::to_string),
                    since,
                    until,
                    oldest_first,
                };
                let (filter, args, dir) = audit_filter(&q);
                let n = args.len();
                let page = format!(
                    "SELECT doc FROM setting_changes {filter} ORDER BY ts {dir}, id {dir} \
                     LIMIT ?{} OFFSET ?{}",
                    n + 1,
                    n + 2
                );
                let walk = setting.is_none() && actor.is_none() && since.is_none();
                if walk {
                    assert_ordered_walk(&conn, &page, index);
                } else {
                    assert_plan(&conn, &page, index);
                }
            }
        }
    }
}

#[test]
fn app_logs_totals_and_data_keys_are_index_ranges() {
    let conn = schema();
    assert_covered_count(&conn, APP_LOGS_COUNT, "app_logs_level");
    for sql in [APP_DATA_KEYS, APP_DATA_KEYS_FROM] {
        assert_plan(&conn, sql, "sqlite_autoindex_app_data_1");
    }
    let lines = plan(&conn, APP_DATA_KEYS).join("\n");
    assert!(lines.contains("key>? AND key<?"), "{lines}");
}

#[test]
fn matrix_order_gate_seeks_the_room_keys() {
    let conn = schema();
    assert_plan(&conn, MATRIX_PENDING_BEFORE, "sqlite_autoindex_outbox_2");
    let lines = plan(&conn, MATRIX_PENDING_BEFORE).join("\n");
    assert!(lines.contains("dedupe_key>? AND dedupe_key<?"), "{lines}");
}

#[test]
fn the_prefix_successor_bounds_exactly_the_prefixed_keys() {
    use super::apps::prefix_end;
    assert_eq!(prefix_end(""), None);
    assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
    assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
    let end = prefix_end("ab").unwrap();
    for key in ["ab", "ab\u{0}", "abz", "ab\u{10FFFF}\u{10FFFF}"] {
        assert!(key >= "ab" && key < end.as_str(), "{key:?}");
    }
    for key in ["aa\u{10FFFF}", "ac", "b"] {
        assert!(!(key >= "ab" && key < end.as_str()), "{key:?}");
    }
}

#[test]
fn rare_search_terms_read_their_matches_only() {
    // A users search: the trigram index finds the matches, each user is fetched by
    // primary key and only those are sorted; no walk of the users.
    let conn = schema();
    let lines = plan(&conn, SEARCH_CANDIDATE_COUNT);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SCAN users_search VIRTUAL TABLE INDEX 0:M")),
        "{lines:#?}"
    );
    for key in [SortKey::Name, SortKey::Ts, SortKey::Status] {
        for dir in [Direction::Asc, Direction::Desc] {
            let (count, page) = users_search(Sort { key, dir });
            for sql in [count, page] {
                let lines = plan(&conn, &sql);
                let by_id = lines.iter().any(|l| {
                    l.starts_with("SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)")
                });
                let table_scan = lines
                    .iter()
                    .any(|l| l.starts_with("SCAN") && !l.starts_with("SCAN users_search VIRTUAL"));
                assert!(by_id && !table_scan, "{sql}: {lines:#?}");
            }
        }
    }
}

#[test]
fn the_trigram_index_follows_every_user_write() {
    let conn = schema();
    let found = |term: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT uid FROM users_search WHERE users_search MATCH ?1 ORDER BY uid")
            .unwrap();
        let rows = stmt
            .query_map([trigram_phrase(term).unwrap()], |r| r.get(0))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    conn.execute(
        r#"INSERT INTO users (id, username_key, created_at, doc) VALUES
           ('u1', 'zed', 0, '{"name": "Alice Liddell"}'),
           ('u2', 'amy', 0, '{"name": "Amy Pond"}'),
           ('u3', 'nameless', 0, '{}')"#,
        [],
    )
    .unwrap();
    assert_eq!(found("lid"), ["u1"]);
    assert_eq!(found("ALICE"), ["u1"], "case folded");
    assert_eq!(found("amy"), ["u2"]);
    assert_eq!(found("less"), ["u3"]);
    conn.execute(
        r#"UPDATE users SET doc = '{"name": "Rory Pond"}' WHERE id = 'u1'"#,
        [],
    )
    .unwrap();
    assert!(found("lid").is_empty());
    assert_eq!(found("pond"), ["u1", "u2"]);
    conn.execute("UPDATE users SET username_key = 'rory' WHERE id = 'u1'", [])
        .unwrap();
    assert!(found("zed").is_empty());
    assert_eq!(found("ror"), ["u1"]);
    // Writes that change neither leave the index alone (presence writes the doc).
    conn.execute(
        r#"UPDATE users SET doc = json_set(doc, '$.status', 'online') WHERE id = 'u2'"#,
        [],
    )
    .unwrap();
    assert_eq!(found("amy"), ["u2"]);
    conn.execute("DELETE FROM users WHERE id = 'u1'", [])
        .unwrap();
    assert_eq!(found("pond"), ["u2"]);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM users_search_rows", [], |r| r.get(0))
        .unwrap();
    let indexed: i64 = conn
        .query_row("SELECT count(*) FROM users_search", [], |r| r.get(0))
        .unwrap();
    assert_eq!((rows, indexed), (2, 2));
}

/// A plan reads the trigram table `fts` and the rows by primary key, `index`, with no
/// other scan.
fn assert_trigram_plan(conn: &Connection, sql: &str, fts: &str, index: &str) {
    let lines = plan(conn, sql);
    let virtual_scan = format!("SCAN {fts} VIRTUAL TABLE INDEX 0:M");
    let reads_fts = lines.iter().any(|l| l.starts_with(&virtual_scan));
    let by_id = lines
        .iter()
        .any(|l| l.starts_with("SEARCH") && l.contains(&format!("INDEX {index} (id=?)")));
    let table_scan = lines
        .iter()
        .any(|l| l.starts_with("SCAN") && !l.starts_with(&virtual_scan));
    assert!(reads_fts && by_id && !table_scan, "{sql}: {lines:#?}");
}

#[test]
fn rare_room_searches_read_their_matches_only() {
    // channels.list with a name filter: a rare term's rooms come from `rooms_search`,
    // each fetched by primary key; no walk of the rooms of the type.
    let conn = schema();
    let lines = plan(&conn, ROOMS_SEARCH_CANDIDATE_COUNT);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SCAN rooms_search VIRTUAL TABLE INDEX 0:M")),
        "{lines:#?}"
    );
    for types in ["'c'", "'c','p'"] {
        for key in [
            SortKey::Name,
            SortKey::Ts,
            SortKey::UsersCount,
            SortKey::Msgs,
        ] {
            for dir in [Direction::Asc, Direction::Desc] {
                for (display_names, kinds) in [
                    (false, RoomKinds::ALL),
                    (true, RoomKinds::ALL),
                    (true, ADMIN_KINDS),
                ] {
                    let (count, page) = rooms_search(
                        types,
                        Sort { key, dir },
                        display_names,
                        &kinds_condition(kinds, types),
                    );
                    for sql in [count, page] {
                        assert_trigram_plan(
                            &conn,
                            &sql,
                            "rooms_search",
                            "sqlite_autoindex_rooms_1",
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rare_list_by_status_searches_read_their_matches_only() {
    // users.listByStatus with a search term: every shape but an id list (bounded by
    // the ask) reads the trigram index's users by primary key, and is counted.
    let conn = schema();
    for mut q in status_shapes() {
        if q.search.is_none() {
            q.search = Some("alice".into());
        }
        let sql = status_statement(&q, Some("\"alice\""));
        if q.ids.is_some() {
            assert!(!sql.page.contains("users_search"), "{q:?}");
            continue;
        }
        assert!(sql.count.is_some(), "{q:?}: a rare search is counted");
        for stmt in [sql.count.as_deref().unwrap_or_default(), sql.page.as_str()] {
            assert_trigram_plan(&conn, stmt, "users_search", "sqlite_autoindex_users_1");
        }
    }
}

#[test]
fn the_room_trigram_index_follows_every_room_write() {
    let conn = schema();
    let found = |term: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT rid FROM rooms_search WHERE rooms_search MATCH ?1 ORDER BY rid")
            .unwrap();
        let rows = stmt
            .query_map([room_name_phrase(term).unwrap()], |r| r.get(0))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    conn.execute(
        r#"INSERT INTO rooms (id, t, name_key, doc) VALUES
           ('r1', 'c', 'general', '{"fname": "General Chat"}'),
           ('r2', 'p', 'generalists', '{}'),
           ('r3', 'd', NULL, '{}')"#,
        [],
    )
    .unwrap();
    assert_eq!(found("NERAL"), ["r1", "r2"], "case folded");
    assert_eq!(found("lists"), ["r2"]);
    assert!(found("chat").is_empty(), "names only, not display names");
    let found_by = |phrase: String| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT rid FROM rooms_search WHERE rooms_search MATCH ?1 ORDER BY rid")
            .unwrap();
        let rows = stmt.query_map([phrase], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(found_by(room_fname_phrase("CHAT").unwrap()), ["r1"]);
    assert_eq!(found_by(room_names_phrase("chat").unwrap()), ["r1"]);
    assert_eq!(found_by(room_names_phrase("eneral").unwrap()), ["r1", "r2"]);
    conn.execute(
        r#"UPDATE rooms SET name_key = 'lounge', doc = '{"fname": "Lounge"}' WHERE id = 'r1'"#,
        [],
    )
    .unwrap();
    assert_eq!(found("general"), ["r2"]);
    assert_eq!(found("oung"), ["r1"]);
    // Writes that change neither name leave the index alone (every post bumps `msgs`).
    conn.execute(
        r#"UPDATE rooms SET doc = json_set(doc, '$.msgs', 5) WHERE id = 'r1'"#,
        [],
    )
    .unwrap();
    assert_eq!(found("lounge"), ["r1"]);
    conn.execute("DELETE FROM rooms WHERE id = 'r2'", [])
        .unwrap();
    assert!(found("general").is_empty());
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM rooms_search_rows", [], |r| r.get(0))
        .unwrap();
    let indexed: i64 = conn
        .query_row("SELECT count(*) FROM rooms_search", [], |r| r.get(0))
        .unwrap();
    assert_eq!((rows, indexed), (2, 2));
}
