//! Notification benchmark (SQLite, the real release binary, a real SMTP server and
//! the push gateway's HTTPS fake on loopback): `@all` in a room of 5,000 members
//! whose addresses are verified, who each have a phone registered (push through
//! Rocket.Chat's gateway protocol) and who are all offline, so every one of them
//! is due an e-mail and a push.
//!
//! 1. Delivery: one `@all`, then the time until the push sink accepted all 5,000
//!    pushes, and until the SMTP server accepted all 5,000 mails, counted from the
//!    post (and, for mail, from the moment they came due: the batching window's
//!    end plus its grace).
//! 2. Posting cost: sequential `@all` posts with notifications on and off
//!    (`Troubleshoot_Disable_Notifications`), alternated in rounds, side by side.
//!    With notifications on, each post's 5,000 pushes are found and delivered
//!    while the next posts are measured (the cost of the work off the request, on
//!    the same cores); a phase starts once every earlier `@all` reached every
//!    phone, so an `off` phase never pays for an `on` phase's pushes. The window is an hour here, so mails are
//!    queued (and deduplicated) but not sent while posting is measured.
//!
//! Members and devices are written through the store while the server is stopped.
//! The push gateway's fake and the measuring client run on runtimes of their own
//! (the gateway's TLS work must not delay the client's clock).
//! `cargo bench -p palaver-tests --bench notify`; `NOTIFY_BENCH_OUTBOX_NICE=0` runs
//! the deliveries at the requests' priority, to compare. Loopback only.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use palaver_server::store::push::{PushDevice, PushStore, PushTarget};
use palaver_server::store::sqlite::SqliteStore;
use palaver_server::store::{RoomStore, Store, SubscriptionStore, Ts, UserStore};
use palaver_tests::bench::{ms, percentile, post_one, use_release_bin};
use palaver_tests::fake_push::FakePush;
use palaver_tests::server::Palaver;
use palaver_tests::smtp::{SinkOptions, SmtpSink};
use serde_json::json;

const MEMBERS: usize = 5_000;
/// Rounds of one `on` and one `off` phase; the ratio moves about ±0.1× between runs
/// of three, so five.
const ROUNDS: usize = 5;
const POSTS_PER_PHASE: usize = 10;
const WINDOW_SECS: i64 = 1;
/// The grace a window's mail waits (chat::mail::MISSED_GRACE_MS).
const GRACE_MS: i64 = palaver_server::chat::mail::MISSED_GRACE_MS;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn main() {
    // The push gateway's fake answers on a runtime of its own: in production the
    // gateway is another machine, and its TLS work must not queue beside the
    // measuring client's requests. It still shares the cores with the server; with
    // NOTIFY_BENCH_SINK_NICE=N its thread runs N nice steps lower (0 by default),
    // closer to a gateway elsewhere.
    let sink_nice: i32 = std::env::var("NOTIFY_BENCH_SINK_NICE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if sink_nice != 0 {
        println!("(push gateway fake at nice +{sink_nice})");
    }
    let sinks = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-push")
        .on_thread_start(move || {
            if sink_nice != 0 {
                // SAFETY: the calling thread's own priority.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, sink_nice);
                }
            }
        })
        .enable_all()
        .build()
        .expect("the fakes' runtime");
    let push = sinks.block_on(FakePush::start());
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("the client's runtime");
    client.block_on(bench(push));
    drop(client);
    drop(sinks);
}

async fn bench(push: FakePush) {
    use_release_bin();
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("notify.db");
    let mut builder = Palaver::builder()
        .storage_uri(format!("sqlite:{}", db.display()))
        .envs(push.palaver_env())
        .env("RUST_LOG", "warn");
    // To compare: the background runtime's priority (`outbox.nice`; 0: as requests).
    if let Ok(nice) = std::env::var("NOTIFY_BENCH_OUTBOX_NICE") {
        println!("(outbox.nice = {nice})");
        builder = builder.env("PALAVER_OUTBOX__NICE", nice);
    }
    let mut srv = builder.start().await;
    let admin = srv.admin().await;
    srv.post_ok(
        "users.create",
        &admin,
        json!({"username": "member", "name": "Member", "email": "member@palaver.test",
               "password": palaver_tests::server::password_for("member"), "verified": true}),
    )
    .await;
    let rid = srv
        .post_ok(
            "channels.create",
            &admin,
            json!({"name": "everyone", "members": ["member"]}),
        )
        .await["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_string();
    let member = srv.get_ok("users.info?username=member", &admin).await["user"]["_id"]
        .as_str()
        .expect("member id")
        .to_string();
    assert!(srv.stop(Duration::from_secs(15)).await, "clean stop");

    let started = Instant::now();
    {
        let store = SqliteStore::open(&db, false).await.expect("open the store");
        let user = store.user_by_id(&member).await.unwrap().expect("member");
        let sub = store
            .subscription(&rid, &member)
            .await
            .unwrap()
            .expect("sub");
        let tasks = (1..MEMBERS).map(|i| {
            let (mut u, mut s) = (user.clone(), sub.clone());
            u.id = format!("nu{i:05}");
            u.username = format!("member{i:05}");
            for e in &mut u.emails {
                e.address = format!("member{i:05}@palaver.test");
            }
            s.id = format!("ns{i:05}");
            s.u.id = u.id.clone();
            s.u.username = u.username.clone();
            let device = PushDevice {
                id: format!("nd{i:05}"),
                token: PushTarget::Gcm(format!("gcm-{i:05}")),
                app_name: "chat.rocket.android".into(),
                user_id: u.id.clone(),
                auth_token: String::new(),
                enabled: true,
                created_at: Ts::now(),
                updated_at: Ts::now(),
            };
            let store = &store;
            async move {
                store.create_user(&u, None).await.expect("user");
                store.add_subscription(&s).await.expect("subscription");
                store.save_push_device(&device).await.expect("device");
            }
        });
        join_all(tasks).await;
        let room = store.room_by_id(&rid).await.unwrap().expect("room");
        assert!(room.users_count as usize >= MEMBERS, "{}", room.users_count);
        store.close().await.expect("close");
    }
    println!(
        "({MEMBERS} members written in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    srv.start_again().await;
    let admin = srv.admin().await;
    for (id, value) in [
        ("SMTP_Host", json!("127.0.0.1")),
        ("SMTP_Port", json!(sink.port())),
        ("SMTP_IgnoreTLS", json!(true)),
        ("From_Email", json!("chat@palaver.test")),
        ("Notifications_Max_Room_Members", json!(0)),
        ("Push_enable_gateway", json!(true)),
        ("Email_Notification_Window_Seconds", json!(WINDOW_SECS)),
    ] {
        srv.post_ok(&format!("settings/{id}"), &admin, json!({ "value": value }))
            .await;
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let url = srv.url("/api/v1/chat.postMessage");

    // 1. Delivery of one @all to 5,000 offline members.
    let posted_at = now_ms();
    let lat = post_one(&client, &url, &admin, &rid, "@all delivery".into()).await;
    let w = WINDOW_SECS * 1000;
    let due = posted_at - posted_at.rem_euclid(w) + w + GRACE_MS;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut pushes_at, mut mails_at) = (None, None);
    let (pushes, mails) = loop {
        let (p, m) = (push.accepted_count(), sink.received().len());
        if pushes_at.is_none() && p >= MEMBERS - 1 {
            pushes_at = Some(now_ms());
        }
        if mails_at.is_none() && m >= MEMBERS {
            mails_at = Some(now_ms());
        }
        if (pushes_at.is_some() && mails_at.is_some()) || Instant::now() > deadline {
            break (p, m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = |t: Option<i64>, from: i64| {
        t.map_or("never (10 min)".to_string(), |t| {
            format!("{:.2} s", (t - from) as f64 / 1000.0)
        })
    };
    // Every member but `member`, made over the API, has a phone.
    println!(
        "@all to {MEMBERS} offline members ({} with a phone): post answered in {:.2} ms; \
         {pushes} pushes accepted by the push gateway {} after the post; \
         {mails} mails accepted by the SMTP server {} after the post, {} after they came due \
         (window {WINDOW_SECS} s + {:.0} s grace)",
        MEMBERS - 1,
        ms(lat),
        secs(pushes_at, posted_at),
        secs(mails_at, posted_at),
        secs(mails_at, due),
        GRACE_MS as f64 / 1000.0,
    );

    // 2. Posting cost, notifications on vs off.
    srv.post_ok(
        "settings/Email_Notification_Window_Seconds",
        &admin,
        json!({"value": 3600}),
    )
    .await;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    // Every @all with notifications on is pushed to every phone: the phases wait
    // for that, so an `off` phase never runs beside an `on` phase's fan-out (nor
    // does flipping the setting cancel it).
    let mut expected = pushes;
    for round in 0..ROUNDS {
        for enabled in [false, true] {
            srv.post_ok(
                "settings/Troubleshoot_Disable_Notifications",
                &admin,
                json!({"value": !enabled}),
            )
            .await;
            all_pushed(&push, expected).await;
            for i in 0..POSTS_PER_PHASE {
                let text = format!("@all round {round} post {i}");
                let d = post_one(&client, &url, &admin, &rid, text).await;
                if enabled {
                    expected += MEMBERS - 1;
                    on.push(d)
                } else {
                    off.push(d)
                }
            }
        }
    }
    all_pushed(&push, expected).await;
    on.sort();
    off.sort();
    println!(
        "@all post latency, {MEMBERS} members, {} posts each, sequential: \
         notifications on p50 {:.2} ms p99 {:.2} ms | off p50 {:.2} ms p99 {:.2} ms | \
         ratio p50 {:.2}x p99 {:.2}x",
        on.len(),
        ms(percentile(&on, 0.5)),
        ms(percentile(&on, 0.99)),
        ms(percentile(&off, 0.5)),
        ms(percentile(&off, 0.99)),
        ms(percentile(&on, 0.5)) / ms(percentile(&off, 0.5)).max(1e-9),
        ms(percentile(&on, 0.99)) / ms(percentile(&off, 0.99)).max(1e-9),
    );
    println!(
        "(pushes accepted by the gateway in all: {}, for {} @all posts with notifications on)",
        push.accepted_count(),
        on.len() + 1
    );
    assert!(srv.stop(Duration::from_secs(15)).await, "clean stop");
}

/// Waits until the push sink accepted `n` pushes in all.
async fn all_pushed(push: &FakePush, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(900);
    while push.accepted_count() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} pushes",
            push.accepted_count()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
