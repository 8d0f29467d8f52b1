//! Reminders: one recurring job looks at every connected user's calendar and sends
//! a direct message before each event starts. A reminder is claimed with
//! `set_if_absent` before it is sent, so it goes out once even when several Palaver
//! instances or a restart run the check again.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use palaver_apps_sdk::{info, persistence, scheduler, warn, Job, Result};

use crate::config::{self, Config};
use crate::error::GcalError;
use crate::google::Event;
use crate::when::{self, format_when, Moment};
use crate::{notify, oauth, prefs};

/// The job's name.
pub const JOB: &str = "reminders";
/// The id of the current reminder job.
const JOB_KEY: &str = "job/reminders";
/// When old claims and login states were last cleared away.
const HOUSEKEEPING_KEY: &str = "housekeeping/last";
const HOUSEKEEPING_EVERY_MS: i64 = 3_600_000;
const REMINDED_PREFIX: &str = "reminded/";
/// Claims are kept this long after the event started, then deleted.
const KEEP_CLAIMS_MS: i64 = 86_400_000;
/// Users looked at per run.
const MAX_USERS: u32 = 1_000;

/// (Re)schedules the reminder job with the configured interval, cancelling the one
/// scheduled before so that enabling the app again does not add a second one.
pub fn schedule() -> Result<String> {
    let seconds = config::check_seconds()?;
    if let Some(old) = persistence::get_string(JOB_KEY)? {
        scheduler::cancel(&old)?;
    }
    let interval = StdDuration::from_secs(u64::try_from(seconds).unwrap_or(60));
    let id = scheduler::schedule_every(JOB, interval, None)?;
    persistence::set_string(JOB_KEY, &id)?;
    info!("checking for reminders every {seconds} s (job {id})");
    Ok(id)
}

/// One run of the job.
pub fn run(job: &Job) -> Result<()> {
    match persistence::get_string(JOB_KEY)? {
        // Two instances enabling the app at once may each schedule a job; the one
        // not recorded retires.
        Some(current) if current != job.id => {
            scheduler::cancel(&job.id)?;
            info!("retired the duplicate reminder job {}", job.id);
            return Ok(());
        }
        Some(_) => {}
        None => persistence::set_string(JOB_KEY, &job.id)?,
    }
    let cfg = Config::load()?;
    let now = when::now();
    let housekeeping = housekeeping_due(now)?;
    let mut sent = 0;
    for user_id in oauth::connected_users(MAX_USERS)? {
        if cfg.lead_minutes > 0 {
            match remind_user(&cfg, &user_id, now) {
                Ok(n) => sent += n,
                Err(GcalError::NotConnected) => {}
                Err(e @ GcalError::Reconnect(_)) => notify::tell(
                    &user_id,
                    None,
                    &format!("Reminders stopped: {}", e.user_text()),
                ),
                Err(e) => warn!("reminders for user {user_id}: {}", e.user_text()),
            }
        }
        if housekeeping {
            prune_claims(&user_id, now)?;
        }
    }
    if housekeeping {
        let removed = oauth::prune_states(MAX_USERS)?;
        if removed > 0 {
            info!("removed {removed} expired login link(s)");
        }
    }
    if sent > 0 {
        info!("sent {sent} reminder(s)");
    }
    Ok(())
}

fn housekeeping_due(now: DateTime<Utc>) -> Result<bool> {
    let last: i64 = persistence::get_json(HOUSEKEEPING_KEY)?.unwrap_or(0);
    if now.timestamp_millis() - last < HOUSEKEEPING_EVERY_MS {
        return Ok(false);
    }
    persistence::set_json(HOUSEKEEPING_KEY, &now.timestamp_millis())?;
    Ok(true)
}

/// The claim of the reminder for one start of one event. The start is part of the
/// key so that a moved event is reminded again; zero-padded so keys sort by time.
pub fn claim_key(user_id: &str, start_ms: i64, event_id: &str) -> String {
    let id = if event_id.len() <= 200
        && event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        event_id.to_string()
    } else {
        format!("h{:016x}", fnv1a(event_id.as_bytes()))
    };
    format!("{REMINDED_PREFIX}{user_id}/{start_ms:013}/{id}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Deletes the user's claims for events that started more than a day ago.
fn prune_claims(user_id: &str, now: DateTime<Utc>) -> Result<()> {
    let prefix = format!("{REMINDED_PREFIX}{user_id}/");
    let cutoff = now.timestamp_millis() - KEEP_CLAIMS_MS;
    for key in persistence::list(&prefix, 500)? {
        let start: Option<i64> = key
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('/').next())
            .and_then(|s| s.parse().ok());
        match start {
            // Keys sort by start: the rest are newer.
            Some(start) if start >= cutoff => break,
            _ => {
                persistence::delete(&key)?;
            }
        }
    }
    Ok(())
}

/// Forgets every claim of a user (they logged out).
pub fn forget_user(user_id: &str) -> Result<()> {
    let prefix = format!("{REMINDED_PREFIX}{user_id}/");
    loop {
        let keys = persistence::list(&prefix, 500)?;
        if keys.is_empty() {
            return Ok(());
        }
        for key in keys {
            persistence::delete(&key)?;
        }
    }
}

/// Sends the user's due reminders; returns how many.
fn remind_user(
    cfg: &Config,
    user_id: &str,
    now: DateTime<Utc>,
) -> std::result::Result<usize, GcalError> {
    let tz = prefs::user_tz(cfg, user_id)?;
    let lead = Duration::minutes(cfg.lead_minutes);
    let from = now.with_timezone(&tz);
    let to = from + lead;
    let events = oauth::with_calendar(cfg, user_id, |cal| cal.list(&from, &to, tz))?;
    let mut sent = 0;
    for event in &events {
        if event.is_cancelled() || event.declined() {
            continue;
        }
        // All-day events have no start time to be reminded of.
        let Some(Moment::At(start)) = event.start() else {
            continue;
        };
        let start = start.with_timezone(&Utc);
        if start < now || start > now + lead {
            continue;
        }
        let key = claim_key(user_id, start.timestamp_millis(), &event.id);
        if !persistence::set_if_absent(&key, b"1")? {
            continue;
        }
        if let Err(e) = notify::direct(user_id, &reminder_text(event, start, now, tz)) {
            // Give the claim back so that the next run tries again.
            persistence::delete(&key)?;
            return Err(e.into());
        }
        info!("reminded user {user_id} of event {}", event.id);
        sent += 1;
    }
    Ok(sent)
}

/// `⏰ Standup starts in 9 minutes, at 09:00 (Europe/Berlin).`
pub fn reminder_text(event: &Event, start: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> String {
    let minutes = ((start - now).num_seconds() + 59) / 60;
    let when = match minutes {
        0 => "now".to_string(),
        1 => "in 1 minute".to_string(),
        m => format!("in {m} minutes"),
    };
    let local = start.with_timezone(&tz);
    let at = if local.date_naive() == now.with_timezone(&tz).date_naive() {
        local.format("%H:%M").to_string()
    } else {
        format_when(&local)
    };
    let mut text = format!(
        ":alarm_clock: **{}** starts {when}, at {at} ({}).",
        event.linked_title(),
        tz.name()
    );
    if let Some(location) = event.location.as_deref().filter(|l| !l.trim().is_empty()) {
        text.push_str(&format!("\nWhere: {}", location.trim()));
    }
    if let Some(meet) = event.hangout_link.as_deref() {
        text.push_str(&format!("\nJoin: {meet}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_keys() {
        assert_eq!(
            claim_key("u1", 1_700_000_000_000, "abc_20261201T090000Z"),
            "reminded/u1/1700000000000/abc_20261201T090000Z"
        );
        assert_eq!(claim_key("u1", 5, "x"), "reminded/u1/0000000000005/x");
        let long = claim_key("u1", 5, &"a/".repeat(10));
        assert!(long.starts_with("reminded/u1/0000000000005/h"), "{long}");
        assert_eq!(long.len(), "reminded/u1/0000000000005/h".len() + 16);
    }

    #[test]
    fn texts() {
        let event: Event = serde_json::from_str(
            r#"{"id":"e","summary":"Standup","location":"Room 4","htmlLink":"https://calendar.google.com/e"}"#,
        )
        .unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:50:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            reminder_text(&event, start, now, Tz::Europe__Berlin),
            ":alarm_clock: **[Standup](https://calendar.google.com/e)** starts in 10 minutes, at 10:00 (Europe/Berlin).\nWhere: Room 4"
        );
    }
}
