//! The one thread that writes to SQLite. It *group-commits*: every write queued at
//! that moment runs inside its own savepoint of a single transaction, which commits
//! once (one fsync in WAL mode); only then is each caller answered. An `Ok`
//! therefore always means "on disk", without one fsync per message.
//!
//! Writes come in two lanes ([`Lane`]). A request's write runs in the next
//! transaction, before any background write queued ahead of it; background writes
//! (a fan-out's page of notices, delivery receipts) run in slices of about
//! [`BACKGROUND_SLICE`], and a request that arrives during a slice joins the open
//! transaction after the write under way, which then commits. So a post waits for
//! at most one background write, never for the thousands a large room's
//! notifications queue; and each transaction takes at least one background write,
//! so a steady stream of requests cannot starve the background. While requests
//! come, the writer rests after each background slice as long as the slice took:
//! background writes get half its time, and the cores meanwhile serve the requests
//! (a large room's notices arrive a little later, its posts do not).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::map_err;
use crate::store::lane::{thread_lane, Lane};
use crate::store::{StoreError, StoreResult};

/// Most writes one transaction takes; bounds the latency a batch adds.
const MAX_BATCH: usize = 512;
/// How long background writes may run in one transaction before it commits.
const BACKGROUND_SLICE: Duration = Duration::from_millis(4);
/// How long after a request's write the background counts as competing with
/// requests (see `Queues::rest`).
const REQUESTS_ABOUT: Duration = Duration::from_millis(500);
/// While requests are about, the writer rests this many times as long as a
/// background transaction took: background writes get half its time.
const REST_PER_SLICE: u32 = 1;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs one write in the open transaction; returns how to answer its caller once the
/// transaction ends, and the write's own error (if it failed).
type Job = Box<dyn FnOnce(&Connection) -> (Completion, Option<StoreError>) + Send>;

enum Msg {
    Job(Lane, Job),
    Close(oneshot::Sender<()>),
}

/// The writer thread's handle.
pub(super) struct Writer {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
}

impl Writer {
    /// Starts the thread on `conn`; with `checkpoints`, a second connection to
    /// the same database, the log is checkpointed by a thread of its own
    /// ([`Checkpointer`]) instead of inside the writer's commits.
    pub(super) fn start(
        conn: Connection,
        checkpoints: Option<Connection>,
    ) -> std::io::Result<Writer> {
        let checkpointer = match checkpoints {
            Some(c) => {
                conn.pragma_update(
                    None,
                    "wal_autocheckpoint",
                    super::checkpoint::WRITER_AUTOCHECKPOINT_PAGES,
                )
                .map_err(std::io::Error::other)?;
                Some(Checkpointer::start(c)?)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                Queues {
                    checkpointer,
                    ..Queues::default()
                }
                .run(&conn, &rx)
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
        })
    }

    /// Runs `f` on the writer connection inside a savepoint, in the calling
    /// thread's lane; resolves once the enclosing transaction has committed.
    pub(super) async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<R>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = run_in_savepoint(conn, f);
            let failure = result.as_ref().err().cloned();
            let completion: Completion = Box::new(move |committed: Result<(), StoreError>| {
                let out = match committed {
                    Ok(()) => result,
                    Err(StoreError::Backend(e)) => {
                        Err(StoreError::Backend(format!("commit failed: {e}")))
                    }
                    Err(e) => Err(e),
                };
                let _ = tx.send(out);
            });
            (completion, failure)
        });
        {
            let guard = self
                .tx
                .lock()
                .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?;
            let sender = guard
                .as_ref()
                .ok_or_else(|| StoreError::Backend("storage is closed".into()))?;
            sender
                .send(Msg::Job(thread_lane(), job))
                .map_err(|_| StoreError::Backend("storage writer stopped".into()))?;
        }
        rx.await
            .map_err(|_| StoreError::Backend("storage writer stopped".into()))?
    }

    /// Runs every write queued so far, checkpoints and ends the thread; later
    /// writes are refused.
    pub(super) async fn close(&self) -> StoreResult<()> {
        let sender = self
            .tx
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?
            .take();
        if let Some(sender) = sender {
            let (tx, rx) = oneshot::channel();
            if sender.send(Msg::Close(tx)).is_ok() {
                let _ = rx.await;
            }
        }
        Ok(())
    }
}

fn run_in_savepoint<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<R>,
) -> StoreResult<R> {
    conn.execute_batch("SAVEPOINT job").map_err(map_err)?;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Backend("write panicked".into())));
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (SQLITE_FULL, an I/O error): the
        // savepoint is gone with it; the batch learns of it from `is_autocommit`.
        return result.and_then(|_| {
            Err(StoreError::Backend(
                "the transaction was rolled back by SQLite".into(),
            ))
        });
    }
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    if let Err(e) = conn.execute_batch(end) {
        return Err(map_err(e));
    }
    result
}

/// The writes received and not yet run, by lane.
#[derive(Default)]
struct Queues {
    request: VecDeque<Job>,
    background: VecDeque<Job>,
    /// When a request's write last ran.
    last_request: Option<Instant>,
    /// Set once `close` was asked: it was the last message.
    close: Option<oneshot::Sender<()>>,
    checkpointer: Option<Checkpointer>,
}

impl Queues {
    fn run(mut self, conn: &Connection, rx: &mpsc::Receiver<Msg>) {
        loop {
            if self.request.is_empty() && self.background.is_empty() {
                if self.close.is_some() {
                    break;
                }
                match rx.recv() {
                    Ok(msg) => self.take(msg),
                    Err(_) => break,
                }
            }
            self.receive(rx);
            self.transaction(conn, rx);
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(error = %e, "sqlite checkpoint at close failed");
        }
        if let Some(reply) = self.close.take() {
            let _ = reply.send(());
        }
    }

    /// Whether requests are about: then background writes get a share of the
    /// writer's time only.
    fn requests_about(&self) -> bool {
        self.close.is_none()
            && self
                .last_request
                .is_some_and(|at| at.elapsed() < REQUESTS_ABOUT)
    }

    /// Waits `spent` (or until a request comes), taking what arrives meanwhile.
    fn rest(&mut self, rx: &mpsc::Receiver<Msg>, spent: Duration) {
        let until = Instant::now() + spent.min(BACKGROUND_SLICE * 2 * REST_PER_SLICE);
        while self.request.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(msg) => self.take(msg),
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Job(Lane::Request, job) => self.request.push_back(job),
            Msg::Job(Lane::Background, job) => self.background.push_back(job),
            Msg::Close(reply) => self.close = Some(reply),
        }
    }

    /// Takes whatever has been sent meanwhile, without waiting.
    fn receive(&mut self, rx: &mpsc::Receiver<Msg>) {
        while let Ok(msg) = rx.try_recv() {
            self.take(msg);
        }
    }

    /// The next write this transaction runs, if any: requests first; background
    /// writes while the slice lasts and no request has been served in it, and
    /// always one per transaction.
    fn next(&mut self, slice: Instant, requests: usize, backgrounds: usize) -> Option<(Job, Lane)> {
        if let Some(job) = self.request.pop_front() {
            return Some((job, Lane::Request));
        }
        let in_slice = requests == 0 && slice.elapsed() < BACKGROUND_SLICE;
        if backgrounds == 0 || in_slice {
            return self
                .background
                .pop_front()
                .map(|job| (job, Lane::Background));
        }
        None
    }

    /// Runs one transaction of queued writes and answers their callers; after
    /// one of background writes only, while requests are about, rests
    /// [`REST_PER_SLICE`] times as long as it took.
    fn transaction(&mut self, conn: &Connection, rx: &mpsc::Receiver<Msg>) {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite begin failed");
            // Those jobs never ran; dropping them answers their callers with an
            // error (one batch's worth, as a transaction would have taken).
            let (requests, backgrounds) = (self.request.len(), self.background.len());
            self.request.drain(..requests.min(MAX_BATCH));
            self.background
                .drain(..backgrounds.min(MAX_BATCH.saturating_sub(requests)));
            return;
        }
        let started = Instant::now();
        let (mut requests, mut backgrounds) = (0, 0);
        let mut completions: Vec<Completion> = Vec::new();
        let (mut aborted, mut wrote) = (None, false);
        while completions.len() < MAX_BATCH {
            let Some((job, lane)) = self.next(started, requests, backgrounds) else {
                break;
            };
            match lane {
                Lane::Request => requests += 1,
                Lane::Background => backgrounds += 1,
            }
            let (completion, failure) = job(conn);
            completions.push(completion);
            wrote |= failure.is_none();
            if conn.is_autocommit() {
                // SQLite rolled the transaction back (a full disk, an I/O error):
                // every write of it so far is undone and fails alike; the queued
                // ones go on in a new transaction.
                aborted = Some(failure.unwrap_or_else(|| {
                    StoreError::Backend("the transaction was rolled back by SQLite".into())
                }));
                break;
            }
            // A request sent meanwhile joins this transaction.
            self.receive(rx);
        }
        let committed = match aborted {
            Some(e) => Err(e),
            None => conn.execute_batch("COMMIT").map_err(map_err),
        };
        if committed.is_ok() {
            if wrote {
                crate::store::full::write_succeeded();
            }
            if let Some(checkpointer) = &self.checkpointer {
                checkpointer.committed();
            }
        }
        if let Err(e) = &committed {
            if !matches!(e, StoreError::Full(_)) {
                tracing::error!(error = %e, "sqlite commit failed");
            }
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        for done in completions {
            done(committed.clone());
        }
        if requests > 0 {
            self.last_request = Some(Instant::now());
        } else if backgrounds > 0 && self.requests_about() {
            self.rest(rx, started.elapsed() * REST_PER_SLICE);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::store::lane::set_thread_lane;

    #[test]
    fn a_request_write_overtakes_queued_background_writes() {
        let writer = Arc::new(Writer::start(Connection::open_in_memory().unwrap(), None).unwrap());
        let background = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .on_thread_start(|| set_thread_lane(Lane::Background))
            .enable_all()
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut queued = Vec::new();
        for _ in 0..200 {
            let (writer, ran) = (writer.clone(), ran.clone());
            queued.push(background.spawn(async move {
                writer
                    .write(move |_| {
                        std::thread::sleep(Duration::from_millis(1));
                        ran.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            }));
        }
        // Let the background writes reach the queue first.
        while ran.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let request = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ran_before = {
            let ran = ran.clone();
            request
                .block_on(writer.write(move |_| Ok(ran.load(Ordering::SeqCst))))
                .unwrap()
        };
        assert!(
            ran_before < 100,
            "the request waited for {ran_before} of 200 background writes"
        );
        for done in queued {
            background.block_on(done).unwrap().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 200);
        request.block_on(writer.close()).unwrap();
        let refused = request.block_on(writer.write(|_| Ok(())));
        assert!(refused.is_err(), "a closed writer takes no more writes");
    }
}
