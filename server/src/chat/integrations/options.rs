//! The integrations' configuration (`[integrations]`) and the options the chat
//! services take from it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chat::ratelimit::LimitRule;
use crate::outbound::{HttpPolicy, OutboundHttp};

/// `[integrations]`: incoming webhooks' rate limit and the history's retention.
/// Outgoing webhooks' targets are vetted with the operator allow-list and routes
/// of `[apps]` (`http_allow`, `http_connect_to`, `http_extra_ca_file`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationsConfig {
    /// Calls one incoming webhook accepts per window (0: no limit); more are
    /// answered 429 with `Retry-After`.
    pub incoming_rate_limit: u32,
    /// The rate limit's window, in seconds.
    pub incoming_rate_window_secs: u64,
    /// History entries kept per integration (0: none recorded).
    pub history_keep: u64,
    /// Days a history entry is kept.
    pub history_days: u64,
}

impl Default for IntegrationsConfig {
    fn default() -> Self {
        IntegrationsConfig {
            incoming_rate_limit: 60,
            incoming_rate_window_secs: 60,
            history_keep: 100,
            history_days: 30,
        }
    }
}

impl IntegrationsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.incoming_rate_window_secs == 0 || self.incoming_rate_window_secs > 86_400 {
            return Err("integrations.incoming_rate_window_secs must be 1..=86400".into());
        }
        if self.history_keep > 100_000 {
            return Err("integrations.history_keep must be at most 100000".into());
        }
        if self.history_days == 0 || self.history_days > 3650 {
            return Err("integrations.history_days must be 1..=3650".into());
        }
        Ok(())
    }

    /// The chat services' options; `http` and `policy` vet and reach targets.
    pub fn options(&self, http: OutboundHttp, policy: HttpPolicy) -> IntegrationOptions {
        IntegrationOptions {
            incoming_limit: (self.incoming_rate_limit > 0).then(|| LimitRule {
                limit: self.incoming_rate_limit,
                window: Duration::from_secs(self.incoming_rate_window_secs),
            }),
            history_keep: self.history_keep,
            history_max_age: Duration::from_secs(self.history_days.saturating_mul(86_400)),
            http,
            policy,
        }
    }
}

/// What the chat services need of the integrations' configuration.
#[derive(Clone, Debug)]
pub struct IntegrationOptions {
    /// Per incoming webhook; `None`: unlimited.
    pub incoming_limit: Option<LimitRule>,
    pub history_keep: u64,
    pub history_max_age: Duration,
    /// The guarded client outgoing webhooks are delivered with.
    pub http: OutboundHttp,
    /// [`HttpPolicy::public`] with the operator allow-list.
    pub policy: HttpPolicy,
}

impl Default for IntegrationOptions {
    fn default() -> Self {
        IntegrationsConfig::default().options(OutboundHttp::new(), HttpPolicy::public(Vec::new()))
    }
}
