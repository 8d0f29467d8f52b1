//! Checkpoints the write-ahead log on a thread and connection of its own.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that grows the log past
//! its threshold, so whichever write happens to cross it (often a post, whose
//! transaction is large) also copies the log into the database and syncs both
//! files. A passive checkpoint from another connection neither blocks nor waits
//! for the writer, so here the writer only reports its commits, and a checkpoint
//! runs at most every [`INTERVAL`] while it commits. The writer keeps a far higher
//! automatic threshold ([`WRITER_AUTOCHECKPOINT_PAGES`]) as a bound in case this
//! thread falls behind.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The least time between two checkpoints.
const INTERVAL: Duration = Duration::from_millis(100);
/// The writer's own automatic checkpoint threshold, in log pages (SQLite's default
/// is 1,000): only reached when the checkpoint thread cannot keep up.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_000;

/// The checkpoint thread's handle.
pub(super) struct Checkpointer {
    poke: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a read-write connection to the database.
    pub(super) fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let (poke, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &rx))?;
        Ok(Checkpointer { poke, thread })
    }

    /// A transaction committed: the log grew, a checkpoint is due.
    pub(super) fn committed(&self) {
        // Full: one is due already.
        let _ = self.poke.try_send(());
    }

    /// Runs the checkpoint due, if any, and ends the thread.
    pub(super) fn stop(self) {
        drop(self.poke);
        if self.thread.join().is_err() {
            tracing::error!("the sqlite checkpoint thread panicked");
        }
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<()>) {
    let mut last: Option<Instant> = None;
    while rx.recv().is_ok() {
        if let Some(wait) = last.map(|at| INTERVAL.saturating_sub(at.elapsed())) {
            std::thread::sleep(wait);
        }
        // Commits reported while waiting are covered by this checkpoint.
        while rx.try_recv().is_ok() {}
        last = Some(Instant::now());
        checkpoint(conn);
    }
}

fn checkpoint(conn: &Connection) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match done {
        Ok((log, copied)) => tracing::trace!(log, copied, "sqlite checkpoint"),
        Err(e) => tracing::warn!(error = %e, "sqlite checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A passive checkpoint from the thread copies the writer's log into the
    /// database while the writer's own automatic checkpoint is off.
    #[test]
    fn the_thread_checkpoints_what_the_writer_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let open = || {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c
        };
        // Open till the end: closing the last connection would checkpoint too.
        let writer = open();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(100000))")
            .unwrap();
        let checkpointer = Checkpointer::start(open()).unwrap();
        checkpointer.committed();
        checkpointer.stop();
        // The row reached the database file itself, not only the log.
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size > 100_000,
            "the database file holds the row: {size} bytes"
        );
    }
}
