//! Self-service `users.*`: registration, one's own profile and preferences,
//! account deletion, and the lookups clients make while typing; `pw.getPolicy`.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::chat::profile::{BasicInfo, Registration};
use crate::chat::user_query::UserCondition;
use crate::chat::ChatError;
use crate::wire::{self, DateStyle};

#[derive(Deserialize)]
pub struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    pass: Option<String>,
    name: Option<String>,
    secret: Option<String>,
    #[serde(rename = "customFields")]
    custom_fields: Option<Map<String, Value>>,
}

/// `POST /api/v1/users.register` (no login).
pub async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    // Rocket.Chat's route needs no login, so it never reads the caller's
    // credentials: a logged-in client (an admin's tooling) registers like anyone.
    let form = Registration {
        username: required(&body.username, "username")?.to_string(),
        email: required(&body.email, "email")?.to_string(),
        pass: required(&body.pass, "pass")?.to_string(),
        name: required(&body.name, "name")?.to_string(),
        secret: body.secret,
        custom_fields: body.custom_fields,
    };
    let user = state.chat.register(form).await?;
    ok(json!({"user": wire::user_full(&user, DateStyle::Iso)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BasicInfoData {
    email: Option<String>,
    name: Option<String>,
    username: Option<String>,
    nickname: Option<String>,
    bio: Option<String>,
    status_text: Option<String>,
    new_password: Option<String>,
    current_password: Option<String>,
}

#[derive(Deserialize)]
pub struct BasicInfoBody {
    data: Option<BasicInfoData>,
}

/// `POST /api/v1/users.updateOwnBasicInfo` `{data: {…}}`.
pub async fn update_own_basic_info(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<BasicInfoBody>,
) -> ApiResult {
    let Some(d) = body.data else {
        return Err(ChatError::invalid("must have required property 'data'").into());
    };
    let info = BasicInfo {
        email: d.email,
        name: d.name,
        username: d.username,
        nickname: d.nickname,
        bio: d.bio,
        status_text: d.status_text,
        new_password: d.new_password.filter(|p| !p.is_empty()),
        current_password: d.current_password,
    };
    let user = state
        .chat
        .update_own_basic_info(&session.user, &session.token_hash, info)
        .await?;
    ok(json!({"user": wire::user_full(&user, DateStyle::Iso)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesBody {
    user_id: Option<String>,
    data: Option<Map<String, Value>>,
}

/// `POST /api/v1/users.setPreferences` `{userId?, data: {…}}`.
pub async fn set_preferences(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<PreferencesBody>,
) -> ApiResult {
    let Some(data) = body.data else {
        return Err(ChatError::invalid("must have required property 'data'").into());
    };
    let user = state
        .chat
        .set_preferences(&session.user, body.user_id.as_deref(), data)
        .await?;
    ok(json!({"user": {
        "_id": user.id,
        "settings": {"preferences": state.chat.preferences_of(&user)},
    }}))
}

/// `GET /api/v1/users.getPreferences`.
pub async fn get_preferences(Auth(session): Auth) -> ApiResult {
    // Only what the user set, as Rocket.Chat answers (its clients add the
    // defaults themselves; `/me` carries them filled in).
    ok(json!({"preferences": session.user.settings.preferences}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOwnBody {
    password: Option<String>,
    #[serde(default)]
    confirm_relinquish: bool,
}

/// `POST /api/v1/users.deleteOwnAccount` `{password, confirmRelinquish?}`.
pub async fn delete_own_account(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<DeleteOwnBody>,
) -> ApiResult {
    let Some(password) = body.password.filter(|p| !p.is_empty()) else {
        return Err(ApiError::BadBody(
            "Body parameter \"password\" is required.".into(),
        ));
    };
    state
        .chat
        .delete_own_account(&session.user, &password, body.confirm_relinquish)
        .await?;
    ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBody {
    user_id: Option<String>,
    username: Option<String>,
    #[serde(default)]
    confirm_relinquish: bool,
}

/// `POST /api/v1/users.delete` `{userId|username, confirmRelinquish?}` (admins).
pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<DeleteBody>,
) -> ApiResult {
    let user = state
        .chat
        .find_user(body.user_id.as_deref(), body.username.as_deref())
        .await?;
    state
        .chat
        .delete_user(&session.user, &user, body.confirm_relinquish)
        .await?;
    ok(json!({}))
}

/// `GET /api/v1/users.getUsernameSuggestion`.
pub async fn username_suggestion(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let result = state.chat.username_suggestion(&session.user).await?;
    ok(json!({ "result": result }))
}

/// Users `users.autocomplete` returns at most (Rocket.Chat's limit).
const AUTOCOMPLETE_LIMIT: usize = 10;

/// `GET /api/v1/users.autocomplete?selector={"term": "…", "exceptions": […]}`.
pub async fn autocomplete(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(raw) = params.get("selector") else {
        return Err(ChatError::invalid("must have required property 'selector'").into());
    };
    let selector: Value = serde_json::from_str(raw)
        .map_err(|_| ChatError::invalid(format!("Invalid selector parameter {raw:?}")))?;
    let term = selector["term"].as_str().unwrap_or_default();
    let exceptions: Vec<String> = selector["exceptions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let conditions = match selector.get("conditions") {
        Some(c) if !c.is_null() => Some(UserCondition::parse(c)?),
        _ => None,
    };
    let users = state
        .chat
        .autocomplete_users(
            &session.user,
            term,
            &exceptions,
            conditions.as_ref(),
            AUTOCOMPLETE_LIMIT,
        )
        .await?;
    let items: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut item = json!({
                "_id": u.id,
                "username": u.username,
                "name": u.name,
                "status": "offline",
            });
            if let Some(n) = &u.nickname {
                item["nickname"] = json!(n);
            }
            item
        })
        .collect();
    ok(json!({ "items": items }))
}

/// `GET /api/v1/pw.getPolicy`.
pub async fn password_policy(State(state): State<AppState>, Auth(_session): Auth) -> ApiResult {
    ok(state.chat.password_policy().describe())
}

/// `users.requestDataDownload?fullExport=true|false`: asks for a download of
/// one's own data; `requested: false` when one of the same kind was asked for
/// within a day (that one is answered, with its `url` once built).
pub async fn request_data_download(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let full = params.bool("fullExport")?.unwrap_or(false);
    let download = state
        .chat
        .request_data_download(&session.user, full)
        .await?;
    ok(json!({
        "requested": download.requested,
        "exportOperation": wire::render(&download.operation, DateStyle::Iso),
        "url": download.url,
    }))
}
