//! `integrations.*` (incoming and outgoing webhooks, admins only) and the hook endpoint
//! `POST /hooks/{integrationId}/{token}` that webhook senders call.

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{envelope, ApiError, ApiResult};
use super::super::extract::{is_blank, parse_json, read_body, Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::chat::integrations::outgoing::OutgoingInput;
use crate::chat::integrations::{HookError, IntegrationInput};
use crate::chat::ChatError;
use crate::store::integrations::{Integration, IntegrationHistory, WEBHOOK_OUTGOING};
use crate::wire;

/// Rocket.Chat's integration document.
pub(super) fn render(i: &Integration) -> Value {
    let mut doc = json!({
        "_id": i.id,
        "type": i.kind,
        "name": i.name,
        "enabled": i.enabled,
        "channel": i.channel,
        "username": i.username,
        "userId": i.user_id,
        "alias": i.alias.clone().unwrap_or_default(),
        "avatar": i.avatar.clone().unwrap_or_default(),
        "emoji": i.emoji.clone().unwrap_or_default(),
        "token": i.token,
        "scriptEnabled": i.script_enabled,
        "script": "",
        "overrideDestinationChannelEnabled": i.override_channel,
        "_createdBy": {"_id": i.created_by.id, "username": i.created_by.username},
        "_createdAt": wire::iso(i.created_at.0),
        "_updatedAt": wire::iso(i.updated_at.0),
    });
    if let Some(o) = &i.outgoing {
        doc["event"] = json!(o.event);
        doc["urls"] = json!(o.urls);
        doc["triggerWords"] = json!(o.trigger_words);
        doc["triggerWordAnywhere"] = json!(o.trigger_word_anywhere);
        doc["runOnEdits"] = json!(o.run_on_edits);
        doc["targetRoom"] = json!(o.target_room.clone().unwrap_or_default());
        doc["retryFailedCalls"] = json!(o.retry_failed_calls);
        doc["retryCount"] = json!(o.retry_count);
        doc["retryDelay"] = json!(o.retry_delay);
        doc["impersonateUser"] = json!(o.impersonate_user);
        if let Some(map) = doc.as_object_mut() {
            map.remove("overrideDestinationChannelEnabled");
        }
    }
    doc
}

/// `triggerWords`/`urls`: an array, or one comma-separated string (Rocket.Chat's
/// admin form sends both shapes).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum StringList {
    List(Vec<String>),
    One(String),
}

impl StringList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringList::List(v) => v,
            StringList::One(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        }
    }
}

/// The body of `integrations.create` and `integrations.update`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    integration_id: Option<String>,
    name: Option<String>,
    enabled: Option<bool>,
    channel: Option<String>,
    username: Option<String>,
    alias: Option<String>,
    avatar: Option<String>,
    emoji: Option<String>,
    script_enabled: Option<bool>,
    script: Option<String>,
    override_destination_channel_enabled: Option<bool>,
    event: Option<String>,
    urls: Option<StringList>,
    trigger_words: Option<StringList>,
    trigger_word_anywhere: Option<bool>,
    run_on_edits: Option<bool>,
    target_room: Option<String>,
    retry_failed_calls: Option<bool>,
    retry_count: Option<u32>,
    retry_delay: Option<String>,
    impersonate_user: Option<bool>,
    token: Option<String>,
}

impl IntegrationBody {
    fn into_input(self) -> IntegrationInput {
        IntegrationInput {
            kind: self.kind,
            name: self.name,
            enabled: self.enabled,
            channel: self.channel,
            username: self.username,
            alias: self.alias,
            avatar: self.avatar,
            emoji: self.emoji,
            script_enabled: self.script_enabled,
            script: self.script,
            override_channel: self.override_destination_channel_enabled,
            outgoing: OutgoingInput {
                event: self.event,
                urls: self.urls.map(StringList::into_vec),
                trigger_words: self.trigger_words.map(StringList::into_vec),
                trigger_word_anywhere: self.trigger_word_anywhere,
                run_on_edits: self.run_on_edits,
                target_room: self.target_room,
                retry_failed_calls: self.retry_failed_calls,
                retry_count: self.retry_count,
                retry_delay: self.retry_delay,
                impersonate_user: self.impersonate_user,
                token: self.token,
            },
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult {
    let integration = state
        .chat
        .create_integration(&session.user, body.into_input())
        .await?;
    ok(json!({"integration": render(&integration)}))
}

pub async fn list(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let listing = state.chat.list_integrations(&session.user, page).await?;
    let items: Vec<Value> = listing.items.iter().map(render).collect();
    ok(json!({
        "integrations": items,
        "offset": page.offset,
        "items": items.len(),
        "count": items.len(),
        "total": listing.total,
    }))
}

pub async fn get(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let Some(id) = params.get("integrationId") else {
        return Err(ChatError::refused(
            "invalid-params",
            "must have required property 'integrationId'",
        )
        .into());
    };
    let integration = state.chat.get_integration(&session.user, id).await?;
    ok(json!({"integration": render(&integration)}))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult {
    let id = required(&body.integration_id, "integrationId")?.to_string();
    let integration = state
        .chat
        .update_integration(&session.user, &id, body.into_input())
        .await?;
    ok(json!({"integration": render(&integration)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    integration_id: Option<String>,
}

pub async fn remove(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RemoveBody>,
) -> ApiResult {
    let id = required(&body.integration_id, "integrationId")?;
    let integration = state
        .chat
        .remove_integration(&session.user, id, body.kind.as_deref())
        .await?;
    ok(json!({"integration": render(&integration)}))
}

/// A history entry in Rocket.Chat's `IIntegrationHistory` shape (`httpCallData`,
/// `httpResult`, `httpError`, `error`, `finished`), with Palaver's `statusCode`,
/// `attempt` and `deliveryId`.
fn render_history(h: &IntegrationHistory) -> Value {
    let at = wire::iso(h.at.0);
    let request = h
        .request
        .as_deref()
        .map(|r| serde_json::from_str::<Value>(r).unwrap_or_else(|_| json!(r)));
    json!({
        "_id": h.id,
        "type": if h.kind == WEBHOOK_OUTGOING { "outgoing-webhook" } else { "incoming-webhook" },
        "step": h.step,
        "integration": {"_id": h.integration_id},
        "event": h.event,
        "_createdAt": at,
        "_updatedAt": at,
        "url": h.url,
        "httpCallData": request,
        "httpResult": h.response,
        "httpError": h.error,
        "statusCode": h.status,
        "error": h.error.is_some(),
        "finished": !h.retrying,
        "triggerWord": h.trigger_word,
        "attempt": h.attempt,
        "deliveryId": h.delivery_id,
    })
}

/// `GET integrations.history?id=…`: newest first, paginated.
pub async fn history(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let id = params.get("id").map(str::trim).unwrap_or_default();
    if id.is_empty() {
        return Err(ChatError::invalid("Invalid integration id.").into());
    }
    let page = params.page()?;
    let listing = state
        .chat
        .integration_history(&session.user, id, page)
        .await?;
    let items: Vec<Value> = listing.items.iter().map(render_history).collect();
    ok(json!({
        "history": items,
        "offset": page.offset,
        "items": items.len(),
        "count": items.len(),
        "total": listing.total,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    integration_id: Option<String>,
}

/// `POST palaver.integrations.regenerateToken {integrationId}`: a new random token.
pub async fn regenerate_token(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult {
    let id = required(&body.integration_id, "integrationId")?;
    let integration = state
        .chat
        .regenerate_integration_token(&session.user, id)
        .await?;
    ok(json!({"integration": render(&integration)}))
}

// ---------------------------------------------------------------------------------
// The hook itself.

/// `/hooks/…`, with and without a trailing slash, and Rocket.Chat's older form with
/// the user id in the path (the id is ignored: the integration names its user).
pub fn hook_routes() -> Router<AppState> {
    Router::new()
        .route("/hooks/{integration_id}/{token}", post(hook))
        .route("/hooks/{integration_id}/{token}/", post(hook))
        .route(
            "/hooks/{integration_id}/{user_id}/{token}",
            post(hook_with_user),
        )
        .route(
            "/hooks/{integration_id}/{user_id}/{token}/",
            post(hook_with_user),
        )
}

fn hook_error_response(e: HookError) -> Response {
    let (status, error_type) = match e {
        HookError::InvalidToken => (StatusCode::NOT_FOUND, "error-invalid-integration"),
        HookError::Disabled => (
            StatusCode::SERVICE_UNAVAILABLE,
            "error-integration-disabled",
        ),
        HookError::Chat(e) | HookError::RateLimited(e) => return ApiError::Chat(e).into_response(),
    };
    envelope(
        status,
        json!({"success": false, "error": e.to_string(), "errorType": error_type}),
    )
}

/// Reads the payload: JSON, or a form whose `payload` field holds the JSON (as
/// Slack senders post it), or a plain form whose fields are the payload's.
async fn read_payload(state: &AppState, req: Request) -> Result<Value, ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let bytes = read_body(req, state.max_body_bytes).await?;
    if !is_form || is_blank(&bytes) {
        return parse_json(&bytes);
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::BadBody(format!("Invalid form body: {e}")))?;
    if let Some((_, payload)) = fields.iter().find(|(k, _)| k == "payload") {
        return serde_json::from_str(payload)
            .map_err(|e| ApiError::BadBody(format!("The payload field is not valid JSON: {e}")));
    }
    // A JSON document sent with a form content type arrives as one field whose name
    // is the document (Rocket.Chat accepts that too).
    if let [(key, value)] = fields.as_slice() {
        if value.is_empty() {
            if let Ok(doc @ Value::Object(_)) = serde_json::from_str::<Value>(key) {
                return Ok(doc);
            }
        }
    }
    Ok(Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

async fn run_hook(state: AppState, integration_id: &str, token: &str, req: Request) -> Response {
    let payload = match read_payload(&state, req).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let (response, error) = match state
        .chat
        .execute_webhook(integration_id, token, &payload)
        .await
    {
        Ok(_) => (Json(json!({"success": true})).into_response(), None),
        // Unknown hooks and wrong tokens have no history; calls over the rate limit
        // are not recorded either (a flood would push out what is worth reading).
        Err(e @ (HookError::InvalidToken | HookError::RateLimited(_))) => {
            return hook_error_response(e)
        }
        Err(e) => {
            let message = e.to_string();
            (hook_error_response(e), Some(message))
        }
    };
    state
        .chat
        .record_incoming_call(integration_id, &payload, response.status().as_u16(), error)
        .await;
    response
}

async fn hook(
    State(state): State<AppState>,
    Path((integration_id, token)): Path<(String, String)>,
    req: Request,
) -> Response {
    run_hook(state, &integration_id, &token, req).await
}

async fn hook_with_user(
    State(state): State<AppState>,
    Path((integration_id, _user_id, token)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    run_hook(state, &integration_id, &token, req).await
}
