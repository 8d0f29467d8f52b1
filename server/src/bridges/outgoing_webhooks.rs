//! Outgoing webhooks on the queue: the trigger worker turns messages posted on this
//! instance into queue items (one per integration and URL), off the posting path;
//! the delivery handler POSTs Rocket.Chat's body and posts a JSON reply back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::chat::integrations::outgoing::{send_message_body, triggers};
use crate::chat::{Chat, Event};
use crate::store::integrations::Integration;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Message, Room, Ts};
use crate::worker::outbox::http::HttpSender;
use crate::worker::outbox::policy::{Backoff, DeliveryError, RetryPolicy};
use crate::worker::outbox::{DeliveryHandler, Outbox};
use crate::worker::Worker;

/// Most events turned into items in one store write.
const BATCH: usize = 512;
/// How long the list of outgoing webhooks is trusted when nothing changed here
/// (changes made on other instances show after this).
const CACHE_TTL: Duration = Duration::from_secs(5);

/// What a webhook item carries: the body as it was when the message was posted,
/// and the integration's retry settings then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub integration_id: String,
    pub url: String,
    /// The triggering room, where a reply goes (unless the integration names one).
    pub room_id: String,
    pub body: Value,
    pub retry_failed_calls: bool,
    pub retry_count: u32,
    pub retry_delay: String,
}

/// The queue items for one message event.
fn items_for(
    hooks: &[Integration],
    room: &Room,
    message: &Message,
    edited: bool,
    site_url: &str,
) -> Vec<OutboxItem> {
    let now = Ts::now();
    let mut items = Vec::new();
    for integration in hooks {
        let Some(word) = triggers(integration, room, message, edited) else {
            continue;
        };
        let Some(hook) = integration.outgoing.as_ref() else {
            continue;
        };
        let body = send_message_body(integration, room, message, word.as_deref(), site_url);
        // An edit is a new delivery; the same post or edit seen twice is not.
        let version = message.edited_at.map_or(0, |t| t.0);
        for url in &hook.urls {
            let payload = WebhookPayload {
                integration_id: integration.id.clone(),
                url: url.clone(),
                room_id: room.id.clone(),
                body: body.clone(),
                retry_failed_calls: hook.retry_failed_calls,
                retry_count: hook.retry_count,
                retry_delay: hook.retry_delay.clone(),
            };
            let Ok(payload) = serde_json::to_value(&payload) else {
                continue;
            };
            items.push(OutboxItem::new(
                crate::chat::ids::new_id(),
                OutboxKind::Webhook,
                format!(
                    "{}\u{1f}{}\u{1f}{version}\u{1f}{url}",
                    integration.id, message.id
                ),
                payload,
                now,
            ));
        }
    }
    items
}

/// The enabled outgoing webhooks, reloaded when one changed here or at expiry.
struct HookCache {
    hooks: Vec<Integration>,
    generation: u64,
    loaded: Option<Instant>,
}

impl HookCache {
    async fn get(&mut self, chat: &Chat) -> &[Integration] {
        let generation = chat.integrations_generation();
        let stale =
            self.loaded.is_none_or(|at| at.elapsed() > CACHE_TTL) || generation != self.generation;
        if stale {
            match chat.outgoing_webhooks().await {
                Ok(hooks) => {
                    self.hooks = hooks;
                    self.generation = generation;
                    self.loaded = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outgoing webhooks: cannot load the integrations; using the last list");
                }
            }
        }
        &self.hooks
    }
}

/// Starts the trigger worker: it reads this instance's message events (never
/// other instances': each instance enqueues its own posts) and enqueues.
pub fn start_triggers(chat: Arc<Chat>, outbox: Arc<Outbox>) -> Worker {
    let mut events = chat.events().subscribe();
    Worker::spawn("outgoing-webhook-triggers", move |mut stop| async move {
        let mut cache = HookCache {
            hooks: Vec::new(),
            generation: 0,
            loaded: None,
        };
        loop {
            let first = tokio::select! {
                _ = stop.stopped() => None,
                e = events.recv() => Some(e),
            };
            let Some(first) = first else { break };
            let mut batch = Vec::new();
            let mut closed = false;
            let mut take = |e: Result<Arc<Event>, RecvError>, batch: &mut Vec<Arc<Event>>| match e {
                Ok(e) => batch.push(e),
                Err(RecvError::Lagged(n)) => {
                    tracing::error!(skipped = n, "outgoing webhooks: fell behind the event bus; messages skipped without webhook calls");
                }
                Err(RecvError::Closed) => closed = true,
            };
            take(first, &mut batch);
            while batch.len() < BATCH {
                match events.try_recv() {
                    Ok(e) => take(Ok(e), &mut batch),
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                        take(Err(RecvError::Lagged(n)), &mut batch)
                    }
                    Err(_) => break,
                }
            }
            enqueue_batch(&chat, &outbox, &mut cache, &batch).await;
            if closed {
                break;
            }
        }
        // What arrived before the stop is enqueued, not dropped.
        let mut rest = Vec::new();
        while let Ok(e) = events.try_recv() {
            rest.push(e);
        }
        if !rest.is_empty() {
            enqueue_batch(&chat, &outbox, &mut cache, &rest).await;
        }
    })
}

async fn enqueue_batch(chat: &Chat, outbox: &Outbox, cache: &mut HookCache, events: &[Arc<Event>]) {
    let relevant = events.iter().any(|e| {
        matches!(
            e.as_ref(),
            Event::MessageSent { .. } | Event::MessageUpdated { .. }
        )
    });
    if !relevant {
        return;
    }
    let hooks = cache.get(chat).await;
    if hooks.is_empty() {
        return;
    }
    // The live workspace setting: an admin's change shows in the next payloads.
    let site_url = chat.settings().string("Site_Url");
    let site_url = site_url.as_str();
    let mut items = Vec::new();
    for e in events {
        match e.as_ref() {
            Event::MessageSent { room, message } => {
                items.extend(items_for(hooks, room, message, false, site_url))
            }
            // An edit (not a reaction or a thread count, which also update a message).
            Event::MessageUpdated { room, message }
                if message.edited_at == Some(message.updated_at) =>
            {
                items.extend(items_for(hooks, room, message, true, site_url))
            }
            _ => {}
        }
    }
    if items.is_empty() {
        return;
    }
    match outbox.enqueue(&items).await {
        Ok(n) => tracing::debug!(queued = n, "outgoing webhooks enqueued"),
        Err(e) => {
            tracing::error!(error = %e, items = items.len(), "outgoing webhooks: enqueueing failed; these calls are lost")
        }
    }
}

/// Delivers webhook items.
pub struct WebhookHandler {
    chat: Arc<Chat>,
    http: HttpSender,
    backoff_max: Duration,
}

impl WebhookHandler {
    pub fn new(chat: Arc<Chat>, outbox: &Outbox) -> WebhookHandler {
        let config = outbox.config();
        WebhookHandler {
            chat,
            http: HttpSender::new(config.http_timeout(), config.max_response_bytes),
            backoff_max: config.backoff_max(),
        }
    }
}

fn payload_of(item: &OutboxItem) -> Result<WebhookPayload, DeliveryError> {
    serde_json::from_value(item.payload.clone())
        .map_err(|e| DeliveryError::permanent(format!("unreadable webhook item: {e}")))
}

#[async_trait]
impl DeliveryHandler for WebhookHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Webhook
    }

    /// Rocket.Chat's per-integration settings: `retryFailedCalls` off means one
    /// attempt; `retryCount` retries after the first; `retryDelay` the schedule
    /// (0.1 s, 1 s, 10 s…; 2 s, 4 s, 8 s…; 2 s, 4 s, 6 s…), with jitter and capped at
    /// `outbox.backoff_max_secs`. The maximum age is the queue's.
    fn policy(&self, item: &OutboxItem, defaults: &RetryPolicy) -> RetryPolicy {
        let Ok(p) = payload_of(item) else {
            return *defaults;
        };
        let max = self.backoff_max;
        let backoff = match p.retry_delay.as_str() {
            "powers-of-two" => Backoff::Exponential {
                base: Duration::from_secs(2),
                factor: 2,
                max,
            },
            "increments-of-two" => Backoff::Linear {
                step: Duration::from_secs(2),
                max,
            },
            _ => Backoff::Exponential {
                base: Duration::from_millis(100),
                factor: 10,
                max,
            },
        };
        RetryPolicy {
            max_attempts: if p.retry_failed_calls {
                p.retry_count.saturating_add(1)
            } else {
                1
            },
            max_age: defaults.max_age,
            backoff,
        }
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let p = payload_of(item)?;
        // Removed or disabled since: nothing to deliver (Rocket.Chat stops too).
        let integration = match self.chat.outgoing_webhook(&p.integration_id).await {
            Ok(Some(i)) if i.enabled => i,
            Ok(_) => {
                tracing::info!(integration_id = %p.integration_id, item_id = %item.id, "outgoing webhook removed or disabled; call dropped");
                return Ok(());
            }
            Err(e) => {
                return Err(DeliveryError::transient(format!(
                    "reading the integration: {e}"
                )))
            }
        };
        let body = serde_json::to_vec(&p.body)
            .map_err(|e| DeliveryError::permanent(format!("encoding the body: {e}")))?;
        let reply = self
            .http
            .post_json(&p.url, body, &[("X-Palaver-Delivery", item.id.clone())])
            .await?;
        if reply.status == 410 {
            if let Err(e) = self.chat.disable_gone_webhook(&integration.id).await {
                tracing::warn!(integration_id = %integration.id, error = %e, "could not disable a gone webhook");
            }
        }
        reply.check()?;
        tracing::info!(integration_id = %integration.id, item_id = %item.id, status = reply.status, "outgoing webhook delivered");
        if let Some(json) = reply.json() {
            // The call succeeded; a reply that cannot be posted is logged, not retried
            // (that would call the target again).
            if let Err(e) = self
                .chat
                .post_webhook_reply(&integration, &p.room_id, &json)
                .await
            {
                tracing::warn!(integration_id = %integration.id, error = %e, "outgoing webhook reply not posted");
            }
        }
        Ok(())
    }
}
