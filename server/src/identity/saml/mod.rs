//! SAML 2.0 sign-in as a service provider, with Rocket.Chat's routes and flow:
//! `/_saml/authorize/<provider>` sends the browser to the identity provider with an
//! AuthnRequest (HTTP-Redirect), `/_saml/validate/<provider>` consumes its Response
//! (HTTP-POST) and hands the browser a single-use `credentialToken`, and
//! `login {saml: true, credentialToken}` (REST or realtime) issues the session.
//! `/_saml/logout/<provider>` takes the identity provider's signed LogoutRequest
//! or LogoutResponse (single logout).
//!
//! Security: only signatures by the configured certificate count ([`dsig`]), over
//! the very element whose data is used; the Response must answer a request this
//! server made (`InResponseTo`, single use), be addressed to us (`Destination`,
//! `Recipient`, `Audience`) and within its validity window (allowed clock drift);
//! each assertion is accepted once (replay cache in the store, shared by the
//! instances).

pub mod binding;
pub mod c14n;
pub mod config;
pub mod dsig;
mod mapping;
pub mod messages;
pub mod response;

use serde_json::{json, Map};

pub use config::SamlConfig;

use crate::chat::login::LoginOutcome;
use crate::chat::{Chat, ChatError};
use crate::store::Ts;

/// The `services` key of accounts signed in with SAML (as in Rocket.Chat).
pub const SERVICE: &str = "saml";
/// How long an AuthnRequest or LogoutRequest may wait for its answer.
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a client has to redeem its credential token.
const CREDENTIAL_TTL_MS: i64 = 2 * 60 * 1000;

const KIND_REQUEST: &str = "saml-request";
const KIND_ASSERTION: &str = "saml-assertion";
const KIND_CREDENTIAL: &str = "saml-credential";
const KIND_LOGOUT: &str = "saml-logout";
const KIND_IDP_LOGOUT: &str = "saml-idp-logout";
const KIND_SESSIONS: &str = "saml-sessions";
const KIND_RESPONSE: &str = "saml-response";
const KIND_NAME_ID: &str = "saml-name-id";

use mapping::Credential;

/// How long a NameID is remembered after a logout message named it.
const NAME_ID_TTL_MS: i64 = 90 * 86_400_000;

fn name_id_key(provider: &str, name_id: &str) -> String {
    format!("{provider}|{name_id}")
}

/// Sets `key` of `kind` to `value` (replacing what was there).
async fn remember(
    chat: &Chat,
    kind: &str,
    key: &str,
    value: &str,
    expires: Ts,
) -> Result<(), ChatError> {
    chat.take_once(kind, key).await?;
    chat.put_once(kind, key, value, expires).await?;
    Ok(())
}

/// The account a NameID signed in last (kept while its session lasts).
async fn user_of_name_id(
    chat: &Chat,
    provider: &str,
    name_id: &str,
) -> Result<Option<crate::store::User>, ChatError> {
    let key = name_id_key(provider, name_id);
    let Some(user_id) = chat.take_once(KIND_NAME_ID, &key).await? else {
        return Ok(None);
    };
    // Put back: more logout messages may name it.
    chat.put_once(
        KIND_NAME_ID,
        &key,
        &user_id,
        Ts(Ts::now().0 + NAME_ID_TTL_MS),
    )
    .await?;
    chat.user_by_id(&user_id).await
}

/// The token hashes of a user's SAML sessions (taken: the caller puts them back).
async fn session_hashes(chat: &Chat, user_id: &str) -> Result<Vec<String>, ChatError> {
    Ok(chat
        .take_once(KIND_SESSIONS, user_id)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// Why a SAML exchange failed. `error_type` is the id clients see.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("no SAML provider {0:?} is enabled")]
    UnknownProvider(String),
    #[error("SAML is not configured completely: {0}")]
    Misconfigured(&'static str),
    #[error("the identity provider refused the sign-in: {0}")]
    Denied(String),
    #[error("the SAML message was refused: {0}")]
    Invalid(String),
    #[error("the signature was refused: {0}")]
    Signature(#[from] dsig::SignatureError),
    #[error("the assertion is outside its validity window: {0}")]
    Expired(String),
    #[error("wrong audience: {0}")]
    Audience(String),
    #[error("the Response does not answer a pending request of this server")]
    UnknownRequest,
    #[error("the assertion was already used")]
    Replayed,
    #[error("no matching login attempt found")]
    UnknownCredential,
    /// An `EncryptedAssertion`: refused, see [`response::verify`] (decrypting
    /// needs RSA-OAEP private-key decryption, which `ring` lacks and the `rsa`
    /// crate offers only with the open timing advisory RUSTSEC-2023-0071).
    #[error("encrypted assertions are not supported: configure the identity provider to sign assertions, not encrypt them")]
    Encrypted,
    #[error("storage: {0}")]
    Chat(#[from] ChatError),
}

impl SamlError {
    pub fn error_type(&self) -> &'static str {
        match self {
            SamlError::UnknownProvider(_) => "error-saml-unknown-provider",
            SamlError::Misconfigured(_) => "error-saml-misconfigured",
            SamlError::Denied(_) => "error-saml-denied",
            SamlError::Invalid(_) => "error-saml-invalid",
            SamlError::Signature(_) => "error-saml-signature",
            SamlError::Expired(_) => "error-saml-expired",
            SamlError::Audience(_) => "error-saml-audience",
            SamlError::UnknownRequest => "error-saml-unknown-request",
            SamlError::Replayed => "error-saml-replayed",
            SamlError::UnknownCredential => "error-saml-credential",
            SamlError::Encrypted => "error-saml-encrypted",
            SamlError::Chat(_) => "error-saml-storage",
        }
    }
}

impl From<SamlError> for ChatError {
    fn from(e: SamlError) -> ChatError {
        match e {
            SamlError::Chat(c) => c,
            other => ChatError::refused(other.error_type(), other.to_string()),
        }
    }
}

pub type SamlResult<T> = Result<T, SamlError>;

/// The configuration when SAML is enabled and `provider` is its name.
pub fn provider(chat: &Chat, provider: &str) -> SamlResult<SamlConfig> {
    let cfg = SamlConfig::load(chat.settings());
    if !cfg.enabled || cfg.provider.is_empty() || cfg.provider != provider {
        return Err(SamlError::UnknownProvider(provider.to_string()));
    }
    Ok(cfg)
}

fn idp_key(cfg: &SamlConfig) -> SamlResult<dsig::IdpKey> {
    dsig::IdpKey::from_certificate(&cfg.idp_cert).map_err(SamlError::Misconfigured)
}

fn sp_key(cfg: &SamlConfig) -> SamlResult<Option<binding::SpKey>> {
    if cfg.sp_private_key.is_empty() {
        return Ok(None);
    }
    binding::SpKey::from_pem(&cfg.sp_private_key).map(Some)
}

/// The service provider's metadata document.
pub fn metadata(chat: &Chat, name: &str) -> SamlResult<String> {
    let cfg = provider(chat, name)?;
    Ok(messages::metadata(
        &cfg.issuer,
        &cfg.acs_url,
        &cfg.slo_url,
        &cfg.sp_cert,
        !cfg.sp_private_key.is_empty(),
    ))
}

/// Where to send the browser to sign in: the entry point with a new AuthnRequest,
/// whose id is remembered (single use) for the Response's `InResponseTo`.
pub async fn authorize_url(
    chat: &Chat,
    name: &str,
    relay_state: Option<&str>,
) -> SamlResult<String> {
    let cfg = provider(chat, name)?;
    if cfg.entry_point.is_empty() {
        return Err(SamlError::Misconfigured("no entry point"));
    }
    idp_key(&cfg)?;
    let id = messages::new_id();
    let xml = messages::authn_request(&id, &cfg.issuer, &cfg.entry_point, &cfg.acs_url);
    chat.put_once(
        KIND_REQUEST,
        &id,
        &cfg.provider,
        Ts(Ts::now().0 + REQUEST_TTL_MS),
    )
    .await?;
    binding::redirect_url(
        &cfg.entry_point,
        "SAMLRequest",
        &xml,
        relay_state,
        sp_key(&cfg)?.as_ref(),
    )
}

/// Consumes a Response (the POST binding's `SAMLResponse`): every check, then a
/// new single-use credential token for the login call.
pub async fn validate(chat: &Chat, name: &str, saml_response: &str) -> SamlResult<String> {
    let cfg = provider(chat, name)?;
    let key = idp_key(&cfg)?;
    let xml = binding::read_post(saml_response)?;
    let now = Ts::now().0;
    let verified = response::verify(
        &xml,
        &response::Expect {
            key: &key,
            rule: cfg.rule,
            allow_sha1: cfg.allow_sha1,
            acs_url: &cfg.acs_url,
            audience: &cfg.issuer,
            now_ms: now,
            drift_ms: cfg.clock_drift_ms,
            allow_unsolicited: cfg.allow_idp_initiated,
        },
    )
    .inspect_err(|e| {
        tracing::info!(provider = %cfg.provider, error = %e, "SAML Response refused");
    })?;
    // Once per assertion, across instances, for as long as it could be presented.
    let replay_key = format!("{}|{}", verified.issuer, verified.assertion_id);
    if !chat
        .put_once(
            KIND_ASSERTION,
            &replay_key,
            "",
            Ts(verified.valid_until_ms.max(now + 1000)),
        )
        .await?
    {
        tracing::warn!(provider = %cfg.provider, assertion = %verified.assertion_id, "SAML assertion replayed");
        return Err(SamlError::Replayed);
    }
    // The Response itself is single use too (an IdP-initiated one answers no
    // request whose single use would stop a second presentation).
    let response_key = format!("{}|{}", verified.issuer, verified.response_id);
    if !chat
        .put_once(
            KIND_RESPONSE,
            &response_key,
            "",
            Ts(verified.valid_until_ms.max(now + 1000)),
        )
        .await?
    {
        tracing::warn!(provider = %cfg.provider, response = %verified.response_id, "SAML Response replayed");
        return Err(SamlError::Replayed);
    }
    if verified.in_response_to.is_empty() {
        // Only reachable with `allow_idp_initiated` on (checked in `verify`).
        tracing::info!(provider = %cfg.provider, "IdP-initiated SAML Response");
    } else {
        match chat
            .take_once(KIND_REQUEST, &verified.in_response_to)
            .await?
        {
            Some(p) if p == cfg.provider => {}
            _ => {
                tracing::info!(provider = %cfg.provider, in_response_to = %verified.in_response_to, "SAML Response to an unknown request");
                return Err(SamlError::UnknownRequest);
            }
        }
    }
    let credential = mapping::credential(
        &cfg,
        &verified.attributes,
        Credential {
            provider: cfg.provider.clone(),
            idp: verified.issuer.clone(),
            name_id: verified.name_id.clone(),
            name_id_format: verified.name_id_format.clone(),
            session_index: verified.session_index.clone(),
            username: None,
            email: None,
            name: None,
            roles: None,
            channels: vec![],
        },
    );
    let token = crate::chat::ids::new_token();
    let value = serde_json::to_string(&credential).unwrap_or_default();
    chat.put_once(KIND_CREDENTIAL, &token, &value, Ts(now + CREDENTIAL_TTL_MS))
        .await?;
    if cfg.debug {
        tracing::info!(provider = %cfg.provider, name_id = %verified.name_id, "SAML Response accepted");
    }
    Ok(token)
}

/// `login {saml: true, credentialToken}`: the account the assertion's immutable
/// property names (linked or created on first sign-in), and a session.
pub async fn login_with_credential(chat: &Chat, token: &str) -> Result<LoginOutcome, ChatError> {
    if token.is_empty() {
        return Err(SamlError::UnknownCredential.into());
    }
    let credential: Credential = chat
        .take_once(KIND_CREDENTIAL, token)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .ok_or(SamlError::UnknownCredential)?;
    let cfg = provider(chat, &credential.provider)?;
    let existing = chat
        .existing_user_roles(
            &credential
                .roles
                .iter()
                .flatten()
                .chain(cfg.default_roles.iter())
                .cloned()
                .collect::<Vec<_>>(),
        )
        .await?;
    let ident = mapping::identity(&cfg, &credential, &existing)?;
    let outcome = chat.login_external(ident).await?;
    // IdP logout messages name the NameID: remember whose it is.
    remember(
        chat,
        KIND_NAME_ID,
        &name_id_key(&credential.provider, &credential.name_id),
        &outcome.user.id,
        outcome.expires,
    )
    .await?;
    let mut fields = Map::new();
    fields.insert("provider".into(), json!(credential.provider));
    fields.insert("idp".into(), json!(credential.idp));
    fields.insert("nameID".into(), json!(credential.name_id));
    fields.insert("nameIDFormat".into(), json!(credential.name_id_format));
    fields.insert("idpSession".into(), json!(credential.session_index));
    // The realtime connections of this sign-in close when the IdP logs it out:
    // the session's token hash is kept (beside the store's, not in the account).
    let mut hashes = session_hashes(chat, &outcome.user.id).await?;
    hashes.push(crate::chat::ids::hash_token(&outcome.token));
    let keep = hashes.len().saturating_sub(50);
    hashes.drain(..keep);
    chat.put_once(
        KIND_SESSIONS,
        &outcome.user.id,
        &serde_json::to_string(&hashes).unwrap_or_default(),
        outcome.expires,
    )
    .await?;
    let user = chat
        .update_service_fields(&outcome.user, SERVICE, fields)
        .await?;
    Ok(LoginOutcome { user, ..outcome })
}

/// `samlLogout(provider)`: the identity provider's logout address with a
/// LogoutRequest for `user`'s SAML session, or `None` when there is nothing to
/// end there (not a SAML account, local logout configured, no SLO address).
pub async fn logout_url(
    chat: &Chat,
    name: &str,
    user: &crate::store::User,
) -> SamlResult<Option<String>> {
    let cfg = provider(chat, name)?;
    let Some(link) = user.services.get(SERVICE) else {
        return Ok(None);
    };
    if !cfg.logout_at_idp || cfg.idp_slo_url.is_empty() {
        return Ok(None);
    }
    let s = |k: &str| {
        link.extra
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    if s("provider") != cfg.provider {
        return Ok(None);
    }
    let id = messages::new_id();
    let session = s("idpSession");
    // The link's id is the immutable property; the NameID is kept beside it.
    let name_id = Some(s("nameID"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| link.id.clone());
    let xml = messages::logout_request(
        &id,
        &cfg.issuer,
        &cfg.idp_slo_url,
        &name_id,
        &s("nameIDFormat"),
        (!session.is_empty()).then_some(session.as_str()),
    );
    chat.put_once(KIND_LOGOUT, &id, &user.id, Ts(Ts::now().0 + REQUEST_TTL_MS))
        .await?;
    binding::redirect_url(
        &cfg.idp_slo_url,
        "SAMLRequest",
        &xml,
        None,
        sp_key(&cfg)?.as_ref(),
    )
    .map(Some)
}

/// What to do after a logout message.
pub enum LogoutDone {
    /// Answer the identity provider's LogoutRequest: send the browser here.
    Respond(String),
    /// Our logout finished at the identity provider; back to the site.
    Finished,
}

/// `/_saml/logout/<provider>` (HTTP-Redirect): a signed LogoutRequest from the
/// identity provider ends the sessions of the account it names and is answered;
/// a signed LogoutResponse must answer a LogoutRequest of ours.
pub async fn handle_logout(chat: &Chat, name: &str, raw_query: &str) -> SamlResult<LogoutDone> {
    let cfg = provider(chat, name)?;
    let key = idp_key(&cfg)?;
    let has = |p: &str| {
        raw_query
            .split('&')
            .any(|kv| kv.split('=').next() == Some(p))
    };
    if has("SAMLRequest") {
        let (xml, relay) = binding::read_redirect(raw_query, "SAMLRequest", &key, cfg.allow_sha1)?;
        let now = Ts::now().0;
        let req = messages::read_logout_request(&xml, &cfg.slo_url, now, cfg.clock_drift_ms)?;
        if !chat
            .put_once(KIND_IDP_LOGOUT, &req.id, "", Ts(now + REQUEST_TTL_MS))
            .await?
        {
            return Err(SamlError::Replayed);
        }
        if let Some(user) = user_of_name_id(chat, &cfg.provider, &req.name_id).await? {
            let link = user.services.get(SERVICE).cloned().unwrap_or_default();
            let session = link
                .extra
                .get("idpSession")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let same_provider =
                link.extra.get("provider").and_then(|v| v.as_str()) == Some(cfg.provider.as_str());
            let same_session =
                req.session_indexes.is_empty() || req.session_indexes.iter().any(|s| s == session);
            if same_provider && same_session {
                let hashes = session_hashes(chat, &user.id).await?;
                chat.end_sessions(&user, &hashes).await?;
            }
        } else {
            tracing::info!(provider = %cfg.provider, "SAML LogoutRequest for an unknown account");
        }
        if cfg.idp_slo_url.is_empty() {
            return Ok(LogoutDone::Finished);
        }
        let xml =
            messages::logout_response(&messages::new_id(), &cfg.issuer, &cfg.idp_slo_url, &req.id);
        let url = binding::redirect_url(
            &cfg.idp_slo_url,
            "SAMLResponse",
            &xml,
            relay.as_deref(),
            sp_key(&cfg)?.as_ref(),
        )?;
        return Ok(LogoutDone::Respond(url));
    }
    let (xml, _) = binding::read_redirect(raw_query, "SAMLResponse", &key, cfg.allow_sha1)?;
    let answered = messages::read_logout_response(&xml, &cfg.slo_url)?;
    chat.take_once(KIND_LOGOUT, &answered)
        .await?
        .ok_or(SamlError::UnknownRequest)?;
    Ok(LogoutDone::Finished)
}

/// The login service Rocket.Chat's clients see in `settings.oauth` (`service:
/// "saml"`, `clientConfig.provider` names the routes' provider).
pub fn login_service(chat: &Chat) -> Option<serde_json::Value> {
    let cfg = SamlConfig::load(chat.settings());
    if !cfg.enabled || cfg.provider.is_empty() {
        return None;
    }
    Some(json!({
        "_id": "saml",
        "service": "saml",
        "buttonLabelText": cfg.button_label_text,
        "buttonLabelColor": cfg.button_label_color,
        "buttonColor": cfg.button_color,
        "clientConfig": {"provider": cfg.provider},
        "entryPoint": cfg.entry_point,
        "idpSLORedirectURL": cfg.idp_slo_url,
    }))
}
