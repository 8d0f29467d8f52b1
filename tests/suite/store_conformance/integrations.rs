//! Integrations (incoming webhooks): insert, read, list in creation order with
//! pagination, replace, delete.

use palaver_server::store::integrations::{
    CreatedBy, Integration, IntegrationHistory, OutgoingHook, WEBHOOK_INCOMING, WEBHOOK_OUTGOING,
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
        script_enabled: false,
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
    let mut b = integration("i-b", 1_000);
    // Rocket.Chat's `scriptEnabled` round-trips (an empty script, the only kind kept).
    b.script_enabled = true;
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
        store.integration("i-b").await.unwrap(),
        Some(b.clone()),
        "scriptEnabled round-trips"
    );
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

fn history_entry(id: &str, integration: &str, at: i64) -> IntegrationHistory {
    IntegrationHistory {
        id: id.into(),
        integration_id: integration.into(),
        kind: WEBHOOK_OUTGOING.into(),
        event: "sendMessage".into(),
        step: "after-http-call".into(),
        url: Some("https://hooks.example.com/a".into()),
        request: Some(r#"{"text":"hi"}"#.into()),
        status: Some(200),
        response: Some("ok".into()),
        error: None,
        trigger_word: Some("!go".into()),
        delivery_id: Some(format!("d-{id}")),
        attempt: Some(1),
        retrying: false,
        at: Ts(at),
    }
}

/// Integrations' history: per integration, newest first (ties by id), paginated;
/// pruned to the newest `keep` not older than a cutoff; deleted with the integration.
pub async fn integration_history(store: DynStore) {
    let none = store
        .integration_history("i-a", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
    for (id, at) in [
        ("h1", 1000),
        ("h2", 2000),
        ("h3", 2000),
        ("h4", 3000),
        ("h5", 4000),
    ] {
        store
            .insert_integration_history(&history_entry(id, "i-a", at))
            .await
            .unwrap();
    }
    let mut failed = history_entry("x1", "i-b", 2500);
    failed.status = None;
    failed.error = Some("network error: connection refused".into());
    failed.retrying = true;
    store.insert_integration_history(&failed).await.unwrap();

    let all = store
        .integration_history("i-a", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    let order: Vec<&str> = all.items.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(
        order,
        ["h5", "h4", "h3", "h2", "h1"],
        "newest first, ties by id"
    );
    assert_eq!(all.items[0], history_entry("h5", "i-a", 4000), "round trip");
    let page = store
        .integration_history("i-a", Page::new(1, 2))
        .await
        .unwrap();
    let order: Vec<&str> = page.items.iter().map(|h| h.id.as_str()).collect();
    assert_eq!((order, page.total), (vec!["h4", "h3"], 5));
    let b = store
        .integration_history("i-b", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(b.items, vec![failed.clone()]);

    // Keep 3: h1 and h2 go (h2 ties h3 on time and sorts after it).
    let pruned = store
        .prune_integration_history("i-a", 3, Ts(0))
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    let kept = store
        .integration_history("i-a", Page::new(0, 10))
        .await
        .unwrap();
    let order: Vec<&str> = kept.items.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(order, ["h5", "h4", "h3"]);
    // By age: older than 3000 goes, whatever the count.
    assert_eq!(
        store
            .prune_integration_history("i-a", 100, Ts(3000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .integration_history("i-a", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        2
    );
    // Other integrations are untouched; deleting takes one integration's all.
    assert_eq!(
        store
            .integration_history("i-b", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(store.delete_integration_history("i-a").await.unwrap(), 2);
    assert_eq!(
        store
            .integration_history("i-a", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .integration_history("i-b", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        1
    );
}
