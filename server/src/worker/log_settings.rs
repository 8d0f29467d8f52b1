//! Follows the log settings (`Log_Level`, `Log_View_Limit`): applies them at start
//! and whenever an administrator changes one, on this instance or another (the
//! relay brings other instances' changes onto this bus).

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::Worker;
use crate::chat::{Chat, Event};
use crate::server_log::{LogLevel, ServerLog};

/// Starts the follower.
pub fn start(chat: Arc<Chat>, log: ServerLog) -> Worker {
    let mut events = chat.events().subscribe();
    apply(&chat, &log);
    Worker::spawn("log-settings", move |mut stop| async move {
        loop {
            let event = tokio::select! {
                _ = stop.stopped() => return,
                e = events.recv() => e,
            };
            match event {
                Ok(e) => {
                    if let Event::SettingChanged { id, .. } = &*e {
                        if id == "Log_Level" || id == "Log_View_Limit" {
                            apply(&chat, &log);
                        }
                    }
                }
                // Missed events may have held a change: read both again.
                Err(RecvError::Lagged(_)) => apply(&chat, &log),
                Err(RecvError::Closed) => return,
            }
        }
    })
}

fn apply(chat: &Chat, log: &ServerLog) {
    let settings = chat.settings();
    log.set_level(LogLevel::from_setting(&settings.string("Log_Level")));
    log.set_limit(settings.usize("Log_View_Limit"));
}
