//! Permissions as Rocket.Chat has them: `permissions.listAll` / `permissions.update`,
//! and every permission-checked action refused for a user without the permission,
//! then allowed once `permissions.update` grants it to one of their roles (a global
//! one, or a room role they hold in that room).

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn list_all_and_update() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;

    let all = srv.get_ok("permissions.listAll", &alice).await;
    let update = all["update"].as_array().unwrap();
    assert!(
        update.len() > 150,
        "every Rocket.Chat permission: {}",
        update.len()
    );
    assert_eq!(all["remove"], json!([]));
    let create_c = update
        .iter()
        .find(|p| p["_id"] == json!("create-c"))
        .unwrap();
    assert_eq!(
        create_c["roles"],
        json!(["admin", "user", "bot", "app"]),
        "{create_c}"
    );
    assert!(create_c["_updatedAt"].is_string(), "{create_c}");

    let t0 = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, body) = srv
        .post(
            "permissions.update",
            &alice,
            json!({"permissions": [{"_id": "create-c", "roles": ["admin"]}]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-edit-permissions-not-allowed"),
        "user",
    );
    let (status, body) = srv
        .post(
            "permissions.update",
            &admin,
            json!({"permissions": [{"_id": "no-such-permission", "roles": ["admin"]}]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-permission"),
        "unknown permission",
    );
    let (status, body) = srv
        .post(
            "permissions.update",
            &admin,
            json!({"permissions": [{"_id": "create-c", "roles": ["admin", "nobody"]}]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-role"),
        "unknown role",
    );

    let updated = srv
        .post_ok(
            "permissions.update",
            &admin,
            json!({"permissions": [{"_id": "create-c", "roles": ["admin", "moderator"]}]}),
        )
        .await;
    let perms = updated["permissions"].as_array().unwrap();
    let create_c = perms
        .iter()
        .find(|p| p["_id"] == json!("create-c"))
        .unwrap();
    assert_eq!(create_c["roles"], json!(["admin", "moderator"]));
    let since = srv
        .get_ok(
            &format!("permissions.listAll?updatedSince={}", enc(&t0)),
            &alice,
        )
        .await;
    let changed: Vec<&Value> = since["update"].as_array().unwrap().iter().collect();
    assert_eq!(changed.len(), 1, "{since}");
    assert_eq!(changed[0]["_id"], json!("create-c"));
}

type Attempt =
    for<'a> fn(&'a Palaver, &'a Session, &'a Session, usize) -> BoxFuture<'a, (StatusCode, Value)>;

/// A room made by the admin for one attempt, with `members` besides the admin.
async fn room(
    srv: &Palaver,
    admin: &Session,
    kind: &str,
    name: String,
    members: &[&str],
    ro: bool,
) -> String {
    let body = srv
        .post_ok(
            &format!("{kind}.create"),
            admin,
            json!({"name": name, "members": members, "readOnly": ro}),
        )
        .await;
    let key = if kind == "channels" {
        "channel"
    } else {
        "group"
    };
    body[key]["_id"].as_str().unwrap().to_string()
}

async fn admin_message(srv: &Palaver, who: &Session, rid: &str) -> String {
    let body = srv
        .post_ok(
            "chat.postMessage",
            who,
            json!({"roomId": rid, "text": "hello"}),
        )
        .await;
    body["message"]["_id"].as_str().unwrap().to_string()
}

const M: &[&str] = &["mallory"];

fn cases() -> Vec<(&'static [&'static str], &'static str, Attempt)> {
    vec![
        (&["create-c"], "channels.create", |srv, _, m, n| {
            Box::pin(async move {
                srv.post("channels.create", m, json!({"name": format!("c{n}")}))
                    .await
            })
        }),
        (&["create-p"], "groups.create", |srv, _, m, n| {
            Box::pin(async move {
                srv.post("groups.create", m, json!({"name": format!("p{n}")}))
                    .await
            })
        }),
        (&["create-d"], "im.create", |srv, a, m, n| {
            Box::pin(async move {
                let name = format!("d{n}");
                srv.post_ok("users.create", a, json!({"username": name, "email": format!("{name}@palaver.test"), "password": password_for(&name), "name": name})).await;
                srv.post("im.create", m, json!({"username": name})).await
            })
        }),
        (&["delete-c"], "channels.delete", |srv, a, m, n| {
            Box::pin(async move {
                let rid = room(srv, a, "channels", format!("dc{n}"), M, false).await;
                srv.post("channels.delete", m, json!({"roomId": rid})).await
            })
        }),
        (&["delete-p"], "groups.delete", |srv, a, m, n| {
            Box::pin(async move {
                let rid = room(srv, a, "groups", format!("dp{n}"), M, false).await;
                srv.post("groups.delete", m, json!({"roomId": rid})).await
            })
        }),
        (
            &["add-user-to-joined-room"],
            "channels.invite (member)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("aj{n}"), M, false).await;
                    srv.post(
                        "channels.invite",
                        m,
                        json!({"roomId": rid, "username": "rocket.cat"}),
                    )
                    .await
                })
            },
        ),
        (
            &["add-user-to-any-c-room"],
            "channels.invite (not a member)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("ac{n}"), &[], false).await;
                    srv.post(
                        "channels.invite",
                        m,
                        json!({"roomId": rid, "username": "rocket.cat"}),
                    )
                    .await
                })
            },
        ),
        (&["remove-user"], "channels.kick", |srv, a, m, n| {
            Box::pin(async move {
                let rid = room(
                    srv,
                    a,
                    "channels",
                    format!("k{n}"),
                    &["mallory", "rocket.cat"],
                    false,
                )
                .await;
                srv.post(
                    "channels.kick",
                    m,
                    json!({"roomId": rid, "username": "rocket.cat"}),
                )
                .await
            })
        }),
        (
            &["edit-message"],
            "chat.update (another's)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("em{n}"), M, false).await;
                    let mid = admin_message(srv, a, &rid).await;
                    srv.post(
                        "chat.update",
                        m,
                        json!({"roomId": rid, "msgId": mid, "text": "edited"}),
                    )
                    .await
                })
            },
        ),
        (
            &["delete-message"],
            "chat.delete (another's)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("dm{n}"), M, false).await;
                    let mid = admin_message(srv, a, &rid).await;
                    srv.post("chat.delete", m, json!({"roomId": rid, "msgId": mid}))
                        .await
                })
            },
        ),
        (
            &["delete-own-message"],
            "chat.delete (own)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("do{n}"), M, false).await;
                    let mid = admin_message(srv, m, &rid).await;
                    srv.post("chat.delete", m, json!({"roomId": rid, "msgId": mid}))
                        .await
                })
            },
        ),
        (
            &["post-readonly"],
            "chat.postMessage (read-only room)",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("ro{n}"), M, true).await;
                    srv.post("chat.postMessage", m, json!({"roomId": rid, "text": "hi"}))
                        .await
                })
            },
        ),
        (
            &["set-moderator"],
            "channels.addModerator",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("sm{n}"), M, false).await;
                    srv.post(
                        "channels.addModerator",
                        m,
                        json!({"roomId": rid, "userId": m.user_id}),
                    )
                    .await
                })
            },
        ),
        (&["set-owner"], "groups.addOwner", |srv, a, m, n| {
            Box::pin(async move {
                let rid = room(srv, a, "groups", format!("so{n}"), M, false).await;
                srv.post(
                    "groups.addOwner",
                    m,
                    json!({"roomId": rid, "userId": m.user_id}),
                )
                .await
            })
        }),
        (&["set-leader"], "channels.addLeader", |srv, a, m, n| {
            Box::pin(async move {
                let rid = room(srv, a, "channels", format!("sl{n}"), M, false).await;
                srv.post(
                    "channels.addLeader",
                    m,
                    json!({"roomId": rid, "userId": m.user_id}),
                )
                .await
            })
        }),
        (
            &["edit-room", "view-room-administration"],
            "channels.setDefault",
            |srv, a, m, n| {
                Box::pin(async move {
                    let rid = room(srv, a, "channels", format!("sd{n}"), M, false).await;
                    srv.post(
                        "channels.setDefault",
                        m,
                        json!({"roomId": rid, "default": true}),
                    )
                    .await
                })
            },
        ),
        (&["create-user"], "users.create", |srv, _, m, n| {
            Box::pin(async move {
                let name = format!("u{n}");
                srv.post("users.create", m, json!({"username": name, "email": format!("{name}@palaver.test"), "password": password_for(&name), "name": name})).await
            })
        }),
        (&["edit-other-user-info"], "users.update", |srv, _, m, n| {
            Box::pin(async move {
                srv.post(
                    "users.update",
                    m,
                    json!({"userId": "rocket.cat", "data": {"name": format!("Cat {n}")}}),
                )
                .await
            })
        }),
        (
            &["manage-incoming-integrations"],
            "integrations.create",
            |srv, _, m, n| {
                Box::pin(async move {
                    srv.post("integrations.create", m, json!({"type": "webhook-incoming", "name": format!("hook{n}"), "enabled": true, "channel": "#general", "username": "mallory", "scriptEnabled": false})).await
                })
            },
        ),
        (&["access-permissions"], "roles.create", |srv, _, m, n| {
            Box::pin(async move {
                srv.post("roles.create", m, json!({"name": format!("role{n}")}))
                    .await
            })
        }),
    ]
}

async fn set_roles(srv: &Palaver, admin: &Session, perms: &[&str], roles: &[&str]) {
    let updates: Vec<Value> = perms
        .iter()
        .map(|p| json!({"_id": p, "roles": roles}))
        .collect();
    srv.post_ok("permissions.update", admin, json!({"permissions": updates}))
        .await;
}

#[tokio::test]
async fn every_checked_action_follows_its_permission() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.post_ok(
        "roles.create",
        &admin,
        json!({"name": "granted", "description": ""}),
    )
    .await;
    let granted = srv.get_ok("roles.list", &admin).await;
    let granted_id = granted["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == json!("granted"))
        .unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    srv.post_ok(
        "users.create",
        &admin,
        json!({"username": "mallory", "email": "mallory@palaver.test", "name": "Mallory",
               "password": password_for("mallory"), "roles": ["user", granted_id]}),
    )
    .await;
    let mallory = srv.login("mallory", &password_for("mallory")).await;

    let defaults = srv.get_ok("permissions.listAll", &admin).await;
    let default_roles = |id: &str| -> Vec<String> {
        let p = defaults["update"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["_id"] == json!(id));
        serde_json::from_value(p.unwrap()["roles"].clone()).unwrap()
    };
    let mut n = 0;
    for (perms, action, attempt) in cases() {
        set_roles(&srv, &admin, perms, &["admin"]).await;
        n += 1;
        let (status, body) = attempt(&srv, &admin, &mallory, n).await;
        assert!(
            !status.is_success() && body["success"] == json!(false),
            "{action} without {perms:?}: {status} {body}"
        );
        assert!(
            matches!(status.as_u16(), 400 | 403),
            "{action} without {perms:?}: {status} {body}"
        );
        set_roles(&srv, &admin, perms, &["admin", &granted_id]).await;
        n += 1;
        let (status, body) = attempt(&srv, &admin, &mallory, n).await;
        assert!(
            status.is_success() && body["success"] == json!(true),
            "{action} with {perms:?} granted: {status} {body}"
        );
        // Back to the defaults: each case checks its own permission only.
        for perm in perms {
            let roles = default_roles(perm);
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            set_roles(&srv, &admin, &[perm], &roles).await;
        }
    }
}

#[tokio::test]
async fn a_room_role_grants_a_permission_in_that_room_only() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let here = room(&srv, &admin, "channels", "here".into(), &["alice"], false).await;
    let there = room(&srv, &admin, "channels", "there".into(), &["alice"], false).await;
    srv.post_ok(
        "channels.addModerator",
        &admin,
        json!({"roomId": here, "userId": alice.user_id}),
    )
    .await;
    // delete-c is admin/owner by default: a moderator cannot.
    let (status, body) = srv
        .post("channels.delete", &alice, json!({"roomId": here}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "moderator deletes",
    );
    set_roles(
        &srv,
        &admin,
        &["delete-c"],
        &["admin", "owner", "moderator"],
    )
    .await;
    let (status, body) = srv
        .post("channels.delete", &alice, json!({"roomId": there}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "not moderator there",
    );
    srv.post_ok("channels.delete", &alice, json!({"roomId": here}))
        .await;
}
