//! Integrations (incoming webhooks): insert, read, list in creation order with
//! pagination, replace, delete.

use palaver_server::store::integrations::{
    CreatedBy, Integration, OutgoingHook, WEBHOOK_INCOMING, WEBHOOK_OUTGOING,
};
use palaver_server::store::{DynStore, Page, Ts};

use super::{assert_conflict, ids};

fn integration(id: &str, created_at: i64) -> Integration {
    Integration {
        id: id.into(),
        kind: WEBHOOK_INCOMING.into(),
        name: format!("hook {id}"),
        enabled: true,
        channel: vec!["#general".into(), "@alice".into()],
        user_id: "u-bot".into(),
        username: "ci.bot".into(),
        alias: Some("CI".into()),
        avatar: Some("https://ci.example.com/logo.png".into()),
        emoji: None,
        token: format!("{id}-{}", "t".repeat(44)),
        override_channel: true,
        created_by: CreatedBy {
            id: "u-admin".into(),
            username: "admin".into(),
        },
        created_at: Ts(created_at),
        updated_at: Ts(created_at),
        outgoing: None,
    }
}

pub async fn integrations(store: DynStore) {
    let empty = store.list_integrations(Page::new(0, 10)).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);
    assert_eq!(store.integration("i-none").await.unwrap(), None);

    let a = integration("i-a", 3_000);
    let b = integration("i-b", 1_000);
    let mut c = integration("i-c", 2_000);
    c.kind = WEBHOOK_OUTGOING.into();
    c.outgoing = Some(OutgoingHook {
        event: "sendMessage".into(),
        urls: vec!["https://bot.example.com/in".into()],
        trigger_words: vec!["!deploy".into()],
        trigger_word_anywhere: false,
        run_on_edits: true,
        target_room: Some("#ops".into()),
        retry_failed_calls: true,
        retry_count: 6,
        retry_delay: "powers-of-ten".into(),
        impersonate_user: false,
    });
    for i in [&a, &b, &c] {
        store.insert_integration(i).await.unwrap();
    }
    assert_conflict(store.insert_integration(&a).await, "id");
    assert_eq!(store.integration("i-a").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.integration("i-c").await.unwrap(),
        Some(c.clone()),
        "an outgoing webhook's fields round-trip"
    );

    let all = store.list_integrations(Page::new(0, 10)).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        ids(&all.items, |i| &i.id),
        vec!["i-b", "i-c", "i-a"],
        "creation order"
    );
    let page = store.list_integrations(Page::new(1, 1)).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(ids(&page.items, |i| &i.id), vec!["i-c"]);
    let none = store.list_integrations(Page::new(0, 0)).await.unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.total, 3);

    // Replacing keeps nothing of the old record, including cleared optional fields.
    let mut a2 = a.clone();
    a2.enabled = false;
    a2.alias = None;
    a2.avatar = None;
    a2.emoji = Some(":ghost:".into());
    a2.channel = vec!["room-id-1".into()];
    a2.override_channel = false;
    a2.updated_at = Ts(4_000);
    assert!(store.update_integration(&a2).await.unwrap());
    assert_eq!(store.integration("i-a").await.unwrap(), Some(a2.clone()));
    assert!(!store
        .update_integration(&integration("i-none", 1))
        .await
        .unwrap());
    assert_eq!(store.integration("i-none").await.unwrap(), None);

    assert!(store.delete_integration("i-b").await.unwrap());
    assert!(!store.delete_integration("i-b").await.unwrap());
    assert_eq!(store.integration("i-b").await.unwrap(), None);
    let left = store.list_integrations(Page::new(0, 10)).await.unwrap();
    assert_eq!(left.total, 2);
    assert_eq!(ids(&left.items, |i| &i.id), vec!["i-c", "i-a"]);
    assert_eq!(left.items[1], a2);
}
