//! A well-behaved test app, to show that other apps keep working while one misbehaves.
//!
//! - `/polite` posts "polite reply" in the room (and shows it to the sender).
//! - Its pre-send hook appends " (polite)" to messages containing "please".

use palaver_apps_sdk::prelude::*;

#[derive(Default)]
struct Polite;

const SUFFIX: &str = " (polite)";

impl App for Polite {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        Ok(CommandReply::message(ctx.reply("polite reply")).with_ephemeral("polite reply"))
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
