//! Room moderation: the mute lists, the optional room fields room settings write,
//! and cleaning a room's history.

use palaver_server::store::{
    CleanHistory, DynStore, HistoryQuery, MuteChange, PostEffects, Subscription, Ts,
};
use serde_json::json;

use super::{channel, ids, message, reply, sub, user};

pub async fn room_mute(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let room = channel("r-m", "mods", 1);
    store
        .create_room(&room, &[sub(&room, &alice, Ts(1_000))])
        .await
        .unwrap();

    let after = store
        .set_room_mute("r-m", "bob", MuteChange::Mute, Ts(2_000))
        .await
        .unwrap()
        .expect("room");
    assert_eq!(after.extra.muted, Some(vec!["bob".to_string()]));
    assert_eq!(after.updated_at, Ts(2_000));
    // Muting twice keeps one entry; another name is added.
    store
        .set_room_mute("r-m", "bob", MuteChange::Mute, Ts(2_001))
        .await
        .unwrap();
    store
        .set_room_mute("r-m", "carol", MuteChange::Mute, Ts(2_002))
        .await
        .unwrap();
    let stored = store.room_by_id("r-m").await.unwrap().unwrap();
    assert_eq!(
        stored.extra.muted,
        Some(vec!["bob".to_string(), "carol".to_string()])
    );
    assert!(stored.is_muted("bob") && !stored.is_muted("alice"));

    // Read-only forms: unmuting moves a name to `unmuted`, muting takes it out.
    let after = store
        .set_room_mute("r-m", "bob", MuteChange::UnmuteReadOnly, Ts(3_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.extra.muted, Some(vec!["carol".to_string()]));
    assert_eq!(after.extra.unmuted, Some(vec!["bob".to_string()]));
    assert!(after.is_unmuted("bob"));
    let after = store
        .set_room_mute("r-m", "bob", MuteChange::MuteReadOnly, Ts(3_001))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.extra.unmuted, Some(vec![]));
    assert_eq!(after.extra.muted, Some(vec!["carol".to_string()]));
    let after = store
        .set_room_mute("r-m", "carol", MuteChange::Unmute, Ts(3_002))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.extra.muted, Some(vec![]));
    assert_eq!(store.room_by_id("r-m").await.unwrap(), Some(after.clone()));

    // Settings writes keep the lists and write the other optional fields.
    let mut changed = after.clone();
    changed.extra.featured = true;
    changed.extra.favorite = true;
    changed.extra.sys_mes = Some(vec!["uj".into(), "ul".into()]);
    changed.extra.muted = Some(vec!["ignored".into()]);
    changed.updated_at = Ts(4_000);
    store.update_room_settings(&changed).await.unwrap();
    let stored = store.room_by_id("r-m").await.unwrap().unwrap();
    assert!(stored.extra.featured && stored.extra.favorite);
    assert_eq!(
        stored.extra.sys_mes,
        Some(vec!["uj".to_string(), "ul".to_string()])
    );
    assert_eq!(stored.extra.muted, Some(vec![]));
    let mut cleared = stored.clone();
    cleared.extra.featured = false;
    cleared.extra.sys_mes = None;
    store.update_room_settings(&cleared).await.unwrap();
    let stored = store.room_by_id("r-m").await.unwrap().unwrap();
    assert!(!stored.extra.featured && stored.extra.sys_mes.is_none());

    assert_eq!(
        store
            .set_room_mute("r-none", "bob", MuteChange::Mute, Ts(5_000))
            .await
            .unwrap(),
        None
    );
}

pub async fn clean_history(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let bob = user("u-bob", "bob", None);
    let room = channel("r-c", "clean", 2);
    let subs: Vec<Subscription> = [&alice, &bob]
        .iter()
        .map(|u| sub(&room, u, Ts(1_000)))
        .collect();
    store.create_room(&room, &subs).await.unwrap();
    let fx = PostEffects::default();
    let m1 = message("m-1", "r-c", &alice, 2_000, "one");
    let m2 = message("m-2", "r-c", &bob, 3_000, "two");
    let parent = message("m-p", "r-c", &alice, 4_000, "thread");
    let pinned = message("m-pin", "r-c", &bob, 5_000, "later");
    let r1 = reply("m-r1", &parent, &bob, 6_000, "reply");
    let mut with_file = message("m-f", "r-c", &alice, 7_000, "file");
    with_file.file = Some(json!({"_id": "f-1", "name": "a.png"}));
    let last = message("m-last", "r-c", &bob, 8_000, "last");
    for m in [&m1, &m2, &parent, &pinned, &r1, &with_file, &last] {
        store.insert_message(m, &fx).await.unwrap();
    }
    let all = |oldest: i64, latest: i64| CleanHistory {
        oldest: Ts(oldest),
        latest: Ts(latest),
        ..Default::default()
    };
    let history = |store: DynStore| async move {
        let page = store
            .history(
                "r-c",
                &HistoryQuery {
                    count: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        ids(&page, |m| m.id.as_str())
    };

    // Exclusive bounds by default; only the given users; files only.
    let gone = store
        .clean_history("r-c", &all(2_000, 3_000))
        .await
        .unwrap();
    assert!(gone.is_empty());
    let gone = store
        .clean_history(
            "r-c",
            &CleanHistory {
                inclusive: true,
                from_user_ids: vec!["u-bob".into()],
                ..all(2_000, 3_000)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&gone, |m| m.id.as_str()), ["m-2"]);
    let gone = store
        .clean_history(
            "r-c",
            &CleanHistory {
                files_only: true,
                ..all(0, 10_000)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&gone, |m| m.id.as_str()), ["m-f"]);
    let room_now = store.room_by_id("r-c").await.unwrap().unwrap();
    assert_eq!(room_now.msgs, 5);

    // Threads kept when asked; then a limit takes the newest first.
    let gone = store
        .clean_history(
            "r-c",
            &CleanHistory {
                ignore_threads: true,
                limit: 2,
                ..all(0, 10_000)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&gone, |m| m.id.as_str()), ["m-last", "m-pin"]);
    assert_eq!(history(store.clone()).await, ["m-r1", "m-p", "m-1"]);
    // The room's last message is the newest remaining one.
    let room_now = store.room_by_id("r-c").await.unwrap().unwrap();
    assert_eq!(room_now.msgs, 3);
    assert_eq!(
        room_now.last_message.map(|m| m.id),
        Some("m-r1".to_string())
    );

    // A deleted reply lowers its parent's count.
    let gone = store
        .clean_history(
            "r-c",
            &CleanHistory {
                inclusive: true,
                ..all(6_000, 6_000)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&gone, |m| m.id.as_str()), ["m-r1"]);
    let parent_now = store.message("m-p").await.unwrap().unwrap();
    assert_eq!(parent_now.tcount, Some(0));

    // Everything else; another room is untouched.
    let other = channel("r-o", "other", 0);
    store.create_room(&other, &[]).await.unwrap();
    store
        .insert_message(&message("m-o", "r-o", &alice, 2_500, "x"), &fx)
        .await
        .unwrap();
    let gone = store.clean_history("r-c", &all(0, 10_000)).await.unwrap();
    assert_eq!(ids(&gone, |m| m.id.as_str()), ["m-p", "m-1"]);
    assert!(history(store.clone()).await.is_empty());
    let room_now = store.room_by_id("r-c").await.unwrap().unwrap();
    assert_eq!((room_now.msgs, room_now.last_message), (0, None));
    assert!(store.message("m-o").await.unwrap().is_some());
}
