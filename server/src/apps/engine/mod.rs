//! The apps engine: installed apps, their lifecycle (install, enable, disable,
//! settings, uninstall, reload after a restart) and the statuses an admin sees.
//! Dispatch of chat events, commands, endpoints and jobs lives in the submodules.

mod commands;
mod dispatch;
mod jobs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Mutex as AsyncMutex, Semaphore};

pub use commands::{CommandInfo, CommandLine, CommandOutcome, EndpointCall, CORE_COMMANDS};

use super::host::bindings::AppPre;
use super::host::state::{AppContext, HostState};
use super::http::{HttpPolicy, OperatorAllow, OperatorRouting, OutboundHttp};
use super::limits::AppLimits;
use super::logs::{AppLogger, LogWriter};
use super::manifest::{EventKind, Manifest, ManifestError, SettingType};
use super::package::{self, Package, PackageError, PackageLimits};
use super::permissions::{Grant, Permission};
use super::pool::{Call, Fault, InstancePool, Outcome};
use super::runtime::{Runtime, RuntimeError};
use crate::chat::{Chat, ChatError};
use crate::store::apps::AppRecord;
use crate::store::{DynStore, StoreError, Ts, User};

/// Rocket.Chat's app statuses.
pub mod status {
    pub const INITIALIZED: &str = "initialized";
    pub const AUTO_ENABLED: &str = "auto_enabled";
    pub const MANUALLY_ENABLED: &str = "manually_enabled";
    pub const MANUALLY_DISABLED: &str = "manually_disabled";
    pub const ERROR_DISABLED: &str = "error_disabled";
    pub const INVALID_SETTINGS_DISABLED: &str = "invalid_settings_disabled";
    pub const INVALID_INSTALLATION_DISABLED: &str = "invalid_installation_disabled";

    pub fn is_enabled(status: &str) -> bool {
        status == AUTO_ENABLED || status == MANUALLY_ENABLED
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("{0}")]
    Package(#[from] PackageError),
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Component(String),
    #[error("app {0:?} is not installed")]
    NotInstalled(String),
    #[error("app {0:?} is already installed; update it instead")]
    AlreadyInstalled(String),
    #[error("{0}")]
    Clash(String),
    #[error("{0}")]
    Invalid(String),
    #[error("app {0:?} is not enabled")]
    Disabled(String),
    #[error("not found")]
    NotFound,
    /// The marketplace has no (valid) package of that app or version.
    #[error("{0}")]
    NotInMarketplace(String),
    /// The admin's permission grant does not fit the manifest.
    #[error("{0}")]
    Grant(String),
    #[error("the app {app} {fault}")]
    Fault { app: String, fault: Fault },
    #[error("the app {app} answered with an error: {message}")]
    AppError { app: String, message: String },
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
    /// An update asks for more than was granted: the admin must grant it again.
    #[error("the new version asks for more permissions ({}); grant them to update", .added.join(", "))]
    PermissionsGrew {
        added: Vec<String>,
        removed: Vec<String>,
    },
}

impl From<RuntimeError> for AppsError {
    fn from(e: RuntimeError) -> Self {
        AppsError::Component(e.to_string())
    }
}

/// The engine's fixed settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub marketplace_dir: PathBuf,
    pub limits: AppLimits,
    pub http_allow: Vec<String>,
    pub http_connect_to: Vec<String>,
    pub http_extra_ca_file: Option<PathBuf>,
    pub site_url: String,
    pub package_limits: PackageLimits,
    pub log_retention_days: u32,
    pub require_signatures: bool,
    pub trusted_keys: Vec<String>,
}

/// An app running (enabled): its instance pool and its event queue.
pub(crate) struct Enabled {
    pub pool: Arc<InstancePool>,
    pub events: mpsc::Sender<Call>,
}

/// An installed app.
pub(crate) struct Installed {
    pub id: String,
    pub manifest: Arc<Manifest>,
    /// The package's README, shown to admins.
    pub readme: Option<String>,
    /// The compiled component; `None` when it could not be loaded.
    pub pre: Option<AppPre<HostState>>,
    pub logger: Arc<AppLogger>,
    pub record: RwLock<AppRecord>,
    /// The bot user's id (fixed for the app's life).
    pub bot_user_id: String,
    /// The effective grant, computed when the record changes: it is consulted on
    /// every message.
    grant: RwLock<Arc<Grant>>,
    /// The bot user, looked up once: hooks check what the bot may read per message.
    pub bot: RwLock<Option<Arc<User>>>,
    pub enabled: RwLock<Option<Arc<Enabled>>>,
    /// Serialises admin operations on this app.
    pub ops: AsyncMutex<()>,
}

impl Installed {
    pub fn record(&self) -> AppRecord {
        self.record
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn running(&self) -> Option<Arc<Enabled>> {
        self.enabled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The effective grant: the record's granted names checked against the manifest.
    pub fn grant(&self) -> Arc<Grant> {
        self.grant.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn compute_grant(manifest: &Manifest, granted: &[String]) -> Arc<Grant> {
        let mut grant = manifest
            .check_grant(granted)
            .unwrap_or_else(|_| Grant::default());
        grant.hosts = manifest.network_hosts();
        if !grant.allows(Permission::Networking) {
            grant.hosts.clear();
        }
        Arc::new(grant)
    }

    pub fn subscribes(&self, event: EventKind) -> bool {
        self.manifest.events.contains(&event) && self.grant().allows(event.needs())
    }
}

pub struct AppsEngine {
    runtime: Runtime,
    chat: Arc<Chat>,
    store: DynStore,
    cfg: EngineConfig,
    http: OutboundHttp,
    operator_allow: Vec<OperatorAllow>,
    log_writer: Arc<LogWriter>,
    installed: RwLock<BTreeMap<String, Arc<Installed>>>,
    /// Enabled apps with a pre-send hook, in chain order; rebuilt on every change.
    pre_send_chain: RwLock<Arc<Vec<Arc<Installed>>>>,
    /// This process's name on job leases.
    instance_id: String,
    /// Post-event calls dropped because an app's queue was full.
    events_dropped: AtomicU64,
    me: Weak<AppsEngine>,
}

fn bot_username(app_id: &str) -> String {
    format!("{}.bot", app_id.replace('.', "-"))
}

fn io(e: impl std::fmt::Display) -> AppsError {
    AppsError::Io(e.to_string())
}

impl AppsEngine {
    /// Creates the engine and reloads the installed apps.
    pub async fn start(
        chat: Arc<Chat>,
        store: DynStore,
        cfg: EngineConfig,
    ) -> Result<Arc<AppsEngine>, AppsError> {
        let runtime = {
            let limits = cfg.limits.clone();
            let cache = cfg.data_dir.join("apps").join("compiled");
            tokio::task::spawn_blocking(move || Runtime::new(&limits, &cache))
                .await
                .map_err(io)??
        };
        let operator_allow = cfg
            .http_allow
            .iter()
            .map(|a| OperatorAllow::parse(a).map_err(|e| AppsError::Invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let routing = OperatorRouting::new(&cfg.http_connect_to, cfg.http_extra_ca_file.as_deref())
            .map_err(|e| AppsError::Invalid(e.to_string()))?;
        for dir in ["packages", "files", "assets"] {
            std::fs::create_dir_all(cfg.data_dir.join("apps").join(dir)).map_err(io)?;
        }
        let engine = Arc::new_cyclic(|me| AppsEngine {
            runtime,
            log_writer: Arc::new(LogWriter::start(store.clone())),
            chat,
            store,
            cfg,
            http: OutboundHttp::with_routing(routing),
            operator_allow,
            installed: RwLock::new(BTreeMap::new()),
            pre_send_chain: RwLock::new(Arc::new(Vec::new())),
            instance_id: crate::chat::ids::new_id(),
            events_dropped: AtomicU64::new(0),
            me: me.clone(),
        });
        engine.reload().await?;
        engine.chat.set_pre_send_hook(engine.clone());
        engine.spawn_event_dispatcher();
        engine.spawn_scheduler();
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub(crate) fn app(&self, id: &str) -> Result<Arc<Installed>, AppsError> {
        self.installed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| AppsError::NotInstalled(id.to_string()))
    }

    /// The instance pool of an enabled app (diagnostics and benchmarks).
    pub fn instance_pool(&self, id: &str) -> Option<Arc<InstancePool>> {
        Some(self.app(id).ok()?.running()?.pool.clone())
    }

    pub(crate) fn all(&self) -> Vec<Arc<Installed>> {
        self.installed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn package_path(&self, sha256: &str) -> PathBuf {
        self.cfg
            .data_dir
            .join("apps")
            .join("packages")
            .join(format!("{sha256}.zip"))
    }

    fn files_dir(&self, app_id: &str) -> PathBuf {
        self.cfg.data_dir.join("apps").join("files").join(app_id)
    }

    /// The app's extracted package assets (README, icon, translations); the app
    /// itself never sees this directory.
    fn assets_dir(&self, app_id: &str) -> PathBuf {
        self.cfg.data_dir.join("apps").join("assets").join(app_id)
    }

    /// The installed app's icon (PNG), if its package has one.
    pub fn icon(&self, app_id: &str) -> Result<Option<Vec<u8>>, AppsError> {
        self.app(app_id)?;
        match std::fs::read(self.assets_dir(app_id).join("icon.png")) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Compiles a component on the blocking pool (it is CPU-heavy).
    async fn prepare(&self, wasm: Vec<u8>) -> Result<AppPre<HostState>, AppsError> {
        let me = self.me.upgrade().ok_or_else(|| io("engine stopped"))?;
        tokio::task::spawn_blocking(move || me.runtime.prepare(&wasm).map(|(pre, _)| pre))
            .await
            .map_err(io)?
            .map_err(AppsError::from)
    }

    /// Loads every installed app again after a start; apps that were enabled are
    /// enabled again. An app that cannot be loaded is kept, with its reason.
    async fn reload(&self) -> Result<(), AppsError> {
        for mut record in self.store.apps().await? {
            let loaded = match std::fs::read(self.package_path(&record.package_sha256)) {
                Ok(bytes) => match package::read(&bytes, &self.cfg.package_limits) {
                    Ok(p) => {
                        let wasm = p.wasm.clone();
                        self.prepare(wasm).await.map(|pre| (p, pre))
                    }
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(AppsError::Io(format!("package file: {e}"))),
            };
            match loaded {
                Ok((package, pre)) => {
                    let was_enabled = status::is_enabled(&record.status);
                    let app = self.register(record, package, Some(pre));
                    if was_enabled {
                        if let Err(e) = self.enable_loaded(&app, None).await {
                            tracing::warn!(app_id = %app.id, error = %e, "app could not be enabled at start-up");
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(app_id = %record.id, error = %e, "installed app cannot be loaded");
                    record.status = status::INVALID_INSTALLATION_DISABLED.into();
                    record.status_reason = Some(format!("cannot be loaded: {e}"));
                    self.store.put_app(&record).await?;
                    if let Ok(manifest) = Manifest::parse(&record.manifest) {
                        let package = Package {
                            manifest,
                            manifest_text: record.manifest.clone(),
                            wasm: Vec::new(),
                            readme: None,
                            icon: None,
                            i18n: BTreeMap::new(),
                            sha256: record.package_sha256.clone(),
                        };
                        self.register(record, package, None);
                    }
                }
            }
        }
        Ok(())
    }

    fn register(
        &self,
        record: AppRecord,
        package: Package,
        pre: Option<AppPre<HostState>>,
    ) -> Arc<Installed> {
        // Every instance extracts for itself: with several instances the disks differ.
        if let Err(e) = package::extract_assets(&package, &self.assets_dir(&record.id)) {
            tracing::warn!(app_id = %record.id, error = %e, "cannot extract the package's assets");
        }
        let grant = Installed::compute_grant(&package.manifest, &record.granted);
        let app = Arc::new(Installed {
            id: record.id.clone(),
            bot_user_id: record.bot_user_id.clone(),
            grant: RwLock::new(grant),
            bot: RwLock::new(None),
            manifest: Arc::new(package.manifest.clone()),
            readme: package.readme,
            pre,
            logger: Arc::new(AppLogger::new(
                &record.id,
                self.cfg.limits.log_lines_per_minute,
                self.log_writer.clone(),
            )),
            record: RwLock::new(record),
            enabled: RwLock::new(None),
            ops: AsyncMutex::new(()),
        });
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(app.id.clone(), app.clone());
        app
    }

    async fn save(
        &self,
        app: &Installed,
        change: impl FnOnce(&mut AppRecord),
    ) -> Result<AppRecord, AppsError> {
        let record = {
            let mut r = app.record.write().unwrap_or_else(|p| p.into_inner());
            change(&mut r);
            r.updated_at = Ts::now();
            *app.grant.write().unwrap_or_else(|p| p.into_inner()) =
                Installed::compute_grant(&app.manifest, &r.granted);
            r.clone()
        };
        self.store.put_app(&record).await?;
        Ok(record)
    }

    /// Refuses commands that another enabled or installed app, or the core, has.
    fn check_clashes(&self, manifest: &Manifest) -> Result<(), AppsError> {
        for c in &manifest.commands {
            if commands::CORE_COMMANDS.iter().any(|core| core.0 == c.name) {
                return Err(AppsError::Clash(format!(
                    "command /{} is a core command",
                    c.name
                )));
            }
            for other in self.all().iter().filter(|a| a.id != manifest.id) {
                if other.manifest.commands.iter().any(|o| o.name == c.name) {
                    return Err(AppsError::Clash(format!(
                        "command /{} is already provided by the app {}",
                        c.name, other.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// Validates a package without installing it: what `palaver app validate` and
    /// the marketplace listing report.
    pub async fn validate(&self, bytes: &[u8]) -> Result<Package, AppsError> {
        let package = package::read(bytes, &self.cfg.package_limits)?;
        self.prepare(package.wasm.clone()).await?;
        Ok(package)
    }

    /// Installs a package. `grant` defaults to everything the manifest asks for.
    pub async fn install(
        &self,
        bytes: &[u8],
        grant: Option<Vec<String>>,
        enable: bool,
    ) -> Result<AppRecord, AppsError> {
        let package = package::read(bytes, &self.cfg.package_limits)?;
        let manifest = package.manifest.clone();
        if self.app(&manifest.id).is_ok() {
            return Err(AppsError::AlreadyInstalled(manifest.id));
        }
        let grant = match grant {
            Some(names) => manifest
                .check_grant(&names)
                .map_err(|e| AppsError::Grant(e.to_string()))?,
            None => manifest.full_grant(),
        };
        self.check_clashes(&manifest)?;
        let pre = self.prepare(package.wasm.clone()).await?;
        let path = self.package_path(&package.sha256);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(io)?;
        let bot = self
            .chat
            .ensure_bot_user(
                &bot_username(&manifest.id),
                &format!("{} (app)", manifest.name),
            )
            .await?;
        let now = Ts::now();
        let record = AppRecord {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            manifest: package.manifest_text.clone(),
            package_sha256: package.sha256.clone(),
            status: status::INITIALIZED.into(),
            status_reason: None,
            granted: grant.names(),
            settings: BTreeMap::new(),
            bot_user_id: bot.id.clone(),
            installed_at: now,
            updated_at: now,
        };
        self.store.put_app(&record).await?;
        let app = self.register(record, package, Some(pre));
        tracing::info!(app_id = %app.id, version = %manifest.version, "app installed");
        app.logger.host(
            "info",
            None,
            &format!("installed version {}", manifest.version),
            None,
        );
        match self.call_once(&app, Call::OnInstall).await {
            Ok(Outcome::Checked(Err(message))) => {
                self.remove(&app).await?;
                return Err(AppsError::AppError {
                    app: manifest.id,
                    message,
                });
            }
            Err(AppsError::Fault { app: id, fault }) => {
                self.remove(&app).await?;
                return Err(AppsError::Fault { app: id, fault });
            }
            _ => {}
        }
        if enable {
            let _guard = app.ops.lock().await;
            self.enable_loaded(&app, Some(status::MANUALLY_ENABLED))
                .await?;
        }
        Ok(app.record())
    }

    /// Replaces an installed app with another version of it: settings, data and jobs
    /// stay, `on-update` runs, and the app is enabled again if it was. When the new
    /// version asks for permissions that were not granted, `grant` must list the
    /// new grant, or the update is refused with the difference.
    pub async fn update(
        &self,
        id: &str,
        bytes: &[u8],
        grant: Option<Vec<String>>,
    ) -> Result<(AppRecord, Vec<String>, Vec<String>), AppsError> {
        let old = self.app(id)?;
        let _guard = old.ops.lock().await;
        let package = package::read(bytes, &self.cfg.package_limits)?;
        let manifest = package.manifest.clone();
        if manifest.id != id {
            return Err(AppsError::Invalid(format!(
                "the package is the app {:?}, not {id:?}",
                manifest.id
            )));
        }
        let before = old.record();
        let granted: Vec<String> = before.granted.clone();
        let requested: Vec<String> = manifest.full_grant().names();
        // What grew is measured against what the old version asked for: an optional
        // permission the admin declined before is not news.
        let asked_before: Vec<String> = Manifest::parse(&before.manifest)
            .map(|m| m.full_grant().names())
            .unwrap_or_else(|_| granted.clone());
        let added: Vec<String> = requested
            .iter()
            .filter(|p| !asked_before.contains(p))
            .cloned()
            .collect();
        let removed: Vec<String> = asked_before
            .iter()
            .filter(|p| !requested.contains(p))
            .cloned()
            .collect();
        let new_grant = match grant {
            Some(names) => manifest
                .check_grant(&names)
                .map_err(|e| AppsError::Grant(e.to_string()))?,
            None if added.is_empty() => {
                let keep: Vec<String> = granted
                    .iter()
                    .filter(|p| requested.contains(p))
                    .cloned()
                    .collect();
                manifest.check_grant(&keep)?
            }
            None => return Err(AppsError::PermissionsGrew { added, removed }),
        };
        self.check_clashes(&manifest)?;
        let pre = self.prepare(package.wasm.clone()).await?;
        let path = self.package_path(&package.sha256);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(io)?;
        let was_enabled = old
            .enabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(running) = &was_enabled {
            running.pool.drain();
        }
        let mut record = before.clone();
        record.version = manifest.version.clone();
        record.manifest = package.manifest_text.clone();
        record.package_sha256 = package.sha256.clone();
        record.granted = new_grant.names();
        record.updated_at = Ts::now();
        record
            .settings
            .retain(|k, _| manifest.settings.iter().any(|s| s.id == *k));
        self.store.put_app(&record).await?;
        let app = self.register(record, package, Some(pre));
        let _new_guard = app.ops.lock().await;
        app.logger.host(
            "info",
            None,
            &format!("updated from {} to {}", before.version, manifest.version),
            None,
        );
        match self
            .call_once(&app, Call::OnUpdate(before.version.clone()))
            .await
        {
            Ok(Outcome::Checked(Err(message))) => app.logger.host(
                "warn",
                Some("on-update"),
                &format!("on-update failed: {message}"),
                None,
            ),
            Err(e) => tracing::warn!(app_id = %app.id, error = %e, "on-update failed"),
            _ => {}
        }
        if was_enabled.is_some() {
            if let Err(e) = self.enable_loaded(&app, None).await {
                tracing::warn!(app_id = %app.id, error = %e, "updated app could not be enabled again");
            }
        } else {
            self.rebuild_chain();
        }
        if before.package_sha256 != app.record().package_sha256
            && !self
                .all()
                .iter()
                .any(|a| a.record().package_sha256 == before.package_sha256)
        {
            let _ = std::fs::remove_file(self.package_path(&before.package_sha256));
        }
        tracing::info!(app_id = %app.id, from = %before.version, to = %manifest.version, "app updated");
        Ok((app.record(), added, removed))
    }

    /// Runs one lifecycle call in a short-lived pool (the app need not be enabled).
    async fn call_once(&self, app: &Arc<Installed>, call: Call) -> Result<Outcome, AppsError> {
        let pool = match app.running() {
            Some(running) => running.pool.clone(),
            None => Arc::new(InstancePool::new(
                app.pre
                    .clone()
                    .ok_or_else(|| AppsError::Disabled(app.id.clone()))?,
                self.context(app).await?,
            )),
        };
        pool.call(call).await.map_err(|fault| AppsError::Fault {
            app: app.id.clone(),
            fault,
        })
    }

    async fn context(&self, app: &Installed) -> Result<Arc<AppContext>, AppsError> {
        let record = app.record();
        let bot: User = self.chat.find_user(Some(&record.bot_user_id), None).await?;
        let grant = app.grant();
        let limits = self.cfg.limits.clone();
        let mut http_policy = HttpPolicy::from_strings(&grant.hosts, Vec::<String>::new())
            .map_err(|e| AppsError::Invalid(e.to_string()))?;
        http_policy.operator_allow = self.operator_allow.clone();
        http_policy.timeout = Duration::from_millis(limits.http_timeout_ms);
        http_policy.max_response_bytes = limits.http_max_response_bytes;
        http_policy.max_redirects = limits.http_max_redirects;
        let files_dir = if grant.allows(Permission::Filesystem) {
            let dir = self.files_dir(&app.id);
            std::fs::create_dir_all(&dir).map_err(io)?;
            Some(dir)
        } else {
            None
        };
        Ok(Arc::new(AppContext {
            id: app.id.clone(),
            name: app.manifest.name.clone(),
            version: record.version.clone(),
            manifest: app.manifest.clone(),
            settings: RwLock::new(record.settings.clone()),
            bot,
            chat: self.chat.clone(),
            store: self.store.clone(),
            http: self.http.clone(),
            http_policy,
            http_slots: Arc::new(Semaphore::new(limits.http_in_flight.max(1) as usize)),
            logger: app.logger.clone(),
            site_url: self.cfg.site_url.clone(),
            files_dir,
            limits,
            grant,
        }))
    }

    /// The first required setting without a value, if any.
    fn missing_setting(app: &Installed) -> Option<String> {
        let record = app.record();
        app.manifest
            .settings
            .iter()
            .filter(|s| s.required)
            .find(|s| {
                let value = record.settings.get(&s.id).cloned().or_else(|| {
                    s.default
                        .as_ref()
                        .and_then(|d| super::settings::value_from_toml(s, d).ok())
                });
                !super::settings::is_set(value.as_ref())
            })
            .map(|s| s.id.clone())
    }

    /// Enables a loaded app (caller holds its `ops` lock). `new_status` is what to
    /// record on success; `None` keeps the stored (enabled) status.
    async fn enable_loaded(
        &self,
        app: &Arc<Installed>,
        new_status: Option<&str>,
    ) -> Result<(), AppsError> {
        if app.running().is_some() {
            return Ok(());
        }
        let Some(pre) = app.pre.clone() else {
            return Err(AppsError::Invalid(format!(
                "the app cannot be enabled: {}",
                app.record().status_reason.unwrap_or_default()
            )));
        };
        if let Some(missing) = Self::missing_setting(app) {
            let reason = format!("the required setting {missing:?} is empty");
            self.save(app, |r| {
                r.status = status::INVALID_SETTINGS_DISABLED.into();
                r.status_reason = Some(reason.clone());
            })
            .await?;
            return Err(AppsError::Invalid(reason));
        }
        let pool = Arc::new(InstancePool::new(pre, self.context(app).await?));
        let enable = match pool.warm().await {
            Ok(()) => pool.call(Call::OnEnable).await,
            Err(f) => Err(f),
        };
        let failure = match enable {
            Ok(Outcome::Checked(Err(message))) => Some(format!("on-enable refused: {message}")),
            Ok(_) => None,
            Err(fault) => Some(format!("on-enable {fault}")),
        };
        if let Some(reason) = failure {
            pool.drain();
            self.save(app, |r| {
                r.status = status::ERROR_DISABLED.into();
                r.status_reason = Some(reason.clone());
            })
            .await?;
            return Err(AppsError::Invalid(reason));
        }
        let (tx, rx) = mpsc::channel(self.cfg.limits.event_queue.max(1));
        self.spawn_event_worker(app.clone(), pool.clone(), rx);
        *app.enabled.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new(Enabled { pool, events: tx }));
        self.save(app, |r| {
            if let Some(s) = new_status {
                r.status = s.into();
            } else if !status::is_enabled(&r.status) {
                r.status = status::AUTO_ENABLED.into();
            }
            r.status_reason = None;
        })
        .await?;
        self.rebuild_chain();
        tracing::info!(app_id = %app.id, "app enabled");
        app.logger.host("info", None, "enabled", None);
        Ok(())
    }

    /// Stops an app (caller holds its `ops` lock): on-disable, jobs cancelled,
    /// instances dropped.
    async fn disable_loaded(
        &self,
        app: &Arc<Installed>,
        new_status: &str,
        reason: Option<String>,
    ) -> Result<(), AppsError> {
        let running = app
            .enabled
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.rebuild_chain();
        if let Some(running) = running {
            if new_status != status::ERROR_DISABLED {
                let _ = running.pool.call(Call::OnDisable).await;
            }
            running.pool.drain();
        }
        self.store.delete_app_jobs(&app.id).await?;
        self.save(app, |r| {
            r.status = new_status.into();
            r.status_reason = reason.clone();
        })
        .await?;
        tracing::info!(app_id = %app.id, status = new_status, reason = reason.as_deref().unwrap_or(""), "app disabled");
        app.logger.host(
            if new_status == status::ERROR_DISABLED {
                "error"
            } else {
                "info"
            },
            None,
            &format!(
                "disabled ({new_status}){}",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
            None,
        );
        Ok(())
    }

    /// `manually_enabled` or `manually_disabled`, as the admin asks.
    pub async fn set_status(&self, id: &str, enabled: bool) -> Result<AppRecord, AppsError> {
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        if enabled {
            self.enable_loaded(&app, Some(status::MANUALLY_ENABLED))
                .await?;
        } else {
            self.disable_loaded(&app, status::MANUALLY_DISABLED, None)
                .await?;
        }
        Ok(app.record())
    }

    /// After a fault: too many in a row disable the app with `error_disabled`.
    pub(crate) fn after_call(&self, app: &Arc<Installed>, pool: &InstancePool) {
        let faults = pool.consecutive_faults();
        if faults < self.cfg.limits.faults_before_disable.max(1) {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let app = app.clone();
        tokio::spawn(async move {
            let _guard = app.ops.lock().await;
            if app.running().is_none() {
                return;
            }
            let reason = format!("disabled after {faults} consecutive faults; see the app's log");
            if let Err(e) = me
                .disable_loaded(&app, status::ERROR_DISABLED, Some(reason))
                .await
            {
                tracing::error!(app_id = %app.id, error = %e, "cannot disable a faulting app");
            }
        });
    }

    fn rebuild_chain(&self) {
        let mut chain: Vec<Arc<Installed>> = self
            .all()
            .into_iter()
            .filter(|a| a.running().is_some() && a.subscribes(EventKind::PreMessageSent))
            .collect();
        chain.sort_by(|a, b| {
            b.manifest
                .priority
                .cmp(&a.manifest.priority)
                .then_with(|| a.record().installed_at.cmp(&b.record().installed_at))
                .then_with(|| a.id.cmp(&b.id))
        });
        *self
            .pre_send_chain
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(chain);
    }

    /// Current setting values with password values hidden (only whether set).
    pub fn settings_view(&self, id: &str) -> Result<Vec<Value>, AppsError> {
        let app = self.app(id)?;
        let record = app.record();
        Ok(app
            .manifest
            .settings
            .iter()
            .map(|s| {
                let stored = record.settings.get(&s.id);
                let default = s
                    .default
                    .as_ref()
                    .and_then(|d| super::settings::value_from_toml(s, d).ok());
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                let secret = s.kind == SettingType::Password;
                v["value"] = if secret {
                    Value::Null
                } else {
                    stored.cloned().or(default).unwrap_or(Value::Null)
                };
                v["isSet"] = Value::Bool(super::settings::is_set(stored));
                if secret {
                    v["default"] = Value::Null;
                }
                v
            })
            .collect())
    }

    /// Updates settings (validated against the schema). A password left out keeps
    /// its value; `null` clears a value.
    pub async fn update_settings(
        &self,
        id: &str,
        values: serde_json::Map<String, Value>,
    ) -> Result<(), AppsError> {
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        let mut checked = BTreeMap::new();
        let mut errors = Vec::new();
        for (key, value) in &values {
            let Some(def) = app.manifest.settings.iter().find(|s| s.id == *key) else {
                errors.push(format!("{key}: no such setting"));
                continue;
            };
            if value.is_null() {
                checked.insert(key.clone(), None);
                continue;
            }
            match super::settings::value_from_json(def, value) {
                Ok(v) => {
                    checked.insert(key.clone(), Some(v));
                }
                Err(e) => errors.push(format!("{key}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(AppsError::Invalid(errors.join("; ")));
        }
        let record = self
            .save(&app, |r| {
                for (k, v) in &checked {
                    match v {
                        Some(v) => r.settings.insert(k.clone(), v.clone()),
                        None => r.settings.remove(k),
                    };
                }
            })
            .await?;
        if let Some(running) = app.running() {
            if let Ok(mut s) = running.pool.context().settings.write() {
                *s = record.settings.clone();
            }
            let ids: Vec<String> = checked.keys().cloned().collect();
            let _ = running.pool.call(Call::OnSettingsUpdated(ids)).await;
            self.after_call(&app, &running.pool);
        } else if record.status == status::INVALID_SETTINGS_DISABLED
            && Self::missing_setting(&app).is_none()
        {
            self.save(&app, |r| {
                r.status = status::MANUALLY_DISABLED.into();
                r.status_reason = None;
            })
            .await?;
        }
        Ok(())
    }

    /// Removes an app and everything it owns.
    pub async fn uninstall(&self, id: &str) -> Result<(), AppsError> {
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        if app.running().is_some() {
            self.disable_loaded(&app, status::MANUALLY_DISABLED, None)
                .await?;
        }
        if app.pre.is_some() {
            if let Err(e) = self.call_once(&app, Call::OnUninstall).await {
                tracing::warn!(app_id = %app.id, error = %e, "on-uninstall failed; uninstalling anyway");
            }
        }
        self.remove(&app).await?;
        tracing::info!(app_id = %app.id, "app uninstalled");
        Ok(())
    }

    async fn remove(&self, app: &Arc<Installed>) -> Result<(), AppsError> {
        let record = app.record();
        self.store.delete_app(&app.id).await?;
        self.chat.retire_bot_user(&record.bot_user_id).await?;
        self.installed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&app.id);
        self.rebuild_chain();
        for dir in [self.files_dir(&app.id), self.assets_dir(&app.id)] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(app_id = %app.id, error = %e, "cannot remove the app's files");
                }
            }
        }
        let still_used = self
            .all()
            .iter()
            .any(|a| a.record().package_sha256 == record.package_sha256);
        if !still_used {
            let _ = std::fs::remove_file(self.package_path(&record.package_sha256));
        }
        Ok(())
    }

    /// Installed apps.
    pub fn installed(&self) -> Vec<(AppRecord, Arc<Manifest>)> {
        self.all()
            .into_iter()
            .map(|a| (a.record(), a.manifest.clone()))
            .collect()
    }

    /// The README shipped in an installed app's package.
    pub fn readme(&self, id: &str) -> Result<Option<String>, AppsError> {
        Ok(self.app(id)?.readme.clone())
    }

    /// One installed app.
    pub fn installed_app(&self, id: &str) -> Result<(AppRecord, Arc<Manifest>), AppsError> {
        let app = self.app(id)?;
        Ok((app.record(), app.manifest.clone()))
    }

    /// Post-event calls dropped so far because an app's queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An app's log, newest first.
    pub async fn logs(
        &self,
        id: &str,
        min_level: i64,
        page: crate::store::Page,
    ) -> Result<crate::store::Listing<crate::store::apps::AppLogEntry>, AppsError> {
        self.app(id)?;
        Ok(self.store.app_logs(id, min_level, page).await?)
    }
}
