//! `palaver serve`: open storage, bootstrap, serve HTTP until SIGINT/SIGTERM, then
//! let in-flight requests finish and close storage cleanly.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use crate::api::{self, AppState};
use crate::apps::marketplace::Marketplace;
use crate::apps::package::PackageLimits;
use crate::apps::{AppsEngine, EngineConfig};
use crate::chat::Chat;
use crate::config::Config;
use crate::http_server;
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("start-up: {0}")]
    Chat(#[from] crate::chat::ChatError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("apps engine: {0}")]
    Apps(#[from] crate::apps::AppsError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// The apps engine's settings from the server's configuration.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        data_dir: config.data_dir.clone(),
        marketplace_dir: config.marketplace_dir.clone(),
        limits: config.apps.limits.clone(),
        http_allow: config.apps.http_allow.clone(),
        http_connect_to: config.apps.http_connect_to.clone(),
        http_extra_ca_file: config.apps.http_extra_ca_file.clone(),
        site_url: config.site_url(),
        package_limits: PackageLimits::default(),
        log_retention_days: config.apps.log_retention_days,
        require_signatures: config.apps.require_signatures,
        trusted_keys: config.apps.trusted_keys.clone(),
    }
}

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = config.listen_addr()?;
    let target = config.storage_target()?;
    // The port first: when it is taken, nothing has been created yet.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    let local = listener.local_addr()?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        ServeError::Io(std::io::Error::new(
            e.kind(),
            format!("cannot create data dir {}: {e}", config.data_dir.display()),
        ))
    })?;
    let store = store::open_capped(
        &target,
        config.sqlite_synchronous == "full",
        config.sqlite_max_bytes,
    )
    .await?;
    tracing::info!(backend = store.backend_name(), "storage ready");

    let chat = Chat::new(store.clone(), config.chat_options());
    chat.seed_settings().await?;
    chat.start_relay();
    if let Some((admin, generated)) = chat
        .bootstrap_admin(
            &config.admin_username,
            &config.admin_email,
            config.admin_password.as_deref(),
        )
        .await?
    {
        match generated {
            Some(password) => println!(
                "Created the admin account (shown once, change it after logging in):\n  \
                 username: {}\n  password: {password}",
                admin.username
            ),
            None => println!(
                "Created the admin account {:?} with the configured password",
                admin.username
            ),
        }
    }

    let apps = AppsEngine::start(chat.clone(), store, engine_config(&config)).await?;
    let installed = apps.installed();
    tracing::info!(
        installed = installed.len(),
        marketplace = %config.marketplace_dir.display(),
        "apps engine ready"
    );

    let realtime = crate::realtime::Realtime::new();
    let ops = api::ops::Ops::new(config.metrics_token.clone());
    let app = api::router(AppState {
        chat: chat.clone(),
        apps: apps.clone(),
        marketplace: Arc::new(Marketplace::default()),
        max_body_bytes: config.max_body_bytes,
        edge: Arc::new(config.edge_options()?),
        realtime: realtime.clone(),
        ops: ops.clone(),
    });
    // The store is open and the apps engine started: ready for traffic.
    ops.health.set_ready(true);
    println!(
        "Palaver is listening on http://{local} (site URL {})",
        config.site_url()
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = config.http.clone();
    let mut server = tokio::spawn(async move {
        let stop = async {
            let _ = stop_rx.await;
        };
        http_server::serve(listener, app, &limits, stop).await;
    });
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let drain = Duration::from_secs(config.shutdown_drain_secs);
    let deadline;
    tokio::select! {
        result = &mut server => {
            // The server stops only when told to: it failed.
            let reason = match result {
                Err(e) => e.to_string(),
                Ok(()) => "stopped".into(),
            };
            return Err(ServeError::Io(std::io::Error::other(format!("the HTTP server {reason}"))));
        }
        _ = shutdown_signal() => {
            // Load balancers stop sending new work before anything else stops;
            // during the drain the server still answers whatever they send meanwhile.
            ops.health.set_ready(false);
            if !drain.is_zero() {
                tracing::info!(?drain, "shutting down: not ready; draining before stopping");
                tokio::select! {
                    _ = tokio::time::sleep(drain) => {}
                    // A second signal skips the rest of the drain.
                    _ = shutdown_signal() => {}
                }
            }
            // The grace period starts now, not at start-up.
            deadline = tokio::time::Instant::now() + grace;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(());
            // Upgraded websockets are not the HTTP server's to wait for: close them
            // (1001) while in-flight requests finish.
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (_, finished) = tokio::join!(
                realtime.shutdown(remaining),
                tokio::time::timeout_at(deadline, &mut server)
            );
            if finished.is_err() {
                tracing::warn!("requests still running after {grace:?}; closing anyway");
                server.abort();
            }
        }
    }
    // Nothing may touch the store once it closes: the apps' background work stops
    // first (in what is left of the grace period).
    apps.stop(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await;
    chat.close().await?;
    tracing::info!("storage closed; bye");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
