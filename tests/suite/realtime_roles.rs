//! Role and permission events over DDP as Rocket.Chat emits them (`stream-roles`
//! `roles`, `stream-notify-logged` `permissions-changed` and `roles-change`), the
//! `getUserRoles` method, and a permission change on one instance in force on
//! another sharing the same MongoDB.

use palaver_tests::ddp::Ddp;
use palaver_tests::mongo::mongo_uri;
use serde_json::json;

use crate::common::*;

const LOGGED: &str = "stream-notify-logged";

#[tokio::test]
async fn role_and_permission_events_reach_logged_in_users() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    ddp.sub(LOGGED, json!(["permissions-changed", false])).await;
    ddp.sub(LOGGED, json!(["roles-change", false])).await;
    ddp.sub("stream-roles", json!(["roles", false])).await;
    let mut anon = Ddp::connect(&srv).await;
    anon.sub_refused("stream-roles", json!(["roles", false]))
        .await;

    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "create-c", "roles": ["admin", "user"]}]}),
    )
    .await;
    let frame = ddp.event(LOGGED, "permissions-changed").await;
    let args = &frame["fields"]["args"];
    assert_eq!(args[0], json!("updated"), "{frame}");
    assert_eq!(args[1]["_id"], json!("create-c"), "{frame}");
    assert_eq!(args[1]["roles"], json!(["admin", "user"]), "{frame}");
    assert!(args[1]["_updatedAt"]["$date"].is_i64(), "{frame}");

    let created = srv
        .post_ok(
            "roles.create",
            &admin,
            json!({"name": "Support", "description": "Helps"}),
        )
        .await;
    let role_id = created["role"]["_id"].as_str().unwrap().to_string();
    let frame = ddp.event("stream-roles", "roles").await;
    let payload = &frame["fields"]["args"][0];
    assert_eq!(payload["type"], json!("changed"), "{frame}");
    assert_eq!(payload["_id"], json!(role_id), "{frame}");
    assert_eq!(payload["name"], json!("Support"), "{frame}");

    srv.post_ok(
        "roles.addUserToRole",
        &admin,
        json!({"roleId": role_id, "username": "alice"}),
    )
    .await;
    let frame = ddp.event(LOGGED, "roles-change").await;
    let payload = &frame["fields"]["args"][0];
    assert_eq!(payload["type"], json!("added"), "{frame}");
    assert_eq!(payload["_id"], json!(role_id), "{frame}");
    assert_eq!(payload["u"]["_id"], json!(alice.user_id), "{frame}");
    assert!(payload.get("scope").is_none(), "{frame}");

    srv.post_ok(
        "channels.addModerator",
        &admin,
        json!({"roomId": "GENERAL", "userId": alice.user_id}),
    )
    .await;
    let frame = ddp.event(LOGGED, "roles-change").await;
    let payload = &frame["fields"]["args"][0];
    assert_eq!(payload["_id"], json!("moderator"), "{frame}");
    assert_eq!(payload["scope"], json!("GENERAL"), "{frame}");

    // getUserRoles: users holding public roles (admin, and alice's Support).
    let roles = ddp.call_ok("getUserRoles", json!([])).await;
    let users = roles.as_array().unwrap_or_else(|| panic!("{roles}"));
    let alice_entry = users
        .iter()
        .find(|u| u["username"] == json!("alice"))
        .unwrap_or_else(|| panic!("{roles}"));
    assert!(alice_entry["roles"]
        .as_array()
        .unwrap()
        .contains(&json!(role_id)));
    assert!(
        users.iter().any(|u| u["username"] == json!("admin")),
        "{roles}"
    );

    srv.post_ok(
        "roles.removeUserFromRole",
        &admin,
        json!({"roleId": role_id, "username": "alice"}),
    )
    .await;
    let frame = ddp.event(LOGGED, "roles-change").await;
    assert_eq!(
        frame["fields"]["args"][0]["type"],
        json!("removed"),
        "{frame}"
    );
    srv.post_ok("roles.delete", &admin, json!({"roleId": role_id}))
        .await;
    let frame = ddp.event("stream-roles", "roles").await;
    assert_eq!(
        frame["fields"]["args"][0]["type"],
        json!("removed"),
        "{frame}"
    );
}

/// Two instances on one MongoDB: a permission revoked on A is refused on B at once,
/// and B's clients hear of the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_change_on_one_instance_takes_effect_on_another() {
    let uri = mongo_uri("permissions_two_instances");
    let a = Palaver::builder().storage_uri(&uri).start().await;
    let b = Palaver::builder().storage_uri(&uri).start().await;
    let admin_a = a.admin().await;
    let alice_b = b.create_user(&b.admin().await, "alice").await;
    b.post_ok("channels.create", &alice_b, json!({"name": "before"}))
        .await;

    let mut on_b = Ddp::connect_as(&b, &alice_b).await;
    on_b.sub(LOGGED, json!(["permissions-changed", false]))
        .await;
    a.post_ok(
        "permissions.update",
        &admin_a,
        json!({"permissions": [{"_id": "create-c", "roles": ["admin"]}]}),
    )
    .await;
    // In force on B without waiting for any event.
    let (status, body) = b
        .post("channels.create", &alice_b, json!({"name": "after"}))
        .await;
    assert_error(status, &body, 403, None, "create-c revoked on A");
    let frame = on_b.event(LOGGED, "permissions-changed").await;
    assert_eq!(
        frame["fields"]["args"][1]["_id"],
        json!("create-c"),
        "{frame}"
    );
    assert_eq!(
        frame["fields"]["args"][1]["roles"],
        json!(["admin"]),
        "{frame}"
    );
}
