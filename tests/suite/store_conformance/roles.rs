//! Roles: insert (unique id and name), update, delete with a tombstone for syncs;
//! users in a global role and room members in a room role, sorted by username;
//! setting a membership's room roles.

use palaver_server::store::role_store::{Role, RoleScope};
use palaver_server::store::{DynStore, Page, Ts};

use super::{assert_conflict, channel, ids, sub, user};

fn role(id: &str, name: &str, scope: RoleScope, at: i64) -> Role {
    Role {
        id: id.into(),
        name: name.into(),
        scope,
        description: String::new(),
        protected: false,
        mandatory2fa: false,
        updated_at: Ts(at),
    }
}

pub async fn roles(store: DynStore) {
    assert!(store.roles().await.unwrap().is_empty());
    let support = role("r-support", "Support", RoleScope::Users, 10);
    let greeter = role("r-greeter", "Greeter", RoleScope::Subscriptions, 20);
    store.insert_role(&greeter).await.unwrap();
    store.insert_role(&support).await.unwrap();
    assert_conflict(
        store
            .insert_role(&role("r-other", "Support", RoleScope::Users, 1))
            .await,
        "role name",
    );
    assert_conflict(
        store
            .insert_role(&role("r-support", "Other", RoleScope::Users, 1))
            .await,
        "id",
    );
    assert_eq!(
        ids(&store.roles().await.unwrap(), |r| &r.id),
        vec!["r-greeter", "r-support"]
    );
    assert_eq!(
        store.role("r-support").await.unwrap(),
        Some(support.clone())
    );
    assert_eq!(store.role("nope").await.unwrap(), None);

    let mut renamed = support.clone();
    renamed.name = "Helpdesk".into();
    renamed.description = "First line".into();
    renamed.updated_at = Ts(30);
    assert!(store.update_role(&renamed).await.unwrap());
    assert_eq!(
        store.role("r-support").await.unwrap(),
        Some(renamed.clone())
    );
    assert!(!store
        .update_role(&role("nope", "Nope", RoleScope::Users, 1))
        .await
        .unwrap());
    let mut clash = greeter.clone();
    clash.name = "Helpdesk".into();
    assert_conflict(store.update_role(&clash).await, "role name");

    // Global roles on users.
    let mut zed = user("u-zed", "zed", Some("zed@example.com"));
    zed.roles = vec!["user".into(), "r-support".into()];
    let mut amy = user("u-amy", "amy", Some("amy@example.com"));
    amy.roles = vec!["r-support".into()];
    let bob = user("u-bob", "bob", Some("bob@example.com"));
    for u in [&zed, &amy, &bob] {
        store.create_user(u, None).await.unwrap();
    }
    let listing = store
        .users_in_role("r-support", Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(listing.total, 2);
    assert_eq!(ids(&listing.items, |u| &u.username), vec!["amy", "zed"]);
    let second = store
        .users_in_role("r-support", Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!(ids(&second.items, |u| &u.username), vec!["zed"]);
    assert_eq!(
        store
            .users_in_role("r-support", Page::new(0, 0))
            .await
            .unwrap()
            .total,
        2
    );
    assert_eq!(
        store
            .users_in_role("nope", Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );

    // Room roles on subscriptions.
    let room = channel("r-1", "lobby", 3);
    let subs = [
        sub(&room, &zed, Ts(1)),
        sub(&room, &amy, Ts(1)),
        sub(&room, &bob, Ts(1)),
    ];
    store.create_room(&room, &subs).await.unwrap();
    assert!(store
        .subscriptions_with_roles("r-1")
        .await
        .unwrap()
        .is_empty());
    let changed = store
        .set_subscription_roles(
            "r-1",
            "u-zed",
            &["owner".into(), "r-greeter".into()],
            Ts(50),
        )
        .await
        .unwrap()
        .expect("zed is a member");
    assert_eq!(changed.roles, vec!["owner", "r-greeter"]);
    assert_eq!(changed.updated_at, Ts(50));
    store
        .set_subscription_roles("r-1", "u-amy", &["r-greeter".into()], Ts(51))
        .await
        .unwrap();
    assert_eq!(
        store
            .subscription("r-1", "u-zed")
            .await
            .unwrap()
            .unwrap()
            .roles,
        vec!["owner", "r-greeter"]
    );
    let greeters = store
        .room_members_in_role("r-1", "r-greeter")
        .await
        .unwrap();
    assert_eq!(ids(&greeters, |s| &s.u.username), vec!["amy", "zed"]);
    let owners = store.room_members_in_role("r-1", "owner").await.unwrap();
    assert_eq!(ids(&owners, |s| &s.u.username), vec!["zed"]);
    let with_roles = store.subscriptions_with_roles("r-1").await.unwrap();
    assert_eq!(ids(&with_roles, |s| &s.u.username), vec!["amy", "zed"]);
    // The change shows in the user's subscription sync.
    let since = store
        .user_subscriptions("u-amy", Some(Ts(50)))
        .await
        .unwrap();
    assert_eq!(since.len(), 1);
    assert!(store
        .set_subscription_roles("r-1", "u-nobody", &[], Ts(52))
        .await
        .unwrap()
        .is_none());
    store
        .set_subscription_roles("r-1", "u-amy", &[], Ts(53))
        .await
        .unwrap();
    let with_roles = store.subscriptions_with_roles("r-1").await.unwrap();
    assert_eq!(ids(&with_roles, |s| &s.u.username), vec!["zed"]);

    // Delete: gone, reported after its time only.
    assert!(store.delete_role("r-greeter", Ts(100)).await.unwrap());
    assert!(!store.delete_role("r-greeter", Ts(101)).await.unwrap());
    assert_eq!(
        ids(&store.roles().await.unwrap(), |r| &r.id),
        vec!["r-support"]
    );
    let removed = store.removed_roles(Ts(99)).await.unwrap();
    assert_eq!(ids(&removed, |r| &r.id), vec!["r-greeter"]);
    assert_eq!(removed[0].deleted_at, Ts(100));
    assert!(store.removed_roles(Ts(100)).await.unwrap().is_empty());
    // The name is free again.
    store
        .insert_role(&role(
            "r-greeter2",
            "Greeter",
            RoleScope::Subscriptions,
            110,
        ))
        .await
        .unwrap();
}
