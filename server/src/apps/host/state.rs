//! What one app instance's store holds: the app's shared context (identity, grant,
//! settings, handles to chat and storage) and the per-call budget.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::Semaphore;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::palaver::apps::types::Error as WitError;
use crate::apps::limits::AppLimits;
use crate::apps::logs::AppLogger;
use crate::apps::manifest::Manifest;
use crate::apps::permissions::{Grant, Permission};
use crate::apps::quota::{Quota, Rates};
use crate::chat::Chat;
use crate::outbound::{HttpPolicy, OutboundHttp};
use crate::store::{roles, DynStore, RoomType, User};

/// Captured stderr per instance: a panicking app prints its message here.
const STDERR_CAPACITY: usize = 256 * 1024;

/// Everything an app's instances share.
pub struct AppContext {
    pub id: String,
    pub name: String,
    pub version: String,
    pub manifest: Arc<Manifest>,
    pub grant: Arc<Grant>,
    pub settings: RwLock<BTreeMap<String, serde_json::Value>>,
    /// The app's bot user: apps act in chat as this user, so they reach only what
    /// that user could reach over REST.
    pub bot: User,
    pub chat: Arc<Chat>,
    pub store: DynStore,
    pub http: OutboundHttp,
    pub http_policy: HttpPolicy,
    pub http_slots: Arc<Semaphore>,
    pub limits: AppLimits,
    /// The app's write rates (messages, rooms, notices, jobs per minute).
    pub rates: Rates,
    pub logger: Arc<AppLogger>,
    pub site_url: String,
    /// The app's own directory, preopened when `filesystem` is granted.
    pub files_dir: Option<PathBuf>,
}

/// The data of one instance's `Store`.
pub struct HostState {
    pub ctx: Arc<AppContext>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// When the running call must end (checked at every epoch tick).
    pub(crate) deadline: Instant,
    pub(crate) host_calls_left: u32,
    /// The budget refusal is logged once per call, not once per refused call.
    budget_reported: bool,
    /// The handler running, for log entries.
    pub(crate) handler: &'static str,
    /// Set when this call was refused scheduling by the per-minute limit: the pool
    /// counts the call as a fault (runaway scheduling).
    runaway: Option<u32>,
    stderr: MemoryOutputPipe,
    stderr_seen: usize,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// A fresh instance state: WASI with no environment, no arguments, no sockets,
    /// no name lookup, and no files unless `filesystem` was granted.
    pub fn new(ctx: Arc<AppContext>) -> HostState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(dir) = ctx
            .files_dir
            .as_ref()
            .filter(|_| ctx.grant.allows(Permission::Filesystem))
        {
            if let Err(e) = wasi.preopened_dir(dir, "/data", FsPerms::ReadWrite) {
                ctx.logger.host(
                    "error",
                    None,
                    &format!("cannot open the app's directory: {e}"),
                    Some("filesystem"),
                );
            }
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(ctx.limits.resource_table_entries);
        let limits = StoreLimitsBuilder::new()
            .memory_size(ctx.limits.memory_bytes())
            .instances(32)
            .memories(8)
            .tables(32)
            .table_elements(20_000)
            .trap_on_grow_failure(true)
            .build();
        HostState {
            wasi: wasi.build(),
            table,
            limits,
            deadline: Instant::now(),
            host_calls_left: 0,
            budget_reported: false,
            handler: "",
            runaway: None,
            stderr,
            stderr_seen: 0,
            ctx,
        }
    }

    /// Sets the budget for the next call.
    pub(crate) fn begin_call(&mut self, handler: &'static str, deadline: Instant) {
        self.handler = handler;
        self.deadline = deadline;
        self.host_calls_left = self.ctx.limits.host_calls_per_call;
        self.budget_reported = false;
        self.runaway = None;
    }

    /// Whether the call that ended ran into the scheduling rate, and its limit.
    pub(crate) fn take_runaway(&mut self) -> Option<u32> {
        self.runaway.take()
    }

    /// Counts one write against the app's per-minute rate. A refusal is typed
    /// (`limit-exceeded(<quota>)`) and logged once per window, so a loop of
    /// refused writes does not flood the log.
    pub(crate) fn rate(&mut self, quota: Quota, call: &str) -> Result<(), WitError> {
        let Err(refused) = self.ctx.rates.take(quota) else {
            return Ok(());
        };
        if quota == Quota::Jobs {
            self.runaway = Some(refused.limit);
        }
        if refused.first {
            self.ctx.logger.host(
                "warn",
                Some(self.handler),
                &format!(
                    "{call} refused: the limit of {} {} per minute is reached; further refusals this minute are not logged",
                    refused.limit,
                    quota.what()
                ),
                Some("limit-exceeded"),
            );
        }
        Err(WitError::LimitExceeded(quota.name().into()))
    }

    /// What the app wrote to stderr since the last look (panic messages).
    pub(crate) fn take_stderr(&mut self) -> Option<String> {
        let all = self.stderr.contents();
        if all.len() <= self.stderr_seen {
            return None;
        }
        let new = String::from_utf8_lossy(&all[self.stderr_seen..])
            .trim()
            .to_string();
        self.stderr_seen = all.len();
        (!new.is_empty()).then_some(new)
    }

    /// Whether the stderr capture is nearly full (the instance is then retired).
    pub(crate) fn stderr_nearly_full(&self) -> bool {
        self.stderr_seen > STDERR_CAPACITY / 2
    }

    /// Counts one host call against the call's budget.
    pub(crate) fn charge(&mut self) -> Result<(), WitError> {
        if self.host_calls_left == 0 {
            if std::mem::replace(&mut self.budget_reported, true) {
                return Err(WitError::LimitExceeded("host-calls".into()));
            }
            self.ctx.logger.host(
                "warn",
                Some(self.handler),
                "host call refused: the per-call host call budget is used up",
                Some("limit-exceeded"),
            );
            return Err(WitError::LimitExceeded("host-calls".into()));
        }
        self.host_calls_left -= 1;
        Ok(())
    }

    /// Refuses a new channel or group once the app's bot owns `rooms_max` of them
    /// (rooms it created, less those deleted since).
    pub(crate) async fn room_quota(&mut self) -> Result<(), WitError> {
        let max = self.ctx.limits.rooms_max;
        let subs = self
            .ctx
            .store
            .user_subscriptions(&self.ctx.bot.id, None)
            .await
            .map_err(|e| WitError::Internal(e.to_string()))?;
        let owned = subs
            .iter()
            .filter(|s| s.t != RoomType::Direct && s.roles.iter().any(|r| r == roles::OWNER))
            .count() as u64;
        if owned < max {
            return Ok(());
        }
        self.ctx.logger.host(
            "warn",
            Some(self.handler),
            &format!(
                "rooms.create refused: the app's bot already owns {owned} rooms (limit {max})"
            ),
            Some("limit-exceeded"),
        );
        Err(WitError::LimitExceeded("rooms".into()))
    }

    /// Charges a host call and checks the grant; a refusal is logged and typed.
    pub(crate) fn require(&mut self, permission: Permission, call: &str) -> Result<(), WitError> {
        self.charge()?;
        if self.ctx.grant.allows(permission) {
            return Ok(());
        }
        self.ctx.logger.host(
            "warn",
            Some(self.handler),
            &format!("{call} refused: the app was not granted {permission}"),
            Some("permission-denied"),
        );
        Err(WitError::PermissionDenied(permission.name().to_string()))
    }
}
