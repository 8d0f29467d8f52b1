//! Several instances on one MongoDB: every local event is published through the
//! storage backend's relay, and every event of the other instances comes back on
//! [`Chat::remote_events`], so a client connected to instance A sees what was posted
//! on instance B. Each instance skips its own events, so nothing arrives twice.
//!
//! Both directions are [`Worker`]s. At shutdown the publisher still sends the
//! events already raised here (within the deadline), so the other instances hear
//! about every message this one stored; the receiver just stops.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
use super::{ids, Chat};
use crate::store::EventRelay;
use crate::worker::{StopSignal, Worker, Workers};

impl Chat {
    /// Starts exchanging events with the other instances, if the backend can; the
    /// workers returned are stopped at shutdown, before the store closes.
    pub fn start_relay(self: &Arc<Self>) -> Workers {
        let workers = Workers::default();
        let Some(relay) = self.store.event_relay() else {
            return workers;
        };
        let origin = ids::new_id();
        tracing::info!(origin = %origin, "relaying events between instances through the database");
        // Subscribed now, so nothing raised between here and the task's start is missed.
        let rx = self.events().subscribe();
        let (r, o) = (relay.clone(), origin.clone());
        workers.add(Worker::spawn("event-relay-publish", |stop| {
            publish(rx, r, o, stop)
        }));
        let chat = self.clone();
        workers.add(Worker::spawn("event-relay-receive", |stop| {
            receive(chat, relay, origin, stop)
        }));
        workers
    }
}

async fn publish(
    mut rx: tokio::sync::broadcast::Receiver<Arc<Event>>,
    relay: Arc<dyn EventRelay>,
    origin: String,
    mut stop: StopSignal,
) {
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            _ = stop.stopped() => break,
        };
        match next {
            Ok(event) => send(&*relay, &origin, &event).await,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "event relay fell behind; other instances miss events"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
    // Events raised before the stop still reach the other instances.
    let mut sent = 0u64;
    let drain = async {
        while let Ok(event) = rx.try_recv() {
            send(&*relay, &origin, &event).await;
            sent += 1;
        }
    };
    if stop.drain_within(drain).await.is_none() {
        tracing::warn!(
            sent,
            dropped = rx.len(),
            "event relay stopped before publishing every event"
        );
    }
}

async fn send(relay: &dyn EventRelay, origin: &str, event: &Event) {
    let json = match serde_json::to_string(event) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode an event for the relay");
            return;
        }
    };
    if let Err(e) = relay.publish(origin, &json).await {
        tracing::warn!(error = %e, "cannot publish an event to the other instances");
    }
}

async fn receive(
    chat: Arc<Chat>,
    relay: Arc<dyn EventRelay>,
    origin: String,
    mut stop: StopSignal,
) {
    tokio::select! {
        _ = stop.stopped() => {}
        _ = receive_loop(chat, relay, origin) => {}
    }
}

async fn receive_loop(chat: Arc<Chat>, relay: Arc<dyn EventRelay>, origin: String) {
    loop {
        match relay.subscribe(&origin).await {
            Ok(mut stream) => {
                // Settings changed while no events arrived would otherwise stay stale.
                if let Err(e) = chat.seed_settings().await {
                    tracing::warn!(error = %e, "cannot reload the settings");
                }
                while let Some(item) = stream.next().await {
                    match item.map(|json| serde_json::from_str::<Event>(&json)) {
                        Ok(Ok(event)) => {
                            // The new value is in memory before anyone hears of it.
                            if let Event::SettingChanged { id, .. } = &event {
                                if let Err(e) = chat.refresh_setting(id).await {
                                    tracing::warn!(setting = %id, error = %e, "cannot reload a changed setting");
                                }
                            }
                            chat.remote.publish(event)
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "undecodable event from another instance")
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event stream from the other instances broke");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot follow the other instances' events"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
