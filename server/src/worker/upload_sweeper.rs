//! The upload sweeper: removes uploads never confirmed into a message (and records
//! of uploads cut off mid-way by a crash) once their expiry passed, and aborts the
//! unfinished S3 multipart uploads a crash left once older than their maximum age.
//! Every instance may run it: deleting or aborting twice is harmless.

use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use crate::chat::Chat;
use crate::store::Ts;

/// Starts the sweeper: a sweep at start-up, then one every `interval`;
/// `multipart_max_age` is how old an unfinished multipart upload must be before it
/// is taken for a crash's leftover.
pub fn start(chat: Arc<Chat>, interval: Duration, multipart_max_age: Duration) -> Worker {
    let interval = interval.max(Duration::from_millis(100));
    Worker::spawn("upload-sweeper", move |mut stop| async move {
        loop {
            if let Err(e) = chat.sweep_expired_uploads(Ts::now()).await {
                tracing::warn!(error = %e, "sweeping expired uploads failed; retrying later");
            }
            if let Err(e) = chat.abort_stale_uploads(multipart_max_age).await {
                tracing::warn!(error = %e, "aborting unfinished multipart uploads failed; retrying later");
            }
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}
