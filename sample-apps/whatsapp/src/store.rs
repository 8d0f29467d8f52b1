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
//! | `recent:<room id>:<u64::MAX − ms>:<wamid>` | index of a room's outgoing messages, newest first |
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

/// Stores a new customer unless one exists; returns the stored one, and true when it
/// is this one. Only the call that stored it may treat the customer as new: two
/// concurrent first messages find the same room, but only one of them inserts.
pub fn insert_customer(customer: &Customer) -> Result<(Customer, bool)> {
    let key = format!("customer:{}", customer.number);
    if persistence::set_if_absent_json(&key, customer)? {
        persistence::set_string(&format!("room:{}", customer.room_id), &customer.number)?;
        return Ok((customer.clone(), true));
    }
    let stored = persistence::get_json(&key)?.unwrap_or_else(|| customer.clone());
    Ok((stored, false))
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

/// The key indexing `out` in its room. The time is inverted so the host's ascending
/// key order lists the newest first, and a capped `list` keeps the latest messages.
fn recent_key(out: &Outgoing) -> String {
    format!(
        "recent:{}:{:020}:{}",
        out.room_id,
        u64::MAX - out.sent_at,
        out.wamid
    )
}

pub fn save_outgoing(out: &Outgoing) -> Result<()> {
    persistence::set_json(&format!("out:{}", out.wamid), out)?;
    persistence::set(&recent_key(out), b"")
}

pub fn outgoing(wamid: &str) -> Result<Option<Outgoing>> {
    persistence::get_json(&format!("out:{wamid}"))
}

/// The wamids of a room's outgoing messages, newest first (the latest [`COUNT_CAP`]).
pub fn room_outgoing(room_id: &str) -> Result<Vec<String>> {
    let prefix = format!("recent:{room_id}:");
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

/// Gives the claim back when the announcement could not be posted, so Meta's retry
/// of the status announces it.
pub fn release_failure_note(wamid: &str) -> Result<()> {
    persistence::delete(&format!("failnote:{wamid}")).map(drop)
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

    #[test]
    fn recent_keys_list_newest_first() {
        let out = |sent_at: u64, wamid: &str| Outgoing {
            wamid: wamid.into(),
            to: "1".into(),
            room_id: "r".into(),
            message_id: None,
            excerpt: String::new(),
            by: "a".into(),
            sent_at,
        };
        let mut keys = [
            recent_key(&out(999, "old")),
            recent_key(&out(1_767_225_600_000, "new")),
            recent_key(&out(1_767_225_600_001, "newer")),
            recent_key(&out(0, "epoch")),
        ];
        keys.sort();
        assert_eq!(keys[0], "recent:r:18446742306483951614:newer");
        let order: Vec<_> = keys
            .iter()
            .map(|k| k.rsplit(':').next().unwrap_or_default())
            .collect();
        assert_eq!(order, ["newer", "new", "old", "epoch"]);
    }
}
