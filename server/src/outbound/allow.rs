//! The operator allow-list: addresses vetting would refuse, opened by configuration.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::addr::{mask128, mask32, v4_in, v6_in};
use super::policy::PolicyError;

/// An operator allow-list entry (server configuration, never app-controlled): opens an
/// address that vetting would otherwise refuse, for on-premise services and tests.
///
/// - `127.0.0.1:8080`, `[::1]:9000`: exactly that address and port;
/// - `10.1.0.0/16`, `fd12:3456::/48`: any address in the network, any port.
///
/// IPv4-mapped IPv6 addresses are compared in their IPv4 form. The allow-list opens
/// addresses only: the app must still be granted the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorAllow {
    /// One exact address and port.
    Address(SocketAddr),
    /// A network in CIDR notation, any port. Host bits are zero.
    Network { addr: IpAddr, prefix: u8 },
}

impl OperatorAllow {
    /// Parses an allow-list entry; see the type documentation.
    pub fn parse(input: &str) -> Result<Self, PolicyError> {
        Self::parse_inner(input.trim()).map_err(|reason| PolicyError::OperatorAllow {
            input: input.to_owned(),
            reason,
        })
    }

    fn parse_inner(s: &str) -> Result<Self, &'static str> {
        if let Some((addr, prefix)) = s.split_once('/') {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| "invalid network address in CIDR")?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or("invalid CIDR prefix length")?;
            let aligned = match addr {
                IpAddr::V4(v4) => u32::from(v4) & !mask32(prefix) == 0,
                IpAddr::V6(v6) => u128::from(v6) & !mask128(prefix) == 0,
            };
            if !aligned {
                return Err("host bits set in CIDR network address");
            }
            return Ok(OperatorAllow::Network { addr, prefix });
        }
        let addr: SocketAddr = s
            .parse()
            .map_err(|_| "expected address:port ([v6]:port) or a CIDR network")?;
        if addr.port() == 0 {
            return Err("port 0");
        }
        Ok(OperatorAllow::Address(SocketAddr::new(
            addr.ip().to_canonical(),
            addr.port(),
        )))
    }

    /// Whether this entry opens `addr`.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        match *self {
            OperatorAllow::Address(allowed) => allowed.ip() == ip && allowed.port() == addr.port(),
            OperatorAllow::Network { addr: net, prefix } => match (net, ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => v4_in(ip, u32::from(net), prefix),
                (IpAddr::V6(net), IpAddr::V6(ip)) => v6_in(ip, u128::from(net), prefix),
                _ => false,
            },
        }
    }
}

impl FromStr for OperatorAllow {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OperatorAllow::parse(s)
    }
}

impl fmt::Display for OperatorAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorAllow::Address(a) => write!(f, "{a}"),
            OperatorAllow::Network { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_allow_entries() {
        let sa = |s: &str| -> SocketAddr { s.parse().expect("socket addr") };
        let exact = OperatorAllow::parse("127.0.0.1:8080").expect("parses");
        assert!(exact.permits(sa("127.0.0.1:8080")));
        assert!(exact.permits(sa("[::ffff:127.0.0.1]:8080")));
        assert!(!exact.permits(sa("127.0.0.1:8081")));
        assert!(!exact.permits(sa("127.0.0.2:8080")));

        let v6 = OperatorAllow::parse("[::1]:9000").expect("parses");
        assert!(v6.permits(sa("[::1]:9000")));
        assert!(!v6.permits(sa("[::1]:9001")));
        assert!(!v6.permits(sa("127.0.0.1:9000")));

        let net = OperatorAllow::parse("10.1.0.0/16").expect("parses");
        assert!(net.permits(sa("10.1.0.1:1")));
        assert!(net.permits(sa("10.1.255.255:65535")));
        assert!(net.permits(sa("[::ffff:10.1.2.3]:80")));
        assert!(!net.permits(sa("10.2.0.1:80")));
        assert!(!net.permits(sa("[::1]:80")));

        let net6 = OperatorAllow::parse("fd12:3456::/32").expect("parses");
        assert!(net6.permits(sa("[fd12:3456:1::5]:443")));
        assert!(!net6.permits(sa("[fd12:3457::5]:443")));

        let all4 = OperatorAllow::parse("0.0.0.0/0").expect("parses");
        assert!(all4.permits(sa("127.0.0.1:1")));
        assert!(!all4.permits(sa("[::1]:1")));

        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "localhost:80",
            "10.1.2.3/16",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/x",
            "::1:80",
            "",
        ] {
            assert!(
                OperatorAllow::parse(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
        assert_eq!(exact.to_string(), "127.0.0.1:8080");
        assert_eq!(net.to_string(), "10.1.0.0/16");
    }
}
