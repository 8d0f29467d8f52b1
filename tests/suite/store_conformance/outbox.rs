//! The delivery queue: enqueue with dedupe, leases (atomic, expiring, owner-checked),
//! failures rescheduled or dead, admins' dead-letter listing, retry and drop, stats.

use std::collections::HashSet;

use palaver_server::store::outbox::{OutboxFailure, OutboxItem, OutboxKind, OutboxState};
use palaver_server::store::{DynStore, Page, Ts};
use serde_json::json;

const KIND: OutboxKind = OutboxKind::Webhook;

fn item(id: &str, key: &str, at: i64) -> OutboxItem {
    OutboxItem::new(
        id.into(),
        KIND,
        key.into(),
        json!({"url": "http://x.test/", "n": at, "nested": {"$odd.key": [1, "two"]}}),
        Ts(at),
    )
}

fn ids(items: &[OutboxItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

pub async fn outbox_queue(store: DynStore) {
    let stats = store.outbox_stats(Ts(0)).await.unwrap();
    assert_eq!(stats.len(), OutboxKind::ALL.len());
    assert_eq!((stats[0].pending, stats[0].dead), (0, 0));
    assert_eq!(stats[0].oldest_pending, None);

    let a = item("o-a", "k-a", 1_000);
    let b = item("o-b", "k-b", 2_000);
    let c = item("o-c", "k-c", 3_000);
    assert_eq!(
        store.enqueue_outbox(&[a.clone(), b.clone()]).await.unwrap(),
        2
    );
    // The same dedupe key again (another id) is a no-op, in a batch with a new one.
    let again = item("o-a2", "k-a", 1_500);
    assert_eq!(store.enqueue_outbox(&[again, c.clone()]).await.unwrap(), 1);
    assert_eq!(store.outbox_item("o-a2").await.unwrap(), None);
    assert_eq!(store.outbox_item("o-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.enqueue_outbox(&[]).await.unwrap(), 0);

    // Only due items, oldest due first, up to the limit.
    let leased = store
        .lease_outbox(KIND, Ts(2_500), "me", Ts(10_000), 10)
        .await
        .unwrap();
    assert_eq!(ids(&leased), vec!["o-a", "o-b"]);
    assert_eq!(leased[0].lease_owner.as_deref(), Some("me"));
    assert_eq!(leased[0].lease_until, Ts(10_000));
    assert_eq!(leased[0].payload, a.payload, "payload round-trips");
    // Held items are not leased again before their lease ends.
    let other = store
        .lease_outbox(KIND, Ts(3_000), "other", Ts(20_000), 10)
        .await
        .unwrap();
    assert_eq!(ids(&other), vec!["o-c"]);
    let stats = store.outbox_stats(Ts(3_000)).await.unwrap();
    assert_eq!((stats[0].pending, stats[0].leased), (3, 3));
    assert_eq!(stats[0].oldest_pending, Some(Ts(1_000)));

    // Only the holder completes or fails.
    assert!(!store.complete_outbox("o-a", "other").await.unwrap());
    assert!(store.complete_outbox("o-a", "me").await.unwrap());
    assert_eq!(store.outbox_item("o-a").await.unwrap(), None);
    assert!(!store
        .fail_outbox("o-b", "other", "nope", OutboxFailure::Dead)
        .await
        .unwrap());
    assert!(store
        .fail_outbox("o-b", "me", "HTTP 500", OutboxFailure::RetryAt(Ts(50_000)))
        .await
        .unwrap());
    let b_now = store.outbox_item("o-b").await.unwrap().unwrap();
    assert_eq!(b_now.attempts, 1);
    assert_eq!(b_now.state, OutboxState::Pending);
    assert_eq!(b_now.next_attempt, Ts(50_000));
    assert_eq!(b_now.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(b_now.lease_owner, None);
    // Rescheduled: not due before its time, due after.
    assert!(store
        .lease_outbox(KIND, Ts(40_000), "me", Ts(60_000), 10)
        .await
        .unwrap()
        .iter()
        .all(|i| i.id != "o-b"));
    let retried = store
        .lease_outbox(KIND, Ts(50_000), "me", Ts(60_000), 10)
        .await
        .unwrap();
    assert_eq!(ids(&retried), vec!["o-b"]);
    assert!(store
        .fail_outbox("o-b", "me", "HTTP 404", OutboxFailure::Dead)
        .await
        .unwrap());
    // The lease of o-c ended (20 000) and it was taken by `me` above: give it back.
    assert_eq!(
        store
            .release_outbox(&["o-c".to_string()], "other")
            .await
            .unwrap(),
        0,
        "`other`'s lease was taken over"
    );
    assert!(store
        .fail_outbox("o-c", "me", "timeout", OutboxFailure::Dead)
        .await
        .unwrap());

    // Dead letters: never leased; listed, retried, dropped.
    assert!(store
        .lease_outbox(KIND, Ts(1_000_000), "me", Ts(2_000_000), 10)
        .await
        .unwrap()
        .is_empty());
    let dead = store.dead_outbox(None, Page::new(0, 10)).await.unwrap();
    assert_eq!(dead.total, 2);
    assert_eq!(ids(&dead.items), vec!["o-b", "o-c"]);
    assert_eq!(dead.items[0].attempts, 2);
    assert_eq!(dead.items[0].last_error.as_deref(), Some("HTTP 404"));
    let page = store
        .dead_outbox(Some(KIND), Page::new(1, 5))
        .await
        .unwrap();
    assert_eq!((page.total, ids(&page.items)), (2, vec!["o-c"]));
    let none = store
        .dead_outbox(Some(KIND), Page::new(0, 0))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let stats = store.outbox_stats(Ts(1_000_000)).await.unwrap();
    assert_eq!((stats[0].pending, stats[0].dead), (0, 2));
    assert_eq!(stats[0].oldest_pending, None);
    // A dead item still holds its dedupe key.
    assert_eq!(
        store
            .enqueue_outbox(&[item("o-b2", "k-b", 5)])
            .await
            .unwrap(),
        0
    );

    assert_eq!(
        store
            .retry_dead_outbox(Some("o-b"), None, Ts(70_000))
            .await
            .unwrap(),
        1
    );
    let b_now = store.outbox_item("o-b").await.unwrap().unwrap();
    assert_eq!(b_now.state, OutboxState::Pending);
    assert_eq!((b_now.attempts, b_now.next_attempt), (0, Ts(70_000)));
    assert_eq!(b_now.since, Ts(70_000));
    assert_eq!(b_now.created_at, Ts(2_000), "creation time kept");
    assert_eq!(
        store
            .retry_dead_outbox(Some("o-b"), None, Ts(70_000))
            .await
            .unwrap(),
        0,
        "only dead items are retried"
    );
    assert_eq!(
        store.drop_dead_outbox(Some("o-b"), None).await.unwrap(),
        0,
        "pending items are never dropped"
    );
    assert_eq!(store.drop_dead_outbox(None, Some(KIND)).await.unwrap(), 1);
    assert_eq!(store.outbox_item("o-c").await.unwrap(), None);
    // Once gone, its key may be queued again.
    assert_eq!(
        store
            .enqueue_outbox(&[item("o-c2", "k-c", 80_000)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .retry_dead_outbox(None, None, Ts(90_000))
            .await
            .unwrap(),
        0
    );
}

/// A holder that vanished (its lease expired) loses the item to the next lease,
/// and can then neither complete nor fail it; release gives back only one's own.
pub async fn outbox_lease_expiry(store: DynStore) {
    store
        .enqueue_outbox(&[item("o-1", "k-1", 100), item("o-2", "k-2", 200)])
        .await
        .unwrap();
    let crashed = store
        .lease_outbox(KIND, Ts(1_000), "crashed", Ts(5_000), 10)
        .await
        .unwrap();
    assert_eq!(crashed.len(), 2);
    assert!(store
        .lease_outbox(KIND, Ts(4_999), "alive", Ts(9_000), 10)
        .await
        .unwrap()
        .is_empty());
    let taken = store
        .lease_outbox(KIND, Ts(5_000), "alive", Ts(9_000), 1)
        .await
        .unwrap();
    assert_eq!(ids(&taken), vec!["o-1"]);
    assert!(!store.complete_outbox("o-1", "crashed").await.unwrap());
    assert!(!store
        .fail_outbox("o-1", "crashed", "late", OutboxFailure::Dead)
        .await
        .unwrap());
    let released = store
        .release_outbox(&["o-1".to_string(), "o-2".to_string()], "alive")
        .await
        .unwrap();
    assert_eq!(released, 1, "only o-1 is held by `alive`");
    let again = store
        .lease_outbox(KIND, Ts(5_001), "alive", Ts(9_000), 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), vec!["o-1", "o-2"]);
    let o1 = store.outbox_item("o-1").await.unwrap().unwrap();
    assert_eq!(o1.attempts, 0, "a lease taken over is not a failed attempt");
}

/// Many leasers at once: every item is leased exactly once.
pub async fn outbox_lease_races(store: DynStore) {
    let items: Vec<OutboxItem> = (0..60)
        .map(|n| item(&format!("o-{n}"), &format!("k-{n}"), n))
        .collect();
    assert_eq!(store.enqueue_outbox(&items).await.unwrap(), 60);
    let mut tasks = Vec::new();
    for owner in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store
                    .lease_outbox(KIND, Ts(1_000), &format!("w{owner}"), Ts(100_000), 4)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|i| i.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut count = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            count += 1;
            assert!(seen.insert(id.clone()), "{id} leased twice");
        }
    }
    assert_eq!(count, 60);
}

/// A fan-out's step: its items queued and its progress recorded together, only by
/// the holder of the item it works.
pub async fn outbox_advancing(store: DynStore) {
    let marker = OutboxItem::new(
        "o-m".into(),
        OutboxKind::Notify,
        "m-1".into(),
        json!({"mid": "m-1", "after": null}),
        Ts(1_000),
    );
    store.enqueue_outbox(&[marker]).await.unwrap();
    let leased = store
        .lease_outbox(OutboxKind::Notify, Ts(1_000), "me", Ts(60_000), 1)
        .await
        .unwrap();
    assert_eq!(ids(&leased), vec!["o-m"]);

    let step = [item("o-s1", "s-1", 1_100), item("o-s2", "s-2", 1_100)];
    let progress = json!({"mid": "m-1", "after": "u-2"});
    assert_eq!(
        store
            .enqueue_outbox_advancing(&step, "o-m", "me", &progress)
            .await
            .unwrap(),
        Some(2)
    );
    let m = store.outbox_item("o-m").await.unwrap().unwrap();
    assert_eq!(m.payload, progress);
    assert_eq!(m.lease_owner.as_deref(), Some("me"), "still held");
    // Once the step is recorded its items are anybody's to deliver (MongoDB holds
    // them only until then).
    let s2 = store.outbox_item("o-s2").await.unwrap().unwrap();
    assert_eq!((s2.lease_owner, s2.lease_until), (None, Ts(0)), "o-s2 free");

    // The same step again (a retry): nothing queued twice, progress kept.
    assert_eq!(
        store
            .enqueue_outbox_advancing(&step, "o-m", "me", &progress)
            .await
            .unwrap(),
        Some(0)
    );
    // Another instance (its lease is not mine): refused, nothing recorded.
    let theirs = json!({"mid": "m-1", "after": "u-9"});
    assert_eq!(
        store
            .enqueue_outbox_advancing(&[item("o-s3", "s-3", 1_200)], "o-m", "other", &theirs)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.outbox_item("o-m").await.unwrap().unwrap().payload,
        progress
    );
    assert_eq!(store.outbox_item("o-s3").await.unwrap(), None);
    // A marker gone (the fan-out finished elsewhere): refused too.
    assert!(store.complete_outbox("o-m", "me").await.unwrap());
    assert_eq!(
        store
            .enqueue_outbox_advancing(&[], "o-m", "me", &theirs)
            .await
            .unwrap(),
        None
    );
}
