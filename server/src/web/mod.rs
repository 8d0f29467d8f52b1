//! The web client and admin console: static assets compiled into the binary.
//! (being written)

use axum::Router;

use crate::api::AppState;

/// Routes serving the client's pages and assets.
pub fn routes() -> Router<AppState> {
    Router::new()
}
