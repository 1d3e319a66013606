//! A trunk's allowed source (TRUNK): an address with a port (`192.0.2.1:5070`, `[2001:db8::1]:5060`)
//! matches that transport address only; an address alone or a CIDR block (`10.0.0.0/8`) matches
//! any port. With the port, traffic from a carrier is told apart from phones on the same host.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRule {
    Exact(SocketAddr),
    Net { addr: IpAddr, bits: u32 },
}

impl SourceRule {
    pub fn parse(rule: &str) -> Option<SourceRule> {
        let rule = rule.trim();
        if let Some((a, b)) = rule.split_once('/') {
            let addr: IpAddr = a.parse().ok()?;
            let bits: u32 = b.parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            return (bits <= max).then_some(SourceRule::Net { addr, bits });
        }
        if let Ok(s) = rule.parse::<SocketAddr>() {
            return (s.port() != 0).then_some(SourceRule::Exact(s));
        }
        let addr: IpAddr = rule.parse().ok()?;
        Some(SourceRule::Net {
            addr,
            bits: if addr.is_ipv4() { 32 } else { 128 },
        })
    }

    /// Whether `source` is covered, port included.
    pub fn matches(&self, source: SocketAddr) -> bool {
        match self {
            SourceRule::Exact(s) => *s == source,
            SourceRule::Net { .. } => self.matches_host(source.ip()),
        }
    }

    /// Whether `ip` is this rule's host or in its block, whatever the port.
    pub fn matches_host(&self, ip: IpAddr) -> bool {
        match *self {
            SourceRule::Exact(s) => s.ip() == ip,
            SourceRule::Net { addr, bits } => match (addr, ip) {
                (IpAddr::V4(n), IpAddr::V4(i)) => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    (u32::from(n) & mask) == (u32::from(i) & mask)
                }
                (IpAddr::V6(n), IpAddr::V6(i)) => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    (u128::from(n) & mask) == (u128::from(i) & mask)
                }
                _ => false,
            },
        }
    }

    pub fn has_port(&self) -> bool {
        matches!(self, SourceRule::Exact(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_blocks_and_ports() {
        let r = |s: &str| SourceRule::parse(s).unwrap();
        assert!(r("127.0.0.1").matches(sa("127.0.0.1:5070")));
        assert!(!r("127.0.0.1").matches(sa("127.0.0.2:5070")));
        assert!(r("10.0.0.0/8").matches(sa("10.200.1.1:1")));
        assert!(!r("10.0.0.0/8").matches(sa("11.0.0.1:1")));
        assert!(r("0.0.0.0/0").matches(sa("192.0.2.1:9")));
        assert!(r("2001:db8::/32").matches(sa("[2001:db8::5]:5060")));
        assert!(r("127.0.0.1:5070").matches(sa("127.0.0.1:5070")));
        assert!(
            !r("127.0.0.1:5070").matches(sa("127.0.0.1:5091")),
            "another port"
        );
        assert!(r("127.0.0.1:5070").matches_host("127.0.0.1".parse().unwrap()));
        assert!(r("[::1]:5060").has_port());
        for bad in ["garbage", "10.0.0.0/33", "1.2.3.4:0", "", "1.2.3.4:99999"] {
            assert_eq!(SourceRule::parse(bad), None, "{bad}");
        }
    }
}
