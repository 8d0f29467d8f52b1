//! The settings Palaver knows: id (Rocket.Chat's where it has one), type, group and
//! section, default, and who may read it. A setting not listed here does not exist:
//! it cannot be read, set or locked.

use serde_json::{json, Value};

/// A setting's type, as Rocket.Chat names it in `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Int {
        min: i64,
        max: i64,
    },
    Boolean,
    /// One of the listed keys.
    Select(&'static [&'static str]),
    /// Multi-line text (a template, a script).
    Code,
    /// Write-only: never returned by any API, shown as set or unset.
    Password,
    /// A button: `POST {execute: true}` runs it; it has no value of its own.
    Action(Action),
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Int { .. } => "int",
            Kind::Boolean => "boolean",
            Kind::Select(_) => "select",
            Kind::Code => "code",
            Kind::Password => "password",
            Kind::Action(_) => "action",
        }
    }
}

/// What an action setting does when run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sends a test e-mail through the SMTP settings (needs the mailer).
    SmtpTest,
    /// Writes, reads and deletes a probe object on the configured file storage.
    FileStorageTest,
}

impl Action {
    /// The method name Rocket.Chat stores as the action setting's value.
    pub fn method(&self) -> &'static str {
        match self {
            Action::SmtpTest => "sendSMTPTestEmail",
            Action::FileStorageTest => "testFileUploadStorage",
        }
    }
}

/// An extra rule a string value must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    None,
    NonEmpty,
    /// An `http(s)://` URL without query or fragment.
    HttpUrl,
    /// An e-mail address, or empty (unset).
    EmailOrEmpty,
    /// A host name or address, or empty (unset).
    HostOrEmpty,
    /// A regular expression (for name validation).
    Pattern,
    /// A language tag such as `en` or `pt-BR`.
    Language,
    /// A release version `major.minor.patch` (semver, no pre-release).
    Version,
    /// A regular expression (`regex` syntax), or empty (unset).
    RegexOrEmpty,
}

/// Where a default comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// The site URL derived from the startup configuration (`listen`).
    SiteUrl,
    None,
}

/// One setting's definition.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    pub id: &'static str,
    pub kind: Kind,
    pub group: &'static str,
    pub section: &'static str,
    pub default: Default,
    /// Readable by anyone, logged in or not, through `settings.public`.
    pub public: bool,
    /// Longest string value, in characters (string, code, password).
    pub max_chars: usize,
    pub check: Check,
    /// English label (Rocket.Chat's `i18nLabel` is the id itself).
    pub label: &'static str,
    pub description: &'static str,
    /// Set by the server, never by an admin (`uniqueID`, features Palaver lacks).
    pub read_only: bool,
}

impl Def {
    /// Never returned by any API: shown as set or unset.
    pub fn secret(&self) -> bool {
        matches!(self.kind, Kind::Password)
    }

    /// The default value (`site_url`: the URL derived from the startup options).
    pub fn default_value(&self, site_url: &str) -> Value {
        match self.default {
            Default::Str(s) => json!(s),
            Default::Int(i) => json!(i),
            Default::Bool(b) => json!(b),
            Default::SiteUrl => json!(site_url),
            Default::None => match self.kind {
                Kind::Action(a) => json!(a.method()),
                _ => json!(""),
            },
        }
    }
}

pub(super) const fn def(
    id: &'static str,
    kind: Kind,
    group: &'static str,
    section: &'static str,
) -> Def {
    Def {
        id,
        kind,
        group,
        section,
        default: Default::None,
        public: false,
        max_chars: 1024,
        check: Check::None,
        label: "",
        description: "",
        read_only: false,
    }
}

pub(super) const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

pub(super) const MIB: i64 = 1024 * 1024;
pub(super) const HOUR_MS: i64 = 3_600_000;

/// Every definition, in display order (group, then section); each group is
/// defined in a file of its own.
pub fn all() -> impl Iterator<Item = &'static Def> {
    super::general::DEFS
        .iter()
        .chain(super::accounts::DEFS)
        .chain(super::message::DEFS)
        .chain(super::embed::DEFS)
        .chain(super::file_upload::DEFS)
        .chain(super::email::DEFS)
        .chain(super::realtime::DEFS)
        .chain(super::push::DEFS)
        .chain(super::ldap::DEFS)
        .chain(super::saml::DEFS)
        .chain(super::invites::DEFS)
        .chain(super::logs::DEFS)
}

/// The definition of `id` (exact id).
pub fn find(id: &str) -> Option<&'static Def> {
    all()
        .find(|d| d.id == id)
        .or_else(|| super::oauth_family::find(id))
}

/// The definition of `id` ignoring ASCII case (environment variable names).
pub fn find_ignore_case(id: &str) -> Option<&'static Def> {
    all()
        .find(|d| d.id.eq_ignore_ascii_case(id))
        .or_else(|| super::oauth_family::find(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::settings::values;

    #[test]
    fn ids_are_unique_and_defaults_valid() {
        let mut seen = std::collections::HashSet::new();
        for d in all() {
            assert!(seen.insert(d.id.to_ascii_lowercase()), "duplicate {}", d.id);
            if matches!(d.kind, Kind::Action(_)) {
                continue;
            }
            let default = d.default_value("http://localhost:3000");
            values::validate(d, &default).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        }
    }
}
