//! Hello: the smallest real Palaver app.
//!
//! - `/hello [name]` posts "Hello, <name>!" in the room (the sender's name when none is
//!   given) and tells the sender, privately, that it did.
//! - `/hello fetch [url]` GETs `url` (or the `status-url` setting) through the host and
//!   answers with the status and the first line of the body; a refusal (no
//!   `networking` permission, a host not granted, an address the host will not connect
//!   to, a timeout, …) is shown to the sender only.
//! - A pre-send hook refuses messages containing the `forbidden-word` setting and
//!   replaces the `replace-from` setting's text with `replace-to`.

use std::time::Duration;

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::{http, settings};

/// The app. It keeps no state: everything comes from the settings.
#[derive(Default)]
pub struct Hello;

impl App for Hello {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        match ctx.subcommand() {
            Some((sub, rest)) if sub.eq_ignore_ascii_case("fetch") => fetch(ctx, &rest),
            _ => greet(ctx),
        }
    }

    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        let rules = Rules {
            forbidden_word: settings::str_or("forbidden-word", "")?,
            replace_from: settings::str_or("replace-from", "")?,
            replace_to: settings::str_or("replace-to", "")?,
        };
        Ok(rules.decide(message))
    }
}

palaver_apps_sdk::export_app!(Hello);

fn greet(ctx: &CommandContext) -> Result<CommandReply> {
    let name = ctx
        .args()
        .rest(0)
        .unwrap_or_else(|| ctx.sender.display_name().to_string());
    let message = ctx.reply(greeting(&name)).emoji(":wave:");
    Ok(CommandReply::message(message)
        .with_ephemeral(format!("Said hello to {name} in {}.", ctx.room.label())))
}

fn fetch(ctx: &CommandContext, args: &Args) -> Result<CommandReply> {
    let url = match args.rest(0) {
        Some(url) => url,
        None => settings::str_or("status-url", "")?,
    };
    if url.trim().is_empty() {
        return Ok(CommandReply::ephemeral(
            "Usage: /hello fetch <url> (or set the app's Status URL).",
        ));
    }
    let url = url.trim();
    info!("{} fetches {url}", ctx.sender.username);
    match http::Request::get(url)
        .timeout(Duration::from_secs(10))
        .send()
    {
        Ok(response) => Ok(CommandReply::message(ctx.reply(format!(
            "{url} answered {}: {}",
            response.status,
            first_line(&response.text_lossy())
        )))),
        Err(e) => {
            warn!("fetching {url} failed: {}", e.to_wit_string());
            Ok(CommandReply::ephemeral(describe_fetch_error(url, &e)))
        }
    }
}

/// The greeting for `name`.
pub fn greeting(name: &str) -> String {
    format!("Hello, {}!", name.trim())
}

/// The first non-blank line of `body`, at most 200 characters.
pub fn first_line(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty body)");
    let mut short: String = line.chars().take(200).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// What the sender is told when a fetch fails.
pub fn describe_fetch_error(url: &str, error: &Error) -> String {
    let why = match error {
        Error::PermissionDenied(permission) => {
            format!("this app was not granted the `{permission}` permission; an admin can grant it")
        }
        Error::Network(reason) => format!("the request was refused or failed: {reason}"),
        Error::Timeout => "the request timed out".to_string(),
        Error::LimitExceeded(limit) => format!("a limit was reached ({limit})"),
        Error::Invalid(reason) => format!("the URL was refused: {reason}"),
        other => other.to_string(),
    };
    format!("Could not fetch {url}: {why}.")
}

/// The pre-send hook's settings.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Messages containing it (ignoring case) are refused; empty: none are.
    pub forbidden_word: String,
    /// Text replaced in every message; empty: nothing is replaced.
    pub replace_from: String,
    /// What `replace_from` becomes.
    pub replace_to: String,
}

impl Rules {
    /// What the hook decides about `message`.
    pub fn decide(&self, message: &Message) -> PreSendDecision {
        let word = self.forbidden_word.trim();
        if !word.is_empty() && message.text.to_lowercase().contains(&word.to_lowercase()) {
            return PreSendDecision::prevent(format!("The word \"{word}\" is not allowed here."));
        }
        if !self.replace_from.is_empty() && message.text.contains(&self.replace_from) {
            let text = message.text.replace(&self.replace_from, &self.replace_to);
            return PreSendDecision::modify(message.with_text(text));
        }
        PreSendDecision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(word: &str, from: &str, to: &str) -> Rules {
        Rules {
            forbidden_word: word.into(),
            replace_from: from.into(),
            replace_to: to.into(),
        }
    }

    #[test]
    fn refuses_the_forbidden_word_in_any_case() {
        let decision = rules("forbidden", "", "").decide(&Message::new("r", "This is FORBIDDEN!"));
        assert_eq!(
            decision,
            PreSendDecision::Prevent("The word \"forbidden\" is not allowed here.".into())
        );
    }

    #[test]
    fn replaces_text() {
        let decision = rules("", "colour", "color").decide(&Message::new("r", "colour, colour"));
        match decision {
            PreSendDecision::Modify(m) => {
                assert_eq!(m.text, "color, color");
                assert_eq!(m.room_id, "r");
            }
            other => panic!("expected modify, got {other:?}"),
        }
    }

    #[test]
    fn lets_other_messages_through() {
        assert_eq!(
            rules("forbidden", "x", "y").decide(&Message::new("r", "hello")),
            PreSendDecision::Continue
        );
        assert_eq!(
            rules("  ", "", "").decide(&Message::new("r", "  anything")),
            PreSendDecision::Continue
        );
    }

    #[test]
    fn texts() {
        assert_eq!(greeting(" Bob "), "Hello, Bob!");
        assert_eq!(
            first_line("\n\n  <!doctype html>  \n<html>"),
            "<!doctype html>"
        );
        assert_eq!(first_line(""), "(empty body)");
        assert_eq!(first_line(&"x".repeat(300)).chars().count(), 201);
        assert_eq!(
            describe_fetch_error(
                "https://example.com",
                &Error::PermissionDenied("networking".into())
            ),
            "Could not fetch https://example.com: this app was not granted the `networking` permission; an admin can grant it."
        );
    }
}
