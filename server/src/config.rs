//! Configuration: built-in defaults, then an optional TOML file, then `PALAVER_*`
//! environment variables (nested keys with `__`, e.g.
//! `PALAVER_LOGIN_RATE_LIMIT__PER_IP`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::apps::limits::AppLimits;
use crate::chat::password::PasswordPoolOptions;
use crate::chat::ratelimit::LimitRule;
use crate::chat::ChatOptions;
pub use crate::http_server::HttpLimits;
use crate::store::StorageTarget;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginRateLimit {
    /// Login attempts per client address per window.
    pub per_ip: u32,
    /// Login attempts per account name per window.
    pub per_user: u32,
    pub window_secs: u64,
}

impl Default for LoginRateLimit {
    fn default() -> Self {
        LoginRateLimit {
            per_ip: 30,
            per_user: 10,
            window_secs: 60,
        }
    }
}

/// The password hashing pool (`[password_hashing]`): Argon2 takes 19 MiB for each
/// computation under way, so at most `threads` run at once and `queue` more wait;
/// beyond that a login is answered 503 with `Retry-After`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashing {
    /// Hashing threads; 0 means one per available core.
    pub threads: usize,
    /// Password checks that may wait for a free thread.
    pub queue: usize,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        let d = PasswordPoolOptions::default();
        PasswordHashing {
            threads: d.threads,
            queue: d.queue,
        }
    }
}

/// The apps engine's settings (`[apps]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppsConfig {
    /// Default limits of every app (`[apps.limits]`).
    pub limits: AppLimits,
    /// Private addresses apps may reach over HTTP anyway: `address:port` pairs or
    /// CIDRs (for on-premise services). Public addresses need no entry.
    pub http_allow: Vec<String>,
    /// Operator routes for apps' outbound connections, `host:port=address:port`:
    /// the app keeps its URL (grant, `Host`, TLS name), the connection goes to the
    /// address (still vetted: a private one needs an `http_allow` entry).
    pub http_connect_to: Vec<String>,
    /// A PEM file of extra root certificates apps' HTTPS connections trust.
    pub http_extra_ca_file: Option<PathBuf>,
    /// Refuse packages without a valid signature by a trusted key.
    pub require_signatures: bool,
    /// Publisher keys (ed25519, base64 or hex) whose signatures are trusted.
    pub trusted_keys: Vec<String>,
    /// Days app log entries are kept.
    pub log_retention_days: u32,
}

impl Default for AppsConfig {
    fn default() -> Self {
        AppsConfig {
            limits: AppLimits::default(),
            http_allow: Vec::new(),
            http_connect_to: Vec::new(),
            http_extra_ca_file: None,
            require_signatures: false,
            trusted_keys: Vec::new(),
            log_retention_days: 14,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Holds the SQLite file, app packages and caches.
    pub data_dir: PathBuf,
    /// `sqlite` (default), `sqlite:<file>` or a `mongodb://…` URI.
    pub storage: String,
    /// SQLite `synchronous`: `full` (survives power loss) or `normal` (survives a
    /// process crash only).
    pub sqlite_synchronous: String,
    /// Largest size the SQLite database may grow to, in bytes (0: no cap). Past it,
    /// writes are refused as "storage full" (507) while reads go on.
    pub sqlite_max_bytes: u64,
    /// The first admin's user id, used only when it is created; generated when
    /// absent. (Rocket.Chat's API test environment names its admin's id after its
    /// username, and some of its tests read one for the other.)
    pub admin_id: Option<String>,
    pub admin_username: String,
    /// Generated and printed once when absent.
    pub admin_password: Option<String>,
    pub admin_email: String,
    /// Public base URL; derived from `listen` when absent.
    pub site_url: Option<String>,
    pub site_name: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest message text, in characters.
    pub max_message_chars: usize,
    /// Most attachments in one message, nested ones included.
    pub max_message_attachments: usize,
    /// Largest serialized size of a message's attachments, custom fields, alias,
    /// emoji and avatar (everything but its text), in bytes.
    pub max_message_bytes: usize,
    /// Days a login token stays valid.
    pub token_ttl_days: u64,
    pub login_rate_limit: LoginRateLimit,
    pub password_hashing: PasswordHashing,
    /// Seconds in-flight requests get to finish at shutdown.
    pub shutdown_grace_secs: u64,
    /// Seconds between a shutdown signal and the listener closing, during which
    /// `/readyz` answers 503 and requests are still served, so load balancers
    /// take the server out of rotation before connections are refused.
    pub shutdown_drain_secs: u64,
    /// The local marketplace: a folder of app packages admins install from.
    pub marketplace_dir: PathBuf,
    pub apps: AppsConfig,
    /// Connection timeouts and caps of the HTTP listener (`[http]`).
    pub http: HttpLimits,
    /// A separate origin (`https://apps.chat.example.com`) that alone serves apps'
    /// HTTP endpoints, so nothing an app answers shares the web client's origin.
    pub apps_origin: Option<String>,
    /// Bearer token that `GET /metrics` requires; unset, `/metrics` is disabled (404).
    pub metrics_token: Option<String>,
    /// The delivery queue's tunables (`[outbox]`).
    pub outbox: crate::worker::outbox::OutboxConfig,
    /// Outbound connections of push delivery (`[push]`).
    pub push: crate::notify::push::PushConfig,
    /// Seconds an upload (`rooms.media`) may wait for `rooms.mediaConfirm` before the
    /// sweeper deletes it.
    pub upload_unconfirmed_ttl_secs: u64,
    /// Seconds between sweeps of expired unconfirmed uploads.
    pub upload_sweep_interval_secs: u64,
    /// Seconds after which an unfinished S3 multipart upload under Palaver's keys
    /// is taken for a crash's leftover and aborted by the sweeper.
    pub upload_multipart_max_age_secs: u64,
    /// Images with more pixels than this (width × height) are refused, uploads and
    /// avatars alike, before they are decoded (decompression bombs).
    pub image_max_pixels: u64,
    /// Uploaded images larger than this many bytes are kept as plain files: no
    /// dimensions, thumbnail or preview (decoding reads the whole image).
    pub image_max_bytes: u64,
    /// Milliseconds a realtime connection counts for presence without its instance
    /// renewing it (renewed every third of it): after a crash, users are offline
    /// within about 4/3 of this.
    pub presence_ttl_ms: u64,
    /// The Matrix bridge (`[matrix]`).
    pub matrix: crate::bridges::matrix::MatrixConfig,
    /// Incoming webhooks' rate limit and the integrations' history (`[integrations]`).
    pub integrations: crate::chat::integrations::options::IntegrationsConfig,
    /// Workspace settings locked by the file or the environment (see
    /// `config/settings.rs`); collected by [`Config::load`].
    #[serde(skip)]
    pub setting_overrides: Vec<crate::chat::settings::Override>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:3000".into(),
            data_dir: PathBuf::from("./data"),
            storage: "sqlite".into(),
            sqlite_synchronous: "full".into(),
            sqlite_max_bytes: 0,
            admin_id: None,
            admin_username: "admin".into(),
            admin_password: None,
            admin_email: "admin@localhost".into(),
            site_url: None,
            site_name: "Palaver".into(),
            max_body_bytes: 1024 * 1024,
            max_message_chars: 5000,
            max_message_attachments: 100,
            max_message_bytes: 64 * 1024,
            token_ttl_days: 90,
            login_rate_limit: LoginRateLimit::default(),
            password_hashing: PasswordHashing::default(),
            shutdown_grace_secs: 10,
            shutdown_drain_secs: 0,
            marketplace_dir: PathBuf::from("./marketplace"),
            apps: AppsConfig::default(),
            http: HttpLimits::default(),
            apps_origin: None,
            metrics_token: None,
            outbox: Default::default(),
            push: Default::default(),
            upload_unconfirmed_ttl_secs: 24 * 3600,
            upload_sweep_interval_secs: 600,
            upload_multipart_max_age_secs: 24 * 3600,
            image_max_pixels: 50_000_000,
            image_max_bytes: 32 * 1024 * 1024,
            presence_ttl_ms: 45_000,
            matrix: Default::default(),
            integrations: Default::default(),
            setting_overrides: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
}

impl Config {
    /// Defaults ← `file` (if given) ← environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Variables the tests and tools use for themselves are not configuration.
        let env = Env::prefixed("PALAVER_")
            .split("__")
            .ignore(&["test_mongodb_uri", "bin"]);
        let mut config: Config = figment.merge(env).extract().map_err(Box::new)?;
        config.validate()?;
        let vars = std::env::vars().collect();
        config.setting_overrides = settings::collect(&config, file, &vars)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        validate::options(self)?;
        self.listen_addr()?;
        self.storage_target()?;
        if !matches!(self.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError::Invalid(format!(
                "sqlite_synchronous must be \"full\" or \"normal\", not {:?}",
                self.sqlite_synchronous
            )));
        }
        for entry in &self.apps.http_allow {
            crate::outbound::OperatorAllow::parse(entry).map_err(|e| {
                ConfigError::Invalid(format!("apps.http_allow entry {entry:?}: {e}"))
            })?;
        }
        crate::outbound::OperatorRouting::new(
            &self.apps.http_connect_to,
            self.apps.http_extra_ca_file.as_deref(),
        )
        .map_err(|e| ConfigError::Invalid(format!("apps: {e}")))?;
        self.apps
            .limits
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("apps.limits: {e}")))?;
        self.edge_options()?;
        self.outbox.validate().map_err(ConfigError::Invalid)?;
        crate::outbound::OperatorRouting::new(
            &self.push.connect_to,
            self.push.extra_ca_file.as_deref(),
        )
        .map_err(|e| ConfigError::Invalid(format!("push: {e}")))?;
        self.matrix.validate().map_err(ConfigError::Invalid)?;
        self.integrations.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| {
            ConfigError::Invalid(format!(
                "listen {:?} is not an address:port: {e}",
                self.listen
            ))
        })
    }

    pub fn storage_target(&self) -> Result<StorageTarget, ConfigError> {
        StorageTarget::parse(&self.storage, &self.data_dir).map_err(ConfigError::Invalid)
    }

    pub fn site_url(&self) -> String {
        match &self.site_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// How the HTTP edge treats apps' endpoints and session cookies.
    pub fn edge_options(&self) -> Result<crate::api::EdgeOptions, ConfigError> {
        let apps_origin = match self.apps_origin.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(origin) => Some(
                crate::api::AppsOrigin::parse(origin)
                    .map_err(|e| ConfigError::Invalid(format!("apps_origin {origin:?}: {e}")))?,
            ),
        };
        let site_url = self.site_url();
        let site_host = site_url
            .parse::<axum::http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()));
        Ok(crate::api::EdgeOptions {
            apps_origin,
            secure_cookies: site_url.starts_with("https://"),
            site_host,
        })
    }

    /// Integrations' options: outgoing webhooks reach targets through the guarded
    /// client with the apps' operator allow-list and routes (validated at load).
    fn integrations_options(&self) -> crate::chat::integrations::options::IntegrationOptions {
        let allow = self
            .apps
            .http_allow
            .iter()
            .filter_map(|a| crate::outbound::OperatorAllow::parse(a).ok())
            .collect();
        let http = crate::outbound::OperatorRouting::new(
            &self.apps.http_connect_to,
            self.apps.http_extra_ca_file.as_deref(),
        )
        .map(crate::outbound::OutboundHttp::with_routing)
        .unwrap_or_default();
        self.integrations
            .options(http, crate::outbound::HttpPolicy::public(allow))
    }

    pub fn chat_options(&self) -> ChatOptions {
        let window = Duration::from_secs(self.login_rate_limit.window_secs);
        ChatOptions {
            login_per_ip: LimitRule {
                limit: self.login_rate_limit.per_ip,
                window,
            },
            login_per_user: LimitRule {
                limit: self.login_rate_limit.per_user,
                window,
            },
            password_pool: PasswordPoolOptions {
                threads: self.password_hashing.threads,
                queue: self.password_hashing.queue,
            },
            token_ttl: Duration::from_secs(self.token_ttl_days * 24 * 3600),
            settings: crate::chat::settings::SettingsInit {
                site_url: self.site_url(),
                overrides: self.setting_overrides.clone(),
            },
            files_root: self.data_dir.join("uploads"),
            unconfirmed_upload_ttl: Duration::from_secs(self.upload_unconfirmed_ttl_secs),
            image_max_pixels: self.image_max_pixels,
            image_max_bytes: self.image_max_bytes,
            outbound_allow: self.apps.http_allow.clone(),
            outbound_connect_to: self.apps.http_connect_to.clone(),
            outbound_extra_ca_file: self.apps.http_extra_ca_file.clone(),
            presence_ttl: Duration::from_millis(self.presence_ttl_ms),
            integrations: self.integrations_options(),
        }
    }
}

mod settings;
mod validate;

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "palaver.toml",
                "listen = \"127.0.0.1:4000\"\nsite_name = \"Acme\"\n[login_rate_limit]\nper_ip = 5\n",
            )?;
            jail.set_env("PALAVER_LISTEN", "127.0.0.1:5000");
            jail.set_env("PALAVER_LOGIN_RATE_LIMIT__PER_USER", "3");
            jail.set_env("PALAVER_TEST_MONGODB_URI", "mongodb://ignored");
            let c = Config::load(Some(Path::new("palaver.toml"))).expect("loads");
            assert_eq!(c.listen, "127.0.0.1:5000");
            assert_eq!(c.site_name, "Acme");
            assert_eq!(c.login_rate_limit.per_ip, 5);
            assert_eq!(c.login_rate_limit.per_user, 3);
            assert_eq!(c.site_url(), "http://127.0.0.1:5000");
            Ok(())
        });
    }

    #[test]
    fn refuses_bad_values() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PALAVER_LISTEN", "nowhere");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("listen"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("PALAVER_STORAGE", "postgres://x");
            assert!(Config::load(None).is_err());
            Ok(())
        });
        assert!(Config::load(Some(Path::new("/nonexistent/palaver.toml"))).is_err());
    }
}
