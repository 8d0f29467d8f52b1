//! Growth benchmark (SQLite, the real release binary): what requests cost as the
//! workspace grows. One store holds 10,000 users and a user with 1,000 rooms; one
//! room is filled to 10k, 100k and 1M messages (1% of them replies to one thread).
//! At each size the server is started on the database and this prints p50/p99 of:
//! the latest history page, a page 10,000 messages back through `latest`, a thread
//! page, `subscriptions.get`, `rooms.get?updatedSince`, a `users.list` page, a
//! users and a channels search for a rare term (10 matches: the trigram path) and
//! login. Then the user base grows from 10,000 to 100,000 and the users queries are
//! measured at both sizes: `roles.getUsersInRole` (a deep page of a big role, a
//! small role) and `users.listByStatus` (the web admin's tabs, a search for a
//! common term and one for a rare term).
//!
//! Filling goes through the store directly (`SqliteStore::import_messages`, the
//! post path's store effects in batches) while the server is stopped, so it takes
//! seconds, not hours. `cargo bench -p palaver-tests --bench growth`. Loopback only.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures::future::join_all;
use palaver_server::store::sqlite::SqliteStore;
use palaver_server::store::{
    Message, MessageStore, RoomStore, Store, SubscriptionStore, Ts, UserStore,
};
use palaver_tests::bench::{ms, percentile, use_release_bin};
use palaver_tests::server::{Palaver, Session};
use serde_json::json;

const SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];
const USERS: u64 = 10_000;
const MORE_USERS: u64 = 100_000;
const ROOMS: u64 = 1_000;
/// Requests per measured line (login: fewer, it hashes a password).
const SAMPLES: usize = 300;
const LOGINS: usize = 20;
const BATCH: u64 = 20_000;

/// An ISO date for a `latest`/`updatedSince` parameter.
fn iso(ts: i64) -> String {
    Utc.timestamp_millis_opt(ts)
        .single()
        .expect("a valid time")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

struct Fixture {
    big: String,
    root: Message,
    reader: Session,
    admin: Session,
}

async fn timed(n: usize, mut f: impl AsyncFnMut()) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f().await;
        lat.push(start.elapsed());
    }
    lat.sort();
    lat
}

async fn get(client: &reqwest::Client, srv: &Palaver, path: &str, auth: &Session) {
    let resp = client
        .get(srv.url(&format!("/api/v1/{path}")))
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let body = resp.bytes().await.expect("body");
    assert!(status.is_success(), "{path}: {status} {body:?}");
}

fn line(what: &str, size: u64, lat: &[Duration]) {
    println!(
        "{size:>9} msgs  {what:<34} p50 {:>7.2} ms   p99 {:>7.2} ms",
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.99)),
    );
}

async fn measure(srv: &Palaver, fx: &Fixture, size: u64, newest: i64) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let latest = format!("channels.history?roomId={}&count=50", fx.big);
    let back = format!(
        "channels.history?roomId={}&count=50&latest={}",
        fx.big,
        iso(newest - 10_000)
    );
    let thread = format!("chat.getThreadMessages?tmid={}&count=50", fx.root.id);
    let since = format!("rooms.get?updatedSince={}", iso(newest));
    let users = "users.list?count=50&offset=5000".to_string();
    // Ten users (grower00123x) and ten rooms (growth-012x) hold these.
    let rare_users = "users.list?count=50&filter=rower00123".to_string();
    let rare_rooms = "channels.list?count=50&filter=growth-012".to_string();
    // Warm the caches the way a running server has them.
    for path in [&latest, &back, &thread, &users, &rare_users, &rare_rooms] {
        get(&client, srv, path, &fx.admin).await;
    }
    let cases: [(&str, &String, &Session); 8] = [
        ("latest history page", &latest, &fx.admin),
        ("history page 10,000 back (latest)", &back, &fx.admin),
        ("thread page", &thread, &fx.admin),
        (
            "subscriptions.get (1,000 rooms)",
            &"subscriptions.get".to_string(),
            &fx.reader,
        ),
        ("rooms.get?updatedSince", &since, &fx.reader),
        ("users.list page (offset 5,000)", &users, &fx.admin),
        ("users.list search (rare term)", &rare_users, &fx.admin),
        ("channels.list search (rare term)", &rare_rooms, &fx.admin),
    ];
    for (what, path, auth) in cases {
        let lat = timed(SAMPLES, async || get(&client, srv, path, auth).await).await;
        line(what, size, &lat);
    }
    let lat = timed(LOGINS, async || {
        let r = srv
            .try_login(json!({"user": "reader", "password": palaver_tests::server::password_for("reader")}))
            .await;
        assert!(r.status.is_success(), "login: {}", r.text);
    })
    .await;
    line("login", size, &lat);
}

/// The users queries at `users` users.
async fn measure_users(srv: &Palaver, fx: &Fixture, users: u64) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let cases = [
        (
            "getUsersInRole user (offset 5,000)",
            "roles.getUsersInRole?role=user&count=50&offset=5000",
        ),
        (
            "getUsersInRole admin",
            "roles.getUsersInRole?role=admin&count=50",
        ),
        (
            "listByStatus all (offset 5,000)",
            "users.listByStatus?count=50&offset=5000",
        ),
        (
            "listByStatus deactivated tab",
            "users.listByStatus?status=deactivated&hasLoggedIn=true&count=50",
        ),
        (
            "listByStatus pending tab",
            "users.listByStatus?hasLoggedIn=false&type=user&count=50",
        ),
        (
            "listByStatus search (common term)",
            "users.listByStatus?searchTerm=grower&count=50",
        ),
        (
            "listByStatus search (rare term)",
            "users.listByStatus?searchTerm=rower00123&count=50",
        ),
    ];
    for (_, path) in cases {
        get(&client, srv, path, &fx.admin).await;
    }
    for (what, path) in cases {
        let lat = timed(SAMPLES, async || get(&client, srv, path, &fx.admin).await).await;
        println!(
            "{users:>9} users {what:<34} p50 {:>7.2} ms   p99 {:>7.2} ms",
            ms(percentile(&lat, 0.50)),
            ms(percentile(&lat, 0.99)),
        );
    }
}

/// Users `from..to` (every hundredth deactivated), written through the store.
async fn fill_users(store: &SqliteStore, reader_id: &str, from: u64, to: u64) {
    let reader = store.user_by_id(reader_id).await.unwrap().expect("reader");
    let tasks = (from..to).map(|i| {
        let mut u = reader.clone();
        u.id = format!("gu{i:06}");
        u.username = format!("grower{i:06}");
        u.name = format!("Grower {i}");
        u.active = i % 100 != 0;
        for e in &mut u.emails {
            e.address = format!("grower{i:06}@palaver.test");
        }
        async move { store.create_user(&u, None).await.expect("user") }
    });
    join_all(tasks).await;
}

/// 10,000 users and 999 more rooms of `reader`, written through the store.
async fn fill_workspace(store: &SqliteStore, reader_id: &str, big: &str) {
    fill_users(store, reader_id, 0, USERS).await;
    let room = store.room_by_id(big).await.unwrap().expect("room");
    let sub = store
        .subscription(big, reader_id)
        .await
        .unwrap()
        .expect("subscription");
    let tasks = (1..ROOMS).map(|i| {
        let (mut r, mut s) = (room.clone(), sub.clone());
        r.id = format!("gr{i:04}");
        r.name = Some(format!("growth-{i:04}"));
        r.fname = r.name.clone();
        r.msgs = 0;
        r.lm = None;
        r.last_message = None;
        r.users_count = 1;
        s.id = format!("gs{i:04}");
        s.rid = r.id.clone();
        s.name = format!("growth-{i:04}");
        s.fname = r.name.clone();
        async move { store.create_room(&r, &[s]).await.expect("room") }
    });
    join_all(tasks).await;
}

/// Messages `from..to` of the big room; every hundredth replies to the thread.
async fn fill_messages(store: &SqliteStore, root: &Message, from: u64, to: u64) {
    let mut i = from;
    while i < to {
        let end = (i + BATCH).min(to);
        let batch: Vec<Message> = (i..end)
            .map(|k| {
                let mut m = root.clone();
                m.id = format!("gm{k:07}");
                m.msg = format!("message number {k} of the growth benchmark");
                m.ts = Ts(root.ts.0 + 1 + k as i64);
                m.updated_at = m.ts;
                m.tmid = (k % 100 == 0).then(|| root.id.clone());
                m
            })
            .collect();
        store.import_messages(batch).await.expect("import");
        i = end;
    }
}

#[tokio::main]
async fn main() {
    use_release_bin();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("growth.db");
    let mut srv = Palaver::builder()
        .storage_uri(format!("sqlite:{}", db.display()))
        .env("RUST_LOG", "warn")
        .start()
        .await;
    let admin = srv.admin().await;
    let reader = srv.create_user(&admin, "reader").await;
    let big = srv
        .post_ok(
            "channels.create",
            &admin,
            json!({"name": "big", "members": ["reader"]}),
        )
        .await["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_string();
    let root_id = srv
        .post_ok(
            "chat.postMessage",
            &admin,
            json!({"roomId": big, "text": "the thread of the growth benchmark"}),
        )
        .await["message"]["_id"]
        .as_str()
        .expect("message id")
        .to_string();
    assert!(srv.stop(Duration::from_secs(15)).await, "clean stop");

    println!(
        "Growth benchmark on SQLite: {USERS} users, a user in {ROOMS} rooms, one room of \
         10k/100k/1M messages (1% in one thread); {SAMPLES} sequential requests per line \
         ({LOGINS} logins); client and server share this machine's cores"
    );
    let mut filled = 0;
    let mut fixture = None;
    for size in SIZES {
        let store = SqliteStore::open(&db, false).await.expect("open the store");
        let root = store.message(&root_id).await.unwrap().expect("thread root");
        if filled == 0 {
            let start = Instant::now();
            fill_workspace(&store, &reader.user_id, &big).await;
            println!(
                "(workspace filled in {:.1} s)",
                start.elapsed().as_secs_f64()
            );
        }
        let start = Instant::now();
        fill_messages(&store, &root, filled, size).await;
        println!(
            "({} messages added in {:.1} s)",
            size - filled,
            start.elapsed().as_secs_f64()
        );
        filled = size;
        store.close().await.expect("close");
        drop(store);
        let newest = root.ts.0 + size as i64;
        srv.start_again().await;
        let fx = fixture.get_or_insert_with(|| Fixture {
            big: big.clone(),
            root: root.clone(),
            reader: reader.clone(),
            admin: admin.clone(),
        });
        measure(&srv, fx, size, newest).await;
        if size == SIZES[0] {
            measure_users(&srv, fx, USERS).await;
        }
        assert!(srv.stop(Duration::from_secs(15)).await, "clean stop");
    }
    let store = SqliteStore::open(&db, false).await.expect("open the store");
    let start = Instant::now();
    fill_users(&store, &reader.user_id, USERS, MORE_USERS).await;
    println!(
        "({} users added in {:.1} s)",
        MORE_USERS - USERS,
        start.elapsed().as_secs_f64()
    );
    store.close().await.expect("close");
    drop(store);
    srv.start_again().await;
    let fx = fixture.as_ref().expect("measured");
    measure_users(&srv, fx, MORE_USERS).await;
    assert!(srv.stop(Duration::from_secs(15)).await, "clean stop");
}
