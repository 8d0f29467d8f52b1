//! The host side of the app contract: bindings and the host functions apps call.

pub mod bindings;
pub mod convert;
mod impls;
pub mod state;
