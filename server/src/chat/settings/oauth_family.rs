//! Rocket.Chat's custom OAuth settings, one family per provider:
//! `Accounts_OAuth_Custom-<name>` (enabled) and `Accounts_OAuth_Custom-<name>-<field>`.
//! A provider comes into being when an admin (or the startup configuration) sets one
//! of its settings; any name of `[a-z0-9_]` works, as in Rocket.Chat's
//! `updateOAuthServices`. Names are case-insensitive (Rocket.Chat lowercases the
//! service key), so the settings are stored under the lowercase name.
//!
//! The registry hands out `&'static Def`s; a family's definitions are built once per
//! provider name and kept for the life of the process (bounded by [`MAX_PROVIDERS`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::registry::{Check, Def, Default, Kind};

pub const PREFIX: &str = "Accounts_OAuth_Custom-";
/// Distinct provider names one process will define (the definitions are leaked).
pub const MAX_PROVIDERS: usize = 64;
const MAX_NAME: usize = 40;

/// One field of the family: suffix ("" for the enable switch), kind, default, label.
struct Field {
    suffix: &'static str,
    kind: Kind,
    default: Default,
    label: &'static str,
    description: &'static str,
}

const fn f(suffix: &'static str, kind: Kind, default: Default, label: &'static str) -> Field {
    Field {
        suffix,
        kind,
        default,
        label,
        description: "",
    }
}

/// Rocket.Chat's fields (addOAuthService.ts), with its defaults, plus `oidc_issuer`.
static FIELDS: &[Field] = &[
    f("", Kind::Boolean, Default::Bool(false), "Enable"),
    Field {
        description: "Palaver: an OpenID Connect issuer URL. When set, endpoints come from its discovery document and every login needs an ID token signed by the issuer's keys.",
        ..f("oidc_issuer", Kind::String, Default::Str(""), "OpenID Connect issuer")
    },
    f("url", Kind::String, Default::Str(""), "URL"),
    f("token_path", Kind::String, Default::Str("/oauth/token"), "Token Path"),
    f(
        "token_sent_via",
        Kind::Select(&["header", "payload"]),
        Default::Str("payload"),
        "Token Sent Via",
    ),
    f(
        "identity_token_sent_via",
        Kind::Select(&["default", "header", "payload"]),
        Default::Str("default"),
        "Identity Token Sent Via",
    ),
    f("identity_path", Kind::String, Default::Str("/me"), "Identity Path"),
    f("authorize_path", Kind::String, Default::Str("/oauth/authorize"), "Authorize Path"),
    f("scope", Kind::String, Default::Str("openid"), "Scope"),
    f("access_token_param", Kind::String, Default::Str("access_token"), "Param Name for access token"),
    f("id", Kind::String, Default::Str(""), "Id"),
    f("secret", Kind::Password, Default::Str(""), "Secret"),
    f(
        "login_style",
        Kind::Select(&["redirect", "popup", ""]),
        Default::Str("popup"),
        "Login Style",
    ),
    f("button_label_text", Kind::String, Default::Str(""), "Button Text"),
    f("button_label_color", Kind::String, Default::Str("#FFFFFF"), "Button Text Color"),
    f("button_color", Kind::String, Default::Str("#1d74f5"), "Button Color"),
    Field {
        description: "With Merge users: which attribute links an existing account on first sign-in. Email links only when the provider says the address is verified.",
        ..f("key_field", Kind::Select(&["username", "email"]), Default::Str("username"), "Key Field")
    },
    f("username_field", Kind::String, Default::Str(""), "Username field"),
    f("email_field", Kind::String, Default::Str(""), "Email field"),
    f("name_field", Kind::String, Default::Str(""), "Name field"),
    Field {
        description: "A claim with a picture URL: fetched (public hosts only, as avatar URLs are) and made the avatar when it changes.",
        ..f("avatar_field", Kind::String, Default::Str(""), "Avatar field")
    },
    f("roles_claim", Kind::String, Default::Str("roles"), "Roles/Groups field name"),
    f("groups_claim", Kind::String, Default::Str("groups"), "Roles/Groups field for channel mapping"),
    f("channels_admin", Kind::String, Default::Str("rocket.cat"), "User Data Group Map"),
    Field {
        description: "On every sign-in, join the channels that Channel Map names for the groups in the groups claim (a missing channel is created by the channels admin).",
        ..f("map_channels", Kind::Boolean, Default::Bool(false), "Map Roles/Groups to channels")
    },
    Field {
        description: "JSON: group name -> channel name, or a list of channel names.",
        ..f(
            "groups_channel_map",
            Kind::Code,
            Default::Str("{\n\t\"rocket-admin\": \"admin\",\n\t\"tech-support\": \"support\"\n}"),
            "OAuth Group Channel Map",
        )
    },
    Field {
        description: "Roles from the roles claim are applied on every login: roles the claim names are given, roles it no longer names are taken away (those it gave before, and those listed in Roles to Sync).",
        ..f("merge_roles", Kind::Boolean, Default::Bool(false), "Merge Roles from SSO")
    },
    f("roles_to_sync", Kind::String, Default::Str(""), "Roles to Sync"),
    Field {
        description: "Link an existing account with the same e-mail address on first sign-in, only when the provider says the address is verified.",
        ..f("merge_users", Kind::Boolean, Default::Bool(false), "Merge users")
    },
    f(
        "merge_users_distinct_services",
        Kind::Boolean,
        Default::Bool(false),
        "Merge users from distinct services",
    ),
    f("show_button", Kind::Boolean, Default::Bool(true), "Show Button on Login Page"),
];

/// Splits `id` into (lowercase provider name, field suffix) when it is in a family.
pub fn split(id: &str) -> Option<(String, &str)> {
    let rest = id
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))?;
    let rest = &id[rest.len()..];
    let (name, field) = match rest.split_once('-') {
        Some((n, f)) => (n, f),
        None => (rest, ""),
    };
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid
        || !FIELDS
            .iter()
            .any(|fd| fd.suffix.eq_ignore_ascii_case(field))
    {
        return None;
    }
    Some((name.to_ascii_lowercase(), field))
}

/// The setting id of `field` for provider `name`.
pub fn id(name: &str, field: &str) -> String {
    if field.is_empty() {
        format!("{PREFIX}{name}")
    } else {
        format!("{PREFIX}{name}-{field}")
    }
}

type Families = HashMap<String, &'static [Def]>;

fn families() -> &'static Mutex<Families> {
    static F: OnceLock<Mutex<Families>> = OnceLock::new();
    F.get_or_init(Mutex::default)
}

/// The definitions of provider `name` (lowercase), built on first use.
fn family(name: &str) -> Option<&'static [Def]> {
    let mut all = families().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(defs) = all.get(name) {
        return Some(defs);
    }
    if all.len() >= MAX_PROVIDERS {
        return None;
    }
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let section = leak(format!("Custom OAuth: {name}"));
    let defs: Vec<Def> = FIELDS
        .iter()
        .map(|fd| Def {
            id: leak(id(name, fd.suffix)),
            kind: fd.kind,
            group: "OAuth",
            section,
            default: fd.default,
            public: false,
            max_chars: 1024,
            check: Check::None,
            label: fd.label,
            description: fd.description,
            read_only: false,
        })
        .collect();
    let defs: &'static [Def] = Box::leak(defs.into_boxed_slice());
    all.insert(name.to_string(), defs);
    Some(defs)
}

/// The definition of a family setting `id` (any case).
pub fn find(id: &str) -> Option<&'static Def> {
    let (name, field) = split(id)?;
    let want = self::id(&name, &field.to_ascii_lowercase());
    family(&name)?.iter().find(|d| d.id == want)
}

/// Every definition of the providers named in `names`, for listings.
pub fn defs_of<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'static Def> {
    names
        .into_iter()
        .filter_map(family)
        .flat_map(|defs| defs.iter())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_ids_resolve_in_any_case_to_the_lowercase_name() {
        assert_eq!(
            find("Accounts_OAuth_Custom-Keycloak").map(|d| d.id),
            Some("Accounts_OAuth_Custom-keycloak")
        );
        assert_eq!(
            find("accounts_oauth_custom-keycloak-TOKEN_PATH").map(|d| d.id),
            Some("Accounts_OAuth_Custom-keycloak-token_path")
        );
        assert!(find("Accounts_OAuth_Custom-keycloak-nonsense").is_none());
        assert!(find("Accounts_OAuth_Custom-bad.name").is_none());
        assert!(find("Accounts_OAuth_Custom-").is_none());
        assert!(find("Accounts_OAuth_Custom-keycloak-secret").is_some_and(|d| d.secret()));
    }
}
