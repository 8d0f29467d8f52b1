//! OAuth 2.0 and OpenID Connect sign-in with Rocket.Chat's custom OAuth providers
//! (settings family `Accounts_OAuth_Custom-<name>`), optionally configured from an
//! OIDC issuer's discovery document.
//!
//! The browser flow is the authorization code flow with PKCE (S256), a `state`
//! bound to the browser by an `HttpOnly` cookie that holds it (with the PKCE
//! verifier and the OIDC `nonce`) and is cleared on use, and a record of used
//! states in the store (shared by the instances) so a replayed callback is refused
//! even with the old cookie, on any instance. For
//! OIDC providers the ID token is required and verified ([`jwt`]) against the
//! issuer's JWKS, refetched when a token names an unknown key (rotation). Mobile
//! apps send an access token instead, which is checked by calling the provider's
//! userinfo endpoint with it, or run Meteor's credential flow ([`mobile`]).

pub mod claims;
pub mod config;
pub mod jwt;
pub mod mobile;
pub mod signin;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use claims::{claim, claim_str};
use claims::{claims_of, merge_userinfo};
use config::ClientAuth;
pub use config::ProviderConfig;

use crate::chat::Chat;
use crate::store::Ts;

/// Single-use keys: the browser flow's states.
const KIND_STATE: &str = "oauth-state";

/// The cookie binding a sign-in in progress to the browser that started it.
pub const FLOW_COOKIE: &str = "palaver_oauth";
/// How long a started sign-in may take at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// At most one JWKS refetch per provider this often (a token with an unknown `kid`
/// must not make us hammer the provider).
const JWKS_REFETCH_GAP: Duration = Duration::from_secs(10);

/// Why a sign-in failed. `error_type` is the id clients see.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("no OAuth service {0:?} is enabled")]
    UnknownService(String),
    #[error("the OAuth service {0:?} is not configured completely: {1}")]
    Misconfigured(String, &'static str),
    #[error("the sign-in was refused at the provider: {0}")]
    Denied(String),
    #[error("the sign-in state does not match this browser, expired or was already used")]
    State,
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider refused the request: {0}")]
    Provider(String),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] jwt::TokenError),
    #[error("the provider's answer has no usable user id")]
    NoSubject,
    #[error("No matching login attempt found")]
    UnknownCredential,
    #[error("storage: {0}")]
    Storage(String),
}

impl OAuthError {
    /// The error id (Rocket.Chat style) and the short code the web client is sent.
    pub fn error_type(&self) -> &'static str {
        match self {
            OAuthError::UnknownService(_) => "error-oauth-unknown-service",
            OAuthError::Misconfigured(..) => "error-oauth-misconfigured",
            OAuthError::Denied(_) => "error-oauth-denied",
            OAuthError::State => "error-oauth-state",
            OAuthError::Unreachable(_) => "error-oauth-provider-unreachable",
            OAuthError::Provider(_) => "error-oauth-provider",
            OAuthError::IdToken(_) => "error-oauth-invalid-id-token",
            OAuthError::NoSubject => "error-oauth-no-subject",
            OAuthError::UnknownCredential => "error-oauth-credential",
            OAuthError::Storage(_) => "error-oauth-storage",
        }
    }
}

pub type OAuthResult<T> = Result<T, OAuthError>;

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The endpoints of a provider.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    /// OIDC only.
    pub jwks: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
}

struct JwksEntry {
    set: jwt::JwkSet,
    fetched: Instant,
}

/// What the flow cookie carries.
#[derive(Serialize, Deserialize)]
struct Flow {
    /// Service name.
    p: String,
    /// State.
    s: String,
    /// PKCE verifier.
    v: String,
    /// Nonce.
    n: String,
    /// Expiry, seconds since the epoch.
    e: i64,
}

/// A sign-in to start: where to send the browser, and the cookie to set.
pub struct Started {
    pub authorize_url: String,
    pub cookie_value: String,
}

/// What the provider says about the person signing in.
#[derive(Clone, Debug)]
pub struct Claims {
    /// The provider's stable identifier (`sub`, or `id` for plain OAuth).
    pub subject: String,
    pub all: Map<String, Value>,
}

/// The process's OAuth client: HTTP client and caches.
pub struct OAuth {
    http: reqwest::Client,
    discovery: Mutex<HashMap<String, (Instant, Endpoints)>>,
    jwks: Mutex<HashMap<String, JwksEntry>>,
}

/// The process-wide client (its caches serve every request of this instance).
pub fn client() -> &'static OAuth {
    static C: OnceLock<OAuth> = OnceLock::new();
    C.get_or_init(OAuth::new)
}

impl OAuth {
    fn new() -> OAuth {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_default();
        OAuth {
            http,
            discovery: Mutex::default(),
            jwks: Mutex::default(),
        }
    }

    async fn get_json(&self, url: &str) -> OAuthResult<Value> {
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| OAuthError::Unreachable(format!("{url}: {e}")))?;
        read_json(resp).await
    }

    /// The provider's endpoints: from discovery (cached) for OIDC, else from the
    /// URL and paths.
    pub async fn endpoints(&self, cfg: &ProviderConfig) -> OAuthResult<Endpoints> {
        let Some(issuer) = &cfg.issuer else {
            if cfg.server_url.is_empty() {
                return Err(OAuthError::Misconfigured(
                    cfg.name.clone(),
                    "no URL and no OIDC issuer",
                ));
            }
            return Ok(Endpoints {
                authorize: cfg.url_of(&cfg.authorize_path),
                token: cfg.url_of(&cfg.token_path),
                userinfo: cfg.url_of(&cfg.identity_path),
                jwks: None,
            });
        };
        if let Some((at, e)) = lock(&self.discovery).get(issuer) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(e.clone());
            }
        }
        let doc = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        let doc: Discovery = serde_json::from_value(doc)
            .map_err(|e| OAuthError::Provider(format!("bad discovery document: {e}")))?;
        if doc.issuer.trim_end_matches('/') != issuer {
            return Err(OAuthError::Provider(format!(
                "the discovery document names the issuer {:?}",
                doc.issuer
            )));
        }
        let endpoints = Endpoints {
            authorize: doc.authorization_endpoint,
            token: doc.token_endpoint,
            userinfo: doc
                .userinfo_endpoint
                .unwrap_or_else(|| cfg.url_of(&cfg.identity_path)),
            jwks: Some(doc.jwks_uri),
        };
        lock(&self.discovery).insert(issuer.clone(), (Instant::now(), endpoints.clone()));
        Ok(endpoints)
    }

    /// Starts a browser sign-in with `cfg`, coming back to `redirect_uri`.
    pub async fn begin(&self, cfg: &ProviderConfig, redirect_uri: &str) -> OAuthResult<Started> {
        check_client(cfg)?;
        let endpoints = self.endpoints(cfg).await?;
        let flow = Flow {
            p: cfg.name.clone(),
            s: random_token(),
            v: random_token(),
            n: random_token(),
            e: now_secs() + FLOW_TTL.as_secs() as i64,
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.v.as_bytes()));
        let mut url = url::Url::parse(&endpoints.authorize).map_err(|_| {
            OAuthError::Misconfigured(cfg.name.clone(), "the authorize URL is not a URL")
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &cfg.scope)
            .append_pair("state", &flow.s)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("nonce", &flow.n);
        let cookie_value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flow).unwrap_or_default());
        Ok(Started {
            authorize_url: url.into(),
            cookie_value,
        })
    }

    /// Finishes a browser sign-in: the callback's `state` must be the one in this
    /// browser's flow cookie, unexpired, and unused on every instance (the store's
    /// single-use keys); the code is exchanged with the PKCE verifier; for OIDC the
    /// ID token is verified. Returns the person's claims.
    pub async fn finish(
        &self,
        chat: &Chat,
        cfg: &ProviderConfig,
        redirect_uri: &str,
        query: &HashMap<String, String>,
        cookie: Option<&str>,
    ) -> OAuthResult<Claims> {
        let flow = cookie
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|b| serde_json::from_slice::<Flow>(&b).ok());
        let state = query.get("state").map(String::as_str).unwrap_or("");
        let flow = match flow {
            Some(f)
                if f.p == cfg.name
                    && f.e >= now_secs()
                    && constant_time_eq(f.s.as_bytes(), state.as_bytes()) =>
            {
                f
            }
            _ => return Err(OAuthError::State),
        };
        if !consume_state(chat, KIND_STATE, &flow.s, flow.e).await? {
            return Err(OAuthError::State);
        }
        self.exchange(cfg, redirect_uri, query, Some(&flow.v), Some(&flow.n))
            .await
    }

    /// Exchanges the callback's code (with the PKCE verifier when this server
    /// started the flow) and gathers the claims: the verified ID token's for OIDC
    /// (with `nonce` when one was sent), then the userinfo answer.
    pub(crate) async fn exchange(
        &self,
        cfg: &ProviderConfig,
        redirect_uri: &str,
        query: &HashMap<String, String>,
        verifier: Option<&str>,
        nonce: Option<&str>,
    ) -> OAuthResult<Claims> {
        if let Some(err) = query.get("error") {
            let detail = query
                .get("error_description")
                .map(|d| format!("{err}: {d}"))
                .unwrap_or_else(|| err.clone());
            return Err(OAuthError::Denied(detail));
        }
        // RFC 9207: a provider that names itself in the callback must be this one
        // (mix-up attacks between providers).
        if let (Some(iss), Some(issuer)) = (query.get("iss"), &cfg.issuer) {
            if iss.trim_end_matches('/') != issuer {
                return Err(OAuthError::Provider(format!(
                    "the callback names the issuer {iss:?}"
                )));
            }
        }
        let code = query
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthError::Provider("the callback has no code".into()))?;
        let endpoints = self.endpoints(cfg).await?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", redirect_uri.to_string()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        let mut req = self
            .http
            .post(&endpoints.token)
            .header("accept", "application/json");
        match cfg.client_auth {
            ClientAuth::Header => {
                req = req.basic_auth(
                    form_encode(&cfg.client_id),
                    Some(form_encode(&cfg.client_secret)),
                );
            }
            ClientAuth::Payload => {
                form.push(("client_id", cfg.client_id.clone()));
                form.push(("client_secret", cfg.client_secret.clone()));
            }
        }
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Unreachable(format!("{}: {e}", endpoints.token)))?;
        let tokens = read_json(resp).await?;
        let access_token = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| OAuthError::Provider("the token response has no access_token".into()))?
            .to_string();
        let mut claims = Map::new();
        if let (Some(issuer), Some(jwks_uri)) = (&cfg.issuer, &endpoints.jwks) {
            let id_token = tokens
                .get("id_token")
                .and_then(Value::as_str)
                .ok_or_else(|| OAuthError::Provider("the token response has no id_token".into()))?;
            claims = self
                .verify_id_token(issuer, jwks_uri, &cfg.client_id, id_token, nonce)
                .await?;
        }
        let info = self.userinfo(cfg, &endpoints, &access_token).await?;
        merge_userinfo(&mut claims, info, cfg.issuer.is_some())?;
        claims_of(claims)
    }

    /// The claims of the holder of `access_token` (a mobile app's login), from the
    /// provider's userinfo endpoint: the provider vouches for the token.
    pub async fn claims_for_access_token(
        &self,
        cfg: &ProviderConfig,
        access_token: &str,
    ) -> OAuthResult<Claims> {
        check_client(cfg)?;
        let endpoints = self.endpoints(cfg).await?;
        let info = self.userinfo(cfg, &endpoints, access_token).await?;
        let mut claims = Map::new();
        merge_userinfo(&mut claims, info, false)?;
        claims_of(claims)
    }

    async fn userinfo(
        &self,
        cfg: &ProviderConfig,
        endpoints: &Endpoints,
        token: &str,
    ) -> OAuthResult<Value> {
        let req = if cfg.identity_via_header {
            self.http.get(&endpoints.userinfo).bearer_auth(token)
        } else {
            self.http
                .get(&endpoints.userinfo)
                .query(&[(cfg.access_token_param.as_str(), token)])
        };
        let resp = req
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| OAuthError::Unreachable(format!("{}: {e}", endpoints.userinfo)))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(OAuthError::Provider("the access token is not valid".into()));
        }
        read_json(resp).await
    }

    /// Verifies an ID token's signature against the issuer's keys (refetched once
    /// when it names a key we do not have) and its claims.
    pub async fn verify_id_token(
        &self,
        issuer: &str,
        jwks_uri: &str,
        client_id: &str,
        token: &str,
        nonce: Option<&str>,
    ) -> OAuthResult<Map<String, Value>> {
        let parsed = jwt::parse(token)?;
        let cached = {
            let cache = lock(&self.jwks);
            cache.get(issuer).map(|e| {
                (
                    jwt::select_key(&e.set, &parsed).cloned(),
                    e.fetched.elapsed(),
                )
            })
        };
        let key = match cached {
            Some((Some(key), _)) => key,
            Some((None, age)) if age < JWKS_REFETCH_GAP => {
                return Err(
                    jwt::TokenError::UnknownKey(parsed.kid.clone().unwrap_or_default()).into(),
                )
            }
            _ => {
                let set: jwt::JwkSet = serde_json::from_value(self.get_json(jwks_uri).await?)
                    .map_err(|e| OAuthError::Provider(format!("bad JWKS: {e}")))?;
                let key = jwt::select_key(&set, &parsed).cloned();
                tracing::info!(
                    issuer,
                    keys = set.keys.len(),
                    "fetched the provider's signing keys"
                );
                lock(&self.jwks).insert(
                    issuer.to_string(),
                    JwksEntry {
                        set,
                        fetched: Instant::now(),
                    },
                );
                key.ok_or_else(|| {
                    jwt::TokenError::UnknownKey(parsed.kid.clone().unwrap_or_default())
                })?
            }
        };
        jwt::verify_signature(&parsed, &key)?;
        jwt::check_claims(
            &parsed.claims,
            &jwt::Expect {
                issuer,
                client_id,
                nonce,
                now: now_secs(),
            },
        )?;
        Ok(parsed.claims)
    }
}

/// Marks `key` of `kind` used until `expires` (seconds), on every instance;
/// false when it already was.
pub(crate) async fn consume_state(
    chat: &Chat,
    kind: &str,
    key: &str,
    expires: i64,
) -> OAuthResult<bool> {
    chat.put_once(kind, key, "", Ts(expires.saturating_mul(1000)))
        .await
        .map_err(|e| OAuthError::Storage(e.to_string()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `application/x-www-form-urlencoded` encoding of a Basic credential part (RFC 6749 2.3.1).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn check_client(cfg: &ProviderConfig) -> OAuthResult<()> {
    if !cfg.enabled {
        return Err(OAuthError::UnknownService(cfg.name.clone()));
    }
    if cfg.client_id.is_empty() {
        return Err(OAuthError::Misconfigured(cfg.name.clone(), "no client id"));
    }
    Ok(())
}

async fn read_json(resp: reqwest::Response) -> OAuthResult<Value> {
    let status = resp.status();
    let url = resp.url().to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| OAuthError::Unreachable(format!("{url}: {e}")))?;
    if status.is_server_error() {
        return Err(OAuthError::Unreachable(format!("{url} answered {status}")));
    }
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| OAuthError::Provider(format!("{url} answered {status} without JSON")))?;
    if !status.is_success() {
        let err = json
            .get("error_description")
            .or_else(|| json.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("error");
        return Err(OAuthError::Provider(format!(
            "{url} answered {status}: {err}"
        )));
    }
    Ok(json)
}
