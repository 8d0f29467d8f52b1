//! Slash commands as every edge serves them: REST (`commands.list|run|preview`) and
//! the realtime API (`slashCommand`, `getSlashCommandPreviews`,
//! `executeSlashCommandPreview`). The list of all commands, the core commands, the
//! dispatch of app commands and previews, command-name normalisation and
//! Rocket.Chat's wording of the refusals live here once, so a command behaves the
//! same whichever way a client comes; the edges only parse requests and map the
//! typed errors ([`ChatError`], [`AppsError`]) into their envelopes.

use serde::Serialize;
use serde_json::{json, Value};

use super::engine::{
    CommandInfo, CommandLine, CommandOutcome, PreviewItem, ASCII_ART_COMMANDS, CORE_COMMANDS,
};
use super::{AppsEngine, AppsError};
use crate::chat::messages::NewMessage;
use crate::chat::notify::EphemeralMessage;
use crate::chat::slash_core::CoreLine;
use crate::chat::{Chat, ChatError};
use crate::store::User;

/// Rocket.Chat's cap on the preview items one request returns ("to save time and
/// bandwidth"); the realtime API applies it.
pub const MAX_PREVIEW_ITEMS: usize = 10;

/// A command as a client names it (`/Hello`, ` hello`) in the form commands have.
pub fn command_name(raw: &str) -> String {
    raw.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// Whether the core (not an app) answers `command` (already normalised).
pub fn is_core(command: &str) -> bool {
    CORE_COMMANDS.iter().any(|c| c.0 == command)
}

/// Rocket.Chat's preview item types; anything else an app says is `other`.
pub fn preview_type(kind: &str) -> &str {
    match kind {
        "text" | "image" | "video" | "audio" => kind,
        _ => "other",
    }
}

/// Preview items as Rocket.Chat clients read them (`SlashCommandPreviews`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Previews {
    /// The command's description: the title clients show above the items.
    #[serde(rename = "i18nTitle")]
    pub i18n_title: String,
    pub items: Vec<PreviewEntry>,
}

/// One preview item (`SlashCommandPreviewItem`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreviewEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Previews {
    /// What Rocket.Chat's `getPreviews` hands a realtime client: nothing when there
    /// are no items, at most [`MAX_PREVIEW_ITEMS`] otherwise.
    pub fn capped(mut self) -> Option<Previews> {
        if self.items.is_empty() {
            return None;
        }
        self.items.truncate(MAX_PREVIEW_ITEMS);
        Some(self)
    }
}

/// Rocket.Chat's refusals around commands, in its words. REST and the realtime API
/// word some of them differently; each edge picks its own, both from here.
pub mod refusals {
    use crate::chat::ChatError;

    /// `commands.run` with a command nobody answers.
    pub fn no_such_command(command: &str) -> ChatError {
        ChatError::refused(
            "error-invalid-command",
            format!("There is no command /{command}"),
        )
    }

    /// `commands.preview` with a command no enabled app answers.
    pub fn no_previewing_command() -> ChatError {
        ChatError::invalid("The command provided does not exist (or is disabled).")
    }

    /// Realtime methods: no command, or one nobody answers.
    pub fn invalid_command() -> ChatError {
        ChatError::refused("error-invalid-command", "Invalid Command Provided")
    }

    /// Realtime preview methods with a command that offers none.
    pub fn no_previews() -> ChatError {
        ChatError::refused("error-invalid-command", "Command Does Not Provide Previews")
    }

    /// `executeSlashCommandPreview` without the picked item.
    pub fn no_preview_item() -> ChatError {
        ChatError::refused("error-invalid-command-preview", "Invalid Preview Provided")
    }

    /// `executeSlashCommandPreview` with an item lacking an id, type or value.
    pub fn incomplete_preview_item() -> ChatError {
        ChatError::refused(
            "error-invalid-preview",
            "Preview Item must have an id, type, and value.",
        )
    }

    /// Realtime methods whose `msg` names no room.
    pub fn needs_room() -> ChatError {
        ChatError::refused(
            "invalid-command-usage",
            "Executing a command requires at least a message with a room id.",
        )
    }
}

/// The slash-command service over the chat services and the apps engine. Cheap to
/// make: build one per request.
pub struct SlashCommands<'a> {
    chat: &'a Chat,
    apps: &'a AppsEngine,
}

impl<'a> SlashCommands<'a> {
    pub fn new(chat: &'a Chat, apps: &'a AppsEngine) -> SlashCommands<'a> {
        SlashCommands { chat, apps }
    }

    /// Every command a user can run right now (core, then enabled apps'), by name.
    pub fn list(&self) -> Vec<CommandInfo> {
        let mut all: Vec<CommandInfo> = CORE_COMMANDS
            .iter()
            .map(|(name, params, description)| CommandInfo {
                command: name.to_string(),
                params: params.to_string(),
                description: description.to_string(),
                client_only: false,
                provides_preview: false,
                app_id: None,
            })
            .collect();
        all.extend(self.apps.app_commands());
        all.sort_by(|a, b| a.command.cmp(&b.command));
        all
    }

    /// The command named `command` (normalised), if anyone answers it.
    pub fn find(&self, command: &str) -> Option<CommandInfo> {
        self.list().into_iter().find(|c| c.command == command)
    }

    /// Runs a command line for `user`: a core command's answer, or the app's
    /// [`CommandOutcome`], as JSON. [`AppsError::NotFound`] when nobody answers it.
    pub async fn run(&self, user: &User, line: &CommandLine<'_>) -> Result<Value, AppsError> {
        if is_core(line.command) {
            let result = self.run_core(user, line).await;
            tracing::info!(
                user_id = %user.id,
                room_id = %line.rid,
                command = %line.command,
                ok = result.is_ok(),
                "core slash command"
            );
            return Ok(result?);
        }
        let outcome = self.apps.run_command(user, line).await;
        trace_app(user, line, "slash command", &outcome);
        let outcome = outcome?;
        Ok(serde_json::to_value(&outcome).unwrap_or(Value::Null))
    }

    /// The items an app offers for a command line still being typed, in the order
    /// it gave them. [`AppsError::NotFound`] when no enabled app answers it.
    pub async fn previews(
        &self,
        user: &User,
        line: &CommandLine<'_>,
    ) -> Result<Previews, AppsError> {
        let result = self.apps.preview_command(user, line).await;
        tracing::debug!(
            user_id = %user.id,
            room_id = %line.rid,
            command = %line.command,
            ok = result.is_ok(),
            "slash command previews"
        );
        let (title, items) = result?;
        Ok(Previews {
            i18n_title: title,
            items: items
                .into_iter()
                .map(|i| PreviewEntry {
                    kind: preview_type(&i.kind).to_string(),
                    id: i.id,
                    value: i.value,
                })
                .collect(),
        })
    }

    /// Runs the preview item `user` picked. [`AppsError::NotFound`] when no enabled
    /// app answers the command.
    pub async fn execute_preview(
        &self,
        user: &User,
        line: &CommandLine<'_>,
        item: PreviewItem,
    ) -> Result<CommandOutcome, AppsError> {
        let outcome = self.apps.execute_preview_item(user, line, item).await;
        trace_app(user, line, "slash command preview item", &outcome);
        outcome
    }

    async fn run_core(&self, user: &User, line: &CommandLine<'_>) -> Result<Value, ChatError> {
        let chat = self.chat;
        let (rid, params) = (line.rid, line.params.trim());
        match line.command {
            room_command if Chat::is_room_command(room_command) => {
                let line = CoreLine {
                    command: room_command,
                    params: line.params,
                    rid,
                    tmid: line.tmid,
                };
                chat.run_room_command(user, line).await
            }
            art if ASCII_ART_COMMANDS.iter().any(|a| a.0 == art) => {
                let (_, before, after) = ASCII_ART_COMMANDS
                    .iter()
                    .find(|a| a.0 == art)
                    .copied()
                    .unwrap_or_default();
                let new = NewMessage {
                    rid: rid.to_string(),
                    msg: format!("{before}{params}{after}").trim().to_string(),
                    tmid: line.tmid.map(str::to_string),
                    ..Default::default()
                };
                let (_, message) = chat.send_message(user, new).await?;
                Ok(json!({ "messageId": message.id }))
            }
            "me" => {
                if params.is_empty() {
                    return Err(ChatError::invalid("Say what you are doing: /me waves"));
                }
                // Typed in a thread: the action belongs to that thread.
                let new = NewMessage {
                    rid: rid.to_string(),
                    msg: format!("_{params}_"),
                    tmid: line.tmid.map(str::to_string),
                    ..Default::default()
                };
                let (_, message) = chat.send_message(user, new).await?;
                Ok(json!({ "messageId": message.id }))
            }
            _ => {
                let lines: Vec<String> = self
                    .list()
                    .iter()
                    .map(|c| format!("/{} {} — {}", c.command, c.params, c.description))
                    .collect();
                self.notice(user, rid, lines.join("\n"))
            }
        }
    }

    /// Shows `text` to `user` alone, in room `rid`.
    fn notice(&self, user: &User, rid: &str, text: String) -> Result<Value, ChatError> {
        let message = EphemeralMessage {
            rid: rid.to_string(),
            msg: text.clone(),
            ..Default::default()
        };
        self.chat.notify_user(&user.id, message)?;
        Ok(json!({ "ephemeral": text }))
    }
}

fn trace_app(
    user: &User,
    line: &CommandLine<'_>,
    what: &str,
    outcome: &Result<CommandOutcome, AppsError>,
) {
    match outcome {
        Ok(o) => tracing::info!(
            user_id = %user.id,
            room_id = %line.rid,
            app_id = %o.app_id,
            command = %line.command,
            "{what} answered"
        ),
        Err(e) => tracing::info!(
            user_id = %user.id,
            room_id = %line.rid,
            command = %line.command,
            error = %e,
            "{what} refused"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_normalised() {
        assert_eq!(command_name("/Hello"), "hello");
        assert_eq!(command_name("  polite-PICK "), "polite-pick");
        assert_eq!(command_name("//me"), "me");
        assert_eq!(command_name(""), "");
        assert!(is_core(&command_name("/JOIN")));
        assert!(!is_core("polite"));
    }

    #[test]
    fn preview_types_follow_rocket_chat() {
        for kind in ["text", "image", "video", "audio"] {
            assert_eq!(preview_type(kind), kind);
        }
        assert_eq!(preview_type("gif"), "other");
        assert_eq!(preview_type(""), "other");
    }

    #[test]
    fn previews_are_capped_for_realtime_clients() {
        let entry = |i: usize| PreviewEntry {
            id: i.to_string(),
            kind: "text".into(),
            value: format!("item {i}"),
        };
        let none = Previews {
            i18n_title: "t".into(),
            items: Vec::new(),
        };
        assert_eq!(none.capped(), None);
        let many = Previews {
            i18n_title: "t".into(),
            items: (0..15).map(entry).collect(),
        };
        let capped = many.capped().expect("items");
        assert_eq!(capped.items.len(), MAX_PREVIEW_ITEMS);
        assert_eq!(capped.items[9].id, "9");
        assert_eq!(
            serde_json::to_value(&capped.items[0]).expect("json"),
            json!({"id": "0", "type": "text", "value": "item 0"})
        );
    }

    #[test]
    fn refusals_carry_rocket_chat_types() {
        assert_eq!(
            refusals::no_such_command("x").to_string(),
            "There is no command /x"
        );
        assert_eq!(
            refusals::invalid_command().error_type(),
            "error-invalid-command"
        );
        assert_eq!(
            refusals::no_previews().error_type(),
            "error-invalid-command"
        );
        assert_eq!(
            refusals::no_preview_item().error_type(),
            "error-invalid-command-preview"
        );
        assert_eq!(
            refusals::incomplete_preview_item().error_type(),
            "error-invalid-preview"
        );
        assert_eq!(refusals::needs_room().error_type(), "invalid-command-usage");
        assert_eq!(
            refusals::no_previewing_command().error_type(),
            "invalid-params"
        );
    }
}
