//! Resource limits for apps: defaults in the server configuration (`[apps.limits]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of handler a call runs; each kind has its own CPU deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// Pre-send hooks run on the sender's request path: short.
    PreSend,
    /// Post-event handlers run off the request path.
    Event,
    Command,
    Endpoint,
    Job,
    Lifecycle,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppLimits {
    /// Linear memory per instance, MiB.
    pub memory_mib: u64,
    pub pre_send_deadline_ms: u64,
    pub event_deadline_ms: u64,
    pub command_deadline_ms: u64,
    pub endpoint_deadline_ms: u64,
    pub job_deadline_ms: u64,
    pub lifecycle_deadline_ms: u64,
    /// Calls of one app running at once (one instance each).
    pub max_concurrent_calls: u32,
    /// How long a call waits for a free slot before it is refused.
    pub queue_wait_ms: u64,
    /// Host calls one handler invocation may make.
    pub host_calls_per_call: u32,
    /// Outbound HTTP requests of one app in flight at once.
    pub http_in_flight: u32,
    pub http_timeout_ms: u64,
    pub http_max_response_bytes: usize,
    pub http_max_redirects: u8,
    pub persistence_max_keys: u64,
    pub persistence_max_bytes: u64,
    /// Log entries per app per minute; the rest are dropped and counted.
    pub log_lines_per_minute: u32,
    /// Consecutive faults after which the app is disabled (`error_disabled`).
    pub faults_before_disable: u32,
    /// Post-event handler calls queued per app; more are dropped and counted.
    pub event_queue: usize,
    /// Entries in the WASI resource table per instance.
    pub resource_table_entries: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            memory_mib: 64,
            pre_send_deadline_ms: 100,
            event_deadline_ms: 5_000,
            command_deadline_ms: 10_000,
            endpoint_deadline_ms: 10_000,
            job_deadline_ms: 30_000,
            lifecycle_deadline_ms: 10_000,
            max_concurrent_calls: 4,
            queue_wait_ms: 2_000,
            host_calls_per_call: 10_000,
            http_in_flight: 4,
            http_timeout_ms: 10_000,
            http_max_response_bytes: 4 * 1024 * 1024,
            http_max_redirects: 3,
            persistence_max_keys: 10_000,
            persistence_max_bytes: 16 * 1024 * 1024,
            log_lines_per_minute: 600,
            faults_before_disable: 5,
            event_queue: 256,
            resource_table_entries: 1_000,
        }
    }
}

impl AppLimits {
    pub fn deadline(&self, kind: CallKind) -> Duration {
        Duration::from_millis(match kind {
            CallKind::PreSend => self.pre_send_deadline_ms,
            CallKind::Event => self.event_deadline_ms,
            CallKind::Command => self.command_deadline_ms,
            CallKind::Endpoint => self.endpoint_deadline_ms,
            CallKind::Job => self.job_deadline_ms,
            CallKind::Lifecycle => self.lifecycle_deadline_ms,
        })
    }

    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize).saturating_mul(1024 * 1024)
    }
}
