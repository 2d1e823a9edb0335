//! Traffic selectors as written in the configuration: `10.1.0.0/24`, a bare address
//! (one host), optionally narrowed as `10.1.0.0/24[tcp/80]`, `[udp/500-600]`, `[6]`.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;
use tern_engine::config::TsConfig;

use crate::error::ValueError;

/// Protocol names understood in `[...]`; any number 0-255 works too.
const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmpv6", 58),
    ("ipv6-icmp", 58),
    ("sctp", 132),
];

/// Parses one traffic selector (see the module documentation for the syntax).
pub fn parse_ts(s: &str) -> Result<TsConfig, String> {
    ts(s).map_err(|e| e.message)
}

pub(crate) fn ts(s: &str) -> Result<TsConfig, ValueError> {
    let (net, narrowing) = match s.find('[') {
        Some(open) => {
            let Some(inner) = s[open + 1..].strip_suffix(']') else {
                return Err(ValueError::new(
                    open..s.len(),
                    "`[` without a closing `]` at the end",
                ));
            };
            (&s[..open], Some((open + 1, inner)))
        }
        None => (s, None),
    };
    let (addr, prefix_len) = prefix(net)?;
    let (protocol, port_start, port_end) = match narrowing {
        Some((offset, inner)) => protocol_and_ports(inner, offset)?,
        None => (0, 0, u16::MAX),
    };
    Ok(TsConfig {
        addr,
        prefix_len,
        protocol,
        port_start,
        port_end,
    })
}

/// `ADDR/LEN` or a bare `ADDR`, with no host bits set.
fn prefix(net: &str) -> Result<(IpAddr, u8), ValueError> {
    let whole = 0..net.len();
    let (addr_text, len_text) = match net.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (net, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| {
        ValueError::new(
            0..addr_text.len(),
            format!("`{addr_text}` is not an IPv4 or IPv6 address"),
        )
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len_text {
        None => max,
        Some(l) => {
            let at = addr_text.len() + 1..net.len();
            match l.parse::<u8>() {
                Ok(n) if n <= max && !l.starts_with('+') => n,
                _ => {
                    return Err(ValueError::new(
                        at,
                        format!("prefix length `{l}` is not a number from 0 to {max}"),
                    ))
                }
            }
        }
    };
    // The bit arithmetic is ipnet's; the text and its error positions are ours.
    let network = IpNet::new(addr, prefix_len)
        .expect("prefix length checked against the address family")
        .network();
    if network != addr {
        return Err(ValueError::new(
            whole,
            format!("`{net}` has host bits set; did you mean `{network}/{prefix_len}`?"),
        ));
    }
    Ok((addr, prefix_len))
}

/// `PROTO`, `PROTO/PORT` or `PROTO/LOW-HIGH` (`PORT` may be `%any`).
fn protocol_and_ports(inner: &str, offset: usize) -> Result<(u8, u16, u16), ValueError> {
    let at = |r: Range<usize>| r.start + offset..r.end + offset;
    let (proto_text, ports_text) = match inner.split_once('/') {
        Some((p, ports)) => (p, Some(ports)),
        None => (inner, None),
    };
    let protocol = PROTOCOLS
        .iter()
        .find(|(name, _)| proto_text.eq_ignore_ascii_case(name))
        .map(|&(_, n)| n)
        .or_else(|| proto_text.parse::<u8>().ok())
        .ok_or_else(|| {
            ValueError::new(
                at(0..proto_text.len()),
                format!("unknown protocol `{proto_text}`; use tcp, udp, icmp, icmpv6, sctp or a number 0-255"),
            )
        })?;
    let Some(ports) = ports_text else {
        return Ok((protocol, 0, u16::MAX));
    };
    let ports_at = at(proto_text.len() + 1..inner.len());
    if protocol == 0 {
        return Err(ValueError::new(
            ports_at,
            "ports need a protocol, e.g. `[tcp/80]`",
        ));
    }
    if ports == "%any" {
        return Ok((protocol, 0, u16::MAX));
    }
    let port = |p: &str| {
        p.parse::<u16>().map_err(|_| {
            ValueError::new(
                ports_at.clone(),
                format!("`{p}` is not a port number (0-65535)"),
            )
        })
    };
    let (low, high) = match ports.split_once('-') {
        Some((low, high)) => (port(low)?, port(high)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if low > high {
        return Err(ValueError::new(
            ports_at,
            format!("port range `{ports}` runs backwards"),
        ));
    }
    Ok((protocol, low, high))
}

/// A traffic selector in the syntax [`parse_ts`] reads.
pub fn format_ts(ts: &TsConfig) -> String {
    let mut out = format!("{}/{}", ts.addr, ts.prefix_len);
    let all_ports = ts.port_start == 0 && ts.port_end == u16::MAX;
    if ts.protocol == 0 && all_ports {
        return out;
    }
    let proto = PROTOCOLS
        .iter()
        .find(|&&(_, n)| n == ts.protocol)
        .map_or_else(|| ts.protocol.to_string(), |(name, _)| name.to_string());
    out.push('[');
    out.push_str(&proto);
    if !all_ports {
        out.push('/');
        out.push_str(&ts.port_start.to_string());
        if ts.port_end != ts.port_start {
            out.push('-');
            out.push_str(&ts.port_end.to_string());
        }
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(addr: &str, prefix_len: u8, protocol: u8, ports: (u16, u16)) -> TsConfig {
        TsConfig {
            addr: addr.parse().unwrap(),
            prefix_len,
            protocol,
            port_start: ports.0,
            port_end: ports.1,
        }
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            parse_ts("10.1.0.0/24"),
            Ok(sel("10.1.0.0", 24, 0, (0, 65535)))
        );
        assert_eq!(parse_ts("10.1.0.7"), Ok(sel("10.1.0.7", 32, 0, (0, 65535))));
        assert_eq!(
            parse_ts("2001:db8::/32"),
            Ok(sel("2001:db8::", 32, 0, (0, 65535)))
        );
        assert_eq!(parse_ts("0.0.0.0/0"), Ok(sel("0.0.0.0", 0, 0, (0, 65535))));
        assert_eq!(
            parse_ts("10.1.0.0/24[tcp/80]"),
            Ok(sel("10.1.0.0", 24, 6, (80, 80)))
        );
        assert_eq!(
            parse_ts("10.1.0.0/24[udp/500-600]"),
            Ok(sel("10.1.0.0", 24, 17, (500, 600)))
        );
        assert_eq!(
            parse_ts("10.1.0.0/24[6]"),
            Ok(sel("10.1.0.0", 24, 6, (0, 65535)))
        );
        assert_eq!(
            parse_ts("10.1.0.0/24[tcp/%any]"),
            Ok(sel("10.1.0.0", 24, 6, (0, 65535)))
        );
    }

    #[test]
    fn rejected_forms_point_at_the_fault() {
        let e = ts("10.1.0.0/33").unwrap_err();
        assert_eq!(e.at, 9..11);
        assert!(e.message.contains("prefix length `33`"), "{}", e.message);
        let e = ts("10.1.0.5/24").unwrap_err();
        assert!(
            e.message.contains("did you mean `10.1.0.0/24`"),
            "{}",
            e.message
        );
        let e = ts("10.1.0/24").unwrap_err();
        assert_eq!(e.at, 0..6);
        assert!(ts("10.1.0.0/24[tcp/80")
            .unwrap_err()
            .message
            .contains("closing"));
        let e = ts("10.1.0.0/24[tpc/80]").unwrap_err();
        assert_eq!(e.at, 12..15);
        assert!(ts("10.1.0.0/24[tcp/90-80]")
            .unwrap_err()
            .message
            .contains("backwards"));
        assert!(ts("10.1.0.0/24[tcp/70000]")
            .unwrap_err()
            .message
            .contains("not a port"));
        assert!(ts("10.1.0.0/24[0/80]")
            .unwrap_err()
            .message
            .contains("need a protocol"));
        assert!(ts("10.1.0.0/").is_err());
        assert!(ts("fe80::1/129").is_err());
    }

    #[test]
    fn host_bits_at_every_prefix_edge() {
        // /0 and full-length prefixes, both families: the edges of the masking.
        for ok in ["0.0.0.0/0", "::/0", "10.1.2.3/32", "2001:db8::1/128"] {
            assert!(ts(ok).is_ok(), "{ok}");
        }
        for (bad, meant) in [
            ("10.0.0.1/0", "0.0.0.0/0"),
            ("10.1.2.3/31", "10.1.2.2/31"),
            ("2001:db8::1/64", "2001:db8::/64"),
            ("::1/0", "::/0"),
        ] {
            let e = ts(bad).unwrap_err();
            assert!(
                e.message.contains(&format!("did you mean `{meant}`?")),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn format_reads_back() {
        for text in [
            "10.1.0.0/24",
            "10.1.0.0/24[tcp/80]",
            "10.1.0.0/24[udp/500-600]",
            "10.1.0.0/24[tcp]",
            "2001:db8::/32[47]",
        ] {
            let parsed = parse_ts(text).unwrap();
            assert_eq!(format_ts(&parsed), text);
        }
        assert_eq!(format_ts(&parse_ts("10.1.0.7").unwrap()), "10.1.0.7/32");
    }
}
