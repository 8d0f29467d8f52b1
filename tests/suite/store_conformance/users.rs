//! Users, login tokens and settings.

use palaver_server::store::{
    Direction, DynStore, Email, LoginToken, Page, ServiceLink, Setting, Sort, SortKey, Ts, User,
};
use serde_json::json;

use super::{assert_conflict, ids, user};

pub async fn users(store: DynStore) {
    let alice = user("u-alice", "Alice", Some("alice@example.com"));
    store.create_user(&alice, Some("hash-1")).await.unwrap();
    let mut bob = user("u-bob", "bob", Some("bob@example.com"));
    bob.emails.push(Email {
        address: "robert@example.org".into(),
        verified: true,
    });
    bob.kind = "bot".into();
    bob.roles = vec!["bot".into(), "admin".into()];
    bob.last_login = Some(Ts(5_000));
    bob.require_password_change = true;
    store.create_user(&bob, None).await.unwrap();
    // Users without any address do not clash with each other.
    store
        .create_user(&user("u-n1", "noemail1", None), None)
        .await
        .unwrap();
    store
        .create_user(&user("u-n2", "noemail2", None), None)
        .await
        .unwrap();

    // Lookups: by id exactly, by username and e-mail case-insensitively.
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id("u-nobody").await.unwrap(), None);
    assert_eq!(store.user_by_id("U-ALICE").await.unwrap(), None);
    assert_eq!(
        store.user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_username("ALICE").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_username("alic").await.unwrap(), None);
    assert_eq!(
        store.user_by_email("ALICE@Example.COM").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_username("BOB").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        store.user_by_email("Robert@Example.org").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 4);

    // Passwords.
    assert_eq!(
        store.password_hash("u-alice").await.unwrap().as_deref(),
        Some("hash-1")
    );
    assert_eq!(store.password_hash("u-bob").await.unwrap(), None);
    assert_eq!(store.password_hash("u-nobody").await.unwrap(), None);
    store.set_password_hash("u-bob", "hash-2").await.unwrap();
    store.set_password_hash("u-alice", "hash-3").await.unwrap();
    assert_eq!(
        store.password_hash("u-bob").await.unwrap().as_deref(),
        Some("hash-2")
    );
    assert_eq!(
        store.password_hash("u-alice").await.unwrap().as_deref(),
        Some("hash-3")
    );
    // The hash never leaks into the record.
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(alice.clone())
    );

    // Conflicts: username (any case), any address (any case), id.
    assert_conflict(
        store
            .create_user(&user("u-other", "ALICE", Some("x@example.com")), None)
            .await,
        "username",
    );
    assert_conflict(
        store
            .create_user(&user("u-other", "other", Some("ROBERT@example.org")), None)
            .await,
        "email",
    );
    assert_conflict(
        store
            .create_user(&user("u-alice", "other", Some("x@example.com")), None)
            .await,
        "id",
    );
    // Nothing of the refused users was stored.
    assert_eq!(store.count_users().await.unwrap(), 4);
    assert_eq!(store.user_by_username("other").await.unwrap(), None);
    assert_eq!(store.user_by_email("x@example.com").await.unwrap(), None);
}

pub async fn user_updates(store: DynStore) {
    let alice = user("u-alice", "alice", Some("alice@example.com"));
    let bob = user("u-bob", "bob", Some("bob@example.com"));
    store.create_user(&alice, Some("secret")).await.unwrap();
    store.create_user(&bob, None).await.unwrap();

    let mut renamed = alice.clone();
    renamed.username = "Alicia".into();
    renamed.name = "Alicia A.".into();
    renamed.emails = vec![Email {
        address: "alicia@example.com".into(),
        verified: true,
    }];
    renamed.last_login = Some(Ts(9_000));
    renamed.updated_at = Ts(9_000);
    renamed.avatar_etag = Some("etag-1".into());
    renamed.avatar_origin = Some("rest".into());
    renamed.avatar_file_id = Some("f-avatar".into());
    store.update_user(&renamed).await.unwrap();
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.user_by_username("alice").await.unwrap(), None);
    assert_eq!(
        store.user_by_username("alicia").await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(
        store.user_by_email("alice@example.com").await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_email("ALICIA@example.com").await.unwrap(),
        Some(renamed.clone())
    );
    // The password survives an update of the record.
    assert_eq!(
        store.password_hash("u-alice").await.unwrap().as_deref(),
        Some("secret")
    );
    // The old name and address are free again.
    store
        .create_user(&user("u-new", "ALICE", Some("Alice@example.com")), None)
        .await
        .unwrap();

    // Optional fields can be cleared.
    let mut cleared = renamed.clone();
    cleared.last_login = None;
    cleared.emails.clear();
    cleared.avatar_etag = None;
    cleared.avatar_origin = None;
    cleared.avatar_file_id = None;
    store.update_user(&cleared).await.unwrap();
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(cleared.clone())
    );
    assert_eq!(
        store.user_by_email("alicia@example.com").await.unwrap(),
        None
    );

    // Taking someone else's username or address is refused and changes nothing.
    let mut clash = cleared.clone();
    clash.username = "BOB".into();
    assert_conflict(store.update_user(&clash).await, "username");
    let mut clash = cleared.clone();
    clash.emails = vec![Email {
        address: "Bob@Example.com".into(),
        verified: false,
    }];
    assert_conflict(store.update_user(&clash).await, "email");
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(cleared.clone())
    );
    assert_eq!(store.user_by_username("bob").await.unwrap(), Some(bob));

    // Profile fields and preferences are kept, and clearing them clears them.
    let mut profiled = cleared.clone();
    profiled.bio = Some("bio".into());
    profiled.nickname = Some("nick".into());
    profiled
        .settings
        .preferences
        .insert("useEmojis".into(), json!(false));
    store.update_user(&profiled).await.unwrap();
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(profiled.clone())
    );
    store.update_user(&cleared).await.unwrap();
    assert_eq!(
        store.user_by_id("u-alice").await.unwrap(),
        Some(cleared.clone())
    );

    // Deleting an account frees its name and address and drops its tokens.
    store
        .insert_token(&LoginToken {
            hashed: "del-1".into(),
            user_id: "u-bob".into(),
            created_at: Ts(1_000),
            expires_at: None,
            personal_name: None,
            last_token_part: None,
            bypass_two_factor: false,
        })
        .await
        .unwrap();
    assert!(store.delete_user("u-bob").await.unwrap());
    assert!(!store.delete_user("u-bob").await.unwrap());
    assert_eq!(store.user_by_id("u-bob").await.unwrap(), None);
    assert_eq!(store.token("del-1").await.unwrap(), None);
    assert_eq!(store.password_hash("u-bob").await.unwrap(), None);
    store
        .create_user(&user("u-bob2", "bob", Some("bob@example.com")), None)
        .await
        .unwrap();
}

pub async fn list_users(store: DynStore) {
    // (username, name, createdAt)
    let specs = [
        ("carol", "Zed Carol", 5),
        ("Dave", "Yan", 1),
        ("erin", "Xu Barney", 4),
        ("frank", "Frank", 3),
        ("a.b", "Dotty", 2),
        ("under_score", "Percent % sign", 6),
    ];
    for (i, (username, name, created)) in specs.iter().enumerate() {
        let mut u = user(&format!("u-{i}"), username, None);
        u.name = (*name).into();
        u.created_at = Ts(*created);
        store.create_user(&u, None).await.unwrap();
    }
    let names = |users: &[User]| ids(users, |u| u.username.as_str());
    let by_name = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let all = Page::new(0, 100);

    let listing = store.list_users(None, by_name, all).await.unwrap();
    assert_eq!(listing.total, 6);
    assert_eq!(
        names(&listing.items),
        ["a.b", "carol", "Dave", "erin", "frank", "under_score"],
        "sorted by username, case-insensitively"
    );
    let desc = Sort {
        key: SortKey::Name,
        dir: Direction::Desc,
    };
    let listing = store.list_users(None, desc, all).await.unwrap();
    assert_eq!(
        names(&listing.items),
        ["under_score", "frank", "erin", "Dave", "carol", "a.b"]
    );
    let by_ts = Sort {
        key: SortKey::Ts,
        dir: Direction::Asc,
    };
    let listing = store.list_users(None, by_ts, all).await.unwrap();
    assert_eq!(
        names(&listing.items),
        ["Dave", "a.b", "frank", "erin", "carol", "under_score"]
    );

    // Pages keep the total of all matches.
    let listing = store
        .list_users(None, by_name, Page::new(1, 2))
        .await
        .unwrap();
    assert_eq!(listing.total, 6);
    assert_eq!(names(&listing.items), ["carol", "Dave"]);
    let listing = store
        .list_users(None, by_name, Page::new(5, 10))
        .await
        .unwrap();
    assert_eq!(names(&listing.items), ["under_score"]);
    let listing = store
        .list_users(None, by_name, Page::new(10, 10))
        .await
        .unwrap();
    assert_eq!((listing.items.len(), listing.total), (0, 6));
    let listing = store
        .list_users(None, by_name, Page::new(0, 0))
        .await
        .unwrap();
    assert_eq!(
        (listing.items.len(), listing.total),
        (0, 6),
        "a page of count 0 holds no items"
    );

    // Filters: case-insensitive substring of username or name.
    let listing = store.list_users(Some("AR"), by_name, all).await.unwrap();
    assert_eq!(names(&listing.items), ["carol", "erin"], "username or name");
    assert_eq!(listing.total, 2);
    let listing = store.list_users(Some("y"), by_name, all).await.unwrap();
    assert_eq!(names(&listing.items), ["a.b", "Dave", "erin"]);
    let listing = store
        .list_users(Some("AR"), by_name, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(
        (names(&listing.items), listing.total),
        (vec!["erin".into()], 2)
    );
    // Terms of three characters and more (a trigram index on SQLite): the same
    // matches, in order, with their total, on every page.
    for (filter, expected) in [
        ("ARN", vec!["erin"]),
        ("carol", vec!["carol"]),
        ("zed car", vec!["carol"]),
        ("an", vec!["Dave", "frank"]),
        ("ank", vec!["frank"]),
        ("nobody here", vec![]),
    ] {
        let listing = store.list_users(Some(filter), by_name, all).await.unwrap();
        assert_eq!(names(&listing.items), expected, "filter {filter:?}");
        assert_eq!(listing.total, expected.len() as u64, "filter {filter:?}");
    }
    let by_created = Sort {
        key: SortKey::Ts,
        dir: Direction::Desc,
    };
    let listing = store
        .list_users(Some("rne"), by_created, Page::new(0, 5))
        .await
        .unwrap();
    assert_eq!(names(&listing.items), ["erin"]);
    let listing = store
        .list_users(Some("name"), by_name, Page::new(0, 5))
        .await
        .unwrap();
    assert!(listing.items.is_empty(), "{:?}", names(&listing.items));
    // Pattern metacharacters match themselves only.
    for (filter, expected) in [
        (".", vec!["a.b"]),
        ("a.b", vec!["a.b"]),
        (".*", vec![]),
        ("_", vec!["under_score"]),
        ("%", vec!["under_score"]),
        ("(", vec![]),
        ("[a-z]", vec![]),
        ("\\", vec![]),
        ("^c", vec![]),
    ] {
        let listing = store.list_users(Some(filter), by_name, all).await.unwrap();
        assert_eq!(names(&listing.items), expected, "filter {filter:?}");
        assert_eq!(listing.total, expected.len() as u64, "filter {filter:?}");
    }
    assert_eq!(store.count_users().await.unwrap(), 6);
}

pub async fn tokens(store: DynStore) {
    let token = |hashed: &str, user: &str| LoginToken {
        hashed: hashed.into(),
        user_id: user.into(),
        created_at: Ts(1_000),
        expires_at: None,
        personal_name: None,
        last_token_part: None,
        bypass_two_factor: false,
    };
    let t1 = token("h1+/=", "u1");
    let t2 = LoginToken {
        expires_at: Some(Ts(99_000)),
        personal_name: Some("ci bot".into()),
        last_token_part: Some("abc123".into()),
        bypass_two_factor: true,
        ..token("h2", "u1")
    };
    let t3 = token("h3", "u2");
    for t in [&t1, &t2, &t3] {
        store.insert_token(t).await.unwrap();
    }
    assert_conflict(store.insert_token(&token("h1+/=", "u9")).await, "id");

    assert_eq!(store.token("h1+/=").await.unwrap(), Some(t1.clone()));
    assert_eq!(store.token("h2").await.unwrap(), Some(t2.clone()));
    assert_eq!(store.token("H2").await.unwrap(), None);
    assert_eq!(store.token("nope").await.unwrap(), None);

    assert!(store.delete_token("h1+/=").await.unwrap());
    assert!(!store.delete_token("h1+/=").await.unwrap());
    assert_eq!(store.token("h1+/=").await.unwrap(), None);
    assert_eq!(store.delete_user_tokens("u1").await.unwrap(), 1);
    assert_eq!(store.delete_user_tokens("u1").await.unwrap(), 0);
    assert_eq!(store.token("h2").await.unwrap(), None);
    assert_eq!(store.token("h3").await.unwrap(), Some(t3));
    assert_eq!(store.delete_user_tokens("nobody").await.unwrap(), 0);
}

/// Custom profile fields come back as they were stored: text, numbers, lists.
pub async fn user_custom_fields(store: DynStore) {
    let mut dan = user("u-dan", "dan", Some("dan@example.com"));
    dan.custom_fields = json!({"team": "blue", "level": 3, "tags": ["a", "b"], "ok": true})
        .as_object()
        .cloned();
    store.create_user(&dan, None).await.unwrap();
    assert_eq!(store.user_by_id("u-dan").await.unwrap(), Some(dan.clone()));
    dan.custom_fields = json!({"team": "red"}).as_object().cloned();
    store.update_user(&dan).await.unwrap();
    assert_eq!(
        store.user_by_username("DAN").await.unwrap(),
        Some(dan.clone())
    );
    dan.custom_fields = None;
    store.update_user(&dan).await.unwrap();
    assert_eq!(store.user_by_id("u-dan").await.unwrap(), Some(dan));
}

/// A user's tokens listed, and its sessions ended but one, personal tokens kept.
pub async fn personal_tokens(store: DynStore) {
    let token = |hashed: &str, user: &str, at: i64, personal: Option<&str>| LoginToken {
        hashed: hashed.into(),
        user_id: user.into(),
        created_at: Ts(at),
        expires_at: personal.is_none().then_some(Ts(9_000_000)),
        personal_name: personal.map(str::to_string),
        last_token_part: personal.map(|_| "xyz789".to_string()),
        bypass_two_factor: false,
    };
    let s1 = token("s1", "u1", 3_000, None);
    let s2 = token("s2", "u1", 1_000, None);
    let s3 = token("s3", "u1", 4_000, None);
    let p1 = token("p1", "u1", 2_000, Some("deploy"));
    let other = token("o1", "u2", 500, None);
    for t in [&s1, &s2, &s3, &p1, &other] {
        store.insert_token(t).await.unwrap();
    }
    assert_eq!(
        store.user_tokens("u1").await.unwrap(),
        vec![s2.clone(), p1.clone(), s1.clone(), s3.clone()]
    );
    assert_eq!(store.user_tokens("nobody").await.unwrap(), vec![]);

    let mut ended = store.delete_sessions_except("u1", "s1").await.unwrap();
    ended.sort();
    assert_eq!(ended, vec!["s2".to_string(), "s3".to_string()]);
    assert_eq!(
        store.user_tokens("u1").await.unwrap(),
        vec![p1.clone(), s1.clone()]
    );
    assert_eq!(store.token("o1").await.unwrap(), Some(other.clone()));
    // Nothing left to end; another user's sessions are never touched.
    assert!(store
        .delete_sessions_except("u1", "s1")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.delete_sessions_except("u2", "none").await.unwrap(),
        vec!["o1".to_string()]
    );
    assert_eq!(store.user_tokens("u1").await.unwrap().len(), 2);
}

pub async fn settings(store: DynStore) {
    let setting = |id: &str, value: serde_json::Value, public: bool| Setting {
        id: id.into(),
        value,
        public,
        updated_at: None,
    };
    assert!(store.settings().await.unwrap().is_empty());
    assert_eq!(store.setting("Site_Name").await.unwrap(), None);

    let site = setting("Site_Name", json!("Palaver"), true);
    let limits = setting(
        "Limits",
        json!({ "max": 5000, "ratio": 0.5, "list": [1, "two", null, true], "nested": { "neg": -3 } }),
        false,
    );
    assert!(store.insert_setting_if_missing(&site).await.unwrap());
    assert!(store.insert_setting_if_missing(&limits).await.unwrap());
    // A second insert changes nothing.
    let other = setting("Site_Name", json!("Other"), false);
    assert!(!store.insert_setting_if_missing(&other).await.unwrap());
    assert_eq!(
        store.setting("Site_Name").await.unwrap(),
        Some(site.clone())
    );
    assert_eq!(store.setting("Limits").await.unwrap(), Some(limits.clone()));

    // put overwrites, or inserts.
    store.put_setting(&other).await.unwrap();
    assert_eq!(
        store.setting("Site_Name").await.unwrap(),
        Some(other.clone())
    );
    let flag = setting("Accounts_RegistrationForm", json!(false), true);
    store.put_setting(&flag).await.unwrap();
    assert_eq!(
        store.settings().await.unwrap(),
        vec![flag, limits, other.clone()],
        "all settings, by id"
    );

    // An admin's change carries its time; a value without one reads back without.
    let changed = Setting {
        updated_at: Some(Ts(1_700_000_000_123)),
        ..setting("Site_Name", json!("Changed"), true)
    };
    store.put_setting(&changed).await.unwrap();
    assert_eq!(store.setting("Site_Name").await.unwrap(), Some(changed));
    store.put_setting(&other).await.unwrap();
    assert_eq!(store.setting("Site_Name").await.unwrap(), Some(other));
}

/// Linked external identities: found by service and identifier exactly, one account
/// per identity, relinked and unlinked by updates, gone with the account.
pub async fn user_services(store: DynStore) {
    let link = |id: &str| ServiceLink {
        id: id.into(),
        extra: json!({ "dn": format!("uid={id},dc=example") })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let mut alice = user("u-alice", "alice", Some("alice@example.com"));
    alice.services.insert("ldap".into(), link("a-1"));
    alice.services.insert("keycloak".into(), link("sub-a"));
    store.create_user(&alice, None).await.unwrap();
    let mut bob = user("u-bob", "bob", None);
    bob.services.insert("keycloak".into(), link("sub-b"));
    store.create_user(&bob, None).await.unwrap();

    assert_eq!(
        store.user_by_service("ldap", "a-1").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_service("keycloak", "sub-b").await.unwrap(),
        Some(bob.clone())
    );
    // Exact: another service's identifier or another case is someone else.
    assert_eq!(store.user_by_service("ldap", "sub-a").await.unwrap(), None);
    assert_eq!(store.user_by_service("ldap", "A-1").await.unwrap(), None);
    assert_eq!(store.user_by_service("gitlab", "a-1").await.unwrap(), None);

    // One account per identity, on create and on update; a refused write changes nothing.
    let mut carol = user("u-carol", "carol", None);
    carol.services.insert("ldap".into(), link("a-1"));
    assert_conflict(store.create_user(&carol, None).await, "service");
    assert_eq!(store.user_by_id("u-carol").await.unwrap(), None);
    bob.services.insert("ldap".into(), link("a-1"));
    assert_conflict(store.update_user(&bob).await, "service");
    bob.services.remove("ldap");
    assert_eq!(store.user_by_id("u-bob").await.unwrap(), Some(bob.clone()));

    // Unlinking frees the identity for another account.
    alice.services.remove("ldap");
    store.update_user(&alice).await.unwrap();
    assert_eq!(store.user_by_service("ldap", "a-1").await.unwrap(), None);
    bob.services.insert("ldap".into(), link("a-1"));
    store.update_user(&bob).await.unwrap();
    assert_eq!(
        store.user_by_service("ldap", "a-1").await.unwrap(),
        Some(bob.clone())
    );

    // Deleting the account frees its identities.
    assert!(store.delete_user("u-bob").await.unwrap());
    assert_eq!(store.user_by_service("ldap", "a-1").await.unwrap(), None);
    assert_eq!(
        store.user_by_service("keycloak", "sub-b").await.unwrap(),
        None
    );
    let mut dave = user("u-dave", "dave", None);
    dave.services.insert("keycloak".into(), link("sub-b"));
    store.create_user(&dave, None).await.unwrap();

    // The accounts of a service (a directory sync's): exactly those linked to it,
    // not those of a service whose name it begins.
    let mut erin = user("u-erin", "erin", None);
    erin.services.insert("keycloak2".into(), link("sub-a"));
    erin.services.insert("ldap".into(), link("e-1"));
    store.create_user(&erin, None).await.unwrap();
    let of = |service: &'static str| {
        let store = store.clone();
        async move {
            let mut ids: Vec<String> = store
                .users_of_service(service)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(of("keycloak").await, ["u-alice", "u-dave"]);
    assert_eq!(of("keycloak2").await, ["u-erin"]);
    assert_eq!(of("ldap").await, ["u-erin"]);
    assert!(of("key").await.is_empty());
    assert!(of("gitlab").await.is_empty());
    let full = store.users_of_service("ldap").await.unwrap();
    assert_eq!(full, [erin.clone()], "whole accounts");
    store.delete_user("u-erin").await.unwrap();
    assert!(of("ldap").await.is_empty());
}
