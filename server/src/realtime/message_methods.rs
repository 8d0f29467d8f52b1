//! Message methods beyond posting, Rocket.Chat's names and shapes: `pinMessage`,
//! `unpinMessage`, `starMessage`, `followMessage`, `unfollowMessage`,
//! `getThreadMessages`, `getThreadsList`, `readThreads`, `readMessages`, `messages/get`,
//! `loadMissedMessages`, `messageSearch`. Each calls the `chat` service the REST
//! endpoint calls.

use serde_json::{json, Map, Value};

use super::fanout::message_json;
use super::methods::{arg, opt_str, Caller, Outcome};
use super::protocol::{ejson_date, parse_date, DdpError};
use crate::chat::message_marks::{Changes, ThreadsKind};
use crate::chat::rooms::RoomRef;
use crate::store::{HistoryQuery, Message, Page};

/// The most messages one of these methods returns.
const MAX_PAGE: u64 = 500;

fn obj_at(params: &[Value], i: usize) -> Result<&Map<String, Value>, DdpError> {
    arg(params, i)
        .as_object()
        .ok_or_else(DdpError::match_failed)
}

fn id_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, DdpError> {
    opt_str(obj, key)?.ok_or_else(DdpError::match_failed)
}

fn number(v: Option<&Value>, default: u64) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(default).min(MAX_PAGE)
}

fn list(messages: &[Message]) -> Value {
    Value::Array(messages.iter().map(message_json).collect())
}

fn changes_json(changes: &Changes) -> Value {
    json!({
        "updated": list(&changes.updated),
        "deleted": changes.deleted.iter()
            .map(|t| json!({ "_id": t.id, "_deletedAt": ejson_date(t.deleted_at) }))
            .collect::<Vec<_>>(),
    })
}

/// Runs one of these methods; `None` for any other name.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Option<Outcome> {
    let outcome = match method {
        "pinMessage" | "unpinMessage" => pin(ctx, params, method == "pinMessage").await,
        "starMessage" => star(ctx, params).await,
        "followMessage" | "unfollowMessage" => follow(ctx, params, method == "followMessage").await,
        "getThreadMessages" => thread_messages(ctx, params).await,
        "getThreadsList" => threads_list(ctx, params).await,
        "readThreads" => read_threads(ctx, params).await,
        "readMessages" => read_messages(ctx, params).await,
        "messages/get" => messages_get(ctx, params).await,
        "loadMissedMessages" => load_missed(ctx, params).await,
        "messageSearch" => search(ctx, params).await,
        _ => return None,
    };
    Some(outcome)
}

async fn pin(ctx: &Caller<'_>, params: &[Value], pin: bool) -> Outcome {
    let user = ctx.user()?;
    let mid = id_of(obj_at(params, 0)?, "_id")?;
    let message = ctx.chat.pin_message(&user, mid, pin).await?;
    Ok(Some(if pin {
        message_json(&message)
    } else {
        json!(true)
    }))
}

/// `[{_id, rid, starred}]`.
async fn star(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let m = obj_at(params, 0)?;
    let mid = id_of(m, "_id")?;
    let starred = m.get("starred").and_then(Value::as_bool).unwrap_or(true);
    ctx.chat.star_message(&user, mid, starred).await?;
    Ok(Some(json!(true)))
}

/// `[{mid}]`.
async fn follow(ctx: &Caller<'_>, params: &[Value], follow: bool) -> Outcome {
    let user = ctx.user()?;
    let mid = id_of(obj_at(params, 0)?, "mid")?;
    ctx.chat.follow_message(&user, mid, follow).await?;
    Ok(None)
}

/// `[{tmid, limit?, skip?}]` → the replies, oldest first.
async fn thread_messages(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let o = obj_at(params, 0)?;
    let tmid = id_of(o, "tmid")?;
    let page = Page::new(number(o.get("skip"), 0), number(o.get("limit"), MAX_PAGE));
    let listing = ctx.chat.thread_replies(&user, tmid, page).await?;
    // Opening a thread reads it, as Rocket.Chat's `getThreadMessages` does.
    if listing.total > 0 {
        ctx.chat.read_thread(&user, tmid).await?;
    }
    Ok(Some(list(&listing.items)))
}

/// `[{rid, limit?, skip?}]` → the room's threads, latest reply first.
async fn threads_list(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let o = obj_at(params, 0)?;
    let rid = id_of(o, "rid")?;
    let page = Page::new(number(o.get("skip"), 0), number(o.get("limit"), 50));
    let listing = ctx
        .chat
        .threads(&user, rid, ThreadsKind::All, None, page)
        .await?;
    Ok(Some(list(&listing.items)))
}

/// `[tmid]`: the thread is read (off the caller's `tunread`).
async fn read_threads(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let tmid = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    ctx.chat.read_thread(&user, tmid).await?;
    Ok(None)
}

/// `[rid, readThreads?]`: the room read, and with `readThreads` its threads.
async fn read_messages(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    let read_threads = match params.get(1) {
        None | Some(Value::Null) => false,
        Some(v) => v.as_bool().ok_or_else(DdpError::match_failed)?,
    };
    ctx.chat.mark_read(&user, rid, read_threads).await?;
    Ok(None)
}

/// `[rid, {lastUpdate}]` → `{updated, deleted}`.
async fn messages_get(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    let o = obj_at(params, 1)?;
    let since = parse_date(o.get("lastUpdate").unwrap_or(&Value::Null))?
        .ok_or_else(DdpError::match_failed)?;
    let changes = ctx.chat.sync_messages(&user, rid, since).await?;
    Ok(Some(changes_json(&changes)))
}

/// `[rid, start]` → the room's messages posted after `start`, newest first.
async fn load_missed(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    let start = parse_date(arg(params, 1))?.ok_or_else(DdpError::match_failed)?;
    let query = HistoryQuery {
        latest: None,
        oldest: Some(start),
        inclusive: false,
        offset: 0,
        count: MAX_PAGE,
        exclude_thread_replies: false,
    };
    let (_, listing) = ctx.chat.history(&user, RoomRef::Id(rid), &query).await?;
    Ok(Some(list(&listing.items)))
}

/// `[text, rid, limit?, offset?]` → `{message: {docs}}`.
async fn search(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let text = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    let rid = arg(params, 1).as_str().ok_or_else(DdpError::match_failed)?;
    let page = Page::new(number(params.get(3), 0), number(params.get(2), 20));
    let docs = ctx.chat.search_messages(&user, rid, text, page).await?;
    Ok(Some(json!({ "message": { "docs": list(&docs) } })))
}
