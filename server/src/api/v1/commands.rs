//! `commands.list`, `commands.run` and `commands.preview`: REST's reading of the
//! slash-command service ([`crate::apps::slash`]), which holds the commands
//! themselves.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::ok;
use crate::apps::engine::{CommandLine, PreviewItem};
use crate::apps::slash::{command_name, refusals, SlashCommands};
use crate::apps::AppsError;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;

fn slash(state: &AppState) -> SlashCommands<'_> {
    SlashCommands::new(&state.chat, &state.apps)
}

pub async fn list(State(state): State<AppState>, Auth(_): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let all = slash(&state).list();
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

/// `commands.get?command=`: one command, as `commands.list` shows it.
pub async fn get_one(State(state): State<AppState>, Auth(_): Auth, params: Params) -> ApiResult {
    let Some(raw) = params.get("command") else {
        return Err(ChatError::invalid("The query param \"command\" must be provided.").into());
    };
    match slash(&state).find(&command_name(raw)) {
        Some(command) => ok(json!({ "command": command })),
        None => Err(ChatError::invalid(format!(
            "There is no command in the system by the name of: {raw}"
        ))
        .into()),
    }
}

/// The body of `commands.run`, loosely typed: Rocket.Chat checks each field's type
/// itself and answers each wrong one in its own words.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunBody {
    command: Option<Value>,
    room_id: Option<Value>,
    params: Option<Value>,
    tmid: Option<Value>,
    trigger_id: Option<String>,
}

/// A field that must be a string when present and not null/empty.
fn string_field(v: &Option<Value>) -> Result<Option<&str>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(Value::Bool(false)) => Ok(None),
        Some(_) => Err(()),
    }
}

pub async fn run(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RunBody>,
) -> ApiResult {
    let Ok(Some(command)) = string_field(&body.command) else {
        return Err(ChatError::invalid("You must provide a command to run.").into());
    };
    let Ok(params) = string_field(&body.params) else {
        return Err(
            ChatError::invalid("The parameters for the command must be a single string.").into(),
        );
    };
    let Ok(Some(rid)) = string_field(&body.room_id) else {
        return Err(ChatError::invalid(
            "The room's id where to execute this command must be provided and be a string.",
        )
        .into());
    };
    let Ok(tmid) = string_field(&body.tmid) else {
        return Err(
            ChatError::invalid("The tmid parameter when provided must be a string.").into(),
        );
    };
    let command = command_name(command);
    let slash = slash(&state);
    if slash.find(&command).is_none() {
        return Err(ApiError::Failure(
            "error-invalid-command",
            "The command provided does not exist (or is disabled).".into(),
        ));
    }
    require_room_access(&state, &session.user, rid).await?;
    let tmid = tmid.filter(|t| !t.is_empty());
    if let Some(tmid) = tmid {
        if !state.chat.message_is_in_room(tmid, rid).await? {
            return Err(ChatError::invalid("Invalid thread.").into());
        }
    }
    let line = CommandLine {
        command: &command,
        params: params.unwrap_or_default(),
        rid,
        tmid,
        trigger_id: body.trigger_id.as_deref(),
    };
    let result = match slash.run(&session.user, &line).await {
        Err(AppsError::NotFound) => return Err(refusals::no_such_command(&command).into()),
        other => other?,
    };
    ok(json!({ "result": result }))
}

/// Rocket.Chat's `canAccessRoomIdAsync` before running anything in a room: a room
/// that does not exist or that the user may not see is a bare 403 `unauthorized`.
async fn require_room_access(
    state: &AppState,
    user: &crate::store::User,
    rid: &str,
) -> Result<(), ApiError> {
    let room = match state.chat.room(RoomRef::Id(rid)).await {
        Ok(room) => room,
        Err(ChatError::Refused { .. }) => return Err(ChatError::unauthorized_bare().into()),
        Err(e) => return Err(e.into()),
    };
    if !state.chat.can_access_room(user, &room).await? {
        return Err(ChatError::unauthorized_bare().into());
    }
    Ok(())
}

/// Rocket.Chat's answer when no enabled app answers a previewed command.
fn no_such_command(e: AppsError) -> ApiError {
    match e {
        AppsError::NotFound => refusals::no_previewing_command().into(),
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
        return Err(ChatError::invalid(
            "The room's id where the previews are being displayed must be provided and be a string.",
        )
        .into());
    };
    let line = CommandLine {
        command: &command,
        params: params.get("params").unwrap_or_default(),
        rid,
        tmid: params.get("tmid"),
        trigger_id: None,
    };
    require_room_access(&state, &session.user, rid).await?;
    let preview = slash(&state)
        .previews(&session.user, &line)
        .await
        .map_err(no_such_command)?;
    ok(json!({ "preview": preview }))
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
        return Err(ChatError::invalid(
            "The room's id where the preview is being executed in must be provided and be a string.",
        )
        .into());
    };
    let Some(item) = body.preview_item else {
        return Err(ChatError::invalid("The preview item being executed must be provided.").into());
    };
    let wrong_format =
        || ChatError::invalid("The preview item being executed is in the wrong format.");
    let (Some(id), Some(kind), Some(value)) = (item.id, item.kind, item.value) else {
        return Err(wrong_format().into());
    };
    if id.is_empty() || kind.is_empty() {
        return Err(wrong_format().into());
    }
    let command = command_name(command);
    require_room_access(&state, &session.user, rid).await?;
    let line = CommandLine {
        command: &command,
        params: &body.params,
        rid,
        tmid: body.tmid.as_deref(),
        trigger_id: body.trigger_id.as_deref(),
    };
    slash(&state)
        .execute_preview(&session.user, &line, PreviewItem { id, kind, value })
        .await
        .map_err(no_such_command)?;
    ok(json!({}))
}
