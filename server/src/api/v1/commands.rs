//! `commands.list`, `commands.run` and `commands.preview`: REST's reading of the
//! slash-command service ([`crate::apps::slash`]), which holds the commands
//! themselves.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::apps::engine::{CommandLine, PreviewItem};
use crate::apps::slash::{command_name, refusals, SlashCommands};
use crate::apps::AppsError;
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
    let rid = required(&body.room_id, "roomId")?;
    let line = CommandLine {
        command: &command,
        params: &body.params,
        rid,
        tmid: body.tmid.as_deref(),
        trigger_id: body.trigger_id.as_deref(),
    };
    let result = match slash(&state).run(&session.user, &line).await {
        Err(AppsError::NotFound) => return Err(refusals::no_such_command(&command).into()),
        other => other?,
    };
    ok(json!({ "result": result }))
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
        return Err(ChatError::invalid("The room id parameter must be a string.").into());
    };
    let line = CommandLine {
        command: &command,
        params: params.get("params").unwrap_or_default(),
        rid,
        tmid: params.get("tmid"),
        trigger_id: None,
    };
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
        return Err(ChatError::invalid("The room id parameter must be a string.").into());
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
