//! Presence and status over REST, in Rocket.Chat's shapes: `users.setStatus`
//! (status, message, settings that forbid them, someone else's status),
//! `users.getStatus`, `users.getPresence`, `users.presence` (`ids`, `from`, full)
//! and `users.listByStatus`; the status on `/me` and `users.info`.

use palaver_tests::ddp::Ddp;
use palaver_tests::server::Palaver;
use serde_json::json;

use crate::common::{assert_error, iso_now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_presence_over_rest() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let dana = srv.create_user(&admin, "dana").await;
    let eve = srv.create_user(&admin, "eve").await;

    // Nobody connected: offline everywhere.
    let own = srv.get_ok("users.getStatus", &dana).await;
    assert_eq!(own["status"], "offline", "{own}");
    assert_eq!(own["connectionStatus"], "offline", "{own}");
    let p = srv
        .get_ok(&format!("users.getPresence?userId={}", dana.user_id), &eve)
        .await;
    assert_eq!(p, json!({"presence": "offline", "success": true}));

    // Connected over DDP: online; `users.presence` lists her (full, and by ids).
    let _ddp = Ddp::connect_as(&srv, &dana).await;
    // Recorded just after the login's answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while srv.get_ok("users.getStatus", &dana).await["status"] != "online" {
        assert!(std::time::Instant::now() < deadline, "dana is online");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let own = srv.get_ok("users.getPresence", &dana).await;
    assert_eq!(own["presence"], "online", "{own}");
    assert_eq!(own["connectionStatus"], "online", "{own}");
    assert!(own["lastLogin"].is_string(), "{own}");
    let all = srv.get_ok("users.presence", &eve).await;
    assert_eq!(all["full"], true, "{all}");
    let listed = all["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["_id"] == dana.user_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("dana is present: {all}"));
    assert_eq!(listed["username"], "dana");
    assert_eq!(listed["status"], "online");
    // The rocket.cat bot is online from the start, as in Rocket.Chat (it never
    // connects), with an avatar etag; no status text, so none is listed.
    let cat = all["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "rocket.cat")
        .cloned()
        .unwrap_or_else(|| panic!("rocket.cat is present: {all}"));
    let mut keys: Vec<&str> = cat
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "_id",
            "avatarETag",
            "name",
            "status",
            "username",
            "utcOffset"
        ],
        "{cat}"
    );
    assert_eq!(cat["_id"], "rocket.cat", "{cat}");
    assert_eq!(cat["name"], "Rocket.Cat", "{cat}");
    assert_eq!(cat["status"], "online", "{cat}");
    let etag = cat["avatarETag"].as_str().expect("avatarETag");
    assert!(!etag.is_empty(), "{cat}");
    let cat_info = srv.get_ok("users.info?username=rocket.cat", &eve).await;
    assert_eq!(cat_info["user"]["avatarETag"], etag, "{cat_info}");
    let by_ids = srv
        .get_ok(
            &format!("users.presence?ids={},{}", dana.user_id, eve.user_id),
            &eve,
        )
        .await;
    assert_eq!(by_ids["full"], false, "{by_ids}");
    let names: Vec<&str> = by_ids["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["dana"], "only users not offline: {by_ids}");

    // Member lists carry it.
    let room = srv
        .post_ok("im.create", &eve, json!({"username": "dana"}))
        .await;
    let rid = room["room"]["_id"].as_str().expect("rid").to_string();
    let members = srv.get_ok(&format!("im.members?roomId={rid}"), &eve).await;
    let status_in = |name: &str| {
        members["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["username"] == name)
            .map(|m| m["status"].clone())
    };
    assert_eq!(status_in("dana"), Some(json!("online")), "{members}");
    assert_eq!(status_in("eve"), Some(json!("offline")), "{members}");

    // Status and message.
    let from = iso_now();
    srv.post_ok(
        "users.setStatus",
        &dana,
        json!({"status": "away", "message": "  lunch  "}),
    )
    .await;
    let me = srv.get_ok("me", &dana).await;
    assert_eq!(me["status"], "away", "{me}");
    assert_eq!(me["statusText"], "lunch", "{me}");
    assert_eq!(me["statusDefault"], "away", "{me}");
    let info = srv
        .get_ok(&format!("users.info?userId={}", dana.user_id), &eve)
        .await;
    assert_eq!(info["user"]["status"], "away", "{info}");
    assert_eq!(info["user"]["statusText"], "lunch", "{info}");
    let since = srv
        .get_ok(&format!("users.presence?from={from}"), &eve)
        .await;
    assert_eq!(since["full"], false, "{since}");
    assert!(
        since["users"].to_string().contains("lunch"),
        "changed since `from`: {since}"
    );
    let other = srv.get_ok("users.getStatus?username=dana", &eve).await;
    assert_eq!(
        other,
        json!({"_id": dana.user_id, "status": "away", "success": true})
    );

    // Refusals: an unknown status, nothing to set, someone else's status, a
    // workspace that forbids changes.
    let (s, b) = srv
        .post("users.setStatus", &dana, json!({"status": "invisible"}))
        .await;
    assert_error(s, &b, 400, Some("error-invalid-status"), "unknown status");
    let (s, b) = srv.post("users.setStatus", &dana, json!({})).await;
    assert_eq!(s.as_u16(), 400, "{b}");
    let (s, b) = srv
        .post(
            "users.setStatus",
            &eve,
            json!({"userId": dana.user_id, "status": "busy"}),
        )
        .await;
    assert_eq!(s.as_u16(), 403, "someone else's status: {b}");
    // Rocket.Chat's bare `API.v1.unauthorized()`.
    assert_eq!(b, json!({"success": false, "error": "unauthorized"}));
    srv.post_ok(
        "users.setStatus",
        &admin,
        json!({"userId": dana.user_id, "status": "busy"}),
    )
    .await;
    assert_eq!(srv.get_ok("users.getStatus", &dana).await["status"], "busy");
    srv.post_ok(
        "settings/Accounts_AllowUserStatusMessageChange",
        &admin,
        json!({"value": false}),
    )
    .await;
    let (s, b) = srv
        .post("users.setStatus", &dana, json!({"message": "x"}))
        .await;
    assert_error(s, &b, 400, Some("error-not-allowed"), "status changes off");
    srv.post_ok(
        "settings/Accounts_AllowUserStatusMessageChange",
        &admin,
        json!({"value": true}),
    )
    .await;
    srv.post_ok(
        "settings/Accounts_AllowInvisibleStatusOption",
        &admin,
        json!({"value": false}),
    )
    .await;
    let (s, b) = srv
        .post("users.setStatus", &dana, json!({"status": "offline"}))
        .await;
    assert_error(
        s,
        &b,
        400,
        Some("error-status-not-allowed"),
        "invisible off",
    );

    // The admin's list by account status.
    let list = srv
        .get_ok("users.listByStatus?status=active&searchTerm=dan", &admin)
        .await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["users"][0]["username"], "dana", "{list}");
    // Rocket.Chat's `view-d-room`, which plain users hold until an admin takes it away.
    srv.get_ok("users.listByStatus", &eve).await;
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "view-d-room", "roles": ["admin"]}]}),
    )
    .await;
    let (s, b) = srv.get("users.listByStatus", &eve).await;
    assert!(s.is_client_error(), "needs view-d-room: {s} {b}");
}
