//! The `webhook` endpoint Meta calls: the verification handshake (`GET`), and signed
//! notifications (`POST`) with customers' messages and the statuses of ours.

use hmac::{Hmac, KeyInit, Mac};
use palaver_apps_sdk::prelude::*;
use sha2::Sha256;

use crate::config::Config;
use crate::payload::{self, InboundMessage, Notification, StatusUpdate};
use crate::store::{self, excerpt, Customer, StatusRecord};
use crate::{conversation, outbound};

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`. The
/// comparison is constant-time.
pub fn signature_matches(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares without leaking where the first difference is.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Handles a request to the `webhook` endpoint.
pub fn handle(request: &EndpointRequest) -> Result<EndpointResponse> {
    let config = Config::load()?;
    match request.method.as_str() {
        "GET" => Ok(verify(request, &config)),
        "POST" => notify(request, &config),
        _ => Ok(EndpointResponse::text(405, "method not allowed").header("allow", "GET, POST")),
    }
}

/// Meta's verification handshake: echo `hub.challenge` when the token matches.
fn verify(request: &EndpointRequest, config: &Config) -> EndpointResponse {
    let mode = request.query_param("hub.mode").unwrap_or_default();
    let token = request.query_param("hub.verify_token").unwrap_or_default();
    let challenge = request.query_param("hub.challenge").unwrap_or_default();
    if mode == "subscribe"
        && !config.verify_token.is_empty()
        && same_secret(&token, &config.verify_token)
    {
        info!("Meta verified the webhook");
        EndpointResponse::text(200, challenge)
    } else {
        warn!("webhook verification refused (mode {mode:?}): the verify token does not match");
        EndpointResponse::text(403, "verification failed")
    }
}

fn notify(request: &EndpointRequest, config: &Config) -> Result<EndpointResponse> {
    if config.app_secret.is_empty() {
        error!("a webhook call arrived but the App secret setting is empty; refused");
        return Ok(EndpointResponse::text(
            503,
            "the app secret is not configured",
        ));
    }
    let header = request.header("x-hub-signature-256");
    if !signature_matches(&config.app_secret, &request.body, header) {
        warn!(
            "webhook call refused: {} X-Hub-Signature-256",
            if header.is_some() { "wrong" } else { "missing" }
        );
        return Ok(EndpointResponse::text(401, "invalid signature"));
    }
    let notification: Notification = match serde_json::from_slice(&request.body) {
        Ok(n) => n,
        Err(e) => {
            warn!("webhook call with a body that is not a notification: {e}");
            return Ok(EndpointResponse::text(400, "not a WhatsApp notification"));
        }
    };
    if notification.object != "whatsapp_business_account" {
        info!(
            "ignored a notification for object {:?}",
            notification.object
        );
        return Ok(EndpointResponse::text(200, "ignored"));
    }
    let mut failed = 0;
    for entry in &notification.entry {
        for change in entry.changes.iter().filter(|c| c.field == "messages") {
            let value = &change.value;
            if value.metadata.phone_number_id != config.phone_number_id {
                info!(
                    "ignored a notification for phone number id {:?} (this app serves {:?})",
                    value.metadata.phone_number_id, config.phone_number_id
                );
                continue;
            }
            for message in &value.messages {
                let name = value
                    .contacts
                    .iter()
                    .find(|c| c.wa_id == message.from)
                    .map(|c| c.profile.name.as_str());
                if let Err(e) = inbound(config, message, name) {
                    error!(
                        "handling WhatsApp message {} from +{} failed: {e}",
                        message.id, message.from
                    );
                    failed += 1;
                }
            }
            for status in &value.statuses {
                if let Err(e) = status_update(status) {
                    error!(
                        "recording status {} of {} failed: {e}",
                        status.status, status.id
                    );
                    failed += 1;
                }
            }
        }
    }
    if failed > 0 {
        // Meta retries what was not acknowledged; the handled parts are deduplicated.
        return Ok(EndpointResponse::text(
            500,
            "some events could not be handled",
        ));
    }
    Ok(EndpointResponse::text(200, "EVENT_RECEIVED"))
}

/// One message from a customer: claimed once by its id, shown in their room.
fn inbound(config: &Config, message: &InboundMessage, profile_name: Option<&str>) -> Result<()> {
    if message.id.is_empty() || message.from.is_empty() {
        warn!("ignored a message without id or sender");
        return Ok(());
    }
    if !store::claim_inbound(&message.id)? {
        info!(
            "WhatsApp message {} was already received; duplicate ignored",
            message.id
        );
        return Ok(());
    }
    // Until the message is posted a failure gives the claim back so Meta's retry
    // posts it; after that a retry would post it twice, so later steps only log.
    let shown = match show_inbound(config, message, profile_name) {
        Ok(shown) => shown,
        Err(e) => {
            if let Err(release) = store::release_inbound(&message.id) {
                error!(
                    "releasing WhatsApp message {} failed: {release}; Meta's retry will be dropped",
                    message.id
                );
            }
            return Err(e);
        }
    };
    if let Err(e) = follow_up(config, &shown) {
        error!(
            "WhatsApp message {} was shown, but the replies after it failed: {e}",
            message.id
        );
    }
    Ok(())
}

/// An inbound message posted in its customer's room.
struct Shown {
    customer: Customer,
    /// This message created the customer's room.
    created: bool,
    /// The message's type could be shown (not a placeholder).
    supported: bool,
}

/// Posts the message in the customer's room, creating it on first contact.
fn show_inbound(
    config: &Config,
    message: &InboundMessage,
    profile_name: Option<&str>,
) -> Result<Shown> {
    let (customer, created) =
        conversation::find_or_create(&message.from, profile_name, &config.agents, &[])?;
    let rendered = if message.kind == "reaction" {
        payload::Rendered {
            text: reaction_text(message),
            supported: true,
        }
    } else {
        payload::render(message)
    };
    let fields = serde_json::json!({
        "whatsapp": {
            "id": message.id,
            "from": message.from,
            "type": message.kind,
            "timestamp": message.timestamp,
            "mediaId": message.media_id(),
        }
    });
    Message::new(customer.room_id.clone(), rendered.text.clone())
        .alias(customer.alias())
        .emoji(":speech_balloon:")
        .custom_fields(fields)
        .send()?;
    info!(
        "WhatsApp message {} from +{} shown in {}",
        message.id, customer.number, customer.room_name
    );
    Ok(Shown {
        customer,
        created,
        supported: rendered.supported,
    })
}

/// What follows a shown message: the welcome, the offline reply, the closed notice.
fn follow_up(config: &Config, shown: &Shown) -> Result<()> {
    let Shown {
        customer,
        created,
        supported,
    } = shown;
    if *created && !config.welcome_message.is_empty() {
        outbound::send_automatic(config, customer, &config.welcome_message, "welcome");
    }
    let closed = store::closed(&customer.number)?;
    if closed.is_some() {
        if !config.offline_reply.is_empty() && store::claim_offline_reply(&customer.number)? {
            outbound::send_automatic(config, customer, &config.offline_reply, "offline-reply");
        }
        notice(customer, "This conversation is closed: replies here are not sent to WhatsApp. Run `/whatsapp reopen` to answer.")?;
    } else if !supported && !config.offline_reply.is_empty() {
        outbound::send_automatic(config, customer, &config.offline_reply, "offline-reply");
    }
    Ok(())
}

fn notice(customer: &Customer, text: &str) -> Result<()> {
    Message::new(customer.room_id.clone(), text)
        .emoji(":information_source:")
        .send()
        .map(drop)
}

fn reaction_text(message: &InboundMessage) -> String {
    let reaction = message.reaction.clone().unwrap_or_default();
    let target = store::outgoing(&reaction.message_id)
        .ok()
        .flatten()
        .map(|out| format!("“{}”", out.excerpt))
        .unwrap_or_else(|| "a message".to_string());
    if reaction.emoji.trim().is_empty() {
        format!("[Removed their reaction to {target}]")
    } else {
        format!("[Reacted {} to {target}]", reaction.emoji.trim())
    }
}

/// A status of one of our messages: recorded once; a failure is announced in the room.
fn status_update(update: &StatusUpdate) -> Result<()> {
    if update.id.is_empty() || !store::STATUSES.contains(&update.status.as_str()) {
        info!("ignored status {:?} of {:?}", update.status, update.id);
        return Ok(());
    }
    let record = StatusRecord {
        at: update
            .timestamp
            .parse::<u64>()
            .unwrap_or(0)
            .saturating_mul(1000),
        errors: update.errors.clone(),
    };
    if store::record_status(&update.id, &update.status, &record)? {
        info!("message {} is {}", update.id, update.status);
    } else {
        info!(
            "status {} of {} was already recorded",
            update.status, update.id
        );
        // A retried `failed` may follow an announcement that could not be posted; the
        // announcement's own claim keeps it to one.
        if update.status != "failed" {
            return Ok(());
        }
    }
    if update.status == "failed" {
        match store::outgoing(&update.id)? {
            Some(out) => announce_failure(&out, &record)?,
            // The send call has not stored it yet: it announces the failure itself.
            None => info!(
                "failed status for {} before its record; announced when it is stored",
                update.id
            ),
        }
    }
    Ok(())
}

/// Tells everyone in the room that a message did not reach the customer (once: when
/// posting fails the claim is given back so a retry can announce it).
pub fn announce_failure(out: &store::Outgoing, record: &StatusRecord) -> Result<()> {
    if !store::claim_failure_note(&out.wamid)? {
        return Ok(());
    }
    let why = record
        .errors
        .first()
        .map(|e| e.describe())
        .unwrap_or_else(|| "no reason given".into());
    let text = format!(
        "⚠️ WhatsApp could not deliver “{}” to +{}: {why}",
        excerpt(&out.excerpt, 80),
        out.to
    );
    // In the room itself, not in a thread, so every agent sees it.
    let sent = Message::new(out.room_id.clone(), text)
        .emoji(":warning:")
        .send();
    if let Err(e) = sent {
        if let Err(release) = store::release_failure_note(&out.wamid) {
            error!(
                "releasing the failure note of {} failed: {release}",
                out.wamid
            );
        }
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let good = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let body = b"The quick brown fox jumps over the lazy dog";
        assert!(signature_matches("key", body, Some(good)));
        assert!(!signature_matches("key2", body, Some(good)));
        assert!(!signature_matches("key", b"other", Some(good)));
        assert!(!signature_matches("key", body, None));
        assert!(!signature_matches("key", body, Some("f7bc83f4")));
        assert!(!signature_matches("key", body, Some("sha256=zz")));
    }

    #[test]
    fn secrets() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
