//! The bridge's configuration (`[matrix]`) and its appservice registration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[matrix]`: Palaver as a Matrix application service.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatrixConfig {
    /// Runs the bridge (its listener, its queue worker).
    pub enabled: bool,
    /// The homeserver's client-server API base URL.
    pub homeserver_url: String,
    /// The homeserver's server name (the part after `:` in `@user:server`).
    pub server_name: String,
    /// Where the bridge listens for the homeserver (`address:port`).
    pub listen: String,
    /// The bridge's URL as the homeserver reaches it (written into the
    /// registration); `http://<listen>` when absent.
    pub bridge_url: Option<String>,
    /// The registration file; `<data_dir>/matrix-registration.yaml` when absent.
    pub registration_file: Option<PathBuf>,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        MatrixConfig {
            enabled: false,
            homeserver_url: "http://127.0.0.1:8008".into(),
            server_name: "localhost".into(),
            listen: "127.0.0.1:9008".into(),
            bridge_url: None,
            registration_file: None,
        }
    }
}

/// The localpart prefix of puppets (`@palaver_<username>`) and of aliases
/// (`#palaver_<room name>`).
pub const PREFIX: &str = "palaver_";
/// The bridge bot's localpart.
pub const SENDER_LOCALPART: &str = "palaver";

impl MatrixConfig {
    pub fn validate(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.homeserver_url)
            .map_err(|e| format!("matrix.homeserver_url {:?}: {e}", self.homeserver_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "matrix.homeserver_url {:?} must be http:// or https://",
                self.homeserver_url
            ));
        }
        let name_ok = !self.server_name.is_empty()
            && self.server_name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !name_ok {
            return Err(format!(
                "matrix.server_name {:?} is not a server name",
                self.server_name
            ));
        }
        self.listen_addr()?;
        if let Some(u) = &self.bridge_url {
            url::Url::parse(u).map_err(|e| format!("matrix.bridge_url {u:?}: {e}"))?;
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|e| {
            format!(
                "matrix.listen {:?} is not an address:port: {e}",
                self.listen
            )
        })
    }

    pub fn bridge_url(&self) -> String {
        match &self.bridge_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn registration_path(&self, data_dir: &Path) -> PathBuf {
        self.registration_file
            .clone()
            .unwrap_or_else(|| data_dir.join("matrix-registration.yaml"))
    }

    pub fn homeserver(&self) -> String {
        self.homeserver_url.trim_end_matches('/').to_string()
    }
}

/// The tokens shared with the homeserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// What the bridge presents to the homeserver.
    pub as_token: String,
    /// What the homeserver presents to the bridge.
    pub hs_token: String,
}

impl Registration {
    pub fn generate() -> Registration {
        Registration {
            as_token: crate::chat::ids::random_id(64),
            hs_token: crate::chat::ids::random_id(64),
        }
    }

    /// The registration YAML the homeserver loads (`app_service_config_files`).
    pub fn to_yaml(&self, config: &MatrixConfig) -> String {
        let server = regex_escape(&config.server_name);
        format!(
            "# Palaver's Matrix application service registration (written by\n\
             # `palaver matrix registration`). Give it to the homeserver\n\
             # (Synapse: app_service_config_files) and keep it secret.\n\
             id: 'palaver'\n\
             url: '{url}'\n\
             as_token: '{as_token}'\n\
             hs_token: '{hs_token}'\n\
             sender_localpart: '{SENDER_LOCALPART}'\n\
             rate_limited: false\n\
             namespaces:\n  \
               users:\n    \
                 - exclusive: true\n      \
                   regex: '@{PREFIX}.*:{server}'\n  \
               aliases:\n    \
                 - exclusive: true\n      \
                   regex: '#{PREFIX}.*:{server}'\n  \
               rooms: []\n",
            url = config.bridge_url(),
            as_token = self.as_token,
            hs_token = self.hs_token,
        )
    }

    /// Reads the tokens back from a registration file.
    pub fn parse(yaml: &str) -> Result<Registration, String> {
        let field = |name: &str| {
            yaml.lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the registration has no {name}"))
        };
        Ok(Registration {
            as_token: field("as_token")?,
            hs_token: field("hs_token")?,
        })
    }

    pub fn load(path: &Path) -> Result<Registration, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the Matrix registration {} (write it with `palaver matrix registration`): {e}",
                path.display()
            )
        })?;
        Registration::parse(&text)
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if ".[]()*+?{}|^$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_round_trips_and_scopes_the_namespaces() {
        let config = MatrixConfig {
            server_name: "chat.example.org".into(),
            listen: "127.0.0.1:9100".into(),
            ..Default::default()
        };
        let reg = Registration::generate();
        assert_ne!(reg.as_token, reg.hs_token);
        let yaml = reg.to_yaml(&config);
        assert_eq!(Registration::parse(&yaml).unwrap(), reg);
        assert!(
            yaml.contains("regex: '@palaver_.*:chat\\.example\\.org'"),
            "{yaml}"
        );
        assert!(
            yaml.contains("regex: '#palaver_.*:chat\\.example\\.org'"),
            "{yaml}"
        );
        assert!(yaml.contains("url: 'http://127.0.0.1:9100'"), "{yaml}");
        assert!(Registration::parse("id: x\n").is_err());
    }

    #[test]
    fn validation_refuses_bad_values() {
        assert!(MatrixConfig::default().validate().is_ok());
        for bad in [
            MatrixConfig {
                homeserver_url: "ftp://x".into(),
                ..Default::default()
            },
            MatrixConfig {
                homeserver_url: "nope".into(),
                ..Default::default()
            },
            MatrixConfig {
                server_name: "a b".into(),
                ..Default::default()
            },
            MatrixConfig {
                listen: "nowhere".into(),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
