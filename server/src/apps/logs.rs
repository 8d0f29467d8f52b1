//! Each app's log: rate limited per minute, mirrored to `tracing` with the app id,
//! and written to storage in batches off the calling path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::store::apps::AppLogEntry;
use crate::store::{DynStore, Ts};
use crate::worker::Worker;

/// How long an app's log call may wait for room in the writer's queue before
/// its entry is dropped (counted): only a store that stopped writing takes that.
pub const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A log entry on its way to storage.
pub struct LogWriter {
    tx: mpsc::Sender<AppLogEntry>,
    worker: Worker,
}

impl LogWriter {
    /// Starts the background task that writes log entries in batches.
    pub fn start(store: DynStore) -> LogWriter {
        let (tx, mut rx) = mpsc::channel::<AppLogEntry>(8192);
        let worker = Worker::spawn("app-log-writer", |mut stop| async move {
            let mut batch = Vec::with_capacity(256);
            let mut stopping = false;
            loop {
                let n = tokio::select! {
                    n = rx.recv_many(&mut batch, 256) => n,
                    _ = stop.stopped(), if !stopping => {
                        // Refuse new entries; what is queued is still written.
                        stopping = true;
                        rx.close();
                        continue;
                    }
                };
                if n == 0 {
                    break;
                }
                if stopping
                    && stop
                        .deadline()
                        .is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    tracing::error!(
                        dropped = batch.len() + rx.len(),
                        "app log entries not stored: the shutdown deadline passed"
                    );
                    break;
                }
                if let Err(e) = store.append_app_logs(&batch).await {
                    tracing::error!(error = %e, entries = batch.len(), "cannot store app log entries");
                }
                batch.clear();
            }
        });
        LogWriter { tx, worker }
    }

    /// Writes what is queued and stops (before the store closes); later entries
    /// are dropped.
    pub async fn stop(&self) {
        self.worker.stop().await;
    }

    /// [`LogWriter::stop`], bounded by `deadline`.
    pub async fn stop_by(&self, deadline: tokio::time::Instant) {
        self.worker.stop_by(deadline).await;
    }

    fn send(&self, entry: AppLogEntry) -> bool {
        self.tx.try_send(entry).is_ok()
    }

    /// Queues `entry`, waiting up to [`QUEUE_WAIT`] for room: a burst slows the
    /// logging app down instead of losing what it was told was logged.
    async fn send_waiting(&self, entry: AppLogEntry) -> bool {
        matches!(
            tokio::time::timeout(QUEUE_WAIT, self.tx.send(entry)).await,
            Ok(Ok(()))
        )
    }
}

struct Window {
    minute: i64,
    count: u32,
}

/// One app's logger.
pub struct AppLogger {
    app_id: String,
    per_minute: u32,
    writer: std::sync::Arc<LogWriter>,
    window: Mutex<Window>,
    dropped: AtomicU64,
    /// What the host refused the app, by the log entry's reason tag (a bounded
    /// set: the host's own literals), for `/metrics`. Call faults are counted with
    /// the calls ([`super::call_stats`]), not here.
    refusals: Mutex<Vec<(String, u64)>>,
}

impl AppLogger {
    pub fn new(app_id: &str, per_minute: u32, writer: std::sync::Arc<LogWriter>) -> AppLogger {
        AppLogger {
            app_id: app_id.to_string(),
            per_minute,
            writer,
            window: Mutex::new(Window {
                minute: 0,
                count: 0,
            }),
            dropped: AtomicU64::new(0),
            refusals: Mutex::default(),
        }
    }

    /// Host refusals so far, by reason (`permission-denied`, `limit-exceeded`, …).
    pub fn refusals(&self) -> Vec<(String, u64)> {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count_refusal(&self, reason: &str) {
        if super::pool::Fault::TAGS.contains(&reason) {
            return;
        }
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        match refusals.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => refusals.push((reason.to_string(), 1)),
        }
    }

    /// Entries dropped by the rate limit so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Logs a line from the app (rate limited). Returns whether it was kept.
    pub fn app_line(&self, level: &str, handler: Option<&str>, message: &str) -> bool {
        if !self.admit(handler) {
            return false;
        }
        let message: String = message.chars().take(8 * 1024).collect();
        self.record(level, handler, &message, None);
        true
    }

    /// [`AppLogger::app_line`] for the app's own log call: it returns only once
    /// the entry is in the writer's queue (waiting up to [`QUEUE_WAIT`] for room),
    /// so an entry whose call returned is stored, even across a shutdown.
    pub async fn app_line_queued(&self, level: &str, handler: Option<&str>, message: &str) -> bool {
        if !self.admit(handler) {
            return false;
        }
        let message: String = message.chars().take(8 * 1024).collect();
        let entry = self.entry(level, handler, &message, None);
        if self.writer.send_waiting(entry).await {
            true
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Applies the rate limit to one more line; false if it must be dropped.
    fn admit(&self, handler: Option<&str>) -> bool {
        let now = Ts::now();
        {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            let minute = now.0 / 60_000;
            if w.minute != minute {
                if w.count > self.per_minute {
                    let dropped = w.count - self.per_minute;
                    tracing::warn!(app_id = %self.app_id, dropped, "app log lines dropped by the rate limit");
                }
                w.minute = minute;
                w.count = 0;
            }
            w.count += 1;
            if w.count > self.per_minute {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if w.count == self.per_minute + 1 {
                    drop(w);
                    self.record(
                        "warn",
                        handler,
                        &format!(
                            "log rate limit reached ({} lines per minute); further lines this minute are dropped",
                            self.per_minute
                        ),
                        Some("log-rate"),
                    );
                }
                return false;
            }
        }
        true
    }

    /// Records what the host did or refused (not rate limited: these are rare and
    /// an admin needs every one).
    pub fn host(&self, level: &str, handler: Option<&str>, message: &str, fault: Option<&str>) {
        if let Some(reason) = fault {
            self.count_refusal(reason);
        }
        self.record(level, handler, message, fault);
    }

    fn record(&self, level: &str, handler: Option<&str>, message: &str, fault: Option<&str>) {
        let entry = self.entry(level, handler, message, fault);
        if !self.writer.send(entry) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn entry(
        &self,
        level: &str,
        handler: Option<&str>,
        message: &str,
        fault: Option<&str>,
    ) -> AppLogEntry {
        match level {
            "error" => tracing::error!(app_id = %self.app_id, handler, fault, "{message}"),
            "warn" => tracing::warn!(app_id = %self.app_id, handler, fault, "{message}"),
            _ => tracing::debug!(app_id = %self.app_id, handler, fault, "{message}"),
        }
        AppLogEntry {
            app_id: self.app_id.clone(),
            ts: Ts::now(),
            level: level.to_string(),
            handler: handler.map(str::to_string),
            message: message.to_string(),
            fault: fault.map(str::to_string),
        }
    }
}
