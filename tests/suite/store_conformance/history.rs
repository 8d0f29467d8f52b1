//! History boundaries: messages of the same millisecond, inclusive and exclusive
//! bounds at such a millisecond, and pages that neither skip nor repeat.

use std::collections::BTreeSet;

use palaver_server::store::{DynStore, HistoryQuery, Page, PostEffects, Subscription, Ts};

use super::{channel, message, reply, sub, user};

/// The ids of a history page.
async fn page(store: &DynStore, q: &HistoryQuery) -> Vec<String> {
    let items = store.history("r-t", q).await.unwrap();
    items.into_iter().map(|m| m.id).collect()
}

pub async fn history_ties(store: DynStore) {
    let alice = user("u-alice", "alice", None);
    let room = channel("r-t", "ties", 1);
    let subs: Vec<Subscription> = vec![sub(&room, &alice, Ts(1))];
    store.create_room(&room, &subs).await.unwrap();
    let fx = PostEffects::default();
    // Three groups of five messages sharing a millisecond (100, 200, 300), ids
    // posted out of order so that insertion order is not id order.
    let mut all = Vec::new();
    for ts in [100, 200, 300] {
        for k in [3, 0, 4, 1, 2] {
            let id = format!("m-{ts}-{k}");
            store
                .insert_message(&message(&id, "r-t", &alice, ts, "x"), &fx)
                .await
                .unwrap();
            all.push((ts, id));
        }
    }
    // Newest first; within a millisecond in the backend's one stable order
    // (posting order on SQLite, `_id` on MongoDB), the same on every request.
    let full = HistoryQuery {
        count: 100,
        ..Default::default()
    };
    let newest_first = page(&store, &full).await;
    let mut groups: Vec<(i64, String)> = all.clone();
    groups.sort_by_key(|g| std::cmp::Reverse(g.0));
    let by_ts: Vec<i64> = groups.iter().map(|(ts, _)| *ts).collect();
    let ts_of = |id: &String| all.iter().find(|(_, i)| i == id).map(|(ts, _)| *ts);
    let got_ts: Vec<i64> = newest_first.iter().filter_map(ts_of).collect();
    assert_eq!(got_ts, by_ts, "newest first: {newest_first:?}");
    let unique: BTreeSet<&String> = newest_first.iter().collect();
    assert_eq!(unique.len(), 15);
    assert_eq!(page(&store, &full).await, newest_first, "a stable order");

    // Offset pages of every size cover the room exactly once, in that order.
    for size in 1..=7 {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let q = HistoryQuery {
                offset,
                count: size,
                ..Default::default()
            };
            let got = page(&store, &q).await;
            if got.is_empty() {
                break;
            }
            offset += got.len() as u64;
            seen.extend(got);
        }
        assert_eq!(seen, newest_first, "pages of {size}");
    }

    // Bounds at a shared millisecond: exclusive leaves out the whole group,
    // inclusive takes all of it.
    let at = |latest: Option<i64>, oldest: Option<i64>, inclusive: bool| HistoryQuery {
        latest: latest.map(Ts),
        oldest: oldest.map(Ts),
        inclusive,
        count: 100,
        ..Default::default()
    };
    assert_eq!(
        page(&store, &at(Some(200), None, false)).await,
        newest_first[10..]
    );
    assert_eq!(
        page(&store, &at(Some(200), None, true)).await,
        newest_first[5..]
    );
    assert_eq!(
        page(&store, &at(None, Some(200), false)).await,
        newest_first[..5]
    );
    assert_eq!(
        page(&store, &at(None, Some(200), true)).await,
        newest_first[..10]
    );
    assert_eq!(
        page(&store, &at(Some(200), Some(200), true)).await,
        newest_first[5..10]
    );
    assert!(page(&store, &at(Some(200), Some(200), false))
        .await
        .is_empty());
    assert_eq!(
        store
            .count_history("r-t", &at(Some(300), Some(100), true))
            .await
            .unwrap(),
        15
    );
    assert_eq!(
        store
            .count_history("r-t", &at(Some(300), Some(100), false))
            .await
            .unwrap(),
        5
    );

    // Paging with `latest` (inclusive, as the web client does, so a page that ends
    // inside a millisecond does not lose the rest of it) and dropping what was seen
    // reaches every message once. (`latest` is a time: a millisecond holding more
    // messages than a page cannot be split by it; `offset` can.)
    for size in 6..=8 {
        let mut seen: Vec<String> = Vec::new();
        let mut latest = None;
        loop {
            let q = HistoryQuery {
                latest,
                inclusive: latest.is_some(),
                count: size,
                ..Default::default()
            };
            let items = store.history("r-t", &q).await.unwrap();
            let before = seen.len();
            for m in &items {
                if !seen.contains(&m.id) {
                    seen.push(m.id.clone());
                }
            }
            let Some(last) = items.last() else { break };
            if seen.len() == before {
                break;
            }
            latest = Some(last.ts);
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a repeat with pages of {size}");
        assert_eq!(seen, newest_first, "pages of {size} through latest");
    }

    // Thread pages of replies sharing a millisecond: oldest first, then by id.
    let parent = message("m-parent", "r-t", &alice, 400, "thread");
    store.insert_message(&parent, &fx).await.unwrap();
    for k in [2, 0, 1] {
        let r = reply(&format!("t-{k}"), &parent, &alice, 500, "r");
        store.insert_message(&r, &fx).await.unwrap();
    }
    let whole: Vec<String> = store
        .thread_messages("m-parent", Page::new(0, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let mut ids = Vec::new();
    for offset in 0..3 {
        let t = store
            .thread_messages("m-parent", Page::new(offset, 1))
            .await
            .unwrap();
        ids.extend(t.into_iter().map(|m| m.id));
    }
    assert_eq!(ids, whole, "pages of one neither skip nor repeat");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 3);
    // Leaving thread replies out skips them at any depth.
    let main = HistoryQuery {
        count: 3,
        exclude_thread_replies: true,
        ..Default::default()
    };
    let top = page(&store, &main).await;
    assert_eq!(top[..2], ["m-parent".to_string(), newest_first[0].clone()]);
}

/// The stage names and index names of an `explain` answer's winning plan.
pub fn plan_stages(explain: &mongodb::bson::Document) -> (Vec<String>, Vec<String>) {
    use mongodb::bson::{Bson, Document};
    fn walk(d: &Document, stages: &mut Vec<String>, indexes: &mut Vec<String>) {
        if let Ok(s) = d.get_str("stage") {
            stages.push(s.to_string());
        }
        if let Ok(i) = d.get_str("indexName") {
            indexes.push(i.to_string());
        }
        for (_, v) in d {
            match v {
                Bson::Document(c) => walk(c, stages, indexes),
                Bson::Array(a) => {
                    for c in a {
                        if let Bson::Document(c) = c {
                            walk(c, stages, indexes);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let winning = explain
        .get_document("queryPlanner")
        .and_then(|q| q.get_document("winningPlan"))
        .unwrap_or_else(|_| panic!("no queryPlanner.winningPlan in {explain}"));
    let (mut stages, mut indexes) = (Vec::new(), Vec::new());
    walk(winning, &mut stages, &mut indexes);
    (stages, indexes)
}
