//! `commands.list` and `commands.run`: core slash commands and those of enabled apps.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::apps::engine::{CommandInfo, CORE_COMMANDS};
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
    let command = required(&body.command, "command")?
        .trim()
        .trim_start_matches('/')
        .to_ascii_lowercase();
    let rid = required(&body.room_id, "roomId")?.to_string();
    let user = &session.user;
    if CORE_COMMANDS.iter().any(|c| c.0 == command) {
        let result = run_core(&state, user, &command, body.params.trim(), &rid).await?;
        return ok(json!({ "result": result }));
    }
    if !state.apps.has_command(&command) {
        return Err(ChatError::refused(
            "error-invalid-command",
            format!("There is no command /{command}"),
        )
        .into());
    }
    let outcome = state
        .apps
        .run_command(
            user,
            &command,
            &body.params,
            &rid,
            body.tmid.as_deref(),
            body.trigger_id.as_deref(),
        )
        .await?;
    ok(json!({ "result": outcome }))
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
