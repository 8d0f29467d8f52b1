//! A well-behaved test app, to show that other apps keep working while one misbehaves.
//!
//! - `/polite` posts "polite reply" in the room (and shows it to the sender).
//! - Its pre-send hook appends " (polite)" to messages containing "please".
//! - `/polite-pick <words>` previews three polite phrasings of the words; the one
//!   picked is posted in the room.
//!
//! Message limits (the server must refuse what an app builds too big, by either way
//! an app changes chat):
//! - `/polite-big <kind>` sends, as the bot, a message that is `many` (1000
//!   attachments), `bytes` (20 attachments of 4000 characters), `fields` (101 fields),
//!   or `alias` (a small message under the alias
//!   "admin", which the bot may use); answers "sent <id>" or "refused: <error>".
//! - Its pre-send hook turns a message containing `polite-bloat-<kind>` (a kind
//!   above) into that oversized message, and one containing `polite-alias` into one
//!   under the alias "admin".

use palaver_apps_sdk::prelude::*;

#[derive(Default)]
struct Polite;

const SUFFIX: &str = " (polite)";

/// The phrasings `/polite-pick` offers: preview item id, template.
const PHRASINGS: [(&str, &str); 3] = [
    ("please", "Please, {}"),
    ("kindly", "Would you kindly {}?"),
    ("thanks", "Thank you for {}!"),
];

fn phrase(template: &str, words: &str) -> String {
    template.replacen("{}", words, 1)
}

/// `message` made oversized in the way `kind` names (see the crate docs).
fn bloated(message: Message, kind: &str) -> Option<Message> {
    Some(match kind {
        "many" => (0..1000).fold(message, |m, i| {
            m.attachment(Attachment::new().title(format!("a{i}")))
        }),
        "bytes" => (0..20).fold(message, |m, _| {
            m.attachment(Attachment::new().text("x".repeat(4000)))
        }),
        "fields" => message.attachment(
            (0..101).fold(Attachment::new(), |a, i| a.field(format!("f{i}"), "v", true)),
        ),
        "alias" => message.alias("admin").avatar("https://example.com/admin.png"),
        _ => return None,
    })
}

impl App for Polite {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        if ctx.command == "polite-big" {
            let kind = ctx.params.trim();
            let message = bloated(ctx.reply(format!("big {kind}")), kind)
                .ok_or_else(|| Error::Invalid(format!("no such kind: {kind}")))?;
            return Ok(CommandReply::ephemeral(match message.send() {
                Ok(id) => format!("sent {id}"),
                Err(e) => format!("refused: {e}"),
            }));
        }
        if ctx.command == "polite-pick" {
            return Ok(CommandReply::ephemeral("Pick one of the previews."));
        }
        Ok(CommandReply::message(ctx.reply("polite reply")).with_ephemeral("polite reply"))
    }

    fn preview_command(&self, ctx: &CommandContext) -> Result<Vec<PreviewItem>> {
        let words = ctx.params.trim();
        if words.is_empty() {
            return Err(Error::Invalid("say what to phrase politely".into()));
        }
        Ok(PHRASINGS
            .iter()
            .map(|(id, template)| PreviewItem {
                id: id.to_string(),
                kind: "text".into(),
                value: phrase(template, words),
            })
            .collect())
    }

    fn execute_preview_item(
        &self,
        ctx: &CommandContext,
        item: &PreviewItem,
    ) -> Result<CommandReply> {
        // The item comes from the client: rebuild the text rather than trust its value.
        let (_, template) = PHRASINGS
            .iter()
            .find(|(id, _)| *id == item.id)
            .ok_or_else(|| Error::Invalid(format!("no such phrasing: {}", item.id)))?;
        Ok(CommandReply::message(
            ctx.reply(phrase(template, ctx.params.trim())),
        ))
    }

    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        if let Some(kind) = message.text.split_whitespace().find_map(|w| w.strip_prefix("polite-bloat-")) {
            if let Some(m) = bloated(message.clone(), kind) {
                return Ok(PreSendDecision::modify(m));
            }
        }
        if message.text.contains("polite-alias") {
            return Ok(PreSendDecision::modify(message.clone().alias("admin")));
        }
        if message.text.to_lowercase().contains("please") && !message.text.ends_with(SUFFIX) {
            let text = format!("{}{SUFFIX}", message.text);
            return Ok(PreSendDecision::modify(message.with_text(text)));
        }
        Ok(PreSendDecision::Continue)
    }
}

palaver_apps_sdk::export_app!(Polite);
