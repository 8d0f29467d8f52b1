//! Unread threads on subscriptions: a thread reply's effects (followers, `tunread`
//! and its mention lists, no room unread), reading one thread, reading the room
//! with or without its threads, and forgetting a deleted thread.

use palaver_server::store::{
    DynStore, PostEffects, Subscription, ThreadMention, ThreadReplyEffects, ThreadUnreadMark, Ts,
};

use super::{channel, message, reply, sub, user};

fn mark(user_id: &str, mention: ThreadMention) -> ThreadUnreadMark {
    ThreadUnreadMark {
        user_id: user_id.into(),
        mention,
    }
}

async fn sub_of(store: &DynStore, uid: &str) -> Subscription {
    store.subscription("r-1", uid).await.unwrap().unwrap()
}

/// (tunread, tunreadUser, tunreadGroup) of a member.
async fn lists(store: &DynStore, uid: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let t = sub_of(store, uid).await.threads;
    (t.tunread, t.tunread_user, t.tunread_group)
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub async fn thread_unread(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let carol = user("u-carol", "carol", None);
    let room = channel("r-1", "general", 3);
    let subs: Vec<Subscription> = [&alice, &bob, &carol]
        .iter()
        .map(|u| sub(&room, u, Ts(1_000)))
        .collect();
    store.create_room(&room, &subs).await.unwrap();
    let parent = message("m-p", "r-1", &alice, 2_000, "parent");
    store
        .insert_message(&parent, &PostEffects::default())
        .await
        .unwrap();
    store
        .mark_read("r-1", "u-bob", Ts(2_100), false)
        .await
        .unwrap();
    store
        .mark_read("r-1", "u-carol", Ts(2_100), false)
        .await
        .unwrap();

    // Bob's reply: alice and carol (named) follow; the sender's mark is ignored.
    let fx = PostEffects {
        thread: Some(ThreadReplyEffects {
            followers: ids(&["u-alice", "u-carol"]),
            unread: vec![
                mark("u-alice", ThreadMention::None),
                mark("u-carol", ThreadMention::User),
                mark("u-bob", ThreadMention::None),
            ],
        }),
        ..Default::default()
    };
    let parent_after = store
        .insert_message(&reply("m-r1", &parent, &bob, 3_000, "@carol hi"), &fx)
        .await
        .unwrap()
        .expect("the parent");
    let mut replies = parent_after.replies.clone().unwrap_or_default();
    replies.sort();
    assert_eq!(replies, ids(&["u-alice", "u-bob", "u-carol"]));
    assert_eq!(
        lists(&store, "u-alice").await,
        (ids(&["m-p"]), vec![], vec![])
    );
    assert_eq!(
        lists(&store, "u-carol").await,
        (ids(&["m-p"]), ids(&["m-p"]), vec![])
    );
    assert_eq!(lists(&store, "u-bob").await, (vec![], vec![], vec![]));
    let c = sub_of(&store, "u-carol").await;
    assert_eq!((c.unread, c.alert, c.user_mentions), (0, true, 0), "{c:?}");
    assert_eq!(c.updated_at, Ts(3_000));
    let b = sub_of(&store, "u-bob").await;
    assert_eq!((b.unread, b.alert), (0, false), "{b:?}");
    // Changed subscriptions are found by a sync since before the reply.
    let since = store
        .user_subscriptions("u-carol", Some(Ts(2_500)))
        .await
        .unwrap();
    assert_eq!(since.len(), 1);

    // A second reply with a group mention: a thread is listed once.
    let fx = PostEffects {
        thread: Some(ThreadReplyEffects {
            followers: vec![],
            unread: vec![
                mark("u-alice", ThreadMention::Group),
                mark("u-carol", ThreadMention::Group),
            ],
        }),
        ..Default::default()
    };
    store
        .insert_message(&reply("m-r2", &parent, &bob, 4_000, "@all"), &fx)
        .await
        .unwrap();
    assert_eq!(
        lists(&store, "u-alice").await,
        (ids(&["m-p"]), vec![], ids(&["m-p"]))
    );

    // Reading the thread: off every list; the last one clears the alert.
    let after = store
        .read_thread("r-1", "u-alice", "m-p", Ts(5_000))
        .await
        .unwrap()
        .expect("changed");
    assert!(after.threads.tunread.is_empty() && after.threads.tunread_group.is_empty());
    assert!(!after.alert);
    assert_eq!(sub_of(&store, "u-alice").await, after);
    assert_eq!(after.updated_at, Ts(5_000));
    assert_eq!(
        store
            .read_thread("r-1", "u-alice", "m-p", Ts(5_100))
            .await
            .unwrap(),
        None,
        "nothing left to read"
    );
    assert_eq!(
        store
            .read_thread("r-1", "u-none", "m-p", Ts(5_100))
            .await
            .unwrap(),
        None
    );

    // Reading the room keeps threads (and the alert) unless asked.
    store
        .mark_read("r-1", "u-carol", Ts(6_000), false)
        .await
        .unwrap();
    let c = sub_of(&store, "u-carol").await;
    assert_eq!(c.threads.tunread, ids(&["m-p"]));
    assert!(c.alert);
    store
        .mark_read("r-1", "u-carol", Ts(6_100), true)
        .await
        .unwrap();
    let c = sub_of(&store, "u-carol").await;
    assert_eq!(c.threads, Default::default());
    assert!(!c.alert);

    // A deleted thread is forgotten by whoever had it unread.
    let fx = PostEffects {
        thread: Some(ThreadReplyEffects {
            followers: vec![],
            unread: vec![mark("u-alice", ThreadMention::None)],
        }),
        ..Default::default()
    };
    store
        .insert_message(&reply("m-r3", &parent, &carol, 7_000, "x"), &fx)
        .await
        .unwrap();
    assert_eq!(
        store.forget_thread("r-1", "m-p", Ts(8_000)).await.unwrap(),
        ids(&["u-alice"])
    );
    assert_eq!(lists(&store, "u-alice").await, (vec![], vec![], vec![]));
    assert!(store
        .forget_thread("r-1", "m-p", Ts(8_100))
        .await
        .unwrap()
        .is_empty());
}
