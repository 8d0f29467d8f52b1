//! Single-use keys (SAML request ids, the assertion replay cache, credential
//! tokens): recorded once until they expire, taken once, and racing instances
//! get exactly one success.

use palaver_server::store::{DynStore, Ts};

pub async fn once_keys(store: DynStore) {
    assert!(store
        .put_once("k", "a", "v1", Ts(5000), Ts(1000))
        .await
        .expect("put"));
    assert!(
        !store
            .put_once("k", "a", "v2", Ts(6000), Ts(2000))
            .await
            .expect("again"),
        "seen before"
    );
    assert!(
        store
            .put_once("other", "a", "", Ts(6000), Ts(2000))
            .await
            .expect("kind"),
        "kinds are apart"
    );
    assert_eq!(
        store.take_once("k", "a", Ts(2000)).await.expect("take"),
        Some("v1".into())
    );
    assert_eq!(
        store.take_once("k", "a", Ts(2000)).await.expect("taken"),
        None
    );
    // Expired keys are neither taken nor in the way.
    assert!(store
        .put_once("k", "b", "x", Ts(3000), Ts(2000))
        .await
        .expect("put"));
    assert_eq!(
        store.take_once("k", "b", Ts(3000)).await.expect("expired"),
        None
    );
    assert!(store
        .put_once("k", "c", "x", Ts(3000), Ts(2000))
        .await
        .expect("put"));
    assert!(
        store
            .put_once("k", "c", "y", Ts(9000), Ts(3000))
            .await
            .expect("after expiry"),
        "an expired key can be recorded anew"
    );
    assert_eq!(
        store.take_once("k", "c", Ts(4000)).await.expect("take"),
        Some("y".into())
    );

    // Racing puts and takes: exactly one wins each.
    let puts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .put_once("race", "assertion", &i.to_string(), Ts(i64::MAX / 2), Ts(1))
                .await
                .expect("put")
        })
    });
    let won = futures::future::join_all(puts)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().expect("task"))
        .count();
    assert_eq!(won, 1);
    let takes = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .take_once("race", "assertion", Ts(2))
                .await
                .expect("take")
        })
    });
    let got = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter(|r| r.as_ref().expect("task").is_some())
        .count();
    assert_eq!(got, 1);
}
