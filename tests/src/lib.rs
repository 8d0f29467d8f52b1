//! Test harness shared by the end-to-end suite: free ports, a MongoDB-compatible
//! server (SecantusDB) for the MongoDB backend, and the real `palaver` binary started
//! as a child process that is always stopped, even when a test fails.

pub mod app_admin;
pub mod apps;
pub mod browser;
pub mod ddp;
pub mod fake_google;
pub mod fake_http;
pub mod fake_meta;
pub mod fake_tls;
pub mod mongo;
pub mod net;
pub mod server;
