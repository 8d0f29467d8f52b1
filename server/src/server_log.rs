//! The server's log: written to stderr and kept in memory, the last lines of it,
//! for administrators (Rocket.Chat's "View Logs", `GET /api/v1/stdout.queue`).
//!
//! [`install`] sets the process's `tracing` subscriber: one formatter to stderr and
//! one into a bounded ring of lines ([`ServerLog`]), each behind its own filter.
//! The workspace setting `Log_Level` (Rocket.Chat's `0` errors only, `1` with
//! information, `2` with debug) sets the ring's level at runtime, and stderr's too
//! unless `RUST_LOG` was given (the operator's filter wins). Method and
//! subscription traces (`Log_Trace_Methods`, `Log_Trace_Subscriptions`) are logged
//! under [`TRACE_TARGET`], which every level lets through: turning tracing on is
//! the ask to see them.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer};

use crate::store::Ts;

/// The target of method and subscription trace lines.
pub const TRACE_TARGET: &str = "palaver_server::trace";

/// Lines kept unless `Log_View_Limit` says otherwise (Rocket.Chat's 1,000).
pub const DEFAULT_LIMIT: usize = 1000;

/// How much the server logs (`Log_Level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// `0`: errors and warnings.
    ErrorsOnly,
    /// `1`: and information.
    Information,
    /// `2`: and Palaver's debug lines (the libraries' stay at information).
    Debug,
}

impl LogLevel {
    /// The setting's key (`0`, `1`, `2`); anything else is errors only, as
    /// Rocket.Chat's logger reads it.
    pub fn from_setting(key: &str) -> LogLevel {
        match key {
            "1" => LogLevel::Information,
            "2" => LogLevel::Debug,
            _ => LogLevel::ErrorsOnly,
        }
    }

    /// The filter for this level; traces pass at every level.
    fn filter(self) -> EnvFilter {
        let base = match self {
            LogLevel::ErrorsOnly => "warn",
            LogLevel::Information => "info",
            LogLevel::Debug => "info,palaver_server=debug,palaver=debug",
        };
        EnvFilter::new(format!("{base},{TRACE_TARGET}=info"))
    }
}

/// One line of the log (`stdout.queue` returns them).
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// `logid-<n>`, counting from the start of the process.
    pub id: String,
    pub string: String,
    pub ts: Ts,
}

struct Ring {
    lines: VecDeque<LogLine>,
    limit: usize,
    next: u64,
}

/// Replaces one layer's filter (a `reload::Handle`, whose type names the layers
/// beneath it).
type Reload = Arc<dyn Fn(EnvFilter) -> Result<(), reload::Error> + Send + Sync>;

/// The log kept in memory, and the levels' switches.
#[derive(Clone)]
pub struct ServerLog {
    ring: Arc<Mutex<Ring>>,
    ring_filter: Option<Reload>,
    /// `None` when `RUST_LOG` governs stderr.
    stderr_filter: Option<Reload>,
}

impl ServerLog {
    /// A log not attached to any subscriber (tests, and CLI commands).
    pub fn detached() -> ServerLog {
        ServerLog {
            ring: Arc::new(Mutex::new(Ring {
                lines: VecDeque::new(),
                limit: DEFAULT_LIMIT,
                next: 0,
            })),
            ring_filter: None,
            stderr_filter: None,
        }
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.lines.iter().cloned().collect()
    }

    /// Keeps at most `limit` lines (at least one), dropping the oldest.
    pub fn set_limit(&self, limit: usize) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.limit = limit.max(1);
        while ring.lines.len() > ring.limit {
            ring.lines.pop_front();
        }
    }

    /// Applies `Log_Level` to the kept log, and to stderr unless `RUST_LOG` set it.
    pub fn set_level(&self, level: LogLevel) {
        for handle in [&self.ring_filter, &self.stderr_filter]
            .into_iter()
            .flatten()
        {
            if let Err(e) = handle(level.filter()) {
                eprintln!("palaver: cannot change the log level: {e}");
            }
        }
    }

    /// Keeps one formatted line.
    pub fn push(&self, text: &str) {
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let id = format!("logid-{}", ring.next);
        ring.next += 1;
        ring.lines.push_back(LogLine {
            id,
            string: text.to_string(),
            ts: Ts::now(),
        });
        while ring.lines.len() > ring.limit {
            ring.lines.pop_front();
        }
    }
}

/// Formats one event into a buffer, kept as a line when the formatter is done.
pub struct LineWriter {
    log: ServerLog,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.log.push(&String::from_utf8_lossy(&self.buf));
    }
}

impl<'a> MakeWriter<'a> for ServerLog {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            log: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Installs the process's subscriber: stderr (coloured when `ansi`) filtered by
/// `RUST_LOG`, else by `default_level` until `Log_Level` is read, and the kept log
/// at `default_level`.
pub fn install(default_level: LogLevel, ansi: bool) -> ServerLog {
    let mut log = ServerLog::detached();
    let (ring_filter, ring_handle) = reload::Layer::new(default_level.filter());
    log.ring_filter = Some(Arc::new(move |f| ring_handle.reload(f)));
    let kept = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(log.clone())
        .with_filter(ring_filter);
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(kept);
    match EnvFilter::try_from_default_env() {
        Ok(operator) => registry.with(stderr.with_filter(operator)).init(),
        Err(_) => {
            let (filter, handle) = reload::Layer::new(default_level.filter());
            log.stderr_filter = Some(Arc::new(move |f| handle.reload(f)));
            registry.with(stderr.with_filter(filter)).init();
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_with_counted_ids() {
        let log = ServerLog::detached();
        log.set_limit(3);
        for i in 0..5 {
            log.push(&format!("line {i}\n"));
        }
        log.push("\n");
        let lines = log.lines();
        let texts: Vec<&str> = lines.iter().map(|l| l.string.as_str()).collect();
        assert_eq!(texts, ["line 2", "line 3", "line 4"]);
        assert_eq!(lines[0].id, "logid-2");
        log.set_limit(1);
        assert_eq!(log.lines().len(), 1);
        assert_eq!(log.lines()[0].id, "logid-4");
    }

    #[test]
    fn a_formatted_event_becomes_one_line() {
        let log = ServerLog::detached();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(log.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(user_id = "u1", "hello");
            tracing::warn!(target: TRACE_TARGET, "getRoomRoles {{ id: 'x' }}");
        });
        let lines = log.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].string.contains("INFO"), "{lines:?}");
        assert!(
            lines[0].string.contains("hello user_id=\"u1\""),
            "{lines:?}"
        );
        assert!(
            lines[1].string.contains("getRoomRoles { id: 'x' }"),
            "{lines:?}"
        );
    }

    #[test]
    fn levels_read_rocket_chat_keys() {
        assert_eq!(LogLevel::from_setting("0"), LogLevel::ErrorsOnly);
        assert_eq!(LogLevel::from_setting("1"), LogLevel::Information);
        assert_eq!(LogLevel::from_setting("2"), LogLevel::Debug);
        assert_eq!(LogLevel::from_setting("x"), LogLevel::ErrorsOnly);
        let debug = LogLevel::Debug.filter().to_string();
        assert!(debug.contains("palaver_server=debug"), "{debug}");
        let errors = LogLevel::ErrorsOnly.filter().to_string();
        assert!(errors.contains(TRACE_TARGET), "{errors}");
    }
}
