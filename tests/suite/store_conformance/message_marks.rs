//! Pins, stars, thread follows and the filtered listings of a room; changes since
//! a time and tombstones of deleted messages; full-text search.

use palaver_server::store::{DynStore, MessageFilter, Page, PostEffects, SyncScope, Ts};

use super::{channel, ids, message, reply, sub, uref, user};

/// A channel `r-1` with alice and bob, and an empty second channel `r-2`.
async fn world(store: &DynStore) -> (palaver_server::store::User, palaver_server::store::User) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let room = channel("r-1", "general", 2);
    let subs = vec![sub(&room, &alice, Ts(1_000)), sub(&room, &bob, Ts(1_000))];
    store.create_room(&room, &subs).await.unwrap();
    let other = channel("r-2", "other", 1);
    store
        .create_room(&other, &[sub(&other, &alice, Ts(1_000))])
        .await
        .unwrap();
    (alice, bob)
}

fn listed(l: &palaver_server::store::Listing<palaver_server::store::Message>) -> Vec<String> {
    ids(&l.items, |m| &m.id)
}

pub async fn pins_and_stars(store: DynStore) {
    let (alice, bob) = world(&store).await;
    let fx = PostEffects::default();
    for (i, id) in ["m-1", "m-2", "m-3"].iter().enumerate() {
        let m = message(id, "r-1", &alice, 2_000 + i as i64, "text");
        store.insert_message(&m, &fx).await.unwrap();
    }
    let elsewhere = message("m-x", "r-2", &alice, 2_500, "elsewhere");
    store.insert_message(&elsewhere, &fx).await.unwrap();

    // Pinning records who and when, and bumps the change time.
    let by = uref(&bob);
    let pinned = store
        .set_pinned("m-1", Some(&by), Ts(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pinned.marks.pinned, Some(true));
    assert_eq!(pinned.marks.pinned_at, Some(Ts(5_000)));
    assert_eq!(
        pinned.marks.pinned_by.as_ref().map(|u| u.id.as_str()),
        Some("u-bob")
    );
    assert_eq!(pinned.updated_at, Ts(5_000));
    store.set_pinned("m-3", Some(&by), Ts(5_001)).await.unwrap();
    store.set_pinned("m-x", Some(&by), Ts(5_002)).await.unwrap();
    let l = store
        .room_messages("r-1", &MessageFilter::Pinned, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["m-3".into(), "m-1".into()], 2));
    let l = store
        .room_messages("r-1", &MessageFilter::Pinned, Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["m-1".to_string()], 2));

    // An edit keeps the marks.
    let mut edited = store.message("m-1").await.unwrap().unwrap();
    edited.msg = "changed".into();
    edited.marks = Default::default();
    assert!(store.update_message(&edited).await.unwrap());
    let after = store.message("m-1").await.unwrap().unwrap();
    assert_eq!(
        (after.msg.as_str(), after.marks.pinned),
        ("changed", Some(true))
    );

    // Unpinning leaves it out of the listing.
    let unpinned = store
        .set_pinned("m-1", None, Ts(6_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unpinned.marks.pinned, Some(false));
    let l = store
        .room_messages("r-1", &MessageFilter::Pinned, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["m-3".to_string()], 1));
    assert!(store
        .set_pinned("nope", Some(&by), Ts(1))
        .await
        .unwrap()
        .is_none());

    // Stars are per user; starring twice is one star.
    store
        .set_starred("m-2", "u-alice", true, Ts(7_000))
        .await
        .unwrap();
    store
        .set_starred("m-2", "u-alice", true, Ts(7_001))
        .await
        .unwrap();
    let m = store
        .set_starred("m-2", "u-bob", true, Ts(7_002))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&m.marks.starred, |s| &s.id), vec!["u-alice", "u-bob"]);
    store
        .set_starred("m-3", "u-bob", true, Ts(7_003))
        .await
        .unwrap();
    let starred = |uid: &str| MessageFilter::StarredBy(uid.to_string());
    let l = store
        .room_messages("r-1", &starred("u-bob"), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["m-3".into(), "m-2".into()], 2));
    let m = store
        .set_starred("m-2", "u-bob", false, Ts(7_004))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&m.marks.starred, |s| &s.id), vec!["u-alice"]);
    let l = store
        .room_messages("r-1", &starred("u-bob"), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listed(&l), vec!["m-3".to_string()]);
    let l = store
        .room_messages("r-1", &starred("u-alice"), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listed(&l), vec!["m-2".to_string()]);
    store
        .set_starred("m-2", "u-alice", false, Ts(7_005))
        .await
        .unwrap();
    let m = store.message("m-2").await.unwrap().unwrap();
    assert!(m.marks.starred.is_empty());

    // Mentions: only messages naming the user.
    let mut mention = message("m-4", "r-1", &alice, 8_000, "hi @bob");
    mention.mentions = vec![uref(&bob)];
    store.insert_message(&mention, &fx).await.unwrap();
    let l = store
        .room_messages(
            "r-1",
            &MessageFilter::Mentioning("u-bob".into()),
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["m-4".to_string()], 1));
    let l = store
        .room_messages(
            "r-1",
            &MessageFilter::Mentioning("u-alice".into()),
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(l.total, 0);
}

pub async fn thread_lists(store: DynStore) {
    let (alice, bob) = world(&store).await;
    let fx = PostEffects::default();
    let p1 = message("p-1", "r-1", &alice, 2_000, "Message to create thread");
    let p2 = message("p-2", "r-1", &bob, 2_100, "another question");
    let plain = message("m-plain", "r-1", &alice, 2_200, "Message without thread");
    for m in [&p1, &p2, &plain] {
        store.insert_message(m, &fx).await.unwrap();
    }
    store
        .insert_message(&reply("r-a", &p1, &bob, 3_000, "a"), &fx)
        .await
        .unwrap();
    store
        .insert_message(&reply("r-b", &p2, &alice, 4_000, "b"), &fx)
        .await
        .unwrap();
    let threads = |text: Option<&str>, follower: Option<&str>| MessageFilter::Threads {
        text: text.map(str::to_string),
        follower: follower.map(str::to_string),
        ids: None,
    };
    // Latest reply first; plain messages are not threads.
    let l = store
        .room_messages("r-1", &threads(None, None), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((listed(&l), l.total), (vec!["p-2".into(), "p-1".into()], 2));
    // Text: a case-insensitive substring, a space too.
    for text in ["MESSAGE", "create", "m", " ", "Message to create thread"] {
        let l = store
            .room_messages("r-1", &threads(Some(text), None), Page::new(0, 10))
            .await
            .unwrap();
        let want: Vec<String> = if text == " " {
            vec!["p-2".into(), "p-1".into()]
        } else {
            vec!["p-1".into()]
        };
        assert_eq!(listed(&l), want, "text {text:?}");
        assert_eq!(l.total, want.len() as u64);
    }
    let l = store
        .room_messages("r-1", &threads(Some("missing"), None), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(l.total, 0);
    // Following: the repliers, and whoever follows.
    let l = store
        .room_messages("r-1", &threads(None, Some("u-alice")), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listed(&l), vec!["p-2".to_string()]);
    store
        .set_thread_follower("p-1", "u-alice", true, Ts(9_000))
        .await
        .unwrap();
    let l = store
        .room_messages("r-1", &threads(None, Some("u-alice")), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listed(&l), vec!["p-2".to_string(), "p-1".to_string()]);
    let p = store
        .set_thread_follower("p-1", "u-bob", false, Ts(9_001))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.replies, Some(vec!["u-alice".to_string()]));
    // Only some ids.
    let only = MessageFilter::Threads {
        text: None,
        follower: None,
        ids: Some(vec!["p-1".into()]),
    };
    let l = store
        .room_messages("r-1", &only, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listed(&l), vec!["p-1".to_string()]);
    let none = MessageFilter::Threads {
        text: None,
        follower: None,
        ids: Some(Vec::new()),
    };
    assert_eq!(
        store
            .room_messages("r-1", &none, Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn changes_and_tombstones(store: DynStore) {
    let (alice, bob) = world(&store).await;
    let fx = PostEffects::default();
    let parent = message("p-1", "r-1", &alice, 2_000, "parent");
    let m2 = message("m-2", "r-1", &alice, 2_100, "two");
    let x = message("m-x", "r-2", &alice, 2_200, "elsewhere");
    for m in [&parent, &m2, &x] {
        store.insert_message(m, &fx).await.unwrap();
    }
    store
        .insert_message(&reply("r-1a", &parent, &bob, 3_000, "a"), &fx)
        .await
        .unwrap();
    store
        .insert_message(&reply("r-1b", &parent, &bob, 3_100, "b"), &fx)
        .await
        .unwrap();

    // Changed since: posts, and the parent its replies changed.
    let changed = store
        .messages_changed_since(&SyncScope::Room("r-1".into()), Ts(2_050), 100)
        .await
        .unwrap();
    let mut got = ids(&changed, |m| &m.id);
    got.sort();
    assert_eq!(got, vec!["m-2", "p-1", "r-1a", "r-1b"]);
    let changed = store
        .messages_changed_since(&SyncScope::Room("r-1".into()), Ts(2_050), 2)
        .await
        .unwrap();
    assert_eq!(changed.len(), 2, "the limit holds");
    let threads = store
        .messages_changed_since(&SyncScope::Threads("r-1".into()), Ts(0), 100)
        .await
        .unwrap();
    assert_eq!(ids(&threads, |m| &m.id), vec!["p-1"]);
    let in_thread = store
        .messages_changed_since(&SyncScope::Thread("p-1".into()), Ts(3_050), 100)
        .await
        .unwrap();
    assert_eq!(ids(&in_thread, |m| &m.id), vec!["r-1b"]);

    // Deleting leaves a tombstone, by room and by thread.
    let before = Ts::now();
    assert!(store.delete_message("r-1a").await.unwrap());
    assert!(store.delete_message("m-2").await.unwrap());
    assert!(store.delete_message("m-x").await.unwrap());
    let gone = store
        .deleted_messages(
            &SyncScope::Room("r-1".into()),
            Ts(before.0 - 1),
            Page::new(0, 10),
        )
        .await
        .unwrap();
    let mut got = ids(&gone.items, |t| &t.id);
    got.sort();
    assert_eq!(
        (got, gone.total),
        (vec!["m-2".to_string(), "r-1a".to_string()], 2)
    );
    assert!(gone
        .items
        .iter()
        .all(|t| t.rid == "r-1" && t.deleted_at >= before));
    let paged = store
        .deleted_messages(&SyncScope::Room("r-1".into()), Ts(0), Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!((paged.items.len(), paged.total), (1, 2));
    let later = store
        .deleted_messages(
            &SyncScope::Room("r-1".into()),
            Ts(Ts::now().0 + 60_000),
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(later.total, 0);
    let thread = store
        .deleted_messages(&SyncScope::Thread("p-1".into()), Ts(0), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&thread.items, |t| &t.id), vec!["r-1a"]);
    assert_eq!(thread.items[0].tmid.as_deref(), Some("p-1"));
    // A deleted thread parent shows among the room's removed threads.
    assert_eq!(
        store
            .deleted_messages(&SyncScope::Threads("r-1".into()), Ts(0), Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );
    assert!(store.delete_message("p-1").await.unwrap());
    let threads = store
        .deleted_messages(&SyncScope::Threads("r-1".into()), Ts(0), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&threads.items, |t| &t.id), vec!["p-1"]);
    assert!(threads.items[0].was_thread);
}

pub async fn search(store: DynStore) {
    let (alice, _) = world(&store).await;
    let fx = PostEffects::default();
    let texts = [
        ("s-1", 2_000, "Deploy the release tonight"),
        ("s-2", 2_100, "release notes are ready"),
        ("s-3", 2_200, "nothing to see"),
        ("s-4", 2_300, "RELEASE, deploy!"),
    ];
    for (id, ts, text) in texts {
        store
            .insert_message(&message(id, "r-1", &alice, ts, text), &fx)
            .await
            .unwrap();
    }
    store
        .insert_message(
            &message("s-x", "r-2", &alice, 2_400, "release elsewhere"),
            &fx,
        )
        .await
        .unwrap();
    let words = |ws: &[&str]| ws.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let found = store
        .search_messages("r-1", &words(&["release"]), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(
        ids(&found, |m| &m.id),
        vec!["s-4", "s-2", "s-1"],
        "newest first, this room only"
    );
    let found = store
        .search_messages("r-1", &words(&["release", "deploy"]), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&found, |m| &m.id), vec!["s-4", "s-1"], "every word");
    let found = store
        .search_messages("r-1", &words(&["release"]), Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(ids(&found, |m| &m.id), vec!["s-2"]);
    assert!(
        store
            .search_messages("r-1", &words(&["releas"]), Page::new(0, 10))
            .await
            .unwrap()
            .is_empty(),
        "whole words"
    );
    // Edits and deletes keep the index in step.
    let mut m = store.message("s-3").await.unwrap().unwrap();
    m.msg = "a release after all".into();
    store.update_message(&m).await.unwrap();
    store.delete_message("s-2").await.unwrap();
    let found = store
        .search_messages("r-1", &words(&["release"]), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&found, |m| &m.id), vec!["s-4", "s-3", "s-1"]);
}
