//! Background workers with one lifecycle: a named task started with a stop signal,
//! stopped by raising the signal and awaiting the task, which drains or flushes
//! what it holds before it returns. Shutdown stops workers in order (see
//! `serve`), so nothing a worker does can outlive the store it writes to.

pub mod outbox;

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a worker's task watches to know it should wind down.
#[derive(Clone, Debug)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Resolves once the worker is told to stop (or its handle is gone).
    pub async fn stopped(&mut self) {
        // An error means the `Worker` was dropped: stopping is all that is left.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// A running background task and the signal that stops it.
#[derive(Debug)]
pub struct Worker {
    name: &'static str,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    /// Starts `run` as the worker `name`; `run` gets the signal to watch.
    pub fn spawn<F, Fut>(name: &'static str, run: F) -> Worker
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, signal) = watch::channel(false);
        let task = tokio::spawn(run(StopSignal(signal)));
        Worker {
            name,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Tells the task to stop and waits until it has (drained, flushed, returned).
    /// Stopping twice, or a task that already ended, is fine.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(worker = self.name, error = %e, "worker ended abnormally");
            }
            tracing::debug!(worker = self.name, "worker stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn stop_waits_for_the_task_to_drain() {
        let drained = Arc::new(AtomicBool::new(false));
        let seen = drained.clone();
        let worker = Worker::spawn("test", |mut stop| async move {
            stop.stopped().await;
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
}
