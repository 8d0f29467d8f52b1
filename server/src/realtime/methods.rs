//! DDP methods, Rocket.Chat's names and parameter shapes. Each one is a thin
//! translation onto the same `chat` service a REST endpoint calls, so validation,
//! authorization and (later) app hooks are identical whichever way a client comes.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::commands;
use super::fanout::message_json;
use super::protocol::{ejson_date, parse_date, DdpError};
use super::session::Ctx;
use crate::apps::AppsEngine;
use crate::chat::accounts::{LoginIdent, Password, Session};
use crate::chat::messages::NewMessage;
use crate::chat::rooms::RoomRef;
use crate::chat::Chat;
use crate::chat::{ids, ChatError};
use crate::store::{HistoryQuery, User};
use crate::wire::{self, DateStyle};

/// Method outcome: `Ok(None)` is Meteor's `undefined` (no `result` field).
pub type Outcome = Result<Option<Value>, DdpError>;

/// The most messages one `loadHistory` returns.
const MAX_HISTORY: u64 = 500;

/// Who calls a method, and over what: a realtime connection, or REST's
/// `method.call` / `method.callAnon` (Rocket.Chat's "REST for DDP calls"). Both run
/// the same method table below.
pub struct Caller<'a> {
    pub chat: &'a Arc<Chat>,
    pub apps: &'a Arc<AppsEngine>,
    pub ip: IpAddr,
    /// The connection as traces show it.
    conn: &'a super::trace::ConnTrace,
    link: Link<'a>,
}

enum Link<'a> {
    Socket(&'a Ctx),
    /// A REST request, with its session (`None`: `method.callAnon`).
    Rest(Option<&'a Session>),
}

impl<'a> Caller<'a> {
    pub fn socket(ctx: &'a Ctx) -> Caller<'a> {
        Caller {
            chat: &ctx.chat,
            apps: &ctx.apps,
            ip: ctx.peer.ip(),
            conn: &ctx.trace,
            link: Link::Socket(ctx),
        }
    }

    pub fn rest(
        chat: &'a Arc<Chat>,
        apps: &'a Arc<AppsEngine>,
        conn: &'a super::trace::ConnTrace,
        session: Option<&'a Session>,
    ) -> Caller<'a> {
        Caller {
            chat,
            apps,
            ip: conn.client_address,
            conn,
            link: Link::Rest(session),
        }
    }

    pub fn user(&self) -> Result<User, DdpError> {
        match &self.link {
            Link::Socket(ctx) => ctx.user(),
            Link::Rest(session) => session
                .map(|s| s.user.clone())
                .ok_or_else(DdpError::not_logged_in),
        }
    }

    /// The caller's login (user and token), for methods about its own sessions.
    pub fn session(&self) -> Result<Session, DdpError> {
        match &self.link {
            Link::Socket(ctx) => ctx
                .login()
                .map(|l| Session {
                    user: l.user,
                    token_hash: l.token_hash,
                })
                .ok_or_else(DdpError::not_logged_in),
            Link::Rest(session) => session.cloned().ok_or_else(DdpError::not_logged_in),
        }
    }

    /// Makes `user` the connection's user; a REST call has no connection to log in.
    async fn start_login(&self, user: User, token_hash: String) -> Result<(), DdpError> {
        match &self.link {
            Link::Socket(ctx) => ctx.start_login(user, token_hash).await,
            Link::Rest(_) => Ok(()),
        }
    }

    fn cookie(&self) -> Option<&crate::api::session_cookie::CookieCredentials> {
        match &self.link {
            Link::Socket(ctx) => ctx.cookie.as_ref(),
            Link::Rest(_) => None,
        }
    }

    /// The realtime connection the call came from; `None` over REST.
    pub fn connection(&self) -> Option<&'a Ctx> {
        match self.link {
            Link::Socket(ctx) => Some(ctx),
            Link::Rest(_) => None,
        }
    }

    /// The realtime session the call came from (its own events are not echoed).
    fn origin_session(&self) -> Option<String> {
        match &self.link {
            Link::Socket(ctx) => Some(ctx.conn.session.clone()),
            Link::Rest(_) => None,
        }
    }
}

/// Runs one method: the one dispatcher of realtime and REST method calls.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Outcome {
    super::trace::trace(
        ctx.chat,
        super::trace::Traced::Method,
        method,
        ctx.conn,
        || match &ctx.link {
            Link::Socket(socket) => socket.login().map(|l| l.user.id),
            Link::Rest(session) => session.map(|s| s.user.id.clone()),
        },
    );
    if let Some(outcome) = super::presence::call(ctx, method, params).await {
        return outcome;
    }
    if let Some(outcome) = super::mail_methods::call(ctx, method, params).await {
        return outcome;
    }
    if let Some(outcome) = super::user_methods::call(ctx, method, params).await {
        return outcome;
    }
    if let Some(outcome) = super::message_methods::call(ctx, method, params).await {
        return outcome;
    }
    if let Some(outcome) = super::room_methods::call(ctx, method, params).await {
        return outcome;
    }
    match method {
        "login" => login(ctx, params).await,
        "logout" => logout(ctx).await,
        "samlLogout" => {
            // Rocket.Chat's: the identity provider's logout address for the caller's
            // SAML session (the client goes there after logging out), or null.
            let user = ctx.user()?;
            let url = crate::identity::saml::logout_url(ctx.chat, str_arg(params, 0)?, &user)
                .await
                .map_err(ChatError::from)?;
            Ok(Some(url.map(Value::String).unwrap_or(Value::Null)))
        }
        "sendMessage" => send_message(ctx, params).await,
        "updateMessage" => update_message(ctx, params).await,
        "deleteMessage" => delete_message(ctx, params).await,
        "setReaction" => set_reaction(ctx, params).await,
        "joinRoom" => {
            let user = ctx.user()?;
            let code = arg(params, 1).as_str();
            ctx.chat
                .join_room_with_code(&user, str_arg(params, 0)?, code)
                .await?;
            Ok(Some(json!(true)))
        }
        "leaveRoom" => {
            let user = ctx.user()?;
            ctx.chat.leave_room(&user, str_arg(params, 0)?).await?;
            Ok(None)
        }
        "createDirectMessage" => create_direct(ctx, params).await,
        "createDiscussion" => create_discussion(ctx, params).await,
        // `[{key: value, …}]`: the caller's preferences, as `users.setPreferences`.
        "saveUserPreferences" => {
            let user = ctx.user()?;
            let changes = arg(params, 0)
                .as_object()
                .cloned()
                .ok_or_else(DdpError::match_failed)?;
            ctx.chat.set_preferences(&user, None, changes).await?;
            Ok(Some(json!(true)))
        }
        // `{rid, username}`, as Rocket.Chat's `muteUserInRoom`/`unmuteUserInRoom`.
        "muteUserInRoom" | "unmuteUserInRoom" => {
            let user = ctx.user()?;
            let data = arg(params, 0);
            let field = |k: &str| {
                data.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(DdpError::match_failed)
            };
            let mute = method == "muteUserInRoom";
            ctx.chat
                .set_muted(&user, &field("rid")?, &field("username")?, mute)
                .await?;
            Ok(Some(json!(true)))
        }
        "getUserRoles" => {
            ctx.user()?;
            let users = ctx.chat.users_in_public_roles().await?;
            let users: Vec<Value> = users
                .iter()
                .map(|u| json!({"_id": u.id, "username": u.username, "roles": u.roles}))
                .collect();
            Ok(Some(Value::Array(users)))
        }
        "rooms/get" => rooms_get(ctx, params).await,
        "subscriptions/get" => subscriptions_get(ctx, params).await,
        "loadHistory" => load_history(ctx, params).await,
        "stream-notify-room" => notify_room(ctx, params).await,
        "slashCommand" => commands::slash_command(ctx, params).await,
        "getSlashCommandPreviews" => commands::get_previews(ctx, params).await,
        "executeSlashCommandPreview" => commands::execute_preview(ctx, params).await,
        // No enterprise modules (the apps read this to show licensed features).
        "license:getModules" => Ok(Some(json!([]))),
        _ => Err(DdpError::new(404, format!("Method '{method}' not found"))),
    }
}

// ------------------------------------------------------------------ parameters

pub(super) fn arg(params: &[Value], i: usize) -> &Value {
    params.get(i).unwrap_or(&Value::Null)
}

pub(super) fn str_arg(params: &[Value], i: usize) -> Result<&str, DdpError> {
    arg(params, i).as_str().ok_or_else(DdpError::match_failed)
}

fn obj_arg(params: &[Value], i: usize) -> Result<&Map<String, Value>, DdpError> {
    arg(params, i)
        .as_object()
        .ok_or_else(DdpError::match_failed)
}

/// An optional string field: absent or `null` is `None`, another type is refused.
pub(super) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, DdpError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DdpError::match_failed()),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, DdpError> {
    opt_str(obj, key)?.ok_or_else(DdpError::match_failed)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// A room lookup that failed because the room is not there (or not readable).
pub(super) fn is_room_not_found(e: &ChatError) -> bool {
    matches!(
        e,
        ChatError::Refused {
            error_type: "error-room-not-found",
            ..
        }
    )
}

// ------------------------------------------------------------------ accounts

fn password_of(value: &Value) -> Result<Password, DdpError> {
    match value {
        Value::String(p) => Ok(Password::Plain(p.clone())),
        Value::Object(o) => {
            let digest = o
                .get("digest")
                .and_then(Value::as_str)
                .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(DdpError::match_failed)?;
            match o.get("algorithm").and_then(Value::as_str) {
                Some("sha-256") => Ok(Password::Sha256Hex(digest.to_string())),
                _ => Err(DdpError::match_failed()),
            }
        }
        _ => Err(DdpError::match_failed()),
    }
}

/// The account a login names. An id is resolved by the login itself, behind the
/// rate limiter, like a name.
fn ident_of(value: &Value) -> Result<LoginIdent, DdpError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(LoginIdent::from_user_field(s)),
        Value::Object(o) => {
            if let Some(u) = non_empty(opt_str(o, "username")?) {
                Ok(LoginIdent::Username(u))
            } else if let Some(e) = non_empty(opt_str(o, "email")?) {
                Ok(LoginIdent::Email(e))
            } else if let Some(id) = non_empty(opt_str(o, "id")?) {
                Ok(LoginIdent::Id(id))
            } else {
                Err(DdpError::match_failed())
            }
        }
        _ => Err(DdpError::match_failed()),
    }
}

/// Rocket.Chat's one answer to a failed password login, whether the account does
/// not exist or the password is wrong (`loginErrorMessageOverride`).
fn login_refused() -> DdpError {
    DdpError::new(401, "Incorrect login or password")
}

fn login_error(e: ChatError) -> DdpError {
    match e {
        ChatError::Unauthorized(_) => login_refused(),
        other => other.into(),
    }
}

/// `login` with `{resume}`, or `{user, password}` where the password is Meteor's
/// `{digest, algorithm: "sha-256"}` or a plain string.
async fn login(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let options = obj_arg(params, 0)?;
    if options.get("cookie") == Some(&Value::Bool(true)) {
        return login_with_cookie(ctx).await;
    }
    let (outcome, kind) = if let Some(resume) = options.get("resume") {
        let token = resume.as_str().ok_or_else(DdpError::match_failed)?;
        let outcome = ctx
            .chat
            .login_with_token(token)
            .await
            .map_err(|e| match e {
                ChatError::Unauthorized(_) => DdpError::new(
                    403,
                    "You've been logged out by the server. Please log in again.",
                ),
                other => other.into(),
            })?;
        (outcome, "resume")
    } else if options.get("ldap") == Some(&Value::Bool(true))
        && options
            .get("ldapOptions")
            .is_some_and(|o| !o.is_null() && *o != Value::Bool(false))
    {
        // Rocket.Chat's `Meteor.loginWithLDAP`: {ldap, username, ldapPass, ldapOptions};
        // without `ldapOptions` its LDAP handler declines the request, as here.
        let username = req_str(options, "username")?;
        let password = req_str(options, "ldapPass")?;
        let ldap = ctx
            .connection()
            .and_then(|c| c.hub.ldap().cloned())
            .ok_or_else(|| DdpError::new(400, "Unrecognized options for login request"))?;
        let outcome = ldap
            .login(username, password, Some(ctx.ip))
            .await
            .map_err(login_error)?;
        (outcome, "ldap")
    } else if options.get("saml") == Some(&Value::Bool(true)) {
        // Rocket.Chat's SAML login handler: {saml: true, credentialToken}.
        let token = options
            .get("credentialToken")
            .and_then(Value::as_str)
            .ok_or_else(DdpError::match_failed)?;
        let outcome = crate::identity::saml::login_with_credential(ctx.chat, token)
            .await
            .map_err(login_error)?;
        (outcome, "saml")
    } else if let Some(oauth) = options.get("oauth") {
        // Meteor's OAuth credential: `{oauth: {credentialToken, credentialSecret}}`.
        let s = |k: &str| {
            oauth
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(DdpError::match_failed)
        };
        let outcome = crate::identity::oauth::mobile::login_with_credential(
            ctx.chat,
            s("credentialToken")?,
            s("credentialSecret")?,
        )
        .await?;
        (outcome, "oauth")
    } else if let Some(service) = options.get("serviceName") {
        // Rocket.Chat's mobile OAuth login: `{serviceName, accessToken, expiresIn}`.
        let service = service.as_str().ok_or_else(DdpError::match_failed)?;
        let token = options
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(DdpError::match_failed)?;
        let outcome =
            crate::identity::oauth::signin::login_with_access_token(ctx.chat, service, token)
                .await?;
        (outcome, "oauth")
    } else if let (Some(user), Some(password)) = (options.get("user"), options.get("password")) {
        let password = password_of(password)?;
        let ident = ident_of(user)?;
        // With LDAP on, the normal form signs directory users in through it.
        let ldap = ctx.connection().and_then(|c| c.hub.ldap().cloned());
        let form = match (&ldap, &ident, &password) {
            (Some(ldap), LoginIdent::Username(name), Password::Plain(plain)) => {
                ldap.login_form(name, plain, Some(ctx.ip)).await
            }
            _ => None,
        };
        let outcome = match form {
            Some(result) => result,
            None => {
                ctx.chat
                    .login_with_password(&ident, &password, Some(ctx.ip))
                    .await
            }
        }
        .map_err(login_error)?;
        (outcome, "password")
    } else {
        return Err(DdpError::new(400, "Unrecognized options for login request"));
    };
    ctx.start_login(outcome.user.clone(), ids::hash_token(&outcome.token))
        .await?;
    Ok(Some(json!({
        "id": outcome.user.id,
        "token": outcome.token,
        "tokenExpires": ejson_date(outcome.expires),
        "type": kind,
    })))
}

/// `login {"cookie": true}`: the web client's login, with the HttpOnly session
/// cookie its websocket upgrade carried. The answer holds no token, so no script
/// ever sees one.
async fn login_with_cookie(ctx: &Caller<'_>) -> Outcome {
    let logged_out = || {
        DdpError::new(
            403,
            "You've been logged out by the server. Please log in again.",
        )
    };
    let creds = ctx.cookie().ok_or_else(logged_out)?;
    let session = ctx
        .chat
        .session_for_token(&creds.token, Some(&creds.user_id))
        .await
        .map_err(|e| match e {
            ChatError::Unauthorized(_) => logged_out(),
            other => other.into(),
        })?;
    ctx.start_login(session.user.clone(), session.token_hash)
        .await?;
    Ok(Some(json!({"id": session.user.id, "type": "cookie"})))
}

/// Revokes the session's token and ends its subscriptions. Logging out when not
/// logged in is not an error (Meteor).
async fn logout(ctx: &Caller<'_>) -> Outcome {
    match &ctx.link {
        Link::Socket(socket) => {
            if let Some(login) = socket.login() {
                let session = Session {
                    user: login.user,
                    token_hash: login.token_hash,
                };
                ctx.chat.logout(&session).await?;
                socket
                    .hub
                    .with_registry(|r| r.logout(socket.conn.id, "Logged out"));
            }
        }
        Link::Rest(Some(session)) => ctx.chat.logout(session).await?,
        Link::Rest(None) => {}
    }
    Ok(None)
}

// ------------------------------------------------------------------ messages

async fn send_message(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let m = obj_arg(params, 0)?;
    let attachments = match m.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(DdpError::match_failed()),
    };
    let new = NewMessage {
        id: non_empty(opt_str(m, "_id")?),
        rid: req_str(m, "rid")?.to_string(),
        msg: opt_str(m, "msg")?.unwrap_or_default().to_string(),
        tmid: non_empty(opt_str(m, "tmid")?),
        alias: non_empty(opt_str(m, "alias")?),
        emoji: non_empty(opt_str(m, "emoji")?),
        avatar: non_empty(opt_str(m, "avatar")?),
        attachments,
        custom_fields: m.get("customFields").filter(|v| !v.is_null()).cloned(),
        preview_urls: match params.get(1) {
            None | Some(Value::Null) => None,
            Some(Value::Array(urls)) => Some(
                urls.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(DdpError::match_failed)?,
            ),
            Some(_) => return Err(DdpError::match_failed()),
        },
        ..Default::default()
    };
    // Rocket.Chat 7: `sendMessage(message, previewUrls, filesToConfirm)` posts
    // the uploads (made with `rooms.media`) with the text, in one message.
    let files_to_confirm: Vec<String> = match params.get(2) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(DdpError::match_failed)?,
        Some(_) => return Err(DdpError::match_failed()),
    };
    let (room, message) = if files_to_confirm.is_empty() {
        ctx.chat.send_message(&user, new).await?
    } else {
        let confirm = crate::chat::files::Confirm {
            msg: new.msg,
            tmid: new.tmid,
            ..Default::default()
        };
        ctx.chat
            .confirm_uploads(&user, &new.rid, &files_to_confirm, confirm, new.id)
            .await?
    };
    if let Err(e) = ctx
        .chat
        .warn_mentions_outside_room(&user, &room, &message)
        .await
    {
        tracing::warn!(user_id = %user.id, room_id = %room.id, error = %e, "could not warn about mentions outside the room");
    }
    Ok(Some(message_json(&message)))
}

async fn update_message(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let m = obj_arg(params, 0)?;
    let mid = req_str(m, "_id")?;
    let text = req_str(m, "msg")?;
    let rid = match opt_str(m, "rid")? {
        Some(rid) => rid.to_string(),
        None => ctx.chat.get_message(&user, mid).await?.1.rid,
    };
    ctx.chat.update_message(&user, &rid, mid, text).await?;
    Ok(None)
}

async fn delete_message(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let mid = req_str(obj_arg(params, 0)?, "_id")?;
    let (room, _) = ctx.chat.get_message(&user, mid).await?;
    ctx.chat.delete_message(&user, &room.id, mid).await?;
    Ok(None)
}

/// `[emoji, messageId, shouldReact?]`; without `shouldReact` it toggles.
async fn set_reaction(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let emoji = str_arg(params, 0)?;
    let mid = str_arg(params, 1)?;
    let should_react = match arg(params, 2) {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        _ => return Err(DdpError::match_failed()),
    };
    ctx.chat.react(&user, mid, emoji, should_react).await?;
    Ok(None)
}

/// `[rid, latest|null, count, lastSeen|null, showThreadMessages?]` → newest first,
/// with `unreadNotLoaded`/`firstUnread` when unread messages lie beyond the page.
async fn load_history(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = str_arg(params, 0)?;
    let latest = parse_date(arg(params, 1))?;
    let count = match arg(params, 2) {
        Value::Null => 20,
        Value::Number(n) => n.as_u64().ok_or_else(DdpError::match_failed)?,
        _ => return Err(DdpError::match_failed()),
    }
    .clamp(1, MAX_HISTORY);
    let last_seen = parse_date(arg(params, 3))?;
    let show_threads = match arg(params, 4) {
        Value::Null => true,
        Value::Bool(b) => *b,
        _ => return Err(DdpError::match_failed()),
    };
    let mut query = HistoryQuery {
        latest,
        oldest: None,
        inclusive: false,
        offset: 0,
        count,
        exclude_thread_replies: !show_threads,
    };
    let (_, page) = ctx.chat.history(&user, RoomRef::Id(rid), &query).await?;
    let messages: Vec<Value> = page.items.iter().map(message_json).collect();
    let mut result = json!({ "messages": messages });
    if let (Some(seen), Some(oldest)) = (last_seen, page.items.last()) {
        if oldest.ts > seen {
            query.latest = Some(oldest.ts);
            query.oldest = Some(seen);
            query.count = 1;
            // Counting (and skipping to the oldest of) the unread messages beyond the
            // page costs work proportional to their number, as in Rocket.Chat; asked
            // only when the client sends `lastSeen`.
            let unread = ctx
                .chat
                .count_history(&user, RoomRef::Id(rid), &query)
                .await?;
            result["unreadNotLoaded"] = json!(unread);
            if unread > 0 {
                query.offset = unread - 1;
                let (_, first) = ctx.chat.history(&user, RoomRef::Id(rid), &query).await?;
                if let Some(m) = first.items.first() {
                    result["firstUnread"] = message_json(m);
                }
            }
        }
    }
    Ok(Some(result))
}

// ------------------------------------------------------------------ rooms

async fn create_direct(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let usernames = params
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
        .filter(|names| !names.is_empty())
        .ok_or_else(DdpError::match_failed)?;
    let room = ctx.chat.create_direct(&user, &usernames).await?;
    Ok(Some(json!({
        "t": "d",
        "rid": room.id,
        "_id": room.id,
        "usernames": room.usernames,
    })))
}

/// `{prid, pmid, t_name, reply, users, encrypted}`, as Rocket.Chat's
/// `createDiscussion`: the parent may be left out when `pmid` names it.
async fn create_discussion(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let data = obj_arg(params, 0)?;
    let users = match data.get("users") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(users)) => users
            .iter()
            .map(|u| u.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(DdpError::match_failed)?,
        Some(_) => return Err(DdpError::match_failed()),
    };
    let encrypted = match data.get("encrypted") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(DdpError::match_failed()),
    };
    let new = crate::chat::discussions::NewDiscussion {
        prid: non_empty(opt_str(data, "prid")?),
        pmid: non_empty(opt_str(data, "pmid")?),
        t_name: opt_str(data, "t_name")?.unwrap_or_default().to_string(),
        reply: non_empty(opt_str(data, "reply")?),
        users,
        topic: None,
        encrypted,
    };
    let room = ctx.chat.create_discussion(&user, new).await?;
    let mut value = wire::room(&room, DateStyle::Ejson);
    if let Value::Object(map) = &mut value {
        map.insert("rid".into(), Value::String(room.id.clone()));
    }
    Ok(Some(value))
}

/// The id of a readable room named by id or name; `null` when there is none.
/// `[]` → the user's rooms; `[date]` → `{update, remove}` since then.
async fn rooms_get(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let since = parse_date(arg(params, 0))?;
    let (rooms, removed) = ctx.chat.rooms_since(&user, since).await?;
    let update: Vec<Value> = rooms
        .iter()
        .map(|r| wire::room(r, DateStyle::Ejson))
        .collect();
    if since.is_none() {
        return Ok(Some(Value::Array(update)));
    }
    let remove: Vec<Value> = removed
        .iter()
        .map(|r| json!({"_id": r.id, "_deletedAt": ejson_date(r.deleted_at)}))
        .collect();
    Ok(Some(json!({"update": update, "remove": remove})))
}

async fn subscriptions_get(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let since = parse_date(arg(params, 0))?;
    let (subs, removed) = ctx.chat.subscriptions_since(&user, since).await?;
    let update: Vec<Value> = subs
        .iter()
        .map(|s| wire::render(s, DateStyle::Ejson))
        .collect();
    if since.is_none() {
        return Ok(Some(Value::Array(update)));
    }
    let remove: Vec<Value> = removed
        .iter()
        .map(|s| wire::render(s, DateStyle::Ejson))
        .collect();
    Ok(Some(json!({"update": update, "remove": remove})))
}

/// Publishing on a room stream: typing, as `["<rid>/user-activity", username,
/// activities, extras]` or the legacy `["<rid>/typing", username, bool]`. Refusals
/// are reported (Rocket.Chat drops them silently), so a client learns why.
async fn notify_room(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let event = str_arg(params, 0)?;
    let Some((rid, name)) = event.split_once('/') else {
        return Err(DdpError::not_allowed(format!(
            "Publishing {event:?} is not allowed"
        )));
    };
    let username = str_arg(params, 1)?;
    let (activities, extras) = match name {
        "user-activity" => {
            let activities = match arg(params, 2) {
                Value::Null => Vec::new(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(DdpError::match_failed)?,
                _ => return Err(DdpError::match_failed()),
            };
            (activities, arg(params, 3).clone())
        }
        "typing" => match arg(params, 2) {
            Value::Bool(true) => (vec!["user-typing".to_string()], Value::Null),
            Value::Bool(false) => (Vec::new(), Value::Null),
            _ => return Err(DdpError::match_failed()),
        },
        _ => {
            return Err(DdpError::not_allowed(format!(
                "Publishing {event:?} is not allowed"
            )))
        }
    };
    if username != user.username {
        return Err(DdpError::not_allowed(
            "You can only publish your own activity",
        ));
    }
    ctx.chat
        .notify_activity(&user, rid, activities, extras, ctx.origin_session())
        .await?;
    Ok(None)
}
