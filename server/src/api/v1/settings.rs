//! Rocket.Chat's settings endpoints: `settings` (every setting, for admins),
//! `settings/:_id` (read one, change one), `audit.settings` (the change log), and
//! the anonymous `settings.public` and `settings.oauth`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::ok;
use crate::chat::settings::{Change, ChangeClient, Kind, SettingView};
use crate::chat::ChatError;
use crate::store::settings_audit::{SettingChange, SettingChangeQuery};
use crate::wire;

/// A setting as Rocket.Chat's `ISetting` document, plus Palaver's `secret`, `set`
/// and `lockedBy`. A locked setting is `blocked`, as Rocket.Chat marks settings
/// admins may not change.
fn document(view: &SettingView) -> Map<String, Value> {
    let def = view.def;
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(def.id));
    doc.insert("value".into(), view.value.clone());
    doc.insert("type".into(), json!(def.kind.name()));
    doc.insert("group".into(), json!(def.group));
    if !def.section.is_empty() {
        doc.insert("section".into(), json!(def.section));
    }
    doc.insert("packageValue".into(), view.default.clone());
    doc.insert("public".into(), json!(def.public));
    doc.insert("hidden".into(), json!(false));
    doc.insert(
        "blocked".into(),
        json!(view.locked_by.is_some() || def.read_only),
    );
    doc.insert("i18nLabel".into(), json!(def.id));
    doc.insert("label".into(), json!(def.label));
    if !def.description.is_empty() {
        doc.insert(
            "i18nDescription".into(),
            json!(format!("{}_Description", def.id)),
        );
        doc.insert("description".into(), json!(def.description));
    }
    match def.kind {
        Kind::Select(keys) => {
            let values: Vec<Value> = keys
                .iter()
                .map(|k| json!({"key": k, "i18nLabel": k}))
                .collect();
            doc.insert("values".into(), Value::Array(values));
        }
        Kind::Int { min, max } => {
            doc.insert("min".into(), json!(min));
            doc.insert("max".into(), json!(max));
        }
        _ => {}
    }
    doc.insert("secret".into(), json!(def.secret()));
    if def.secret() {
        doc.insert("set".into(), json!(view.set));
    }
    if let Some(source) = &view.locked_by {
        doc.insert("lockedBy".into(), json!(source));
    }
    doc
}

fn bad_query(raw: &str) -> ApiError {
    ChatError::invalid(format!("Invalid query parameter {raw:?}")).into()
}

/// One field condition of Rocket.Chat's `query` (a MongoDB filter): a value for
/// equality, or `$eq`, `$ne`, `$in`, `$nin`.
fn matches(field: Option<&Value>, cond: &Value, raw: &str) -> Result<bool, ApiError> {
    let field = field.unwrap_or(&Value::Null);
    let Value::Object(ops) = cond else {
        return Ok(field == cond);
    };
    if !ops.keys().all(|k| k.starts_with('$')) {
        return Ok(field == cond);
    }
    for (op, arg) in ops {
        let list = || arg.as_array().ok_or_else(|| bad_query(raw));
        let hit = match op.as_str() {
            "$eq" => field == arg,
            "$ne" => field != arg,
            "$in" => list()?.contains(field),
            "$nin" => !list()?.contains(field),
            _ => return Err(bad_query(raw)),
        };
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Keeps the documents `query` selects (`{"_id": {"$in": [...]}, "group": "Email"}`).
fn filter(
    docs: Vec<Map<String, Value>>,
    raw: Option<&str>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Some(raw) = raw else {
        return Ok(docs);
    };
    let query: Map<String, Value> = serde_json::from_str(raw).map_err(|_| bad_query(raw))?;
    let mut kept = Vec::with_capacity(docs.len());
    for doc in docs {
        let mut all = true;
        for (key, cond) in &query {
            // `hidden` is how Rocket.Chat's own clients filter; nothing is hidden here.
            if !matches(doc.get(key), cond, raw)? {
                all = false;
                break;
            }
        }
        if all {
            kept.push(doc);
        }
    }
    Ok(kept)
}

/// Rocket.Chat's projection: `_id` and `value` always, plus the fields `fields`
/// asks for with a true value (`{"type": 1, "group": 1}`).
fn project(doc: Map<String, Value>, fields: &Map<String, Value>) -> Value {
    let wanted = |k: &str| {
        k == "_id"
            || k == "value"
            || fields
                .get(k)
                .is_some_and(|v| v.as_i64().unwrap_or(0) != 0 || v.as_bool() == Some(true))
    };
    Value::Object(doc.into_iter().filter(|(k, _)| wanted(k)).collect())
}

/// `GET /api/v1/settings`: every setting (`view-privileged-setting`; other users get
/// the public ones), paginated, filtered by `query` and shaped by `fields` as
/// Rocket.Chat does.
pub async fn list(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let views = state.chat.list_settings(&session.user).await?;
    let page = params.page()?;
    let mut fields: Map<String, Value> = match params.get("fields") {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|_| ChatError::invalid(format!("Invalid fields parameter {raw:?}")))?,
        None => Map::new(),
    };
    if params.bool("includeDefaults")?.unwrap_or(false) {
        fields.insert("packageValue".into(), json!(1));
    }
    let docs = filter(views.iter().map(document).collect(), params.get("query"))?;
    let total = docs.len();
    let settings: Vec<Value> = docs
        .into_iter()
        .skip(page.offset as usize)
        .take(page.count as usize)
        .map(|d| project(d, &fields))
        .collect();
    ok(json!({
        "settings": settings,
        "count": settings.len(),
        "offset": page.offset,
        "total": total,
    }))
}

/// `GET /api/v1/settings.public` (no login): the public settings, filtered by
/// `_id=a,b` (Rocket.Chat 7) and/or `query` (a MongoDB filter, e.g.
/// `{"_id":{"$in":[…]}}` or `{"_id":"…"}`), sorted by id, paginated by
/// `offset`/`count`, shaped by `fields`.
pub async fn public(State(state): State<AppState>, params: Params) -> ApiResult {
    let page = params.page()?;
    let fields: Map<String, Value> = match params.get("fields") {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|_| ChatError::invalid(format!("Invalid fields parameter {raw:?}")))?,
        None => Map::new(),
    };
    let only: Option<Vec<&str>> = params
        .get("_id")
        .filter(|ids| !ids.trim().is_empty())
        .map(|ids| ids.split(',').map(str::trim).collect());
    let mut docs: Vec<Map<String, Value>> = state
        .chat
        .public_settings()
        .iter()
        .filter(|v| only.as_ref().is_none_or(|ids| ids.contains(&v.def.id)))
        .map(document)
        .collect();
    docs = filter(docs, params.get("query"))?;
    let total = docs.len();
    let settings: Vec<Value> = docs
        .into_iter()
        .skip(page.offset as usize)
        .take(page.count as usize)
        .map(|d| project(d, &fields))
        .collect();
    ok(json!({
        "settings": settings,
        "count": settings.len(),
        "offset": page.offset,
        "total": total,
    }))
}

/// `GET /api/v1/settings.oauth` (no login): the login services a client may offer
/// besides the password form: the enabled custom OAuth providers, shaped as
/// Rocket.Chat's login service configurations (`custom: true`, no secret).
pub async fn oauth(State(state): State<AppState>) -> ApiResult {
    let mut services: Vec<Value> = Vec::new();
    for p in crate::identity::oauth::ProviderConfig::enabled(state.chat.settings()) {
        // Rocket.Chat's app builds the authorize URL from `serverURL` and
        // `authorizePath`: for an OIDC provider those come from discovery.
        let (server_url, authorize_path) = match &p.issuer {
            Some(issuer) => match crate::identity::oauth::client().endpoints(&p).await {
                Ok(e) => (issuer.clone(), e.authorize),
                Err(e) => {
                    tracing::info!(service = %p.name, error = %e, "discovery failed for settings.oauth");
                    (issuer.clone(), p.authorize_path.clone())
                }
            },
            None => (p.server_url.clone(), p.authorize_path.clone()),
        };
        services.push(json!({
            "_id": p.name,
            "service": p.name,
            "custom": true,
            "clientId": p.client_id,
            "serverURL": server_url,
            "tokenPath": p.token_path,
            "identityPath": p.identity_path,
            "authorizePath": authorize_path,
            "scope": p.scope,
            "loginStyle": p.login_style,
            "buttonLabelText": p.button_label_text,
            "buttonLabelColor": p.button_label_color,
            "buttonColor": p.button_color,
            "keyField": p.key_field,
            "usernameField": p.username_field,
            "emailField": p.email_field,
            "nameField": p.name_field,
            "avatarField": p.avatar_field,
            "rolesClaim": p.roles_claim,
            "groupsClaim": p.groups_claim,
            "mapChannels": p.map_channels,
            "mergeUsers": p.merge_users,
            "mergeRoles": p.merge_roles,
            "accessTokenParam": p.access_token_param,
            "showButton": p.show_button,
            "oidcIssuer": p.issuer,
        }));
    }
    // SAML, as Rocket.Chat lists it: `service: "saml"`, the provider in `clientConfig`.
    services.extend(crate::identity::saml::login_service(&state.chat));
    ok(json!({"services": services}))
}

/// `GET /api/v1/settings/:_id`: `{_id, value}` (`view-privileged-setting`).
pub async fn get(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let view = state.chat.get_setting(&session.user, &id).await?;
    ok(json!({"_id": view.def.id, "value": view.value}))
}

/// `POST /api/v1/settings/:_id` with `{value}`, or `{execute: true}` for an action
/// (`edit-privileged-setting`).
pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let change = if body.get("execute").and_then(Value::as_bool) == Some(true) {
        Change::Execute
    } else {
        match body.get("value") {
            Some(v) => Change::Value(v.clone()),
            None => return Err(ChatError::invalid("must have required property 'value'").into()),
        }
    };
    let client = ChangeClient {
        ip: Some(peer.ip().to_string()),
        useragent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let reported = state
        .chat
        .update_setting(&session.user, client, &id, change)
        .await?;
    match reported {
        Some(message) => ok(json!({ "message": message })),
        None => ok(json!({})),
    }
}

/// A change as Rocket.Chat's `IServerEvents['settings.changed']`.
fn server_event(change: &SettingChange) -> Value {
    let a = &change.actor;
    json!({
        "_id": change.id,
        "t": "settings.changed",
        "ts": wire::iso(change.ts.0),
        "ip": a.ip.clone().unwrap_or_default(),
        "actor": {
            "type": "user",
            "_id": a.id,
            "username": a.username,
            "ip": a.ip.clone().unwrap_or_default(),
            "useragent": a.useragent.clone().unwrap_or_default(),
        },
        "data": [
            {"key": "id", "value": change.setting_id},
            {"key": "previous", "value": change.previous},
            {"key": "current", "value": change.current},
        ],
    })
}

fn date(params: &Params, key: &str) -> Result<Option<crate::store::Ts>, ApiError> {
    params.date(key).map_err(|_| {
        ChatError::invalid(format!(
            "The \"{key}\" query parameter must be a valid date."
        ))
        .into()
    })
}

/// `GET /api/v1/audit.settings`: setting changes, newest first (`can-audit`);
/// filtered by `settingId`, `actor[_id]`, `start` and `end`, sorted by `{"ts": 1}`.
pub async fn audit(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let sort: Option<Value> = match params.get("sort") {
        Some(raw) => Some(
            serde_json::from_str(raw)
                .map_err(|_| ChatError::invalid(format!("Invalid sort parameter {raw:?}")))?,
        ),
        None => None,
    };
    let query = SettingChangeQuery {
        setting_id: params.get("settingId").map(str::to_string),
        actor_id: params
            .get("actor[_id]")
            .or_else(|| params.get("actor._id"))
            .map(str::to_string),
        since: date(&params, "start")?,
        until: date(&params, "end")?,
        oldest_first: sort
            .as_ref()
            .and_then(|s| s.get("ts"))
            .and_then(Value::as_i64)
            == Some(1),
    };
    let listing = state
        .chat
        .setting_changes(&session.user, &query, page)
        .await?;
    let events: Vec<Value> = listing.items.iter().map(server_event).collect();
    ok(json!({
        "events": events,
        "count": events.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}
