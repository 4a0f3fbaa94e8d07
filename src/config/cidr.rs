//! Address blocks for `ha.allow`: `10.0.0.0/8`, `2001:db8::/32`, or a single address.

use std::fmt;
use std::net::IpAddr;

/// An address block; a bare address is a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`; host bits set below the prefix are refused, since they
    /// usually mean a typo in the prefix.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{text:?} is not an address or address/prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{text:?}: prefix above {max}"))?,
            Some(_) => return Err(format!("{text:?}: the prefix is not a number")),
        };
        let cidr = Cidr { addr, prefix };
        if bits(addr) & !mask(prefix, max) != 0 {
            return Err(format!(
                "{text:?} has host bits set (did you mean {}?)",
                Cidr {
                    addr: network(addr, prefix, max),
                    prefix
                }
            ));
        }
        Ok(cidr)
    }

    /// Whether `ip` lies in the block. An IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let m = mask(self.prefix, max);
        bits(ip) & m == bits(self.addr) & m
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so a dual-stack listener's peers compare as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(prefix: u8, max: u8) -> u128 {
    let all = if max == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    match u32::from(max - prefix) {
        128 => 0,
        shift => all & (all << shift),
    }
}

fn network(addr: IpAddr, prefix: u8, max: u8) -> IpAddr {
    let net = bits(addr) & mask(prefix, max);
    match addr {
        IpAddr::V4(_) => IpAddr::V4((net as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(net.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "mapped IPv4");
        assert!(!net.contains(ip("::1")));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("203.0.113.1"))
        );
        assert!(Cidr::parse("::/0").unwrap().contains(ip("fe80::1")));
        assert_eq!(net.to_string(), "10.1.0.0/16");
    }

    #[test]
    fn malformed_blocks_say_why() {
        assert!(
            Cidr::parse("10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("prefix"));
        assert!(Cidr::parse("10.0.0.0/").unwrap_err().contains("prefix"));
        assert!(Cidr::parse("10.0.0.0/+8").is_err());
        assert!(Cidr::parse("host.example").is_err());
        assert!(Cidr::parse("").is_err());
    }
}
