//! OAuth 2.0 for each user: the authorization code flow with a single-use `state`
//! bound to the user who asked, token storage per user, refresh and revocation.
//!
//! Tokens are only ever stored under the id of the user who ran `/gcal login`: the
//! callback is public (the browser lands there without a Palaver session), so the
//! user comes from the `state` the app issued to them, never from the request.

use palaver_apps_sdk::http::{encode_urlencoded, Request};
use palaver_apps_sdk::{environment, info, persistence, warn, EndpointRequest, EndpointResponse};
use palaver_apps_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::GcalError;
use crate::google::{ApiError, Calendar};
use crate::notify;
use crate::page;
use crate::when::now;

/// Read and write events on the user's calendars: all the app does.
pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// The public endpoint Google sends the browser back to.
pub const CALLBACK_PATH: &str = "oauth-callback";

const STATE_PREFIX: &str = "oauth-state/";
const TOKENS_PREFIX: &str = "tokens/";
/// Refresh this long before Google's expiry, so a token does not expire in flight.
const EXPIRY_MARGIN_MS: i64 = 60_000;
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

/// A login in progress: who asked, where, and until when the link works.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user_id: String,
    pub room_id: String,
    pub expires_at_ms: i64,
}

/// One user's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub expires_at_ms: i64,
    #[serde(default)]
    pub scope: String,
}

fn now_ms() -> i64 {
    now().timestamp_millis()
}

fn tokens_key(user_id: &str) -> String {
    format!("{TOKENS_PREFIX}{user_id}")
}

/// The ids of the users who connected their calendar (at most `limit`).
pub fn connected_users(limit: u32) -> Result<Vec<String>> {
    Ok(persistence::list(TOKENS_PREFIX, limit)?
        .into_iter()
        .filter_map(|k| k.strip_prefix(TOKENS_PREFIX).map(str::to_string))
        .collect())
}

/// The user's tokens, if they are connected.
pub fn load(user_id: &str) -> Result<Option<Tokens>> {
    persistence::get_json(&tokens_key(user_id))
}

fn save(user_id: &str, tokens: &Tokens) -> Result<()> {
    persistence::set_json(&tokens_key(user_id), tokens)
}

fn forget(user_id: &str) -> Result<bool> {
    persistence::delete(&tokens_key(user_id))
}

/// A fresh `state`: 256 random bits, hex.
fn new_state() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn valid_state(state: &str) -> bool {
    state.len() == 64 && state.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where Google sends the browser back: this app's public callback endpoint.
pub fn redirect_uri() -> String {
    environment::public_endpoint_url(CALLBACK_PATH)
}

/// The consent page's URL for `state`.
pub fn authorize_url(cfg: &Config, state: &str, redirect_uri: &str) -> String {
    let query = encode_urlencoded(&[
        ("client_id", cfg.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", SCOPE),
        // A refresh token, so reminders work while the user is away.
        ("access_type", "offline"),
        // Google only returns a refresh token on consent; ask for it every login.
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
        ("state", state),
    ]);
    let separator = if cfg.authorize_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{separator}{query}", cfg.authorize_url)
}

/// Starts a login for `user_id` (who ran the command in `room_id`): stores a new
/// `state` and returns the URL to open.
pub fn begin(cfg: &Config, user_id: &str, room_id: &str) -> Result<String> {
    let state = new_state()?;
    let pending = PendingLogin {
        user_id: user_id.to_string(),
        room_id: room_id.to_string(),
        expires_at_ms: now_ms() + cfg.login_ttl_seconds * 1000,
    };
    persistence::set_json(&format!("{STATE_PREFIX}{state}"), &pending)?;
    Ok(authorize_url(cfg, &state, &redirect_uri()))
}

/// What became of a `state` presented to the callback.
enum StateCheck {
    Valid(PendingLogin),
    /// Never issued, or already used.
    Unknown,
    Expired,
}

/// Takes the `state` out of storage: the delete decides, so of two requests with the
/// same `state` only one gets it.
fn consume_state(state: &str) -> Result<StateCheck> {
    let key = format!("{STATE_PREFIX}{state}");
    let Some(pending) = persistence::get_json::<PendingLogin>(&key)? else {
        return Ok(StateCheck::Unknown);
    };
    if !persistence::delete(&key)? {
        return Ok(StateCheck::Unknown);
    }
    if pending.expires_at_ms <= now_ms() {
        return Ok(StateCheck::Expired);
    }
    Ok(StateCheck::Valid(pending))
}

/// Deletes login states that expired unused (at most `limit` looked at).
pub fn prune_states(limit: u32) -> Result<usize> {
    let now = now_ms();
    let mut removed = 0;
    for key in persistence::list(STATE_PREFIX, limit)? {
        let stale = match persistence::get_json::<PendingLogin>(&key) {
            Ok(Some(p)) => p.expires_at_ms <= now,
            Ok(None) => false,
            Err(Error::Invalid(_)) => true,
            Err(e) => return Err(e),
        };
        if stale && persistence::delete(&key)? {
            removed += 1;
        }
    }
    Ok(removed)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// Google's OAuth error body: `{"error": "invalid_grant", "error_description": …}`.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

enum TokenError {
    /// Google answered with an OAuth error.
    Refused { error: String, description: String },
    /// No usable answer.
    Failed(String),
}

impl TokenError {
    fn describe(&self) -> String {
        match self {
            TokenError::Refused { error, description } if description.is_empty() => error.clone(),
            TokenError::Refused { error, description } => format!("{error}: {description}"),
            TokenError::Failed(why) => why.clone(),
        }
    }
}

fn token_request(
    cfg: &Config,
    form: &[(&str, &str)],
) -> std::result::Result<TokenResponse, TokenError> {
    let response = Request::post(&cfg.token_url)
        .form(form)
        .header("accept", "application/json")
        .timeout(TIMEOUT)
        .send()
        .map_err(|e| TokenError::Failed(e.to_string()))?;
    if response.is_success() {
        return response
            .json::<TokenResponse>()
            .map_err(|e| TokenError::Failed(format!("unreadable token response: {e}")));
    }
    match response.json::<OAuthError>() {
        Ok(e) => Err(TokenError::Refused {
            error: e.error,
            description: e.error_description.unwrap_or_default(),
        }),
        Err(_) => Err(TokenError::Failed(format!(
            "the token endpoint answered HTTP {}",
            response.status
        ))),
    }
}

fn expires_at(expires_in: Option<i64>) -> i64 {
    // Google's access tokens last an hour; assume that when it does not say.
    now_ms() + expires_in.unwrap_or(3600).clamp(0, 86_400) * 1000
}

/// A valid access token for the user, refreshed when it has expired.
pub fn access_token(cfg: &Config, user_id: &str) -> std::result::Result<String, GcalError> {
    let tokens = load(user_id)?.ok_or(GcalError::NotConnected)?;
    if tokens.expires_at_ms > now_ms() + EXPIRY_MARGIN_MS {
        return Ok(tokens.access_token);
    }
    refresh(cfg, user_id, tokens)
}

/// Gets a new access token with the refresh token. When Google refuses the grant
/// (`invalid_grant`: revoked, expired, password changed) the tokens are deleted and
/// the user must log in again.
pub fn refresh(
    cfg: &Config,
    user_id: &str,
    tokens: Tokens,
) -> std::result::Result<String, GcalError> {
    let Some(refresh_token) = tokens.refresh_token.clone() else {
        forget(user_id)?;
        return Err(GcalError::Reconnect(
            "Your Google access expired and Google gave no refresh token.".into(),
        ));
    };
    let form = [
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.as_str()),
        ("refresh_token", refresh_token.as_str()),
        ("grant_type", "refresh_token"),
    ];
    match token_request(cfg, &form) {
        Ok(fresh) => {
            let renewed = Tokens {
                access_token: fresh.access_token,
                refresh_token: fresh.refresh_token.or(Some(refresh_token)),
                expires_at_ms: expires_at(fresh.expires_in),
                scope: fresh.scope.unwrap_or(tokens.scope),
            };
            save(user_id, &renewed)?;
            info!("refreshed the Google access token of user {user_id}");
            Ok(renewed.access_token)
        }
        Err(TokenError::Refused { error, .. }) if error == "invalid_grant" => {
            forget(user_id)?;
            info!("Google refused the grant of user {user_id}; their tokens were deleted");
            Err(GcalError::Reconnect(
                "Google no longer accepts this app's access to your calendar (it was revoked or has expired).".into(),
            ))
        }
        Err(e) => {
            warn!(
                "refreshing the Google token of user {user_id} failed: {}",
                e.describe()
            );
            Err(GcalError::Google(format!(
                "Google refused to renew the access ({})",
                e.describe()
            )))
        }
    }
}

/// Runs `call` against the user's calendar; when Google says the access token is no
/// longer valid, refreshes it once and tries again.
pub fn with_calendar<T>(
    cfg: &Config,
    user_id: &str,
    call: impl Fn(&Calendar) -> std::result::Result<T, ApiError>,
) -> std::result::Result<T, GcalError> {
    let token = access_token(cfg, user_id)?;
    match call(&Calendar::new(&cfg.api_base, &token)) {
        Err(ApiError::Unauthorized(_)) => {
            let tokens = load(user_id)?.ok_or(GcalError::NotConnected)?;
            let token = refresh(cfg, user_id, tokens)?;
            Ok(call(&Calendar::new(&cfg.api_base, &token))?)
        }
        other => Ok(other?),
    }
}

/// What `/gcal logout` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Logout {
    NotConnected,
    Revoked,
    /// Google no longer knew the token: it was revoked already.
    AlreadyRevoked,
    /// Revocation failed (the tokens were deleted anyway); why.
    NotRevoked(String),
}

/// Revokes `token` (and with it the whole grant) at Google.
fn revoke(cfg: &Config, token: &str) -> Logout {
    match Request::post(&cfg.revoke_url)
        .form(&[("token", token)])
        .timeout(TIMEOUT)
        .send()
    {
        Ok(r) if r.is_success() => Logout::Revoked,
        Ok(r) => match r.json::<OAuthError>() {
            Ok(e) if e.error == "invalid_token" => Logout::AlreadyRevoked,
            Ok(e) => Logout::NotRevoked(format!(
                "{}{}",
                e.error,
                e.error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )),
            Err(_) => Logout::NotRevoked(format!("HTTP {}", r.status)),
        },
        Err(e) => Logout::NotRevoked(e.to_string()),
    }
}

/// Revokes the user's grant at Google and deletes their tokens.
pub fn logout(cfg: &Config, user_id: &str) -> Result<Logout> {
    let Some(tokens) = load(user_id)? else {
        return Ok(Logout::NotConnected);
    };
    // Revoking the refresh token ends the whole grant, access tokens included.
    let token = tokens
        .refresh_token
        .as_deref()
        .unwrap_or(&tokens.access_token);
    let outcome = revoke(cfg, token);
    forget(user_id)?;
    info!("user {user_id} logged out of Google Calendar ({outcome:?})");
    Ok(outcome)
}

/// The public `oauth-callback` endpoint: the browser arrives from Google's consent
/// page with `code` and `state` (or `error` and `state`).
pub fn callback(req: &EndpointRequest) -> EndpointResponse {
    if !req.method.eq_ignore_ascii_case("GET") {
        return page::error(
            405,
            "This address only accepts the browser coming back from Google.",
        );
    }
    match finish_login(req) {
        Ok(response) => response,
        Err(e) => {
            warn!("the OAuth callback failed: {e}");
            page::error(500, "Something went wrong while connecting your calendar. Please run /gcal login again.")
        }
    }
}

fn finish_login(req: &EndpointRequest) -> Result<EndpointResponse> {
    let state = req.query_param("state").unwrap_or_default();
    if !valid_state(&state) {
        return Ok(page::error(
            400,
            "This link has no valid sign-in state. Run /gcal login in the chat to get a new link.",
        ));
    }
    let pending = match consume_state(&state)? {
        StateCheck::Valid(p) => p,
        StateCheck::Unknown => {
            return Ok(page::error(400, "This sign-in link is not valid or was already used. Run /gcal login in the chat to get a new one."));
        }
        StateCheck::Expired => {
            return Ok(page::error(
                400,
                "This sign-in link has expired. Run /gcal login in the chat to get a new one.",
            ));
        }
    };
    let user_id = pending.user_id.as_str();
    if let Some(error) = req.query_param("error") {
        info!("user {user_id} did not grant access at Google ({error})");
        let text = if error == "access_denied" {
            "You did not allow access to your calendar, so nothing was connected.".to_string()
        } else {
            format!("Google did not grant access ({error}), so nothing was connected.")
        };
        return Ok(page::error(400, &text));
    }
    let Some(code) = req.query_param("code").filter(|c| !c.is_empty()) else {
        return Ok(page::error(
            400,
            "Google sent no authorization code. Run /gcal login in the chat to try again.",
        ));
    };
    let cfg = Config::load()?;
    let redirect = redirect_uri();
    let form = [
        ("code", code.as_str()),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("grant_type", "authorization_code"),
    ];
    let granted = match token_request(&cfg, &form) {
        Ok(t) => t,
        Err(e) => {
            warn!(
                "exchanging the code of user {user_id} failed: {}",
                e.describe()
            );
            return Ok(page::error(
                502,
                &format!(
                    "Google did not accept the sign-in ({}). Run /gcal login in the chat to try again.",
                    e.describe()
                ),
            ));
        }
    };
    let scope = granted.scope.clone().unwrap_or_default();
    if !scope
        .split_whitespace()
        .any(|s| s == SCOPE || s == "https://www.googleapis.com/auth/calendar")
    {
        // Google lets users untick scopes on the consent page. A grant without the
        // calendar is of no use: give it back.
        let outcome = revoke(&cfg, &granted.access_token);
        info!("user {user_id} granted no calendar access ({scope}); grant revoked: {outcome:?}");
        return Ok(page::error(400, "You did not allow access to your calendar events, so nothing was connected. Run /gcal login again and tick the calendar box."));
    }
    // Google omits the refresh token when the user had already consented; keep ours.
    let previous_refresh = load(user_id)?.and_then(|t| t.refresh_token);
    let tokens = Tokens {
        access_token: granted.access_token,
        refresh_token: granted.refresh_token.or(previous_refresh),
        expires_at_ms: expires_at(granted.expires_in),
        scope,
    };
    save(user_id, &tokens)?;
    info!("user {user_id} connected their Google Calendar");
    notify::tell(
        user_id,
        Some(&pending.room_id),
        "Your Google Calendar is connected. Try `/gcal today`; reminders for your events will arrive here.",
    );
    Ok(page::success(
        "Google Calendar connected",
        "Your Google Calendar is connected to the chat. You can close this tab and go back.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn cfg() -> Config {
        Config {
            client_id: "id 1".into(),
            client_secret: "s".into(),
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: String::new(),
            revoke_url: String::new(),
            api_base: String::new(),
            lead_minutes: 10,
            default_tz: Tz::UTC,
            login_ttl_seconds: 600,
        }
    }

    #[test]
    fn authorize_urls() {
        let url = authorize_url(
            &cfg(),
            "ab",
            "https://chat/api/apps/public/google-calendar/oauth-callback",
        );
        assert_eq!(
            url,
            "https://accounts.google.com/o/oauth2/v2/auth?client_id=id%201\
             &redirect_uri=https%3A%2F%2Fchat%2Fapi%2Fapps%2Fpublic%2Fgoogle-calendar%2Foauth-callback\
             &response_type=code&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcalendar.events\
             &access_type=offline&prompt=consent&include_granted_scopes=true&state=ab"
        );
        let mut c = cfg();
        c.authorize_url = "https://x/auth?hd=example.com".into();
        assert!(authorize_url(&c, "s", "r").starts_with("https://x/auth?hd=example.com&client_id="));
    }

    #[test]
    fn states() {
        assert!(valid_state(&"a".repeat(64)));
        assert!(!valid_state(&"a".repeat(63)));
        assert!(!valid_state(&format!("{}/", "a".repeat(63))));
    }
}
