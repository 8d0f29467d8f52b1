//! Invite links: inserted, found by token, the creator's unexpired invite with
//! given limits found again, listed oldest first, uses claimed only while one is
//! left (also by racing claims), removed one by one and with their room.

use palaver_server::store::invites::Invite;
use palaver_server::store::{DynStore, Ts};

use super::assert_conflict;

fn invite(id: &str, rid: &str, uid: &str, max_uses: i64, days: i64, at: i64) -> Invite {
    Invite {
        id: id.into(),
        days,
        max_uses,
        rid: rid.into(),
        user_id: uid.into(),
        created_at: Ts(at),
        expires: (days > 0).then(|| Ts(at + days * 86_400_000)),
        uses: 0,
        updated_at: Ts(at),
    }
}

pub async fn invites(store: DynStore) {
    assert!(store.invites().await.unwrap().is_empty());
    let day = 86_400_000;
    for i in [
        invite("i-2", "r-1", "u-a", 10, 1, 2_000),
        invite("i-1", "r-1", "u-a", 10, 1, 1_000),
        invite("i-3", "r-1", "u-a", 0, 0, 3_000),
        invite("i-4", "r-2", "u-a", 10, 1, 4_000),
        invite("i-5", "r-1", "u-b", 10, 1, 5_000),
    ] {
        store.insert_invite(&i).await.unwrap();
    }
    assert_conflict(
        store
            .insert_invite(&invite("i-1", "r-9", "u-z", 1, 1, 9))
            .await,
        "id",
    );
    assert_eq!(
        store.invite_by_id("i-3").await.unwrap(),
        Some(invite("i-3", "r-1", "u-a", 0, 0, 3_000))
    );
    assert_eq!(store.invite_by_id("i-none").await.unwrap(), None);
    let listed: Vec<String> = store
        .invites()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, ["i-1", "i-2", "i-3", "i-4", "i-5"]);

    // The newest matching one while unexpired; none once both have expired.
    let reusable = |uid: &'static str, rid: &'static str, uses: i64, days: i64, now: i64| {
        let store = store.clone();
        async move {
            store
                .reusable_invite(uid, rid, uses, days, Ts(now))
                .await
                .unwrap()
                .map(|i| i.id)
        }
    };
    assert_eq!(
        reusable("u-a", "r-1", 10, 1, 3_000).await.as_deref(),
        Some("i-2")
    );
    assert_eq!(
        reusable("u-a", "r-1", 10, 1, 1_500 + day).await.as_deref(),
        Some("i-2")
    );
    assert_eq!(reusable("u-a", "r-1", 10, 1, 2_000 + day).await, None);
    assert_eq!(
        reusable("u-a", "r-1", 0, 0, i64::MAX).await.as_deref(),
        Some("i-3")
    );
    assert_eq!(reusable("u-a", "r-1", 5, 1, 3_000).await, None);
    assert_eq!(reusable("u-a", "r-1", 10, 7, 3_000).await, None);
    assert_eq!(reusable("u-b", "r-2", 10, 1, 3_000).await, None);

    // Uses: counted while left, never past the limit.
    let mut two = invite("i-6", "r-3", "u-a", 2, 1, 6_000);
    store.insert_invite(&two).await.unwrap();
    let first = store.claim_invite_use("i-6", Ts(7_000)).await.unwrap();
    two.uses = 1;
    two.updated_at = Ts(7_000);
    assert_eq!(first, Some(two.clone()));
    assert!(store
        .claim_invite_use("i-6", Ts(8_000))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.claim_invite_use("i-6", Ts(9_000)).await.unwrap(),
        None
    );
    assert_eq!(store.invite_by_id("i-6").await.unwrap().unwrap().uses, 2);
    assert_eq!(store.claim_invite_use("i-none", Ts(1)).await.unwrap(), None);
    // No limit: any number.
    for _ in 0..3 {
        assert!(store
            .claim_invite_use("i-3", Ts(1))
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(store.invite_by_id("i-3").await.unwrap().unwrap().uses, 3);

    // Ten racing claims on five uses: exactly five win.
    store
        .insert_invite(&invite("i-7", "r-3", "u-a", 5, 1, 7_000))
        .await
        .unwrap();
    let claims = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_invite_use("i-7", Ts(8_000)).await.unwrap() })
    });
    let won = futures::future::join_all(claims)
        .await
        .into_iter()
        .filter(|r| r.as_ref().expect("claim task").is_some())
        .count();
    assert_eq!(won, 5);
    assert_eq!(store.invite_by_id("i-7").await.unwrap().unwrap().uses, 5);

    assert!(store.delete_invite("i-5").await.unwrap());
    assert!(!store.delete_invite("i-5").await.unwrap());
    assert_eq!(store.delete_room_invites("r-1").await.unwrap(), 3);
    assert_eq!(store.delete_room_invites("r-1").await.unwrap(), 0);
    let left: Vec<String> = store
        .invites()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, ["i-4", "i-6", "i-7"]);
}
