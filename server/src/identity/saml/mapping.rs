//! From a verified assertion to the account it stands for, with Rocket.Chat's
//! SAML settings: the identifying attribute (`immutable_property`: e-mail or
//! username, since NameIDs are often transient), generated usernames, the roles
//! of new accounts (`default_user_role`), roles from an attribute
//! (`role_attribute_sync`/`role_attribute_name`) and channels from the `channels`
//! attribute (`channels_update`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{Immutable, SamlConfig};
use super::{SamlError, SamlResult, SERVICE};
use crate::chat::external_login::{ChannelSync, ExternalIdentity, MergeBy, RoleSync};

/// The attribute naming channels to join (Rocket.Chat reads `channels`).
pub const CHANNELS_ATTR: &str = "channels";
/// Who creates a mapped channel that does not exist yet.
const CHANNELS_ADMIN: &str = "rocket.cat";

/// What a credential token stands for until the client redeems it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Credential {
    pub provider: String,
    pub idp: String,
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// From the role attribute, when role sync is on and it is present.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub channels: Vec<String>,
}

/// Values of `attr`, each comma-separated value split, empty ones dropped.
pub(super) fn list(attributes: &BTreeMap<String, Vec<String>>, attr: &str) -> Vec<String> {
    attributes
        .get(attr)
        .into_iter()
        .flatten()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The credential for a verified assertion's attributes.
pub(super) fn credential(
    cfg: &SamlConfig,
    attributes: &BTreeMap<String, Vec<String>>,
    base: Credential,
) -> Credential {
    let first = |attr: &str| {
        attributes
            .get(attr)
            .and_then(|v| v.iter().find(|s| !s.trim().is_empty()))
            .map(|s| s.trim().to_string())
    };
    let mut username = first(&cfg.username_attr);
    if cfg.lowercase_username {
        username = username.map(|u| u.to_lowercase());
    }
    Credential {
        username,
        email: first(&cfg.email_attr),
        name: first(&cfg.name_attr),
        roles: cfg
            .role_attr
            .as_deref()
            .filter(|a| attributes.contains_key(*a))
            .map(|a| list(attributes, a)),
        channels: list(attributes, CHANNELS_ATTR),
        ..base
    }
}

/// The identity a credential stands for. `existing_roles` filters role names to
/// roles that exist.
pub(super) fn identity(
    cfg: &SamlConfig,
    c: &Credential,
    existing_roles: &[String],
) -> SamlResult<ExternalIdentity> {
    let (id, merge_by) = match cfg.immutable {
        Immutable::Email => (
            c.email.as_deref().map(str::to_lowercase).ok_or_else(|| {
                SamlError::Invalid("the assertion has no e-mail attribute".into())
            })?,
            MergeBy::Email,
        ),
        Immutable::Username => (
            c.username.clone().ok_or_else(|| {
                SamlError::Invalid("the assertion has no username attribute".into())
            })?,
            MergeBy::Username,
        ),
    };
    let username = if cfg.generate_username {
        generated_username(c)
    } else {
        c.username.clone()
    };
    let known = |roles: &[String]| -> Vec<String> {
        roles
            .iter()
            .filter(|r| existing_roles.contains(r))
            .cloned()
            .collect()
    };
    // New accounts start with the default roles, and the role sync (the attribute is
    // read only with it on, `SamlConfig::role_attr`) adds what the attribute names,
    // recorded as its own so that a later sign-in without them takes them away.
    // Rocket.Chat gives only the named roles; keeping the defaults keeps `user`'s.
    let initial_roles = known(&cfg.default_roles);
    Ok(ExternalIdentity {
        service: SERVICE.to_string(),
        id,
        username,
        name: c.name.clone(),
        email: c.email.clone(),
        // The identity provider vouches for the attributes it signs.
        email_verified: c.email.is_some(),
        merge_by: Some(merge_by),
        relink: true,
        roles: c.roles.as_ref().map(|r| RoleSync {
            claimed: r.clone(),
            managed: vec![],
        }),
        initial_roles,
        channels: (!c.channels.is_empty()).then(|| ChannelSync {
            names: c.channels.clone(),
            admin: CHANNELS_ADMIN.to_string(),
            only_on_create: !cfg.channels_update,
        }),
        avatar_url: None,
    })
}

/// Rocket.Chat's suggestion: the name as `first.last`, else the e-mail's local part.
fn generated_username(c: &Credential) -> Option<String> {
    let from_name = c.name.as_deref().map(|n| {
        n.split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|ch| ch.is_alphanumeric() || "-_.".contains(*ch))
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    });
    from_name.filter(|n| !n.is_empty()).or_else(|| {
        c.email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .map(str::to_lowercase)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn base() -> Credential {
        Credential {
            provider: "p".into(),
            idp: "idp".into(),
            name_id: "transient-123".into(),
            name_id_format: String::new(),
            session_index: None,
            username: None,
            email: None,
            name: None,
            roles: None,
            channels: vec![],
        }
    }

    #[test]
    fn lists_split_commas_and_drop_blanks() {
        let a = attrs(&[("channels", &["eng, ops", "", "sales"])]);
        assert_eq!(list(&a, "channels"), vec!["eng", "ops", "sales"]);
        assert!(list(&a, "missing").is_empty());
    }

    #[test]
    fn generated_usernames_come_from_the_name_then_the_email() {
        let c = Credential {
            name: Some("Alice  Liddell".into()),
            email: Some("al@x.test".into()),
            ..base()
        };
        assert_eq!(generated_username(&c).as_deref(), Some("alice.liddell"));
        let c = Credential {
            email: Some("Al@x.test".into()),
            ..base()
        };
        assert_eq!(generated_username(&c).as_deref(), Some("al"));
    }
}
