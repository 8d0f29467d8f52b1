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

impl CallKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [CallKind; 6] = [
        CallKind::PreSend,
        CallKind::Event,
        CallKind::Command,
        CallKind::Endpoint,
        CallKind::Job,
        CallKind::Lifecycle,
    ];

    /// The kind as metrics label it.
    pub fn label(self) -> &'static str {
        match self {
            CallKind::PreSend => "pre_send",
            CallKind::Event => "event",
            CallKind::Command => "command",
            CallKind::Endpoint => "endpoint",
            CallKind::Job => "job",
            CallKind::Lifecycle => "lifecycle",
        }
    }
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
    /// Faults within the last `fault_window_calls` calls after which the app is
    /// disabled (`error_disabled`), provided they are also at least
    /// `fault_ratio_percent` of those calls (see [`crate::apps::faults`]). That many
    /// faults in a row always disable.
    pub faults_before_disable: u32,
    /// How many of an app's latest calls the fault rate is measured over.
    pub fault_window_calls: u32,
    /// The share of faulting calls in the window (percent) at which the app is
    /// disabled, once `faults_before_disable` is also reached.
    pub fault_ratio_percent: u32,
    /// Messages an app may send or edit per minute (`messages.send`, `update`).
    pub messages_per_minute: u32,
    /// Channels and private groups an app may create per minute.
    pub rooms_per_minute: u32,
    /// Direct conversations an app may open per minute.
    pub direct_rooms_per_minute: u32,
    /// Ephemeral notices an app may send per minute (`notify-user`, `notify-room`:
    /// one each, whatever the room's size).
    pub notifications_per_minute: u32,
    /// Channels and groups the app's bot may own at once.
    pub rooms_max: u64,
    /// Jobs an app may have pending at once.
    pub jobs_max_pending: u64,
    /// Jobs an app may schedule per minute; going past it from jobs counts as a
    /// fault (runaway scheduling).
    pub jobs_per_minute: u32,
    /// The shortest delay of a one-off job scheduled by a job: a job cannot
    /// re-run itself (or fan out) in a tight loop.
    pub job_min_delay_from_job_ms: u64,
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
            fault_window_calls: 20,
            fault_ratio_percent: 50,
            messages_per_minute: 600,
            rooms_per_minute: 60,
            direct_rooms_per_minute: 120,
            notifications_per_minute: 600,
            rooms_max: 1_000,
            jobs_max_pending: 1_000,
            jobs_per_minute: 600,
            job_min_delay_from_job_ms: 1_000,
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

    /// The most data one host call may copy from the app into the host (wasmtime's
    /// hostcall fuel: string bytes plus 24 bytes per list element lifted, checked
    /// before anything is allocated), also bounding what an export may return: a
    /// quarter of the app's memory (at least 1 MiB). What the host allocates for one
    /// call's arguments stays within 2.25 times this (one-byte strings carry the
    /// allocator's overhead), so an app's calls in flight hold at most
    /// `max_concurrent_calls × 0.57 × memory_mib` of host memory for arguments,
    /// besides their instances' own `max_concurrent_calls × memory_mib`.
    pub fn hostcall_fuel(&self) -> usize {
        (self.memory_bytes() / 4).max(1024 * 1024)
    }

    /// Refuses settings that would disable the limits they name.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_mib == 0 {
            return Err("memory_mib must be positive".into());
        }
        if self.fault_window_calls == 0 || self.faults_before_disable == 0 {
            return Err("fault_window_calls and faults_before_disable must be positive".into());
        }
        if self.fault_window_calls > crate::apps::faults::MAX_WINDOW {
            return Err(format!(
                "fault_window_calls must be at most {}",
                crate::apps::faults::MAX_WINDOW
            ));
        }
        if self.faults_before_disable > self.fault_window_calls {
            return Err(format!(
                "faults_before_disable ({}) cannot exceed fault_window_calls ({})",
                self.faults_before_disable, self.fault_window_calls
            ));
        }
        if !(1..=100).contains(&self.fault_ratio_percent) {
            return Err("fault_ratio_percent must be 1 to 100".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_validate_and_nonsense_does_not() {
        assert_eq!(AppLimits::default().validate(), Ok(()));
        let bad = [
            AppLimits {
                faults_before_disable: 30,
                fault_window_calls: 20,
                ..AppLimits::default()
            },
            AppLimits {
                fault_window_calls: 57,
                ..AppLimits::default()
            },
            AppLimits {
                fault_ratio_percent: 0,
                ..AppLimits::default()
            },
            AppLimits {
                memory_mib: 0,
                ..AppLimits::default()
            },
        ];
        for limits in bad {
            assert!(limits.validate().is_err(), "{limits:?}");
        }
    }

    #[test]
    fn the_host_copies_a_quarter_of_the_apps_memory() {
        let limits = AppLimits {
            memory_mib: 64,
            ..AppLimits::default()
        };
        assert_eq!(limits.hostcall_fuel(), 16 * 1024 * 1024);
        let tiny = AppLimits {
            memory_mib: 2,
            ..AppLimits::default()
        };
        assert_eq!(tiny.hostcall_fuel(), 1024 * 1024);
    }
}
