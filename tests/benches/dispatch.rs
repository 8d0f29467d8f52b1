//! The pre-send hook's cost in process, layer by layer, for one message:
//!
//! 1. **native Rust baseline**: polite's hook written as a native [`PreSendHook`];
//! 2. **bare wasmtime call**: the component's `pre-message-sent` export called on one
//!    instance with message and room already in WIT form;
//! 3. **instance pool call**: the same through [`InstancePool::call`] (slot, instance
//!    checkout, deadline, stderr capture, fault accounting);
//! 4. **full dispatch**: [`PreSendHook::pre_send`] of the apps engine with 1 and 10
//!    enabled copies of polite (chain, read check, conversions, the calls); with 10
//!    also from two runtime workers at once, as a server's workers do.
//!
//! Each call is timed on its own (the clock's own cost is printed first); median
//! and p99 per call. The engine runs on SQLite in a temporary directory with the
//! defaults a server has. `cargo bench -p palaver-tests --bench dispatch`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use palaver_server::apps::host::convert;
use palaver_server::apps::pool::Call;
use palaver_server::apps::AppsEngine;
use palaver_server::chat::hooks::PreSendHook;
use palaver_server::chat::messages::NewMessage;
use palaver_server::chat::rooms::NewRoom;
use palaver_server::chat::{Chat, ChatResult};
use palaver_server::config::Config;
use palaver_server::serve;
use palaver_server::store::{self, Message, Room, RoomType, StorageTarget, User};
use palaver_tests::app_admin::{self, PRE_SEND};
use palaver_tests::apps;
use palaver_tests::bench::{percentile, us};

const CALLS: usize = 20_000;
const WARMUP: usize = 2_000;
const SUFFIX: &str = " (polite)";

/// polite's hook (tests/apps/polite) in native Rust.
struct NativePolite;

#[async_trait]
impl PreSendHook for NativePolite {
    async fn pre_send(
        &self,
        _sender: &User,
        _room: &Room,
        message: Message,
    ) -> ChatResult<Message> {
        if message.msg.to_lowercase().contains("please") && !message.msg.ends_with(SUFFIX) {
            let mut changed = message;
            changed.msg = format!("{}{SUFFIX}", changed.msg);
            return Ok(changed);
        }
        Ok(message)
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

/// Times `calls` runs of `f` one by one, after `WARMUP` untimed ones.
async fn time<F, Fut>(calls: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..WARMUP {
        f().await;
    }
    let mut lat = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        f().await;
        lat.push(started.elapsed());
    }
    stats(lat)
}

fn stats(mut lat: Vec<Duration>) -> Stats {
    lat.sort();
    Stats {
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
    }
}

fn report(label: &str, s: &Stats) {
    println!(
        "  {label:<44} median {:>8.3} us   p99 {:>8.3} us",
        us(s.p50),
        us(s.p99)
    );
}

/// Times the engine's whole pre-send dispatch of `message`.
async fn dispatch(engine: &AppsEngine, sender: &User, room: &Room, message: &Message) -> Stats {
    time(CALLS, || async {
        let out = engine.pre_send(sender, room, message.clone()).await;
        assert!(out.is_ok());
    })
    .await
}

/// Times the whole pre-send dispatch on `threads` runtime workers at once, each
/// dispatching [`CALLS`] / `threads` messages one after another.
async fn concurrently(
    engine: &Arc<AppsEngine>,
    sender: &User,
    room: &Room,
    message: &Message,
    threads: usize,
) -> Stats {
    let mut tasks = Vec::new();
    for _ in 0..threads {
        let (engine, sender, room, message) = (
            engine.clone(),
            sender.clone(),
            room.clone(),
            message.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(CALLS / threads);
            for i in 0..WARMUP + CALLS / threads {
                let started = Instant::now();
                let out = engine.pre_send(&sender, &room, message.clone()).await;
                if i >= WARMUP {
                    lat.push(started.elapsed());
                }
                assert!(out.is_ok());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("dispatching task"));
    }
    stats(all)
}

async fn install(engine: &AppsEngine, wasm: &[u8], id: &str) {
    let manifest = app_admin::polite_copy_manifest(id, PRE_SEND);
    let record = engine
        .install(&app_admin::package_bytes(&manifest, wasm), None, true)
        .await
        .unwrap_or_else(|e| panic!("install {id}: {e}"));
    assert_eq!(record.status, "manually_enabled");
}

#[tokio::main]
async fn main() {
    let wasm = std::fs::read(apps::wasm_path(&apps::test_apps_dir(), "polite"))
        .expect("read the polite component");
    let dir = tempfile::tempdir().expect("data directory");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        marketplace_dir: dir.path().join("marketplace"),
        ..Config::default()
    };
    let store = store::open(&StorageTarget::Sqlite(dir.path().join("palaver.db")), true)
        .await
        .expect("open SQLite");
    let chat = Chat::new(store.clone(), config.chat_options());
    chat.seed_settings().await.expect("settings");
    let (admin, _) = chat
        .bootstrap_admin(None, "admin", "admin@localhost", Some("bench-password"))
        .await
        .expect("admin")
        .expect("a new admin");
    let room = chat
        .create_room(
            &admin,
            NewRoom {
                kind: RoomType::Channel,
                name: "bench".into(),
                members: Vec::new(),
                read_only: false,
                topic: Some("where the benchmark talks".into()),
                description: None,
                custom_fields: None,
                team_id: None,
            },
        )
        .await
        .expect("room");
    // A message as the store hands it to the hook: sent once for real.
    let (room, message) = chat
        .send_message(
            &admin,
            NewMessage {
                id: None,
                rid: room.id.clone(),
                msg: "hello everyone, the standup moves to 10:30 tomorrow".into(),
                tmid: None,
                alias: None,
                emoji: None,
                avatar: None,
                attachments: Vec::new(),
                custom_fields: None,
                ..Default::default()
            },
        )
        .await
        .expect("message");
    let engine = AppsEngine::start(chat.clone(), store, serve::engine_config(&config))
        .await
        .expect("apps engine");

    println!(
        "Pre-send hook cost in process (polite component: {} bytes; {CALLS} calls each, one at a time)",
        wasm.len()
    );
    report(
        "clock (Instant::now twice)",
        &time(CALLS, || async {}).await,
    );

    let native: Arc<dyn PreSendHook> = Arc::new(NativePolite);
    let s = time(CALLS, || {
        let (native, admin, room, message) = (&native, &admin, &room, message.clone());
        async move {
            let out = native.pre_send(admin, room, message).await;
            assert!(out.is_ok());
        }
    })
    .await;
    report("native Rust baseline", &s);

    let s = dispatch(&engine, &admin, &room, &message).await;
    report("engine dispatch, no apps", &s);

    install(&engine, &wasm, "polite0").await;
    let pool = engine.instance_pool("polite0").expect("polite0 runs");
    let (wm, wr) = (convert::message(&message), convert::room(&room));
    let mut bare = pool.instantiate().await.expect("an instance");
    let s = {
        let bare = &mut bare;
        let (wm, wr) = (&wm, &wr);
        let mut lat = Vec::with_capacity(CALLS);
        for i in 0..CALLS + WARMUP {
            bare.arm("pre-message-sent", Duration::from_secs(1));
            let started = Instant::now();
            let events = bare.app.palaver_apps_events();
            let out = events.call_pre_message_sent(&mut bare.store, wm, wr).await;
            let took = started.elapsed();
            assert!(out.is_ok());
            if i >= WARMUP {
                lat.push(took);
            }
        }
        stats(lat)
    };
    report("bare wasmtime call (WIT values ready)", &s);

    let s = time(CALLS, || {
        let (message, room) = (&message, &room);
        async move {
            let _ = (convert::message(message), convert::room(room));
        }
    })
    .await;
    report("converting message + room to WIT values", &s);

    let (wm, wr) = (Arc::new(wm), Arc::new(wr));
    let s = time(CALLS, || {
        let (pool, wm, wr) = (&pool, wm.clone(), wr.clone());
        async move {
            let out = pool.call(Call::PreMessageSent(wm, wr)).await;
            assert!(out.is_ok());
        }
    })
    .await;
    report("instance pool call", &s);

    let s = dispatch(&engine, &admin, &room, &message).await;
    report("full dispatch, 1 app", &s);
    let one = s.p50;

    for i in 1..10 {
        install(&engine, &wasm, &format!("polite{i}")).await;
    }
    let s = dispatch(&engine, &admin, &room, &message).await;
    report("full dispatch, 10 apps", &s);
    println!(
        "  per app with 10 apps: median {:.3} us (1 app: {:.3} us)",
        us(s.p50) / 10.0,
        us(one)
    );

    // A message polite rewrites: every app in the chain modifies what it gets.
    let mut please = message.clone();
    please.msg = "please review the release notes".into();
    let s = dispatch(&engine, &admin, &room, &please).await;
    report("full dispatch, 10 apps, first one modifies", &s);

    // In a server, two workers run posts at once through the same apps: shared
    // counters and locks, and instances moving between cores, cost more than alone.
    let s = concurrently(&engine, &admin, &room, &message, 2).await;
    report("full dispatch, 10 apps, 2 threads at once", &s);

    // In a server, other requests run between two messages and evict the apps'
    // instances from the CPU caches: the same dispatch after touching 8 MiB.
    let mut scratch = vec![0u8; 8 << 20];
    let mut lat = Vec::with_capacity(CALLS / 10);
    for round in 0..CALLS / 10 {
        for (i, b) in scratch.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add((i + round) as u8);
        }
        let started = Instant::now();
        let out = engine.pre_send(&admin, &room, message.clone()).await;
        lat.push(started.elapsed());
        assert!(out.is_ok());
    }
    report("full dispatch, 10 apps, caches cold", &stats(lat));
    std::hint::black_box(&scratch);
    chat.close().await.expect("close storage");
}
