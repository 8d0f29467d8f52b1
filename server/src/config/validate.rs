//! Every option checked at start, before anything is created: a bad value stops the
//! server with the option's name (TOML key and environment variable) and the reason,
//! instead of a server that starts and misbehaves (a zero token lifetime hands out
//! dead tokens; a huge one overflows).

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::{Config, ConfigError};
use crate::apps::limits::AppLimits;
use crate::http_server::HttpLimits;

/// `key (PALAVER_KEY)`: how an error names an option, e.g.
/// `apps.limits.memory_mib (PALAVER_APPS__LIMITS__MEMORY_MIB)`.
pub(super) fn key_name(key: &str) -> String {
    format!(
        "{key} (PALAVER_{})",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

fn invalid(key: &str, reason: impl Display) -> ConfigError {
    ConfigError::Invalid(format!("{} {reason}", key_name(key)))
}

fn range<T: PartialOrd + Display + Copy>(
    key: &str,
    value: T,
    allowed: RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "must be between {} and {}, not {value}",
                allowed.start(),
                allowed.end()
            ),
        ))
    }
}

fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(invalid(key, "must not be empty"))
    } else {
        Ok(())
    }
}

const MIB: u64 = 1024 * 1024;
/// Ten years: long enough for any deployment, short enough that no sum overflows.
const MAX_DAYS: u64 = 3650;
const HOUR_SECS: u64 = 3600;
const HOUR_MS: u64 = 3_600_000;
/// A guessable metrics token would make the operator data public.
const MIN_METRICS_TOKEN_CHARS: usize = 16;

/// Checks every option; the first bad one is the error.
pub(super) fn options(c: &Config) -> Result<(), ConfigError> {
    c.listen_addr()?;
    if c.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty"));
    }
    if c.marketplace_dir.as_os_str().is_empty() {
        return Err(invalid("marketplace_dir", "must not be empty"));
    }
    if let Some(id) = &c.admin_id {
        let fits = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !fits {
            return Err(invalid(
                "admin_id",
                "must be 1 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
    }
    crate::chat::accounts::validate_username(&c.admin_username)
        .map_err(|e| invalid("admin_username", format!("is invalid: {e}")))?;
    crate::chat::accounts::validate_email(&c.admin_email)
        .map_err(|e| invalid("admin_email", format!("is invalid: {e}")))?;
    if let Some(password) = &c.admin_password {
        if password.is_empty() || password.len() > 1024 {
            return Err(invalid(
                "admin_password",
                "must be 1 to 1024 bytes (leave it unset to have one generated)",
            ));
        }
    }
    if let Some(site_url) = &c.site_url {
        site_url_ok(site_url).map_err(|reason| invalid("site_url", reason))?;
    }
    non_empty("site_name", &c.site_name)?;
    range(
        "max_body_bytes",
        c.max_body_bytes,
        1024..=(1024 * MIB) as usize,
    )?;
    range("max_message_chars", c.max_message_chars, 1..=1_000_000)?;
    range(
        "max_message_attachments",
        c.max_message_attachments,
        1..=10_000,
    )?;
    range(
        "max_message_bytes",
        c.max_message_bytes,
        1024..=(64 * MIB) as usize,
    )?;
    if c.sqlite_max_bytes != 0 && c.sqlite_max_bytes < MIB {
        return Err(invalid(
            "sqlite_max_bytes",
            format!(
                "must be 0 (no cap) or at least {MIB} bytes, not {}",
                c.sqlite_max_bytes
            ),
        ));
    }
    range(
        "password_hashing.threads",
        c.password_hashing.threads,
        0..=256,
    )?;
    range(
        "password_hashing.queue",
        c.password_hashing.queue,
        0..=100_000,
    )?;
    range("token_ttl_days", c.token_ttl_days, 1..=MAX_DAYS)?;
    range("presence_ttl_ms", c.presence_ttl_ms, 300..=HOUR_MS)?;
    range("image_max_pixels", c.image_max_pixels, 1..=1_000_000_000)?;
    range("image_max_bytes", c.image_max_bytes, 1..=1024 * MIB)?;
    range(
        "login_rate_limit.per_ip",
        c.login_rate_limit.per_ip,
        1..=u32::MAX,
    )?;
    range(
        "login_rate_limit.per_user",
        c.login_rate_limit.per_user,
        1..=u32::MAX,
    )?;
    range(
        "login_rate_limit.window_secs",
        c.login_rate_limit.window_secs,
        1..=24 * HOUR_SECS,
    )?;
    range("shutdown_grace_secs", c.shutdown_grace_secs, 0..=HOUR_SECS)?;
    range("shutdown_drain_secs", c.shutdown_drain_secs, 0..=HOUR_SECS)?;
    range(
        "apps.log_retention_days",
        c.apps.log_retention_days,
        1..=MAX_DAYS as u32,
    )?;
    for key in &c.apps.trusted_keys {
        if crate::apps::marketplace::decode_key(key).is_none() {
            return Err(invalid(
                "apps.trusted_keys",
                format!("entry {key:?} is not an ed25519 public key (32 bytes, hex or base64)"),
            ));
        }
    }
    if let Some(ca) = &c.apps.http_extra_ca_file {
        if !ca.is_file() {
            return Err(invalid(
                "apps.http_extra_ca_file",
                format!("{} is not a readable file", ca.display()),
            ));
        }
    }
    if let Some(token) = &c.metrics_token {
        let n = token.chars().count();
        if !(MIN_METRICS_TOKEN_CHARS..=1024).contains(&n) || token.chars().any(char::is_whitespace)
        {
            return Err(invalid(
                "metrics_token",
                format!(
                    "must be {MIN_METRICS_TOKEN_CHARS} to 1024 characters without spaces \
                     (leave it unset to disable /metrics)"
                ),
            ));
        }
    }
    app_limits(&c.apps.limits)?;
    http(&c.http)
}

fn site_url_ok(site_url: &str) -> Result<(), String> {
    let url = url::Url::parse(site_url).map_err(|e| format!("{site_url:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{site_url:?} must be an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{site_url:?} must not have a query or fragment"));
    }
    Ok(())
}

fn app_limits(l: &AppLimits) -> Result<(), ConfigError> {
    let k = |name: &str| format!("apps.limits.{name}");
    // Wasm32 memories stop at 4 GiB.
    range(&k("memory_mib"), l.memory_mib, 1..=4096)?;
    range(
        &k("pre_send_deadline_ms"),
        l.pre_send_deadline_ms,
        1..=60_000,
    )?;
    for (name, value) in [
        ("event_deadline_ms", l.event_deadline_ms),
        ("command_deadline_ms", l.command_deadline_ms),
        ("endpoint_deadline_ms", l.endpoint_deadline_ms),
        ("job_deadline_ms", l.job_deadline_ms),
        ("lifecycle_deadline_ms", l.lifecycle_deadline_ms),
        ("http_timeout_ms", l.http_timeout_ms),
    ] {
        range(&k(name), value, 1..=HOUR_MS)?;
    }
    range(&k("max_concurrent_calls"), l.max_concurrent_calls, 1..=1024)?;
    range(&k("queue_wait_ms"), l.queue_wait_ms, 0..=600_000)?;
    range(
        &k("host_calls_per_call"),
        l.host_calls_per_call,
        1..=u32::MAX,
    )?;
    range(&k("http_in_flight"), l.http_in_flight, 1..=1024)?;
    range(
        &k("http_max_response_bytes"),
        l.http_max_response_bytes,
        1..=(1024 * MIB) as usize,
    )?;
    range(&k("http_max_redirects"), l.http_max_redirects, 0..=20)?;
    range(
        &k("persistence_max_keys"),
        l.persistence_max_keys,
        1..=u64::from(u32::MAX),
    )?;
    range(
        &k("persistence_max_bytes"),
        l.persistence_max_bytes,
        1..=1024 * 1024 * MIB,
    )?;
    range(
        &k("log_lines_per_minute"),
        l.log_lines_per_minute,
        1..=u32::MAX,
    )?;
    range(
        &k("faults_before_disable"),
        l.faults_before_disable,
        1..=u32::MAX,
    )?;
    for (name, value) in [
        ("messages_per_minute", l.messages_per_minute),
        ("rooms_per_minute", l.rooms_per_minute),
        ("direct_rooms_per_minute", l.direct_rooms_per_minute),
        ("notifications_per_minute", l.notifications_per_minute),
        ("jobs_per_minute", l.jobs_per_minute),
    ] {
        range(&k(name), value, 1..=1_000_000)?;
    }
    range(&k("rooms_max"), l.rooms_max, 0..=10_000_000)?;
    range(&k("jobs_max_pending"), l.jobs_max_pending, 1..=10_000_000)?;
    range(
        &k("job_min_delay_from_job_ms"),
        l.job_min_delay_from_job_ms,
        0..=HOUR_MS,
    )?;
    range(
        &k("fault_window_calls"),
        l.fault_window_calls,
        1..=crate::apps::faults::MAX_WINDOW,
    )?;
    range(&k("fault_ratio_percent"), l.fault_ratio_percent, 1..=100)?;
    range(&k("event_queue"), l.event_queue, 1..=1_000_000)?;
    range(
        &k("resource_table_entries"),
        l.resource_table_entries,
        1..=1_000_000,
    )
}

fn http(h: &HttpLimits) -> Result<(), ConfigError> {
    range(
        "http.header_timeout_secs",
        h.header_timeout_secs,
        1..=HOUR_SECS,
    )?;
    range(
        "http.body_idle_timeout_secs",
        h.body_idle_timeout_secs,
        1..=HOUR_SECS,
    )?;
    range(
        "http.body_min_bytes_per_sec",
        h.body_min_bytes_per_sec,
        0..=MIB,
    )?;
    range(
        "http.keep_alive_idle_secs",
        h.keep_alive_idle_secs,
        1..=HOUR_SECS,
    )?;
    range("http.max_connections", h.max_connections, 1..=1_000_000)?;
    range(
        "http.max_connections_per_address",
        h.max_connections_per_address,
        1..=h.max_connections,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(change: impl FnOnce(&mut Config)) -> String {
        let mut c = Config::default();
        change(&mut c);
        options(&c).expect_err("refused").to_string()
    }

    #[test]
    fn defaults_pass() {
        options(&Config::default()).expect("the defaults are valid");
    }

    #[test]
    fn errors_name_the_key_the_variable_and_the_reason() {
        let e = error_of(|c| c.token_ttl_days = 0);
        assert!(
            e.contains("token_ttl_days (PALAVER_TOKEN_TTL_DAYS)") && e.contains("not 0"),
            "{e}"
        );
        let e = error_of(|c| c.apps.limits.memory_mib = 0);
        assert!(
            e.contains("apps.limits.memory_mib (PALAVER_APPS__LIMITS__MEMORY_MIB)"),
            "{e}"
        );
        let e = error_of(|c| c.http.max_connections_per_address = 0);
        assert!(
            e.contains("PALAVER_HTTP__MAX_CONNECTIONS_PER_ADDRESS"),
            "{e}"
        );
    }

    /// Every class of bad value: zero, huge, empty, malformed, missing file.
    #[test]
    fn refuses_each_kind_of_bad_value() {
        type Change = Box<dyn FnOnce(&mut Config)>;
        let cases: Vec<(&str, Change)> = vec![
            ("token_ttl_days", Box::new(|c| c.token_ttl_days = u64::MAX)),
            ("max_message_chars", Box::new(|c| c.max_message_chars = 0)),
            (
                "max_message_attachments",
                Box::new(|c| c.max_message_attachments = 0),
            ),
            ("max_message_bytes", Box::new(|c| c.max_message_bytes = 10)),
            ("sqlite_max_bytes", Box::new(|c| c.sqlite_max_bytes = 4096)),
            (
                "password_hashing.queue",
                Box::new(|c| c.password_hashing.queue = usize::MAX),
            ),
            (
                "apps.limits.messages_per_minute",
                Box::new(|c| c.apps.limits.messages_per_minute = 0),
            ),
            (
                "apps.limits.fault_window_calls",
                Box::new(|c| c.apps.limits.fault_window_calls = 1000),
            ),
            (
                "max_body_bytes",
                Box::new(|c| c.max_body_bytes = usize::MAX),
            ),
            (
                "login_rate_limit.window_secs",
                Box::new(|c| c.login_rate_limit.window_secs = 0),
            ),
            (
                "login_rate_limit.per_ip",
                Box::new(|c| c.login_rate_limit.per_ip = 0),
            ),
            (
                "shutdown_grace_secs",
                Box::new(|c| c.shutdown_grace_secs = u64::MAX),
            ),
            (
                "admin_username",
                Box::new(|c| c.admin_username = " ".into()),
            ),
            ("admin_email", Box::new(|c| c.admin_email = "nobody".into())),
            ("admin_id", Box::new(|c| c.admin_id = Some("a b".into()))),
            (
                "admin_password",
                Box::new(|c| c.admin_password = Some(String::new())),
            ),
            (
                "shutdown_drain_secs",
                Box::new(|c| c.shutdown_drain_secs = u64::MAX),
            ),
            (
                "metrics_token",
                Box::new(|c| c.metrics_token = Some("short".into())),
            ),
            (
                "metrics_token",
                Box::new(|c| c.metrics_token = Some("sixteen chars with spaces".into())),
            ),
            (
                "site_url",
                Box::new(|c| c.site_url = Some("chat.example.com".into())),
            ),
            (
                "site_url",
                Box::new(|c| c.site_url = Some("ftp://chat.example.com".into())),
            ),
            ("site_name", Box::new(|c| c.site_name = "".into())),
            ("data_dir", Box::new(|c| c.data_dir = "".into())),
            (
                "apps.log_retention_days",
                Box::new(|c| c.apps.log_retention_days = 0),
            ),
            (
                "apps.trusted_keys",
                Box::new(|c| c.apps.trusted_keys = vec!["zz".into()]),
            ),
            (
                "apps.http_extra_ca_file",
                Box::new(|c| c.apps.http_extra_ca_file = Some("/nonexistent/ca.pem".into())),
            ),
            (
                "apps.limits.job_deadline_ms",
                Box::new(|c| c.apps.limits.job_deadline_ms = 0),
            ),
            (
                "apps.limits.event_queue",
                Box::new(|c| c.apps.limits.event_queue = 0),
            ),
            (
                "apps.limits.max_concurrent_calls",
                Box::new(|c| c.apps.limits.max_concurrent_calls = 100_000),
            ),
            (
                "http.header_timeout_secs",
                Box::new(|c| c.http.header_timeout_secs = 0),
            ),
            (
                "http.keep_alive_idle_secs",
                Box::new(|c| c.http.keep_alive_idle_secs = 0),
            ),
            (
                "http.body_idle_timeout_secs",
                Box::new(|c| c.http.body_idle_timeout_secs = 0),
            ),
            (
                "http.max_connections_per_address",
                Box::new(|c| {
                    c.http.max_connections = 10;
                    c.http.max_connections_per_address = 11;
                }),
            ),
        ];
        for (key, change) in cases {
            let e = error_of(change);
            assert!(e.contains(&key_name(key)), "{key}: {e}");
        }
    }
}
