//! The writing half of a connection: drains its bounded outbound queue onto the
//! socket in batches, and ends with the close frame it was asked for.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::mpsc;

use super::close::Close;
use super::connection::ConnShared;

/// Frames written before one flush, so a burst costs few syscalls.
const WRITE_BATCH: usize = 256;
/// How long a close frame may take to go out before the socket is just dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the writer is asked to send, in order.
pub enum Outbound {
    Frame(Utf8Bytes),
    /// A websocket-level ping (heartbeat for `pre1` clients, which have no DDP ping).
    Ping,
    /// Close after everything queued before it.
    Close(Close),
}

/// How the writer stopped.
pub enum WriteEnd {
    /// Asked to close; `delivered` is whether the close frame went out.
    Sent { close: Close, delivered: bool },
    /// The socket failed.
    Broken(String),
}

/// Writes queued frames until asked to close, then sends the close frame.
pub async fn write_side(
    sink: &mut SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    conn: &ConnShared,
) -> WriteEnd {
    let close = match write_loop(sink, &mut rx, conn).await {
        Ok(close) => close,
        Err(e) => {
            tracing::debug!(error = %e, "websocket write failed");
            return WriteEnd::Broken(e.to_string());
        }
    };
    drop(rx);
    let frame = Message::Close(Some(CloseFrame {
        code: close.code,
        reason: Utf8Bytes::from(close.reason.clone()),
    }));
    let delivered = matches!(
        tokio::time::timeout(CLOSE_GRACE, sink.send(frame)).await,
        Ok(Ok(()))
    );
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
    WriteEnd::Sent { close, delivered }
}

/// Writes queued frames until a close is asked for (returned) or the socket breaks.
async fn write_loop(
    sink: &mut SplitSink<WebSocket, Message>,
    rx: &mut mpsc::Receiver<Outbound>,
    conn: &ConnShared,
) -> Result<Close, axum::Error> {
    loop {
        let first = tokio::select! {
            biased;
            _ = conn.kill.notified() => return Ok(conn.take_kill_reason()),
            next = rx.recv() => match next {
                Some(next) => next,
                None => return Ok(Close::normal()),
            },
        };
        let written = tokio::select! {
            biased;
            _ = conn.kill.notified() => return Ok(conn.take_kill_reason()),
            written = write_batch(sink, rx, first) => written,
        };
        if let Some(close) = written? {
            return Ok(close);
        }
    }
}

async fn write_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Result<Option<Close>, axum::Error> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(item) = next.take() {
        match item {
            Outbound::Frame(text) => sink.feed(Message::Text(text)).await?,
            Outbound::Ping => sink.feed(Message::Ping(Default::default())).await?,
            Outbound::Close(close) => {
                sink.flush().await?;
                return Ok(Some(close));
            }
        }
        written += 1;
        if written < WRITE_BATCH {
            next = rx.try_recv().ok();
        }
    }
    sink.flush().await?;
    Ok(None)
}
