//! The queries issue #21 moved onto indexes, answering as before on both backends:
//! users in a role follow every user write (role changes, renames, deletion), the
//! default rooms, the admin's user tabs (`listByStatus`) with their totals, and the
//! probed totals of substring-filtered listings walking an index (a lower bound:
//! `offset + items`, plus one while more exist).

use palaver_server::store::presence::StatusQuery;
use palaver_server::store::{Direction, DynStore, Page, RoomType, Sort, SortKey, Ts};

use super::{channel, ids, user};

pub async fn indexed_queries(store: DynStore) {
    // Roles follow user writes.
    let mut zed = user("u-zed", "zed", None);
    zed.roles = vec!["user".into(), "admin".into()];
    let mut amy = user("u-amy", "amy", None);
    amy.roles = vec!["user".into()];
    let mut bob = user("u-bob", "bob", None);
    bob.roles = vec!["user".into()];
    bob.active = false;
    bob.last_login = Some(Ts(5));
    let mut pat = user("u-pat", "pat", None);
    pat.roles = vec!["user".into()];
    pat.active = false;
    let mut cat = user("u-cat", "cat", None);
    cat.roles = vec!["bot".into()];
    cat.kind = "bot".into();
    cat.last_login = Some(Ts(5));
    zed.last_login = Some(Ts(5));
    amy.last_login = Some(Ts(5));
    for u in [&zed, &amy, &bob, &pat, &cat] {
        store.create_user(u, None).await.unwrap();
    }
    let in_role = |role: &'static str, page: Page| {
        let store = store.clone();
        async move {
            let l = store.users_in_role(role, page).await.unwrap();
            (ids(&l.items, |u| u.id.as_str()), l.total)
        }
    };
    let all = Page::new(0, 50);
    assert_eq!(in_role("admin", all).await, (vec!["u-zed".into()], 1));
    amy.roles.push("admin".into());
    amy.username = "Zoe".into();
    store.update_user(&amy).await.unwrap();
    assert_eq!(
        in_role("admin", all).await,
        (vec!["u-zed".into(), "u-amy".into()], 2),
        "renamed amy (zoe) sorts after zed"
    );
    assert_eq!(
        in_role("admin", Page::new(1, 1)).await,
        (vec!["u-amy".into()], 2)
    );
    zed.roles = vec!["user".into()];
    store.update_user(&zed).await.unwrap();
    assert_eq!(in_role("admin", all).await, (vec!["u-amy".into()], 1));
    assert!(store.delete_user("u-amy").await.unwrap());
    assert_eq!(in_role("admin", all).await, (vec![], 0));
    assert_eq!(in_role("user", all).await.1, 3);

    // The admin's tabs: all, active, deactivated, pending; a search is probed.
    let by_status = |q: StatusQuery, page: Page| {
        let store = store.clone();
        async move {
            let l = store.users_by_status(&q, page).await.unwrap();
            (ids(&l.items, |u| u.id.as_str()), l.total)
        }
    };
    let q = |active: Option<bool>, logged: Option<bool>, kind: Option<&str>| StatusQuery {
        active,
        has_logged_in: logged,
        kind: kind.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(
        by_status(q(None, None, None), all).await,
        (
            vec![
                "u-bob".into(),
                "u-cat".into(),
                "u-pat".into(),
                "u-zed".into()
            ],
            4
        )
    );
    assert_eq!(
        by_status(q(Some(true), Some(true), None), all).await,
        (vec!["u-cat".into(), "u-zed".into()], 2)
    );
    assert_eq!(
        by_status(q(Some(false), Some(true), None), all).await,
        (vec!["u-bob".into()], 1)
    );
    assert_eq!(
        by_status(q(None, Some(false), Some("user")), all).await,
        (vec!["u-pat".into()], 1)
    );
    // The web admin's pending badge: `count=1`, only the total is read.
    assert_eq!(
        by_status(q(Some(false), Some(false), Some("user")), Page::new(0, 1))
            .await
            .1,
        1
    );
    assert_eq!(
        by_status(q(None, None, Some("bot")), all).await,
        (vec!["u-cat".into()], 1)
    );
    // A role filter narrows any tab.
    let with_roles = |roles: &[&str], active: Option<bool>| StatusQuery {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        active,
        ..Default::default()
    };
    assert_eq!(
        by_status(with_roles(&["admin"], None), all).await,
        (vec![], 0)
    );
    assert_eq!(
        by_status(with_roles(&["bot", "user"], Some(true)), all).await,
        (vec!["u-cat".into(), "u-zed".into()], 2)
    );
    assert_eq!(
        by_status(with_roles(&["user"], Some(false)), all).await,
        (vec!["u-bob".into(), "u-pat".into()], 2)
    );
    let search = |term: &str| StatusQuery {
        search: Some(term.into()),
        ..Default::default()
    };
    assert_eq!(
        by_status(search("NA"), Page::new(0, 2)).await,
        (vec!["u-bob".into(), "u-cat".into()], 3),
        "more exist: one past the page"
    );
    assert_eq!(
        by_status(search("NA"), Page::new(2, 2)).await,
        (vec!["u-pat".into(), "u-zed".into()], 4),
        "the last page: exact"
    );
    // A term of three characters few users hold is read through the trigram
    // index, and counted.
    assert_eq!(
        by_status(search("NAME"), Page::new(0, 2)).await,
        (vec!["u-bob".into(), "u-cat".into()], 4),
        "a rare term: exact"
    );
    assert_eq!(by_status(search("zz"), all).await, (vec![], 0));

    // Default rooms, by name, channels and groups only.
    let mut lobby = channel("r-lobby", "lobby", 0);
    lobby.default = true;
    let mut annex = channel("r-annex", "annex", 0);
    annex.default = true;
    annex.t = RoomType::Group;
    let other = channel("r-other", "other", 0);
    for r in [&lobby, &annex, &other] {
        store.create_room(r, &[]).await.unwrap();
    }
    let defaults = store.default_rooms().await.unwrap();
    assert_eq!(
        ids(&defaults, |r| r.id.as_str()),
        vec!["r-annex", "r-lobby"]
    );

    // A substring-filtered rooms listing is probed the same way.
    let sort = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let types = [RoomType::Channel, RoomType::Group];
    let page = store
        .list_rooms(&types, Some("o"), sort, Page::new(0, 1))
        .await
        .unwrap();
    assert_eq!(
        (ids(&page.items, |r| r.id.as_str()), page.total),
        (vec!["r-lobby".to_string()], 2)
    );
    let page = store
        .list_rooms(&types, None, sort, Page::new(0, 1))
        .await
        .unwrap();
    assert_eq!(page.total, 3, "unfiltered: counted");
    let users = store
        .list_users(Some("a"), sort, Page::new(0, 1))
        .await
        .unwrap();
    assert_eq!((users.items.len(), users.total), (1, 2));
}
