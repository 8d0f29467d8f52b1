//! `/gcal` and its sub-commands. Everything personal (the agenda, login links,
//! errors) is answered privately; only `invite` posts in the room.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use palaver_apps_sdk::Result;
use palaver_apps_sdk::{environment, rooms, users, Args, CommandContext, CommandReply, Error};

use crate::config::Config;
use crate::google::{Attendee, Event, EventTime, NewEvent};
use crate::oauth::{self, Logout};
use crate::when::{
    self, format_day, format_duration, format_span, parse_duration, parse_start, start_of_day,
    DURATION_FORMATS, START_FORMATS,
};
use crate::{prefs, reminders};

/// Room members looked at for an invitation.
const MAX_INVITEES: u32 = 500;

/// Runs `/gcal <params>`.
pub fn run(ctx: &CommandContext) -> Result<CommandReply> {
    let args = ctx.args();
    let Some((sub, rest)) = args.subcommand() else {
        return Ok(CommandReply::ephemeral(help(None)));
    };
    let sub = sub.to_ascii_lowercase();
    if sub == "help" {
        return Ok(CommandReply::ephemeral(help(None)));
    }
    let cfg = Config::load()?;
    let user = ctx.sender.id.as_str();
    let text = match sub.as_str() {
        "login" | "connect" => login(&cfg, ctx)?,
        "logout" | "disconnect" => logout(&cfg, user)?,
        "today" => agenda(&cfg, user, 1)?,
        "week" => agenda(&cfg, user, 7)?,
        "add" => add(&cfg, user, rest.rest(0))?,
        "invite" => return invite(&cfg, ctx, &rest),
        "tz" | "timezone" => time_zone(&cfg, user, rest.first())?,
        other => help(Some(other)),
    };
    Ok(CommandReply::ephemeral(text))
}

/// The help text; with the sub-command that was not understood, if any.
pub fn help(unknown: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(word) = unknown {
        text.push_str(&format!("I do not know `/gcal {word}`.\n\n"));
    }
    text.push_str(
        "**Google Calendar** in the chat:\n\
         • `/gcal login` — connect your Google Calendar (you get a private sign-in link)\n\
         • `/gcal today` — your events today\n\
         • `/gcal week` — your events in the next 7 days\n\
         • `/gcal add <text>` — add an event the way Google reads it, e.g. `/gcal add Lunch with Ana tomorrow 1pm`\n\
         • `/gcal invite <title> <start> <duration>` — create an event and invite this room's members, \
           e.g. `/gcal invite \"Design review\" tomorrow 15:00 1h30m`\n\
         • `/gcal tz [zone]` — show or set your time zone (e.g. `Europe/Berlin`; `default` goes back to the server's)\n\
         • `/gcal logout` — disconnect and revoke this app's access\n\
         Reminders arrive as direct messages from the app before your events start.",
    );
    text
}

fn login(cfg: &Config, ctx: &CommandContext) -> Result<String> {
    let user = ctx.sender.id.as_str();
    let url = oauth::begin(cfg, user, &ctx.room.id)?;
    let already = if oauth::load(user)?.is_some() {
        "Your calendar is already connected; signing in again replaces that connection.\n"
    } else {
        ""
    };
    let ttl = cfg.login_ttl_seconds;
    let lifetime = if ttl >= 120 {
        format!("{} minutes", ttl / 60)
    } else {
        format!("{ttl} seconds")
    };
    Ok(format!(
        "{already}Open this link to connect your Google Calendar. It is for you only, works once and expires in {lifetime}:\n{url}"
    ))
}

fn logout(cfg: &Config, user: &str) -> Result<String> {
    let outcome = oauth::logout(cfg, user)?;
    reminders::forget_user(user)?;
    Ok(match outcome {
        Logout::NotConnected => "Your Google Calendar is not connected.".into(),
        Logout::Revoked => "Disconnected: this app's access to your Google Calendar was revoked and its tokens deleted.".into(),
        Logout::AlreadyRevoked => "Disconnected: Google had already revoked this app's access; its tokens were deleted.".into(),
        Logout::NotRevoked(why) => format!(
            "Disconnected here, but Google did not confirm the revocation ({why}). \
             You can remove the access yourself at https://myaccount.google.com/permissions."
        ),
    })
}

fn agenda(cfg: &Config, user: &str, days: i64) -> Result<String> {
    let tz = prefs::user_tz(cfg, user)?;
    let today = when::now().with_timezone(&tz).date_naive();
    let from = start_of_day(tz, today);
    let to = start_of_day(tz, today + Duration::days(days));
    Ok(
        match oauth::with_calendar(cfg, user, |cal| cal.list(&from, &to, tz)) {
            Ok(events) => format_agenda(&events, tz, today, days),
            Err(e) => e.user_text(),
        },
    )
}

/// The agenda of `days` days from `first`, grouped by the day each event starts
/// (events that began earlier are listed under `first`).
pub fn format_agenda(events: &[Event], tz: Tz, first: NaiveDate, days: i64) -> String {
    let heading = if days == 1 {
        format!("Today, {} ({}):", format_day(first), tz.name())
    } else {
        format!(
            "Your next {days} days, from {} ({}):",
            format_day(first),
            tz.name()
        )
    };
    let mut text = heading;
    let mut any = false;
    let mut current: Option<NaiveDate> = None;
    for event in events.iter().filter(|e| !e.is_cancelled()) {
        let Some(start) = event.start() else { continue };
        let day = start.instant(tz).date_naive().max(first);
        if days > 1 && current != Some(day) {
            text.push_str(&format!("\n**{}**", format_day(day)));
            current = Some(day);
        }
        let mut line = format!(
            "\n• {} {}",
            format_span(start, event.end(), tz, Some(day)),
            event.linked_title()
        );
        if let Some(location) = event.location.as_deref().filter(|l| !l.trim().is_empty()) {
            line.push_str(&format!(" — {}", location.trim()));
        }
        if event.declined() {
            line.push_str(" (declined)");
        }
        text.push_str(&line);
        any = true;
    }
    if !any {
        text.push_str(if days == 1 {
            "\nNo events today."
        } else {
            "\nNo events."
        });
    }
    text
}

fn add(cfg: &Config, user: &str, text: Option<String>) -> Result<String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(
            "Usage: `/gcal add <text>`, e.g. `/gcal add Lunch with Ana tomorrow 1pm`.".into(),
        );
    };
    let tz = prefs::user_tz(cfg, user)?;
    Ok(
        match oauth::with_calendar(cfg, user, |cal| cal.quick_add(text.trim())) {
            Ok(event) => format!("Added {}.", describe(&event, tz)),
            Err(e) => e.user_text(),
        },
    )
}

/// `**[Title](link)**, Tue 1 Dec 2026 15:00–16:00 (Europe/Berlin)`.
fn describe(event: &Event, tz: Tz) -> String {
    match event.start() {
        Some(start) => format!(
            "**{}**, {} ({})",
            event.linked_title(),
            format_span(start, event.end(), tz, None),
            tz.name()
        ),
        None => format!("**{}**", event.linked_title()),
    }
}

fn invite_usage(problem: &str) -> CommandReply {
    CommandReply::ephemeral(format!(
        "{problem}\nUsage: `/gcal invite <title> <start> <duration>`, e.g. \
         `/gcal invite \"Design review\" tomorrow 15:00 1h30m`.\n\
         Start: {START_FORMATS}. Duration: {DURATION_FORMATS}."
    ))
}

/// The title, start words and duration word of `/gcal invite`'s arguments: the
/// duration is last, the start the one or two words before it.
fn split_invite<'a>(
    words: &[&'a str],
    tz: Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<(String, chrono::DateTime<Tz>, &'a str), String> {
    let n = words.len();
    if n < 3 {
        return Err("Give a title, a start and a duration.".into());
    }
    let duration = words[n - 1];
    for start_words in [2, 1] {
        if n < start_words + 2 {
            continue;
        }
        if let Some(start) = parse_start(&words[n - 1 - start_words..n - 1], tz, now) {
            let title = words[..n - 1 - start_words].join(" ").trim().to_string();
            return start.map(|s| (title, s, duration));
        }
    }
    Err(format!("I could not read the start `{}`.", words[n - 2]))
}

fn invite(cfg: &Config, ctx: &CommandContext, args: &Args) -> Result<CommandReply> {
    let user = ctx.sender.id.as_str();
    let tz = prefs::user_tz(cfg, user)?;
    let now = when::now();
    let words: Vec<&str> = args.iter().collect();
    let (title, start, duration_word) = match split_invite(&words, tz, now) {
        Ok(parts) => parts,
        Err(problem) => return Ok(invite_usage(&problem)),
    };
    if title.is_empty() {
        return Ok(invite_usage("The event needs a title."));
    }
    let duration = match parse_duration(duration_word) {
        Ok(d) => d,
        Err(problem) => return Ok(invite_usage(&problem)),
    };
    if oauth::load(user)?.is_none() {
        return Ok(CommandReply::ephemeral(
            crate::error::GcalError::NotConnected.user_text(),
        ));
    }
    let (invitees, without_email) = match room_invitees(ctx) {
        Ok(found) => found,
        Err(Error::NotFound) => {
            return Ok(CommandReply::ephemeral(
                "I cannot see who is in this room: the app can read public channels and rooms its bot was added to.",
            ))
        }
        Err(e) => return Err(e),
    };
    let end = start + duration;
    let new = NewEvent {
        summary: title.clone(),
        start: EventTime::at(&start),
        end: EventTime::at(&end),
        attendees: invitees
            .iter()
            .map(|(_, email)| Attendee {
                email: Some(email.clone()),
                ..Default::default()
            })
            .collect(),
    };
    let event = match oauth::with_calendar(cfg, user, |cal| cal.insert(&new)) {
        Ok(event) => event,
        Err(e) => return Ok(CommandReply::ephemeral(e.user_text())),
    };
    let names: Vec<String> = invitees
        .iter()
        .map(|(name, _)| format!("@{name}"))
        .collect();
    let mut private = format!("Created {}", describe(&event, tz));
    private.push_str(&match names.len() {
        0 => ". Nobody else in this room could be invited.".to_string(),
        n => format!(
            " and invited {n} member{}: {}.",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        ),
    });
    if !without_email.is_empty() {
        private.push_str(&format!(
            " Without an e-mail address, not invited: {}.",
            without_email
                .iter()
                .map(|n| format!("@{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let public = format!(
        ":calendar: @{} invited {} to **{}**, {} ({}, {}).",
        ctx.sender.username,
        if names.is_empty() {
            "nobody".to_string()
        } else {
            names.join(", ")
        },
        event.linked_title(),
        format_span(
            when::Moment::At(start.fixed_offset()),
            Some(when::Moment::At(end.fixed_offset())),
            tz,
            None
        ),
        tz.name(),
        format_duration(duration)
    );
    Ok(CommandReply::message(ctx.reply(public)).with_ephemeral(private))
}

/// The room's members to invite, as (username, e-mail), and the usernames of those
/// without an address.
type Invitees = (Vec<(String, String)>, Vec<String>);

/// The members of the room to invite; the sender (the organizer) and bots are left
/// out.
fn room_invitees(ctx: &CommandContext) -> Result<Invitees> {
    let bot = environment::bot_user_id();
    let mut invitees = Vec::new();
    let mut without = Vec::new();
    for member in rooms::all_members(&ctx.room.id, MAX_INVITEES)? {
        if member.id == ctx.sender.id || member.id == bot {
            continue;
        }
        let user = users::get(&member.id)?;
        if user.is_bot || !user.active {
            continue;
        }
        match users::email(&member.id)? {
            Some(email) if email.contains('@') => invitees.push((user.username, email)),
            _ => without.push(user.username),
        }
    }
    Ok((invitees, without))
}

fn time_zone(cfg: &Config, user: &str, zone: Option<&str>) -> Result<String> {
    let Some(zone) = zone else {
        return Ok(match prefs::chosen_tz(user)? {
            Some(tz) => format!("Your time zone is {}.", tz.name()),
            None => format!(
                "Your time zone is {} (the default). Set your own with `/gcal tz <zone>`, e.g. `/gcal tz Europe/Berlin`.",
                cfg.default_tz.name()
            ),
        });
    };
    if zone.eq_ignore_ascii_case("default") || zone.eq_ignore_ascii_case("reset") {
        prefs::set_tz(user, None)?;
        return Ok(format!(
            "Your time zone is the default again: {}.",
            cfg.default_tz.name()
        ));
    }
    match when::parse_tz(zone) {
        Some(tz) => {
            prefs::set_tz(user, Some(tz))?;
            Ok(format!("Your time zone is now {}.", tz.name()))
        }
        None => Ok(format!(
            "`{zone}` is not a time zone I know. Use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn invite_arguments() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tz = Tz::Europe__Berlin;
        let (title, start, d) =
            split_invite(&["Design review", "tomorrow", "15:00", "1h30m"], tz, now).unwrap();
        assert_eq!((title.as_str(), d), ("Design review", "1h30m"));
        assert_eq!(when::rfc3339(&start), "2026-12-02T15:00:00+01:00");
        let (title, start, _) =
            split_invite(&["Team", "sync", "2026-12-03T10:00", "30m"], tz, now).unwrap();
        assert_eq!(title, "Team sync");
        assert_eq!(when::rfc3339(&start), "2026-12-03T10:00:00+01:00");
        assert!(split_invite(&["x", "1h"], tz, now).is_err());
        assert!(split_invite(&["Lunch", "at", "noon", "1h"], tz, now).is_err());
    }

    #[test]
    fn agendas() {
        let tz = Tz::Europe__Berlin;
        let events: Vec<Event> = serde_json::from_str(
            r#"[{"id":"1","summary":"Standup","start":{"dateTime":"2026-12-01T08:00:00Z"},"end":{"dateTime":"2026-12-01T08:15:00Z"},"location":"Room 4"},
                {"id":"2","summary":"Gone","status":"cancelled","start":{"dateTime":"2026-12-01T10:00:00Z"}},
                {"id":"3","summary":"Offsite","start":{"date":"2026-12-02"},"end":{"date":"2026-12-03"}}]"#,
        )
        .unwrap();
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            format_agenda(&events[..2], tz, first, 1),
            "Today, Tuesday 1 December 2026 (Europe/Berlin):\n• 09:00–09:15 Standup — Room 4"
        );
        assert_eq!(
            format_agenda(&events, tz, first, 7),
            "Your next 7 days, from Tuesday 1 December 2026 (Europe/Berlin):\n\
             **Tuesday 1 December 2026**\n• 09:00–09:15 Standup — Room 4\n\
             **Wednesday 2 December 2026**\n• all day Offsite"
        );
        assert!(format_agenda(&[], tz, first, 1).ends_with("No events today."));
    }
}
