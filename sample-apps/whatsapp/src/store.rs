//! What the app keeps in persistence, and under which keys.
//!
//! | key | value |
//! |---|---|
//! | `customer:<number>` | [`Customer`]: the customer's room |
//! | `room:<room id>` | the customer's number (finds the customer from a room) |
//! | `closed:<number>` | [`Closed`]: present while the conversation is closed |
//! | `offline:<number>` | the offline reply was sent during this closure |
//! | `in:<wamid>` | claimed once per inbound WhatsApp message: drops Meta's retries |
//! | `out:<wamid>` | [`Outgoing`]: a message sent to WhatsApp |
//! | `rout:<room id>:<ms>:<wamid>` | index of a room's outgoing messages, oldest first |
//! | `relay:<message id>` | claimed once per agent message relayed |
//! | `st:<status>:<wamid>` | [`StatusRecord`]: the status `sent`/`delivered`/`read`/`failed` arrived |
//! | `failnote:<wamid>` | the failure was announced in the room |

use palaver_apps_sdk::{persistence, Result};
use serde::{Deserialize, Serialize};

use crate::payload::ErrorDetail;

/// The statuses Meta reports, in the order a message goes through them.
pub const STATUSES: [&str; 4] = ["sent", "delivered", "read", "failed"];

/// The most keys one count reads (the host's cap for one `list`).
pub const COUNT_CAP: u32 = 1000;

/// Milliseconds since the Unix epoch (the component gets a WASI wall clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A customer and their room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The WhatsApp id: the number in international form without `+`.
    pub number: String,
    /// The WhatsApp profile name, when known.
    #[serde(default)]
    pub name: Option<String>,
    pub room_id: String,
    pub room_name: String,
    pub since: u64,
}

impl Customer {
    /// `+15551234567 (Jane Doe)`.
    pub fn label(&self) -> String {
        match self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("+{} ({})", self.number, name.trim()),
            None => format!("+{}", self.number),
        }
    }

    /// The name inbound messages are shown under.
    pub fn alias(&self) -> String {
        match self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(name) => name.trim().to_string(),
            None => format!("+{}", self.number),
        }
    }
}

/// Who closed a conversation, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    pub at: u64,
    pub by: String,
}

/// A message sent to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub wamid: String,
    pub to: String,
    pub room_id: String,
    /// The Palaver message it was sent from (or that shows it), if any.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The start of the text, to name the message in notices.
    pub excerpt: String,
    /// Username of the agent, or `welcome` / `offline-reply`.
    pub by: String,
    pub sent_at: u64,
}

/// One status Meta reported for an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Meta's timestamp, in ms.
    pub at: u64,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

/// The first `max` characters of `text` on one line, with `…` when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(max).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

pub fn customer(number: &str) -> Result<Option<Customer>> {
    persistence::get_json(&format!("customer:{number}"))
}

/// Stores a new customer unless one exists; returns the stored one.
pub fn insert_customer(customer: &Customer) -> Result<Customer> {
    let key = format!("customer:{}", customer.number);
    if persistence::set_if_absent_json(&key, customer)? {
        persistence::set_string(&format!("room:{}", customer.room_id), &customer.number)?;
        return Ok(customer.clone());
    }
    Ok(persistence::get_json(&key)?.unwrap_or_else(|| customer.clone()))
}

pub fn save_customer(customer: &Customer) -> Result<()> {
    persistence::set_json(&format!("customer:{}", customer.number), customer)
}

/// The customer whose room this is, if it is one.
pub fn customer_of_room(room_id: &str) -> Result<Option<Customer>> {
    match persistence::get_string(&format!("room:{room_id}"))? {
        Some(number) => customer(&number),
        None => Ok(None),
    }
}

pub fn closed(number: &str) -> Result<Option<Closed>> {
    persistence::get_json(&format!("closed:{number}"))
}

/// Closes the conversation; false when it already was.
pub fn close(number: &str, by: &str) -> Result<bool> {
    persistence::set_if_absent_json(
        &format!("closed:{number}"),
        &Closed {
            at: now_ms(),
            by: by.to_string(),
        },
    )
}

/// Reopens the conversation; false when it was open.
pub fn reopen(number: &str) -> Result<bool> {
    persistence::delete(&format!("offline:{number}"))?;
    persistence::delete(&format!("closed:{number}"))
}

/// Claims sending the offline reply for this closure; true once.
pub fn claim_offline_reply(number: &str) -> Result<bool> {
    persistence::set_if_absent(&format!("offline:{number}"), b"1")
}

/// Claims the inbound message `wamid`; false when it was already received.
pub fn claim_inbound(wamid: &str) -> Result<bool> {
    persistence::set_if_absent(&format!("in:{wamid}"), now_ms().to_string().as_bytes())
}

/// Gives a claim back when the message could not be handled, so Meta's retry is not
/// dropped.
pub fn release_inbound(wamid: &str) -> Result<()> {
    persistence::delete(&format!("in:{wamid}")).map(drop)
}

/// Claims relaying the agent message `message_id`; false when it already was.
pub fn claim_relay(message_id: &str) -> Result<bool> {
    persistence::set_if_absent(&format!("relay:{message_id}"), b"")
}

pub fn record_relay(message_id: &str, outcome: &str) -> Result<()> {
    persistence::set_string(&format!("relay:{message_id}"), outcome)
}

pub fn save_outgoing(out: &Outgoing) -> Result<()> {
    persistence::set_json(&format!("out:{}", out.wamid), out)?;
    persistence::set(
        &format!("rout:{}:{:013}:{}", out.room_id, out.sent_at, out.wamid),
        b"",
    )
}

pub fn outgoing(wamid: &str) -> Result<Option<Outgoing>> {
    persistence::get_json(&format!("out:{wamid}"))
}

/// The wamids of a room's outgoing messages, oldest first (at most [`COUNT_CAP`]).
pub fn room_outgoing(room_id: &str) -> Result<Vec<String>> {
    let prefix = format!("rout:{room_id}:");
    Ok(persistence::list(&prefix, COUNT_CAP)?
        .into_iter()
        .filter_map(|key| {
            key.strip_prefix(&prefix)
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, wamid)| wamid.to_string())
        })
        .collect())
}

/// Records a status; false when this status of this message was already recorded
/// (Meta retries statuses too).
pub fn record_status(wamid: &str, status: &str, record: &StatusRecord) -> Result<bool> {
    persistence::set_if_absent_json(&format!("st:{status}:{wamid}"), record)
}

pub fn status(wamid: &str, status: &str) -> Result<Option<StatusRecord>> {
    persistence::get_json(&format!("st:{status}:{wamid}"))
}

/// The furthest status a message reached (`failed` wins), if any.
pub fn latest_status(wamid: &str) -> Result<Option<(&'static str, StatusRecord)>> {
    for name in STATUSES.iter().rev() {
        if let Some(record) = status(wamid, name)? {
            return Ok(Some((name, record)));
        }
    }
    Ok(None)
}

/// Claims announcing a failure; true once per message.
pub fn claim_failure_note(wamid: &str) -> Result<bool> {
    persistence::set_if_absent(&format!("failnote:{wamid}"), b"")
}

/// How many keys start with `prefix`, up to [`COUNT_CAP`].
pub fn count(prefix: &str) -> Result<usize> {
    Ok(persistence::list(prefix, COUNT_CAP)?.len())
}

/// A count as text: `1000+` at the cap.
pub fn count_text(n: usize) -> String {
    if n >= COUNT_CAP as usize {
        format!("{COUNT_CAP}+")
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_excerpts() {
        let mut c = Customer {
            number: "15551234567".into(),
            name: Some("Jane Doe".into()),
            room_id: "r".into(),
            room_name: "n".into(),
            since: 0,
        };
        assert_eq!(c.label(), "+15551234567 (Jane Doe)");
        assert_eq!(c.alias(), "Jane Doe");
        c.name = None;
        assert_eq!(c.alias(), "+15551234567");
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(count_text(1000), "1000+");
        assert_eq!(count_text(7), "7");
    }
}
