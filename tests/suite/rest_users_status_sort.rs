//! `users.list` sorted by status, as Rocket.Chat's test "should sort for user
//! statuses and check if deactivated user is correctly sorted": `{"status": 1}`
//! orders by the status as shown (away, busy, offline, online; never connected
//! is offline), then deactivated before active, then username; `-1` reverses it.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

fn ours(body: &Value) -> Vec<(String, String, bool)> {
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["username"].as_str().is_some_and(|n| n.starts_with("st.")))
        .map(|u| {
            (
                u["username"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
                u["active"].as_bool().unwrap_or(true),
            )
        })
        .collect()
}

#[tokio::test]
async fn users_list_sorts_by_status_then_active() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let mut sessions = Vec::new();
    for name in [
        "st.online",
        "st.away",
        "st.busy",
        "st.off",
        "st.zed.off",
        "st.deact",
    ] {
        sessions.push(srv.create_user(&admin, name).await);
    }
    // Connected: online, away and busy; the others never connect.
    let mut connections = Vec::new();
    for (who, status) in [(0, None), (1, Some("away")), (2, Some("busy"))] {
        connections.push(Ddp::connect_as(&srv, &sessions[who]).await);
        if let Some(status) = status {
            srv.post_ok(
                "users.setStatus",
                &sessions[who],
                json!({ "status": status }),
            )
            .await;
        }
    }
    srv.post_ok(
        "users.setActiveStatus",
        &admin,
        json!({"userId": sessions[5].user_id, "activeStatus": false}),
    )
    .await;

    let asc = [
        ("st.away", "away", true),
        ("st.busy", "busy", true),
        ("st.deact", "offline", false),
        ("st.off", "offline", true),
        ("st.zed.off", "offline", true),
        ("st.online", "online", true),
    ];
    let expected = |list: &[(&str, &str, bool)]| -> Vec<(String, String, bool)> {
        list.iter()
            .map(|(n, s, a)| (n.to_string(), s.to_string(), *a))
            .collect()
    };
    let fields = enc(r#"{"username": 1, "_id": 1, "active": 1, "status": 1}"#);
    let list = |dir: i32| {
        let srv = &srv;
        let admin = &admin;
        let fields = fields.clone();
        async move {
            let sort = enc(&format!(r#"{{"status": {dir}}}"#));
            srv.get_ok(
                &format!("users.list?fields={fields}&sort={sort}&count=100"),
                admin,
            )
            .await
        }
    };
    // Presence settles right after the connections and status changes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut body = list(1).await;
    while ours(&body) != expected(&asc) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        body = list(1).await;
    }
    assert_eq!(ours(&body), expected(&asc), "{body}");
    assert_eq!(
        body["total"],
        json!(body["users"].as_array().map(Vec::len)),
        "{body}"
    );

    let mut desc = asc;
    desc.reverse();
    let body = list(-1).await;
    assert_eq!(ours(&body), expected(&desc), "{body}");

    // Pages follow the same order.
    let sort = enc(r#"{"status": 1}"#);
    let all = list(1).await;
    let everyone: Vec<Value> = all["users"].as_array().expect("users").clone();
    for offset in 0..everyone.len() {
        let page = srv
            .get_ok(
                &format!("users.list?sort={sort}&count=2&offset={offset}"),
                &admin,
            )
            .await;
        let want: Vec<&Value> = everyone
            .iter()
            .skip(offset)
            .take(2)
            .map(|u| &u["_id"])
            .collect();
        let got: Vec<&Value> = page["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| &u["_id"])
            .collect();
        assert_eq!(got, want, "offset {offset}: {page}");
    }

    let bad = enc(r#"{"status": 2}"#);
    let (s, b) = srv.get(&format!("users.list?sort={bad}"), &admin).await;
    assert_error(s, &b, 400, None, "status: 2");
    drop(connections);
}
