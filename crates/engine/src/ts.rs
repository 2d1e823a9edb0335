//! Traffic selectors: ranges, narrowing (RFC 7296 §2.9), and the prefixes XFRM
//! selectors need.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tern_wire::{TrafficSelector, TsPayload, TsType};

use crate::config::TsConfig;
use crate::output::Selector;

/// A traffic selector: an address range, an IP protocol (0 = any) and a port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ts {
    pub protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start: IpAddr,
    pub end: IpAddr,
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(v: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

fn addr_bits(a: IpAddr) -> u32 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

impl Ts {
    pub fn from_config(c: &TsConfig) -> Ts {
        let bits = addr_bits(c.addr);
        let prefix = u32::from(c.prefix_len).min(bits);
        let host_bits = bits - prefix;
        let host_mask: u128 = match host_bits {
            0 => 0,
            128 => u128::MAX,
            n => (1u128 << n) - 1,
        };
        let base = to_u128(c.addr) & !host_mask;
        Ts {
            protocol: c.protocol,
            start_port: c.port_start,
            end_port: c.port_end,
            start: from_u128(base, c.addr),
            end: from_u128(base | host_mask, c.addr),
        }
    }

    pub fn from_wire(t: &TrafficSelector) -> Option<Ts> {
        let ok = matches!(
            (t.ts_type, t.start_addr, t.end_addr),
            (TsType::IPV4_ADDR_RANGE, IpAddr::V4(_), IpAddr::V4(_))
                | (TsType::IPV6_ADDR_RANGE, IpAddr::V6(_), IpAddr::V6(_))
        );
        ok.then_some(Ts {
            protocol: t.ip_protocol,
            start_port: t.start_port,
            end_port: t.end_port,
            start: t.start_addr,
            end: t.end_addr,
        })
    }

    pub fn to_wire(self) -> TrafficSelector {
        TrafficSelector {
            ts_type: if self.start.is_ipv4() {
                TsType::IPV4_ADDR_RANGE
            } else {
                TsType::IPV6_ADDR_RANGE
            },
            ip_protocol: self.protocol,
            start_port: self.start_port,
            end_port: self.end_port,
            start_addr: self.start,
            end_addr: self.end,
        }
    }

    fn is_empty(&self) -> bool {
        self.start_port > self.end_port || to_u128(self.start) > to_u128(self.end)
    }

    /// The selector both `self` and `other` cover, if any.
    pub fn intersect(&self, other: &Ts) -> Option<Ts> {
        if self.start.is_ipv4() != other.start.is_ipv4() {
            return None;
        }
        let protocol = match (self.protocol, other.protocol) {
            (0, p) | (p, 0) => p,
            (a, b) if a == b => a,
            _ => return None,
        };
        let start = to_u128(self.start).max(to_u128(other.start));
        let end = to_u128(self.end).min(to_u128(other.end));
        let ts = Ts {
            protocol,
            start_port: self.start_port.max(other.start_port),
            end_port: self.end_port.min(other.end_port),
            start: from_u128(start, self.start),
            end: from_u128(end, self.start),
        };
        (!ts.is_empty()).then_some(ts)
    }

    /// Whether `self` lies entirely within `other`.
    pub fn is_within(&self, other: &Ts) -> bool {
        self.intersect(other).as_ref() == Some(self)
    }

    /// The XFRM selectors that together cover exactly this range, computed as
    /// they are taken: a CHILD rekey walks them twice per side (the policy
    /// fingerprints), and collecting them cost a dozen allocations a rekey.
    pub fn selectors(&self) -> impl Iterator<Item = Selector> + Clone {
        let (like, protocol) = (self.start, self.protocol);
        // The full port range is one prefix of length 0, that is mask 0: any port.
        let ports = range_to_prefixes(self.start_port.into(), self.end_port.into(), 16)
            .map(|(base, len)| (base as u16, (!0u16).checked_shl(16 - len).unwrap_or(0)));
        range_to_prefixes(
            to_u128(self.start),
            to_u128(self.end),
            addr_bits(self.start),
        )
        .flat_map(move |(base, prefix_len)| {
            ports.clone().map(move |(port, port_mask)| Selector {
                addr: from_u128(base, like),
                prefix_len: prefix_len as u8,
                protocol,
                port,
                port_mask,
            })
        })
    }
}

/// Splits an inclusive range of `bits`-wide values into the fewest aligned
/// prefixes `(base, prefix length)`, in order.
fn range_to_prefixes(start: u128, end: u128, bits: u32) -> Prefixes {
    Prefixes {
        next: Some(start),
        end,
        bits,
    }
}

/// The iterator of [`range_to_prefixes`].
#[derive(Clone)]
struct Prefixes {
    next: Option<u128>,
    end: u128,
    bits: u32,
}

impl Iterator for Prefixes {
    type Item = (u128, u32);

    fn next(&mut self) -> Option<(u128, u32)> {
        let start = self.next?;
        // The largest aligned block starting at `start` that does not pass `end`.
        let mut size_log = if start == 0 {
            self.bits
        } else {
            start.trailing_zeros().min(self.bits)
        };
        while size_log > 0 && block_last(start, size_log).is_none_or(|last| last > self.end) {
            size_log -= 1;
        }
        self.next = match block_last(start, size_log) {
            Some(last) if last < self.end => Some(last + 1),
            _ => None,
        };
        Some((start, self.bits - size_log))
    }
}

/// The last value of the block of 2^size_log values starting at `start`.
fn block_last(start: u128, size_log: u32) -> Option<u128> {
    if size_log >= 128 {
        return (start == 0).then_some(u128::MAX);
    }
    start.checked_add((1u128 << size_log) - 1)
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefixes: Vec<_> = range_to_prefixes(
            to_u128(self.start),
            to_u128(self.end),
            addr_bits(self.start),
        )
        .collect();
        match prefixes.as_slice() {
            [(base, len)] => write!(f, "{}/{}", from_u128(*base, self.start), len)?,
            _ => write!(f, "{}..{}", self.start, self.end)?,
        }
        let all_ports = self.start_port == 0 && self.end_port == u16::MAX;
        match (self.protocol, all_ports) {
            (0, true) => Ok(()),
            (p, true) => write!(f, "[{p}]"),
            (p, false) if self.start_port == self.end_port => {
                write!(f, "[{p}/{}]", self.start_port)
            }
            (p, false) => write!(f, "[{p}/{}-{}]", self.start_port, self.end_port),
        }
    }
}

/// A TS payload carrying these selectors.
pub fn to_payload(ts: &[Ts]) -> TsPayload {
    TsPayload {
        selectors: ts.iter().map(|t| t.to_wire()).collect(),
    }
}

/// Selectors from a TS payload; `None` if one is of a type we do not know.
pub fn from_payload(p: &TsPayload) -> Option<Vec<Ts>> {
    p.selectors.iter().map(Ts::from_wire).collect()
}

/// `10.1.0.0/24, 10.3.0.0/24`
pub fn describe(ts: &[Ts]) -> String {
    ts.iter().map(Ts::to_string).collect::<Vec<_>>().join(", ")
}

/// Narrowing (RFC 7296 §2.9): what of the peer's proposal our configuration allows.
pub fn narrow(proposed: &[Ts], allowed: &[Ts]) -> Vec<Ts> {
    let mut out = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(ts) = p.intersect(a) {
                if !out.contains(&ts) {
                    out.push(ts);
                }
            }
        }
    }
    out
}

/// Whether every selector the responder chose lies within what we proposed.
pub fn all_within(chosen: &[Ts], proposed: &[Ts]) -> bool {
    !chosen.is_empty()
        && chosen
            .iter()
            .all(|c| proposed.iter().any(|p| c.is_within(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ts {
        let (a, l) = s.split_once('/').unwrap();
        Ts::from_config(&TsConfig {
            addr: a.parse().unwrap(),
            prefix_len: l.parse().unwrap(),
            protocol: 0,
            port_start: 0,
            port_end: u16::MAX,
        })
    }

    #[test]
    fn prefix_becomes_a_range_and_back() {
        let ts = cidr("10.1.0.77/24");
        assert_eq!(ts.start, "10.1.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(ts.end, "10.1.0.255".parse::<IpAddr>().unwrap());
        assert_eq!(ts.to_string(), "10.1.0.0/24");
        let sel: Vec<_> = ts.selectors().collect();
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].prefix_len, 24);
        assert_eq!(sel[0].port_mask, 0);
    }

    #[test]
    fn narrowing_takes_the_intersection() {
        let peer = [cidr("10.0.0.0/8")];
        let ours = [cidr("10.1.0.0/24"), cidr("192.168.0.0/16")];
        assert_eq!(narrow(&peer, &ours), vec![cidr("10.1.0.0/24")]);
        assert!(narrow(&[cidr("172.16.0.0/12")], &ours).is_empty());
    }

    #[test]
    fn families_never_intersect() {
        assert!(narrow(&[cidr("::/0")], &[cidr("0.0.0.0/0")]).is_empty());
    }

    #[test]
    fn whole_spaces_are_one_prefix() {
        assert_eq!(cidr("0.0.0.0/0").selectors().next().unwrap().prefix_len, 0);
        assert_eq!(cidr("::/0").selectors().next().unwrap().prefix_len, 0);
        assert_eq!(cidr("::/0").to_string(), "::/0");
    }

    #[test]
    fn odd_ranges_split_into_prefixes() {
        let ts = Ts {
            protocol: 6,
            start_port: 80,
            end_port: 80,
            start: "10.0.0.1".parse().unwrap(),
            end: "10.0.0.6".parse().unwrap(),
        };
        let sel: Vec<_> = ts.selectors().collect();
        let lens: Vec<u8> = sel.iter().map(|s| s.prefix_len).collect();
        // .1/32, .2/31, .4/31, .6/32
        assert_eq!(lens, vec![32, 31, 31, 32]);
        assert!(sel.iter().all(|s| s.port == 80 && s.port_mask == 0xffff));
    }

    #[test]
    fn responder_choice_must_lie_within_the_proposal() {
        let proposed = [cidr("10.1.0.0/16")];
        assert!(all_within(&[cidr("10.1.2.0/24")], &proposed));
        assert!(!all_within(&[cidr("10.2.0.0/24")], &proposed));
        assert!(!all_within(&[], &proposed));
    }
}
