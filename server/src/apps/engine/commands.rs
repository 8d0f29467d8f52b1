//! Slash commands and HTTP endpoints served by apps.

use std::sync::Arc;

use serde::Serialize;

use super::{AppsEngine, AppsError, Enabled, Installed};
use crate::apps::host::bindings::exports::palaver::apps::endpoints::EndpointRequest;
use crate::apps::host::bindings::palaver::apps::types as wit;
use crate::apps::host::convert;
use crate::apps::permissions::Permission;
use crate::apps::pool::{Call, Outcome};
use crate::chat::notify::EphemeralMessage;
use crate::chat::rooms::RoomRef;
use crate::store::{Room, User};

/// Commands the core provides (name, params hint, description); apps may not take
/// these names.
pub const CORE_COMMANDS: &[(&str, &str, &str)] = &[
    (
        "archive",
        "#channel",
        "Archive a room (this one without a name)",
    ),
    (
        "unarchive",
        "#channel",
        "Unarchive a room (this one without a name)",
    ),
    (
        "create",
        "#channel",
        "Create a new channel (--private for a private group)",
    ),
    (
        "hide",
        "#room",
        "Hide a room from your sidebar (this one without a name)",
    ),
    ("join", "#channel", "Join a channel"),
    ("leave", "", "Leave the current room"),
    ("part", "", "Leave the current room"),
    ("invite", "@username", "Invite a user to the current room"),
    (
        "invite-all-from",
        "#room",
        "Add all users of the given room to this one",
    ),
    (
        "invite-all-to",
        "#room",
        "Add all users of this room to the given one",
    ),
    ("kick", "@username", "Remove a user from the current room"),
    ("msg", "@username <message>", "Direct message someone"),
    ("mute", "@username", "Mute someone in the room"),
    ("unmute", "@username", "Unmute someone in the room"),
    ("status", "your status message", "Set your status message"),
    (
        "topic",
        "topic message",
        "Set the topic of the current room",
    ),
    (
        "me",
        "your message",
        "Say something about yourself, in the third person",
    ),
    ("help", "", "List the commands you can use"),
    (
        "gimme",
        "your message (optional)",
        "Displays ༼ つ ◕_◕ ༽つ before your message",
    ),
    (
        "lennyface",
        "your message (optional)",
        "Displays ( ͡° ͜ʖ ͡°) after your message",
    ),
    (
        "shrug",
        "your message (optional)",
        "Displays ¯\\_(ツ)_/¯ after your message",
    ),
    (
        "tableflip",
        "your message (optional)",
        "Displays (╯°□°）╯︵ ┻━┻",
    ),
    (
        "unflip",
        "your message (optional)",
        "Displays ┬─┬ ノ( ゜-゜ノ)",
    ),
];

/// The core commands that send the user's text with a face around it, as
/// Rocket.Chat's `slashcommands-asciiarts`: (command, before, after).
pub const ASCII_ART_COMMANDS: &[(&str, &str, &str)] = &[
    ("gimme", "༼ つ ◕_◕ ༽つ ", ""),
    ("lennyface", "", " ( ͡° ͜ʖ ͡°)"),
    ("shrug", "", " ¯\\_(ツ)_/¯"),
    ("tableflip", "", " (╯°□°）╯︵ ┻━┻"),
    ("unflip", "", " ┬─┬ ノ( ゜-゜ノ)"),
];

/// A command as `commands.list` shows it (Rocket.Chat's fields).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandInfo {
    pub command: String,
    pub params: String,
    pub description: String,
    pub client_only: bool,
    pub provides_preview: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
}

/// What running an app's command produced.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutcome {
    /// The text shown only to the sender, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<String>,
    /// The message the app posted in the room, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub app_id: String,
}

/// A slash command line as a client sent it.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a> {
    /// The command without the slash, lower case.
    pub command: &'a str,
    pub params: &'a str,
    /// The room it was typed in.
    pub rid: &'a str,
    /// The thread it was typed in.
    pub tmid: Option<&'a str>,
    pub trigger_id: Option<&'a str>,
}

/// An HTTP request to an app endpoint.
#[derive(Clone, Debug)]
pub struct EndpointCall {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Private endpoints: the caller.
    pub user: Option<User>,
    pub public: bool,
}

/// Splits command parameters on white space; double quotes group words.
pub fn split_args(params: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut has = false;
    for c in params.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                has = true;
            }
            c if c.is_whitespace() && !quoted => {
                if has {
                    args.push(std::mem::take(&mut current));
                    has = false;
                }
            }
            c => {
                current.push(c);
                has = true;
            }
        }
    }
    if has {
        args.push(current);
    }
    args
}

impl AppsEngine {
    /// Commands of enabled apps granted `slashcommand`.
    pub fn app_commands(&self) -> Vec<CommandInfo> {
        let mut out = Vec::new();
        for app in self.all() {
            if app.running().is_none() || !app.grant().allows(Permission::SlashCommand) {
                continue;
            }
            for c in &app.manifest.commands {
                out.push(CommandInfo {
                    command: c.name.clone(),
                    params: c.params.clone(),
                    description: c.description.clone(),
                    client_only: false,
                    provides_preview: c.preview,
                    app_id: Some(app.id.clone()),
                });
            }
        }
        out
    }

    fn command_owner(&self, command: &str) -> Option<Arc<Installed>> {
        self.all().into_iter().find(|a| {
            a.running().is_some()
                && a.grant().allows(Permission::SlashCommand)
                && a.manifest.commands.iter().any(|c| c.name == command)
        })
    }

    /// The enabled app answering `command`.
    fn command_app(&self, command: &str) -> Result<(Arc<Installed>, Arc<Enabled>), AppsError> {
        let app = self.command_owner(command).ok_or(AppsError::NotFound)?;
        let running = app
            .running()
            .ok_or_else(|| AppsError::Disabled(app.id.clone()))?;
        Ok((app, running))
    }

    /// The command's context for `actor` in room `rid`, which `actor` must have
    /// joined.
    async fn command_context(
        &self,
        actor: &User,
        line: &CommandLine<'_>,
    ) -> Result<(Room, wit::CommandContext), AppsError> {
        let (room, _) = self.chat.joined_room(actor, RoomRef::Id(line.rid)).await?;
        let context = wit::CommandContext {
            command: line.command.to_string(),
            args: split_args(line.params),
            params: line.params.to_string(),
            sender: convert::user(actor),
            room: convert::room(&room),
            thread_id: line.tmid.map(str::to_string),
            trigger_id: line.trigger_id.map(str::to_string),
        };
        Ok((room, context))
    }

    /// Runs an app's slash command for `actor`; [`AppsError::NotFound`] when no
    /// enabled app answers it.
    pub async fn run_command(
        &self,
        actor: &User,
        line: &CommandLine<'_>,
    ) -> Result<CommandOutcome, AppsError> {
        let (app, running) = self.command_app(line.command)?;
        let (room, context) = self.command_context(actor, line).await?;
        let call = Call::ExecuteCommand(context);
        self.answer(&app, &running, actor, &room, line.tmid, call)
            .await
    }

    /// The preview items an app offers for a command line still being typed, with
    /// the command's description as their title.
    pub async fn preview_command(
        &self,
        actor: &User,
        line: &CommandLine<'_>,
    ) -> Result<(String, Vec<wit::PreviewItem>), AppsError> {
        let (app, running, title) = self.previewing(line.command)?;
        let (_, context) = self.command_context(actor, line).await?;
        let result = running.pool.call(Call::PreviewCommand(context)).await;
        self.after_call(&app, &running.pool);
        match result {
            Ok(Outcome::Preview(Ok(items))) => Ok((title, items)),
            Ok(Outcome::Preview(Err(e))) => Err(AppsError::AppError {
                app: app.manifest.name.clone(),
                message: describe(&e),
            }),
            Ok(_) => Err(AppsError::Invalid("unexpected preview outcome".into())),
            Err(fault) => Err(AppsError::Fault {
                app: app.manifest.name.clone(),
                fault,
            }),
        }
    }

    /// Runs the preview item `actor` picked for a command line.
    pub async fn execute_preview_item(
        &self,
        actor: &User,
        line: &CommandLine<'_>,
        item: wit::PreviewItem,
    ) -> Result<CommandOutcome, AppsError> {
        let (app, running, _) = self.previewing(line.command)?;
        let (room, context) = self.command_context(actor, line).await?;
        let call = Call::ExecutePreviewItem(context, item);
        self.answer(&app, &running, actor, &room, line.tmid, call)
            .await
    }

    /// [`Self::command_app`] for a command the manifest marks `preview`, with the
    /// command's description.
    fn previewing(
        &self,
        command: &str,
    ) -> Result<(Arc<Installed>, Arc<Enabled>, String), AppsError> {
        let (app, running) = self.command_app(command)?;
        let Some(entry) = app
            .manifest
            .commands
            .iter()
            .find(|c| c.name == command && c.preview)
        else {
            return Err(AppsError::Invalid(format!(
                "the command /{command} does not provide previews"
            )));
        };
        let title = entry.description.clone();
        Ok((app, running, title))
    }

    /// Runs a command (or a picked preview item) and posts and shows its answer.
    async fn answer(
        &self,
        app: &Arc<Installed>,
        running: &Enabled,
        actor: &User,
        room: &Room,
        tmid: Option<&str>,
        call: Call,
    ) -> Result<CommandOutcome, AppsError> {
        let handler = call.handler();
        let result = running.pool.call(call).await;
        self.after_call(app, &running.pool);
        let reply = match result {
            Ok(Outcome::Command(Ok(reply))) => reply,
            Ok(Outcome::Command(Err(e))) => {
                return Err(AppsError::AppError {
                    app: app.manifest.name.clone(),
                    message: describe(&e),
                })
            }
            Ok(_) => return Err(AppsError::Invalid("unexpected command outcome".into())),
            Err(fault) => {
                return Err(AppsError::Fault {
                    app: app.manifest.name.clone(),
                    fault,
                })
            }
        };
        let ctx = running.pool.context().clone();
        let mut outcome = CommandOutcome {
            app_id: app.id.clone(),
            ..Default::default()
        };
        let mut ephemeral = reply.ephemeral;
        if let Some(mut message) = reply.message {
            if message.room_id.is_empty() {
                message.room_id = room.id.clone();
            }
            if message.thread_id.is_none() {
                message.thread_id = tmid.map(str::to_string);
            }
            let text = message.text.clone();
            match ctx.send_as_bot(message).await {
                Ok(id) => outcome.message_id = Some(id),
                // The bot cannot post here (a private room it is not in): show the
                // reply to the sender instead of losing it.
                Err(e) => {
                    app.logger.host(
                        "warn",
                        Some(handler),
                        &format!("the command's reply could not be posted ({e:?}); shown privately instead"),
                        None,
                    );
                    ephemeral = Some(match ephemeral {
                        Some(e) => format!("{text}\n{e}"),
                        None => text,
                    });
                }
            }
        }
        if let Some(text) = ephemeral.filter(|t| !t.trim().is_empty()) {
            self.chat.notify_user(
                &actor.id,
                EphemeralMessage {
                    rid: room.id.clone(),
                    msg: text.clone(),
                    sender: Some(ctx.bot.as_ref()),
                    ..Default::default()
                },
            )?;
            outcome.ephemeral = Some(text);
        }
        Ok(outcome)
    }

    /// Serves a request to an app endpoint.
    pub async fn handle_request(
        &self,
        app_id: &str,
        call: EndpointCall,
    ) -> Result<wit::EndpointResponse, AppsError> {
        let app = self.app(app_id).map_err(|_| AppsError::NotFound)?;
        let endpoint = app
            .manifest
            .endpoints
            .iter()
            .find(|e| e.path == call.path && e.public == call.public)
            .ok_or(AppsError::NotFound)?;
        if !endpoint
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&call.method))
        {
            return Err(AppsError::Invalid(format!(
                "method {} is not allowed; allowed: {}",
                call.method,
                endpoint.methods.join(", ")
            )));
        }
        if !app.grant().allows(Permission::Api) {
            return Err(AppsError::NotFound);
        }
        let running = app
            .running()
            .ok_or_else(|| AppsError::Disabled(app.id.clone()))?;
        let request = EndpointRequest {
            method: call.method.to_ascii_uppercase(),
            path: call.path,
            query: call.query,
            headers: call.headers,
            body: call.body,
            user: call.user.as_ref().map(convert::user),
        };
        let result = running.pool.call(Call::HandleRequest(request)).await;
        self.after_call(&app, &running.pool);
        match result {
            Ok(Outcome::Response(r)) => Ok(r),
            Ok(_) => Err(AppsError::Invalid("unexpected endpoint outcome".into())),
            Err(fault) => Err(AppsError::Fault {
                app: app.manifest.name.clone(),
                fault,
            }),
        }
    }
}

/// An app's error as text for the user.
pub fn describe(e: &wit::Error) -> String {
    match e {
        wit::Error::PermissionDenied(p) => format!("permission denied: {p}"),
        wit::Error::NotFound => "not found".into(),
        wit::Error::Invalid(m) => m.clone(),
        wit::Error::LimitExceeded(l) => format!("limit exceeded: {l}"),
        wit::Error::Timeout => "timed out".into(),
        wit::Error::Network(m) => format!("network: {m}"),
        wit::Error::Internal(m) => format!("internal error: {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arguments() {
        assert_eq!(split_args("  a \"b c\"  d"), vec!["a", "b c", "d"]);
        assert_eq!(split_args(""), Vec::<String>::new());
        assert_eq!(split_args("\"\""), vec![""]);
    }
}
