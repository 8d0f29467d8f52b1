//! Message reports: insert (ids unique), list one message's newest first with
//! pagination and its total, other messages' reports apart.

use palaver_server::store::moderation::{MessageReport, ReportedBy, ReportedRoom};
use palaver_server::store::{DynStore, Page, Ts};
use serde_json::json;

use super::{assert_conflict, ids};

fn report(id: &str, mid: &str, ts: i64) -> MessageReport {
    MessageReport {
        id: id.into(),
        message: json!({"_id": mid, "rid": "r-1", "msg": "spam spam"}),
        message_id: mid.into(),
        description: format!("report {id}"),
        room: ReportedRoom {
            id: "r-1".into(),
            name: Some("general".into()),
            fname: None,
            t: "c".into(),
        },
        reported_by: ReportedBy {
            id: "u-alice".into(),
            username: "alice".into(),
            name: "Alice".into(),
        },
        ts: Ts(ts),
    }
}

pub async fn message_reports(store: DynStore) {
    let none = store
        .message_reports("m-1", Page::new(0, 10))
        .await
        .unwrap();
    assert!(none.items.is_empty());
    assert_eq!(none.total, 0);

    let a = report("rep-a", "m-1", 1_000);
    let b = report("rep-b", "m-1", 3_000);
    let c = report("rep-c", "m-1", 2_000);
    let other = report("rep-x", "m-2", 5_000);
    for r in [&a, &b, &c, &other] {
        store.insert_message_report(r).await.unwrap();
    }
    assert_conflict(store.insert_message_report(&a).await, "id");

    let all = store
        .message_reports("m-1", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        ids(&all.items, |r| &r.id),
        vec!["rep-b", "rep-c", "rep-a"],
        "newest first"
    );
    assert_eq!(all.items[0], b, "a report round-trips");
    let page = store.message_reports("m-1", Page::new(1, 1)).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(ids(&page.items, |r| &r.id), vec!["rep-c"]);
    let two = store
        .message_reports("m-2", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&two.items, |r| &r.id), vec!["rep-x"]);
}
