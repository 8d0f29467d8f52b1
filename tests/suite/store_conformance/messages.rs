//! Messages: the post path and its effects, threads, edits, reactions, deletes,
//! history, and concurrent posts.

use std::collections::{BTreeMap, BTreeSet};

use palaver_server::store::{
    DynStore, HistoryQuery, Message, Page, PostEffects, Reaction, Room, Subscription, Ts, User,
};
use serde_json::json;

use super::{assert_conflict, channel, ids, message, reply, sub, uref, user};

struct World {
    alice: User,
    bob: User,
    carol: User,
}

/// A channel with alice, bob and carol, their subscriptions last updated at 1000.
async fn world(store: &DynStore) -> World {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let carol = user("u-carol", "carol", None);
    let room = channel("r-1", "general", 3);
    let subs: Vec<Subscription> = [&alice, &bob, &carol]
        .iter()
        .map(|u| sub(&room, u, Ts(1_000)))
        .collect();
    store.create_room(&room, &subs).await.unwrap();
    World { alice, bob, carol }
}

async fn sub_of(store: &DynStore, rid: &str, uid: &str) -> Subscription {
    store.subscription(rid, uid).await.unwrap().unwrap()
}

async fn room_of(store: &DynStore, rid: &str) -> Room {
    store.room_by_id(rid).await.unwrap().unwrap()
}

async fn get(store: &DynStore, id: &str) -> Message {
    store.message(id).await.unwrap().unwrap()
}

/// (unread, alert, userMentions, groupMentions) of a subscription.
async fn counters(store: &DynStore, rid: &str, uid: &str) -> (i64, bool, i64, i64) {
    let s = sub_of(store, rid, uid).await;
    (s.unread, s.alert, s.user_mentions, s.group_mentions)
}

pub async fn post_effects(store: DynStore) {
    let w = world(&store).await;
    // A message with every optional field round-trips.
    let mut m1 = message("m-1", "r-1", &w.alice, 2_000, "hi @bob");
    m1.alias = Some("Al".into());
    m1.emoji = Some(":robot:".into());
    m1.avatar = Some("https://example.com/a.png".into());
    m1.attachments = vec![json!({ "title": "t", "fields": [{ "short": true, "n": 3 }] })];
    m1.bot = Some(json!({ "i": "app-1" }));
    m1.mentions = vec![uref(&w.bob)];
    m1.custom_fields = Some(json!({ "k": "v", "n": 1.5 }));
    m1.groupable = Some(false);
    let effects = PostEffects {
        mentioned_user_ids: vec!["u-bob".into(), "u-alice".into()],
        group_mention: false,
        ..Default::default()
    };
    store.insert_message(&m1, &effects).await.unwrap();
    assert_eq!(store.message("m-1").await.unwrap(), Some(m1.clone()));
    assert_eq!(store.message("m-none").await.unwrap(), None);

    let room = room_of(&store, "r-1").await;
    assert_eq!(room.msgs, 1);
    assert_eq!(room.lm, Some(Ts(2_000)));
    assert_eq!(room.last_message.as_deref(), Some(&m1));
    assert_eq!(room.users_count, 3);
    // The sender's own subscription is untouched; mentions count only for others.
    assert_eq!(counters(&store, "r-1", "u-alice").await, (0, false, 0, 0));
    assert_eq!(counters(&store, "r-1", "u-bob").await, (1, true, 1, 0));
    assert_eq!(counters(&store, "r-1", "u-carol").await, (1, true, 0, 0));
    let alice_sub = sub_of(&store, "r-1", "u-alice").await;
    assert_eq!(alice_sub.updated_at, Ts(1_000));
    let bob_sub = sub_of(&store, "r-1", "u-bob").await;
    assert_eq!(
        bob_sub.updated_at,
        Ts(2_000),
        "others' subscriptions are updated"
    );
    assert_eq!(
        store
            .user_subscriptions("u-bob", Some(Ts(1_500)))
            .await
            .unwrap(),
        vec![bob_sub]
    );

    // A hidden DM (open = false) opens again on a new message.
    assert!(store
        .set_subscription_open("r-1", "u-carol", false)
        .await
        .unwrap());
    let m2 = message("m-2", "r-1", &w.bob, 3_000, "@all hello");
    let group = PostEffects {
        mentioned_user_ids: vec![],
        group_mention: true,
        ..Default::default()
    };
    store.insert_message(&m2, &group).await.unwrap();
    assert_eq!(counters(&store, "r-1", "u-alice").await, (1, true, 0, 1));
    assert_eq!(counters(&store, "r-1", "u-bob").await, (1, true, 1, 0));
    assert_eq!(counters(&store, "r-1", "u-carol").await, (2, true, 0, 1));
    assert!(sub_of(&store, "r-1", "u-carol").await.open);
    let room = room_of(&store, "r-1").await;
    assert_eq!((room.msgs, room.lm), (2, Some(Ts(3_000))));
    assert_eq!(room.last_message.as_deref(), Some(&m2));

    // A duplicate id is refused and has no effect.
    let dup = message("m-1", "r-1", &w.carol, 4_000, "again");
    assert_conflict(store.insert_message(&dup, &group).await, "id");
    assert_eq!(get(&store, "m-1").await, m1);
    let room = room_of(&store, "r-1").await;
    assert_eq!((room.msgs, room.lm), (2, Some(Ts(3_000))));
    assert_eq!(counters(&store, "r-1", "u-alice").await, (1, true, 0, 1));

    // Mentions of users who are not members change nothing.
    let m3 = message("m-3", "r-1", &w.carol, 5_000, "@dave");
    let outsider = PostEffects {
        mentioned_user_ids: vec!["u-dave".into()],
        group_mention: false,
        ..Default::default()
    };
    store.insert_message(&m3, &outsider).await.unwrap();
    assert_eq!(store.subscription("r-1", "u-dave").await.unwrap(), None);
    assert_eq!(counters(&store, "r-1", "u-bob").await, (2, true, 1, 0));
    assert_eq!(room_of(&store, "r-1").await.msgs, 3);

    // A system message counts but is not the room's last message, nor is it
    // chosen when the last message goes.
    let mut joined = message("m-sys", "r-1", &w.carol, 6_000, "carol");
    joined.t = Some("uj".into());
    store
        .insert_message(&joined, &PostEffects::default())
        .await
        .unwrap();
    let room = room_of(&store, "r-1").await;
    assert_eq!((room.msgs, room.lm), (4, Some(Ts(5_000))));
    assert_eq!(room.last_message.as_deref(), Some(&m3));
    assert!(store.delete_message("m-3").await.unwrap());
    let room = room_of(&store, "r-1").await;
    assert_eq!(room.last_message.as_deref(), Some(&m2));
}

pub async fn threads(store: DynStore) {
    let w = world(&store).await;
    let fx = PostEffects::default();
    let parent = message("m-p", "r-1", &w.alice, 2_000, "question");
    store.insert_message(&parent, &fx).await.unwrap();
    let r1 = reply("m-r1", &parent, &w.bob, 3_000, "a1");
    store.insert_message(&r1, &fx).await.unwrap();
    let p = get(&store, "m-p").await;
    assert_eq!(
        (p.tcount, p.tlm, p.replies.clone()),
        (Some(1), Some(Ts(3_000)), Some(vec!["u-bob".to_string()]))
    );
    let r2 = reply("m-r2", &parent, &w.carol, 4_000, "a2");
    let r3 = reply("m-r3", &parent, &w.bob, 5_000, "a3");
    store.insert_message(&r2, &fx).await.unwrap();
    store.insert_message(&r3, &fx).await.unwrap();
    let p = get(&store, "m-p").await;
    assert_eq!(p.tcount, Some(3));
    assert_eq!(p.tlm, Some(Ts(5_000)));
    assert_eq!(
        p.replies,
        Some(vec!["u-bob".to_string(), "u-carol".to_string()]),
        "each replier once, in order of first reply"
    );
    // Replies count as room messages too.
    let room = room_of(&store, "r-1").await;
    assert_eq!((room.msgs, room.lm), (4, Some(Ts(5_000))));
    assert_eq!(room.last_message.as_deref(), Some(&r3));
    assert_eq!(get(&store, "m-r1").await, r1);

    // Another thread stays separate.
    let other = message("m-q", "r-1", &w.carol, 6_000, "other");
    store.insert_message(&other, &fx).await.unwrap();
    let o1 = reply("m-o1", &other, &w.alice, 7_000, "b1");
    store.insert_message(&o1, &fx).await.unwrap();

    // Thread messages: oldest first, paged; the parent's tcount is their total.
    let t = store
        .thread_messages("m-p", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(t, vec![r1.clone(), r2.clone(), r3.clone()]);
    let t = store.thread_messages("m-p", Page::new(1, 1)).await.unwrap();
    assert_eq!(ids(&t, |m| m.id.as_str()), vec!["m-r2".to_string()]);
    let t = store.thread_messages("m-p", Page::new(0, 0)).await.unwrap();
    assert!(t.is_empty());
    let t = store
        .thread_messages("m-q", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(t, vec![o1]);
    let t = store
        .thread_messages("m-none", Page::new(0, 10))
        .await
        .unwrap();
    assert!(t.is_empty());

    // A reply's post returns its parent as stored after it; other posts return none.
    let r4 = reply("m-r4", &parent, &w.carol, 8_000, "a4");
    let after = store.insert_message(&r4, &fx).await.unwrap();
    assert_eq!(after, Some(get(&store, "m-p").await));
    assert_eq!(
        after.map(|p| (p.tcount, p.tlm)),
        Some((Some(4), Some(Ts(8_000))))
    );
    let plain = message("m-plain", "r-1", &w.bob, 9_000, "plain");
    assert_eq!(store.insert_message(&plain, &fx).await.unwrap(), None);
}

pub async fn edits(store: DynStore) {
    let w = world(&store).await;
    let fx = PostEffects::default();
    let mut parent = message("m-p", "r-1", &w.alice, 2_000, "question");
    parent.alias = Some("Al".into());
    store.insert_message(&parent, &fx).await.unwrap();
    store
        .insert_message(&reply("m-r1", &parent, &w.bob, 3_000, "a"), &fx)
        .await
        .unwrap();
    store
        .set_reaction("m-p", ":+1:", "bob", true, Ts(3_500))
        .await
        .unwrap();
    let stored = get(&store, "m-p").await;

    // The caller's copy is stale (no thread counters, no reactions).
    let mut edit = parent.clone();
    edit.msg = "question (edited)".into();
    edit.edited_at = Some(Ts(4_000));
    edit.edited_by = Some(uref(&w.alice));
    edit.updated_at = Ts(4_000);
    edit.alias = None;
    edit.attachments = vec![json!({ "text": "added" })];
    assert!(store.update_message(&edit).await.unwrap());
    let after = get(&store, "m-p").await;
    let expected = Message {
        tcount: stored.tcount,
        tlm: stored.tlm,
        replies: stored.replies.clone(),
        reactions: stored.reactions.clone(),
        ..edit.clone()
    };
    assert_eq!(after, expected);
    assert_eq!(after.tcount, Some(1));
    assert_eq!(after.reactions.len(), 1);
    assert_eq!(after.alias, None, "cleared fields are cleared");

    // Editing a reply keeps its own (absent) counters absent.
    let mut r1 = get(&store, "m-r1").await;
    r1.msg = "answer".into();
    r1.tcount = Some(42);
    assert!(store.update_message(&r1).await.unwrap());
    let r1_after = get(&store, "m-r1").await;
    assert_eq!(r1_after.msg, "answer");
    assert_eq!(r1_after.tcount, None);

    // Editing the room's last message updates the room's copy.
    let room = room_of(&store, "r-1").await;
    assert_eq!(room.last_message.as_deref(), Some(&r1_after));
    assert_eq!(room.msgs, 2);

    let ghost = message("m-none", "r-1", &w.alice, 1, "x");
    assert!(!store.update_message(&ghost).await.unwrap());
    assert_eq!(store.message("m-none").await.unwrap(), None);
}

pub async fn reactions(store: DynStore) {
    let w = world(&store).await;
    let m = message("m-1", "r-1", &w.alice, 2_000, "react to me");
    store
        .insert_message(&m, &PostEffects::default())
        .await
        .unwrap();
    let names = |m: &Message, emoji: &str| -> Option<Vec<String>> {
        m.reactions.get(emoji).map(|r| r.usernames.clone())
    };

    let after = store
        .set_reaction("m-1", ":+1:", "alice", true, Ts(3_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":+1:"), Some(vec!["alice".into()]));
    assert_eq!(after.updated_at, Ts(3_000));
    assert_eq!(
        after,
        get(&store, "m-1").await,
        "returns the stored message"
    );
    // Idempotent.
    let after = store
        .set_reaction("m-1", ":+1:", "alice", true, Ts(3_100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":+1:"), Some(vec!["alice".into()]));
    let after = store
        .set_reaction("m-1", ":+1:", "bob", true, Ts(3_200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        names(&after, ":+1:"),
        Some(vec!["alice".into(), "bob".into()])
    );
    let after = store
        .set_reaction("m-1", ":tada:", "carol", true, Ts(3_300))
        .await
        .unwrap()
        .unwrap();
    let expected: BTreeMap<String, Reaction> = [
        (
            ":+1:".to_string(),
            Reaction {
                usernames: vec!["alice".into(), "bob".into()],
            },
        ),
        (
            ":tada:".to_string(),
            Reaction {
                usernames: vec!["carol".into()],
            },
        ),
    ]
    .into();
    assert_eq!(after.reactions, expected);
    // The room's copy of its last message follows.
    let room = room_of(&store, "r-1").await;
    assert_eq!(room.last_message.as_deref(), Some(&after));
    // Everything else is untouched.
    assert_eq!(
        Message {
            reactions: BTreeMap::new(),
            updated_at: m.updated_at,
            ..after.clone()
        },
        m
    );

    // Removing.
    let after = store
        .set_reaction("m-1", ":+1:", "alice", false, Ts(3_400))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":+1:"), Some(vec!["bob".into()]));
    assert_eq!(after.updated_at, Ts(3_400));
    // Removing a reaction one does not have changes nothing.
    let after = store
        .set_reaction("m-1", ":+1:", "alice", false, Ts(3_500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":+1:"), Some(vec!["bob".into()]));
    let after = store
        .set_reaction("m-1", ":nope:", "alice", false, Ts(3_600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":nope:"), None);
    // The last one out removes the emoji.
    let after = store
        .set_reaction("m-1", ":+1:", "bob", false, Ts(3_700))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&after, ":+1:"), None);
    assert_eq!(after.reactions.len(), 1);
    let after = store
        .set_reaction("m-1", ":tada:", "carol", false, Ts(3_800))
        .await
        .unwrap()
        .unwrap();
    assert!(after.reactions.is_empty());
    assert_eq!(after, get(&store, "m-1").await);
    let room = room_of(&store, "r-1").await;
    assert_eq!(
        room.last_message.as_deref(),
        Some(&after),
        "the last one out"
    );

    assert_eq!(
        store
            .set_reaction("m-none", ":+1:", "alice", true, Ts(1))
            .await
            .unwrap(),
        None
    );

    // Reaction names are opaque: dots and dollars are fine.
    for odd in [":a.b:", "$x", ":flag.fr:"] {
        store
            .set_reaction("m-1", ":+1:", "bob", true, Ts(4_000))
            .await
            .unwrap();
        let after = store
            .set_reaction("m-1", odd, "alice", true, Ts(4_100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(&after, odd), Some(vec!["alice".into()]), "{odd}");
        let after = store
            .set_reaction("m-1", odd, "bob", true, Ts(4_200))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(&after, odd), Some(vec!["alice".into(), "bob".into()]));
        assert_eq!(names(&after, ":+1:"), Some(vec!["bob".into()]));
        assert_eq!(after, get(&store, "m-1").await);
        let room = room_of(&store, "r-1").await;
        assert_eq!(room.last_message.as_deref(), Some(&after), "{odd}");
        store
            .set_reaction("m-1", odd, "alice", false, Ts(4_300))
            .await
            .unwrap();
        let after = store
            .set_reaction("m-1", odd, "bob", false, Ts(4_400))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(&after, odd), None, "{odd}");
        let after = store
            .set_reaction("m-1", ":+1:", "bob", false, Ts(4_500))
            .await
            .unwrap()
            .unwrap();
        assert!(after.reactions.is_empty(), "{odd}");
        assert_eq!(after.updated_at, Ts(4_500));
    }
}

pub async fn deletes(store: DynStore) {
    let w = world(&store).await;
    let fx = PostEffects::default();
    let parent = message("m-p", "r-1", &w.alice, 2_000, "question");
    store.insert_message(&parent, &fx).await.unwrap();
    let r1 = reply("m-r1", &parent, &w.bob, 3_000, "a1");
    let r2 = reply("m-r2", &parent, &w.carol, 4_000, "a2");
    store.insert_message(&r1, &fx).await.unwrap();
    store.insert_message(&r2, &fx).await.unwrap();
    let last = message("m-last", "r-1", &w.bob, 5_000, "bye");
    store.insert_message(&last, &fx).await.unwrap();

    // A reply's deletion lowers the parent's tcount.
    assert!(store.delete_message("m-r1").await.unwrap());
    assert!(!store.delete_message("m-r1").await.unwrap());
    assert_eq!(store.message("m-r1").await.unwrap(), None);
    assert_eq!(get(&store, "m-p").await.tcount, Some(1));
    let t = store
        .thread_messages("m-p", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(t, vec![r2.clone()]);
    // Each deletion lowered the room's message count (4 posted, 1 deleted).
    assert_eq!(room_of(&store, "r-1").await.msgs, 3);
    assert!(store.delete_message("m-r2").await.unwrap());
    assert_eq!(get(&store, "m-p").await.tcount, Some(0));

    // Deleting the room's last message points the room at the newest remaining one.
    assert!(store.delete_message("m-last").await.unwrap());
    let room = room_of(&store, "r-1").await;
    assert_eq!(
        room.last_message.as_deref(),
        Some(&get(&store, "m-p").await)
    );
    let history = store
        .history(
            "r-1",
            &HistoryQuery {
                count: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&history, |m| m.id.as_str()), ["m-p"]);
    assert_eq!(room_of(&store, "r-1").await.msgs, 1);

    // Deleting a parent leaves its replies' history alone.
    assert!(store.delete_message("m-p").await.unwrap());
    assert!(!store.delete_message("m-none").await.unwrap());

    // A reply's deletion returns its parent as stored after it; a parent's, or a
    // reply's whose parent is gone, returns none.
    let q = message("m-q", "r-1", &w.alice, 6_000, "again");
    store.insert_message(&q, &fx).await.unwrap();
    for (id, ts) in [("m-q1", 7_000), ("m-q2", 8_000)] {
        store
            .insert_message(&reply(id, &q, &w.bob, ts, "b"), &fx)
            .await
            .unwrap();
    }
    let deleted = store.delete_message_and_parent("m-q1").await.unwrap();
    let parent = deleted.and_then(|d| d.thread_parent);
    assert_eq!(parent, Some(get(&store, "m-q").await));
    assert_eq!(parent.and_then(|p| p.tcount), Some(1));
    let deleted = store.delete_message_and_parent("m-q").await.unwrap();
    assert_eq!(deleted.map(|d| d.thread_parent), Some(None));
    let deleted = store.delete_message_and_parent("m-q2").await.unwrap();
    assert_eq!(deleted.map(|d| d.thread_parent), Some(None));
    assert_eq!(store.delete_message_and_parent("m-q2").await.unwrap(), None);
}

pub async fn history(store: DynStore) {
    let w = world(&store).await;
    let other = channel("r-2", "other", 1);
    store
        .create_room(&other, &[sub(&other, &w.alice, Ts(1))])
        .await
        .unwrap();
    let fx = PostEffects::default();
    // m-10 .. m-100 at ts 10 .. 100, replies to m-50 at 55 and 65.
    for ts in (10..=100).step_by(10) {
        let m = message(&format!("m-{ts}"), "r-1", &w.alice, ts, "x");
        store.insert_message(&m, &fx).await.unwrap();
    }
    let parent = get(&store, "m-50").await;
    for ts in [55, 65] {
        let r = reply(&format!("t-{ts}"), &parent, &w.bob, ts, "r");
        store.insert_message(&r, &fx).await.unwrap();
    }
    store
        .insert_message(&message("x-1", "r-2", &w.alice, 50, "elsewhere"), &fx)
        .await
        .unwrap();

    let q =
        |latest: Option<i64>, oldest: Option<i64>, inclusive: bool, offset, count| HistoryQuery {
            latest: latest.map(Ts),
            oldest: oldest.map(Ts),
            inclusive,
            offset,
            count,
            exclude_thread_replies: false,
        };
    let run = |query: HistoryQuery| {
        let store = store.clone();
        async move {
            let l = store.history("r-1", &query).await.unwrap();
            let ts: Vec<i64> = l.iter().map(|m| m.ts.0).collect();
            (ts, store.count_history("r-1", &query).await.unwrap())
        }
    };

    assert_eq!(
        run(q(None, None, false, 0, 100)).await,
        (vec![100, 90, 80, 70, 65, 60, 55, 50, 40, 30, 20, 10], 12),
        "newest first, thread replies included"
    );
    assert_eq!(
        run(q(None, None, false, 0, 3)).await,
        (vec![100, 90, 80], 12)
    );
    assert_eq!(
        run(q(None, None, false, 3, 3)).await,
        (vec![70, 65, 60], 12)
    );
    assert_eq!(run(q(None, None, false, 0, 0)).await, (vec![], 12));
    assert_eq!(run(q(None, None, false, 20, 5)).await, (vec![], 12));
    // Bounds, exclusive and inclusive.
    assert_eq!(
        run(q(Some(50), None, false, 0, 100)).await,
        (vec![40, 30, 20, 10], 4)
    );
    assert_eq!(
        run(q(Some(50), None, true, 0, 100)).await,
        (vec![50, 40, 30, 20, 10], 5)
    );
    assert_eq!(
        run(q(None, Some(80), false, 0, 100)).await,
        (vec![100, 90], 2)
    );
    assert_eq!(
        run(q(None, Some(80), true, 0, 100)).await,
        (vec![100, 90, 80], 3)
    );
    assert_eq!(
        run(q(Some(70), Some(50), false, 0, 100)).await,
        (vec![65, 60, 55], 3)
    );
    assert_eq!(
        run(q(Some(70), Some(50), true, 0, 100)).await,
        (vec![70, 65, 60, 55, 50], 5)
    );
    assert_eq!(
        run(q(Some(70), Some(50), true, 1, 2)).await,
        (vec![65, 60], 5)
    );
    assert_eq!(run(q(Some(50), Some(50), false, 0, 100)).await, (vec![], 0));
    assert_eq!(
        run(q(Some(50), Some(50), true, 0, 100)).await,
        (vec![50], 1)
    );
    // Without thread replies.
    let mut no_threads = q(Some(70), None, true, 0, 100);
    no_threads.exclude_thread_replies = true;
    assert_eq!(
        run(no_threads.clone()).await,
        (vec![70, 60, 50, 40, 30, 20, 10], 7)
    );
    no_threads.offset = 2;
    no_threads.count = 2;
    assert_eq!(run(no_threads).await, (vec![50, 40], 7));

    let elsewhere = store
        .history("r-2", &q(None, None, false, 0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&elsewhere, |m| m.id.as_str()), ["x-1"]);
    let nowhere = store
        .history("r-none", &q(None, None, false, 0, 10))
        .await
        .unwrap();
    assert!(nowhere.is_empty());
}

pub async fn concurrent_posts(store: DynStore) {
    const POSTS: i64 = 200;
    let w = world(&store).await;
    let senders = [w.alice.clone(), w.bob.clone(), w.carol.clone()];
    let mut tasks = Vec::new();
    for i in 0..POSTS {
        let store = store.clone();
        let from = senders[(i % 3) as usize].clone();
        tasks.push(tokio::spawn(async move {
            let m = message(&format!("c-{i:03}"), "r-1", &from, 10_000 + i, "concurrent");
            let fx = PostEffects {
                mentioned_user_ids: vec!["u-alice".into()],
                group_mention: i % 2 == 0,
                ..Default::default()
            };
            store.insert_message(&m, &fx).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("insert_message");
    }

    let room = room_of(&store, "r-1").await;
    assert_eq!(room.msgs, POSTS);
    let last = room.last_message.expect("a last message");
    assert!(last.id.starts_with("c-"));
    assert_eq!(room.lm, Some(last.ts), "lm is the last message's time");

    let history = store
        .history(
            "r-1",
            &HistoryQuery {
                count: 1_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(history.len(), POSTS as usize);
    let got: BTreeSet<String> = history.iter().map(|m| m.id.clone()).collect();
    let want: BTreeSet<String> = (0..POSTS).map(|i| format!("c-{i:03}")).collect();
    assert_eq!(got, want);
    let ts: Vec<i64> = history.iter().map(|m| m.ts.0).collect();
    assert!(ts.windows(2).all(|p| p[0] > p[1]), "newest first");

    // Every member's unread counts the others' posts exactly.
    for (k, u) in senders.iter().enumerate() {
        let own = (0..POSTS).filter(|i| (*i % 3) as usize == k).count() as i64;
        let others_group = (0..POSTS)
            .filter(|i| (*i % 3) as usize != k && i % 2 == 0)
            .count() as i64;
        let (unread, alert, mentions, group) = counters(&store, "r-1", &u.id).await;
        assert_eq!(unread, POSTS - own, "unread of {}", u.username);
        assert!(alert);
        assert_eq!(group, others_group, "groupMentions of {}", u.username);
        let expected_mentions = if u.id == "u-alice" { POSTS - own } else { 0 };
        assert_eq!(
            mentions, expected_mentions,
            "userMentions of {}",
            u.username
        );
    }
}
