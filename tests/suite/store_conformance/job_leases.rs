//! Job leases (the LDAP sync's): one owner at a time, the owner renews, an expired
//! lease passes to another, finishing records the run and frees the lease; racing
//! instances get it exactly once.

use palaver_server::store::{DynStore, Ts};
use serde_json::json;

pub async fn job_leases(store: DynStore) {
    assert_eq!(store.job_state("sync").await.expect("state"), None);
    assert!(store
        .try_job_lease("sync", "a", Ts(1000), Ts(5000))
        .await
        .expect("take"));
    assert!(
        !store
            .try_job_lease("sync", "b", Ts(2000), Ts(6000))
            .await
            .expect("held"),
        "another owner waits while the lease lasts"
    );
    assert!(store
        .try_job_lease("sync", "a", Ts(2000), Ts(7000))
        .await
        .expect("renew"));
    assert!(
        store
            .try_job_lease("sync", "b", Ts(7000), Ts(9000))
            .await
            .expect("expired"),
        "an expired lease passes on"
    );
    // Only the owner finishes.
    store
        .finish_job_lease("sync", "a", Ts(7500), &json!({"late": true}))
        .await
        .expect("finish as a");
    let state = store
        .job_state("sync")
        .await
        .expect("state")
        .expect("exists");
    assert_eq!(state.owner, "b");
    assert_eq!(state.last_run, None, "a's finish did not count: {state:?}");
    store
        .finish_job_lease("sync", "b", Ts(8000), &json!({"created": 3}))
        .await
        .expect("finish");
    let state = store
        .job_state("sync")
        .await
        .expect("state")
        .expect("exists");
    assert_eq!(state.last_run, Some(Ts(8000)));
    assert_eq!(state.report, Some(json!({"created": 3})));
    assert!(state.until <= Ts(8000), "freed: {state:?}");
    assert!(store
        .try_job_lease("sync", "c", Ts(8001), Ts(9000))
        .await
        .expect("free"));

    // Racing instances: exactly one wins a free lease.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .try_job_lease("race", &format!("o{i}"), Ts(100), Ts(200))
                .await
                .expect("race")
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.expect("join") {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one winner");
}
