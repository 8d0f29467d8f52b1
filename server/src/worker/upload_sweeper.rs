//! The upload sweeper: removes uploads never confirmed into a message (and records
//! of uploads cut off mid-way by a crash) once their expiry passed. Every instance
//! may run it: deleting an object or record twice is harmless.

use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use crate::chat::Chat;
use crate::store::Ts;

/// Starts the sweeper: a sweep at start-up, then one every `interval`.
pub fn start(chat: Arc<Chat>, interval: Duration) -> Worker {
    let interval = interval.max(Duration::from_millis(100));
    Worker::spawn("upload-sweeper", move |mut stop| async move {
        loop {
            if let Err(e) = chat.sweep_expired_uploads(Ts::now()).await {
                tracing::warn!(error = %e, "sweeping expired uploads failed; retrying later");
            }
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}
