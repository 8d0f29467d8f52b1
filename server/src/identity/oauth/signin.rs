//! From a provider's claims to a Palaver session: the claims are mapped with the
//! provider's field settings and handed to `Chat::login_external`.

use serde_json::{Map, Value};

use super::{claim, claim_str, client, Claims, OAuthError, ProviderConfig};
use crate::chat::external_login::{ChannelSync, ExternalIdentity, MergeBy, RoleSync};
use crate::chat::login::LoginOutcome;
use crate::chat::{Chat, ChatError};

impl From<OAuthError> for ChatError {
    fn from(e: OAuthError) -> ChatError {
        ChatError::refused(e.error_type(), e.to_string())
    }
}

/// The enabled provider `service`.
pub fn provider(chat: &Chat, service: &str) -> Result<ProviderConfig, OAuthError> {
    ProviderConfig::load(chat.settings(), service)
        .filter(|p| p.enabled)
        .ok_or_else(|| OAuthError::UnknownService(service.to_string()))
}

/// The callback address registered at the provider: `<Site_Url>/_oauth/<service>`.
pub fn redirect_uri(chat: &Chat, cfg: &ProviderConfig) -> String {
    format!(
        "{}/_oauth/{}",
        chat.settings().string("Site_Url").trim_end_matches('/'),
        cfg.name
    )
}

/// The mobile apps' login: `{serviceName, accessToken}`.
pub async fn login_with_access_token(
    chat: &Chat,
    service: &str,
    access_token: &str,
) -> Result<LoginOutcome, ChatError> {
    let cfg = provider(chat, service)?;
    if access_token.is_empty() {
        return Err(ChatError::invalid("accessToken must not be empty"));
    }
    let claims = client()
        .claims_for_access_token(&cfg, access_token)
        .await
        .map_err(|e| {
            tracing::info!(service = %cfg.name, error = %e, "access token login refused");
            e
        })?;
    login_with_claims(chat, &cfg, &claims).await
}

/// A session for the person `claims` describe, mapped with `cfg`'s settings.
pub async fn login_with_claims(
    chat: &Chat,
    cfg: &ProviderConfig,
    claims: &Claims,
) -> Result<LoginOutcome, ChatError> {
    chat.login_external(identity(cfg, claims)).await
}

/// Maps the claims with the provider's field settings: who (`sub`), how an
/// existing account may be linked (`key_field`), roles, mapped channels
/// (`groups_claim` through `groups_channel_map`) and the picture (`avatar_field`).
pub fn identity(cfg: &ProviderConfig, claims: &Claims) -> ExternalIdentity {
    let c = &claims.all;
    let pick = |field: &str, fallbacks: &[&str]| {
        claim_str(c, field).or_else(|| fallbacks.iter().find_map(|f| claim_str(c, f)))
    };
    let email = pick(&cfg.email_field, &["email"]);
    let email_verified = match c.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    ExternalIdentity {
        service: cfg.name.clone(),
        id: claims.subject.clone(),
        username: pick(
            &cfg.username_field,
            &["preferred_username", "username", "login"],
        ),
        name: pick(&cfg.name_field, &["name", "display_name"]),
        email,
        email_verified,
        merge_by: cfg.merge_users.then_some(if cfg.key_field == "email" {
            MergeBy::Email
        } else {
            MergeBy::Username
        }),
        relink: false,
        roles: cfg.merge_roles.then(|| RoleSync {
            claimed: roles_of(c, &cfg.roles_claim),
            managed: cfg.roles_to_sync.clone(),
        }),
        initial_roles: vec![],
        channels: cfg.map_channels.then(|| ChannelSync {
            names: mapped_channels(cfg, c),
            admin: cfg.channels_admin.clone(),
            only_on_create: false,
        }),
        avatar_url: claim_str(c, &cfg.avatar_field)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
    }
}

/// The channels the groups claim maps to, each once.
fn mapped_channels(cfg: &ProviderConfig, claims: &Map<String, Value>) -> Vec<String> {
    let groups_claim = if cfg.groups_claim.is_empty() {
        "groups"
    } else {
        cfg.groups_claim.as_str()
    };
    let groups = roles_of(claims, groups_claim);
    let mut out: Vec<String> = Vec::new();
    for (group, channels) in &cfg.groups_channel_map {
        if groups.iter().any(|g| g == group) {
            for c in channels {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
    }
    out
}

/// The roles claim: a list of names, or one string of names separated by commas
/// or spaces. Absent: no roles.
fn roles_of(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let path = if path.is_empty() { "roles" } else { path };
    match claim(claims, path) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}
