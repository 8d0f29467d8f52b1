//! A test app that misbehaves on purpose, to show the host survives it.
//!
//! `/hostile <case>`, answered with ephemeral text:
//!
//! | case | what it does | answer |
//! |---|---|---|
//! | `loop` | loops forever | (trap at the deadline) |
//! | `alloc` | grows memory until it cannot | (trap) |
//! | `recurse` | recurses until the WebAssembly call stack is exhausted | (trap) |
//! | `recurse-frames` | recurses with big frames until the stack in linear memory overflows | (trap) |
//! | `logflood [n]` | writes `n` (100 000) log lines | `logged <n> lines` |
//! | `http <url>` | GETs any URL | `status <code> len <bytes>` or `error <wit error>` |
//! | `persist-fill [bytes]` | writes `bytes`-sized (16 KiB) values until refused | `wrote <n> keys (<bytes> bytes) then <wit error>` |
//! | `nopermission [url]` | calls every host function once | one line per call: `interface.func: ok` or `interface.func: <wit error>` |
//! | `panic` | panics with "hostile panic" | (trap) |
//! | `remind <secs>` | schedules a job that posts `hostile job ran` in the room | `scheduled` |
//! | `flood <what> <n> [prefix]` | up to `n` writes of `messages`, `rooms` (named `<prefix>-<i>`), `dms`, `notices` or `jobs`, until one is refused | `<what>: <k> then <wit error>` or `<what>: <n> ok` |
//! | `slowjob` | schedules a job `spin` that loops forever (until its deadline) | `scheduled` |
//! | `forkbomb` | schedules a job `fork` that schedules two more, at no delay, forever | `scheduled` |
//! | `bigcreate [n] [bytes]` | `rooms.create` with `n` (3 800) members of `bytes` (32 KiB) each, all one buffer in the app's memory: a ~120 MiB copy for the host from ~100 KiB | `error <wit error>` or `created` |
//! | `ok` | nothing | `still fine` |
//!
//! `<wit error>` is the contract's spelling: `permission-denied(networking)`,
//! `not-found`, `limit-exceeded(persistence-bytes)`, `network(<reason>)`, …
//!
//! Its post-send handler (when its manifest is edited to subscribe to
//! `post-message-sent`) works 50 ms on a message starting `hear-me`, then logs
//! `heard <text>`: a slow consumer, so events queue up.
//!
//! Its pre-send hook loops forever on `hook-loop`, panics on `hook-panic`, grows memory
//! on `hook-alloc`, and lets everything else through.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::{http, messages, persistence, rooms, scheduler, users};

#[derive(Default)]
struct Hostile;

impl App for Hostile {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        let args = ctx.args();
        let Some((case, rest)) = args.subcommand() else {
            return Err(Error::invalid("usage: /hostile <case>"));
        };
        let text = match case {
            "loop" => spin(),
            "alloc" => grow_memory(),
            "recurse" => format!("depth {}", recurse(0)),
            "recurse-frames" => format!("depth {}", recurse_frames(0, &[0; 256])),
            "logflood" => {
                let lines = rest.parse_at::<u64>(0, "lines")?.unwrap_or(100_000);
                for i in 0..lines {
                    info!("flood line {i} of {lines}");
                }
                format!("logged {lines} lines")
            }
            "http" => {
                let url = rest.required(0, "url")?;
                match http::Request::get(url).send() {
                    Ok(res) => format!("status {} len {}", res.status, res.body.len()),
                    Err(e) => format!("error {}", e.to_wit_string()),
                }
            }
            "persist-fill" => {
                let size = rest.parse_at::<usize>(0, "bytes")?.unwrap_or(16 * 1024);
                persist_fill(size)
            }
            "nopermission" => {
                let url = rest.get(0).unwrap_or("https://example.com/");
                call_everything(ctx, url).join("\n")
            }
            "panic" => panic!("hostile panic"),
            "remind" => {
                let secs = rest.parse_at::<u64>(0, "seconds")?.unwrap_or(1);
                scheduler::schedule_once("remind", Duration::from_secs(secs), Some(&ctx.room.id))?;
                "scheduled".to_string()
            }
            "flood" => {
                let what = rest.required(0, "what")?;
                let n = rest.parse_at::<u32>(1, "count")?.unwrap_or(100);
                let prefix = rest.get(2).unwrap_or("flood");
                flood(ctx, what, n, prefix)?
            }
            "slowjob" => {
                scheduler::schedule_once("spin", Duration::ZERO, None)?;
                "scheduled".to_string()
            }
            "forkbomb" => {
                scheduler::schedule_once("fork", Duration::ZERO, None)?;
                "scheduled".to_string()
            }
            "bigcreate" => {
                let n = rest.parse_at::<usize>(0, "members")?.unwrap_or(3_800);
                let bytes = rest.parse_at::<usize>(1, "bytes")?.unwrap_or(32 * 1024);
                big_create(n, bytes)
            }
            "ok" => "still fine".to_string(),
            other => return Err(Error::invalid(format!("unknown case: {other}"))),
        };
        Ok(CommandReply::ephemeral(text))
    }

    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        if message.text.contains("hook-loop") {
            spin();
        }
        if message.text.contains("hook-panic") {
            panic!("hostile hook panic");
        }
        if message.text.contains("hook-alloc") {
            grow_memory();
        }
        Ok(PreSendDecision::Continue)
    }

    fn post_message_sent(&self, message: &Message, _room: &Room) -> Result<()> {
        if message.text.starts_with("hear-me") {
            let until = std::time::Instant::now() + Duration::from_millis(50);
            while std::time::Instant::now() < until {
                black_box(0u64);
            }
            info!("heard {}", message.text);
        }
        Ok(())
    }

    fn run_job(&self, job: &Job) -> Result<()> {
        if job.name == "spin" {
            spin();
        }
        if job.name == "fork" {
            // Refusals are ignored: a runaway app does not stop by itself.
            let _ = scheduler::schedule_once("fork", Duration::ZERO, None);
            let _ = scheduler::schedule_once("fork", Duration::ZERO, None);
            return Ok(());
        }
        if let ("remind", Some(room_id)) = (job.name.as_str(), job.data.as_deref()) {
            messages::send(&Message::new(room_id, "hostile job ran"))?;
        }
        Ok(())
    }
}

palaver_apps_sdk::export_app!(Hostile);

/// Loops forever (the counter keeps the loop from being optimised away).
fn spin() -> String {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates and touches 1 MiB blocks until allocation fails (which aborts: a trap).
fn grow_memory() -> String {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0xA5u8; 1 << 20];
        black_box(&mut block);
        blocks.push(block);
        black_box(&blocks);
    }
}

/// The depth [`recurse`] reached; storing it is a side effect that keeps every call.
static DEPTH: AtomicU64 = AtomicU64::new(0);

/// Recurses without end on the WebAssembly call stack (nothing goes to the stack in
/// linear memory), so the engine's stack limit traps it ("call stack exhausted").
fn recurse(depth: u64) -> u64 {
    DEPTH.store(depth, Ordering::Relaxed);
    if DEPTH.load(Ordering::Relaxed) == u64::MAX {
        return depth;
    }
    // Not a tail call, and not an accumulation LLVM could turn into a loop.
    recurse(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

/// Recurses without end with 256-byte frames on the stack in linear memory (passing a
/// local's address down keeps every frame alive), so that stack overflows first (an
/// out-of-bounds memory access trap).
#[allow(unconditional_recursion)]
fn recurse_frames(depth: u64, previous: &[u8; 256]) -> u64 {
    let mut frame = [0u8; 256];
    frame[0] = previous[1].wrapping_add(1);
    frame[(depth % 256) as usize] = depth as u8;
    let frame = black_box(frame);
    recurse_frames(depth + 1, &frame) + u64::from(black_box(frame[2]))
}

fn persist_fill(size: usize) -> String {
    let value = vec![0xABu8; size];
    let mut bytes = 0usize;
    for i in 0..1_000_000u32 {
        if let Err(e) = persistence::set(&format!("fill-{i:07}"), &value) {
            return format!("wrote {i} keys ({bytes} bytes) then {}", e.to_wit_string());
        }
        bytes += size;
    }
    format!("wrote 1000000 keys ({bytes} bytes) without an error")
}

fn outcome<T>(name: &str, result: Result<T>) -> String {
    match result {
        Ok(_) => format!("{name}: ok"),
        Err(e) => format!("{name}: {}", e.to_wit_string()),
    }
}

/// Calls every host function that can be refused, once each.
fn call_everything(ctx: &CommandContext, url: &str) -> Vec<String> {
    let room_id = ctx.room.id.as_str();
    let sender = &ctx.sender;
    let mut lines = Vec::new();

    let sent = messages::send(&Message::new(room_id, "hostile probe"));
    let message_id = sent.clone().unwrap_or_else(|_| "missing-message".into());
    lines.push(outcome("messages.send", sent));
    lines.push(outcome(
        "messages.update",
        messages::update(&message_id, "hostile probe (edited)"),
    ));
    lines.push(outcome("messages.get", messages::get(&message_id)));
    lines.push(outcome(
        "messages.notify-user",
        messages::notify_user(&sender.id, room_id, "hostile probe"),
    ));
    lines.push(outcome(
        "messages.notify-room",
        messages::notify_room(room_id, "hostile probe"),
    ));

    lines.push(outcome("rooms.get", rooms::get(room_id)));
    let room_name = ctx.room.name.clone().unwrap_or_else(|| "general".into());
    lines.push(outcome("rooms.get-by-name", rooms::get_by_name(&room_name)));
    let new_room = format!(
        "hostile-probe-{}",
        ctx.trigger_id.as_deref().unwrap_or("room")
    );
    lines.push(outcome(
        "rooms.create",
        rooms::create(RoomKind::Group, &new_room, &[sender.username.as_str()]),
    ));
    lines.push(outcome(
        "rooms.create-direct",
        rooms::create_direct(&[sender.username.as_str()]),
    ));
    lines.push(outcome("rooms.members", rooms::members(room_id, 0, 10)));
    lines.push(outcome(
        "rooms.add-member",
        rooms::add_member(room_id, &sender.id),
    ));

    lines.push(outcome("users.get", users::get(&sender.id)));
    lines.push(outcome(
        "users.get-by-username",
        users::get_by_username(&sender.username),
    ));
    lines.push(outcome("users.email", users::email(&sender.id)));

    lines.push(outcome("persistence.get", persistence::get("probe")));
    lines.push(outcome("persistence.set", persistence::set("probe", b"x")));
    lines.push(outcome(
        "persistence.set-if-absent",
        persistence::set_if_absent("probe-once", b"x"),
    ));
    lines.push(outcome("persistence.delete", persistence::delete("probe")));
    lines.push(outcome("persistence.list", persistence::list("", 10)));

    lines.push(outcome("http.request", http::Request::get(url).send()));

    let once = scheduler::schedule_once("hostile-probe", Duration::from_secs(3600), None);
    let job_id = once.clone().unwrap_or_else(|_| "missing-job".into());
    lines.push(outcome("scheduler.schedule-once", once));
    let every = scheduler::schedule_every("hostile-probe", Duration::from_secs(3600), None);
    if let Ok(id) = &every {
        let _ = scheduler::cancel(id);
    }
    lines.push(outcome("scheduler.schedule-every", every));
    lines.push(outcome("scheduler.cancel", scheduler::cancel(&job_id)));

    lines
}

/// Up to `n` writes of one kind until the host refuses one.
fn flood(ctx: &CommandContext, what: &str, n: u32, prefix: &str) -> Result<String> {
    let room_id = ctx.room.id.as_str();
    let me = &ctx.sender;
    for i in 0..n {
        let done = match what {
            "messages" => messages::send(&Message::new(room_id, format!("flood {i}"))).map(drop),
            "rooms" => rooms::create(
                RoomKind::Group,
                &format!("{prefix}-{i}"),
                &[me.username.as_str()],
            )
            .map(drop),
            "dms" => rooms::create_direct(&[me.username.as_str()]).map(drop),
            "notices" => messages::notify_user(&me.id, room_id, &format!("notice {i}")),
            "jobs" => {
                scheduler::schedule_once("flood", Duration::from_secs(3600), None).map(drop)
            }
            other => return Err(Error::invalid(format!("unknown flood: {other}"))),
        };
        if let Err(e) = done {
            return Ok(format!("{what}: {i} then {}", e.to_wit_string()));
        }
    }
    Ok(format!("{what}: {n} ok"))
}

/// `rooms.create` with `n` members that are all the same `bytes`-long buffer: the
/// app spends `bytes` plus 12 bytes a member, the host would copy `n × bytes`.
fn big_create(n: usize, bytes: usize) -> String {
    use palaver_apps_sdk::bindings::palaver::apps::rooms as raw;
    let buffer: &'static mut [u8] = Box::leak(vec![b'a'; bytes].into_boxed_slice());
    let ptr = buffer.as_mut_ptr();
    // SAFETY: none of them is ever dropped or written (ManuallyDrop), so the shared
    // (leaked) buffer is only read, by the canonical ABI's lowering.
    let members: std::mem::ManuallyDrop<Vec<String>> = std::mem::ManuallyDrop::new(
        (0..n)
            .map(|_| unsafe { String::from_raw_parts(ptr, bytes, bytes) })
            .collect(),
    );
    match raw::create(RoomKind::Group, "hostile-big", &members) {
        Ok(_) => "created".to_string(),
        Err(e) => format!("error {}", Error::from(e).to_wit_string()),
    }
}
