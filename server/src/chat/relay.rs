//! Several instances on one MongoDB: every local event is published through the
//! storage backend's relay, and every event of the other instances comes back on
//! [`Chat::remote_events`], so a client connected to instance A sees what was posted
//! on instance B. Each instance skips its own events, so nothing arrives twice.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
use super::{ids, Chat};
use crate::store::EventRelay;

impl Chat {
    /// Starts exchanging events with the other instances, if the backend can.
    pub fn start_relay(self: &Arc<Self>) {
        let Some(relay) = self.store.event_relay() else {
            return;
        };
        let origin = ids::new_id();
        tracing::info!(origin = %origin, "relaying events between instances through the database");
        tokio::spawn(publish(self.clone(), relay.clone(), origin.clone()));
        tokio::spawn(receive(self.clone(), relay, origin));
    }
}

async fn publish(chat: Arc<Chat>, relay: Arc<dyn EventRelay>, origin: String) {
    let mut rx = chat.events().subscribe();
    loop {
        match rx.recv().await {
            Ok(event) => {
                let json = match serde_json::to_string(&*event) {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot encode an event for the relay");
                        continue;
                    }
                };
                if let Err(e) = relay.publish(&origin, &json).await {
                    tracing::warn!(error = %e, "cannot publish an event to the other instances");
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "event relay fell behind; other instances miss events"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
}

async fn receive(chat: Arc<Chat>, relay: Arc<dyn EventRelay>, origin: String) {
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
