//! `palaver serve`: open storage, bootstrap, serve HTTP until SIGINT/SIGTERM, then
//! shut down in order within `shutdown_grace_secs`: not ready (and the optional
//! drain) → stop accepting HTTP, finish in-flight requests, close realtime
//! connections → stop apps (queued events and running jobs finish, job leases
//! released) → flush the app log and queues, stop the relay → close the store.
//! A second signal exits at once with status 128 + its number.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use std::sync::Arc;

use crate::api::{self, AppState};
use crate::apps::marketplace::Marketplace;
use crate::apps::package::PackageLimits;
use crate::apps::{AppsEngine, EngineConfig};
use crate::chat::Chat;
use crate::config::Config;
use crate::http_server;
use crate::store;
use crate::worker::Worker;

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
    #[error("{0}")]
    Push(#[from] crate::notify::push::PushStartError),
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

/// Runs the server until a shutdown signal; `log` is the process's kept log
/// ([`crate::server_log::install`]), which the log settings then govern.
pub async fn serve(config: Config, log: crate::server_log::ServerLog) -> Result<(), ServeError> {
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
    chat.prepare_first_start().await?;
    let log_settings = crate::worker::log_settings::start(chat.clone(), log.clone());
    let relay = chat.start_relay();
    let presence = chat.start_presence();
    if let Some((admin, generated)) = chat
        .bootstrap_admin(
            config.admin_id.as_deref(),
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
    chat.ensure_rocket_cat().await?;

    let apps = AppsEngine::start(chat.clone(), store.clone(), engine_config(&config)).await?;
    let installed = apps.installed();
    tracing::info!(
        installed = installed.len(),
        marketplace = %config.marketplace_dir.display(),
        "apps engine ready"
    );

    // The delivery queue: this process's name on its leases is new at each start,
    // so a crashed process's leases are simply left to expire.
    let outbox = crate::worker::outbox::Outbox::new(
        store.clone(),
        config.outbox.clone(),
        crate::chat::ids::new_id(),
    );
    let outbox_grace = (config.outbox.http_timeout() + Duration::from_secs(1))
        .min(Duration::from_secs(config.shutdown_grace_secs.max(1)));
    let push = crate::notify::push::PushService::start(
        store.clone(),
        chat.clone(),
        outbox.clone(),
        &config.push,
    )
    .await?;
    // E-mail: the channel renders and sends; chat queues account mails through it.
    let email = crate::notify::email::EmailChannel::new(chat.clone(), outbox.clone());
    chat.set_mail_sender(email.clone());
    let matrix = match config.matrix.enabled {
        true => Some(start_matrix(&config, chat.clone(), store.clone()).await?),
        false => None,
    };
    let mut handlers: Vec<Arc<dyn crate::worker::outbox::DeliveryHandler>> = vec![
        Arc::new(crate::bridges::outgoing_webhooks::WebhookHandler::new(
            chat.clone(),
            &outbox,
        )),
        push.handler(),
        Arc::new(crate::notify::email::EmailHandler(email)),
        Arc::new(crate::chat::data_export::ExportHandler(chat.clone())),
        Arc::new(crate::chat::link_previews::PreviewHandler(chat.clone())),
    ];
    // Who is notified of each message: worked from the marker each post commits,
    // off the posting path; push notices go to the push channels
    // (`notify::PushSink`).
    let push_sink: Option<Arc<dyn crate::notify::PushSink>> = Some(push.clone());
    let fanout = crate::notify::worker::Fanout::new(chat.clone(), push_sink, outbox.clone());
    chat.set_notice_queue(fanout.clone());
    handlers.push(fanout.handler());
    if let Some((bridge, _)) = &matrix {
        handlers.push(Arc::new(
            crate::bridges::matrix::outbound::MatrixHandler::new(bridge.clone(), &outbox),
        ));
    }
    // Deliveries run on their own, lowered threads: a large room's pushes and
    // mails never take the cores the next request needs.
    let background = crate::worker::background::BackgroundRuntime::start(
        config.outbox.threads,
        config.outbox.nice,
    )?;
    outbox.start(handlers, outbox_grace, background.handle());
    let matrix_triggers = matrix.as_ref().map(|(bridge, _)| {
        crate::bridges::matrix::outbound::start_triggers(bridge.clone(), outbox.clone())
    });
    let webhook_triggers =
        crate::bridges::outgoing_webhooks::start_triggers(chat.clone(), outbox.clone());
    let link_previews = crate::worker::link_previews::start(chat.clone(), outbox.clone());

    let upload_sweeper = crate::worker::upload_sweeper::start(
        chat.clone(),
        Duration::from_secs(config.upload_sweep_interval_secs),
        Duration::from_secs(config.upload_multipart_max_age_secs),
    );

    let ldap = crate::identity::ldap::Ldap::new(chat.clone(), store.clone());
    let ldap_sync = crate::identity::ldap::sync::start(ldap.clone());

    let realtime = crate::realtime::Realtime::new();
    realtime.set_ldap(ldap.clone());
    let ops = api::ops::Ops::new(config.metrics_token.clone());
    let app = api::router(AppState {
        chat: chat.clone(),
        apps: apps.clone(),
        marketplace: Arc::new(Marketplace::default()),
        max_body_bytes: config.max_body_bytes,
        edge: Arc::new(config.edge_options()?),
        realtime: realtime.clone(),
        ops: ops.clone(),
        outbox: outbox.clone(),
        ldap,
        push: push.clone(),
        matrix: matrix.as_ref().map(|(bridge, _)| bridge.clone()),
        server_log: log,
    });
    // The store is open and the apps engine started: ready for traffic.
    ops.health.set_ready(true);
    println!(
        "Palaver is listening on http://{local} (site URL {})",
        config.site_url()
    );

    // Signals are caught before the first request is served: a SIGTERM right after
    // `/readyz` said ready must start the ordered shutdown, not kill the process.
    let mut signals = Signals::listen();
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
    tokio::select! {
        result = &mut server => {
            // The server stops only when told to: it failed.
            let reason = match result {
                Err(e) => e.to_string(),
                Ok(()) => "stopped".into(),
            };
            return Err(ServeError::Io(std::io::Error::other(format!("the HTTP server {reason}"))));
        }
        signal = signals.next() => {
            tracing::info!(signal, "shutting down (a second signal exits at once)");
        }
    }
    // From here on a second signal ends the process, whatever is left undone.
    tokio::spawn(async move {
        let signal = signals.next().await;
        tracing::error!(
            signal,
            "second signal: exiting now, without finishing the shutdown"
        );
        std::process::exit(128 + signal);
    });

    // The shutdown, in order (see `Shutdown`). Load balancers stop sending new work
    // before anything else stops; during the drain the server still answers
    // whatever they send meanwhile.
    ops.health.set_ready(false);
    if !drain.is_zero() {
        tracing::info!(?drain, "shutting down: not ready; draining before stopping");
        tokio::time::sleep(drain).await;
    }
    // The grace period starts now, not at start-up.
    let plan = Shutdown::starting_now(grace);

    // 1. Stop accepting HTTP and let in-flight requests finish. Upgraded websockets
    //    are not the HTTP server's to wait for: realtime closes them (1001),
    //    waits for their sessions' calls in flight, then stops its fan-out.
    tracing::info!("shutting down: finishing in-flight requests, closing realtime connections");
    let _ = stop_tx.send(());
    // The Matrix listener with the HTTP server: transactions in flight go
    // through the apps' hooks, which stop next.
    let matrix_listener = async {
        if let Some((_, listener)) = &matrix {
            listener.stop_by(plan.work).await;
        }
    };
    let (_, finished, _) = tokio::join!(
        realtime.shutdown(plan.work_left()),
        tokio::time::timeout_at(plan.work, &mut server),
        matrix_listener
    );
    if finished.is_err() {
        tracing::warn!("requests still running at the shutdown deadline; closing anyway");
        server.abort();
    }

    // 2. Stop the apps: queued events and running jobs finish (until the deadline),
    //    this instance's job leases are released.
    tracing::info!("shutting down: stopping apps");
    apps.stop(plan.work).await;

    // 3. Flush what is buffered for the store, producers first.
    tracing::info!("shutting down: flushing logs and queues");
    apps.flush_logs(plan.flush).await;
    // The delivery queue after everything that enqueues (requests, apps): what was
    // posted is enqueued, then deliveries under way finish or give their leases back.
    upload_sweeper.stop_by(plan.flush).await;
    ldap_sync.stop_by(plan.flush).await;
    webhook_triggers.stop_by(plan.flush).await;
    link_previews.stop_by(plan.flush).await;
    if let Some(w) = &matrix_triggers {
        w.stop_by(plan.flush).await;
    }
    outbox.stop_by(plan.flush).await;
    // Before the relay, so other instances hear of the users who went offline.
    presence.stop_by(plan.flush).await;
    relay.stop_by(plan.flush).await;
    log_settings.stop_by(plan.flush).await;

    // 4. Nothing may touch the store once it closes.
    chat.close().await?;
    // Every worker on it has stopped.
    background.shutdown();
    tracing::info!(
        took_ms = plan.started.elapsed().as_millis() as u64,
        "storage closed; bye"
    );
    Ok(())
}

/// Starts the Matrix bridge's listener (the homeserver's side); returns the bridge
/// and what stops the listener.
async fn start_matrix(
    config: &Config,
    chat: Arc<Chat>,
    store: crate::store::DynStore,
) -> Result<(Arc<crate::bridges::matrix::MatrixBridge>, Worker), ServeError> {
    use crate::bridges::matrix::{appservice, MatrixBridge, Registration};
    let m = &config.matrix;
    let path = m.registration_path(&config.data_dir);
    let registration = Registration::load(&path)
        .map_err(|e| ServeError::Config(crate::config::ConfigError::Invalid(e)))?;
    let addr = m
        .listen_addr()
        .map_err(|e| ServeError::Config(crate::config::ConfigError::Invalid(e)))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    let bridge = MatrixBridge::new(chat, store, m.clone(), registration);
    let app = appservice::router(bridge.clone());
    let limits = config.http.clone();
    // A worker like the others: told to stop, it takes no new transaction and
    // lets the ones in flight finish (the homeserver sends the rest again later).
    let listener = Worker::spawn("matrix-appservice", move |mut stop| async move {
        http_server::serve(listener, app, &limits, async move { stop.stopped().await }).await;
    });
    tracing::info!(listen = %addr, homeserver = %m.homeserver(), server_name = %m.server_name, "matrix bridge listening");
    Ok((bridge, listener))
}

/// The deadlines of one shutdown, all within the grace period: in-flight work
/// (requests, realtime calls, app calls and jobs) until `work`, then flushing
/// buffers to the store until `flush`, which keeps a slice of the grace for itself
/// so slow work cannot starve the flush.
struct Shutdown {
    started: Instant,
    work: Instant,
    flush: Instant,
}

impl Shutdown {
    fn starting_now(grace: Duration) -> Shutdown {
        let started = Instant::now();
        // A fifth of the grace, at most 2 s, and never less than the time a
        // stuck worker gets before it is aborted.
        let reserve = (grace / 5)
            .min(Duration::from_secs(2))
            .max(crate::worker::ABORT_MARGIN * 2)
            .min(grace);
        Shutdown {
            started,
            work: started + (grace - reserve),
            flush: started + grace,
        }
    }

    fn work_left(&self) -> Duration {
        self.work.saturating_duration_since(Instant::now())
    }
}

/// SIGINT and SIGTERM, listened to from start-up to the exit, so a second signal
/// arriving at any moment of the shutdown is seen.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for {name}");
                    None
                }
            };
            Signals {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The number of the next signal received.
    async fn next(&mut self) -> i32 {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.interrupt) => 2,
                _ = recv(&mut self.terminate) => 15,
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            2
        }
    }
}
