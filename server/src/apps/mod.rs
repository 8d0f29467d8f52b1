//! The apps engine: third-party apps as sandboxed WebAssembly components.
//!
//! `manifest`/`package` describe and check what an app is; `runtime` and `pool` run
//! it in wasmtime under limits (`quota`: write rates, `faults`: when a faulting
//! app is disabled); `host` is what apps may call (every call checked
//! against the admin's grant); `engine` is the lifecycle and dispatch of chat
//! events, commands, endpoints and jobs; `slash` is the slash-command service both
//! the REST and the realtime API call.

pub mod call_stats;
pub mod engine;
pub mod faults;
pub mod host;
pub mod limits;
pub mod logs;
pub mod manifest;
pub mod marketplace;
pub mod package;
pub mod permissions;
pub mod pool;
pub mod quota;
pub mod runtime;
pub mod settings;
pub mod slash;

pub use engine::{AppsEngine, AppsError, EngineConfig};
