//! `[pools.NAME]`: virtual IPs for remote-access clients, and the DNS settings
//! they get with them. A connection names its pools (`pools = ["rw"]`).
//!
//! `addrs` takes CIDR blocks (`10.3.0.0/24`: like strongSwan, the block's
//! network and IPv4 broadcast addresses are not handed out), ranges
//! (`10.3.0.10-10.3.0.20`, both ends included) and single addresses.

use std::net::IpAddr;

use ipnet::IpNet;
use tern_engine::config::{AddressRange, PoolConfig};

use crate::error::{ConfigError, Errors, Source, ValueError};
use crate::reader::{Field, Located, TableReader};
use crate::schema::ip_list;
use crate::suggest::nearest;

pub(crate) const POOL_KEYS: &[&str] = &["addrs", "dns", "domains"];

/// Every pool of `[pools]`, each checked on its own.
pub(crate) fn pools(
    src: &Source<'_>,
    table: &TableReader<'_>,
    errors: &mut Errors,
) -> Vec<PoolConfig> {
    let mut all: Vec<PoolConfig> = Vec::new();
    for (name, field) in table.entries() {
        let named = errors.keep(crate::connection::check_name(src, &name, "pool"));
        let Some(table) = field.table_checked(POOL_KEYS, errors) else {
            continue;
        };
        if let (Some(pool), Some(())) = (pool(src, name.value, &table, &all, errors), named) {
            all.push(pool);
        }
    }
    all
}

fn pool(
    src: &Source<'_>,
    name: &str,
    table: &TableReader<'_>,
    earlier: &[PoolConfig],
    errors: &mut Errors,
) -> Option<PoolConfig> {
    let ranges = errors.keep(addrs(src, table, earlier));
    let dns = match table.field("dns") {
        Some(f) => errors.keep(ip_list(&f)),
        None => Some(Vec::new()),
    };
    let domains = match table.field("domains") {
        Some(f) => errors.keep(domains(src, &f)),
        None => Some(Vec::new()),
    };
    Some(PoolConfig {
        name: name.to_string(),
        ranges: ranges?,
        dns: dns?,
        domains: domains?,
    })
}

/// `addrs`: at least one block, none overlapping another (in this pool or an
/// earlier one: one address must not be handed out twice).
fn addrs(
    src: &Source<'_>,
    table: &TableReader<'_>,
    earlier: &[PoolConfig],
) -> Result<Vec<AddressRange>, ConfigError> {
    let field = table.required("addrs")?;
    let list = field.string_array()?;
    if list.is_empty() {
        return Err(
            field.error("`addrs` needs at least one address block, such as \"10.3.0.0/24\"")
        );
    }
    let mut ranges: Vec<AddressRange> = Vec::new();
    for text in &list {
        let range = text.parse_with(src, parse_range)?;
        let clash = ranges
            .iter()
            .map(|r| (r, None))
            .chain(
                earlier
                    .iter()
                    .flat_map(|p| p.ranges.iter().map(move |r| (r, Some(&p.name)))),
            )
            .find(|(r, _)| overlap(r, &range));
        if let Some((other, pool)) = clash {
            let whose = pool.map_or(String::new(), |p| format!(" of pool `{p}`"));
            return Err(text.error(
                src,
                format!(
                    "`{}` overlaps {}-{}{whose}: an address must belong to one pool block only",
                    text.value, other.first, other.last
                ),
            ));
        }
        ranges.push(range);
    }
    Ok(ranges)
}

fn overlap(a: &AddressRange, b: &AddressRange) -> bool {
    a.first.is_ipv4() == b.first.is_ipv4() && a.first <= b.last && b.first <= a.last
}

/// One entry of `addrs`: `net/len`, `first-last` or one address.
pub(crate) fn parse_range(s: &str) -> Result<AddressRange, ValueError> {
    let whole = 0..s.len();
    if let Some((first, last)) = s.split_once('-') {
        let at_last = first.len() + 1..s.len();
        let first: IpAddr = first.trim().parse().map_err(|_| {
            ValueError::new(
                0..at_last.start - 1,
                format!("`{first}` is not an IP address"),
            )
        })?;
        let last: IpAddr = last.trim().parse().map_err(|_| {
            ValueError::new(at_last.clone(), format!("`{last}` is not an IP address"))
        })?;
        if first.is_ipv4() != last.is_ipv4() {
            return Err(ValueError::new(
                whole,
                "a range's two ends must be of one address family",
            ));
        }
        if first > last {
            return Err(ValueError::new(
                whole,
                format!("the range ends ({last}) before it starts ({first})"),
            ));
        }
        return Ok(AddressRange { first, last });
    }
    if s.contains('/') {
        let net: IpNet = s.parse().map_err(|_| {
            ValueError::new(
                whole.clone(),
                format!("`{s}` is not an address block such as 10.3.0.0/24 or fd00::/112"),
            )
        })?;
        if net.trunc() != net {
            return Err(ValueError::new(
                whole,
                format!("`{s}` has host bits set; the block is `{}`", net.trunc()),
            ));
        }
        return Ok(hosts(net));
    }
    let one: IpAddr = s.parse().map_err(|_| {
        ValueError::new(
            whole,
            format!(
                "`{s}` is not an address, a block (10.3.0.0/24) or a range (10.3.0.10-10.3.0.20)"
            ),
        )
    })?;
    Ok(AddressRange {
        first: one,
        last: one,
    })
}

/// The addresses of a block that are handed out: all but the network address
/// (and the IPv4 broadcast address), as strongSwan does, where the block has more
/// than two.
fn hosts(net: IpNet) -> AddressRange {
    let (network, broadcast) = (net.network(), net.broadcast());
    let (first, last) = match net {
        IpNet::V4(v4) if v4.prefix_len() < 31 => (
            IpAddr::V4((u32::from(v4.network()) + 1).into()),
            IpAddr::V4((u32::from(v4.broadcast()) - 1).into()),
        ),
        IpNet::V6(v6) if v6.prefix_len() < 127 => {
            (IpAddr::V6((u128::from(v6.network()) + 1).into()), broadcast)
        }
        _ => (network, broadcast),
    };
    AddressRange { first, last }
}

/// `domains`: DNS names (letters, digits, `-`, `.`).
fn domains(src: &Source<'_>, field: &Field<'_>) -> Result<Vec<String>, ConfigError> {
    field
        .string_array()?
        .iter()
        .map(|d| {
            let ok = !d.value.is_empty()
                && d.value.len() <= 253
                && d.value.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if ok {
                Ok(d.value.to_string())
            } else {
                Err(d.error(
                    src,
                    format!("`{}` is not a DNS domain such as corp.example", d.value),
                ))
            }
        })
        .collect()
}

/// A connection's `pools`: each must name a `[pools.NAME]` table.
pub(crate) fn connection_pools(
    src: &Source<'_>,
    field: &Field<'_>,
    pools: &[PoolConfig],
) -> Result<Vec<PoolConfig>, ConfigError> {
    let names: Vec<Located<&str>> = field.string_array()?;
    let known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    names
        .iter()
        .map(|name| match pools.iter().find(|p| p.name == name.value) {
            Some(pool) => Ok(pool.clone()),
            None => {
                let hint = nearest(name.value, &known)
                    .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
                Err(name.error(
                    src,
                    format!(
                        "no pool `{}`: define it as [pools.{}]{hint}",
                        name.value, name.value
                    ),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> (String, String) {
        let r = parse_range(s).unwrap();
        (r.first.to_string(), r.last.to_string())
    }

    #[test]
    fn blocks_ranges_and_single_addresses() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(range("10.3.0.0/24"), pair("10.3.0.1", "10.3.0.254"));
        assert_eq!(range("10.3.0.0/31"), pair("10.3.0.0", "10.3.0.1"));
        assert_eq!(range("10.3.0.7/32"), pair("10.3.0.7", "10.3.0.7"));
        assert_eq!(range("fd00::/120"), pair("fd00::1", "fd00::ff"));
        assert_eq!(range("10.3.0.10-10.3.0.20"), pair("10.3.0.10", "10.3.0.20"));
        assert_eq!(range("10.3.0.9"), pair("10.3.0.9", "10.3.0.9"));
    }

    #[test]
    fn bad_entries_say_what_is_wrong_and_where() {
        let e = parse_range("10.3.0.20-10.3.0.10").unwrap_err();
        assert_eq!(
            e.message,
            "the range ends (10.3.0.10) before it starts (10.3.0.20)"
        );
        let e = parse_range("10.3.0.1-fd00::1").unwrap_err();
        assert_eq!(
            e.message,
            "a range's two ends must be of one address family"
        );
        let e = parse_range("10.3.0.1-10.3.0.x").unwrap_err();
        assert_eq!(
            (e.at, e.message.as_str()),
            (9..17, "`10.3.0.x` is not an IP address")
        );
        let e = parse_range("10.3.0.1/24").unwrap_err();
        assert_eq!(
            e.message,
            "`10.3.0.1/24` has host bits set; the block is `10.3.0.0/24`"
        );
        assert!(parse_range("pool").is_err());
    }

    const CONNECTION: &str = r#"
[connections.rw]
local_id = "gw.example"
auth = "psk"
psk = "a secret long enough"
pools = ["rw4", "rw6"]
[connections.rw.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.3.0.0/16"]
"#;

    #[test]
    fn a_connection_gets_its_pools_in_order() {
        let text = format!(
            r#"
[pools.rw6]
addrs = ["fd00:3::/120"]
dns = ["fd00::53"]
[pools.rw4]
addrs = ["10.3.0.0/24", "10.3.1.10-10.3.1.20"]
dns = ["10.1.0.53"]
domains = ["corp.example"]
{CONNECTION}"#
        );
        let config = crate::check_str(&text, "t.toml").unwrap();
        let pools = &config.engine.connections[0].pools;
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["rw4", "rw6"]);
        assert_eq!(pools[0].ranges.len(), 2);
        assert_eq!(pools[0].dns, ["10.1.0.53".parse::<IpAddr>().unwrap()]);
        assert_eq!(pools[0].domains, ["corp.example"]);
    }

    fn errors(text: &str) -> Vec<String> {
        let errors = crate::check_str(text, "t.toml").unwrap_err();
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn an_unknown_pool_is_an_error_at_its_name_with_a_suggestion() {
        let text = format!("[pools.rw]\naddrs = [\"10.3.0.0/24\"]\n{CONNECTION}");
        assert_eq!(
            errors(&text),
            ["t.toml:8:10: no pool `rw4`: define it as [pools.rw4]; did you mean `rw`?"]
        );
    }

    #[test]
    fn pool_errors_name_their_place() {
        let text = r#"
[pools.a]
addrs = ["10.3.0.0/24"]
[pools.b]
addrs = ["10.3.0.128-10.3.1.5"]
[pools.c]
addrs = []
[pools.d]
addrs = ["10.3.9.1"]
dns = ["resolver"]
domains = ["bad domain"]
"#;
        assert_eq!(
            errors(text),
            [
                "t.toml:5:10: `10.3.0.128-10.3.1.5` overlaps 10.3.0.1-10.3.0.254 of pool `a`: an address must belong to one pool block only",
                "t.toml:7:9: `addrs` needs at least one address block, such as \"10.3.0.0/24\"",
                "t.toml:10:8: `resolver` is not an IPv4 or IPv6 address (host names are not supported)",
                "t.toml:11:12: `bad domain` is not a DNS domain such as corp.example",
            ]
        );
    }
}
