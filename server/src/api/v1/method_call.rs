//! `method.call/:method` and `method.callAnon/:method`: realtime methods over REST
//! (Rocket.Chat's `API_Use_REST_For_DDP_Calls`, which its mobile app uses by
//! default). The body is `{message: "<DDP method message>"}`; the answer is always
//! `{success: true, message: "<DDP result message>"}`, a method's refusal inside it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::accounts::Session;
use crate::chat::ChatError;
use crate::realtime::trace::ConnTrace;

async fn run(
    state: &AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    session: Option<&Session>,
    body: &Value,
) -> ApiResult {
    let message = match body.get("message") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(ChatError::invalid("must be string").into()),
        None => {
            return Err(ChatError::invalid("must have required property 'message'").into());
        }
    };
    // Each call is a connection of its own, as Rocket.Chat's REST wrapper makes.
    let conn = ConnTrace::new(None, peer.ip(), headers);
    let answer =
        crate::realtime::call_method_over_rest(&state.chat, &state.apps, &conn, session, message)
            .await
            .map_err(|e| ApiError::BadBody(e.to_string()))?;
    ok(json!({ "message": answer }))
}

/// `POST /api/v1/method.call/:method` (logged in).
pub async fn call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    run(&state, peer, headers, Some(&session), &body).await
}

/// `POST /api/v1/method.callAnon/:method`: the method runs without a user, so only
/// methods that need no login succeed (as Rocket.Chat, credentials are ignored).
pub async fn call_anon(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    run(&state, peer, headers, None, &body).await
}
