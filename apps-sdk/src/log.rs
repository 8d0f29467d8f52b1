//! The app's log, which admins read in the console and through
//! `GET /api/apps/<id>/logs`.
//!
//! Volume is limited per minute by the host; entries over the limit are dropped and
//! counted. The macros take `format!` arguments:
//!
//! ```ignore
//! palaver_apps_sdk::info!("synced {} events for {}", count, calendar);
//! palaver_apps_sdk::log::warn("token expires soon");
//! ```

use std::sync::Once;

use crate::bindings::palaver::apps::log as wit;
pub use crate::Level;

pub use crate::{debug, error, info, warn};

/// Writes `message` at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

/// Writes `message` at debug level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Writes `message` at info level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Writes `message` at warn level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Writes `message` at error level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

/// Makes panics write their message and location to the app log (at error level)
/// before the instance traps, then runs the previous hook (which prints to stderr).
/// [`export_app!`](crate::export_app) calls it on every entry; only the first call
/// installs the hook.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            error(format!("panicked{location}: {message}"));
            previous(info);
        }));
    });
}

/// Writes a debug entry to the app log, with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Writes an info entry to the app log, with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::Level::Info, &::std::format!($($arg)+))
    };
}

/// Writes a warn entry to the app log, with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Writes an error entry to the app log, with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::Level::Error, &::std::format!($($arg)+))
    };
}
