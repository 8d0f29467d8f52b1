//! A message's link previews (`urls`): stored with the message, set afterwards
//! only while the text is the one they were read for, with `_updatedAt`, and the
//! room's last message following.

use std::collections::BTreeMap;

use palaver_server::store::message_urls::MessageUrl;
use palaver_server::store::{DynStore, PostEffects, Ts};

use super::{channel, message, user};

pub async fn message_urls(store: DynStore) {
    let alice = user("u-a", "alice", None);
    store.create_user(&alice, None).await.unwrap();
    store
        .create_room(&channel("r-1", "links", 1), &[])
        .await
        .unwrap();
    let mut m = message("m-1", "r-1", &alice, 2_000, "see https://a.io/");
    m.urls = vec![
        MessageUrl {
            url: "https://a.io/".into(),
            ..Default::default()
        },
        MessageUrl {
            url: "https://b.io/".into(),
            ignore_parse: true,
            ..Default::default()
        },
    ];
    store
        .insert_message(&m, &PostEffects::default())
        .await
        .unwrap();
    assert_eq!(store.message("m-1").await.unwrap().unwrap().urls, m.urls);

    let mut read = m.urls.clone();
    read[0].meta = BTreeMap::from([("ogTitle".to_string(), "A".to_string())]);
    read[0].headers = Some(BTreeMap::from([(
        "contentType".to_string(),
        "text/html".to_string(),
    )]));
    let after = store
        .set_message_urls("m-1", "see https://a.io/", &read, Ts(3_000))
        .await
        .unwrap()
        .expect("set");
    assert_eq!(after.urls, read);
    assert_eq!(after.updated_at, Ts(3_000));
    assert_eq!(after.msg, m.msg, "nothing else changes");
    let stored = store.message("m-1").await.unwrap().unwrap();
    assert_eq!(stored.urls, read);
    let room = store.room_by_id("r-1").await.unwrap().unwrap();
    let last = room.last_message.expect("last message");
    assert_eq!(last.urls, read, "the room's last message follows");

    // Read for a text that was edited since: not saved.
    assert!(store
        .set_message_urls("m-1", "an older text", &m.urls, Ts(4_000))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.message("m-1").await.unwrap().unwrap().urls, read);
    assert!(store
        .set_message_urls("gone", "x", &read, Ts(4_000))
        .await
        .unwrap()
        .is_none());
}
