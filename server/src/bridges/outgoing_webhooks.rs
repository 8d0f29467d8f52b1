//! Outgoing webhooks on the queue: the trigger worker turns events of this instance
//! (messages, files, rooms created, archived, joined and left, users created) into
//! queue items (one per integration and URL), off the posting path; the delivery
//! handler POSTs Rocket.Chat's body, signed (`X-Palaver-Signature`), through the
//! guarded outbound client (private addresses only where the operator allowed
//! them), records each attempt in the integration's history, and posts a JSON reply
//! back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::chat::integrations::history::{entry, excerpt};
use crate::chat::integrations::outgoing::{hook_call, HookEvent};
use crate::chat::{Chat, Event};
use crate::outbound::{HttpError, HttpPolicy, OutboundHttp, OutboundRequest};
use crate::store::integrations::Integration;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::Ts;
use crate::worker::outbox::http::HttpReply;
use crate::worker::outbox::policy::{
    parse_retry_after, Backoff, DeliveryError, Retry, RetryPolicy,
};
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
    /// The triggering room, where a reply goes (unless the integration names one);
    /// none for `userCreated`.
    #[serde(default)]
    pub room_id: Option<String>,
    pub body: Value,
    pub retry_failed_calls: bool,
    pub retry_count: u32,
    pub retry_delay: String,
    /// The trigger word the message matched (for the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_word: Option<String>,
}

/// The queue items for one event.
fn items_for(hooks: &[Integration], event: HookEvent<'_>, site_url: &str) -> Vec<OutboxItem> {
    let now = Ts::now();
    let mut items = Vec::new();
    for integration in hooks {
        let Some(call) = hook_call(integration, event, site_url) else {
            continue;
        };
        let Some(hook) = integration.outgoing.as_ref() else {
            continue;
        };
        for url in &hook.urls {
            let payload = WebhookPayload {
                integration_id: integration.id.clone(),
                url: url.clone(),
                room_id: call.room_id.clone(),
                body: call.body.clone(),
                retry_failed_calls: hook.retry_failed_calls,
                retry_count: hook.retry_count,
                retry_delay: hook.retry_delay.clone(),
                trigger_word: call.body["trigger_word"].as_str().map(str::to_string),
            };
            let Ok(payload) = serde_json::to_value(&payload) else {
                continue;
            };
            // The same event seen twice is one call; an edit is a new one.
            items.push(OutboxItem::new(
                crate::chat::ids::new_id(),
                OutboxKind::Webhook,
                format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{url}",
                    integration.id, hook.event, call.subject
                ),
                payload,
                now,
            ));
        }
    }
    items
}

/// `X-Palaver-Signature`: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed
/// with the integration's token (which the receiver was given), so a receiver can
/// check a call came from this workspace and was not altered.
pub fn signature(token: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(token.as_bytes(), body))
    )
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, which is here already.
fn hmac_sha256(secret: &[u8], body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut key = [0u8; BLOCK];
    if secret.len() > BLOCK {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
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
            Event::MessageSent { .. }
                | Event::MessageUpdated { .. }
                | Event::RoomCreated { .. }
                | Event::UserJoined { .. }
                | Event::UserLeft { .. }
                | Event::UserCreated { .. }
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
        let event = match e.as_ref() {
            Event::MessageSent { room, message } => HookEvent::Message {
                room,
                message,
                edited: false,
            },
            // An edit (not a reaction or a thread count, which also update a message).
            Event::MessageUpdated { room, message }
                if message.edited_at == Some(message.updated_at) =>
            {
                HookEvent::Message {
                    room,
                    message,
                    edited: true,
                }
            }
            Event::RoomCreated { room } => HookEvent::RoomCreated { room },
            Event::UserJoined { room, user } => HookEvent::RoomJoined { room, user },
            Event::UserLeft { room, user } => HookEvent::RoomLeft { room, user },
            Event::UserCreated { user } => HookEvent::UserCreated { user },
            _ => continue,
        };
        items.extend(items_for(hooks, event, site_url));
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
    http: OutboundHttp,
    /// [`HttpPolicy::public`] with the operator allow-list, the queue's timeout and
    /// response cap, and no redirects (a redirected POST is ambiguous: the admin
    /// fixes the URL instead).
    policy: HttpPolicy,
    backoff_max: Duration,
}

impl WebhookHandler {
    pub fn new(chat: Arc<Chat>, outbox: &Outbox) -> WebhookHandler {
        let config = outbox.config();
        let opts = &chat.options().integrations;
        let policy = HttpPolicy {
            timeout: config.http_timeout(),
            max_response_bytes: config.max_response_bytes,
            max_redirects: 0,
            ..opts.policy.clone()
        };
        WebhookHandler {
            http: opts.http.clone(),
            policy,
            backoff_max: config.backoff_max(),
            chat,
        }
    }
}

fn payload_of(item: &OutboxItem) -> Result<WebhookPayload, DeliveryError> {
    serde_json::from_value(item.payload.clone())
        .map_err(|e| DeliveryError::permanent(format!("unreadable webhook item: {e}")))
}

/// The guarded client's failure as a delivery failure: refused by the guard or
/// malformed is for good; a network error or a timeout is worth another try.
fn http_failure(e: HttpError) -> DeliveryError {
    match e {
        HttpError::Timeout | HttpError::Network(_) => {
            DeliveryError::transient(format!("network error: {e}"))
        }
        // The target answered, but more than the queue reads: it got the call, so
        // calling again would repeat it.
        HttpError::ResponseTooLarge(_) => DeliveryError::permanent(e.to_string()),
        HttpError::AddressRefused { .. }
        | HttpError::HostNotGranted { .. }
        | HttpError::InvalidRequest(_)
        | HttpError::TooManyRedirects(_) => DeliveryError::permanent(format!("refused: {e}")),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The response as the queue's HTTP rule reads it.
fn reply_of(response: crate::outbound::OutboundResponse) -> HttpReply {
    let content_type = header(&response.headers, "content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let retry_after =
        header(&response.headers, "retry-after").and_then(|v| parse_retry_after(v, Ts::now().0));
    HttpReply {
        status: response.status,
        content_type,
        retry_after,
        body: response.body,
        truncated: false,
    }
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
        match payload_of(item) {
            Ok(p) => retry_policy(&p, defaults, self.backoff_max),
            Err(_) => *defaults,
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
        let mut record = entry(&integration, &hook_event(&integration), "pre-http-call");
        record.url = Some(p.url.clone());
        record.request = Some(excerpt(&body));
        record.trigger_word = p.trigger_word.clone();
        record.delivery_id = Some(item.id.clone());
        let attempt = item.attempts.saturating_add(1);
        record.attempt = Some(attempt);
        let request = OutboundRequest {
            method: "POST".into(),
            url: p.url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                (
                    "User-Agent".into(),
                    concat!("Palaver/", env!("CARGO_PKG_VERSION")).into(),
                ),
                ("X-Palaver-Delivery".into(), item.id.clone()),
                (
                    "X-Palaver-Signature".into(),
                    signature(&integration.token, &body),
                ),
            ],
            body: Some(body),
            timeout: None,
        };
        let outcome = match self.http.send(&self.policy, request).await {
            Ok(response) => {
                let reply = reply_of(response);
                record.status = Some(reply.status);
                record.response = Some(excerpt(&reply.body));
                Ok(reply)
            }
            Err(e) => {
                if matches!(e, HttpError::AddressRefused { .. }) {
                    tracing::warn!(integration_id = %integration.id, url = %p.url, error = %e, "outgoing webhook target refused by the outbound guard");
                }
                Err(http_failure(e))
            }
        };
        let result = match outcome {
            Ok(reply) => {
                if reply.status == 410 {
                    record.step = "after-process-http-status-410".into();
                    if let Err(e) = self.chat.disable_gone_webhook(&integration.id).await {
                        tracing::warn!(integration_id = %integration.id, error = %e, "could not disable a gone webhook");
                    }
                }
                reply.check().map(|()| reply)
            }
            Err(e) => Err(e),
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                record.error = Some(e.message.clone());
                let retryable = matches!(e.retry, Retry::Later { .. });
                record.retrying = retryable && attempt < max_attempts(&p);
                if record.step != "after-process-http-status-410" {
                    record.step = match (retryable, record.retrying) {
                        (true, true) => "failed-and-will-retry",
                        (true, false) if !p.retry_failed_calls => {
                            "failed-and-not-configured-to-retry"
                        }
                        (true, false) => "too-many-retries",
                        (false, _) => "failed",
                    }
                    .into();
                }
                self.chat.record_integration_history(record).await;
                return Err(e);
            }
        };
        tracing::info!(integration_id = %integration.id, item_id = %item.id, status = reply.status, "outgoing webhook delivered");
        record.step = "after-http-call".into();
        if let Some(json) = reply.json() {
            // The call succeeded; a reply that cannot be posted is logged, not retried
            // (that would call the target again).
            match self
                .chat
                .post_webhook_reply(&integration, p.room_id.as_deref(), &json)
                .await
            {
                Ok(Some(_)) => record.step = "url-response-sent-message".into(),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(integration_id = %integration.id, error = %e, "outgoing webhook reply not posted");
                    record.error = Some(format!("the reply was not posted: {e}"));
                }
            }
        }
        self.chat.record_integration_history(record).await;
        Ok(())
    }
}

/// The retry policy of one call from its integration's settings at trigger time.
fn retry_policy(p: &WebhookPayload, defaults: &RetryPolicy, max: Duration) -> RetryPolicy {
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
        max_attempts: max_attempts(p),
        max_age: defaults.max_age,
        backoff,
    }
}

/// Attempts in all: one, or one and `retryCount` retries with `retryFailedCalls`.
fn max_attempts(p: &WebhookPayload) -> u32 {
    if p.retry_failed_calls {
        p.retry_count.saturating_add(1)
    } else {
        1
    }
}

fn hook_event(integration: &Integration) -> String {
    integration
        .outgoing
        .as_ref()
        .map(|h| h.event.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(retry_failed_calls: bool, retry_count: u32, retry_delay: &str) -> WebhookPayload {
        WebhookPayload {
            integration_id: "i1".into(),
            url: "https://hooks.example.com/".into(),
            room_id: None,
            body: serde_json::json!({}),
            retry_failed_calls,
            retry_count,
            retry_delay: retry_delay.into(),
            trigger_word: None,
        }
    }

    #[test]
    fn rocket_chat_retry_settings_make_the_policy() {
        let defaults = RetryPolicy {
            max_attempts: 99,
            max_age: Duration::from_secs(3600),
            backoff: Backoff::Linear {
                step: Duration::from_secs(1),
                max: Duration::from_secs(1),
            },
        };
        let max = Duration::from_secs(300);
        let p = retry_policy(&payload(true, 3, "powers-of-two"), &defaults, max);
        assert_eq!(p.max_attempts, 4, "retryCount retries after the first");
        assert_eq!(p.max_age, defaults.max_age);
        assert_eq!(
            p.backoff,
            Backoff::Exponential {
                base: Duration::from_secs(2),
                factor: 2,
                max
            }
        );
        let p = retry_policy(&payload(true, 0, "increments-of-two"), &defaults, max);
        assert_eq!(p.max_attempts, 1);
        assert_eq!(
            p.backoff,
            Backoff::Linear {
                step: Duration::from_secs(2),
                max
            }
        );
        let p = retry_policy(&payload(false, 6, "powers-of-ten"), &defaults, max);
        assert_eq!(p.max_attempts, 1, "retryFailedCalls off: one attempt");
        assert_eq!(
            p.backoff,
            Backoff::Exponential {
                base: Duration::from_millis(100),
                factor: 10,
                max
            }
        );
    }

    #[test]
    fn only_network_failures_are_retried_among_client_errors() {
        for retried in [HttpError::Timeout, HttpError::Network("reset".into())] {
            assert!(matches!(http_failure(retried).retry, Retry::Later { .. }));
        }
        let refused = HttpError::AddressRefused {
            host: "internal".into(),
            addr: "10.0.0.1:80".parse().unwrap(),
            reason: "private".into(),
        };
        for never in [
            refused,
            HttpError::InvalidRequest("bad".into()),
            HttpError::TooManyRedirects(0),
            HttpError::ResponseTooLarge(10),
        ] {
            let e = http_failure(never);
            assert_eq!(e.retry, Retry::Never, "{}", e.message);
        }
    }

    #[test]
    fn replies_are_read_from_the_guarded_response() {
        let reply = reply_of(crate::outbound::OutboundResponse {
            status: 429,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("retry-after".into(), "7".into()),
            ],
            body: br#"{"text":"later"}"#.to_vec(),
        });
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        assert_eq!(reply.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(reply.json().unwrap()["text"], "later");
    }

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2 (key "Jefe"), and case 6 (a key longer than a block).
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
