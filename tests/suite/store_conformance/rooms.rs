//! Rooms and subscriptions.

use palaver_server::store::{
    Direction, DynStore, HistoryQuery, Page, PostEffects, Room, RoomMatch, RoomType, Sidepanel,
    SidepanelItem, Sort, SortKey, Ts,
};

use super::{assert_conflict, channel, ids, message, room, sub, user};

pub async fn rooms(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let mut general = channel("r-general", "General", 2);
    general.topic = Some("chat".into());
    general.u = Some(super::uref(&alice));
    general.default = true;
    let subs = [
        sub(&general, &alice, Ts(1_000)),
        sub(&general, &bob, Ts(1_000)),
    ];
    store.create_room(&general, &subs).await.unwrap();

    assert_eq!(
        store.room_by_id("r-general").await.unwrap(),
        Some(general.clone())
    );
    assert_eq!(store.room_by_id("r-none").await.unwrap(), None);
    assert_eq!(
        store.room_by_name("general").await.unwrap(),
        Some(general.clone())
    );
    assert_eq!(
        store.room_by_name("GENERAL").await.unwrap(),
        Some(general.clone())
    );
    assert_eq!(store.room_by_name("gen").await.unwrap(), None);
    assert_eq!(
        store.subscription("r-general", "u-alice").await.unwrap(),
        Some(subs[0].clone())
    );
    assert_eq!(
        store.subscription("r-general", "u-bob").await.unwrap(),
        Some(subs[1].clone())
    );
    assert_eq!(
        store.subscription("r-general", "u-carol").await.unwrap(),
        None
    );

    // Direct messages have no name; any number of them coexist.
    let mut dm1 = room("r-dm1", RoomType::Direct, None, 2);
    dm1.usernames = Some(vec!["alice".into(), "bob".into()]);
    dm1.uids = Some(vec!["u-alice".into(), "u-bob".into()]);
    let dm2 = room("r-dm2", RoomType::Direct, None, 0);
    store
        .create_room(&dm1, &[sub(&dm1, &alice, Ts(1)), sub(&dm1, &bob, Ts(1))])
        .await
        .unwrap();
    store.create_room(&dm2, &[]).await.unwrap();
    assert_eq!(store.room_by_id("r-dm1").await.unwrap(), Some(dm1.clone()));

    let mut found = store
        .rooms_by_ids(&["r-dm2".into(), "r-none".into(), "r-general".into()])
        .await
        .unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(found, vec![dm2.clone(), general.clone()]);
    assert!(store.rooms_by_ids(&[]).await.unwrap().is_empty());

    // Metadata updates leave counters and the last message alone.
    let m = message("m-1", "r-general", &alice, 2_000, "hi");
    store
        .insert_message(&m, &PostEffects::default())
        .await
        .unwrap();
    let before = store.room_by_id("r-general").await.unwrap().unwrap();
    let mut meta = general.clone();
    meta.name = Some("Lobby".into());
    meta.fname = Some("The Lobby".into());
    meta.topic = None;
    meta.description = Some("where people meet".into());
    meta.ro = true;
    meta.default = false;
    meta.updated_at = Ts(7_000);
    // Stale counters in the given record are ignored.
    meta.users_count = 99;
    meta.msgs = 99;
    store.update_room_meta(&meta).await.unwrap();
    let after = store.room_by_id("r-general").await.unwrap().unwrap();
    let expected = Room {
        users_count: before.users_count,
        msgs: before.msgs,
        lm: before.lm,
        last_message: before.last_message.clone(),
        ..meta.clone()
    };
    assert_eq!(after, expected);
    assert_eq!(after.msgs, 1);
    assert_eq!(after.last_message.as_deref(), Some(&m));
    assert_eq!(store.room_by_name("general").await.unwrap(), None);
    assert_eq!(store.room_by_name("LOBBY").await.unwrap(), Some(after));
    // The old name is free again.
    store
        .create_room(&channel("r-new", "general", 0), &[])
        .await
        .unwrap();
    // Updating an unknown room is not an error.
    store
        .update_room_meta(&channel("r-none", "nowhere", 0))
        .await
        .unwrap();
    assert_eq!(store.room_by_id("r-none").await.unwrap(), None);
}

pub async fn room_conflicts(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let general = channel("r-general", "general", 1);
    store
        .create_room(&general, &[sub(&general, &alice, Ts(1))])
        .await
        .unwrap();

    // Channels and groups share one case-insensitive namespace.
    let clash = channel("r-2", "GENERAL", 1);
    assert_conflict(
        store.create_room(&clash, &[sub(&clash, &bob, Ts(1))]).await,
        "room name",
    );
    let group = room("r-3", RoomType::Group, Some("General"), 0);
    assert_conflict(store.create_room(&group, &[]).await, "room name");
    assert_conflict(
        store
            .create_room(&channel("r-general", "other", 0), &[])
            .await,
        "id",
    );
    // Nothing of the refused rooms was stored.
    assert_eq!(store.room_by_id("r-2").await.unwrap(), None);
    assert_eq!(store.room_by_id("r-3").await.unwrap(), None);
    assert_eq!(store.subscription("r-2", "u-bob").await.unwrap(), None);
    assert_eq!(store.room_by_name("other").await.unwrap(), None);
    assert_eq!(
        store.room_by_id("r-general").await.unwrap(),
        Some(general.clone())
    );

    // A room whose subscriptions cannot be stored is not created either.
    let broken = channel("r-broken", "broken", 2);
    let mut dup = sub(&broken, &bob, Ts(1));
    dup.id = sub(&general, &alice, Ts(1)).id;
    let refused = store
        .create_room(&broken, &[sub(&broken, &alice, Ts(1)), dup])
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(store.room_by_id("r-broken").await.unwrap(), None);
    assert_eq!(store.room_by_name("broken").await.unwrap(), None);
    assert_eq!(
        store.subscription("r-broken", "u-alice").await.unwrap(),
        None
    );
    assert_eq!(
        store.subscription("r-general", "u-alice").await.unwrap(),
        Some(sub(&general, &alice, Ts(1)))
    );
    // ... and its name is still free.
    store.create_room(&broken, &[]).await.unwrap();

    // Renaming onto a taken name is refused and changes nothing.
    let mut rename = broken.clone();
    rename.name = Some("GENERAL".into());
    assert_conflict(store.update_room_meta(&rename).await, "room name");
    assert_eq!(store.room_by_id("r-broken").await.unwrap(), Some(broken));
}

pub async fn list_rooms(store: DynStore) {
    // (id, type, name, ts, usersCount, msgs)
    let specs = [
        ("r-1", RoomType::Channel, Some("delta"), 4, 10, 7),
        ("r-2", RoomType::Channel, Some("Alpha"), 2, 30, 5),
        ("r-3", RoomType::Group, Some("charlie"), 1, 20, 9),
        ("r-4", RoomType::Group, Some("bravo_x"), 3, 40, 1),
        ("r-5", RoomType::Direct, None, 5, 2, 3),
        ("r-6", RoomType::Channel, Some("echo.a"), 6, 5, 0),
    ];
    for (id, t, name, ts, users, msgs) in specs {
        let mut r = room(id, t, name, users);
        r.ts = Ts(ts);
        r.msgs = msgs;
        store.create_room(&r, &[]).await.unwrap();
    }
    let list = |types: Vec<RoomType>, filter: Option<&'static str>, key, dir, page| {
        let store = store.clone();
        async move {
            let l = store
                .list_rooms(&types, filter, Sort { key, dir }, page)
                .await
                .unwrap();
            (ids(&l.items, |r| r.id.as_str()), l.total)
        }
    };
    use Direction::{Asc, Desc};
    use RoomType::{Channel, Direct, Group};
    let all = Page::new(0, 50);
    let named = || vec![Channel, Group];

    assert_eq!(
        list(named(), None, SortKey::Name, Asc, all).await,
        (
            vec![
                "r-2".into(),
                "r-4".into(),
                "r-3".into(),
                "r-1".into(),
                "r-6".into()
            ],
            5
        )
    );
    assert_eq!(
        list(named(), None, SortKey::Name, Desc, all).await.0,
        ["r-6", "r-1", "r-3", "r-4", "r-2"]
    );
    assert_eq!(
        list(vec![Channel], None, SortKey::Name, Asc, all).await,
        (vec!["r-2".into(), "r-1".into(), "r-6".into()], 3)
    );
    assert_eq!(
        list(vec![Direct], None, SortKey::Ts, Asc, all).await,
        (vec!["r-5".into()], 1)
    );
    assert_eq!(list(vec![], None, SortKey::Ts, Asc, all).await, (vec![], 0));
    let everything = || vec![Channel, Group, Direct];
    assert_eq!(
        list(everything(), None, SortKey::Ts, Asc, all).await.0,
        ["r-3", "r-2", "r-4", "r-1", "r-5", "r-6"]
    );
    assert_eq!(
        list(everything(), None, SortKey::Ts, Desc, all).await.0,
        ["r-6", "r-5", "r-1", "r-4", "r-2", "r-3"]
    );
    assert_eq!(
        list(everything(), None, SortKey::UsersCount, Desc, all)
            .await
            .0,
        ["r-4", "r-2", "r-3", "r-1", "r-6", "r-5"]
    );
    assert_eq!(
        list(everything(), None, SortKey::Msgs, Asc, all).await.0,
        ["r-6", "r-4", "r-5", "r-2", "r-1", "r-3"]
    );
    // Pages keep the total.
    assert_eq!(
        list(everything(), None, SortKey::Msgs, Asc, Page::new(2, 2)).await,
        (vec!["r-5".into(), "r-2".into()], 6)
    );
    assert_eq!(
        list(everything(), None, SortKey::Msgs, Asc, Page::new(0, 0)).await,
        (vec![], 6)
    );
    // Filters: case-insensitive name substring; metacharacters are literal.
    assert_eq!(
        list(everything(), Some("A"), SortKey::Name, Asc, all).await,
        (
            vec![
                "r-2".into(),
                "r-4".into(),
                "r-3".into(),
                "r-1".into(),
                "r-6".into()
            ],
            5
        )
    );
    assert_eq!(
        list(everything(), Some("HA"), SortKey::Name, Asc, all).await,
        (vec!["r-2".into(), "r-3".into()], 2)
    );
    assert_eq!(
        list(vec![Channel], Some("HA"), SortKey::Name, Asc, all).await,
        (vec!["r-2".into()], 1)
    );
    assert_eq!(
        list(everything(), Some("."), SortKey::Name, Asc, all)
            .await
            .0,
        ["r-6"]
    );
    assert_eq!(
        list(everything(), Some("_"), SortKey::Name, Asc, all)
            .await
            .0,
        ["r-4"]
    );
    assert_eq!(
        list(everything(), Some("a.*"), SortKey::Name, Asc, all).await,
        (vec![], 0)
    );
}

pub async fn list_rooms_by_display_names(store: DynStore) {
    // (id, type, name, display name)
    let specs = [
        ("d-1", RoomType::Group, "Ellinika-talk", "Ελληνικά talk"),
        ("d-2", RoomType::Group, "x7Gq2", "Ellinika-talk-discussion"),
        ("d-3", RoomType::Channel, "plain", "Plain"),
        ("d-4", RoomType::Direct, "dm", "Ελληνικά dm"),
    ];
    for (id, t, name, fname) in specs {
        let mut r = room(id, t, Some(name), 1);
        r.fname = Some(fname.into());
        store.create_room(&r, &[]).await.unwrap();
    }
    let sort = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let all = Page::new(0, 50);
    let types = [RoomType::Channel, RoomType::Group];
    let find = |term: &'static str, display_names: bool| {
        let store = store.clone();
        async move {
            let l = store
                .list_rooms_matching(
                    &types,
                    Some(RoomMatch {
                        term,
                        display_names,
                    }),
                    sort,
                    all,
                )
                .await
                .unwrap();
            let mut found = ids(&l.items, |r| r.id.as_str());
            found.sort();
            (found, l.total)
        }
    };
    // Names only.
    assert_eq!(find("ellinika-talk", false).await, (vec!["d-1".into()], 1));
    assert_eq!(find("ελληνικά", false).await, (vec![], 0));
    // Names or display names, case folded beyond ASCII for terms an index holds.
    assert_eq!(
        find("ellinika-talk", true).await,
        (vec!["d-1".into(), "d-2".into()], 2)
    );
    assert_eq!(find("ΕΛΛΗΝΙΚΆ TALK", true).await, (vec!["d-1".into()], 1));
    assert_eq!(find("PLAIN", true).await, (vec!["d-3".into()], 1));
    // A short term walks the listing, display names too (ASCII case folded).
    assert_eq!(find("PL", true).await.0, ["d-3"]);
    // The types still hold: the DM's display name is not searched.
    assert_eq!(find("dm", true).await.0, Vec::<String>::new());
    // The plain listing is the names-only one.
    let plain = store
        .list_rooms(&types, Some("talk"), sort, all)
        .await
        .unwrap();
    assert_eq!(ids(&plain.items, |r| r.id.as_str()), ["d-1"]);
}

pub async fn subscriptions(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "Bob", None);
    let carol = user("u-carol", "carol", None);
    let general = channel("r-general", "general", 1);
    let random = channel("r-random", "random", 0);
    store
        .create_room(&general, &[sub(&general, &carol, Ts(1_000))])
        .await
        .unwrap();
    store.create_room(&random, &[]).await.unwrap();

    // Adding bumps usersCount; adding again does not.
    let bob_sub = sub(&general, &bob, Ts(2_000));
    assert!(store.add_subscription(&bob_sub).await.unwrap());
    let alice_sub = sub(&general, &alice, Ts(3_000));
    assert!(store.add_subscription(&alice_sub).await.unwrap());
    let mut again = sub(&general, &alice, Ts(4_000));
    again.id = "s-other-id".into();
    assert!(!store.add_subscription(&again).await.unwrap());
    assert!(!store.add_subscription(&alice_sub).await.unwrap());
    let room = store.room_by_id("r-general").await.unwrap().unwrap();
    assert_eq!(room.users_count, 3);
    assert_eq!(
        store.subscription("r-general", "u-alice").await.unwrap(),
        Some(alice_sub.clone())
    );
    // A subscription id that is taken (for another room or user) is a conflict.
    let mut taken = sub(&random, &alice, Ts(1));
    taken.id = alice_sub.id.clone();
    assert_conflict(store.add_subscription(&taken).await, "id");
    assert_eq!(
        store.subscription("r-random", "u-alice").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .room_by_id("r-random")
            .await
            .unwrap()
            .unwrap()
            .users_count,
        0
    );
    let alice_random = sub(&random, &alice, Ts(500));
    assert!(store.add_subscription(&alice_random).await.unwrap());

    // A user's subscriptions, all or updated after a time.
    let mut mine = store.user_subscriptions("u-alice", None).await.unwrap();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(mine, vec![alice_sub.clone(), alice_random.clone()]);
    assert_eq!(
        store
            .user_subscriptions("u-alice", Some(Ts(1_000)))
            .await
            .unwrap(),
        vec![alice_sub.clone()]
    );
    assert!(store
        .user_subscriptions("u-alice", Some(Ts(3_000)))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .user_subscriptions("u-nobody", None)
        .await
        .unwrap()
        .is_empty());

    // Members by username (case-insensitive), paged, with the total.
    let members = store
        .room_subscriptions("r-general", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(members.total, 3);
    assert_eq!(
        ids(&members.items, |s| s.u.username.as_str()),
        ["alice", "Bob", "carol"]
    );
    let members = store
        .room_subscriptions("r-general", Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(
        (ids(&members.items, |s| s.u.id.as_str()), members.total),
        (vec!["u-bob".to_string()], 3)
    );
    let members = store
        .room_subscriptions("r-general", Page::new(0, 0))
        .await
        .unwrap();
    assert_eq!((members.items.len(), members.total), (0, 3));
    let members = store
        .room_subscriptions("r-none", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((members.items.len(), members.total), (0, 0));

    // Unread state: posts raise it, mark_read resets it.
    let m = message("m-1", "r-general", &bob, 5_000, "hi @alice @all");
    let effects = PostEffects {
        mentioned_user_ids: vec!["u-alice".into()],
        group_mention: true,
        ..Default::default()
    };
    store.insert_message(&m, &effects).await.unwrap();
    let s = store
        .subscription("r-general", "u-alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.unread, s.alert, s.user_mentions, s.group_mentions),
        (1, true, 1, 1)
    );
    assert!(store
        .mark_read("r-general", "u-alice", Ts(6_000), false)
        .await
        .unwrap());
    let s = store
        .subscription("r-general", "u-alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.unread, s.alert, s.user_mentions, s.group_mentions, s.ls),
        (0, false, 0, 0, Some(Ts(6_000)))
    );
    assert_eq!(s.updated_at, Ts(6_000));
    assert_eq!(
        store
            .user_subscriptions("u-alice", Some(Ts(5_500)))
            .await
            .unwrap(),
        vec![s.clone()],
        "marking read counts as an update"
    );
    // Carol's unread is untouched by Alice's mark_read.
    let c = store
        .subscription("r-general", "u-carol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.unread, c.alert, c.group_mentions), (1, true, 1));
    assert!(!store
        .mark_read("r-general", "u-nobody", Ts(6_000), false)
        .await
        .unwrap());
    assert!(!store
        .mark_read("r-none", "u-alice", Ts(6_000), false)
        .await
        .unwrap());

    // open flag.
    let before = Ts::now();
    assert!(store
        .set_subscription_open("r-general", "u-alice", false)
        .await
        .unwrap());
    let s = store
        .subscription("r-general", "u-alice")
        .await
        .unwrap()
        .unwrap();
    assert!(!s.open);
    assert!(s.updated_at >= before, "open changes count as an update");
    assert!(store
        .set_subscription_open("r-general", "u-alice", true)
        .await
        .unwrap());
    assert!(
        store
            .subscription("r-general", "u-alice")
            .await
            .unwrap()
            .unwrap()
            .open
    );
    assert!(!store
        .set_subscription_open("r-general", "u-nobody", true)
        .await
        .unwrap());
}

pub async fn remove_subscriptions(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let general = channel("r-general", "general", 2);
    let subs = [sub(&general, &alice, Ts(1)), sub(&general, &bob, Ts(1))];
    store.create_room(&general, &subs).await.unwrap();

    let before = Ts::now();
    assert!(store
        .remove_subscription("r-general", "u-bob")
        .await
        .unwrap());
    assert!(!store
        .remove_subscription("r-general", "u-bob")
        .await
        .unwrap());
    assert!(!store
        .remove_subscription("r-none", "u-alice")
        .await
        .unwrap());
    assert_eq!(
        store.subscription("r-general", "u-bob").await.unwrap(),
        None
    );
    let room = store.room_by_id("r-general").await.unwrap().unwrap();
    assert_eq!(room.users_count, 1);

    // The removal is recorded for clients that sync.
    let removed = store
        .removed_subscriptions("u-bob", Ts(before.0 - 1))
        .await
        .unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].id, subs[1].id);
    assert_eq!(removed[0].rid, "r-general");
    assert!(removed[0].deleted_at >= before);
    assert!(store
        .removed_subscriptions("u-bob", removed[0].deleted_at)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .removed_subscriptions("u-alice", Ts(0))
        .await
        .unwrap()
        .is_empty());
    let members = store
        .room_subscriptions("r-general", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(members.total, 1);

    // usersCount never goes below zero.
    assert!(store
        .remove_subscription("r-general", "u-alice")
        .await
        .unwrap());
    let mut zero = channel("r-zero", "zero", 0);
    zero.users_count = 0;
    store
        .create_room(&zero, &[sub(&zero, &alice, Ts(1))])
        .await
        .unwrap();
    assert!(store
        .remove_subscription("r-zero", "u-alice")
        .await
        .unwrap());
    assert_eq!(
        store
            .room_by_id("r-zero")
            .await
            .unwrap()
            .unwrap()
            .users_count,
        0
    );
    assert_eq!(
        store
            .room_by_id("r-general")
            .await
            .unwrap()
            .unwrap()
            .users_count,
        0
    );

    // Joining again works.
    assert!(store.add_subscription(&subs[1]).await.unwrap());
    assert_eq!(
        store
            .room_by_id("r-general")
            .await
            .unwrap()
            .unwrap()
            .users_count,
        1
    );
}

pub async fn delete_room(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let doomed = channel("r-doomed", "doomed", 2);
    let other = channel("r-other", "other", 1);
    let doomed_subs = [sub(&doomed, &alice, Ts(1)), sub(&doomed, &bob, Ts(1))];
    store.create_room(&doomed, &doomed_subs).await.unwrap();
    store
        .create_room(&other, &[sub(&other, &alice, Ts(1))])
        .await
        .unwrap();
    let fx = PostEffects::default();
    for i in 0..5 {
        let m = message(&format!("m-{i}"), "r-doomed", &alice, 1_000 + i, "x");
        store.insert_message(&m, &fx).await.unwrap();
    }
    let kept = message("m-kept", "r-other", &alice, 1_000, "stays");
    store.insert_message(&kept, &fx).await.unwrap();

    let before = Ts::now();
    assert!(store.delete_room("r-doomed").await.unwrap());
    assert!(!store.delete_room("r-doomed").await.unwrap());
    assert!(!store.delete_room("r-none").await.unwrap());

    assert_eq!(store.room_by_id("r-doomed").await.unwrap(), None);
    assert_eq!(store.room_by_name("doomed").await.unwrap(), None);
    assert_eq!(store.message("m-0").await.unwrap(), None);
    let history = store
        .history(
            "r-doomed",
            &HistoryQuery {
                count: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(history.is_empty());
    assert_eq!(
        store.subscription("r-doomed", "u-alice").await.unwrap(),
        None
    );
    let members = store
        .room_subscriptions("r-doomed", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(members.total, 0);
    for (uid, s) in [("u-alice", &doomed_subs[0]), ("u-bob", &doomed_subs[1])] {
        let removed = store
            .removed_subscriptions(uid, Ts(before.0 - 1))
            .await
            .unwrap();
        assert_eq!(
            ids(&removed, |r| r.id.as_str()),
            [s.id.as_str()],
            "tombstone of {uid}"
        );
        assert_eq!(removed[0].rid, "r-doomed");
    }
    // Other rooms are untouched.
    assert_eq!(store.message("m-kept").await.unwrap(), Some(kept));
    assert!(store
        .subscription("r-other", "u-alice")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        ids(
            &store.user_subscriptions("u-alice", None).await.unwrap(),
            |s| s.rid.as_str()
        ),
        ["r-other"]
    );
    // The name can be used again.
    store
        .create_room(&channel("r-again", "DOOMED", 0), &[])
        .await
        .unwrap();
}

/// `update_room_settings` writes every setting (type and name included, the name
/// unique) and leaves counters alone; `patch_subscriptions` changes the fields it
/// names, for one member or for all.
pub async fn room_settings(store: DynStore) {
    use palaver_server::store::SubscriptionPatch;
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let general = channel("r-general", "general", 2);
    let subs = [
        sub(&general, &alice, Ts(1_000)),
        sub(&general, &bob, Ts(1_000)),
    ];
    store.create_room(&general, &subs).await.unwrap();
    store
        .create_room(&channel("r-other", "other", 0), &[])
        .await
        .unwrap();
    let mut changed = general.clone();
    changed.t = RoomType::Group;
    changed.name = Some("secret".into());
    changed.fname = Some("secret".into());
    changed.announcement = Some("read this".into());
    changed.archived = true;
    changed.react_when_read_only = true;
    changed.custom_fields = Some(serde_json::json!({"team": "core"}));
    changed.join_code = Some("1234".into());
    changed.join_code_required = true;
    changed.avatar_etag = Some("etag-r".into());
    changed.avatar_file_id = Some("f-room-avatar".into());
    changed.updated_at = Ts(5_000);
    changed.users_count = 99;
    // A team's auto-join room.
    changed.extra.team_id = Some("t-1".into());
    changed.extra.team_default = true;
    changed.extra.sidepanel = Some(Sidepanel {
        items: vec![SidepanelItem::Discussions, SidepanelItem::Channels],
    });
    store.update_room_settings(&changed).await.unwrap();
    let team_rooms = store.team_rooms("t-1", Page::new(0, 10)).await.unwrap();
    assert_eq!(
        team_rooms
            .items
            .iter()
            .map(|r| (r.id.as_str(), r.extra.team_default))
            .collect::<Vec<_>>(),
        vec![("r-general", true)]
    );
    let after = store.room_by_id("r-general").await.unwrap().unwrap();
    assert_eq!(
        after,
        Room {
            users_count: 2,
            ..changed.clone()
        }
    );
    assert_eq!(
        store.room_by_name("SECRET").await.unwrap().map(|r| r.id),
        Some("r-general".to_string())
    );
    assert_eq!(store.room_by_name("general").await.unwrap(), None);
    let groups = store
        .list_rooms(
            &[RoomType::Group],
            None,
            Sort {
                key: SortKey::Name,
                dir: Direction::Asc,
            },
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(ids(&groups.items, |r| &r.id), ["r-general"]);
    // Clearing optional settings removes them.
    let mut cleared = after.clone();
    cleared.announcement = None;
    cleared.custom_fields = None;
    cleared.join_code = None;
    cleared.join_code_required = false;
    cleared.archived = false;
    cleared.avatar_etag = None;
    cleared.avatar_file_id = None;
    cleared.extra.team_default = false;
    cleared.extra.sidepanel = None;
    store.update_room_settings(&cleared).await.unwrap();
    assert_eq!(store.room_by_id("r-general").await.unwrap(), Some(cleared));
    // Renaming onto another room's name is a conflict.
    let mut clash = channel("r-other", "secret", 0);
    clash.updated_at = Ts(6_000);
    assert_conflict(store.update_room_settings(&clash).await, "room name");

    let all = SubscriptionPatch {
        name: Some("secret".into()),
        fname: Some("secret".into()),
        t: Some(RoomType::Group),
        archived: Some(true),
        open: Some(false),
        ..Default::default()
    };
    assert_eq!(
        store
            .patch_subscriptions("r-general", None, &all)
            .await
            .unwrap(),
        2
    );
    let one = SubscriptionPatch {
        f: Some(true),
        unread: Some(3),
        alert: Some(true),
        ls: Some(Ts(2_000)),
        ..Default::default()
    };
    assert_eq!(
        store
            .patch_subscriptions("r-general", Some("u-bob"), &one)
            .await
            .unwrap(),
        1
    );
    let a = store
        .subscription("r-general", "u-alice")
        .await
        .unwrap()
        .unwrap();
    let b = store
        .subscription("r-general", "u-bob")
        .await
        .unwrap()
        .unwrap();
    for s in [&a, &b] {
        assert_eq!(s.name, "secret");
        assert_eq!(s.fname.as_deref(), Some("secret"));
        assert_eq!(s.t, RoomType::Group);
        assert!(s.archived && !s.open);
        assert!(s.updated_at > Ts(1_000));
    }
    assert!(!a.f && a.unread == 0 && !a.alert);
    assert!(b.f && b.unread == 3 && b.alert && b.ls == Some(Ts(2_000)));
    assert_eq!(
        store
            .patch_subscriptions("r-general", Some("u-nobody"), &one)
            .await
            .unwrap(),
        0
    );
    // Notification preferences: set by name, `null` removes one.
    let prefs = SubscriptionPatch {
        notify: vec![
            ("emailNotifications", serde_json::json!("nothing")),
            ("desktopNotifications", serde_json::json!("all")),
            ("muteGroupMentions", serde_json::json!(true)),
        ],
        ..Default::default()
    };
    store
        .patch_subscriptions("r-general", Some("u-bob"), &prefs)
        .await
        .unwrap();
    let b = store
        .subscription("r-general", "u-bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.notify.email.as_deref(), Some("nothing"));
    assert_eq!(b.notify.desktop.as_deref(), Some("all"));
    assert!(b.notify.mute_group_mentions);
    let unset = SubscriptionPatch {
        notify: vec![("desktopNotifications", serde_json::Value::Null)],
        ..Default::default()
    };
    store
        .patch_subscriptions("r-general", Some("u-bob"), &unset)
        .await
        .unwrap();
    let b = store
        .subscription("r-general", "u-bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.notify.desktop, None);
    assert_eq!(b.notify.email.as_deref(), Some("nothing"), "others kept");
    let a = store
        .subscription("r-general", "u-alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.notify, Default::default(), "only bob's");
}
