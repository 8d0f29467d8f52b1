//! The admin console's Roles & permissions page in a real browser (the permission
//! matrix saved with `permissions.update`, custom roles created and deleted, who
//! holds a role), and the room members list showing room and global roles. What the
//! UI does is checked against what the REST API says.

use palaver_tests::browser::Browser;
use palaver_tests::server::{Palaver, Session, ADMIN_PASSWORD, ADMIN_USERNAME};
use serde_json::{json, Value};

async fn log_in(b: &Browser, srv: &Palaver) {
    b.log_in(&srv.base_url(), ADMIN_USERNAME, ADMIN_PASSWORD)
        .await;
}

async fn go(b: &Browser, hash: &str) {
    b.exec("location.hash = arguments[0]", vec![json!(hash)])
        .await;
}

/// The roles holding a permission, sorted.
async fn permission_roles(srv: &Palaver, admin: &Session, id: &str) -> Value {
    let all = srv.get_ok("permissions.listAll", admin).await;
    let roles = all["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == json!(id))
        .unwrap()["roles"]
        .clone();
    let mut roles: Vec<String> = serde_json::from_value(roles).unwrap();
    roles.sort();
    json!(roles)
}

async fn role_id(srv: &Palaver, admin: &Session, name: &str) -> Option<String> {
    let roles = srv.get_ok("roles.list", admin).await;
    roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == json!(name))
        .map(|r| r["_id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edits_permissions_and_roles_and_members_show_roles() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let b = Browser::start().await;
    log_in(&b, &srv).await;

    go(&b, "#/admin/roles").await;
    b.wait_for("[data-testid=admin-tab-roles]").await;
    let cell = "[data-testid=perm-create-c-user]";
    b.wait_for(cell).await;
    let checked = |css: &'static str| {
        let b = &b;
        async move {
            b.exec(
                "return document.querySelector(arguments[0]).checked",
                vec![json!(css)],
            )
            .await
        }
    };
    assert_eq!(checked(cell).await, json!(true));
    assert_eq!(
        checked("[data-testid=perm-create-user-user]").await,
        json!(false)
    );
    // Take create-c from `user`, give create-user to `moderator`; one save.
    b.click(cell).await;
    b.click("[data-testid=perm-create-user-moderator]").await;
    b.click("[data-testid=perm-save]").await;
    b.wait_text("[data-testid=admin-notice]", "Saved 2 permissions")
        .await;
    assert_eq!(
        permission_roles(&srv, &admin, "create-c").await,
        json!(["admin", "app", "bot"])
    );
    assert_eq!(
        permission_roles(&srv, &admin, "create-user").await,
        json!(["admin", "moderator"])
    );
    // And it is in force.
    let (status, _) = srv
        .post("channels.create", &alice, json!({"name": "nope"}))
        .await;
    assert_eq!(status.as_u16(), 403);
    b.wait_for(cell).await;
    assert_eq!(
        checked(cell).await,
        json!(false),
        "the page shows what is stored"
    );
    b.screenshot("admin-roles-permissions").await;

    // A custom role.
    b.fill("[data-testid=role-new-name]", "Support").await;
    b.fill("[data-testid=role-new-description]", "Helps people")
        .await;
    b.click("[data-testid=role-create]").await;
    b.wait_text("[data-testid=admin-notice]", "Role Support created")
        .await;
    let support = role_id(&srv, &admin, "Support").await.expect("created");
    b.wait_for(&format!("[data-testid=role-row-{support}]"))
        .await;
    b.wait_for(&format!("[data-testid=perm-col-{support}]"))
        .await;
    // Refused: a duplicate name, shown in the form.
    b.fill("[data-testid=role-new-name]", "Support").await;
    b.click("[data-testid=role-create]").await;
    b.wait_text("[data-testid=role-new-error]", "Role name already exists")
        .await;

    // Who holds a role.
    srv.post_ok(
        "roles.addUserToRole",
        &admin,
        json!({"roleId": support, "username": "alice"}),
    )
    .await;
    b.click(&format!("[data-testid=role-users-{support}]"))
        .await;
    b.wait_for("[data-testid=role-user-alice]").await;
    b.click("[data-testid=role-users-admin]").await;
    b.wait_for("[data-testid=role-user-admin]").await;

    // Delete: refused while alice holds it, done once she does not.
    b.click(&format!("[data-testid=role-delete-{support}]"))
        .await;
    b.click("[data-testid=role-delete-dialog-confirm]").await;
    b.wait_text("[data-testid=admin-notice]", "in use").await;
    srv.post_ok(
        "roles.removeUserFromRole",
        &admin,
        json!({"roleId": support, "username": "alice"}),
    )
    .await;
    b.click(&format!("[data-testid=role-delete-{support}]"))
        .await;
    b.click("[data-testid=role-delete-dialog-confirm]").await;
    b.wait_text("[data-testid=admin-notice]", "Role Support deleted")
        .await;
    b.wait_gone(&format!("[data-testid=role-row-{support}]"))
        .await;
    assert_eq!(role_id(&srv, &admin, "Support").await, None);

    // The members list of #general: admin is Admin, alice a Moderator there.
    srv.post_ok(
        "channels.addModerator",
        &admin,
        json!({"roomId": "GENERAL", "userId": alice.user_id}),
    )
    .await;
    go(&b, "#/channel/general").await;
    b.wait_for("[data-testid=room-members]").await;
    b.click("[data-testid=room-members]").await;
    b.wait_for("[data-testid=member-role-admin-admin]").await;
    b.wait_text("[data-testid=member-role-alice-moderator]", "Moderator")
        .await;
    b.screenshot("room-members-roles").await;
}
