//! Per-app instance pool: a few long-lived instances per app, each in its own
//! `Store`, so calls are warm (no instantiation on the hot path) and one slow call
//! (say, an outbound request) does not hold up the app's other events. An instance
//! that faulted is thrown away, never reused; state that must survive belongs in
//! `persistence`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::call_stats::CallStats;
use super::faults::{FaultPolicy, FaultRate, FaultWindow};
use super::host::bindings::exports::palaver::apps::endpoints::{EndpointRequest, EndpointResponse};
use super::host::bindings::palaver::apps::types as wit;
use super::host::bindings::{App, AppPre};
use super::host::state::{AppContext, HostState};
use super::limits::CallKind;

/// A call into an app's exports.
#[derive(Clone, Debug)]
pub enum Call {
    OnInstall,
    OnEnable,
    OnDisable,
    OnUpdate(String),
    OnUninstall,
    OnSettingsUpdated(Vec<String>),
    /// Shared: the chain passes the same values to every app that does not modify.
    PreMessageSent(Arc<wit::Message>, Arc<wit::Room>),
    // Post events share their values: one event goes to every subscribed app.
    PostMessageSent(Arc<wit::Message>, Arc<wit::Room>),
    PostMessageUpdated(Arc<wit::Message>, Arc<wit::Room>),
    PostMessageDeleted(Arc<wit::Message>, Arc<wit::Room>),
    PostRoomCreated(Arc<wit::Room>),
    PostRoomUserJoined(Arc<wit::Room>, Arc<wit::User>),
    PostRoomUserLeft(Arc<wit::Room>, Arc<wit::User>),
    PostUserCreated(Arc<wit::User>),
    PostMessageSentToBot(Arc<wit::Message>, Arc<wit::Room>),
    ExecuteCommand(wit::CommandContext),
    PreviewCommand(wit::CommandContext),
    ExecutePreviewItem(wit::CommandContext, wit::PreviewItem),
    HandleRequest(EndpointRequest),
    RunJob(wit::Job),
}

impl Call {
    /// The export's name, for logs.
    pub fn handler(&self) -> &'static str {
        match self {
            Call::OnInstall => "on-install",
            Call::OnEnable => "on-enable",
            Call::OnDisable => "on-disable",
            Call::OnUpdate(_) => "on-update",
            Call::OnUninstall => "on-uninstall",
            Call::OnSettingsUpdated(_) => "on-settings-updated",
            Call::PreMessageSent(..) => "pre-message-sent",
            Call::PostMessageSent(..) => "post-message-sent",
            Call::PostMessageUpdated(..) => "post-message-updated",
            Call::PostMessageDeleted(..) => "post-message-deleted",
            Call::PostRoomCreated(_) => "post-room-created",
            Call::PostRoomUserJoined(..) => "post-room-user-joined",
            Call::PostRoomUserLeft(..) => "post-room-user-left",
            Call::PostUserCreated(_) => "post-user-created",
            Call::PostMessageSentToBot(..) => "post-message-sent-to-bot",
            Call::ExecuteCommand(_) => "execute-command",
            Call::PreviewCommand(_) => "preview-command",
            Call::ExecutePreviewItem(..) => "execute-preview-item",
            Call::HandleRequest(_) => "handle-request",
            Call::RunJob(_) => "run-job",
        }
    }

    pub fn kind(&self) -> CallKind {
        match self {
            Call::OnInstall
            | Call::OnEnable
            | Call::OnDisable
            | Call::OnUpdate(_)
            | Call::OnUninstall
            | Call::OnSettingsUpdated(_) => CallKind::Lifecycle,
            Call::PreMessageSent(..) => CallKind::PreSend,
            Call::ExecuteCommand(_) | Call::PreviewCommand(_) | Call::ExecutePreviewItem(..) => {
                CallKind::Command
            }
            Call::HandleRequest(_) => CallKind::Endpoint,
            Call::RunJob(_) => CallKind::Job,
            _ => CallKind::Event,
        }
    }
}

/// What a call returned.
#[derive(Debug)]
pub enum Outcome {
    Unit,
    /// `on-install`, `on-enable`, `on-update`, `run-job`: an app-level error text.
    Checked(Result<(), String>),
    Decision(wit::PreSendDecision),
    Command(Result<wit::CommandReply, wit::Error>),
    Preview(Result<Vec<wit::PreviewItem>, wit::Error>),
    Response(EndpointResponse),
}

/// Why a call failed inside the sandbox. The server carries on either way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("ran past its {0:?} deadline")]
    Deadline(Duration),
    #[error("exceeded its memory limit")]
    Memory,
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("panicked: {0}")]
    Panic(String),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("is busy: no free instance within {0:?}")]
    Busy(Duration),
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    #[error("is stopped")]
    Stopped,
    /// One host call's arguments (or the export's result) were larger than the
    /// host copies for an app (see [`super::limits::AppLimits::hostcall_fuel`]).
    #[error("passed more than {0} bytes in one call to the host")]
    HostCallTooLarge(usize),
    /// The call kept scheduling jobs past the per-minute limit.
    #[error("kept scheduling jobs past its limit of {0} per minute")]
    RunawayScheduling(u32),
}

impl Fault {
    /// Every tag [`Fault::tag`] gives, in [`Fault::index`] order (for counters).
    pub const TAGS: [&'static str; 10] = [
        "deadline",
        "memory",
        "stack-overflow",
        "panic",
        "trap",
        "busy",
        "instantiate",
        "stopped",
        "host-call-size",
        "runaway-scheduling",
    ];

    /// The position of this fault's tag in [`Fault::TAGS`].
    pub fn index(&self) -> usize {
        match self {
            Fault::Deadline(_) => 0,
            Fault::Memory => 1,
            Fault::StackOverflow => 2,
            Fault::Panic(_) => 3,
            Fault::Trap(_) => 4,
            Fault::Busy(_) => 5,
            Fault::Instantiate(_) => 6,
            Fault::Stopped => 7,
            Fault::HostCallTooLarge(_) => 8,
            Fault::RunawayScheduling(_) => 9,
        }
    }

    /// A short tag for the log's `fault` field.
    pub fn tag(&self) -> &'static str {
        match self {
            Fault::Deadline(_) => "deadline",
            Fault::Memory => "memory",
            Fault::StackOverflow => "stack-overflow",
            Fault::Panic(_) => "panic",
            Fault::Trap(_) => "trap",
            Fault::Busy(_) => "busy",
            Fault::Instantiate(_) => "instantiate",
            Fault::Stopped => "stopped",
            Fault::HostCallTooLarge(_) => "host-call-size",
            Fault::RunawayScheduling(_) => "runaway-scheduling",
        }
    }

    /// Busy is back-pressure, not misbehaviour: it does not count toward disabling;
    /// nor does a call that found the app stopped.
    pub fn counts(&self) -> bool {
        !matches!(self, Fault::Busy(_) | Fault::Stopped)
    }
}

/// One instance of an app in its own store.
pub struct Instance {
    pub store: Store<HostState>,
    /// Boxed: the bindings hold a handle per export (about 500 bytes), and an
    /// instance moves in and out of the pool on every call.
    pub app: Box<App>,
}

impl Instance {
    /// Arms the store for one call of `handler`: its host-call budget, and a deadline
    /// `limit` from now that the epoch ticker enforces.
    pub fn arm(&mut self, handler: &'static str, limit: Duration) {
        self.store
            .data_mut()
            .begin_call(handler, Instant::now() + limit);
        self.store.set_epoch_deadline(1);
    }
}

pub struct InstancePool {
    pre: AppPre<HostState>,
    ctx: Arc<AppContext>,
    /// One lock for the call slots and the idle instances: the hot path takes it
    /// once to start a call and once to end it.
    slots: Mutex<Slots>,
    /// Wakes a caller waiting for a slot; used only when one waits.
    freed: Notify,
    max_calls: usize,
    faults: FaultWindow,
    /// Calls by kind and outcome, for `/metrics`.
    stats: CallStats,
    /// Set by [`InstancePool::drain`]: the app is stopping, calls are refused.
    closed: AtomicBool,
}

#[derive(Default)]
struct Slots {
    idle: Vec<Instance>,
    /// Calls in progress (each holds a [`Slot`]).
    busy: usize,
    /// Callers waiting for a slot.
    waiting: usize,
}

/// A claimed call slot. Dropping it frees the slot, keeping `instance` (if set)
/// for the next call; a call abandoned midway therefore drops its instance.
struct Slot<'a> {
    pool: &'a InstancePool,
    keep: Option<Instance>,
}

/// Counts a caller as waiting for a slot for as long as it lives, also when the
/// waiting call is abandoned.
struct Waiting<'a>(&'a InstancePool);

impl<'a> Waiting<'a> {
    fn new(pool: &'a InstancePool) -> Waiting<'a> {
        pool.lock_slots().waiting += 1;
        Waiting(pool)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.lock_slots().waiting -= 1;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let wake = {
            let mut slots = self.pool.lock_slots();
            slots.busy -= 1;
            if let Some(instance) = self.keep.take() {
                slots.idle.push(instance);
            }
            slots.waiting > 0
        };
        if wake {
            self.pool.freed.notify_one();
        }
    }
}

fn classify(err: &wasmtime::Error, stderr: Option<&str>, limits: (Duration, usize)) -> Fault {
    let (deadline, hostcall_fuel) = limits;
    let text = format!("{err:#}");
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return Fault::Deadline(deadline),
        Some(Trap::StackOverflow) => return Fault::StackOverflow,
        _ => {}
    }
    // wasmtime's error type for it is private; its text is stable.
    if text.contains("fuel allocated for hostcalls has been exhausted") {
        return Fault::HostCallTooLarge(hostcall_fuel);
    }
    if text.contains("growing memory") || text.contains("memory allocation") {
        return Fault::Memory;
    }
    // Rust prints "panicked at file:line:" and the message on the next line.
    if let Some(text) = stderr {
        let lines: Vec<&str> = text.lines().collect();
        if let Some(i) = lines.iter().position(|l| l.contains("panicked")) {
            let message = lines[i..lines.len().min(i + 2)].join(" ");
            return Fault::Panic(message.chars().take(1000).collect());
        }
    }
    Fault::Trap(
        text.lines()
            .next()
            .unwrap_or("unknown")
            .chars()
            .take(1000)
            .collect(),
    )
}

/// The call's export on `app`. The pre-send hook runs on every message: its
/// future is kept apart from the other calls' (boxed), whose largest would
/// otherwise size this one.
async fn invoke(app: &App, store: &mut Store<HostState>, call: Call) -> wasmtime::Result<Outcome> {
    match call {
        Call::PreMessageSent(m, r) => Ok(Outcome::Decision(
            app.palaver_apps_events()
                .call_pre_message_sent(&mut *store, &m, &r)
                .await?,
        )),
        other => Box::pin(invoke_other(app, store, other)).await,
    }
}

async fn invoke_other(
    app: &App,
    store: &mut Store<HostState>,
    call: Call,
) -> wasmtime::Result<Outcome> {
    let lc = app.palaver_apps_lifecycle();
    let ev = app.palaver_apps_events();
    Ok(match call {
        Call::OnInstall => Outcome::Checked(lc.call_on_install(&mut *store).await?),
        Call::OnEnable => Outcome::Checked(lc.call_on_enable(&mut *store).await?),
        Call::OnDisable => {
            lc.call_on_disable(&mut *store).await?;
            Outcome::Unit
        }
        Call::OnUpdate(v) => Outcome::Checked(lc.call_on_update(&mut *store, &v).await?),
        Call::OnUninstall => {
            lc.call_on_uninstall(&mut *store).await?;
            Outcome::Unit
        }
        Call::OnSettingsUpdated(ids) => {
            lc.call_on_settings_updated(&mut *store, &ids).await?;
            Outcome::Unit
        }
        Call::PreMessageSent(m, r) => {
            Outcome::Decision(ev.call_pre_message_sent(&mut *store, &m, &r).await?)
        }
        Call::PostMessageSent(m, r) => {
            ev.call_post_message_sent(&mut *store, &m, &r).await?;
            Outcome::Unit
        }
        Call::PostMessageUpdated(m, r) => {
            ev.call_post_message_updated(&mut *store, &m, &r).await?;
            Outcome::Unit
        }
        Call::PostMessageDeleted(m, r) => {
            ev.call_post_message_deleted(&mut *store, &m, &r).await?;
            Outcome::Unit
        }
        Call::PostRoomCreated(r) => {
            ev.call_post_room_created(&mut *store, &r).await?;
            Outcome::Unit
        }
        Call::PostRoomUserJoined(r, u) => {
            ev.call_post_room_user_joined(&mut *store, &r, &u).await?;
            Outcome::Unit
        }
        Call::PostRoomUserLeft(r, u) => {
            ev.call_post_room_user_left(&mut *store, &r, &u).await?;
            Outcome::Unit
        }
        Call::PostUserCreated(u) => {
            ev.call_post_user_created(&mut *store, &u).await?;
            Outcome::Unit
        }
        Call::PostMessageSentToBot(m, r) => {
            ev.call_post_message_sent_to_bot(&mut *store, &m, &r)
                .await?;
            Outcome::Unit
        }
        Call::ExecuteCommand(c) => Outcome::Command(
            app.palaver_apps_commands()
                .call_execute_command(&mut *store, &c)
                .await?,
        ),
        Call::PreviewCommand(c) => Outcome::Preview(
            app.palaver_apps_commands()
                .call_preview_command(&mut *store, &c)
                .await?,
        ),
        Call::ExecutePreviewItem(c, item) => Outcome::Command(
            app.palaver_apps_commands()
                .call_execute_preview_item(&mut *store, &c, &item)
                .await?,
        ),
        Call::HandleRequest(r) => Outcome::Response(
            app.palaver_apps_endpoints()
                .call_handle_request(&mut *store, &r)
                .await?,
        ),
        Call::RunJob(j) => Outcome::Checked(
            app.palaver_apps_jobs()
                .call_run_job(&mut *store, &j)
                .await?,
        ),
    })
}

impl InstancePool {
    pub fn new(pre: AppPre<HostState>, ctx: Arc<AppContext>) -> InstancePool {
        let max_calls = ctx.limits.max_concurrent_calls.max(1) as usize;
        let faults = FaultWindow::new(FaultPolicy::new(&ctx.limits));
        InstancePool {
            pre,
            ctx,
            slots: Mutex::new(Slots::default()),
            freed: Notify::new(),
            max_calls,
            faults,
            stats: CallStats::default(),
            closed: AtomicBool::new(false),
        }
    }

    fn lock_slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A free slot and an idle instance if there is one, without waiting.
    fn try_claim(&self) -> Option<(Slot<'_>, Option<Instance>)> {
        let mut slots = self.lock_slots();
        if slots.busy >= self.max_calls {
            return None;
        }
        slots.busy += 1;
        let idle = slots.idle.pop();
        drop(slots);
        Some((
            Slot {
                pool: self,
                keep: None,
            },
            idle,
        ))
    }

    /// Waits up to `wait` for a slot to free up.
    async fn claim_waiting(&self, wait: Duration) -> Option<(Slot<'_>, Option<Instance>)> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a slot freed in between still wakes us.
            let notified = self.freed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(claimed) = self.try_claim() {
                return Some(claimed);
            }
            let woken = {
                let _waiting = Waiting::new(self);
                tokio::time::timeout_at(until, notified).await.is_ok()
            };
            if !woken {
                return self.try_claim();
            }
        }
    }

    pub fn context(&self) -> &Arc<AppContext> {
        &self.ctx
    }

    /// `Some` when the app faulted often enough lately to be disabled.
    pub fn fault_verdict(&self) -> Option<FaultRate> {
        self.faults.verdict()
    }

    /// A new instance outside the pool (the pool makes its own with this; benchmarks
    /// use it to measure a bare call).
    pub async fn instantiate(&self) -> Result<Instance, Fault> {
        let mut store = Store::new(self.pre.engine(), HostState::new(self.ctx.clone()));
        store.limiter(|s| &mut s.limits);
        // Bounds what the host allocates for one call's arguments before the host
        // function (and its permission check) runs; wasmtime's default is 128 MiB
        // whatever the app's memory.
        store.set_hostcall_fuel(self.ctx.limits.hostcall_fuel());
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let limit = self.ctx.limits.deadline(CallKind::Lifecycle);
        store
            .data_mut()
            .begin_call("instantiate", Instant::now() + limit);
        store.set_epoch_deadline(1);
        match self.pre.instantiate_async(&mut store).await {
            Ok(app) => Ok(Instance {
                store,
                app: Box::new(app),
            }),
            Err(e) => {
                let stderr = store.data_mut().take_stderr();
                Err(
                    match classify(
                        &e,
                        stderr.as_deref(),
                        (limit, self.ctx.limits.hostcall_fuel()),
                    ) {
                        Fault::Trap(t) => Fault::Instantiate(t),
                        other => other,
                    },
                )
            }
        }
    }

    /// Makes one instance ready ahead of the first call.
    pub async fn warm(&self) -> Result<(), Fault> {
        let instance = self.instantiate().await?;
        self.lock_slots().idle.push(instance);
        Ok(())
    }

    /// Runs one call in a free instance, within the call kind's deadline.
    pub async fn call(&self, call: Call) -> Result<Outcome, Fault> {
        let kind = call.kind();
        let started = Instant::now();
        // Counted in flight until recorded, even if the call is dropped midway.
        let in_flight = self.stats.started(kind);
        let result = self.run(call).await;
        in_flight.finish(result.as_ref().err(), started.elapsed());
        result
    }

    /// The app's calls so far, by kind and outcome.
    pub fn call_stats(&self) -> &CallStats {
        &self.stats
    }

    async fn run(&self, call: Call) -> Result<Outcome, Fault> {
        let handler = call.handler();
        if self.is_closed() {
            return Err(Fault::Stopped);
        }
        let limits = &self.ctx.limits;
        // A free slot is the common case; the cold paths are boxed to keep this
        // future small, as it is moved on every hook call.
        let (mut slot, idle) = match self.try_claim() {
            Some(claimed) => claimed,
            None => {
                let wait = Duration::from_millis(limits.queue_wait_ms);
                match Box::pin(self.claim_waiting(wait)).await {
                    Some(claimed) => claimed,
                    None => return Err(self.fault(handler, Fault::Busy(wait))),
                }
            }
        };
        let mut instance = match idle {
            Some(i) => i,
            None => match Box::pin(self.instantiate()).await {
                Ok(i) => i,
                Err(f) => return Err(self.fault(handler, f)),
            },
        };
        let limit = limits.deadline(call.kind());
        instance.arm(handler, limit);
        // The epoch deadline stops wasm; this also bounds time spent in host calls.
        let grace = limit + Duration::from_millis(500);
        let Instance { store, app } = &mut instance;
        let result = {
            // Most calls finish without waiting on a host call: poll once before
            // arming the timer, which costs more than such a call's bookkeeping.
            // Boxed, as is the timer: wasmtime's call future is 1.5 KiB, and the
            // futures holding this one are moved on every hook call (memcpy).
            let mut run = Box::pin(invoke(app, store, call));
            match futures::poll!(run.as_mut()) {
                Poll::Ready(done) => Ok(done),
                Poll::Pending => Box::pin(tokio::time::timeout(grace, run)).await,
            }
        };
        let stderr = instance.store.data_mut().take_stderr();
        match result {
            Ok(Ok(outcome)) => {
                if let Some(text) = &stderr {
                    for line in text.lines().take(50) {
                        self.ctx.logger.app_line("info", Some(handler), line);
                    }
                }
                match instance.store.data_mut().take_runaway() {
                    // The app answered, but scheduled past its rate: that counts.
                    Some(limit) => {
                        self.fault(handler, Fault::RunawayScheduling(limit));
                    }
                    None => self.faults.record(false),
                }
                if !instance.store.data().stderr_nearly_full() && !self.is_closed() {
                    slot.keep = Some(instance);
                }
                Ok(outcome)
            }
            Ok(Err(e)) => {
                let limits = (limit, self.ctx.limits.hostcall_fuel());
                Err(self.fault(handler, classify(&e, stderr.as_deref(), limits)))
            }
            Err(_) => Err(self.fault(handler, Fault::Deadline(limit))),
        }
    }

    fn fault(&self, handler: &'static str, fault: Fault) -> Fault {
        if fault.counts() {
            self.faults.record(true);
        }
        self.ctx.logger.host(
            "error",
            Some(handler),
            &format!("{handler} {fault}"),
            Some(fault.tag()),
        );
        fault
    }

    /// Stops the pool (the app is being disabled or replaced): idle instances are
    /// dropped, calls in progress finish, later calls fail with [`Fault::Stopped`].
    pub fn drain(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let idle = std::mem::take(&mut self.lock_slots().idle);
        drop(idle);
    }

    /// Whether [`InstancePool::drain`] stopped the pool.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}
