//! Messages to customers: agents' replies relayed from customer rooms, and the
//! automatic welcome and offline replies.

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::{environment, messages};

use crate::config::Config;
use crate::graph::{self, GraphError};
use crate::store::{self, excerpt, now_ms, Customer, Outgoing};
use crate::webhook;

/// Sends `text` to the customer and records the message so its statuses can be
/// matched. `message_id` is the Palaver message it came from (or that shows it).
pub fn deliver(
    config: &Config,
    customer: &Customer,
    text: &str,
    by: &str,
    message_id: Option<String>,
) -> std::result::Result<Outgoing, GraphError> {
    let wamid = graph::send_text(config, &customer.number, text)?;
    let out = Outgoing {
        wamid,
        to: customer.number.clone(),
        room_id: customer.room_id.clone(),
        message_id,
        excerpt: excerpt(text, 120),
        by: by.to_string(),
        sent_at: now_ms(),
    };
    if let Err(e) = store::save_outgoing(&out) {
        // It was sent; only its statuses will not find the room.
        error!("message {} was sent but not recorded: {e}", out.wamid);
        return Ok(out);
    }
    // A failure reported before the record existed is announced now.
    match store::status(&out.wamid, "failed") {
        Ok(Some(record)) => {
            if let Err(e) = webhook::announce_failure(&out, &record) {
                error!("announcing the failure of {} failed: {e}", out.wamid);
            }
        }
        Ok(None) => {}
        Err(e) => warn!("checking the status of {} failed: {e}", out.wamid),
    }
    info!("sent {} to +{} for {by}", out.wamid, out.to);
    Ok(out)
}

/// Sends the welcome or offline reply and shows it in the room (or why it failed).
pub fn send_automatic(config: &Config, customer: &Customer, text: &str, kind: &str) {
    let label = if kind == "welcome" {
        "welcome message"
    } else {
        "offline reply"
    };
    let shown = Message::new(customer.room_id.clone(), text)
        .alias(format!("Automatic {label}"))
        .emoji(":robot:")
        .send();
    let message_id = match shown {
        Ok(id) => Some(id),
        Err(e) => {
            warn!("showing the {label} in {} failed: {e}", customer.room_name);
            None
        }
    };
    if let Err(e) = deliver(config, customer, text, kind, message_id) {
        warn!("sending the {label} to +{} failed: {e}", customer.number);
        let notice = format!(
            "⚠️ The {label} could not be sent to {}: {e}",
            customer.label()
        );
        if let Err(e) = Message::new(customer.room_id.clone(), notice)
            .emoji(":warning:")
            .send()
        {
            error!("posting a notice in {} failed: {e}", customer.room_name);
        }
    }
}

/// Relays an agent's message in a customer room to WhatsApp. Anything that cannot be
/// sent is explained to the agent privately.
pub fn relay(message: &Message, room: &Room) -> Result<()> {
    let Some(sender) = message.sender.as_ref() else {
        return Ok(());
    };
    if sender.id == environment::bot_user_id() || message.system_kind.is_some() {
        return Ok(());
    }
    // Customer rooms are private groups the bot created (see `conversation::usable`):
    // the cheap check spares a persistence read for every other group message.
    if room.kind != RoomKind::Group
        || room.creator_id.as_deref() != Some(environment::bot_user_id().as_str())
    {
        return Ok(());
    }
    let Some(customer) = store::customer_of_room(&room.id)? else {
        return Ok(());
    };
    let Some(message_id) = message.id.clone() else {
        return Ok(());
    };
    if !store::claim_relay(&message_id)? {
        return Ok(());
    }
    let tell = |text: String| {
        if let Err(e) = messages::notify_user(&sender.id, &room.id, &text) {
            error!(
                "telling {} that their message was not sent failed: {e}",
                sender.username
            );
        }
    };
    if let Some(closed) = store::closed(&customer.number)? {
        tell(format!(
            "Not sent to WhatsApp: {} closed this conversation. Run `/whatsapp reopen` to answer {}.",
            closed.by,
            customer.label()
        ));
        return Ok(());
    }
    if message.text.trim().is_empty() {
        tell("Not sent to WhatsApp: only text can be sent to the customer.".into());
        return Ok(());
    }
    let config = Config::load()?;
    match deliver(
        &config,
        &customer,
        &message.text,
        &sender.username,
        Some(message_id.clone()),
    ) {
        Ok(_) => Ok(()),
        Err(e) => {
            warn!(
                "{}'s reply to +{} was not sent: {e}",
                sender.username, customer.number
            );
            tell(format!("Not sent to WhatsApp: {e}"));
            Ok(())
        }
    }
}
