//! The notification fan-out is durable: each post commits a marker (queue kind
//! `notify`) with the message, and the fan-out runs from it. A `kill -9` right
//! after the posts were acknowledged, before any notice was queued, loses nothing:
//! after the restart every push (to the gateway's fake) and every mail (to a real
//! SMTP server) arrives, each exactly once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use palaver_tests::fake_push::FakePush;
use palaver_tests::smtp::{SinkOptions, SmtpSink};
use serde_json::json;

use crate::common::*;

const N: usize = 5;

async fn queue_depth(srv: &Palaver, admin: &Session, kind: &str) -> u64 {
    let stats = srv.get_ok("palaver.outbox.stats", admin).await;
    stats["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["kind"] == kind))
        .map(|q| q["pending"].as_u64().unwrap_or(0))
        .unwrap_or(0)
}

async fn person(srv: &Palaver, admin: &Session, name: &str) -> Session {
    srv.post_ok(
        "users.create",
        admin,
        json!({
            "username": name,
            "name": format!("{name} Name"),
            "email": format!("{name}@palaver.test"),
            "password": palaver_tests::server::password_for(name),
            "verified": true,
        }),
    )
    .await;
    srv.login(name, &palaver_tests::server::password_for(name))
        .await
}

#[tokio::test]
async fn notices_of_acknowledged_posts_survive_kill_9_and_arrive_once() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let fake = FakePush::start().await;
    // The fan-out starts well after the post: the process dies before any notice
    // is queued, so all of them come from the markers. The mail window (1 s) has
    // ended by then: each message is mailed on its own, once.
    let mut srv = Palaver::builder()
        .envs(fake.palaver_env())
        .env("PALAVER_OUTBOX__FANOUT_START_DELAY_MS", "4000")
        .env("PALAVER_OUTBOX__BACKOFF_BASE_MS", "100")
        .env("PALAVER_OUTBOX__BACKOFF_MAX_SECS", "1")
        .env("PALAVER_SETTINGS__EMAIL_NOTIFICATION_WINDOW_SECONDS", "1")
        .start()
        .await;
    let admin = srv.admin().await;
    for (id, value) in [
        ("SMTP_Host", json!("127.0.0.1")),
        ("SMTP_Port", json!(sink.port())),
        ("SMTP_IgnoreTLS", json!(true)),
        ("From_Email", json!("chat@palaver.test")),
        ("Push_enable_gateway", json!(true)),
    ] {
        srv.post_ok(&format!("settings/{id}"), &admin, json!({ "value": value }))
            .await;
    }
    let people = ["alice", "bob"];
    for name in people {
        let s = person(&srv, &admin, name).await;
        srv.post_ok(
            "push.token",
            &s,
            json!({"type": "gcm", "value": format!("gcm-{name}"), "appName": "chat.rocket.android"}),
        )
        .await;
    }
    let rid = str_of(
        &srv.post_ok(
            "channels.create",
            &admin,
            json!({"name": "durable", "members": people}),
        )
        .await["channel"]["_id"],
        "rid",
    )
    .to_string();
    let texts: Vec<String> = (0..N).map(|i| format!("@all durable-{i}")).collect();
    for text in &texts {
        post(&srv, &admin, &rid, text).await;
    }
    // Acknowledged: the markers are committed, nothing is queued for delivery yet.
    assert_eq!(queue_depth(&srv, &admin, "notify").await, N as u64);
    assert_eq!(queue_depth(&srv, &admin, "push").await, 0);
    assert_eq!(queue_depth(&srv, &admin, "email").await, 0);
    srv.kill9();
    assert!(fake.accepted().is_empty() && sink.received().is_empty());
    srv.start_again().await;

    // Every member gets a push per post.
    let expected = N * people.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.accepted().len() < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} pushes after the restart; refusals {:?}\n{}",
            fake.accepted().len(),
            fake.refusals(),
            srv.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And every post is in exactly one mail of each member (batched or not).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mentioned = |mails: &[palaver_tests::smtp::Received]| {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for m in mails {
            for t in &texts {
                let word = t.trim_start_matches("@all ");
                if m.text.contains(word) || m.html.contains(word) {
                    *seen.entry((m.to.join(","), word.to_string())).or_default() += 1;
                }
            }
        }
        seen
    };
    while mentioned(&sink.received()).len() < expected {
        assert!(
            Instant::now() < deadline,
            "mails after the restart: {:#?}",
            sink.received()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing more comes: no duplicate from a second fan-out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut per_push: BTreeMap<(String, String), usize> = BTreeMap::new();
    for a in fake.accepted() {
        let mid = a.request.json()["options"]["payload"]["messageId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *per_push.entry((a.token.clone(), mid)).or_default() += 1;
    }
    assert_eq!(per_push.len(), expected, "{per_push:?}");
    assert!(per_push.values().all(|n| *n == 1), "{per_push:?}");
    let seen = mentioned(&sink.received());
    assert_eq!(seen.len(), expected, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(queue_depth(&srv, &admin, "notify").await, 0);
}

/// A fan-out cut short (its instance died after queueing the first members'
/// notices) resumes after the last member it got to: the members before get
/// nothing more, those after get their push once.
#[tokio::test]
async fn a_fan_out_cut_short_resumes_where_it_stopped() {
    use palaver_server::store::outbox::{OutboxKind, OutboxStore};
    use palaver_server::store::sqlite::SqliteStore;
    use palaver_server::store::{Store, Ts};

    let fake = FakePush::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("resume.db");
    let mut srv = Palaver::builder()
        .storage_uri(format!("sqlite:{}", db.display()))
        .envs(fake.palaver_env())
        .env("PALAVER_OUTBOX__FANOUT_START_DELAY_MS", "3000")
        .start()
        .await;
    let admin = srv.admin().await;
    srv.post_ok(
        "settings/Push_enable_gateway",
        &admin,
        json!({ "value": true }),
    )
    .await;
    let people = ["ann", "ben", "cat", "dan"];
    let mut ids = Vec::new();
    for name in people {
        let s = person(&srv, &admin, name).await;
        srv.post_ok(
            "push.token",
            &s,
            json!({"type": "gcm", "value": format!("gcm-{name}"), "appName": "chat.rocket.android"}),
        )
        .await;
        ids.push((s.user_id.clone(), name));
    }
    let rid = str_of(
        &srv.post_ok(
            "channels.create",
            &admin,
            json!({"name": "resumed", "members": people}),
        )
        .await["channel"]["_id"],
        "rid",
    )
    .to_string();
    post(&srv, &admin, &rid, "@all resumed").await;
    assert_eq!(queue_depth(&srv, &admin, "notify").await, 1);
    srv.kill9();

    // As a crashed instance leaves it: the marker leased (the lease since
    // expired) with the progress of a first page that ended at the second member
    // in the fan-out's order (by user id).
    ids.sort();
    let cursor = ids[1].0.clone();
    {
        let store = SqliteStore::open(&db, false).await.expect("open the store");
        let later = Ts(Ts::now().0 + 60_000);
        let leased = store
            .lease_outbox(OutboxKind::Notify, later, "crashed", Ts(0), 10)
            .await
            .expect("lease");
        assert_eq!(leased.len(), 1, "{leased:?}");
        let mut payload = leased[0].payload.clone();
        payload["after"] = json!(cursor);
        let stepped = store
            .enqueue_outbox_advancing(&[], &leased[0].id, "crashed", &payload)
            .await
            .expect("progress");
        assert_eq!(stepped, Some(0));
        store.close().await.expect("close");
    }
    srv.start_again().await;

    let expected: Vec<String> = ids[2..]
        .iter()
        .map(|(_, name)| format!("gcm-{name}"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.accepted().len() < expected.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} pushes; refusals {:?}\n{}",
            fake.accepted().len(),
            expected.len(),
            fake.refusals(),
            srv.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin = srv.admin().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue_depth(&srv, &admin, "notify").await > 0 {
        assert!(Instant::now() < deadline, "the fan-out never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got: Vec<String> = fake.accepted().iter().map(|a| a.token.clone()).collect();
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want, "only the members after the cursor, once each");
}
