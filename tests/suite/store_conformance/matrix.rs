//! The Matrix bridge's links: rooms and users by either side, events inserted once
//! (by event id or by key), handled transactions, and the queue's order gate.

use palaver_server::store::matrix::{MatrixEventLink, MatrixRoomLink, MatrixUserLink};
use palaver_server::store::outbox::{OutboxItem, OutboxKind};
use palaver_server::store::{DynStore, Ts};

pub async fn matrix_links(store: DynStore) {
    let link = |rid: &str, mrid: &str, at: i64| MatrixRoomLink {
        room_id: rid.into(),
        matrix_room_id: mrid.into(),
        alias: Some(format!("#palaver_{rid}:hs")),
        explicit: at % 2 == 0,
        created_at: Ts(at),
    };
    store.put_matrix_room(&link("r2", "!b", 20)).await.unwrap();
    store.put_matrix_room(&link("r1", "!a", 10)).await.unwrap();
    assert_eq!(
        store.matrix_room_by_room("r1").await.unwrap(),
        Some(link("r1", "!a", 10))
    );
    assert_eq!(
        store.matrix_room_by_matrix("!b").await.unwrap(),
        Some(link("r2", "!b", 20))
    );
    assert_eq!(store.matrix_room_by_matrix("!zz").await.unwrap(), None);
    // Re-bridging replaces; a Matrix room linked to another room is refused.
    store.put_matrix_room(&link("r1", "!c", 10)).await.unwrap();
    assert_eq!(store.matrix_room_by_matrix("!a").await.unwrap(), None);
    assert!(store.put_matrix_room(&link("r1", "!b", 10)).await.is_err());
    let all: Vec<String> = store
        .matrix_rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.room_id)
        .collect();
    assert_eq!(all, vec!["r1", "r2"]);
    assert!(store.delete_matrix_room("r2").await.unwrap());
    assert!(!store.delete_matrix_room("r2").await.unwrap());

    let user = MatrixUserLink {
        user_id: "u1".into(),
        mxid: "@alice:hs".into(),
        remote: true,
        display_name: None,
        avatar: None,
    };
    store.put_matrix_user(&user).await.unwrap();
    assert_eq!(
        store.matrix_user_by_mxid("@alice:hs").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.matrix_user_by_user("u1").await.unwrap(),
        Some(user.clone())
    );
    // The name and the avatar last synced are kept, and replaced together.
    let renamed = MatrixUserLink {
        display_name: Some("Alice".into()),
        avatar: Some("mxc://hs/abc".into()),
        ..user.clone()
    };
    store.put_matrix_user(&renamed).await.unwrap();
    assert_eq!(
        store.matrix_user_by_user("u1").await.unwrap(),
        Some(renamed.clone())
    );
    let cleared = MatrixUserLink {
        avatar: None,
        ..renamed
    };
    store.put_matrix_user(&cleared).await.unwrap();
    assert_eq!(
        store.matrix_user_by_mxid("@alice:hs").await.unwrap(),
        Some(cleared)
    );
    let clash = MatrixUserLink {
        user_id: "u2".into(),
        ..user
    };
    assert!(store.put_matrix_user(&clash).await.is_err());

    let event = |id: &str, key: &str| MatrixEventLink {
        event_id: id.into(),
        key: key.into(),
        room_id: "r1".into(),
        created_at: Ts(1),
    };
    assert!(store
        .insert_matrix_event(&event("$1", "m:a"))
        .await
        .unwrap());
    assert!(
        !store
            .insert_matrix_event(&event("$1", "m:b"))
            .await
            .unwrap(),
        "same event"
    );
    assert!(
        !store
            .insert_matrix_event(&event("$2", "m:a"))
            .await
            .unwrap(),
        "same key"
    );
    assert_eq!(
        store.matrix_event("$1").await.unwrap(),
        Some(event("$1", "m:a"))
    );
    assert_eq!(
        store.matrix_event_by_key("m:a").await.unwrap(),
        Some(event("$1", "m:a"))
    );
    assert!(store.delete_matrix_event("$1").await.unwrap());
    assert_eq!(store.matrix_event_by_key("m:a").await.unwrap(), None);
    assert!(store
        .insert_matrix_event(&event("$2", "m:a"))
        .await
        .unwrap());

    assert!(!store.matrix_txn_done("t1").await.unwrap());
    store.mark_matrix_txn("t1", Ts(5)).await.unwrap();
    store.mark_matrix_txn("t1", Ts(6)).await.unwrap();
    assert!(store.matrix_txn_done("t1").await.unwrap());
    assert!(!store.matrix_txn_done("t2").await.unwrap());
}

pub async fn matrix_outbox_order_gate(store: DynStore) {
    let item = |id: &str, key: &str, at: i64, kind: OutboxKind| {
        OutboxItem::new(id.into(), kind, key.into(), serde_json::json!({}), Ts(at))
    };
    store
        .enqueue_outbox(&[
            item("i1", "room.a\u{1f}send\u{1f}1", 100, OutboxKind::Matrix),
            item("i2", "room.a\u{1f}send\u{1f}2", 200, OutboxKind::Matrix),
            item("i3", "room.b\u{1f}send\u{1f}3", 50, OutboxKind::Matrix),
            item("w1", "room.a\u{1f}send\u{1f}0", 10, OutboxKind::Webhook),
        ])
        .await
        .unwrap();
    let before = |at: i64, id: &str| {
        let store = store.clone();
        let id = id.to_string();
        async move {
            store
                .matrix_outbox_pending_before("room.a\u{1f}", Ts(at), &id)
                .await
                .unwrap()
        }
    };
    // i1 is first in room.a (room.b's and webhook items do not count; `.` is no wildcard).
    assert!(!before(100, "i1").await);
    assert!(before(200, "i2").await);
    assert!(!store
        .matrix_outbox_pending_before("room\u{1f}", Ts(1000), "zz")
        .await
        .unwrap());
    // Same time: the id decides.
    assert!(before(100, "i9").await);
    // Delivered: no longer in the way.
    let leased = store
        .lease_outbox(OutboxKind::Matrix, Ts(1000), "me", Ts(99_999), 1)
        .await
        .unwrap();
    assert_eq!(leased[0].id, "i3");
    let leased = store
        .lease_outbox(OutboxKind::Matrix, Ts(1000), "me", Ts(99_999), 1)
        .await
        .unwrap();
    assert_eq!(leased[0].id, "i1");
    assert!(store.complete_outbox("i1", "me").await.unwrap());
    assert!(!before(200, "i2").await);
}
