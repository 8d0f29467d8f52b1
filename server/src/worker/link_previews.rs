//! Queues the link previews of messages as they are sent or edited: one outbox
//! job per message version (`chat::link_previews`), whichever instance sees the
//! event first; the outbox's `preview` handler reads the pages. Whether
//! `API_Embed` is on is followed on the same bus, so a message is judged by the
//! setting as it was when the message was sent, however late this worker is.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::outbox::Outbox;
use super::Worker;
use crate::chat::{Chat, Event};

/// Starts the trigger.
pub fn start(chat: Arc<Chat>, outbox: Arc<Outbox>) -> Worker {
    let mut events = chat.events().subscribe();
    let mut embed = chat.settings().bool("API_Embed");
    Worker::spawn("link-previews", move |mut stop| async move {
        loop {
            let event = tokio::select! {
                _ = stop.stopped() => None,
                e = events.recv() => Some(e),
            };
            let event = match event {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(RecvError::Lagged(n))) => {
                    tracing::warn!(
                        skipped = n,
                        "link previews: fell behind the event bus; some messages get no preview"
                    );
                    continue;
                }
                Some(Err(RecvError::Closed)) => return,
            };
            queue(&chat, &outbox, &event, &mut embed).await;
        }
        // What arrived before the stop is queued, not dropped.
        while let Ok(e) = events.try_recv() {
            queue(&chat, &outbox, &e, &mut embed).await;
        }
    })
}

async fn queue(chat: &Chat, outbox: &Outbox, event: &Event, embed: &mut bool) {
    if let Event::SettingChanged { id, value, .. } = event {
        if id == "API_Embed" {
            *embed = value.as_bool().unwrap_or(true);
        }
        return;
    }
    if !*embed {
        return;
    }
    let Some(job) = chat.link_preview_job(event) else {
        return;
    };
    if let Err(e) = outbox.enqueue(&[job]).await {
        tracing::warn!(error = %e, "cannot queue a message's link previews");
    }
}
