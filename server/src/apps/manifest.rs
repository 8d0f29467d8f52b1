//! `app.toml`: what an app is, which API version it was built for, what it asks
//! for (permissions, network hosts), and what it offers (settings, commands,
//! endpoints, event handlers). Validated before anything is stored.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::permissions::{Grant, Permission};

/// API versions of the `palaver:apps` WIT package this host serves.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["0.1.0"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid app manifest: {0}")]
pub struct ManifestError(pub String);

fn bad(msg: impl Into<String>) -> ManifestError {
    ManifestError(msg.into())
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    pub name: String,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub support: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionRequest {
    pub name: String,
    #[serde(default = "yes")]
    pub required: bool,
    /// Why the app needs it, shown to the admin.
    #[serde(default)]
    pub reason: Option<String>,
    /// For `networking`: host patterns (`api.example.com`, `*.example.com`,
    /// `https://host:8443`).
    #[serde(default)]
    pub hosts: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingType {
    String,
    Int,
    Bool,
    Select,
    Password,
    Multiline,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingOption {
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SettingType,
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// For `select`.
    #[serde(default)]
    pub options: Vec<SettingOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub params: String,
    /// The command offers preview items while the user types.
    #[serde(default)]
    pub preview: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDef {
    /// Path below `/api/apps/{public|private}/<app id>/`, e.g. `webhook`.
    pub path: String,
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// Public endpoints need no login; private ones see the calling user.
    #[serde(default)]
    pub public: bool,
}

fn default_methods() -> Vec<String> {
    vec!["GET".into(), "POST".into()]
}

/// Event handlers an app may subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "pre-message-sent")]
    PreMessageSent,
    #[serde(rename = "post-message-sent")]
    PostMessageSent,
    #[serde(rename = "post-message-updated")]
    PostMessageUpdated,
    #[serde(rename = "post-message-deleted")]
    PostMessageDeleted,
    #[serde(rename = "post-room-created")]
    PostRoomCreated,
    #[serde(rename = "post-room-user-joined")]
    PostRoomUserJoined,
    #[serde(rename = "post-room-user-left")]
    PostRoomUserLeft,
    #[serde(rename = "post-user-created")]
    PostUserCreated,
    #[serde(rename = "post-message-sent-to-bot")]
    PostMessageSentToBot,
}

impl EventKind {
    /// The permission an app needs to receive this event.
    pub fn needs(self) -> Permission {
        match self {
            EventKind::PreMessageSent
            | EventKind::PostMessageSent
            | EventKind::PostMessageUpdated
            | EventKind::PostMessageDeleted
            | EventKind::PostMessageSentToBot => Permission::MessageRead,
            EventKind::PostRoomCreated
            | EventKind::PostRoomUserJoined
            | EventKind::PostRoomUserLeft => Permission::RoomRead,
            EventKind::PostUserCreated => Permission::UserRead,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub author: Author,
    pub api_version: String,
    #[serde(default)]
    pub permissions: Vec<PermissionRequest>,
    #[serde(default)]
    pub settings: Vec<SettingDef>,
    #[serde(default)]
    pub commands: Vec<CommandDef>,
    #[serde(default)]
    pub endpoints: Vec<EndpointDef>,
    #[serde(default)]
    pub events: Vec<EventKind>,
    /// Pre-send hooks fail closed: when the app faults, the message is refused.
    #[serde(default)]
    pub essential: bool,
    /// Pre-send order: higher runs first, then install order.
    #[serde(default)]
    pub priority: i32,
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    (2..=63).contains(&b.len())
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
}

fn valid_command(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

fn valid_endpoint_path(path: &str) -> bool {
    (1..=128).contains(&path.len())
        && !path.starts_with('/')
        && !path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        && path
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
}

impl Manifest {
    /// Parses and validates `app.toml`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| bad(format!("app.toml: {}", e.message())))?;
        manifest.validate()?;
        Ok(manifest)
    }

    pub fn semver(&self) -> semver::Version {
        semver::Version::parse(&self.version).unwrap_or(semver::Version::new(0, 0, 0))
    }

    fn validate(&self) -> Result<(), ManifestError> {
        if !valid_id(&self.id) {
            return Err(bad(format!(
                "id {:?} must be 2-63 lower-case letters, digits, '.' or '-', starting with a letter or digit",
                self.id
            )));
        }
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(bad("name must be 1-100 characters"));
        }
        semver::Version::parse(&self.version)
            .map_err(|e| bad(format!("version {:?} is not semver: {e}", self.version)))?;
        if self.author.name.trim().is_empty() {
            return Err(bad("author.name is required"));
        }
        if !SUPPORTED_API_VERSIONS.contains(&self.api_version.as_str()) {
            return Err(bad(format!(
                "api-version {:?} is not served by this Palaver (it serves {})",
                self.api_version,
                SUPPORTED_API_VERSIONS.join(", ")
            )));
        }
        let mut seen = BTreeSet::new();
        for p in &self.permissions {
            let perm = Permission::from_name(&p.name).ok_or_else(|| {
                bad(format!(
                    "unknown permission {:?}; known: {}",
                    p.name,
                    Permission::ALL.map(|p| p.name()).join(", ")
                ))
            })?;
            if !seen.insert(perm) {
                return Err(bad(format!("permission {:?} is listed twice", p.name)));
            }
            if perm == Permission::Networking {
                if p.hosts.is_empty() {
                    return Err(bad("networking needs a non-empty hosts list"));
                }
                for h in &p.hosts {
                    crate::outbound::HostPattern::parse(h)
                        .map_err(|e| bad(format!("networking host {h:?}: {e}")))?;
                }
            } else if !p.hosts.is_empty() {
                return Err(bad(format!(
                    "only networking takes hosts, not {:?}",
                    p.name
                )));
            }
        }
        let mut ids = BTreeSet::new();
        for s in &self.settings {
            if !valid_command(&s.id.replace('.', "-")) {
                return Err(bad(format!("setting id {:?} is not valid", s.id)));
            }
            if !ids.insert(&s.id) {
                return Err(bad(format!("setting {:?} is declared twice", s.id)));
            }
            if s.kind == SettingType::Select && s.options.is_empty() {
                return Err(bad(format!("select setting {:?} needs options", s.id)));
            }
            if let Some(default) = &s.default {
                super::settings::value_from_toml(s, default)
                    .map_err(|e| bad(format!("default of setting {:?}: {e}", s.id)))?;
            }
        }
        let mut names = BTreeSet::new();
        for c in &self.commands {
            if !valid_command(&c.name) {
                return Err(bad(format!(
                    "command {:?} must be 1-32 lower-case letters, digits, '-' or '_'",
                    c.name
                )));
            }
            if !names.insert(&c.name) {
                return Err(bad(format!("command {:?} is declared twice", c.name)));
            }
        }
        if !self.commands.is_empty() && !self.requests(Permission::SlashCommand) {
            return Err(bad("commands need the slashcommand permission"));
        }
        let mut paths = BTreeSet::new();
        for e in &self.endpoints {
            if !valid_endpoint_path(&e.path) {
                return Err(bad(format!("endpoint path {:?} is not valid", e.path)));
            }
            if !paths.insert(&e.path) {
                return Err(bad(format!("endpoint {:?} is declared twice", e.path)));
            }
            for m in &e.methods {
                if !matches!(m.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                    return Err(bad(format!(
                        "endpoint {:?}: method {m:?} is not supported",
                        e.path
                    )));
                }
            }
        }
        if !self.endpoints.is_empty() && !self.requests(Permission::Api) {
            return Err(bad("endpoints need the api permission"));
        }
        let mut events = BTreeSet::new();
        for e in &self.events {
            if !events.insert(e) {
                return Err(bad(format!("event {e:?} is listed twice")));
            }
        }
        Ok(())
    }

    pub fn requests(&self, p: Permission) -> bool {
        self.permissions.iter().any(|r| r.name == p.name())
    }

    /// Everything the manifest asks for.
    pub fn full_grant(&self) -> Grant {
        Grant {
            permissions: self
                .permissions
                .iter()
                .filter_map(|p| Permission::from_name(&p.name))
                .collect(),
            hosts: self.network_hosts(),
        }
    }

    pub fn network_hosts(&self) -> Vec<String> {
        self.permissions
            .iter()
            .filter(|p| p.name == Permission::Networking.name())
            .flat_map(|p| p.hosts.iter().cloned())
            .collect()
    }

    /// Checks an admin's grant: only what is asked, and everything required.
    pub fn check_grant(&self, names: &[String]) -> Result<Grant, ManifestError> {
        let mut permissions = BTreeSet::new();
        for name in names {
            let p = Permission::from_name(name)
                .ok_or_else(|| bad(format!("unknown permission {name:?}")))?;
            if !self.requests(p) {
                return Err(bad(format!(
                    "the app does not ask for {name:?}; it can only be granted what it asks for"
                )));
            }
            permissions.insert(p);
        }
        for r in self.permissions.iter().filter(|r| r.required) {
            if !names.contains(&r.name) {
                return Err(bad(format!(
                    "{:?} is required by the app and must be granted",
                    r.name
                )));
            }
        }
        let hosts = if permissions.contains(&Permission::Networking) {
            self.network_hosts()
        } else {
            Vec::new()
        };
        Ok(Grant { permissions, hosts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = r#"
id = "hello"
name = "Hello"
version = "0.1.0"
api-version = "0.1.0"
events = ["pre-message-sent"]
[author]
name = "Palaver"
[[permissions]]
name = "slashcommand"
[[permissions]]
name = "networking"
hosts = ["example.com"]
required = false
[[settings]]
id = "forbidden-word"
type = "string"
label = "Forbidden word"
default = "forbidden"
[[commands]]
name = "hello"
"#;

    #[test]
    fn parses_a_manifest() {
        let m = Manifest::parse(HELLO).unwrap();
        assert_eq!(m.id, "hello");
        assert_eq!(m.events, vec![EventKind::PreMessageSent]);
        assert_eq!(m.network_hosts(), vec!["example.com"]);
    }

    #[test]
    fn refuses_bad_manifests_with_reasons() {
        let cases = [
            (HELLO.replace("0.1.0\"\napi", "one\"\napi"), "not semver"),
            (
                HELLO.replace("api-version = \"0.1.0\"", "api-version = \"9.0.0\""),
                "not served",
            ),
            (
                HELLO.replace("name = \"slashcommand\"", "name = \"root\""),
                "unknown permission",
            ),
            (HELLO.replace("id = \"hello\"", "id = \"../x\""), "id"),
            (format!("{HELLO}\nsurprise = 1\n"), "unknown field"),
        ];
        for (text, expect) in cases {
            let err = Manifest::parse(&text).unwrap_err().to_string();
            assert!(err.contains(expect), "{expect:?} not in {err:?}");
        }
    }

    #[test]
    fn grants_are_checked() {
        let m = Manifest::parse(HELLO).unwrap();
        let g = m.check_grant(&["slashcommand".into()]).unwrap();
        assert!(g.allows(Permission::SlashCommand) && !g.allows(Permission::Networking));
        assert!(g.hosts.is_empty());
        assert!(m.check_grant(&[]).unwrap_err().0.contains("required"));
        assert!(m
            .check_grant(&["slashcommand".into(), "persistence".into()])
            .unwrap_err()
            .0
            .contains("does not ask"));
        assert_eq!(m.full_grant().hosts, vec!["example.com"]);
    }
}
