//! What the notification fan-out needs of a store: a post's queue items committed
//! with it (once per dedupe key, also when the post is retried), members in
//! keyset pages, users, devices and badges of many people in one call each, and
//! completions of many queue items in one write.

use std::collections::BTreeMap;

use palaver_server::store::outbox::{OutboxItem, OutboxKind};
use palaver_server::store::push::{PushDevice, PushTarget};
use palaver_server::store::{DynStore, PostEffects, Subscription, SubscriptionPatch, Ts, User};
use serde_json::json;

use super::{assert_conflict, channel, message, sub, user};

fn marker(id: &str, mid: &str, at: i64) -> OutboxItem {
    OutboxItem::new(
        id.into(),
        OutboxKind::Notify,
        mid.into(),
        json!({ "mid": mid, "rid": "r-big" }),
        Ts(at),
    )
}

pub async fn notify_fanout(store: DynStore) {
    let people: Vec<User> = (0..7)
        .map(|i| user(&format!("u-{i}"), &format!("zz{}", 7 - i), None))
        .collect();
    let room = channel("r-big", "big", people.len() as i64);
    let subs: Vec<Subscription> = people.iter().map(|u| sub(&room, u, Ts(1_000))).collect();
    store.create_room(&room, &subs).await.unwrap();
    for u in &people {
        store.create_user(u, None).await.unwrap();
    }

    // The marker is committed with the message; a retried post (same id) queues
    // no second one.
    let m = message("m-1", "r-big", &people[0], 2_000, "@all hi");
    let effects = PostEffects {
        group_mention: true,
        queue: vec![marker("q-1", "m-1", 2_000)],
        ..Default::default()
    };
    store.insert_message(&m, &effects).await.unwrap();
    let queued = store.outbox_item("q-1").await.unwrap().expect("marker");
    assert_eq!(
        (queued.kind, queued.dedupe_key.as_str()),
        (OutboxKind::Notify, "m-1")
    );
    let retried = PostEffects {
        queue: vec![marker("q-2", "m-1", 2_100)],
        ..effects.clone()
    };
    assert_conflict(store.insert_message(&m, &retried).await, "id");
    assert_eq!(store.outbox_item("q-2").await.unwrap(), None);
    let stats = store.outbox_stats(Ts(3_000)).await.unwrap();
    let notify = stats.iter().find(|s| s.kind == OutboxKind::Notify).unwrap();
    assert_eq!(notify.pending, 1);

    // Keyset pages in user-id order (not username order), each member once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .room_members_after("r-big", after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.u.id.clone());
        seen.extend(page.iter().map(|s| s.u.id.clone()));
    }
    let mut want: Vec<String> = people.iter().map(|u| u.id.clone()).collect();
    want.sort();
    assert_eq!(seen, want);
    assert!(store
        .room_members_after("r-none", None, 3)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .room_members_after("r-big", None, 0)
        .await
        .unwrap()
        .is_empty());

    // Users by id, unknown ones skipped.
    let ids = vec!["u-1".to_string(), "u-none".to_string(), "u-3".to_string()];
    let mut found: Vec<String> = store
        .users_by_ids(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    found.sort();
    assert_eq!(found, vec!["u-1", "u-3"]);
    assert!(store.users_by_ids(&[]).await.unwrap().is_empty());

    // Badges: unread over rooms not archived, per user.
    let other = channel("r-other", "other", 2);
    store
        .create_room(
            &other,
            &[
                sub(&other, &people[0], Ts(1_000)),
                sub(&other, &people[1], Ts(1_000)),
            ],
        )
        .await
        .unwrap();
    let m2 = message("m-2", "r-other", &people[0], 2_500, "hello");
    store
        .insert_message(&m2, &PostEffects::default())
        .await
        .unwrap();
    let totals = |ids: Vec<&str>| {
        let store = store.clone();
        let ids: Vec<String> = ids.into_iter().map(String::from).collect();
        async move {
            store
                .unread_totals(&ids)
                .await
                .unwrap()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect::<BTreeMap<String, u64>>()
        }
    };
    let got = totals(vec!["u-0", "u-1", "u-2", "u-none"]).await;
    let want: BTreeMap<String, u64> = [("u-1".to_string(), 2), ("u-2".to_string(), 1)].into();
    assert_eq!(got, want);
    store
        .patch_subscriptions(
            "r-other",
            Some("u-1"),
            &SubscriptionPatch {
                archived: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(totals(vec!["u-1"]).await, [("u-1".to_string(), 1)].into());

    // Devices of many users.
    for (id, uid) in [
        ("d-a", "u-1"),
        ("d-b", "u-1"),
        ("d-c", "u-2"),
        ("d-d", "u-5"),
    ] {
        store
            .save_push_device(&PushDevice {
                id: id.into(),
                token: PushTarget::Gcm(format!("tok-{id}")),
                app_name: "chat.rocket.android".into(),
                user_id: uid.into(),
                auth_token: String::new(),
                enabled: true,
                created_at: Ts(1_000),
                updated_at: Ts(1_000),
            })
            .await
            .unwrap();
    }
    let mut devices: Vec<(String, String)> = store
        .push_devices_of_users(&["u-1".into(), "u-2".into(), "u-9".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.user_id, d.id))
        .collect();
    devices.sort();
    assert_eq!(
        devices,
        vec![
            ("u-1".to_string(), "d-a".to_string()),
            ("u-1".to_string(), "d-b".to_string()),
            ("u-2".to_string(), "d-c".to_string()),
        ]
    );

    // Completions in one write, only of the holder's leases.
    let items: Vec<OutboxItem> = (0..4)
        .map(|i| {
            OutboxItem::new(
                format!("p-{i}"),
                OutboxKind::Push,
                format!("k-{i}"),
                json!({}),
                Ts(1_000),
            )
        })
        .collect();
    store.enqueue_outbox(&items).await.unwrap();
    let mine = store
        .lease_outbox(OutboxKind::Push, Ts(2_000), "me", Ts(60_000), 3)
        .await
        .unwrap();
    assert_eq!(mine.len(), 3);
    let mut ids: Vec<String> = mine.iter().map(|i| i.id.clone()).collect();
    let theirs = store
        .lease_outbox(OutboxKind::Push, Ts(2_000), "them", Ts(60_000), 3)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    ids.push(theirs[0].id.clone());
    assert_eq!(store.complete_outbox_many(&ids, "me").await.unwrap(), 3);
    assert_eq!(store.complete_outbox_many(&[], "me").await.unwrap(), 0);
    for i in &mine {
        assert_eq!(store.outbox_item(&i.id).await.unwrap(), None);
    }
    assert!(store.outbox_item(&theirs[0].id).await.unwrap().is_some());
}
