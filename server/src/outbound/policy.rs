//! What an app may reach: host patterns from its `networking` grant, the operator's
//! allow-list of otherwise refused addresses, and the per-app limits.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use url::Host;

use super::allow::OperatorAllow;

/// Default total timeout of one outbound request, redirects and body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u8 = 3;
/// Hard ceiling on redirects followed, whatever a policy asks for.
pub const MAX_REDIRECTS: u8 = 5;

/// A configuration string that does not parse (a grant entry or an allow-list entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A `networking` grant entry is not a valid host pattern.
    #[error("invalid host pattern {input:?}: {reason}")]
    HostPattern { input: String, reason: &'static str },
    /// An operator allow-list entry is neither `address:port` nor a CIDR.
    #[error("invalid operator allow-list entry {input:?}: {reason}")]
    OperatorAllow { input: String, reason: &'static str },
    /// An operator `connect_to` entry is not `host:port=address:port`.
    #[error("invalid connect-to entry {input:?}: {reason}")]
    ConnectTo { input: String, reason: &'static str },
    /// The operator's extra CA file cannot be read or holds no certificate.
    #[error("cannot load the extra CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// A URL scheme outbound requests may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn of(url: &Url) -> Option<Scheme> {
        match url.scheme() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PatternHost {
    /// An exact domain, ASCII (IDNA) lowercase, without a trailing dot.
    Domain(String),
    /// `*.suffix`: any name strictly below `suffix` (not `suffix` itself).
    Subdomains(String),
    /// An IP literal; matched only by the same literal (after `Url` normalisation).
    Ip(IpAddr),
    /// Any host on any port ([`HostPattern::any`]): for URLs typed by admins or users,
    /// where address vetting, not the grant, is the guard.
    Any,
}

/// One entry of an app's `networking` grant.
///
/// Grammar: `[scheme://]host[:port][/]` where
/// - `scheme` is `http` or `https`; without it both are allowed;
/// - `host` is a domain (IDNA and case are normalised, a trailing dot ignored), `*.`
///   followed by a domain of at least two labels (subdomains at any depth, **not** the
///   apex: grant `example.com` as well if it is wanted), or an IP literal (`[..]` for
///   IPv6; IP literals are still subject to address vetting);
/// - `port`: with it, only that port (for every allowed scheme); without it, only the
///   default port of the scheme used (80 for http, 443 for https).
///
/// Examples: `api.example.com`, `*.example.com`, `https://api.example.com`,
/// `api.example.com:8443`, `http://127.0.0.1:8080`, `[::1]:9000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPattern {
    scheme: Option<Scheme>,
    host: PatternHost,
    port: Option<u16>,
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Normalises a domain the way `Url` does (IDNA, lowercase), through `Url` itself.
fn normalise_host(host: &str) -> Result<Host<String>, &'static str> {
    let url = Url::parse(&format!("http://{host}/")).map_err(|_| "not a valid host name")?;
    if url.port().is_some() || url.path() != "/" || !url.username().is_empty() {
        return Err("not a valid host name");
    }
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            if d.is_empty() || d.starts_with('.') || d.contains("..") {
                return Err("empty label in host name");
            }
            Ok(Host::Domain(d.to_owned()))
        }
        Some(Host::Ipv4(ip)) => Ok(Host::Ipv4(ip)),
        Some(Host::Ipv6(ip)) => Ok(Host::Ipv6(ip)),
        None => Err("missing host"),
    }
}

impl HostPattern {
    /// Parses a grant entry; see the type documentation for the grammar.
    pub fn parse(input: &str) -> Result<Self, PolicyError> {
        Self::parse_inner(input).map_err(|reason| PolicyError::HostPattern {
            input: input.to_owned(),
            reason,
        })
    }

    fn parse_inner(input: &str) -> Result<Self, &'static str> {
        let s = input.trim();
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(s, "https://") {
            (Some(Scheme::Https), rest)
        } else if let Some(rest) = strip_prefix_ignore_case(s, "http://") {
            (Some(Scheme::Http), rest)
        } else if s.contains("://") {
            return Err("only http and https are supported");
        } else {
            (None, s)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err("missing host");
        }
        if rest
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace())
        {
            return Err("a host pattern holds only a host and an optional port");
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (inner, after) = bracketed.split_once(']').ok_or("unclosed '['")?;
            let ip: Ipv6Addr = inner.parse().map_err(|_| "invalid IPv6 address")?;
            let port = match after {
                "" => None,
                _ => Some(parse_port(
                    after.strip_prefix(':').ok_or("junk after ']'")?,
                )?),
            };
            // Kept in IPv6 form, as `Url` keeps `[::ffff:a.b.c.d]`.
            (PatternHost::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err("IPv6 addresses must be written in brackets")
                }
                Some((h, p)) => (h, Some(parse_port(p)?)),
                None => (rest, None),
            };
            let host = if let Some(base) = host.strip_prefix("*.") {
                match normalise_host(base)? {
                    Host::Domain(d) if d.contains('.') => PatternHost::Subdomains(d),
                    Host::Domain(_) => {
                        return Err("a wildcard needs a domain of at least two labels")
                    }
                    _ => return Err("a wildcard cannot apply to an IP address"),
                }
            } else if host.contains('*') {
                return Err("'*' is only allowed as a leading '*.' label");
            } else {
                match normalise_host(host)? {
                    Host::Domain(d) => PatternHost::Domain(d),
                    Host::Ipv4(ip) => PatternHost::Ip(IpAddr::V4(ip)),
                    Host::Ipv6(ip) => PatternHost::Ip(IpAddr::V6(ip)),
                }
            };
            (host, port)
        };
        Ok(HostPattern { scheme, host, port })
    }

    /// Any `http`/`https` host on any port. Never from an app manifest (the grammar
    /// has no way to write it); only server features use it.
    pub fn any() -> Self {
        HostPattern {
            scheme: None,
            host: PatternHost::Any,
            port: None,
        }
    }

    /// Whether `url`'s scheme, host and port are covered by this pattern.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(scheme) = Scheme::of(url) else {
            return false;
        };
        if self.host == PatternHost::Any {
            return url.host().is_some();
        }
        if self.scheme.is_some_and(|s| s != scheme) {
            return false;
        }
        let Some(port) = url.port_or_known_default() else {
            return false;
        };
        if port != self.port.unwrap_or(scheme.default_port()) {
            return false;
        }
        match (&self.host, url.host()) {
            (PatternHost::Domain(want), Some(Host::Domain(d))) => {
                d.strip_suffix('.').unwrap_or(d).eq_ignore_ascii_case(want)
            }
            (PatternHost::Subdomains(suffix), Some(Host::Domain(d))) => {
                // `Url` hosts of http(s) URLs are ASCII lowercase already.
                let d = d.strip_suffix('.').unwrap_or(d);
                d.strip_suffix(suffix.as_str())
                    .and_then(|head| head.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty())
            }
            (PatternHost::Ip(want), Some(Host::Ipv4(ip))) => *want == IpAddr::V4(ip),
            (PatternHost::Ip(want), Some(Host::Ipv6(ip))) => *want == IpAddr::V6(ip),
            _ => false,
        }
    }
}

fn parse_port(p: &str) -> Result<u16, &'static str> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err("invalid port"),
        Ok(port) => Ok(port),
    }
}

impl FromStr for HostPattern {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostPattern::parse(s)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{}://", scheme.as_str())?;
        }
        match &self.host {
            PatternHost::Domain(d) => f.write_str(d)?,
            PatternHost::Subdomains(d) => write!(f, "*.{d}")?,
            PatternHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            PatternHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            PatternHost::Any => f.write_str("*")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Everything that decides what one app's outbound requests may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPolicy {
    /// The app's granted hosts (intersection of manifest and admin grant).
    pub hosts: Vec<HostPattern>,
    /// Operator allow-list (server configuration).
    pub operator_allow: Vec<OperatorAllow>,
    /// Total time for one request: DNS, connect, redirects and body.
    pub timeout: Duration,
    /// Cap on the response body; exceeding it fails the request.
    pub max_response_bytes: usize,
    /// Redirects followed, each hop re-checked; 0 returns 3xx responses as they are.
    /// Values above [`MAX_REDIRECTS`] are treated as [`MAX_REDIRECTS`].
    pub max_redirects: u8,
}

impl Default for HttpPolicy {
    /// Nothing granted, nothing allow-listed, default limits.
    fn default() -> Self {
        HttpPolicy {
            hosts: Vec::new(),
            operator_allow: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }
}

impl HttpPolicy {
    /// Any host, with the operator allow-list and default limits: for URLs an admin or
    /// a user typed (outgoing webhooks, avatar URLs). Private addresses stay refused
    /// unless `operator_allow` names them.
    pub fn public(operator_allow: Vec<OperatorAllow>) -> Self {
        HttpPolicy {
            hosts: vec![HostPattern::any()],
            operator_allow,
            ..HttpPolicy::default()
        }
    }

    /// A policy with default limits from grant strings and operator allow-list strings.
    pub fn from_strings<H, A>(hosts: H, operator_allow: A) -> Result<Self, PolicyError>
    where
        H: IntoIterator,
        H::Item: AsRef<str>,
        A: IntoIterator,
        A::Item: AsRef<str>,
    {
        Ok(HttpPolicy {
            hosts: hosts
                .into_iter()
                .map(|h| HostPattern::parse(h.as_ref()))
                .collect::<Result<_, _>>()?,
            operator_allow: operator_allow
                .into_iter()
                .map(|a| OperatorAllow::parse(a.as_ref()))
                .collect::<Result<_, _>>()?,
            ..HttpPolicy::default()
        })
    }

    /// Whether some granted pattern covers `url`'s scheme, host and port.
    pub fn is_granted(&self, url: &Url) -> bool {
        self.hosts.iter().any(|p| p.matches(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[track_caller]
    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        let p = pat(pattern);
        for u in yes {
            assert!(p.matches(&url(u)), "{pattern} should match {u}");
        }
        for u in no {
            assert!(!p.matches(&url(u)), "{pattern} should not match {u}");
        }
    }

    #[test]
    fn exact_host_both_schemes_default_ports() {
        check(
            "api.example.com",
            &[
                "http://api.example.com/",
                "https://api.example.com/x?y",
                "https://API.Example.COM/",
                "https://api.example.com./",
                "https://api.example.com:443/",
                "http://api.example.com:80/",
            ],
            &[
                "https://example.com/",
                "https://x.api.example.com/",
                "https://api.example.com.evil.com/",
                "https://evilapi.example.com/",
                "https://api.example.com:8443/",
                "http://api.example.com:443/",
                "https://api.example.com:80/",
                "ftp://api.example.com/",
            ],
        );
    }

    #[test]
    fn wildcard_is_subdomains_only() {
        check(
            "*.example.com",
            &[
                "https://a.example.com/",
                "https://a.b.example.com/",
                "http://A.EXAMPLE.com./",
            ],
            &[
                "https://example.com/",
                "https://evilexample.com/",
                "https://example.com.evil.net/",
                "https://a.example.org/",
                "https://a.example.com:8443/",
            ],
        );
        // The apex is granted only when listed.
        assert!(!pat("*.example.com").matches(&url("https://example.com/")));
    }

    #[test]
    fn scheme_and_port() {
        check(
            "https://api.example.com",
            &["https://api.example.com/"],
            &["http://api.example.com/", "https://api.example.com:8443/"],
        );
        check(
            "http://api.example.com",
            &["http://api.example.com/"],
            &["https://api.example.com/", "http://api.example.com:8080/"],
        );
        check(
            "api.example.com:8443",
            &[
                "https://api.example.com:8443/",
                "http://api.example.com:8443/",
            ],
            &["https://api.example.com/", "http://api.example.com/"],
        );
        check(
            "https://*.example.com:8443/",
            &["https://x.example.com:8443/"],
            &["http://x.example.com:8443/", "https://x.example.com/"],
        );
        // An explicit default port is the default port.
        check(
            "https://api.example.com:443",
            &["https://api.example.com/"],
            &["http://api.example.com:80/"],
        );
        check(
            "HTTPS://Api.Example.Com.",
            &["https://api.example.com/"],
            &[],
        );
    }

    #[test]
    fn ip_literal_patterns() {
        check(
            "127.0.0.1:8080",
            &[
                "http://127.0.0.1:8080/",
                "http://2130706433:8080/",
                "http://0x7f.1:8080/",
            ],
            &["http://127.0.0.1:8081/", "http://127.0.0.2:8080/"],
        );
        check(
            "[::1]:9000",
            &["http://[::1]:9000/", "http://[0:0::1]:9000/"],
            &["http://[::1]:9001/", "http://127.0.0.1:9000/"],
        );
        // A domain pattern never matches an IP literal and vice versa.
        check("1.2.3.4", &["http://1.2.3.4/"], &["http://1.2.3.4.nip.io/"]);
        check("localhost", &["http://localhost/"], &["http://127.0.0.1/"]);
    }

    #[test]
    fn idna_is_normalised() {
        check(
            "bücher.example",
            &["https://xn--bcher-kva.example/", "https://BÜCHER.example/"],
            &["https://bucher.example/"],
        );
        check(
            "*.xn--bcher-kva.example",
            &["https://a.bücher.example/"],
            &[],
        );
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in [
            "",
            "*",
            "*.com",
            "*.",
            "a.*.example.com",
            "*example.com",
            "ftp://example.com",
            "https://",
            "example.com/path",
            "user@example.com",
            "example.com:0",
            "example.com:99999",
            "example.com:",
            "::1",
            "[::1",
            "[::1]x",
            "*.127.0.0.1",
            "exa mple.com",
            "a..b.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn pattern_display_round_trips() {
        for s in [
            "api.example.com",
            "*.example.com",
            "https://api.example.com:8443",
            "http://127.0.0.1:8080",
            "[::1]:9000",
        ] {
            assert_eq!(pat(s).to_string(), s);
            assert_eq!(pat(&pat(s).to_string()), pat(s));
        }
    }

    #[test]
    fn policy_from_strings() {
        let p = HttpPolicy::from_strings(["api.example.com", "*.example.org"], ["10.0.0.0/8"])
            .expect("valid");
        assert!(p.is_granted(&url("https://api.example.com/")));
        assert!(p.is_granted(&url("https://a.example.org/")));
        assert!(!p.is_granted(&url("https://example.org/")));
        assert_eq!(p.operator_allow.len(), 1);
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert!(HttpPolicy::from_strings(["*"], Vec::<String>::new()).is_err());
        assert!(HttpPolicy::from_strings(["a.com"], ["nope"]).is_err());
        assert!(!HttpPolicy::default().is_granted(&url("https://a.com/")));
    }
}

#[cfg(test)]
mod any_host_tests {
    use super::*;

    #[test]
    fn any_matches_every_http_host_and_port_but_nothing_else() {
        let any = HostPattern::any();
        for url in [
            "https://hooks.example.com/x",
            "http://example.org:8080/",
            "http://127.0.0.1:9/",
            "https://[::1]:443/",
        ] {
            assert!(any.matches(&Url::parse(url).expect("url")), "{url}");
        }
        assert!(!any.matches(&Url::parse("ftp://example.com/").expect("url")));
        assert!(
            HostPattern::parse("*").is_err(),
            "manifests cannot write it"
        );
    }
}
