//! reqwest clients pinned to vetted addresses, cached briefly for connection reuse.
//!
//! Each client is built for one (host, vetted address set): its DNS resolver answers
//! that host with exactly that set and fails every other name, it follows no redirects
//! and uses no proxy. hyper pools connections per (scheme, authority) inside a client,
//! so every pooled connection of a cached client leads to an address vetted for that
//! host. A request reuses a client only after its own grant check, resolution and
//! vetting produced the same host and the same set, under its own app's policy; a
//! changed DNS answer is a different key and gets a fresh client. Entries live
//! [`CLIENT_TTL`], at most [`MAX_CLIENTS`] of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tracing::debug;

use super::HttpError;

/// How long a cached client (and so its pooled connections) is reused.
pub(super) const CLIENT_TTL: Duration = Duration::from_secs(60);
/// Idle pooled connections are closed after this.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most cached clients.
pub(super) const MAX_CLIENTS: usize = 64;

const USER_AGENT: &str = concat!("Palaver-Apps/", env!("CARGO_PKG_VERSION"));

/// A resolver that knows one name and its vetted addresses, and nothing else: if the
/// connector ever asked about another name it fails instead of falling back to DNS.
struct PinnedResolver {
    host: String,
    addrs: Vec<SocketAddr>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let result: Result<Addrs, Box<dyn std::error::Error + Send + Sync>> =
            if name.as_str().eq_ignore_ascii_case(&self.host) {
                Ok(Box::new(self.addrs.clone().into_iter()))
            } else {
                debug!(
                    asked = name.as_str(),
                    pinned = %self.host,
                    "outbound http: resolver asked for an unexpected name"
                );
                Err(format!("{} is not the vetted host", name.as_str()).into())
            };
        Box::pin(std::future::ready(result))
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    host: String,
    addrs: Vec<SocketAddr>,
}

struct Entry {
    client: reqwest::Client,
    created: Instant,
}

#[derive(Default)]
pub(super) struct ClientCache {
    entries: Mutex<HashMap<Key, Entry>>,
    /// The operator's extra trusted roots.
    roots: Vec<reqwest::Certificate>,
}

impl ClientCache {
    pub(super) fn new(roots: Vec<reqwest::Certificate>) -> Self {
        ClientCache {
            entries: Mutex::default(),
            roots,
        }
    }

    /// A client for `host` that connects only to `addrs` (vetted, sorted, deduplicated).
    pub(super) fn get(
        &self,
        host: &str,
        addrs: &[SocketAddr],
    ) -> Result<reqwest::Client, HttpError> {
        let key = Key {
            host: host.to_owned(),
            addrs: addrs.to_vec(),
        };
        let now = Instant::now();
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entries.get(&key) {
                if now.duration_since(entry.created) < CLIENT_TTL {
                    return Ok(entry.client.clone());
                }
            }
        }
        // Built outside the lock: building loads the TLS roots and takes a moment.
        let client = build_client(host, addrs, &self.roots)?;
        debug!(host, ?addrs, "outbound http: new pinned client");
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, e| now.duration_since(e.created) < CLIENT_TTL);
        if entries.len() >= MAX_CLIENTS {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key,
            Entry {
                client: client.clone(),
                created: now,
            },
        );
        Ok(client)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn build_client(
    host: &str,
    addrs: &[SocketAddr],
    roots: &[reqwest::Certificate],
) -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder();
    for root in roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder
        .dns_resolver(Arc::new(PinnedResolver {
            host: host.to_owned(),
            addrs: addrs.to_vec(),
        }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(USER_AGENT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| HttpError::Network(format!("building the HTTP client: {e}")))
}
