//! Discussions: a room's discussions by title, the linking message's activity
//! (`dcount`, `dlm`), kept by edits, unlinked when the discussion goes, and the
//! listing of a room's linking messages.

use palaver_server::store::{
    DiscussionLink, DynStore, MessageFilter, Page, PostEffects, RoomExtra, RoomType, Ts,
};

use super::{channel, ids, message, room, sub, user};

pub async fn discussions(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let parent = channel("r-parent", "parent", 1);
    store
        .create_room(&parent, &[sub(&parent, &alice, Ts(1_000))])
        .await
        .unwrap();
    let other = channel("r-other", "other", 1);
    store
        .create_room(&other, &[sub(&other, &alice, Ts(1_000))])
        .await
        .unwrap();
    // Three discussions of the parent (titles out of order), one of the other room.
    for (id, title, prid) in [
        ("d-1", "zebra", "r-parent"),
        ("d-2", "apple", "r-parent"),
        ("d-3", "mango", "r-parent"),
        ("d-4", "apple", "r-other"),
    ] {
        let mut d = room(id, RoomType::Group, Some(&format!("gen-{id}")), 1);
        d.fname = Some(title.into());
        d.extra = RoomExtra {
            prid: Some(prid.into()),
            ..Default::default()
        };
        let mut s = sub(&d, &alice, Ts(1_000));
        s.prid = Some(prid.into());
        store.create_room(&d, &[s]).await.unwrap();
    }
    let l = store
        .discussions("r-parent", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(
        (ids(&l.items, |r| &r.id), l.total),
        (vec!["d-2".into(), "d-3".into(), "d-1".into()], 3)
    );
    assert_eq!(l.items[0].extra.prid.as_deref(), Some("r-parent"));
    let l = store
        .discussions("r-parent", Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!((ids(&l.items, |r| &r.id), l.total), (vec!["d-3".into()], 3));
    assert_eq!(
        store
            .discussions("r-none", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );
    let s = store.subscription("d-1", "u-alice").await.unwrap().unwrap();
    assert_eq!(s.prid.as_deref(), Some("r-parent"));

    // The parent's linking messages, and a plain one.
    let fx = PostEffects::default();
    let mut link = message("m-link-1", "r-parent", &alice, 2_000, "Zebra talk");
    link.t = Some("discussion-created".into());
    link.discussion = DiscussionLink {
        drid: Some("d-1".into()),
        dcount: Some(0),
        dlm: None,
    };
    store.insert_message(&link, &fx).await.unwrap();
    let mut link2 = message("m-link-2", "r-parent", &alice, 2_001, "Apple talk");
    link2.discussion.drid = Some("d-2".into());
    store.insert_message(&link2, &fx).await.unwrap();
    store
        .insert_message(&message("m-plain", "r-parent", &alice, 2_002, "talk"), &fx)
        .await
        .unwrap();

    let l = store
        .room_messages(
            "r-parent",
            &MessageFilter::Discussions { text: None },
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        (ids(&l.items, |m| &m.id), l.total),
        (vec!["m-link-2".into(), "m-link-1".into()], 2)
    );
    let l = store
        .room_messages(
            "r-parent",
            &MessageFilter::Discussions {
                text: Some("zEBRA".into()),
            },
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        (ids(&l.items, |m| &m.id), l.total),
        (vec!["m-link-1".into()], 1)
    );

    // Activity in the discussion reaches the linking message.
    let changed = store
        .refresh_discussion("d-1", Some((3, Some(Ts(4_000)))), Ts(4_001))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.id, "m-link-1");
    assert_eq!(changed.discussion.dcount, Some(3));
    assert_eq!(changed.discussion.dlm, Some(Ts(4_000)));
    assert_eq!(changed.updated_at, Ts(4_001));
    let stored = store.message("m-link-1").await.unwrap().unwrap();
    assert_eq!(stored.discussion, changed.discussion);
    assert!(store
        .refresh_discussion("d-none", Some((1, None)), Ts(4_002))
        .await
        .unwrap()
        .is_none());

    // An edit keeps the link and its activity.
    let mut edit = stored.clone();
    edit.msg = "Zebra talk (renamed)".into();
    edit.discussion = DiscussionLink::default();
    assert!(store.update_message(&edit).await.unwrap());
    let stored = store.message("m-link-1").await.unwrap().unwrap();
    assert_eq!(stored.msg, "Zebra talk (renamed)");
    assert_eq!(stored.discussion.drid.as_deref(), Some("d-1"));
    assert_eq!(stored.discussion.dcount, Some(3));

    // The discussion gone: the message loses the link and leaves the listing.
    let unlinked = store
        .refresh_discussion("d-1", None, Ts(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unlinked.discussion, DiscussionLink::default());
    let stored = store.message("m-link-1").await.unwrap().unwrap();
    assert_eq!(stored.discussion, DiscussionLink::default());
    let l = store
        .room_messages(
            "r-parent",
            &MessageFilter::Discussions { text: None },
            Page::new(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        (ids(&l.items, |m| &m.id), l.total),
        (vec!["m-link-2".into()], 1)
    );

    // Deleting a discussion takes it off its parent's list.
    assert!(store.delete_room("d-2").await.unwrap());
    let l = store
        .discussions("r-parent", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(
        ids(&l.items, |r| &r.id),
        vec!["d-3".to_string(), "d-1".into()]
    );
}
