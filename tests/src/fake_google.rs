//! A fake of Google's OAuth 2.0 and Calendar v3 APIs, served over HTTPS at the real
//! host names (`oauth2.googleapis.com`, `accounts.google.com`, `www.googleapis.com`)
//! through [`TlsFake`], so an app keeps its real default URLs and the server's
//! network policy runs for real.
//!
//! It checks what it receives the way Google does — the OAuth client's id and secret,
//! the authorization code and its `redirect_uri`, `Authorization: Bearer` tokens,
//! form and JSON bodies, the query of `events.list` — records every request, and
//! answers with Google's shapes, errors included (`{"error": "invalid_grant", …}`
//! from the token endpoint, `{"error": {"code": 401, "message": "Invalid
//! Credentials", "status": "UNAUTHENTICATED"}}` from the Calendar API).
//!
//! The test plays the user's browser: [`FakeGoogle::consent`] stands for the consent
//! page (it checks the authorize URL like Google would, issues a code for an account
//! and returns the URL Google redirects to).
//!
//! ```ignore
//! let google = FakeGoogle::start("client-1.apps.googleusercontent.com", "secret").await;
//! let srv = Palaver::builder().envs(google.palaver_env()).start().await;
//! let back = google.consent(&authorize_url, "alice@gmail.com").expect("consent");
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub use crate::fake_tls::{decode_pairs, Recorded};
use crate::fake_tls::{first_value as first, TlsFake};
use crate::lock;

mod calendar;

pub use calendar::{FakeEvent, FakeTime};

/// Google's OAuth token and revocation host.
pub const OAUTH_HOST: &str = "oauth2.googleapis.com";
/// Google's consent page host.
pub const ACCOUNTS_HOST: &str = "accounts.google.com";
/// Google's API host (Calendar v3 under `/calendar/v3`).
pub const API_HOST: &str = "www.googleapis.com";
/// The path of the consent page.
pub const AUTHORIZE_PATH: &str = "/o/oauth2/v2/auth";
/// The scope that reads and writes events.
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// The scope of full calendar access.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// One user's consent: what their tokens stand for.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) account: String,
    pub(crate) scope: String,
    pub(crate) refresh_token: String,
    pub(crate) revoked: bool,
}

#[derive(Clone, Debug)]
struct Code {
    grant: Grant,
    client_id: String,
    redirect_uri: String,
    used: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    pub(crate) grant: usize,
    pub(crate) expires: Instant,
    /// Made invalid by the test (as if Google had expired it early).
    pub(crate) invalid: bool,
}

/// The fake's state, shared with its handlers.
pub(crate) struct Inner {
    client_id: String,
    client_secret: String,
    codes: HashMap<String, Code>,
    pub(crate) grants: Vec<Grant>,
    pub(crate) access: HashMap<String, AccessToken>,
    pub(crate) calendars: HashMap<String, Vec<FakeEvent>>,
    access_lifetime: Duration,
    pub(crate) quick_add_start: DateTime<Utc>,
}

impl Inner {
    /// The grant behind a valid bearer token, or the 401 to answer.
    pub(crate) fn authorize(&self, req: &Recorded) -> Result<&Grant, Box<Response>> {
        let Some(auth) = req.header("authorization") else {
            return Err(Box::new(calendar::unauthorized(
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "required",
            )));
        };
        let invalid = || Box::new(calendar::unauthorized("Invalid Credentials", "authError"));
        let token = auth.strip_prefix("Bearer ").ok_or_else(invalid)?;
        let access = self.access.get(token).ok_or_else(invalid)?;
        let grant = &self.grants[access.grant];
        if access.invalid || grant.revoked || access.expires <= Instant::now() {
            return Err(invalid());
        }
        Ok(grant)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A token that is unique in this process and not guessable from the others.
pub(crate) fn random_token(prefix: &str) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut parts = String::new();
    for _ in 0..2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        parts.push_str(&format!("{:016x}", h.finish()));
    }
    format!("{prefix}{n}-{parts}")
}

/// The running fake; stopped when dropped.
pub struct FakeGoogle {
    tls: TlsFake,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGoogle {
    /// Serves the three Google hosts over HTTPS, knowing one OAuth client.
    pub async fn start(client_id: &str, client_secret: &str) -> FakeGoogle {
        let inner = Arc::new(Mutex::new(Inner {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            calendars: HashMap::new(),
            access_lifetime: Duration::from_secs(3599),
            quick_add_start: Utc::now() + chrono::Duration::days(1),
        }));
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let tls = TlsFake::start(&[OAUTH_HOST, ACCOUNTS_HOST, API_HOST], router).await;
        FakeGoogle { tls, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// The environment that points the server's outbound HTTP for apps at this fake.
    pub fn palaver_env(&self) -> Vec<(String, String)> {
        self.tls.palaver_env()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.tls.requests()
    }

    /// The requests to `host` whose path (without the query) is `route`.
    pub fn requests_to(&self, host: &str, route: &str) -> Vec<Recorded> {
        self.tls.requests_to(host, route)
    }

    /// Plays Google's consent page for `account`, who allows what `authorize_url`
    /// asks: checks the URL as Google does and returns the URL the browser is sent
    /// back to (`<redirect_uri>?state=…&code=…`), or Google's error.
    pub fn consent(&self, authorize_url: &str, account: &str) -> Result<String, String> {
        self.consent_with_scope(authorize_url, account, None)
    }

    /// [`consent`](Self::consent), the user granting only `scope` (Google lets them
    /// untick scopes) when given.
    pub fn consent_with_scope(
        &self,
        authorize_url: &str,
        account: &str,
        scope: Option<&str>,
    ) -> Result<String, String> {
        let url = reqwest::Url::parse(authorize_url).map_err(|e| format!("bad URL: {e}"))?;
        if url.scheme() != "https"
            || url.host_str() != Some(ACCOUNTS_HOST)
            || url.path() != AUTHORIZE_PATH
        {
            return Err(format!("not Google's consent page: {authorize_url}"));
        }
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let param = |name: &str| first(&query, name);
        let mut inner = self.lock();
        if param("client_id").as_deref() != Some(inner.client_id.as_str()) {
            return Err("Error 401: invalid_client (The OAuth client was not found.)".into());
        }
        let redirect_uri = param("redirect_uri")
            .ok_or("Error 400: invalid_request (Missing required parameter: redirect_uri)")?;
        if param("response_type").as_deref() != Some("code") {
            return Err("Error 400: unsupported_response_type".into());
        }
        let asked = param("scope")
            .ok_or("Error 400: invalid_request (Missing required parameter: scope)")?;
        let state = param("state");
        let code = random_token("4/0A");
        let grant = Grant {
            account: account.to_string(),
            scope: scope.map(str::to_string).unwrap_or(asked),
            refresh_token: random_token("1//0g"),
            revoked: false,
        };
        let client_id = inner.client_id.clone();
        inner.codes.insert(
            code.clone(),
            Code {
                grant,
                client_id,
                redirect_uri: redirect_uri.clone(),
                used: false,
            },
        );
        let mut back =
            reqwest::Url::parse(&redirect_uri).map_err(|e| format!("bad redirect_uri: {e}"))?;
        {
            let mut pairs = back.query_pairs_mut();
            if let Some(state) = &state {
                pairs.append_pair("state", state);
            }
            pairs
                .append_pair("code", &code)
                .append_pair("scope", EVENTS_SCOPE);
        }
        Ok(back.to_string())
    }

    /// The URL Google sends the browser back to when the user clicks "Cancel".
    pub fn deny(&self, authorize_url: &str) -> Result<String, String> {
        let url = reqwest::Url::parse(authorize_url).map_err(|e| format!("bad URL: {e}"))?;
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let redirect_uri = first(&query, "redirect_uri").ok_or("no redirect_uri")?;
        let mut back = reqwest::Url::parse(&redirect_uri).map_err(|e| e.to_string())?;
        {
            let mut pairs = back.query_pairs_mut();
            pairs.append_pair("error", "access_denied");
            if let Some(state) = first(&query, "state") {
                pairs.append_pair("state", &state);
            }
        }
        Ok(back.to_string())
    }

    /// How long new access tokens live (`expires_in`).
    pub fn set_access_lifetime(&self, lifetime: Duration) {
        self.lock().access_lifetime = lifetime;
    }

    /// Makes every access token issued so far invalid (Google answers 401), as when
    /// Google expires them before the app expects; refresh tokens still work.
    pub fn invalidate_access_tokens(&self) {
        for token in self.lock().access.values_mut() {
            token.invalid = true;
        }
    }

    /// The user revokes the app's access in their Google account: every token of
    /// `account` stops working, refresh tokens included.
    pub fn revoke_account(&self, account: &str) {
        for grant in self.lock().grants.iter_mut() {
            if grant.account == account {
                grant.revoked = true;
            }
        }
    }

    /// How many grants of `account` still work.
    pub fn active_grants(&self, account: &str) -> usize {
        self.lock()
            .grants
            .iter()
            .filter(|g| g.account == account && !g.revoked)
            .count()
    }

    /// Puts `event` in `account`'s primary calendar.
    pub fn add_event(&self, account: &str, event: FakeEvent) {
        self.lock()
            .calendars
            .entry(account.to_string())
            .or_default()
            .push(event);
    }

    /// The events of `account`'s primary calendar.
    pub fn events(&self, account: &str) -> Vec<FakeEvent> {
        self.lock()
            .calendars
            .get(account)
            .cloned()
            .unwrap_or_default()
    }

    /// Where quick add puts the events it creates (it reads no dates from the text).
    pub fn set_quick_add_start(&self, start: DateTime<Utc>) {
        self.lock().quick_add_start = start;
    }
}

/// An OAuth error body, as the token and revocation endpoints send them.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// A JSON response with Google's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json; charset=utf-8"),
            (
                "cache-control",
                "no-cache, no-store, max-age=0, must-revalidate",
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Extension(req): Extension<Recorded>,
) -> Response {
    let mut inner = lock(&inner);
    let route = req.route();
    match (req.host.as_str(), req.method.as_str(), route) {
        (OAUTH_HOST, "POST", "/token") => token(&mut inner, &req),
        (OAUTH_HOST, "POST", "/revoke") => revoke(&mut inner, &req),
        (API_HOST, _, r) if r.starts_with("/calendar/v3/") => {
            calendar::calendar(&mut inner, r, &req)
        }
        _ => (
            StatusCode::NOT_FOUND,
            [("content-type", "text/html; charset=UTF-8")],
            format!(
                "<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>{}</code> was not found on this server.",
                route
            ),
        )
            .into_response(),
    }
}

/// The media type the token and revocation endpoints take.
const FORM: &str = "application/x-www-form-urlencoded";

fn token(inner: &mut Inner, req: &Recorded) -> Response {
    if !req.has_content_type(FORM) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid Content-Type: expected application/x-www-form-urlencoded",
        );
    }
    let field = |name: &str| req.form_param(name).unwrap_or_default();
    let grant_type = field("grant_type");
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        );
    }
    if field("client_id") != inner.client_id {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if field("client_secret") != inner.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let lifetime = inner.access_lifetime;
    let issue = |inner: &mut Inner, grant: usize| {
        let access_token = random_token("ya29.a0");
        inner.access.insert(
            access_token.clone(),
            AccessToken {
                grant,
                expires: Instant::now() + lifetime,
                invalid: false,
            },
        );
        access_token
    };
    if grant_type == "authorization_code" {
        let code = field("code");
        let Some(entry) = inner.codes.get_mut(&code) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Malformed auth code.",
            );
        };
        if entry.used {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
        }
        if entry.client_id != field("client_id") || entry.redirect_uri != field("redirect_uri") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "Bad Request",
            );
        }
        entry.used = true;
        let grant = entry.grant.clone();
        inner.grants.push(grant.clone());
        let index = inner.grants.len() - 1;
        let access_token = issue(inner, index);
        return json_response(
            StatusCode::OK,
            &json!({
                "access_token": access_token,
                "expires_in": lifetime.as_secs(),
                "refresh_token": grant.refresh_token,
                "scope": grant.scope,
                "token_type": "Bearer",
            }),
        );
    }
    let refresh_token = field("refresh_token");
    let Some(index) = inner
        .grants
        .iter()
        .position(|g| g.refresh_token == refresh_token && !g.revoked)
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    let scope = inner.grants[index].scope.clone();
    let access_token = issue(inner, index);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "expires_in": lifetime.as_secs(),
            "scope": scope,
            "token_type": "Bearer",
        }),
    )
}

fn revoke(inner: &mut Inner, req: &Recorded) -> Response {
    if !req.has_content_type(FORM) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid Content-Type: expected application/x-www-form-urlencoded",
        );
    }
    let token = req.form_param("token").unwrap_or_default();
    let grant = inner
        .grants
        .iter()
        .position(|g| g.refresh_token == token)
        .or_else(|| inner.access.get(&token).map(|a| a.grant));
    match grant {
        // Revoking either token ends the whole grant.
        Some(i) if !inner.grants[i].revoked => {
            inner.grants[i].revoked = true;
            json_response(StatusCode::OK, &json!({}))
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}
