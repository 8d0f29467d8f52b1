//! What connects the chat to other systems through the delivery queue
//! (`worker::outbox`): each bridge decides what to send and registers a
//! delivery kind; the queue owns durability, leases and retries.

pub mod matrix;
pub mod outgoing_webhooks;
