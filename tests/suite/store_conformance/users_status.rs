//! Users listed by status (`users.list` with `sort={"status": ±1}`): the status
//! as shown (absent counts as `offline`), then deactivated before active
//! (ascending), then by username; the reverse descending; pages and the
//! substring filter on the same order.

use palaver_server::store::presence::PresenceFields;
use palaver_server::store::{Direction, DynStore, Page, Sort, SortKey, Ts, User};

use super::{ids, user};

pub async fn list_users_by_status(store: DynStore) {
    // (username, status written by presence (None: never connected), active)
    let specs = [
        ("olga", Some("online"), true),
        ("dina", None, false),
        ("abel", None, true),
        ("owen", Some("offline"), true),
        ("bea", Some("busy"), true),
        ("ava", Some("away"), false),
        ("cid", Some("offline"), false),
        ("zoe", Some("away"), true),
    ];
    for (i, (username, status, active)) in specs.iter().enumerate() {
        let mut u = user(&format!("u-{i}"), username, None);
        u.active = *active;
        store.create_user(&u, None).await.unwrap();
        if let Some(status) = status {
            let fields = PresenceFields {
                status: Some((*status).into()),
                ..Default::default()
            };
            assert!(store
                .set_user_presence(&u.id, &fields, Ts(1))
                .await
                .unwrap());
        }
    }
    let names = |users: &[User]| ids(users, |u| u.username.as_str());
    let sort = |dir| Sort {
        key: SortKey::Status,
        dir,
    };
    let asc = ["ava", "zoe", "bea", "cid", "dina", "abel", "owen", "olga"];
    let listing = store
        .list_users(None, sort(Direction::Asc), Page::new(0, 100))
        .await
        .unwrap();
    assert_eq!(listing.total, 8);
    assert_eq!(names(&listing.items), asc);
    let listing = store
        .list_users(None, sort(Direction::Desc), Page::new(0, 100))
        .await
        .unwrap();
    let mut desc = asc;
    desc.reverse();
    assert_eq!(names(&listing.items), desc);
    // Pages cut across the status groups.
    for (offset, count) in [(0, 3), (2, 3), (3, 4), (6, 5), (8, 2)] {
        let listing = store
            .list_users(None, sort(Direction::Asc), Page::new(offset, count))
            .await
            .unwrap();
        let end = (offset + count).min(8) as usize;
        assert_eq!(
            names(&listing.items),
            asc[offset as usize..end],
            "page {offset}+{count}"
        );
        assert_eq!(listing.total, 8);
    }
    // A substring filter keeps the order; its total is a lower bound (probed).
    let listing = store
        .list_users(Some("o"), sort(Direction::Asc), Page::new(0, 2))
        .await
        .unwrap();
    assert_eq!(names(&listing.items), ["zoe", "owen"]);
    assert!(listing.total >= 3, "{}", listing.total);
    let listing = store
        .list_users(Some("o"), sort(Direction::Asc), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(names(&listing.items), ["zoe", "owen", "olga"]);
    assert_eq!(listing.total, 3);
}
