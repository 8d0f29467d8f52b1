//! The service provider's configuration, read from the `SAML_Custom_Default*`
//! settings each time it is used, so changes apply at once.

use serde_json::Value;

use crate::chat::settings::Settings;

/// Which signatures a Response must carry (`signature_validation_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureRule {
    Response,
    Assertion,
    Either,
    All,
}

/// Which attribute identifies a person (Rocket.Chat's `immutable_property`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Immutable {
    Email,
    Username,
}

/// One SAML identity provider and this server as its service provider.
#[derive(Clone, Debug)]
pub struct SamlConfig {
    pub enabled: bool,
    /// The name in the addresses (`/_saml/validate/<provider>`).
    pub provider: String,
    pub entry_point: String,
    pub idp_slo_url: String,
    /// This service provider's entity id (and the audience it expects).
    pub issuer: String,
    /// The assertion consumer service: `<Site_Url>/_saml/validate/<provider>`.
    pub acs_url: String,
    /// Where logout messages come: `<Site_Url>/_saml/logout/<provider>`.
    pub slo_url: String,
    pub idp_cert: String,
    pub sp_cert: String,
    pub sp_private_key: String,
    pub rule: SignatureRule,
    pub allow_sha1: bool,
    pub clock_drift_ms: i64,
    pub debug: bool,
    pub lowercase_username: bool,
    /// SAML logout at the identity provider too (else local only).
    pub logout_at_idp: bool,
    pub immutable: Immutable,
    pub generate_username: bool,
    /// Roles of new accounts (when the role attribute gives none).
    pub default_roles: Vec<String>,
    /// The attribute whose values are roles, when role sync is on.
    pub role_attr: Option<String>,
    /// Join the `channels` attribute's channels on every sign-in (else on creation).
    pub channels_update: bool,
    pub allow_idp_initiated: bool,
    pub username_attr: String,
    pub email_attr: String,
    pub name_attr: String,
    pub button_label_text: String,
    pub button_label_color: String,
    pub button_color: String,
}

fn id(field: &str) -> String {
    if field.is_empty() {
        crate::chat::settings::saml::PREFIX.to_string()
    } else {
        format!("{}_{field}", crate::chat::settings::saml::PREFIX)
    }
}

impl SamlConfig {
    pub fn load(settings: &Settings) -> SamlConfig {
        let s = |f: &str| settings.string(&id(f)).trim().to_string();
        let site = settings
            .string("Site_Url")
            .trim_end_matches('/')
            .to_string();
        let provider = s("provider");
        let issuer = match s("issuer") {
            i if i.is_empty() => format!("{site}/_saml/metadata/{provider}"),
            i => i,
        };
        let map: Value = serde_json::from_str(&s("user_data_fieldmap")).unwrap_or(Value::Null);
        let field = |k: &str, default: &str| {
            map.get(k)
                .and_then(|v| {
                    v.as_str()
                        .or_else(|| v.get("fieldName").and_then(Value::as_str))
                })
                .unwrap_or(default)
                .to_string()
        };
        SamlConfig {
            enabled: settings.bool(&id("")),
            acs_url: format!("{site}/_saml/validate/{provider}"),
            slo_url: format!("{site}/_saml/logout/{provider}"),
            provider,
            entry_point: s("entry_point"),
            idp_slo_url: s("idp_slo_redirect_url"),
            issuer,
            idp_cert: s("cert"),
            sp_cert: s("public_cert"),
            sp_private_key: s("private_key"),
            rule: match s("signature_validation_type").as_str() {
                "Response" => SignatureRule::Response,
                "Assertion" => SignatureRule::Assertion,
                "Either" => SignatureRule::Either,
                _ => SignatureRule::All,
            },
            allow_sha1: settings.bool(&id("allow_sha1")),
            clock_drift_ms: settings.int(&id("allowed_clock_drift")).clamp(0, 300_000),
            debug: settings.bool(&id("debug")),
            lowercase_username: s("username_normalize") == "Lowercase",
            logout_at_idp: s("logout_behaviour") != "Local",
            immutable: if s("immutable_property") == "Username" {
                Immutable::Username
            } else {
                Immutable::Email
            },
            generate_username: settings.bool(&id("generate_username")),
            default_roles: s("default_user_role")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            role_attr: Some(s("role_attribute_name"))
                .filter(|a| !a.is_empty() && settings.bool(&id("role_attribute_sync"))),
            channels_update: settings.bool(&id("channels_update")),
            allow_idp_initiated: settings.bool(&id("allow_idp_initiated")),
            username_attr: field("username", "username"),
            email_attr: field("email", "email"),
            name_attr: field("name", "cn"),
            button_label_text: s("button_label_text"),
            button_label_color: s("button_label_color"),
            button_color: s("button_color"),
        }
    }
}
