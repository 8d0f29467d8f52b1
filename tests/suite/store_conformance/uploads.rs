//! Upload records: insert, read, replace, confirmed-only room listing (newest first,
//! name filter, pagination), per-message and per-room lookups, expiry order, delete.

use palaver_server::store::uploads::{ImageDimensions, Upload, UploadState};
use palaver_server::store::{DynStore, Page, Ts};

use super::{assert_conflict, ids};

fn upload(id: &str, rid: &str, name: &str, at: i64, expires: Option<i64>) -> Upload {
    Upload {
        id: id.into(),
        name: name.into(),
        size: 1234,
        content_type: "image/png".into(),
        sha256: "ab".repeat(32),
        rid: rid.into(),
        user_id: "u-1".into(),
        username: "alice".into(),
        store: "local".into(),
        key: format!("uploads/{id}"),
        state: UploadState::Stored,
        uploaded_at: Ts(at),
        expires_at: expires.map(Ts),
        message_id: None,
        description: None,
        dimensions: None,
        format: None,
        preview: None,
        thumb_id: None,
        type_group: None,
        original_file_id: None,
    }
}

pub async fn uploads(store: DynStore) {
    assert_eq!(store.upload("f-none").await.unwrap(), None);
    let a = upload("f-a", "r-1", "Report Q1.PDF", 1_000, None);
    let b = upload("f-b", "r-1", "ünïcødé 画像.png", 3_000, None);
    let c = upload("f-c", "r-1", "pending.txt", 2_000, Some(50_000));
    let d = upload("f-d", "r-2", "other room.png", 4_000, Some(40_000));
    for u in [&a, &b, &c, &d] {
        store.insert_upload(u).await.unwrap();
    }
    assert_conflict(store.insert_upload(&a).await, "id");
    assert_eq!(store.upload("f-b").await.unwrap().as_ref(), Some(&b));

    // Only confirmed files, newest first, with the total.
    let listed = store
        .room_uploads("r-1", None, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&listed.items, |u| &u.id), ["f-b", "f-a"]);
    assert_eq!(listed.total, 2);
    let page = store
        .room_uploads("r-1", None, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(ids(&page.items, |u| &u.id), ["f-a"]);
    assert_eq!(page.total, 2);
    let named = store
        .room_uploads("r-1", Some("report q1."), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&named.items, |u| &u.id), ["f-a"]);
    let unicode = store
        .room_uploads("r-1", Some("ÜNÏ"), Page::new(0, 10))
        .await
        .unwrap();
    // Unicode case folding is not promised; the exact case always matches.
    let exact = store
        .room_uploads("r-1", Some("ünïcødé 画"), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&exact.items, |u| &u.id), ["f-b"]);
    assert!(unicode.items.len() <= 1);
    let wildcard = store
        .room_uploads("r-1", Some("%"), Page::new(0, 10))
        .await
        .unwrap();
    assert!(
        wildcard.items.is_empty(),
        "LIKE/regex metacharacters are literal"
    );

    // Thumbnails and avatars are records of the room, never listed as its files.
    for (id, group) in [("f-thumb", "thumb"), ("f-avatar", "avatar")] {
        let mut special = upload(id, "r-1", "thumb-Report.png", 5_000, None);
        special.type_group = Some(group.into());
        special.original_file_id = Some("f-a".into());
        special.preview = Some("AAAA".into());
        special.format = Some("png".into());
        store.insert_upload(&special).await.unwrap();
        assert_eq!(store.upload(id).await.unwrap().as_ref(), Some(&special));
        let listed = store
            .room_uploads("r-1", None, Page::new(0, 10))
            .await
            .unwrap();
        assert_eq!(ids(&listed.items, |u| &u.id), ["f-b", "f-a"], "{group}");
        assert_eq!(listed.total, 2);
        assert!(store
            .all_room_uploads("r-1")
            .await
            .unwrap()
            .iter()
            .any(|u| u.id == id));
        assert!(store.delete_upload(id).await.unwrap());
    }

    // Expired records, oldest expiry first, bounded by `now` and the limit.
    let due = store.expired_uploads(Ts(60_000), 10).await.unwrap();
    assert_eq!(ids(&due, |u| &u.id), ["f-d", "f-c"]);
    assert_eq!(
        store.expired_uploads(Ts(45_000), 10).await.unwrap().len(),
        1
    );
    assert_eq!(store.expired_uploads(Ts(60_000), 1).await.unwrap().len(), 1);
    assert!(store
        .expired_uploads(Ts(39_999), 10)
        .await
        .unwrap()
        .is_empty());

    // Confirming: the expiry goes, the message is set; the listing now has it.
    let mut confirmed = c.clone();
    confirmed.expires_at = None;
    confirmed.message_id = Some("m-1".into());
    confirmed.description = Some("the plan".into());
    confirmed.dimensions = Some(ImageDimensions {
        width: 640,
        height: 480,
    });
    assert!(store.update_upload(&confirmed).await.unwrap());
    assert_eq!(
        store.upload("f-c").await.unwrap().as_ref(),
        Some(&confirmed)
    );
    assert!(!store
        .update_upload(&upload("f-none", "r-1", "x", 1, None))
        .await
        .unwrap());
    let listed = store
        .room_uploads("r-1", None, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&listed.items, |u| &u.id), ["f-b", "f-c", "f-a"]);
    assert_eq!(
        ids(&store.expired_uploads(Ts(60_000), 10).await.unwrap(), |u| {
            &u.id
        }),
        ["f-d"]
    );
    assert_eq!(
        ids(&store.message_uploads("m-1").await.unwrap(), |u| &u.id),
        ["f-c"]
    );
    assert!(store.message_uploads("m-2").await.unwrap().is_empty());

    // Every record of a room, confirmed or not.
    let mut pending = upload("f-e", "r-1", "half.bin", 5_000, Some(70_000));
    pending.state = UploadState::Uploading;
    pending.sha256 = String::new();
    store.insert_upload(&pending).await.unwrap();
    assert_eq!(
        ids(&store.all_room_uploads("r-1").await.unwrap(), |u| &u.id),
        ["f-a", "f-c", "f-b", "f-e"]
    );
    assert_eq!(
        store.upload("f-e").await.unwrap().unwrap().state,
        UploadState::Uploading
    );

    assert!(store.delete_upload("f-a").await.unwrap());
    assert!(!store.delete_upload("f-a").await.unwrap());
    assert_eq!(store.upload("f-a").await.unwrap(), None);
    assert_eq!(
        store
            .room_uploads("r-1", None, Page::new(0, 10))
            .await
            .unwrap()
            .total,
        2
    );
}
