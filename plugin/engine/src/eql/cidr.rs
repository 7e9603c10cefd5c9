//! `cidrMatch` ranges. Elasticsearch compiles `cidrMatch(f, "10.0.0.0/8")` to
//! a `terms` query on an `ip` field, which stores every address as 16 bytes
//! (IPv4 as IPv4-mapped IPv6). Doing the same here means `::ffff:10.1.2.3`
//! is inside `10.0.0.0/8`, as it is in Elasticsearch.

use std::net::IpAddr;

/// One address range: the network's 128-bit address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: u128,
    len: u32,
}

/// An address as 128 bits, IPv4 mapped into `::ffff:0:0/96`.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(len: u32) -> u128 {
    // `len` is at most 128; a 0-bit prefix masks nothing.
    u128::MAX.checked_shl(128 - len).unwrap_or(0)
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `v6::/n` or a bare address (a full-length prefix).
    /// Host bits below the prefix are ignored, as `InetAddresses.parseCidr` does.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => (a, Some(l.parse::<u32>().ok()?)),
            Some(_) => return None,
            None => (text, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (max, offset) = if ip.is_ipv4() { (32, 96) } else { (128, 0) };
        let len = len.unwrap_or(max);
        if len > max {
            return None;
        }
        let len = len + offset;
        Some(Cidr { net: bits(ip) & mask(len), len })
    }

    /// The range as IPv6 CIDR text (an IPv4 range as its IPv4-mapped
    /// form), for rule export.
    #[cfg(feature = "export")]
    pub(crate) fn ipv6_text(&self) -> String {
        format!("{}/{}", std::net::Ipv6Addr::from(self.net), self.len)
    }

    /// True if `value` is an IP address inside this range.
    pub(crate) fn contains(&self, value: &str) -> bool {
        value.parse::<IpAddr>().is_ok_and(|ip| bits(ip) & mask(self.len) == self.net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(cidr: &str, ip: &str) -> bool {
        Cidr::parse(cidr).is_some_and(|c| c.contains(ip))
    }

    #[test]
    fn ipv4_ranges() {
        assert!(within("10.0.0.0/8", "10.200.3.4"));
        assert!(!within("10.0.0.0/8", "11.0.0.1"));
        assert!(within("192.168.0.0/16", "192.168.255.255"));
        assert!(within("10.6.48.157/8", "10.1.1.1"));
        assert!(within("0.0.0.0/0", "8.8.8.8"));
        assert!(within("1.2.3.4", "1.2.3.4"));
        assert!(!within("1.2.3.4", "1.2.3.5"));
        assert!(within("1.2.3.4/32", "1.2.3.4"));
    }

    #[test]
    fn ipv6_and_mapped() {
        assert!(within("2001:db8::/32", "2001:db8:1::1"));
        assert!(!within("2001:db8::/32", "2001:db9::1"));
        assert!(within("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(within("::/0", "10.0.0.1"));
        assert!(!within("::/1", "ffff::1"));
    }

    #[test]
    fn values_that_are_not_addresses() {
        assert!(!within("10.0.0.0/8", "10.0.0"));
        assert!(!within("10.0.0.0/8", "host-10.0.0.1"));
        assert!(!within("10.0.0.0/8", ""));
    }

    #[test]
    fn invalid_ranges() {
        for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "10.0.0/8", "nope", "10.0.0.0/8/9"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }
}
