//! Background workers, and how they stop.
//!
//! # Design
//!
//! Everything that runs past a request — the event relay between instances, the
//! realtime fan-out, the apps' event dispatcher and per-app event queues, the app
//! scheduler, the app log writer, the delivery queue — is a [`Worker`]: a named
//! tokio task started with a [`StopSignal`]. A worker's life has three phases:
//!
//! 1. **Running**: it does its work and watches [`StopSignal::stopped`] next to its
//!    input (`tokio::select!`).
//! 2. **Draining**: once told to stop it takes no new work (it closes or stops
//!    reading its input) and finishes what it already holds: a queue runs its
//!    queued calls, a writer flushes its buffer. A stop may carry a *deadline*
//!    ([`StopSignal::deadline`]); a worker whose drain could run long bounds it with
//!    [`StopSignal::drain_within`] and logs what it had to drop, with a count.
//! 3. **Stopped**: the task returned. [`Worker::stop`] and [`Worker::stop_by`]
//!    return only then, so whatever a worker writes is written before the caller
//!    goes on. A worker that ignores its deadline is aborted shortly after it
//!    ([`ABORT_MARGIN`]) with an error logged: a stuck worker cannot hold the
//!    process.
//!
//! Workers that belong together (the per-app event queues, short tasks an app
//! call leaves behind) are held in [`Workers`], which stops them all at once.
//!
//! Shutdown (`serve`) stops workers in dependency order — producers before the
//! consumers they feed, everything before the store closes — so no worker ever
//! touches a closed store and nothing acknowledged to a client or an app is lost
//! by the stop itself. A worker is not a disable: stopping one never runs an app's
//! `on-disable` and never deletes jobs or state.

pub mod background;
pub mod link_previews;
pub mod log_settings;
pub mod outbox;
pub mod upload_sweeper;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long past its deadline a worker gets to log what it dropped and return
/// before it is aborted.
pub const ABORT_MARGIN: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    /// Told to stop; the drain must end by the instant, if there is one.
    Stopping(Option<Instant>),
}

/// What a worker's task watches to know it should wind down.
#[derive(Clone, Debug)]
pub struct StopSignal(watch::Receiver<State>);

impl StopSignal {
    /// Resolves once the worker is told to stop (or its handle is gone).
    pub async fn stopped(&mut self) {
        // An error means the `Worker` was dropped: stopping is all that is left.
        let _ = self.0.wait_for(|s| *s != State::Running).await;
    }

    /// Whether the worker has been told to stop.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow() != State::Running || self.0.has_changed().is_err()
    }

    /// When the drain must be over: `None` while running, or when the stop set no
    /// deadline (drain everything).
    pub fn deadline(&self) -> Option<Instant> {
        match *self.0.borrow() {
            State::Stopping(deadline) => deadline,
            State::Running => None,
        }
    }

    /// Runs `drain` to its end, or until the stop's deadline: `None` when cut short.
    pub async fn drain_within<F: Future>(&self, drain: F) -> Option<F::Output> {
        match self.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, drain).await.ok(),
            None => Some(drain.await),
        }
    }
}

/// A running background task and the signal that stops it.
#[derive(Debug)]
pub struct Worker {
    name: Cow<'static, str>,
    stop: watch::Sender<State>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    /// Starts `run` as the worker `name`; `run` gets the signal to watch.
    pub fn spawn<F, Fut>(name: impl Into<Cow<'static, str>>, run: F) -> Worker
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::spawn_on(&tokio::runtime::Handle::current(), name, run)
    }

    /// [`Worker::spawn`] on another runtime (the background runtime, see
    /// [`background`]); it is stopped from any runtime alike.
    pub fn spawn_on<F, Fut>(
        runtime: &tokio::runtime::Handle,
        name: impl Into<Cow<'static, str>>,
        run: F,
    ) -> Worker
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, signal) = watch::channel(State::Running);
        let task = runtime.spawn(run(StopSignal(signal)));
        Worker {
            name: name.into(),
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the task has returned (or was already stopped).
    pub fn is_finished(&self) -> bool {
        self.lock_task().as_ref().is_none_or(|t| t.is_finished())
    }

    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the task to stop and waits until it has drained everything it holds
    /// and returned. Stopping twice, or a task that already ended, is fine.
    pub async fn stop(&self) {
        self.signal(None);
        let task = self.lock_task().take();
        if let Some(task) = task {
            self.joined(task.await);
        }
    }

    /// Tells the task to stop with its drain bounded by `deadline`, and waits for
    /// it; a task still running [`ABORT_MARGIN`] past the deadline is aborted.
    pub async fn stop_by(&self, deadline: Instant) {
        self.signal(Some(deadline));
        let task = self.lock_task().take();
        let Some(mut task) = task else { return };
        match tokio::time::timeout_at(deadline + ABORT_MARGIN, &mut task).await {
            Ok(result) => self.joined(result),
            Err(_) => {
                tracing::error!(
                    worker = %self.name,
                    "worker did not stop by its deadline; aborted"
                );
                task.abort();
                let _ = task.await;
            }
        }
    }

    fn signal(&self, deadline: Option<Instant>) {
        self.stop.send_if_modified(|s| match s {
            State::Running => {
                *s = State::Stopping(deadline);
                true
            }
            State::Stopping(_) => false,
        });
    }

    fn joined(&self, result: Result<(), tokio::task::JoinError>) {
        match result {
            Err(e) => tracing::error!(worker = %self.name, error = %e, "worker ended abnormally"),
            Ok(()) => tracing::debug!(worker = %self.name, "worker stopped"),
        }
    }
}

/// A set of workers stopped together (e.g. one event queue per enabled app).
#[derive(Debug, Default)]
pub struct Workers {
    workers: Mutex<Vec<Worker>>,
}

impl Workers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a worker (forgetting those that already returned, so short-lived ones
    /// do not pile up).
    pub fn add(&self, worker: Worker) {
        let mut workers = self.lock();
        workers.retain(|w| !w.is_finished());
        workers.push(worker);
    }

    /// Workers not yet returned.
    pub fn running(&self) -> usize {
        self.lock().iter().filter(|w| !w.is_finished()).count()
    }

    /// Stops every worker at once, each bounded by `deadline`, and waits for all.
    pub async fn stop_by(&self, deadline: Instant) {
        let workers = std::mem::take(&mut *self.lock());
        futures::future::join_all(workers.iter().map(|w| w.stop_by(deadline))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn stop_waits_for_the_task_to_drain() {
        let drained = Arc::new(AtomicBool::new(false));
        let seen = drained.clone();
        let worker = Worker::spawn("test", |mut stop| async move {
            stop.stopped().await;
            assert_eq!(stop.deadline(), None, "a plain stop drains everything");
            tokio::task::yield_now().await;
            seen.store(true, Ordering::SeqCst);
        });
        worker.stop().await;
        assert!(
            drained.load(Ordering::SeqCst),
            "stop returned before the drain"
        );
        worker.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_is_cut_at_the_deadline_and_the_worker_reports_it() {
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (ran2, dropped2) = (ran.clone(), dropped.clone());
        let worker = Worker::spawn("queue", |mut stop| async move {
            stop.stopped().await;
            // Ten queued items of one second each; the deadline allows three.
            let mut left = 10;
            let drain = async {
                while left > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    ran2.fetch_add(1, Ordering::SeqCst);
                    left -= 1;
                }
            };
            if stop.drain_within(drain).await.is_none() {
                dropped2.store(left, Ordering::SeqCst);
            }
        });
        let deadline = Instant::now() + Duration::from_millis(3_500);
        worker.stop_by(deadline).await;
        assert!(Instant::now() <= deadline + ABORT_MARGIN);
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        assert_eq!(dropped.load(Ordering::SeqCst), 7, "the drop was counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_ignoring_its_deadline_is_aborted() {
        let worker = Worker::spawn("stuck", |_stop| async move {
            std::future::pending::<()>().await;
        });
        let deadline = Instant::now() + Duration::from_secs(2);
        worker.stop_by(deadline).await;
        assert!(worker.is_finished());
        assert!(Instant::now() <= deadline + ABORT_MARGIN + Duration::from_millis(1));
    }

    #[tokio::test]
    async fn a_group_stops_every_worker_and_forgets_finished_ones() {
        let group = Workers::default();
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let stopped = stopped.clone();
            group.add(Worker::spawn("member", |mut stop| async move {
                stop.stopped().await;
                stopped.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let quick = Worker::spawn("one-shot", |_stop| async {});
        while !quick.is_finished() {
            tokio::task::yield_now().await;
        }
        group.add(quick);
        group.add(Worker::spawn("member", |mut stop| async move {
            stop.stopped().await;
        }));
        assert_eq!(group.running(), 4, "the finished one-shot is not counted");
        assert_eq!(group.lock().len(), 4, "the finished one-shot was forgotten");
        group.stop_by(Instant::now() + Duration::from_secs(5)).await;
        assert_eq!(stopped.load(Ordering::SeqCst), 3);
        assert_eq!(group.running(), 0);
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_worker() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker = Worker::spawn("orphan", |mut stop| async move {
            stop.stopped().await;
            let _ = tx.send(stop.is_stopped());
        });
        drop(worker);
        assert!(rx.await.unwrap());
    }
}
