pub mod api;
pub mod apps;
pub mod chat;
pub mod config;
pub mod realtime;
pub mod serve;
pub mod store;
pub mod wire;
