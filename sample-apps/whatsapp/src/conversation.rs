//! Agents, and the one private room per customer.

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::{environment, rooms, users};

use crate::store::{self, now_ms, Customer};

/// The agents the `agents` setting names, and what could not be resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agents {
    /// Usernames, without duplicates, in the order named.
    pub usernames: Vec<String>,
    /// Entries that name no (active) user or no readable channel.
    pub problems: Vec<String>,
}

impl Agents {
    pub fn contains(&self, username: &str) -> bool {
        self.usernames.iter().any(|u| u == username)
    }
}

/// Splits the `agents` setting into entries: `alice`, `@bob`, `#support`.
pub fn entries(setting: &str) -> Vec<String> {
    setting
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Resolves the `agents` setting: usernames are checked, `#channel` entries expand to
/// the channel's members (the app's bot excluded).
pub fn resolve(setting: &str) -> Agents {
    let bot = environment::bot_user_id();
    let mut agents = Agents::default();
    let add = |agents: &mut Agents, username: String| {
        if !agents.usernames.contains(&username) {
            agents.usernames.push(username);
        }
    };
    for entry in entries(setting) {
        if let Some(channel) = entry.strip_prefix('#') {
            match channel_members(channel, &bot) {
                Ok(members) => members.into_iter().for_each(|m| add(&mut agents, m)),
                Err(e) => agents
                    .problems
                    .push(format!("#{channel}: {}", describe_lookup(&e))),
            }
            continue;
        }
        let username = entry.trim_start_matches('@');
        match users::get_by_username(username) {
            Ok(user) if user.active => add(&mut agents, user.username),
            Ok(_) => agents
                .problems
                .push(format!("{username}: the account is deactivated")),
            Err(e) => agents
                .problems
                .push(format!("{username}: {}", describe_lookup(&e))),
        }
    }
    agents
}

fn describe_lookup(e: &Error) -> String {
    match e {
        Error::NotFound => "not found (or not visible to the app's bot)".into(),
        other => other.to_string(),
    }
}

fn channel_members(name: &str, bot_id: &str) -> Result<Vec<String>> {
    let room = rooms::get_by_name(name)?;
    // Every member: a channel named as agents is meant whole.
    Ok(rooms::all_members(&room.id, u32::MAX)?
        .into_iter()
        .filter(|m| m.id != bot_id)
        .map(|m| m.username)
        .collect())
}

/// `wa-15551234567-jane-doe`: the number and the profile name in the characters room
/// names allow.
pub fn room_name(number: &str, profile_name: Option<&str>) -> String {
    let mut slug = String::new();
    for c in profile_name.unwrap_or("").chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(40).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("wa-{number}")
    } else {
        format!("wa-{number}-{slug}")
    }
}

/// Whether `number` (digits, maybe with `+`, spaces, dashes, dots or brackets) is a
/// plausible international number; returns its digits.
pub fn normalise_number(number: &str) -> Option<String> {
    let digits: String = number
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let ok = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(digits)
}

/// Whether the existing room `room` can be this customer's: a private group of the
/// app's bot that is no other customer's.
fn usable(room: &Room, number: &str) -> Result<bool> {
    if room.kind != RoomKind::Group
        || room.creator_id.as_deref() != Some(environment::bot_user_id().as_str())
    {
        return Ok(false);
    }
    Ok(store::customer_of_room(&room.id)?.is_none_or(|c| c.number == number))
}

/// Creates the private room `name` with `members`, or finds it when it exists already
/// (a concurrent call for the same customer created it a moment ago). When the name
/// is taken by a room the bot cannot use, tries `name-2`, `name-3`, ….
fn create_room(number: &str, name: &str, members: &[String]) -> Result<Room> {
    let mut last = None;
    for attempt in 1..=5 {
        let candidate = if attempt == 1 {
            name.to_string()
        } else {
            format!("{name}-{attempt}")
        };
        match rooms::create(RoomKind::Group, &candidate, members) {
            Ok(room) => return Ok(room),
            Err(e @ Error::PermissionDenied(_)) => return Err(e),
            Err(e) => {
                if let Ok(room) = rooms::get_by_name(&candidate) {
                    if usable(&room, number)? {
                        return Ok(room);
                    }
                }
                warn!("creating the room {candidate} failed: {e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::internal("no room could be created")))
}

/// The customer's record, creating their room (with the agents, plus `extra` members)
/// on first contact. The second value is true when this call created it.
pub fn find_or_create(
    number: &str,
    profile_name: Option<&str>,
    agents_setting: &str,
    extra: &[String],
) -> Result<(Customer, bool)> {
    if let Some(mut customer) = store::customer(number)? {
        // Learn the profile name when the conversation was started from Palaver.
        if customer.name.is_none() {
            if let Some(name) = profile_name.filter(|n| !n.trim().is_empty()) {
                customer.name = Some(name.trim().to_string());
                store::save_customer(&customer)?;
            }
        }
        return Ok((customer, false));
    }
    let agents = resolve(agents_setting);
    for problem in &agents.problems {
        warn!("agents setting: {problem}");
    }
    let mut members = agents.usernames.clone();
    for m in extra {
        if !members.contains(m) {
            members.push(m.clone());
        }
    }
    if members.is_empty() {
        warn!("no agents are configured: the room of +{number} has no members yet");
    }
    let name = room_name(number, profile_name);
    let room = create_room(number, &name, &members)?;
    let customer = Customer {
        number: number.to_string(),
        name: profile_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        room_id: room.id.clone(),
        room_name: room.name.clone().unwrap_or(name),
        since: now_ms(),
    };
    let (stored, created) = store::insert_customer(&customer)?;
    if created {
        info!(
            "new customer +{number}: room {} ({})",
            stored.room_name, stored.room_id
        );
    }
    Ok((stored, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(
            room_name("15551234567", Some("Jane Doe")),
            "wa-15551234567-jane-doe"
        );
        assert_eq!(
            room_name("15551234567", Some("  Ünïcode ☃ name!! ")),
            "wa-15551234567-n-code-name"
        );
        assert_eq!(room_name("15551234567", Some("☃")), "wa-15551234567");
        assert_eq!(room_name("15551234567", None), "wa-15551234567");
    }

    #[test]
    fn numbers() {
        assert_eq!(
            normalise_number("+1 (555) 123-4567").as_deref(),
            Some("15551234567")
        );
        assert_eq!(normalise_number("12ab5678"), None);
        assert_eq!(normalise_number("123"), None);
        assert_eq!(normalise_number("0151234567"), None);
    }

    #[test]
    fn agent_entries() {
        assert_eq!(
            entries(" alice, @bob #support;carol "),
            ["alice", "@bob", "#support", "carol"]
        );
    }
}
