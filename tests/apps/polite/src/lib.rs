//! A well-behaved test app, to show that other apps keep working while one misbehaves.
//!
//! - `/polite` posts "polite reply" in the room (and shows it to the sender).
//! - Its pre-send hook appends " (polite)" to messages containing "please".
//! - `/polite-pick <words>` previews three polite phrasings of the words; the one
//!   picked is posted in the room.

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

impl App for Polite {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
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
        if message.text.to_lowercase().contains("please") && !message.text.ends_with(SUFFIX) {
            let text = format!("{}{SUFFIX}", message.text);
            return Ok(PreSendDecision::modify(message.with_text(text)));
        }
        Ok(PreSendDecision::Continue)
    }
}

palaver_apps_sdk::export_app!(Polite);
