//! The settings audit log: insert, then list newest (or oldest) first, filtered by
//! setting, actor and time, one page at a time, with the total of all matches.

use palaver_server::store::settings_audit::{ChangeActor, SettingChange, SettingChangeQuery};
use palaver_server::store::{DynStore, Page, Ts};
use serde_json::{json, Value};

use super::{assert_conflict, ids};

fn change(
    id: &str,
    setting: &str,
    actor: &str,
    ts: i64,
    previous: Value,
    current: Value,
) -> SettingChange {
    SettingChange {
        id: id.into(),
        setting_id: setting.into(),
        ts: Ts(ts),
        actor: ChangeActor {
            id: format!("u-{actor}"),
            username: actor.into(),
            ip: Some("127.0.0.1".into()),
            useragent: (actor == "admin").then(|| "test-agent/1".into()),
        },
        previous,
        current,
    }
}

fn query() -> SettingChangeQuery {
    SettingChangeQuery::default()
}

pub async fn setting_changes(store: DynStore) {
    let empty = store
        .setting_changes(&query(), Page::new(0, 10))
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let c1 = change(
        "c-1",
        "Site_Name",
        "admin",
        1_000,
        json!("Palaver"),
        json!("Acme"),
    );
    let c2 = change(
        "c-2",
        "Message_MaxAllowedSize",
        "ops",
        2_000,
        json!(5000),
        json!(10),
    );
    let c3 = change(
        "c-3",
        "Site_Name",
        "ops",
        3_000,
        json!("Acme"),
        json!({"nested": [1, null]}),
    );
    // Same time as c-3: ties are ordered by id.
    let c4 = change(
        "c-4",
        "SMTP_Password",
        "admin",
        3_000,
        json!(""),
        json!("********"),
    );
    for c in [&c3, &c1, &c4, &c2] {
        store.insert_setting_change(c).await.unwrap();
    }
    assert_conflict(store.insert_setting_change(&c1).await, "id");

    let all = store
        .setting_changes(&query(), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(
        ids(&all.items, |c| &c.id),
        vec!["c-4", "c-3", "c-2", "c-1"],
        "newest first"
    );
    assert_eq!(all.items[3], c1, "read back as written");
    assert_eq!(all.items[1], c3);

    let oldest = SettingChangeQuery {
        oldest_first: true,
        ..query()
    };
    let page = store
        .setting_changes(&oldest, Page::new(1, 2))
        .await
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(ids(&page.items, |c| &c.id), vec!["c-2", "c-3"]);

    let by_setting = SettingChangeQuery {
        setting_id: Some("Site_Name".into()),
        ..query()
    };
    let site = store
        .setting_changes(&by_setting, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(site.total, 2);
    assert_eq!(ids(&site.items, |c| &c.id), vec!["c-3", "c-1"]);

    let by_actor_and_time = SettingChangeQuery {
        actor_id: Some("u-ops".into()),
        since: Some(Ts(2_500)),
        until: Some(Ts(3_000)),
        ..query()
    };
    let ops = store
        .setting_changes(&by_actor_and_time, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ops.total, 1);
    assert_eq!(ids(&ops.items, |c| &c.id), vec!["c-3"]);

    let window = SettingChangeQuery {
        since: Some(Ts(2_000)),
        until: Some(Ts(2_000)),
        ..query()
    };
    let exact = store
        .setting_changes(&window, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(
        ids(&exact.items, |c| &c.id),
        vec!["c-2"],
        "bounds are inclusive"
    );

    let none = store
        .setting_changes(&query(), Page::new(0, 0))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.total, 4);
    let past_end = store
        .setting_changes(&query(), Page::new(10, 5))
        .await
        .unwrap();
    assert!(past_end.items.is_empty());
    assert_eq!(past_end.total, 4);
}
