//! `directory`, `spotlight`, `shield.svg`, `users.getAvatar`, `pw.getPolicyReset`:
//! searches and the small public endpoints of Rocket.Chat's `misc.ts`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, MaybeAuth, Params};
use super::super::AppState;
use super::ok;
use crate::chat::directory::{DirectoryKind, DirectoryPage};
use crate::chat::ChatError;
use crate::store::presence::StatusQuery;
use crate::store::{Direction, Page, Sort, SortKey, User};
use crate::wire::{self, DateStyle};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/directory", get(directory))
        .route("/spotlight", get(spotlight))
        .route("/shield.svg", get(shield))
        .route("/users.getAvatar", get(get_avatar))
        .route("/users.getAvatarSuggestion", get(avatar_suggestion))
        .route("/pw.getPolicyReset", get(policy_reset))
}

/// A directory row for a user: Rocket.Chat's `browseChannels` projection.
fn directory_user(user: &User, show_emails: bool) -> Value {
    let mut v = json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "createdAt": wire::iso(user.created_at.0),
    });
    if let Some(nickname) = &user.nickname {
        v["nickname"] = json!(nickname);
    }
    if let Some(bio) = &user.bio {
        v["bio"] = json!(bio);
    }
    if let Some(etag) = &user.avatar_etag {
        v["avatarETag"] = json!(etag);
    }
    if show_emails {
        v["emails"] = json!(user
            .emails
            .iter()
            .map(|e| json!({"address": e.address, "verified": e.verified}))
            .collect::<Vec<_>>());
    }
    v
}

async fn directory(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let query: Value = match params.get("query") {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|_| ChatError::invalid(format!("Invalid query parameter {raw:?}")))?,
        None => json!({}),
    };
    if let Some(raw) = params.get("sort") {
        let sort: serde_json::Map<String, Value> = serde_json::from_str(raw)
            .map_err(|_| ChatError::invalid(format!("Invalid sort parameter {raw:?}")))?;
        if sort.len() > 1 {
            return Err(
                ChatError::invalid("This method support only one \"sort\" parameter").into(),
            );
        }
    }
    let sort = params.sort(Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    })?;
    let text = query
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = query
        .get("type")
        .and_then(Value::as_str)
        .and_then(DirectoryKind::parse)
        .ok_or_else(|| ChatError::invalid("Please verify the parameters"))?;
    let (rows, total): (Vec<Value>, u64) = match state
        .chat
        .directory(&session.user, kind, text, sort, page)
        .await?
    {
        DirectoryPage::Users {
            listing,
            show_emails,
        } => (
            listing
                .items
                .iter()
                .map(|u| directory_user(u, show_emails))
                .collect(),
            listing.total,
        ),
        DirectoryPage::Teams(listing) => (
            listing
                .items
                .iter()
                .map(|(r, rooms)| {
                    let mut row = wire::room(r, DateStyle::Iso);
                    row["roomsCount"] = json!(rooms);
                    row
                })
                .collect(),
            listing.total,
        ),
        DirectoryPage::Rooms(listing) => (
            listing
                .items
                .iter()
                .map(|r| wire::room(r, DateStyle::Iso))
                .collect(),
            listing.total,
        ),
    };
    page_of(rows, page, total)
}

fn page_of(rows: Vec<Value>, page: Page, total: u64) -> ApiResult {
    ok(json!({
        "count": rows.len(),
        "result": rows,
        "offset": page.offset,
        "total": total,
    }))
}

async fn spotlight(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(text) = params.get("query") else {
        return Err(ChatError::invalid("must have required property 'query'").into());
    };
    let (users, rooms) = state.chat.spotlight(&session.user, text).await?;
    let users: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = json!({
                "_id": u.id,
                "username": u.username,
                "name": u.name,
                "status": u.status.as_deref().unwrap_or("offline"),
            });
            if let Some(etag) = &u.avatar_etag {
                v["avatarETag"] = json!(etag);
            }
            if let Some(nickname) = &u.nickname {
                v["nickname"] = json!(nickname);
            }
            v
        })
        .collect();
    let rooms: Vec<Value> = rooms
        .iter()
        .map(|r| wire::room(r, DateStyle::Iso))
        .collect();
    ok(json!({ "users": users, "rooms": rooms }))
}

/// Escapes text for SVG.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `shield.svg`: an embeddable badge (Rocket.Chat's layout): how many people are
/// online, a channel, or a user's status.
async fn shield(
    State(state): State<AppState>,
    MaybeAuth(session): MaybeAuth,
    params: Params,
) -> ApiResult {
    let settings = state.chat.settings();
    if !settings.bool("API_Enable_Shields") {
        return Err(
            ChatError::refused("error-endpoint-disabled", "This endpoint is disabled").into(),
        );
    }
    let kind = params.get("type").unwrap_or_default();
    let types = settings.string("API_Shield_Types");
    if !kind.is_empty()
        && types.trim() != "*"
        && !types.split(',').map(str::trim).any(|t| t == kind)
    {
        return Err(
            ChatError::refused("error-shield-disabled", "This shield type is disabled").into(),
        );
    }
    let hide_icon = params.get("icon") == Some("false");
    let name = params.get("name").unwrap_or_default().to_string();
    if hide_icon && name.trim().is_empty() {
        return Err(ChatError::invalid("Name cannot be empty when icon is hidden").into());
    }
    let mut color = "#4c1";
    let text = match kind {
        "online" => {
            let query = StatusQuery {
                statuses: vec!["online".into(), "away".into(), "busy".into()],
                ..Default::default()
            };
            let online = state
                .chat
                .users_by_status(&query, Page::new(0, 1))
                .await?
                .total;
            format!("{online} Online")
        }
        "channel" => match params.get("channel").filter(|c| !c.is_empty()) {
            Some(channel) => format!("#{channel}"),
            None => {
                return Err(
                    ChatError::invalid("Shield channel is required for type \"channel\"").into(),
                )
            }
        },
        "user" => {
            if settings.bool("API_Shield_user_require_auth") && session.is_none() {
                return Err(ChatError::invalid("You must be logged in to do this.").into());
            }
            let user = state
                .chat
                .find_user(params.get("userId"), params.get("username"))
                .await?;
            color = match user.status.as_deref() {
                Some("online") => "#1fb31f",
                Some("away") => "#dc9b01",
                Some("busy") => "#bc2031",
                _ => "#a5a1a1",
            };
            if !user.name.is_empty() && settings.bool("UI_Use_Real_Name") {
                user.name.clone()
            } else {
                format!("@{}", user.username)
            }
        }
        _ => "JOIN CHAT".to_string(),
    };
    let icon_size = if hide_icon { 7 } else { 24 };
    let left = if name.is_empty() {
        icon_size
    } else {
        name.chars().count() * 6 + 7 + icon_size
    };
    let right = text.chars().count() * 6 + 20;
    let width = left + right;
    let (name, text) = (xml_escape(&name), xml_escape(&text));
    let site = settings.string("Site_Url");
    let icon = if hide_icon {
        String::new()
    } else {
        format!(
            r#"<image x="5" y="3" width="14" height="14" xlink:href="{}/favicon.ico"/>"#,
            xml_escape(site.trim_end_matches('/'))
        )
    };
    let name_text = if name.is_empty() {
        String::new()
    } else {
        format!(
            r##"<text x="{icon_size}" y="15" fill="#010101" fill-opacity=".3">{name}</text><text x="{icon_size}" y="14">{name}</text>"##
        )
    };
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" height="20"><linearGradient id="b" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><mask id="a"><rect width="{width}" height="20" rx="3" fill="#fff"/></mask><g mask="url(#a)"><path fill="#555" d="M0 0h{left}v20H0z"/><path fill="{color}" d="M{left} 0h{right}v20H{left}z"/><path fill="url(#b)" d="M0 0h{width}v20H0z"/></g>{icon}<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">{name_text}<text x="{tx}" y="15" fill="#010101" fill-opacity=".3">{text}</text><text x="{tx}" y="14">{text}</text></g></svg>"##,
        tx = left + 7
    );
    Ok(([(header::CONTENT_TYPE, "image/svg+xml;charset=utf-8")], svg).into_response())
}

/// `users.getAvatar`: a redirect to the user's avatar.
async fn get_avatar(State(state): State<AppState>, params: Params) -> ApiResult {
    let user = state
        .chat
        .find_user(params.get("userId"), params.get("username"))
        .await?;
    let site = state.chat.settings().string("Site_Url");
    let url = format!("{}/avatar/{}", site.trim_end_matches('/'), user.username);
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, url.clone())],
        url,
    )
        .into_response())
}

/// `users.getAvatarSuggestion`: Rocket.Chat suggests pictures from the user's
/// Gravatar and OAuth profiles; Palaver fetches no outside pictures, so there are
/// none to suggest.
async fn avatar_suggestion(Auth(_session): Auth) -> ApiResult {
    ok(json!({ "suggestions": {} }))
}

/// `pw.getPolicyReset`: the password policy, for the holder of a reset link.
async fn policy_reset(State(state): State<AppState>, params: Params) -> ApiResult {
    let Some(token) = params.get("token") else {
        return Err(ChatError::invalid("must have required property 'token'").into());
    };
    if !state.chat.reset_token_is_valid(token).await? {
        return Err(ChatError::unauthorized_bare().into());
    }
    ok(state.chat.password_policy().describe())
}
