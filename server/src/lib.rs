pub mod api;
pub mod chat;
pub mod config;
pub mod serve;
pub mod store;
pub mod wire;
