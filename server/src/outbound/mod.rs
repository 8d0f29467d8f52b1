//! Guarded outbound HTTP: the only way an app, an outgoing webhook or a fetched avatar
//! reaches the network. Apps get their granted hosts; server features that call URLs
//! an admin or user typed use [`HttpPolicy::public`] (any host, same address vetting).
//!
//! [`OutboundHttp::send`] enforces, on every request and every redirect hop:
//!
//! 1. **Request shape**: method in GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; URL
//!    `http`/`https` with a host, no user info; header names and values valid; headers
//!    that would spoof the host, the client address or hop-by-hop framing stripped
//!    (Host, Content-Length, Transfer-Encoding, Connection, Upgrade, TE, Trailer,
//!    Keep-Alive, Proxy-*, Forwarded, X-Forwarded-*, X-Real-IP, Via, X-Client-IP,
//!    True-Client-IP, X-Cluster-Client-IP).
//! 2. **Grant**: scheme, host and port must match one of the app's [`HostPattern`]s,
//!    else [`HttpError::HostNotGranted`].
//! 3. **Addresses**: the host resolves names itself; every resolved address (or the IP
//!    literal) is vetted ([`refusal_for`]) and one refused address refuses the request
//!    ([`HttpError::AddressRefused`]) unless the operator allow-list names it. The
//!    connection is made by a reqwest client whose resolver returns only the vetted
//!    set, so nothing resolves twice and DNS cannot change the answer in between.
//!    Names under `localhost` (RFC 6761) resolve to 127.0.0.1 and ::1 without DNS.
//! 4. **Redirects**: followed by hand up to `max_redirects` (at most [`MAX_REDIRECTS`]),
//!    each hop going through 2 and 3 again; 303 (and 301/302 after POST) become GET
//!    without body; Authorization and Cookie are dropped when the origin changes.
//! 5. **Limits**: one total timeout (DNS, connect, redirects, body); the body is read
//!    chunk by chunk and fails as soon as it passes the cap.
//!
//! The operator may route a `host:port` elsewhere and trust extra roots
//! ([`OperatorRouting`]); grant, `Host` header and TLS name stay the URL's.
//!
//! Outbound concurrency per app is not limited here; the caller holds a semaphore.

mod addr;
mod allow;
mod client;
mod policy;
mod request;
mod route;
#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, Url};
use tracing::debug;
use url::Host;

pub use addr::{refusal_for, Refusal};
pub use allow::OperatorAllow;
pub use policy::{
    HostPattern, HttpPolicy, PolicyError, Scheme, DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, MAX_REDIRECTS,
};
pub use route::OperatorRouting;

/// An app's outbound request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OutboundRequest {
    /// GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS (any ASCII case).
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Request headers, in order; repeated names are sent repeatedly.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Vec<u8>>,
    /// Total timeout wished by the app; capped by [`HttpPolicy::timeout`].
    pub timeout: Option<Duration>,
}

impl OutboundRequest {
    /// A GET of `url` with no headers.
    pub fn get(url: impl Into<String>) -> Self {
        OutboundRequest {
            method: "GET".into(),
            url: url.into(),
            ..Default::default()
        }
    }
}

/// Debug output shows header names and body size, never header values or the body,
/// which may hold credentials.
impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The final response (after redirects, if followed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// Response headers, lowercase names, in order; non-UTF-8 values converted lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why an outbound request failed. Every variant is the app's answer, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No granted pattern covers the scheme, host and port (`host` is `host:port`).
    #[error("{host} is not granted to this app")]
    HostNotGranted { host: String },
    /// `host` is granted but resolved to (or is) an address that may not be reached.
    #[error("{host} resolves to {addr}, which is refused ({reason})")]
    AddressRefused {
        host: String,
        addr: SocketAddr,
        reason: String,
    },
    /// The request itself is malformed or asks for something never allowed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// More redirects than the policy follows (the limit is given).
    #[error("more than {0} redirects")]
    TooManyRedirects(u8),
    /// The total timeout passed.
    #[error("timed out")]
    Timeout,
    /// The response body passed the cap (the cap is given, in bytes).
    #[error("response body larger than {0} bytes")]
    ResponseTooLarge(usize),
    /// DNS, connection, TLS or protocol failure.
    #[error("network error: {0}")]
    Network(String),
}

type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;
type LookupFn = dyn Fn(String, u16) -> LookupFuture + Send + Sync;

struct Inner {
    clients: client::ClientCache,
    /// Replaces system DNS in tests.
    lookup: Option<Arc<LookupFn>>,
    routing: OperatorRouting,
}

/// The outbound HTTP client shared by all apps. Cheap to clone; the policy is given
/// per request, so one instance serves every app.
#[derive(Clone)]
pub struct OutboundHttp {
    inner: Arc<Inner>,
}

impl Default for OutboundHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OutboundHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundHttp").finish_non_exhaustive()
    }
}

impl OutboundHttp {
    /// A client resolving names with the system resolver.
    pub fn new() -> Self {
        Self::with_routing(OperatorRouting::default())
    }

    /// A client that follows the operator's `routing`.
    pub fn with_routing(routing: OperatorRouting) -> Self {
        OutboundHttp {
            inner: Arc::new(Inner {
                clients: client::ClientCache::new(routing.roots().to_vec()),
                lookup: None,
                routing,
            }),
        }
    }

    /// A client whose name resolution is `lookup` (host, port) instead of system DNS.
    #[cfg(test)]
    fn with_lookup(lookup: impl Fn(String, u16) -> LookupFuture + Send + Sync + 'static) -> Self {
        OutboundHttp {
            inner: Arc::new(Inner {
                clients: client::ClientCache::default(),
                lookup: Some(Arc::new(lookup)),
                routing: OperatorRouting::default(),
            }),
        }
    }

    /// Sends `req` under `policy`; see the module documentation for every rule.
    pub async fn send(
        &self,
        policy: &HttpPolicy,
        req: OutboundRequest,
    ) -> Result<OutboundResponse, HttpError> {
        let limit = req
            .timeout
            .map_or(policy.timeout, |t| t.min(policy.timeout));
        let method = request::parse_method(&req.method)?;
        let url = request::parse_url(&req.url)?;
        let headers = request::build_headers(req.headers)?;
        debug!(%method, %url, timeout = ?limit, "outbound http: request");
        match tokio::time::timeout(limit, self.run(policy, method, url, headers, req.body)).await {
            Ok(result) => {
                if let Err(e) = &result {
                    debug!(error = %e, "outbound http: failed");
                }
                result
            }
            Err(_) => {
                debug!(timeout = ?limit, "outbound http: timed out");
                Err(HttpError::Timeout)
            }
        }
    }

    /// Vets `url` under `policy` as [`send`](Self::send) would (grant, resolution,
    /// addresses) without connecting; returns the addresses a request would use.
    pub async fn vet(&self, policy: &HttpPolicy, url: &str) -> Result<Vec<SocketAddr>, HttpError> {
        let url = request::parse_url(url)?;
        self.vet_target(policy, &url).await
    }

    async fn run(
        &self,
        policy: &HttpPolicy,
        mut method: Method,
        mut url: Url,
        mut headers: HeaderMap,
        mut body: Option<Vec<u8>>,
    ) -> Result<OutboundResponse, HttpError> {
        let max_redirects = policy.max_redirects.min(MAX_REDIRECTS);
        let mut followed: u8 = 0;
        loop {
            let addrs = self.vet_target(policy, &url).await?;
            let host = url.host_str().unwrap_or_default();
            let client = self.inner.clients.get(host, &addrs)?;
            // An operator route to another port: the connection needs that port in
            // the URL (resolvers give addresses, not ports); Host stays the original.
            let (wire_url, host_header) = match addrs.first() {
                Some(to) if Some(to.port()) != url.port_or_known_default() => {
                    let mut wire = url.clone();
                    wire.set_port(Some(to.port()))
                        .map_err(|()| HttpError::InvalidRequest("URL cannot have a port".into()))?;
                    let authority = match url.port() {
                        Some(p) => format!("{host}:{p}"),
                        None => host.to_owned(),
                    };
                    (wire, Some(authority))
                }
                _ => (url.clone(), None),
            };
            let mut builder = client
                .request(method.clone(), wire_url)
                .headers(headers.clone());
            if let Some(authority) = host_header {
                builder = builder.header(reqwest::header::HOST, authority);
            }
            // Keep the body for a possible 307/308 only if redirects may be followed.
            let hop_body = if max_redirects == 0 {
                body.take()
            } else {
                body.clone()
            };
            if let Some(b) = hop_body {
                builder = builder.body(b);
            }
            let response = builder.send().await.map_err(network_error)?;
            let status = response.status();
            debug!(%url, ?addrs, status = status.as_u16(), "outbound http: response");
            if max_redirects == 0 || !request::is_followed_redirect(status) {
                return read_response(response, policy.max_response_bytes).await;
            }
            let Some(location) = response.headers().get(LOCATION) else {
                return read_response(response, policy.max_response_bytes).await;
            };
            if followed >= max_redirects {
                return Err(HttpError::TooManyRedirects(max_redirects));
            }
            followed += 1;
            let next = location
                .to_str()
                .ok()
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| HttpError::Network("redirect with an invalid Location".into()))?;
            request::check_url(&next)?;
            drop(response);
            if request::redirect_drops_body(status, &method) {
                if method != Method::HEAD {
                    method = Method::GET;
                }
                body = None;
                for name in request::BODY_HEADERS {
                    headers.remove(name);
                }
            }
            if next.origin() != url.origin() {
                for name in request::SENSITIVE_HEADERS {
                    headers.remove(name);
                }
            }
            debug!(from = %url, to = %next, hop = followed, "outbound http: following redirect");
            url = next;
        }
    }

    /// Checks the grant for `url`, resolves its host and vets the addresses; returns
    /// the only addresses the connection may use.
    async fn vet_target(
        &self,
        policy: &HttpPolicy,
        url: &Url,
    ) -> Result<Vec<SocketAddr>, HttpError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::InvalidRequest("URL has no port".into()))?;
        let host = url.host_str().unwrap_or_default();
        if !policy.is_granted(url) {
            debug!(%url, "outbound http: host not granted");
            return Err(HttpError::HostNotGranted {
                host: format!("{host}:{port}"),
            });
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => addr::vet_resolved(
                host,
                [SocketAddr::new(IpAddr::V4(ip), port)],
                &policy.operator_allow,
            ),
            Some(Host::Ipv6(ip)) => addr::vet_resolved(
                host,
                [SocketAddr::new(IpAddr::V6(ip), port)],
                &policy.operator_allow,
            ),
            Some(Host::Domain(domain)) => {
                if let Some(to) = self.inner.routing.target(domain, port) {
                    debug!(%url, %to, "outbound http: operator route");
                    return addr::vet_resolved(domain, [to], &policy.operator_allow);
                }
                let resolved = self.lookup(domain, port).await?;
                addr::vet_resolved(domain, resolved, &policy.operator_allow)
            }
            None => Err(HttpError::InvalidRequest("URL has no host".into())),
        }
    }

    async fn lookup(&self, domain: &str, port: u16) -> Result<Vec<SocketAddr>, HttpError> {
        // RFC 6761: names under `localhost` are loopback and never go to DNS (the
        // system resolver may not know `localhost.` or `x.localhost`).
        let bare = domain.strip_suffix('.').unwrap_or(domain);
        if bare.eq_ignore_ascii_case("localhost")
            || bare.to_ascii_lowercase().ends_with(".localhost")
        {
            return Ok(vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ]);
        }
        let resolved = match &self.inner.lookup {
            Some(lookup) => lookup(domain.to_owned(), port).await,
            None => tokio::net::lookup_host((domain, port))
                .await
                .map(|addrs| addrs.collect()),
        };
        resolved.map_err(|e| HttpError::Network(format!("could not resolve {domain}: {e}")))
    }
}

/// Reads the body chunk by chunk, failing as soon as it would pass `cap`; never holds
/// more than `cap` bytes plus the chunk being looked at.
async fn read_response(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<OutboundResponse, HttpError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let announced = response.content_length();
    if announced.is_some_and(|len| len > cap as u64) {
        return Err(HttpError::ResponseTooLarge(cap));
    }
    let initial = announced.map_or(0, |len| (len as usize).min(cap).min(1 << 20));
    let mut body = Vec::with_capacity(initial);
    while let Some(chunk) = response.chunk().await.map_err(network_error)? {
        if chunk.len() > cap - body.len() {
            debug!(cap, "outbound http: response body over the cap");
            return Err(HttpError::ResponseTooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(OutboundResponse {
        status,
        headers,
        body,
    })
}

fn network_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    HttpError::Network(message)
}
