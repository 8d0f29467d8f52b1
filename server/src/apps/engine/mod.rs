//! The apps engine: installed apps, their reload after a restart, and the statuses
//! an admin sees. The submodules hold the rest: `install` (install, update,
//! uninstall), `running` (enable, disable, the pre-send chain), `app_settings`,
//! `dispatch` (chat events), `commands` (slash commands, previews, endpoints) and
//! `jobs` (the scheduler).

mod app_settings;
mod commands;
mod dispatch;
mod install;
mod jobs;
mod running;
mod sync;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Mutex as AsyncMutex, Semaphore};

/// A command's preview item, as apps offer it.
pub use crate::apps::host::bindings::palaver::apps::types::PreviewItem;
pub use commands::{CommandInfo, CommandLine, CommandOutcome, EndpointCall, CORE_COMMANDS};

use super::host::bindings::AppPre;
use super::host::state::{AppContext, HostState};
use super::limits::AppLimits;
use super::logs::{AppLogger, LogWriter};
use super::manifest::{EventKind, Manifest, ManifestError, SettingType};
use super::package::{self, Package, PackageError, PackageLimits};
use super::permissions::{Grant, Permission};
use super::pool::{Call, Fault, InstancePool, Outcome};
use super::runtime::{Runtime, RuntimeError};
use crate::chat::{Chat, ChatError};
use crate::outbound::{HttpPolicy, OperatorAllow, OperatorRouting, OutboundHttp};
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

/// One enabled app's figures for `/metrics`.
#[derive(Clone, Debug)]
pub struct AppCallMetrics {
    pub app: String,
    pub calls: Vec<crate::apps::call_stats::CallKindSnapshot>,
    /// Post-event calls waiting in the app's queue.
    pub queued_events: usize,
    /// Faults of its calls so far, by kind ([`Fault::tag`]).
    pub faults: Vec<(&'static str, u64)>,
    /// What the host refused it, by reason (`permission-denied`, …).
    pub refusals: Vec<(String, u64)>,
}

/// An app running (enabled): its instance pool and its event queue.
pub(crate) struct Enabled {
    pub pool: Arc<InstancePool>,
    pub events: mpsc::Sender<Call>,
}

/// One app of the pre-send chain, with its running state: the chain is read on
/// every message, so it holds what a call needs instead of locking each app.
pub(crate) struct ChainLink {
    pub app: Arc<Installed>,
    pub running: Arc<Enabled>,
}

/// An installed app.
pub(crate) struct Installed {
    pub id: String,
    pub manifest: Arc<Manifest>,
    /// The package's README, shown to admins.
    pub readme: Option<String>,
    /// The package's icon (PNG).
    pub icon: Option<Vec<u8>>,
    /// The compiled component; `None` when it could not be loaded.
    pub pre: Option<AppPre<HostState>>,
    pub logger: Arc<AppLogger>,
    pub record: RwLock<AppRecord>,
    /// The bot user's id (fixed for the app's life).
    pub bot_user_id: String,
    /// The effective grant, computed once: it is consulted on every message. The
    /// record's grant changes only by an install or update, which registers anew.
    grant: Arc<Grant>,
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
        self.grant.clone()
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
        self.manifest.events.contains(&event) && self.grant.allows(event.needs())
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
    pre_send_chain: RwLock<Arc<Vec<ChainLink>>>,
    /// This process's name on job leases.
    instance_id: String,
    /// Held by installs, updates, uninstalls and by following other instances'
    /// changes ([`sync`]), so one never sees the other half done.
    changes: AsyncMutex<()>,
    /// Post-event calls dropped because an app's queue was full.
    events_dropped: AtomicU64,
    /// The scheduler's task and the stop signal of the loops that touch the store.
    background: jobs::Background,
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
            changes: AsyncMutex::new(()),
            events_dropped: AtomicU64::new(0),
            background: jobs::Background::default(),
            me: me.clone(),
        });
        engine.reload().await?;
        engine.chat.set_pre_send_hook(engine.clone());
        engine.spawn_event_dispatcher();
        engine.spawn_scheduler();
        // Only a store other instances share can change under us; an embedded one
        // (no event relay) has nothing to follow.
        if engine.store.event_relay().is_some() {
            engine.spawn_sync();
        }
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
        Ok(self.app(app_id)?.icon.clone())
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
            let loaded = match self.package_bytes(&record.package_sha256).await {
                Ok(bytes) => match package::read(&bytes, &self.cfg.package_limits) {
                    Ok(p) => {
                        let wasm = p.wasm.clone();
                        self.prepare(wasm).await.map(|pre| (p, pre))
                    }
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e),
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
        // A package that did not load is only a stand-in: extracting it would mark
        // its assets as done with none written.
        if pre.is_some() {
            if let Err(e) = package::extract_assets(&package, &self.assets_dir(&record.id)) {
                tracing::warn!(app_id = %record.id, error = %e, "cannot extract the package's assets");
            }
        }
        let grant = Installed::compute_grant(&package.manifest, &record.granted);
        let app = Arc::new(Installed {
            id: record.id.clone(),
            bot_user_id: record.bot_user_id.clone(),
            grant,
            manifest: Arc::new(package.manifest.clone()),
            readme: package.readme,
            icon: package.icon,
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
            r.clone()
        };
        self.store.put_app(&record).await?;
        Ok(record)
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

    /// Each enabled app's calls so far and its queued post-event calls.
    pub fn call_metrics(&self) -> Vec<AppCallMetrics> {
        self.all()
            .into_iter()
            .filter_map(|app| {
                let running = app.running()?;
                Some(AppCallMetrics {
                    app: app.id.clone(),
                    calls: running.pool.call_stats().snapshot(),
                    queued_events: running.events.max_capacity() - running.events.capacity(),
                    faults: running.pool.call_stats().faults(),
                    refusals: app.logger.refusals(),
                })
            })
            .collect()
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
