//! The apps engine's records: installed apps, key/value data with quotas, logs and
//! scheduled jobs.

use std::collections::BTreeMap;

use palaver_server::store::apps::{AppLogEntry, AppRecord, DataQuota, JobRecord, SetOutcome};
use palaver_server::store::{DynStore, Page, Ts};
use serde_json::json;

fn app(id: &str, installed_at: i64) -> AppRecord {
    AppRecord {
        id: id.into(),
        version: "1.0.0".into(),
        manifest: "[app]\nid = \"x\"\n".into(),
        package_sha256: "ab".repeat(32),
        status: "manually_enabled".into(),
        status_reason: None,
        granted: vec!["message.read".into(), "network".into()],
        settings: BTreeMap::from([
            ("greeting".to_string(), json!("hi")),
            ("limit".to_string(), json!(3)),
        ]),
        bot_user_id: format!("bot-{id}"),
        installed_at: Ts(installed_at),
        updated_at: Ts(installed_at),
    }
}

fn log(app_id: &str, ts: i64, level: &str, message: &str) -> AppLogEntry {
    AppLogEntry {
        app_id: app_id.into(),
        ts: Ts(ts),
        level: level.into(),
        handler: Some("execute-command".into()),
        message: message.into(),
        fault: None,
    }
}

fn job(id: &str, app_id: &str, next_run: i64) -> JobRecord {
    JobRecord {
        id: id.into(),
        app_id: app_id.into(),
        name: "tick".into(),
        data: Some("{\"n\":1}".into()),
        interval_ms: None,
        next_run: Ts(next_run),
        lease_owner: None,
        lease_until: None,
        created_at: Ts(1),
    }
}

const ROOMY: DataQuota = DataQuota {
    max_keys: 100,
    max_bytes: 1 << 20,
};

pub async fn apps(store: DynStore) {
    assert!(store.apps().await.unwrap().is_empty());
    let a = app("app-a", 2_000);
    let b = app("app-b", 1_000);
    store.put_app(&a).await.unwrap();
    store.put_app(&b).await.unwrap();
    assert_eq!(store.app("app-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.app("app-none").await.unwrap(), None);
    assert_eq!(
        store.apps().await.unwrap(),
        vec![b.clone(), a.clone()],
        "install order"
    );
    // put replaces.
    let mut a2 = a.clone();
    a2.status = "error_disabled".into();
    a2.status_reason = Some("trapped 3 times".into());
    a2.version = "1.1.0".into();
    a2.updated_at = Ts(3_000);
    store.put_app(&a2).await.unwrap();
    assert_eq!(store.app("app-a").await.unwrap(), Some(a2.clone()));
    assert_eq!(store.apps().await.unwrap().len(), 2);

    // Deleting an app deletes what it owns, and nothing of other apps.
    for id in ["app-a", "app-b"] {
        store.app_data_set(id, "k", b"v", ROOMY).await.unwrap();
        store
            .append_app_logs(&[log(id, 10, "info", "started")])
            .await
            .unwrap();
        store
            .put_job(&job(&format!("{id}-j"), id, 10))
            .await
            .unwrap();
    }
    assert!(store.delete_app("app-a").await.unwrap());
    assert!(!store.delete_app("app-a").await.unwrap());
    assert_eq!(store.app("app-a").await.unwrap(), None);
    assert_eq!(store.app_data_get("app-a", "k").await.unwrap(), None);
    assert_eq!(
        store
            .app_logs("app-a", 0, Page::new(0, 10))
            .await
            .unwrap()
            .total,
        0
    );
    assert!(store.app_jobs("app-a").await.unwrap().is_empty());
    assert_eq!(
        store.app_data_get("app-b", "k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(store.app_jobs("app-b").await.unwrap().len(), 1);
    assert_eq!(store.apps().await.unwrap(), vec![b]);
    // A reinstalled app starts with an empty quota.
    let tight = DataQuota {
        max_keys: 1,
        max_bytes: 10,
    };
    assert_eq!(
        store.app_data_set("app-a", "k", b"v", tight).await.unwrap(),
        SetOutcome::Stored
    );
}

pub async fn app_data(store: DynStore) {
    let quota = DataQuota {
        max_keys: 3,
        max_bytes: 30,
    };
    assert_eq!(store.app_data_get("app", "a").await.unwrap(), None);
    // Binary values round-trip exactly.
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(
        store
            .app_data_set("app", "bin", &bytes, ROOMY)
            .await
            .unwrap(),
        SetOutcome::Stored
    );
    assert_eq!(store.app_data_get("app", "bin").await.unwrap(), Some(bytes));
    assert!(store.app_data_delete("app", "bin").await.unwrap());
    assert!(!store.app_data_delete("app", "bin").await.unwrap());
    assert_eq!(store.app_data_get("app", "bin").await.unwrap(), None);
    assert_eq!(
        store
            .app_data_set("app", "empty", b"", ROOMY)
            .await
            .unwrap(),
        SetOutcome::Stored
    );
    assert_eq!(
        store.app_data_get("app", "empty").await.unwrap(),
        Some(Vec::new())
    );
    assert!(store.app_data_delete("app", "empty").await.unwrap());

    // Quotas: keys and bytes (key + value) of the whole app.
    let set = |key: &'static str, value: &'static [u8]| {
        let store = store.clone();
        async move { store.app_data_set("app", key, value, quota).await.unwrap() }
    };
    assert_eq!(set("a", b"123456789").await, SetOutcome::Stored); // 10 bytes
    assert_eq!(set("b", b"123456789").await, SetOutcome::Stored); // 20
    assert_eq!(
        set("c", b"12345678901").await,
        SetOutcome::QuotaExceeded("persistence-bytes")
    );
    assert_eq!(set("c", b"123456789").await, SetOutcome::Stored); // 30: full
    assert_eq!(
        set("d", b"").await,
        SetOutcome::QuotaExceeded("persistence-keys")
    );
    // Replacing a key counts its new size instead of the old one.
    assert_eq!(
        set("a", b"1234567890").await,
        SetOutcome::QuotaExceeded("persistence-bytes")
    );
    assert_eq!(set("a", b"1").await, SetOutcome::Stored); // 22
    assert_eq!(set("b", b"1234567890123456").await, SetOutcome::Stored); // 29
    assert_eq!(
        store.app_data_get("app", "a").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    // A refused write leaves the old value.
    assert_eq!(
        set("c", b"12345678901").await,
        SetOutcome::QuotaExceeded("persistence-bytes")
    );
    assert_eq!(
        store.app_data_get("app", "c").await.unwrap().as_deref(),
        Some(&b"123456789"[..])
    );
    // Deleting frees room.
    assert!(store.app_data_delete("app", "b").await.unwrap());
    assert_eq!(set("d", b"12345").await, SetOutcome::Stored);
    // Quotas are per app.
    assert_eq!(
        store.app_data_set("other", "d", b"x", quota).await.unwrap(),
        SetOutcome::Stored
    );

    // Keys by prefix, sorted, limited.
    for key in [
        "user:2", "user:10", "user:1", "users", "u", "user.x", "user%",
    ] {
        store.app_data_set("keys", key, b"1", ROOMY).await.unwrap();
    }
    let keys = |prefix: &'static str, limit: u32| {
        let store = store.clone();
        async move { store.app_data_keys("keys", prefix, limit).await.unwrap() }
    };
    assert_eq!(keys("user:", 10).await, ["user:1", "user:10", "user:2"]);
    assert_eq!(keys("user:", 2).await, ["user:1", "user:10"]);
    assert_eq!(keys("user:", 0).await, Vec::<String>::new());
    assert_eq!(
        keys("user", 10).await,
        ["user%", "user.x", "user:1", "user:10", "user:2", "users"]
    );
    assert_eq!(keys("user.", 10).await, ["user.x"]);
    assert_eq!(keys("user%", 10).await, ["user%"]);
    assert_eq!(keys("USER", 10).await, Vec::<String>::new());
    assert_eq!(keys("", 3).await, ["u", "user%", "user.x"]);
    assert_eq!(
        store.app_data_keys("none", "", 10).await.unwrap(),
        Vec::<String>::new()
    );
}

pub async fn app_data_quota_races(store: DynStore) {
    let quota = DataQuota {
        max_keys: 10,
        max_bytes: 1 << 20,
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .app_data_set("app", &format!("k{i:02}"), b"v", quota)
                .await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        match task.await.expect("task").expect("app_data_set") {
            SetOutcome::Stored => stored += 1,
            SetOutcome::QuotaExceeded(what) => assert_eq!(what, "persistence-keys"),
            SetOutcome::Exists => panic!("app_data_set never answers Exists"),
        }
    }
    assert_eq!(stored, 10, "exactly the quota");
    assert_eq!(store.app_data_keys("app", "", 100).await.unwrap().len(), 10);
}

pub async fn app_logs(store: DynStore) {
    let entries = [
        log("app", 10, "debug", "d"),
        log("app", 20, "info", "i"),
        log("app", 30, "warn", "w"),
        AppLogEntry {
            fault: Some("trap: unreachable".into()),
            handler: None,
            ..log("app", 40, "error", "e")
        },
        log("app", 50, "weird", "unknown levels rank as info"),
        log("other", 60, "error", "elsewhere"),
    ];
    store.append_app_logs(&entries).await.unwrap();
    store.append_app_logs(&[]).await.unwrap();
    let levels = |min: i64, page: Page| {
        let store = store.clone();
        async move {
            let l = store.app_logs("app", min, page).await.unwrap();
            (l.items.iter().map(|e| e.ts.0).collect::<Vec<_>>(), l.total)
        }
    };
    let all = Page::new(0, 100);
    assert_eq!(
        levels(0, all).await,
        (vec![50, 40, 30, 20, 10], 5),
        "newest first"
    );
    assert_eq!(levels(1, all).await, (vec![50, 40, 30, 20], 4));
    assert_eq!(levels(2, all).await, (vec![40, 30], 2));
    assert_eq!(levels(3, all).await, (vec![40], 1));
    assert_eq!(levels(0, Page::new(1, 2)).await, (vec![40, 30], 5));
    assert_eq!(levels(0, Page::new(0, 0)).await, (vec![], 5));
    let l = store.app_logs("app", 3, all).await.unwrap();
    assert_eq!(l.items, vec![entries[3].clone()]);

    assert_eq!(store.prune_app_logs(Ts(30)).await.unwrap(), 2);
    assert_eq!(store.prune_app_logs(Ts(30)).await.unwrap(), 0);
    assert_eq!(levels(0, all).await, (vec![50, 40, 30], 3));
    assert_eq!(
        store.app_logs("other", 0, all).await.unwrap().total,
        1,
        "pruning keeps newer entries of every app"
    );
}

pub async fn app_jobs(store: DynStore) {
    let j1 = job("j1", "app", 100);
    let j2 = JobRecord {
        interval_ms: Some(60_000),
        data: None,
        ..job("j2", "app", 50)
    };
    let j3 = job("j3", "other", 200);
    for j in [&j1, &j2, &j3] {
        store.put_job(j).await.unwrap();
    }
    assert_eq!(
        store.app_jobs("app").await.unwrap(),
        vec![j2.clone(), j1.clone()]
    );
    assert_eq!(store.count_app_jobs("app").await.unwrap(), 2);
    assert_eq!(store.count_app_jobs("other").await.unwrap(), 1);
    assert_eq!(store.count_app_jobs("nobody").await.unwrap(), 0);
    // put replaces.
    let j1b = JobRecord {
        next_run: Ts(150),
        ..j1.clone()
    };
    store.put_job(&j1b).await.unwrap();
    assert_eq!(
        store.app_jobs("app").await.unwrap(),
        vec![j2.clone(), j1b.clone()]
    );
    assert_eq!(store.count_app_jobs("app").await.unwrap(), 2);

    // Claims: due, unleased jobs only, soonest first, at most `limit`.
    assert!(store
        .claim_due_jobs(Ts(10), "me", Ts(1_000), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_due_jobs(Ts(500), "me", Ts(1_000), 2)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j2", "j1"]
    );
    for j in &claimed {
        assert_eq!(j.lease_owner.as_deref(), Some("me"));
        assert_eq!(j.lease_until, Some(Ts(1_000)));
    }
    // Held jobs are not claimed again until the lease expires.
    let rest = store
        .claim_due_jobs(Ts(500), "you", Ts(2_000), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j3"]
    );
    assert!(store
        .claim_due_jobs(Ts(999), "you", Ts(2_000), 10)
        .await
        .unwrap()
        .is_empty());

    // Only the holder finishes a job.
    store
        .finish_job("j2", "you", Some(Ts(5_000)))
        .await
        .unwrap();
    let j2_now = store.app_jobs("app").await.unwrap();
    assert_eq!(j2_now[0].lease_owner.as_deref(), Some("me"));
    assert_eq!(j2_now[0].next_run, Ts(50));
    store.finish_job("j2", "me", Some(Ts(5_000))).await.unwrap();
    store.finish_job("j1", "me", None).await.unwrap();
    assert_eq!(
        store.app_jobs("app").await.unwrap(),
        vec![JobRecord {
            next_run: Ts(5_000),
            ..j2.clone()
        }]
    );
    // An expired lease can be taken over; the old holder can no longer finish.
    let taken = store
        .claim_due_jobs(Ts(2_000), "them", Ts(9_000), 10)
        .await
        .unwrap();
    assert_eq!(
        taken.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j3"]
    );
    store.finish_job("j3", "you", None).await.unwrap();
    assert_eq!(store.app_jobs("other").await.unwrap().len(), 1);
    store.finish_job("j3", "them", None).await.unwrap();
    assert!(store.app_jobs("other").await.unwrap().is_empty());
    store.finish_job("j-none", "me", None).await.unwrap();

    // Deletes.
    assert!(
        !store.delete_job("other-app", "j2").await.unwrap(),
        "only the owning app's"
    );
    assert!(store.delete_job("app", "j2").await.unwrap());
    assert!(!store.delete_job("app", "j2").await.unwrap());
    for i in 0..3 {
        store
            .put_job(&job(&format!("k{i}"), "bulk", i))
            .await
            .unwrap();
    }
    assert_eq!(store.count_app_jobs("bulk").await.unwrap(), 3);
    assert_eq!(store.delete_app_jobs("bulk").await.unwrap(), 3);
    assert_eq!(store.delete_app_jobs("bulk").await.unwrap(), 0);
    assert_eq!(store.count_app_jobs("bulk").await.unwrap(), 0);
}

/// An instance shutting down gives its leases back: the jobs are claimable at once,
/// as due as they were, and other owners' leases are untouched.
pub async fn job_leases_released(store: DynStore) {
    for i in 0..3 {
        store
            .put_job(&job(&format!("m{i}"), "app", 100 + i))
            .await
            .unwrap();
    }
    store.put_job(&job("t0", "app", 200)).await.unwrap();
    let mine = store
        .claim_due_jobs(Ts(150), "stopping", Ts(60_000), 10)
        .await
        .unwrap();
    assert_eq!(mine.len(), 3);
    let theirs = store
        .claim_due_jobs(Ts(250), "other", Ts(60_000), 10)
        .await
        .unwrap();
    assert_eq!(
        theirs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["t0"]
    );
    // Before the release nobody else can take them until the lease expires.
    assert!(store
        .claim_due_jobs(Ts(300), "next", Ts(60_000), 10)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(store.release_job_leases("stopping").await.unwrap(), 3);
    assert_eq!(store.release_job_leases("stopping").await.unwrap(), 0);
    let jobs = store.app_jobs("app").await.unwrap();
    for j in jobs.iter().filter(|j| j.id.starts_with('m')) {
        assert_eq!(
            (j.lease_owner.as_deref(), j.lease_until),
            (None, None),
            "{j:?}"
        );
    }
    let t0 = jobs.iter().find(|j| j.id == "t0").unwrap();
    assert_eq!(
        t0.lease_owner.as_deref(),
        Some("other"),
        "not ours to release"
    );
    // Claimable at once, long before the old lease would have expired, still due
    // when they were.
    let taken = store
        .claim_due_jobs(Ts(300), "next", Ts(60_000), 10)
        .await
        .unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|j| (j.id.as_str(), j.next_run))
            .collect::<Vec<_>>(),
        [("m0", Ts(100)), ("m1", Ts(101)), ("m2", Ts(102))]
    );
}

pub async fn job_claim_races(store: DynStore) {
    for i in 0..30 {
        store
            .put_job(&job(&format!("j{i:02}"), "app", i))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for owner in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("owner-{owner}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_due_jobs(Ts(1_000), &owner, Ts(10_000), 4)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all.sort();
    let want: Vec<String> = (0..30).map(|i| format!("j{i:02}")).collect();
    assert_eq!(all, want, "every job claimed exactly once");
}

/// `app_data_insert` claims a key once: later inserts (also concurrent ones) see
/// `Exists` and leave the value alone; the quota still applies.
pub async fn app_data_insert_once(store: DynStore) {
    let roomy = DataQuota {
        max_keys: 100,
        max_bytes: 1 << 20,
    };
    assert_eq!(
        store
            .app_data_insert("claim", "k", b"first", roomy)
            .await
            .unwrap(),
        SetOutcome::Stored
    );
    assert_eq!(
        store
            .app_data_insert("claim", "k", b"second", roomy)
            .await
            .unwrap(),
        SetOutcome::Exists
    );
    assert_eq!(
        store.app_data_get("claim", "k").await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    // Another app's key of the same name is its own.
    assert_eq!(
        store
            .app_data_insert("other", "k", b"x", roomy)
            .await
            .unwrap(),
        SetOutcome::Stored
    );
    // Deleted, it can be claimed again.
    assert!(store.app_data_delete("claim", "k").await.unwrap());
    assert_eq!(
        store
            .app_data_insert("claim", "k", b"third", roomy)
            .await
            .unwrap(),
        SetOutcome::Stored
    );
    let tight = DataQuota {
        max_keys: 1,
        max_bytes: 1 << 20,
    };
    assert_eq!(
        store
            .app_data_insert("claim", "k2", b"v", tight)
            .await
            .unwrap(),
        SetOutcome::QuotaExceeded("persistence-keys")
    );

    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .app_data_insert("race", "once", format!("{i}").as_bytes(), roomy)
                .await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        match task.await.expect("task").expect("app_data_insert") {
            SetOutcome::Stored => stored += 1,
            SetOutcome::Exists => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, 1, "exactly one concurrent insert wins");
    assert_eq!(store.app_data_keys("race", "", 10).await.unwrap().len(), 1);
}
