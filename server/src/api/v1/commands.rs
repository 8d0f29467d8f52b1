//! `commands.list` and `commands.run`: core slash commands and those of enabled apps.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::apps::engine::{CommandInfo, CommandLine, PreviewItem, CORE_COMMANDS};
use crate::apps::AppsError;
use crate::chat::messages::NewMessage;
use crate::chat::notify::EphemeralMessage;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::User;

fn all_commands(state: &AppState) -> Vec<CommandInfo> {
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
    all.extend(state.apps.app_commands());
    all.sort_by(|a, b| a.command.cmp(&b.command));
    all
}

pub async fn list(State(state): State<AppState>, Auth(_): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let all = all_commands(&state);
    let total = all.len();
    let commands: Vec<Value> = all
        .iter()
        .skip(page.offset as usize)
        .take(page.count as usize)
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .collect();
    ok(json!({
        "commands": commands,
        "count": commands.len(),
        "offset": page.offset,
        "total": total,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunBody {
    command: Option<String>,
    room_id: Option<String>,
    #[serde(default)]
    params: String,
    tmid: Option<String>,
    trigger_id: Option<String>,
}

pub async fn run(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RunBody>,
) -> ApiResult {
    let command = command_name(required(&body.command, "command")?);
    let rid = required(&body.room_id, "roomId")?.to_string();
    let user = &session.user;
    if CORE_COMMANDS.iter().any(|c| c.0 == command) {
        let result = run_core(&state, user, &command, body.params.trim(), &rid).await?;
        return ok(json!({ "result": result }));
    }
    let line = CommandLine {
        command: &command,
        params: &body.params,
        rid: &rid,
        tmid: body.tmid.as_deref(),
        trigger_id: body.trigger_id.as_deref(),
    };
    let outcome = match state.apps.run_command(user, &line).await {
        Err(AppsError::NotFound) => {
            return Err(ChatError::refused(
                "error-invalid-command",
                format!("There is no command /{command}"),
            )
            .into())
        }
        other => other?,
    };
    ok(json!({ "result": outcome }))
}

/// A command as a client names it (`/Hello`, ` hello`) in the form commands have.
fn command_name(raw: &str) -> String {
    raw.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// Rocket.Chat's answer when no enabled app answers a previewed command.
fn no_such_command(e: AppsError) -> ApiError {
    match e {
        AppsError::NotFound => {
            ChatError::invalid("The command provided does not exist (or is disabled).").into()
        }
        other => other.into(),
    }
}

/// `GET commands.preview?command=&params=&roomId=`: the items the command's app
/// offers for what the user has typed so far.
pub async fn preview(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(command) = params.get("command") else {
        return Err(
            ChatError::invalid("You must provide a command to get the previews from.").into(),
        );
    };
    let command = command_name(command);
    let Some(rid) = params.get("roomId") else {
        return Err(ChatError::invalid("The room id parameter must be a string.").into());
    };
    let line = CommandLine {
        command: &command,
        params: params.get("params").unwrap_or_default(),
        rid,
        tmid: params.get("tmid"),
        trigger_id: None,
    };
    let (title, items) = state
        .apps
        .preview_command(&session.user, &line)
        .await
        .map_err(no_such_command)?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| json!({ "id": i.id, "type": preview_type(&i.kind), "value": i.value }))
        .collect();
    ok(json!({ "preview": { "i18nTitle": title, "items": items } }))
}

/// Rocket.Chat's preview item types; anything else an app says is `other`.
fn preview_type(kind: &str) -> &str {
    match kind {
        "text" | "image" | "video" | "audio" => kind,
        _ => "other",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItemBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutePreviewBody {
    command: Option<String>,
    room_id: Option<String>,
    #[serde(default)]
    params: String,
    tmid: Option<String>,
    trigger_id: Option<String>,
    preview_item: Option<PreviewItemBody>,
}

/// `POST commands.preview`: runs the preview item the user picked.
pub async fn execute_preview(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ExecutePreviewBody>,
) -> ApiResult {
    let Some(command) = body.command.as_deref() else {
        return Err(
            ChatError::invalid("You must provide a command to run the preview item on.").into(),
        );
    };
    let Some(rid) = body.room_id.as_deref() else {
        return Err(ChatError::invalid("The room id parameter must be a string.").into());
    };
    let Some(item) = &body.preview_item else {
        return Err(ChatError::invalid("The preview item being executed must be provided.").into());
    };
    let (Some(id), Some(kind), Some(value)) = (&item.id, &item.kind, &item.value) else {
        return Err(
            ChatError::invalid("The preview item being executed is in the wrong format.").into(),
        );
    };
    if id.is_empty() || kind.is_empty() {
        return Err(
            ChatError::invalid("The preview item being executed is in the wrong format.").into(),
        );
    }
    let command = command_name(command);
    let line = CommandLine {
        command: &command,
        params: &body.params,
        rid,
        tmid: body.tmid.as_deref(),
        trigger_id: body.trigger_id.as_deref(),
    };
    let item = PreviewItem {
        id: id.clone(),
        kind: kind.clone(),
        value: value.clone(),
    };
    state
        .apps
        .execute_preview_item(&session.user, &line, item)
        .await
        .map_err(no_such_command)?;
    ok(json!({}))
}

fn notice(state: &AppState, user: &User, rid: &str, text: String) -> Result<Value, ApiError> {
    state.chat.notify_user(
        &user.id,
        EphemeralMessage {
            rid: rid.to_string(),
            msg: text.clone(),
            ..Default::default()
        },
    )?;
    Ok(json!({ "ephemeral": text }))
}

async fn target_user(state: &AppState, params: &str) -> Result<User, ApiError> {
    let name = params.trim().trim_start_matches('@');
    if name.is_empty() {
        return Err(ChatError::invalid("Give a @username").into());
    }
    Ok(state.chat.find_user(None, Some(name)).await?)
}

async fn run_core(
    state: &AppState,
    user: &User,
    command: &str,
    params: &str,
    rid: &str,
) -> Result<Value, ApiError> {
    let chat = &state.chat;
    match command {
        "join" => {
            let name = params.trim_start_matches('#');
            if name.is_empty() {
                return Err(ChatError::invalid("Give a #channel to join").into());
            }
            let room = chat.room(RoomRef::Name(name)).await?;
            let room = chat.join_room(user, &room.id).await?;
            Ok(json!({ "roomId": room.id }))
        }
        "leave" => {
            chat.leave_room(user, rid).await?;
            Ok(json!({}))
        }
        "invite" => {
            let target = target_user(state, params).await?;
            chat.invite(user, rid, &target).await?;
            Ok(json!({}))
        }
        "kick" => {
            let target = target_user(state, params).await?;
            chat.kick(user, rid, &target).await?;
            Ok(json!({}))
        }
        "me" => {
            if params.is_empty() {
                return Err(ChatError::invalid("Say what you are doing: /me waves").into());
            }
            let (_, message) = chat
                .send_message(
                    user,
                    NewMessage {
                        rid: rid.to_string(),
                        msg: format!("_{params}_"),
                        ..Default::default()
                    },
                )
                .await?;
            Ok(json!({ "messageId": message.id }))
        }
        _ => {
            let lines: Vec<String> = all_commands(state)
                .iter()
                .map(|c| format!("/{} {} — {}", c.command, c.params, c.description))
                .collect();
            notice(state, user, rid, lines.join("\n"))
        }
    }
}
