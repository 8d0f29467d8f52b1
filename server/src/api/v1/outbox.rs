//! The delivery queue for admins (Palaver's own, so under a `palaver.` prefix):
//! - `GET palaver.outbox.stats`: per kind, pending (and leased) items, the oldest
//!   pending item's age, dead letters, and deliveries since start on this instance;
//! - `GET palaver.outbox.dead?kind=&offset=&count=`: dead letters, oldest first,
//!   with attempts and last error;
//! - `POST palaver.outbox.retry` `{id}` or `{all: true, kind?}`: back in the queue
//!   with a fresh round of attempts;
//! - `POST palaver.outbox.drop` `{id}` or `{all: true, kind?}`: deleted.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::ok;
use crate::chat::accounts::require_admin;
use crate::chat::ChatError;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Ts, User};
use crate::wire;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/palaver.outbox.stats", get(stats))
        .route("/palaver.outbox.dead", get(dead))
        .route("/palaver.outbox.retry", post(retry))
        .route("/palaver.outbox.drop", post(drop_dead))
}

fn parse_kind(kind: Option<&str>) -> Result<Option<OutboxKind>, ChatError> {
    match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(name) => OutboxKind::parse(name).map(Some).ok_or_else(|| {
            let known: Vec<&str> = OutboxKind::ALL.iter().map(|k| k.as_str()).collect();
            ChatError::invalid(format!(
                "Unknown queue kind {name:?}: one of {}",
                known.join(", ")
            ))
        }),
    }
}

fn render_item(item: &OutboxItem) -> Value {
    json!({
        "_id": item.id,
        "kind": item.kind.as_str(),
        "dedupeKey": item.dedupe_key,
        "state": item.state.as_str(),
        "attempts": item.attempts,
        "lastError": item.last_error,
        "createdAt": wire::iso(item.created_at.0),
        "nextAttemptAt": wire::iso(item.next_attempt.0),
        "payload": item.payload,
    })
}

async fn stats(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    require_admin(&session.user)?;
    let now = Ts::now();
    let stats = state.outbox.stats().await.map_err(ChatError::from)?;
    let queues: Vec<Value> = stats
        .iter()
        .map(|s| {
            let counters = state.outbox.counters(s.kind);
            let count = |f: fn(&crate::worker::outbox::KindCounters) -> u64| counters.map(f).unwrap_or(0);
            json!({
                "kind": s.kind.as_str(),
                "pending": s.pending,
                "leased": s.leased,
                "dead": s.dead,
                "oldestPendingAt": s.oldest_pending.map(|t| wire::iso(t.0)),
                "oldestPendingAgeSeconds": s.oldest_pending.map(|t| (now.0 - t.0).max(0) as f64 / 1000.0),
                "deliveredSinceStart": count(|c| c.delivered.load(std::sync::atomic::Ordering::Relaxed)),
                "failedAttemptsSinceStart": count(|c| c.failed.load(std::sync::atomic::Ordering::Relaxed)),
                "deadLetteredSinceStart": count(|c| c.dead.load(std::sync::atomic::Ordering::Relaxed)),
            })
        })
        .collect();
    ok(json!({ "queues": queues }))
}

async fn dead(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    require_admin(&session.user)?;
    let kind = parse_kind(params.get("kind"))?;
    let page = params.page()?;
    let listing = state
        .outbox
        .dead(kind, page)
        .await
        .map_err(ChatError::from)?;
    let items: Vec<Value> = listing.items.iter().map(render_item).collect();
    ok(json!({
        "items": items,
        "offset": page.offset,
        "count": items.len(),
        "total": listing.total,
    }))
}

/// Which dead letters an action is for: one by id, or all (of a kind).
#[derive(Deserialize)]
pub struct Selection {
    id: Option<String>,
    #[serde(default)]
    all: bool,
    kind: Option<String>,
}

impl Selection {
    fn check(&self) -> Result<(Option<&str>, Option<OutboxKind>), ChatError> {
        let id = self.id.as_deref().map(str::trim).filter(|i| !i.is_empty());
        match (id, self.all) {
            (Some(_), true) => Err(ChatError::invalid("Give either id or all, not both")),
            (None, false) => Err(ChatError::invalid(
                "must have required property 'id' (or all: true)",
            )),
            _ => Ok((id, parse_kind(self.kind.as_deref())?)),
        }
    }
}

/// What an admin does with dead letters.
#[derive(Clone, Copy, Debug)]
enum DeadAction {
    Retry,
    Drop,
}

async fn retry(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Selection>,
) -> ApiResult {
    act_on_dead(&state, &session.user, &body, DeadAction::Retry).await
}

async fn drop_dead(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Selection>,
) -> ApiResult {
    act_on_dead(&state, &session.user, &body, DeadAction::Drop).await
}

async fn act_on_dead(
    state: &AppState,
    user: &User,
    body: &Selection,
    action: DeadAction,
) -> ApiResult {
    require_admin(user)?;
    let (id, kind) = body.check()?;
    let outbox = &state.outbox;
    let n = match action {
        DeadAction::Retry => outbox.retry_dead(id, kind).await,
        DeadAction::Drop => outbox.drop_dead(id, kind).await,
    }
    .map_err(ChatError::from)?;
    if id.is_some() && n == 0 {
        return Err(not_dead().into());
    }
    let (field, verb) = match action {
        DeadAction::Retry => ("retried", "retried"),
        DeadAction::Drop => ("dropped", "dropped"),
    };
    tracing::info!(user_id = %user.id, count = n, item_id = ?id, "outbox: dead letters {verb}");
    ok(json!({ field: n }))
}

fn not_dead() -> ChatError {
    ChatError::refused(
        "error-outbox-item-not-found",
        "No dead item with this id (it may have been retried or dropped)",
    )
}
