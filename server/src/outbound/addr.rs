//! Address vetting: which socket addresses an app's outbound request may connect to.
//!
//! Only globally routable unicast addresses pass. Everything an app could use to reach
//! the server itself, the machine's neighbours or the cloud control plane is refused:
//! loopback, private, link-local (incl. the 169.254.169.254 metadata service), CGNAT,
//! unique-local (incl. fd00:ec2::254), multicast, unspecified, broadcast, reserved,
//! documentation and benchmarking ranges, and IPv6 forms that embed a refused IPv4
//! address (IPv4-mapped, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`). IPv4-compatible
//! (`::a.b.c.d`, deprecated) and IPv4-translated addresses are refused outright, and so
//! is any IPv6 address outside global unicast `2000::/3`.
//!
//! The operator allow-list ([`OperatorAllow`]) is the only way to open a refused address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tracing::debug;

use super::allow::OperatorAllow;
use super::HttpError;

/// Why an address is refused: the special-purpose range it falls in, and for IPv6
/// forms that embed an IPv4 address, which form carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The range, e.g. `"loopback"` or `"link-local"`.
    pub range: &'static str,
    /// The IPv6 form the refused IPv4 address was embedded in, e.g. `"IPv4-mapped"`.
    pub via: Option<&'static str>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.via {
            Some(via) => write!(f, "{} via {via} IPv6", self.range),
            None => f.write_str(self.range),
        }
    }
}

const fn refusal(range: &'static str) -> Option<Refusal> {
    Some(Refusal { range, via: None })
}

/// IPv4 special-purpose ranges, most specific first: (network, prefix length, range).
const V4_REFUSED: &[(u32, u8, &str)] = &[
    (0xA9FE_A9FE, 32, "cloud metadata"), // 169.254.169.254
    (0xFFFF_FFFF, 32, "broadcast"),      // 255.255.255.255
    (0x0000_0000, 8, "unspecified"),     // 0.0.0.0/8 "this network"
    (0x0A00_0000, 8, "private"),         // 10.0.0.0/8
    (0x6440_0000, 10, "shared address space (CGNAT)"), // 100.64.0.0/10
    (0x7F00_0000, 8, "loopback"),        // 127.0.0.0/8
    (0xA9FE_0000, 16, "link-local"),     // 169.254.0.0/16
    (0xAC10_0000, 12, "private"),        // 172.16.0.0/12
    (0xC000_0000, 24, "IETF protocol assignments"), // 192.0.0.0/24
    (0xC000_0200, 24, "documentation"),  // 192.0.2.0/24 TEST-NET-1
    (0xC058_6300, 24, "6to4 relay anycast"), // 192.88.99.0/24
    (0xC0A8_0000, 16, "private"),        // 192.168.0.0/16
    (0xC612_0000, 15, "benchmarking"),   // 198.18.0.0/15
    (0xC633_6400, 24, "documentation"),  // 198.51.100.0/24 TEST-NET-2
    (0xCB00_7100, 24, "documentation"),  // 203.0.113.0/24 TEST-NET-3
    (0xE000_0000, 4, "multicast"),       // 224.0.0.0/4
    (0xF000_0000, 4, "reserved"),        // 240.0.0.0/4
];

/// IPv6 ranges refused outright (the embedding forms are handled before this table),
/// most specific first.
const V6_REFUSED: &[(u128, u8, &str)] = &[
    (
        0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
        128,
        "cloud metadata",
    ), // fd00:ec2::254
    (0, 128, "unspecified"),                 // ::
    (1, 128, "loopback"),                    // ::1
    (0, 96, "IPv4-compatible (deprecated)"), // ::/96
    (
        0x0000_0000_0000_0000_ffff_0000_0000_0000,
        96,
        "IPv4-translated",
    ), // ::ffff:0:0:0/96
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        "local-use NAT64",
    ), // 64:ff9b:1::/48
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        "discard-only",
    ), // 100::/64
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        "documentation",
    ), // 2001:db8::/32
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        23,
        "IETF protocol assignments (incl. Teredo)",
    ), // 2001::/23
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        "documentation",
    ), // 3fff::/20
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local"), // fc00::/7
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local"), // fe80::/10
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        "site-local (deprecated)",
    ), // fec0::/10
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast"), // ff00::/8
];

/// The network mask of an IPv4 prefix length (0..=32).
pub(super) fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

/// The network mask of an IPv6 prefix length (0..=128).
pub(super) fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

/// Whether `ip` lies in `network/prefix`.
pub(super) fn v4_in(ip: Ipv4Addr, network: u32, prefix: u8) -> bool {
    let mask = mask32(prefix);
    u32::from(ip) & mask == network & mask
}

/// Whether `ip` lies in `network/prefix`.
pub(super) fn v6_in(ip: Ipv6Addr, network: u128, prefix: u8) -> bool {
    let mask = mask128(prefix);
    u128::from(ip) & mask == network & mask
}

fn v4_refusal(ip: Ipv4Addr) -> Option<Refusal> {
    V4_REFUSED
        .iter()
        .find(|(network, prefix, _)| v4_in(ip, *network, *prefix))
        .and_then(|(_, _, range)| refusal(range))
}

/// The IPv4 address embedded in an IPv6 form that an IPv4 host would be reached
/// through, with the form's name.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let bits = u128::from(ip);
    // The low 32 bits, for the /96 forms; truncation is the point.
    let low = Ipv4Addr::from(bits as u32);
    if v6_in(ip, 0x0000_0000_0000_0000_0000_ffff_0000_0000, 96) {
        return Some((low, "IPv4-mapped"));
    }
    if v6_in(ip, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return Some((low, "NAT64"));
    }
    if v6_in(ip, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16..48.
        return Some((Ipv4Addr::from((bits >> 80) as u32), "6to4"));
    }
    None
}

fn v6_refusal(ip: Ipv6Addr) -> Option<Refusal> {
    if let Some((v4, via)) = embedded_v4(ip) {
        return v4_refusal(v4).map(|r| Refusal {
            range: r.range,
            via: Some(via),
        });
    }
    if let Some((_, _, range)) = V6_REFUSED
        .iter()
        .find(|(network, prefix, _)| v6_in(ip, *network, *prefix))
    {
        return refusal(range);
    }
    // Everything outside global unicast 2000::/3 is reserved or special-purpose.
    if !v6_in(ip, 0x2000_0000_0000_0000_0000_0000_0000_0000, 3) {
        return refusal("not global unicast");
    }
    None
}

/// Why `ip` may not be connected to, or `None` when it is a public unicast address.
/// The operator allow-list is not consulted here; see [`vet_addr`].
pub fn refusal_for(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4),
        IpAddr::V6(v6) => v6_refusal(v6),
    }
}

/// Vets one socket address. IPv4-mapped IPv6 addresses are returned (and matched
/// against the allow-list) in their IPv4 form. An address the operator allow-list
/// names passes whatever its range.
pub(super) fn vet_addr(addr: SocketAddr, allow: &[OperatorAllow]) -> Result<SocketAddr, Refusal> {
    let canonical = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    if allow.iter().any(|a| a.permits(canonical)) {
        return Ok(canonical);
    }
    match refusal_for(addr.ip()) {
        Some(why) => Err(why),
        None => Ok(canonical),
    }
}

/// Vets every address `host` resolved to. One refused address refuses the host
/// entirely, so a name answering with both a public and a private address (a
/// DNS-rebinding trick) never reaches either. Returns the vetted set, deduplicated and
/// sorted, which is all the connection may use.
pub(super) fn vet_resolved(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
    allow: &[OperatorAllow],
) -> Result<Vec<SocketAddr>, HttpError> {
    let mut vetted = Vec::new();
    for addr in addrs {
        match vet_addr(addr, allow) {
            Ok(ok) => vetted.push(ok),
            Err(why) => {
                debug!(host, %addr, reason = %why, "outbound http: address refused");
                return Err(HttpError::AddressRefused {
                    host: host.to_owned(),
                    addr,
                    reason: why.to_string(),
                });
            }
        }
    }
    vetted.sort_unstable();
    vetted.dedup();
    if vetted.is_empty() {
        return Err(HttpError::Network(format!(
            "{host} did not resolve to any address"
        )));
    }
    Ok(vetted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    #[test]
    fn refused_ipv4_ranges() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("192.168.255.255", "private"),
            ("169.254.0.1", "link-local"),
            ("169.254.169.254", "cloud metadata"),
            ("100.64.0.1", "shared address space (CGNAT)"),
            ("100.127.255.255", "shared address space (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("250.1.2.3", "reserved"),
            ("192.0.0.170", "IETF protocol assignments"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("192.88.99.1", "6to4 relay anycast"),
        ];
        for (addr, range) in cases {
            let got = refusal_for(ip(addr));
            assert_eq!(
                got,
                Some(Refusal { range, via: None }),
                "{addr} should be refused as {range}"
            );
        }
    }

    #[test]
    fn public_ipv4_passes() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.169.0.1",
            "169.253.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.1",
        ] {
            assert_eq!(refusal_for(ip(addr)), None, "{addr} should pass");
        }
    }

    #[test]
    fn refused_ipv6_ranges() {
        let cases = [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fdff:ffff::1", "unique-local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("2001::1", "IETF protocol assignments (incl. Teredo)"),
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                "IETF protocol assignments (incl. Teredo)",
            ),
            ("100::1", "discard-only"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("fec0::1", "site-local (deprecated)"),
            ("::ffff:0:8.8.8.8", "IPv4-translated"),
            ("4000::1", "not global unicast"),
            ("5f00::1", "not global unicast"),
            ("1::1", "not global unicast"),
        ];
        for (addr, range) in cases {
            assert_eq!(
                refusal_for(ip(addr)),
                Some(Refusal { range, via: None }),
                "{addr} should be refused as {range}"
            );
        }
    }

    #[test]
    fn ipv4_compatible_is_refused_outright() {
        for addr in ["::127.0.0.1", "::8.8.8.8", "::1.1.1.1", "::a9fe:a9fe"] {
            assert_eq!(
                refusal_for(ip(addr)).map(|r| r.range),
                Some("IPv4-compatible (deprecated)"),
                "{addr}"
            );
        }
    }

    #[test]
    fn embedded_ipv4_forms_follow_the_ipv4_verdict() {
        let refused = [
            ("::ffff:127.0.0.1", "loopback", "IPv4-mapped"),
            ("::ffff:7f00:1", "loopback", "IPv4-mapped"),
            ("::ffff:10.0.0.1", "private", "IPv4-mapped"),
            ("::ffff:169.254.169.254", "cloud metadata", "IPv4-mapped"),
            ("::ffff:0.0.0.0", "unspecified", "IPv4-mapped"),
            ("64:ff9b::127.0.0.1", "loopback", "NAT64"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata", "NAT64"),
            ("64:ff9b::c0a8:101", "private", "NAT64"),
            ("2002:7f00:1::1", "loopback", "6to4"),
            ("2002:a9fe:a9fe::", "cloud metadata", "6to4"),
            ("2002:0a00:0001:1234::1", "private", "6to4"),
        ];
        for (addr, range, via) in refused {
            assert_eq!(
                refusal_for(ip(addr)),
                Some(Refusal {
                    range,
                    via: Some(via)
                }),
                "{addr}"
            );
        }
        for addr in ["::ffff:1.1.1.1", "64:ff9b::808:808", "2002:0101:0101::1"] {
            assert_eq!(refusal_for(ip(addr)), None, "{addr} should pass");
        }
    }

    #[test]
    fn public_ipv6_passes() {
        for addr in [
            "2606:4700::1111",
            "2606:4700:4700::1001",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "2400:cb00::1",
            "3ffe:ffff::1", // just below 3fff::/20
        ] {
            assert_eq!(refusal_for(ip(addr)), None, "{addr} should pass");
        }
    }

    #[test]
    fn vet_addr_canonicalises_mapped_and_honours_allow_list() {
        let allow: Vec<OperatorAllow> = vec![
            "127.0.0.1:8080".parse().expect("allow"),
            "10.1.0.0/16".parse().expect("allow"),
        ];
        let sa = |s: &str| -> SocketAddr { s.parse().expect("socket addr") };
        assert_eq!(
            vet_addr(sa("127.0.0.1:8080"), &allow),
            Ok(sa("127.0.0.1:8080"))
        );
        // The mapped form of an allowed address is the same address.
        assert_eq!(
            vet_addr(sa("[::ffff:127.0.0.1]:8080"), &allow),
            Ok(sa("127.0.0.1:8080"))
        );
        assert!(vet_addr(sa("127.0.0.1:8081"), &allow).is_err());
        assert!(vet_addr(sa("127.0.0.2:8080"), &allow).is_err());
        assert!(vet_addr(sa("[::1]:8080"), &allow).is_err());
        assert!(vet_addr(sa("10.1.200.3:1"), &allow).is_ok());
        assert!(vet_addr(sa("10.2.0.1:80"), &allow).is_err());
        assert_eq!(
            vet_addr(sa("[::ffff:1.1.1.1]:443"), &[]),
            Ok(sa("1.1.1.1:443"))
        );
    }

    #[test]
    fn resolution_vetting_with_injected_addresses() {
        let sa = |s: &str| -> SocketAddr { s.parse().expect("socket addr") };
        // A name resolving to loopback.
        let err = vet_resolved("evil.example", [sa("127.0.0.1:80")], &[]).unwrap_err();
        assert!(
            matches!(&err, HttpError::AddressRefused { host, addr, .. }
                if host == "evil.example" && *addr == sa("127.0.0.1:80")),
            "{err:?}"
        );
        // Public and refused together: refused entirely, whatever the order.
        for addrs in [
            vec![sa("1.1.1.1:443"), sa("10.0.0.1:443")],
            vec![sa("[::1]:443"), sa("1.1.1.1:443")],
            vec![sa("[2606:4700::1111]:443"), sa("[fd00:ec2::254]:443")],
            vec![sa("8.8.8.8:80"), sa("[::ffff:169.254.169.254]:80")],
        ] {
            assert!(
                matches!(
                    vet_resolved("rebind.example", addrs.clone(), &[]),
                    Err(HttpError::AddressRefused { .. })
                ),
                "{addrs:?}"
            );
        }
        // Only public addresses: all kept, deduplicated, mapped forms canonical.
        let ok = vet_resolved(
            "good.example",
            [
                sa("[2606:4700::1111]:443"),
                sa("1.1.1.1:443"),
                sa("[::ffff:1.1.1.1]:443"),
            ],
            &[],
        )
        .expect("public addresses pass");
        assert_eq!(ok, vec![sa("1.1.1.1:443"), sa("[2606:4700::1111]:443")]);
        // Nothing resolved is a network error, not an empty success.
        assert!(matches!(
            vet_resolved("empty.example", [], &[]),
            Err(HttpError::Network(_))
        ));
        // Operator allow-list opens exactly what it names.
        let allow: Vec<OperatorAllow> = vec!["127.0.0.1:9000".parse().expect("allow")];
        assert_eq!(
            vet_resolved("svc.internal", [sa("127.0.0.1:9000")], &allow),
            Ok(vec![sa("127.0.0.1:9000")])
        );
        assert!(vet_resolved(
            "svc.internal",
            [sa("127.0.0.1:9000"), sa("[::1]:9000")],
            &allow
        )
        .is_err());
    }
}
