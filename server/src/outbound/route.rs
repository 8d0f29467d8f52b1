//! Operator routing of apps' outbound HTTP: `connect-to` overrides and extra trusted
//! roots. Both are for operators, never apps: send a host's traffic through an
//! internal gateway or a staging double while the app keeps the URL it was granted,
//! and trust a private CA for it.
//!
//! An override changes only where the connection goes; everything else stays as it
//! is for the original URL: the grant check, the `Host` header, TLS server-name
//! verification. The target address is vetted like a resolved one, so a private
//! target still needs an `http_allow` entry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use super::PolicyError;

/// Where the operator routes outbound connections and which extra roots are trusted.
#[derive(Clone, Default)]
pub struct OperatorRouting {
    connect_to: HashMap<(String, u16), SocketAddr>,
    roots: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for OperatorRouting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorRouting")
            .field("connect_to", &self.connect_to)
            .field("roots", &self.roots.len())
            .finish()
    }
}

impl OperatorRouting {
    /// Parses `connect_to` entries (`host:port=address:port`) and loads the PEM
    /// certificates of `extra_ca_file`, if given.
    pub fn new(connect_to: &[String], extra_ca_file: Option<&Path>) -> Result<Self, PolicyError> {
        let mut routes = HashMap::new();
        for entry in connect_to {
            let (from, to) = parse_connect_to(entry)?;
            routes.insert(from, to);
        }
        let roots = match extra_ca_file {
            None => Vec::new(),
            Some(path) => load_roots(path)?,
        };
        Ok(OperatorRouting {
            connect_to: routes,
            roots,
        })
    }

    /// The address a connection to `host:port` goes to instead of resolving `host`.
    pub fn target(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        self.connect_to.get(&(host, port)).copied()
    }

    /// Every route: (host, port, target).
    pub fn routes(&self) -> impl Iterator<Item = (String, u16, SocketAddr)> + '_ {
        self.connect_to
            .iter()
            .map(|((host, port), to)| (host.clone(), *port, *to))
    }

    /// Extra root certificates every app client trusts besides the built-in ones.
    pub fn roots(&self) -> &[reqwest::Certificate] {
        &self.roots
    }
}

fn invalid(input: &str, reason: &'static str) -> PolicyError {
    PolicyError::ConnectTo {
        input: input.to_owned(),
        reason,
    }
}

/// `host:port=address:port`, e.g. `graph.facebook.com:443=10.0.0.7:8443`.
fn parse_connect_to(input: &str) -> Result<((String, u16), SocketAddr), PolicyError> {
    let (from, to) = input
        .trim()
        .split_once('=')
        .ok_or_else(|| invalid(input, "expected host:port=address:port"))?;
    let (host, port) = from
        .rsplit_once(':')
        .ok_or_else(|| invalid(input, "the host needs a port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| invalid(input, "invalid port"))?;
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty()
        || host.contains(['*', '/', '@', '['])
        || host.chars().any(char::is_whitespace)
    {
        return Err(invalid(input, "not a host name"));
    }
    let to: SocketAddr = to
        .trim()
        .parse()
        .map_err(|_| invalid(input, "the target must be an address:port"))?;
    Ok(((host, port), to))
}

fn load_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, PolicyError> {
    let pem = std::fs::read(path).map_err(|e| PolicyError::CaFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| PolicyError::CaFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(PolicyError::CaFile {
            path: path.display().to_string(),
            reason: "no PEM certificate in it".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_to() {
        let routing = OperatorRouting::new(
            &[
                "Graph.Facebook.com:443=127.0.0.1:8443".into(),
                "a.example:80=[::1]:9000".into(),
            ],
            None,
        )
        .expect("valid");
        assert_eq!(
            routing.target("graph.facebook.com", 443),
            Some("127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(
            routing.target("graph.facebook.com.", 443),
            Some("127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(routing.target("graph.facebook.com", 80), None);
        assert_eq!(
            routing.target("a.example", 80),
            Some("[::1]:9000".parse().unwrap())
        );
    }

    #[test]
    fn refuses_bad_connect_to() {
        for bad in [
            "graph.facebook.com=127.0.0.1:1",
            "graph.facebook.com:443",
            "graph.facebook.com:0=127.0.0.1:1",
            "graph.facebook.com:443=localhost:1",
            "*.facebook.com:443=127.0.0.1:1",
            ":443=127.0.0.1:1",
        ] {
            assert!(OperatorRouting::new(&[bad.into()], None).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_or_empty_ca_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.pem");
        assert!(OperatorRouting::new(&[], Some(&missing)).is_err());
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").expect("write");
        assert!(OperatorRouting::new(&[], Some(&empty)).is_err());
    }
}
