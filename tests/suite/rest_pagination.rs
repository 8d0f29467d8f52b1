//! Pagination and sorting of lists: `offset`, `count` (default 50, max 100), `total`,
//! and Rocket.Chat's JSON `sort` by name and by ts.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array: {list}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn channels_list_paginates_sorts_and_caps_count_at_100() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let base = srv.get_ok("channels.list", &admin).await["total"]
        .as_u64()
        .unwrap();
    for i in 0..105 {
        srv.post_ok(
            "channels.create",
            &admin,
            json!({ "name": format!("chan-{i:03}") }),
        )
        .await;
    }
    let total = base + 105;

    let default = srv.get_ok("channels.list", &admin).await;
    assert_page(
        &default,
        "channels",
        50,
        0,
        total,
        "channels.list default count is 50",
    );
    let capped = srv.get_ok("channels.list?count=500", &admin).await;
    assert_page(
        &capped,
        "channels",
        100,
        0,
        total,
        "channels.list count is capped at 100",
    );
    let capped = srv.get_ok("channels.list?count=101", &admin).await;
    assert_eq!(
        capped["channels"].as_array().unwrap().len(),
        100,
        "count=101 is capped: {}",
        capped["count"]
    );

    // Sorted by name, ascending and descending, via Rocket.Chat's JSON `sort`.
    let sort_asc = enc(r#"{"name":1}"#);
    let first = srv
        .get_ok(&format!("channels.list?count=100&sort={sort_asc}"), &admin)
        .await;
    let rest = srv
        .get_ok(
            &format!("channels.list?count=100&offset=100&sort={sort_asc}"),
            &admin,
        )
        .await;
    assert_page(
        &rest,
        "channels",
        (total - 100) as usize,
        100,
        total,
        "second page",
    );
    let mut all = names(&first["channels"]);
    all.extend(names(&rest["channels"]));
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "sort={{\"name\":1}} is ascending by name");
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len() as u64, total, "pages overlap or miss channels");
    for i in 0..105 {
        assert!(
            unique.contains(&format!("chan-{i:03}")),
            "chan-{i:03} missing"
        );
    }
    let window = srv
        .get_ok(
            &format!("channels.list?offset=10&count=5&sort={sort_asc}"),
            &admin,
        )
        .await;
    assert_page(&window, "channels", 5, 10, total, "offset=10&count=5");
    assert_eq!(
        names(&window["channels"]),
        all[10..15].to_vec(),
        "offset/count select the right window"
    );

    let sort_desc = enc(r#"{"name":-1}"#);
    let desc = srv
        .get_ok(&format!("channels.list?count=3&sort={sort_desc}"), &admin)
        .await;
    let mut expected = sorted.clone();
    expected.reverse();
    assert_eq!(
        names(&desc["channels"]),
        expected[..3].to_vec(),
        "sort={{\"name\":-1}}"
    );

    // Odd pagination values never produce a server error.
    for q in [
        "count=-1",
        "offset=-5",
        "count=abc",
        "offset=xyz",
        "count=0",
        "sort=notjson",
        "sort=%7B%22name%22%3A5%7D",
    ] {
        let (status, body) = srv.get(&format!("channels.list?{q}"), &admin).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "channels.list?{q} → {status} {body}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_error(status, &body, 400, None, &format!("channels.list?{q}"));
        } else {
            assert!(
                body["channels"].as_array().is_some_and(|c| c.len() <= 100),
                "channels.list?{q}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn lists_sort_by_ts() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let made = ["ts-b", "ts-c", "ts-a"];
    for name in made {
        create_channel(&srv, &admin, name, &[]).await;
        tick().await;
    }
    let ours = |body: &Value| -> Vec<String> {
        names(&body["channels"])
            .into_iter()
            .filter(|n| n.starts_with("ts-"))
            .collect()
    };
    let asc = srv
        .get_ok(
            &format!("channels.list?sort={}", enc(r#"{"ts":1}"#)),
            &admin,
        )
        .await;
    assert_eq!(ours(&asc), made.to_vec(), "sort={{\"ts\":1}}: {asc}");
    let desc = srv
        .get_ok(
            &format!("channels.list?sort={}", enc(r#"{"ts":-1}"#)),
            &admin,
        )
        .await;
    let mut rev = made.to_vec();
    rev.reverse();
    assert_eq!(ours(&desc), rev, "sort={{\"ts\":-1}}: {desc}");
    let joined = srv
        .get_ok(
            &format!("channels.list.joined?sort={}", enc(r#"{"name":1}"#)),
            &admin,
        )
        .await;
    assert_eq!(
        ours(&joined),
        vec!["ts-a", "ts-b", "ts-c"],
        "list.joined sorted by name: {joined}"
    );
}
