//! The delivery queue's workers: one [`Worker`] per kind leases due items from the
//! store and hands each to the kind's [`DeliveryHandler`], a bounded number at a
//! time, then completes, reschedules (backoff with jitter, `Retry-After`) or
//! dead-letters it.
//!
//! Guarantees (the store's, see `store::outbox`, plus these):
//! - at least once: an item leaves the queue only after its handler reported it
//!   delivered; a crash between delivery and that report delivers it again once
//!   the lease expires, so receivers should deduplicate (webhooks carry the
//!   message id);
//! - one instance at a time works an item (leases), whatever the number of
//!   instances on one database;
//! - no order: items of one kind are leased oldest-due first, but delivered
//!   concurrently and retried independently;
//! - an item enqueued here wakes this instance's worker at once; other instances
//!   find it at their next poll (`outbox.poll_interval_ms`).
//!
//! Stopping stops leasing, lets deliveries under way finish within the grace
//! period, and gives back the leases of those that did not (they are delivered
//! again, by whichever instance runs next).

pub mod config;
pub mod http;
pub mod policy;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use config::OutboxConfig;
pub use policy::{DeliveryError, Retry, RetryPolicy};

use super::{StopSignal, Worker};
use crate::store::outbox::{OutboxFailure, OutboxItem, OutboxKind, OutboxStats};
use crate::store::{DynStore, Listing, Page, StoreResult, Ts};
use policy::Verdict;

/// Longest a busy kind waits before recording its deliveries and leasing more,
/// whatever its free slots (a few slow deliveries do not hold the rest back).
const REFILL_AFTER: Duration = Duration::from_millis(50);

/// Delivers the items of one kind. A new kind (e-mail, push, the Matrix bridge)
/// is a new handler; the worker does not change.
#[async_trait]
pub trait DeliveryHandler: Send + Sync + 'static {
    fn kind(&self) -> OutboxKind;
    /// Deliveries of this kind under way at once; `None`: the configured number.
    fn concurrency(&self) -> Option<usize> {
        None
    }
    /// How this item is retried; `defaults` come from the configuration.
    fn policy(&self, _item: &OutboxItem, defaults: &RetryPolicy) -> RetryPolicy {
        *defaults
    }
    /// One attempt. `Ok` removes the item from the queue.
    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError>;
}

/// Deliveries made since start, per kind (for `/metrics`).
#[derive(Debug, Default)]
pub struct KindCounters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dead: AtomicU64,
}

/// The queue: enqueueing, the workers, and what admins do with it.
pub struct Outbox {
    store: DynStore,
    config: OutboxConfig,
    /// This instance's name on leases.
    owner: String,
    wake: HashMap<OutboxKind, Arc<Notify>>,
    /// Per kind, the earliest moment its worker must look again (a retry, or an
    /// item queued to start later), shared with the worker.
    next_due: HashMap<OutboxKind, Arc<Mutex<Option<Instant>>>>,
    counters: HashMap<OutboxKind, Arc<KindCounters>>,
    workers: Mutex<Vec<Worker>>,
}

impl Outbox {
    pub fn new(store: DynStore, config: OutboxConfig, owner: String) -> Arc<Outbox> {
        let kinds = OutboxKind::ALL.iter().copied();
        Arc::new(Outbox {
            store,
            wake: kinds.clone().map(|k| (k, Arc::default())).collect(),
            next_due: kinds.clone().map(|k| (k, Arc::default())).collect(),
            counters: kinds.map(|k| (k, Arc::default())).collect(),
            config,
            owner,
            workers: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &OutboxConfig {
        &self.config
    }

    /// Queues items (one store write); those whose dedupe key is queued already
    /// are skipped. Wakes this instance's workers of their kinds. Returns how many
    /// were queued.
    pub async fn enqueue(&self, items: &[OutboxItem]) -> StoreResult<u64> {
        let inserted = self.store.enqueue_outbox(items).await?;
        if inserted > 0 {
            let kinds: HashSet<OutboxKind> = items.iter().map(|i| i.kind).collect();
            for kind in kinds {
                self.wake_kind(kind);
            }
        }
        Ok(inserted)
    }

    /// Queues `items` and records the progress of `marker` (held by this
    /// instance) as its new payload, in one step (see
    /// `OutboxStore::enqueue_outbox_advancing`). `Ok(None)`: the lease on
    /// `marker` was lost; nothing was queued.
    pub async fn enqueue_advancing(
        &self,
        items: &[OutboxItem],
        marker: &OutboxItem,
        payload: &serde_json::Value,
    ) -> StoreResult<Option<u64>> {
        let inserted = self
            .store
            .enqueue_outbox_advancing(items, &marker.id, &self.owner, payload)
            .await?;
        if inserted.is_some_and(|n| n > 0) {
            let kinds: HashSet<OutboxKind> = items.iter().map(|i| i.kind).collect();
            for kind in kinds {
                self.wake_kind(kind);
            }
        }
        Ok(inserted)
    }

    /// Wakes this instance's worker of `kind` (items were queued elsewhere).
    pub fn wake(&self, kind: OutboxKind) {
        self.wake_kind(kind);
    }

    /// Wakes this instance's worker of `kind` at `at` (an item queued to start
    /// later), without waiting for its next poll.
    pub fn wake_at(&self, kind: OutboxKind, at: Instant) {
        if let Some(due) = self.next_due.get(&kind) {
            let mut next = lock(due);
            if next.is_none_or(|n| at < n) {
                *next = Some(at);
            }
        }
        // The worker recomputes how long to sleep.
        self.wake_kind(kind);
    }

    fn wake_kind(&self, kind: OutboxKind) {
        if let Some(n) = self.wake.get(&kind) {
            n.notify_one();
        }
    }

    /// Starts one worker per handler on `runtime` (the background runtime: what
    /// the deliveries spawn runs there too). `grace` bounds how long stopping waits
    /// for deliveries under way.
    pub fn start(
        self: &Arc<Self>,
        handlers: Vec<Arc<dyn DeliveryHandler>>,
        grace: Duration,
        runtime: &tokio::runtime::Handle,
    ) {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for handler in handlers {
            let kind = handler.kind();
            let concurrency = handler
                .concurrency()
                .unwrap_or(self.config.concurrency)
                .max(1);
            let run = KindRun {
                concurrency,
                outbox: self.clone(),
                handler,
                defaults: self.config.default_policy(),
                in_flight: Arc::default(),
                delivered: Arc::default(),
                next_retry: self.next_due.get(&kind).cloned().unwrap_or_default(),
                counters: self.counters.get(&kind).cloned().unwrap_or_default(),
            };
            tracing::info!(kind = %kind, concurrency, "outbox worker started");
            workers.push(Worker::spawn_on(runtime, "outbox", move |stop| {
                run.run(stop, grace)
            }));
        }
    }

    /// Stops every worker (see the module docs); the store stays open.
    pub async fn stop(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in &workers {
            w.stop().await;
        }
    }

    /// Like [`Outbox::stop`], with every kind's drain bounded by `deadline`.
    pub async fn stop_by(&self, deadline: tokio::time::Instant) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        futures::future::join_all(workers.iter().map(|w| w.stop_by(deadline))).await;
    }

    pub async fn stats(&self) -> StoreResult<Vec<OutboxStats>> {
        self.store.outbox_stats(Ts::now()).await
    }

    pub fn counters(&self, kind: OutboxKind) -> Option<&KindCounters> {
        self.counters.get(&kind).map(|c| c.as_ref())
    }

    pub async fn item(&self, id: &str) -> StoreResult<Option<OutboxItem>> {
        self.store.outbox_item(id).await
    }

    pub async fn dead(
        &self,
        kind: Option<OutboxKind>,
        page: Page,
    ) -> StoreResult<Listing<OutboxItem>> {
        self.store.dead_outbox(kind, page).await
    }

    /// Puts dead items back in the queue with a fresh round of attempts.
    pub async fn retry_dead(&self, id: Option<&str>, kind: Option<OutboxKind>) -> StoreResult<u64> {
        let n = self.store.retry_dead_outbox(id, kind, Ts::now()).await?;
        if n > 0 {
            for k in OutboxKind::ALL {
                if kind.is_none_or(|kind| kind == *k) {
                    self.wake_kind(*k);
                }
            }
        }
        Ok(n)
    }

    pub async fn drop_dead(&self, id: Option<&str>, kind: Option<OutboxKind>) -> StoreResult<u64> {
        self.store.drop_dead_outbox(id, kind).await
    }
}

/// The worker of one kind.
struct KindRun {
    concurrency: usize,
    outbox: Arc<Outbox>,
    handler: Arc<dyn DeliveryHandler>,
    defaults: RetryPolicy,
    /// Items leased and not finished, to give back if stopping cuts them short.
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// Items delivered whose completion is not yet recorded: the loop records them
    /// in one write each turn, so a burst of deliveries (a large room's pushes)
    /// costs the store's writer a few writes, not one per item.
    delivered: Arc<Mutex<Vec<String>>>,
    /// The earliest retry this instance scheduled: the worker wakes for it rather
    /// than at the next poll.
    next_retry: Arc<Mutex<Option<Instant>>>,
    counters: Arc<KindCounters>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KindRun {
    async fn run(self, mut stop: StopSignal, grace: Duration) {
        let this = Arc::new(self);
        let kind = this.handler.kind();
        let config = &this.outbox.config;
        let slots = Arc::new(Semaphore::new(this.concurrency));
        let wake = this.outbox.wake.get(&kind).cloned().unwrap_or_default();
        let mut tasks = JoinSet::new();
        // Whether due items may be waiting: after a wake, a poll, or a batch that
        // filled every free slot.
        let mut lease_wanted = true;
        // A busy queue refills (records what was delivered, leases more) once half
        // its slots are free, or after REFILL_AFTER: two writes per half-batch
        // rather than two per item, which the store's writer would carry.
        let refill_at = (this.concurrency / 2).max(1);
        let mut refilled = Instant::now();
        loop {
            let free = slots.available_permits();
            if !(tasks.is_empty() || free >= refill_at || refilled.elapsed() >= REFILL_AFTER) {
                tokio::select! {
                    _ = stop.stopped() => break,
                    _ = wake.notified() => lease_wanted = true,
                    _ = tokio::time::sleep(REFILL_AFTER.saturating_sub(refilled.elapsed())) => {}
                    Some(_) = tasks.join_next() => {}
                }
                continue;
            }
            refilled = Instant::now();
            this.record_delivered().await;
            if lease_wanted && free > 0 {
                let now = Ts::now();
                let until = Ts(now.0 + config.lease().as_millis() as i64);
                match this
                    .outbox
                    .store
                    .lease_outbox(kind, now, &this.outbox.owner, until, free as u32)
                    .await
                {
                    Ok(items) => {
                        lease_wanted = items.len() == free;
                        for item in items {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            lock(&this.in_flight).insert(item.id.clone());
                            let run = this.clone();
                            tasks.spawn(async move {
                                run.deliver(item).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(kind = %kind, error = %e, "outbox: leasing failed; trying again at the next poll");
                        lease_wanted = false;
                    }
                }
            }
            let mut wait = config.poll_interval();
            if let Some(at) = *lock(&this.next_retry) {
                wait = wait.min(at.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                _ = stop.stopped() => break,
                _ = wake.notified() => lease_wanted = true,
                _ = tokio::time::sleep(wait) => {
                    let mut next = lock(&this.next_retry);
                    if next.is_some_and(|at| at <= Instant::now()) {
                        *next = None;
                    }
                    lease_wanted = true;
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        // Stopping: no more leases; what is under way gets the grace period.
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        this.record_delivered().await;
        let unfinished: Vec<String> = lock(&this.in_flight).drain().collect();
        if !unfinished.is_empty() {
            match this
                .outbox
                .store
                .release_outbox(&unfinished, &this.outbox.owner)
                .await
            {
                Ok(n) => {
                    tracing::info!(kind = %kind, released = n, "outbox: gave back unfinished deliveries")
                }
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "outbox: could not give back leases; they expire")
                }
            }
        }
    }

    /// Records the completions gathered since the last turn, in one write. A
    /// failed write leaves the items leased: they are delivered again once their
    /// lease expires (at least once).
    async fn record_delivered(&self) {
        let ids = std::mem::take(&mut *lock(&self.delivered));
        if ids.is_empty() {
            return;
        }
        let kind = self.handler.kind();
        match self
            .outbox
            .store
            .complete_outbox_many(&ids, &self.outbox.owner)
            .await
        {
            Ok(n) if n == ids.len() as u64 => {}
            Ok(n) => {
                tracing::warn!(kind = %kind, delivered = ids.len(), recorded = n, "outbox: some leases were lost before the deliveries were recorded (they may be delivered again)");
            }
            Err(e) => {
                tracing::warn!(kind = %kind, delivered = ids.len(), error = %e, "outbox: recording deliveries failed; the leases will expire");
            }
        }
        let mut in_flight = lock(&self.in_flight);
        for id in &ids {
            in_flight.remove(id);
        }
    }

    /// One attempt at one item; a failure is recorded at once, a delivery with the
    /// turn's others ([`KindRun::record_delivered`]).
    async fn deliver(&self, item: OutboxItem) {
        let store = &self.outbox.store;
        let owner = &self.outbox.owner;
        let kind = item.kind;
        let recorded = match self.handler.deliver(&item).await {
            Ok(()) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(kind = %kind, item_id = %item.id, "outbox: delivered");
                lock(&self.delivered).push(item.id);
                return;
            }
            Err(error) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let attempts = item.attempts.saturating_add(1);
                let now = Ts::now();
                let age = Duration::from_millis(now.0.saturating_sub(item.since.0).max(0) as u64);
                let policy = self.handler.policy(&item, &self.defaults);
                match policy.verdict(&error, attempts, age) {
                    Verdict::RetryIn(wait) => {
                        tracing::info!(kind = %kind, item_id = %item.id, attempts, ?wait, error = %error.message, "outbox: delivery failed; will retry");
                        let at = Instant::now() + wait;
                        {
                            let mut next = lock(&self.next_retry);
                            if next.is_none_or(|n| at < n) {
                                *next = Some(at);
                            }
                        }
                        let retry_at = Ts(now.0.saturating_add(wait.as_millis() as i64));
                        let result = store
                            .fail_outbox(
                                &item.id,
                                owner,
                                &error.message,
                                OutboxFailure::RetryAt(retry_at),
                            )
                            .await;
                        // The loop may be asleep until the next poll.
                        self.outbox.wake_kind(kind);
                        result
                    }
                    Verdict::Dead(why) => {
                        self.counters.dead.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(kind = %kind, item_id = %item.id, attempts, reason = why.as_str(), error = %error.message, "outbox: delivery given up (dead letter)");
                        let message = format!("{} (gave up: {})", error.message, why.as_str());
                        store
                            .fail_outbox(&item.id, owner, &message, OutboxFailure::Dead)
                            .await
                    }
                }
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(kind = %kind, item_id = %item.id, "outbox: the lease was lost before the attempt was recorded (it may be delivered again)");
            }
            Err(e) => {
                tracing::warn!(kind = %kind, item_id = %item.id, error = %e, "outbox: recording the attempt failed; the lease will expire");
            }
        }
        lock(&self.in_flight).remove(&item.id);
    }
}
