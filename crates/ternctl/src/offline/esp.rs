//! The verdicts on a pair of peers' ESP: one way only or stopping one way
//! while the other goes on, and CHILD SAs let expire instead of rekeyed.

use std::net::IpAddr;

use tern_engine::verdict::{Verdict, VerdictKind};
use tern_wire::ExchangeType;

use super::judge::Pair;
use super::story::{EspSa, Exchange};
use super::{at, secs};

/// ESP packets one way, none back, before one-way ESP is worth a word.
const ONE_WAY_PACKETS: u64 = 10;
/// How long (µs) ESP must go on one way after the other stopped to say so.
const STOPPED_FOR_US: u64 = 10_000_000;

pub(super) fn esp_from<'a>(pair: &Pair<'a>, source: IpAddr) -> Vec<&'a EspSa> {
    let mut v: Vec<&EspSa> = pair
        .esp
        .iter()
        .copied()
        .filter(|e| e.source == source)
        .collect();
    v.sort_by_key(|e| e.first_at);
    v
}

/// ESP one way only, or one way stopping while the other goes on.
pub(super) fn esp_one_way(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let (a, b) = pair.addresses;
    for (from, to) in [(a, b), (b, a)] {
        let there = esp_from(pair, from);
        let back = esp_from(pair, to);
        let packets: u64 = there.iter().map(|e| e.packets).sum();
        let (Some(first), Some(last)) = (there.first(), there.iter().max_by_key(|e| e.last_at))
        else {
            continue;
        };
        let back_last = back.iter().map(|e| e.last_at).max();
        let what = match back_last {
            None if packets >= ONE_WAY_PACKETS => format!(
                "{}: ESP went from {from} to {to} ({packets} packets on {} SPI(s), from {} to {}) and none came back from {to}: ESP from {to} does not arrive (filtered on the path), or {to} sends nothing into the tunnel.",
                pair.label(),
                there.len(),
                at(first.first_at),
                at(last.last_at)
            ),
            Some(stop) if last.last_at > stop + STOPPED_FOR_US && packets_after(&there, stop) >= ONE_WAY_PACKETS => format!(
                "{}: ESP from {to} to {from} stopped at {} while ESP from {from} went on to {} ({} packets after): ESP from {to} no longer arrives, while the tunnel stays up.",
                pair.label(),
                at(stop),
                at(last.last_at),
                packets_after(&there, stop)
            ),
            _ => continue,
        };
        let mut evidence: Vec<String> = there
            .iter()
            .chain(back.iter())
            .take(4)
            .map(|e| describe_esp(e))
            .collect();
        if back.is_empty() {
            evidence.push(format!("no ESP from {to} in the capture"));
        }
        out.push(pair.verdict(
            VerdictKind::EspNotArriving,
            what,
            evidence,
            None,
            format!("check the firewalls on the path and on both hosts for IP protocol 50 (ESP) and, with NAT traversal, UDP 4500 from {to} to {from}; and at {to} that traffic for the tunnel's selectors goes into it"),
        ));
    }
}

fn packets_after(esp: &[&EspSa], t: u64) -> u64 {
    // Per SA only first and last are known: count the SAs' packets wholly after.
    esp.iter()
        .map(|e| {
            if e.first_at > t {
                e.packets
            } else if e.last_at > t && e.last_at > e.first_at {
                let share = (e.last_at - t) as f64 / (e.last_at - e.first_at) as f64;
                (e.packets as f64 * share) as u64
            } else {
                0
            }
        })
        .sum()
}

pub fn describe_esp(e: &EspSa) -> String {
    format!(
        "ESP {} -> {} SPI {:08x}{}: {} packets from {} to {}, sequence {} to {}",
        e.source,
        e.destination,
        e.spi,
        if e.in_udp { " (in UDP 4500)" } else { "" },
        e.packets,
        at(e.first_at),
        at(e.last_at),
        e.first_sequence,
        e.last_sequence
    )
}

/// An ESP SA that ended with no CREATE_CHILD_SA while it carried traffic,
/// its successor coming after a gap: the SA was let expire, not rekeyed.
pub(super) fn not_rekeyed(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let exchanges: Vec<&Exchange> = pair.ike.iter().flat_map(|sa| sa.exchanges.iter()).collect();
    let creates: Vec<u64> = exchanges
        .iter()
        .filter(|x| x.exchange == ExchangeType::CREATE_CHILD_SA)
        .map(|x| x.first_sent())
        .collect();
    // A rekey creates the new SA before deleting the old (RFC 7296 §1.3.3): if the
    // first CREATE_CHILD_SA or INFORMATIONAL after an SA went quiet is a
    // CREATE_CHILD_SA, traffic merely paused over a rekey.
    let created_first = |quiet_from: u64, until: u64| {
        exchanges
            .iter()
            .filter(|x| {
                matches!(
                    x.exchange,
                    ExchangeType::CREATE_CHILD_SA | ExchangeType::INFORMATIONAL
                ) && x.first_sent() > quiet_from
                    && x.first_sent() <= until
            })
            .min_by_key(|x| x.first_sent())
            .is_some_and(|x| x.exchange == ExchangeType::CREATE_CHILD_SA)
    };
    let (a, b) = pair.addresses;
    let mut ends: Vec<(&EspSa, &EspSa)> = Vec::new();
    for from in [a, b] {
        let esp = esp_from(pair, from);
        for w in esp.windows(2) {
            let (old, new) = (w[0], w[1]);
            let rekeyed = creates
                .iter()
                .any(|&t| t >= old.first_at && t <= old.last_at)
                || created_first(old.last_at, new.first_at);
            if !rekeyed && new.first_at > old.last_at {
                // Both directions end together: count the pair once.
                if !ends
                    .iter()
                    .any(|(o, _)| o.last_at.abs_diff(old.last_at) < 2_000_000)
                {
                    ends.push((old, new));
                }
            }
        }
    }
    if ends.is_empty() {
        return;
    }
    // Who deleted: the sender of the INFORMATIONAL closest after each end.
    let deleter = |t: u64| {
        exchanges
            .iter()
            .filter(|x| {
                x.exchange == ExchangeType::INFORMATIONAL && x.first_sent() + 2_000_000 >= t
            })
            .min_by_key(|x| x.first_sent())
            .map(|x| x.from.ip())
    };
    let deleters: Vec<IpAddr> = ends
        .iter()
        .filter_map(|(old, _)| deleter(old.last_at))
        .collect();
    let by = deleters.first().copied();
    let lives: Vec<u64> = ends
        .iter()
        .map(|(old, _)| old.last_at - old.first_at)
        .collect();
    let life = lives.iter().sum::<u64>() / lives.len() as u64;
    let gaps: Vec<u64> = ends
        .iter()
        .map(|(old, new)| new.first_at - old.last_at)
        .collect();
    let who = by.map_or_else(
        || "one side".to_string(),
        |ip| format!("{ip} (it sent the INFORMATIONAL that deleted each)"),
    );
    out.push(pair.verdict(
        VerdictKind::PeerLetsSasExpire,
        format!(
            "{}: CHILD SAs are let expire instead of rekeyed: {} time(s) an ESP SA stopped after about {} with no CREATE_CHILD_SA while it carried traffic, and the next came {} later; {who} lets its SAs expire (rekeying off on its side, or its life_time equal to its rekey_time).",
            pair.label(),
            ends.len(),
            secs(life),
            secs(*gaps.iter().max().unwrap_or(&0))
        ),
        ends.iter()
            .take(3)
            .map(|(old, new)| format!(
                "SPI {:08x} from {} stopped at {} (sequence {}), SPI {:08x} started at {}",
                old.spi,
                old.source,
                at(old.last_at),
                old.last_sequence,
                new.spi,
                at(new.first_at)
            ))
            .collect(),
        Some("rekey_time"),
        match by {
            Some(ip) => {
                let other = if ip == a { b } else { a };
                format!(
                    "on {ip}, turn rekeying on (strongSwan: rekey_time below life_time); or on {other}, set rekey_time below {ip}'s life of about {}, e.g. rekey_time = \"{}s\"",
                    secs(life),
                    life * 8 / 10 / 1_000_000
                )
            }
            None => "turn rekeying on at both ends (rekey_time below life_time)".into(),
        },
    ));
}
