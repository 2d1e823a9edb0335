//! `list-sas`: each IKE SA and its CHILD SAs as swanctl shows them.

use std::fmt::Write;
use std::net::SocketAddr;

use tern_control::{
    ChildSaInfo, IkeRole, IkeSaInfo, MobikeInfo, NatInfo, RekeyFailedInfo, UnansweredInfo,
};

use super::{duration, Times};

/// `list-sas`: each IKE SA with its CHILD SAs indented below it.
pub fn ike_sas(sas: &[IkeSaInfo], times: Times) -> String {
    if sas.is_empty() {
        return "no IKE SAs\n".to_string();
    }
    let mut out = String::new();
    for sa in sas {
        ike_sa(&mut out, sa, times);
    }
    out
}

fn ike_sa(out: &mut String, sa: &IkeSaInfo, times: Times) {
    // `*` marks the SPI that is ours.
    let (mark_i, mark_r) = match sa.role {
        IkeRole::Initiator => ("*", ""),
        IkeRole::Responder => ("", "*"),
    };
    let _ = writeln!(
        out,
        "{}: #{}, {}, IKEv2, {}_i{mark_i} {}_r{mark_r}",
        sa.connection, sa.unique_id, sa.state, sa.initiator_spi, sa.responder_spi
    );
    let _ = writeln!(
        out,
        "  local  '{}' @ {}",
        sa.local_id,
        endpoint(&sa.local_addr)
    );
    let _ = writeln!(
        out,
        "  remote '{}' @ {}",
        sa.remote_id,
        endpoint(&sa.remote_addr)
    );
    if !sa.proposal.is_empty() {
        let _ = writeln!(out, "  {}", sa.proposal);
    }
    if let Some(timing) = timing(
        sa.established_secs,
        "established",
        sa.rekey_in_secs,
        sa.expires_in_secs,
        times,
    ) {
        let _ = writeln!(out, "  {timing}");
    }
    if let Some(rhythm) = peer_rhythm(sa.peer_rekeyed_at_secs, times) {
        let _ = writeln!(out, "  {rhythm}");
    }
    if let Some(failed) = rekey_failed(sa.rekey_failed.as_ref(), times) {
        let _ = writeln!(out, "  {failed}");
    }
    if let Some(unanswered) = rekey_unanswered(sa.rekey_unanswered, times) {
        let _ = writeln!(out, "  {unanswered}");
    }
    if let Some(nat) = sa.nat {
        let _ = writeln!(out, "  {}", nat_line(nat, times));
    }
    if let Some(mobike) = &sa.mobike {
        let _ = writeln!(out, "  {}", mobike_line(mobike));
    }
    for child in &sa.children {
        child_sa(out, child, times);
    }
}

fn child_sa(out: &mut String, child: &ChildSaInfo, times: Times) {
    let reqid = child
        .reqid
        .map(|r| format!("reqid {r}, "))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {}: #{}, {reqid}{}, {}, {} SPIs: {}_i {}_o",
        child.name,
        child.unique_id,
        child.state,
        child.mode,
        child.protocol,
        child.spi_in,
        child.spi_out
    );
    if !child.proposal.is_empty() {
        let _ = writeln!(out, "    {}", child.proposal);
    }
    if let Some(timing) = timing(
        child.installed_secs,
        "installed",
        child.rekey_in_secs,
        child.expires_in_secs,
        times,
    ) {
        let _ = writeln!(out, "    {timing}");
    }
    if let Some(rhythm) = peer_rhythm(child.peer_rekeyed_at_secs, times) {
        let _ = writeln!(out, "    {rhythm}");
    }
    if let Some(failed) = rekey_failed(child.rekey_failed.as_ref(), times) {
        let _ = writeln!(out, "    {failed}");
    }
    if let Some(unanswered) = rekey_unanswered(child.rekey_unanswered, times) {
        let _ = writeln!(out, "    {unanswered}");
    }
    let _ = writeln!(
        out,
        "    in  {}{}",
        child.spi_in,
        counters(child.bytes_in, child.packets_in)
    );
    let _ = writeln!(
        out,
        "    out {}{}",
        child.spi_out,
        counters(child.bytes_out, child.packets_out)
    );
    if let Some(last_use) = last_use(child, times) {
        let _ = writeln!(out, "    {last_use}");
    }
    let _ = writeln!(out, "    local  {}", child.local_ts.join(" "));
    let _ = writeln!(out, "    remote {}", child.remote_ts.join(" "));
}

/// `last use 3s ago`, or `never used` when the kernel answered for the SA (its
/// counters are there) but no packet has gone through its policies; nothing when
/// the daemon could not tell.
fn last_use(child: &ChildSaInfo, times: Times) -> Option<String> {
    match child.last_use_secs {
        Some(secs) => Some(format!("last use {} ago", duration(secs, times))),
        None if child.bytes_in.is_some() || child.bytes_out.is_some() => Some("never used".into()),
        None => None,
    }
}

/// `the peer rekeys at 45m`: how old the SA was when the peer last rekeyed one
/// of its line (IKEv2 does not negotiate lifetimes; compare with ours above).
fn peer_rhythm(secs: Option<u64>, times: Times) -> Option<String> {
    secs.map(|s| format!("the peer rekeys at {}", duration(s, times)))
}

/// `rekey failed 3 times, last 40s ago: CAUSE`: our rekeys of the SA that
/// failed while it goes on (it ends at its expiry unless a retry succeeds).
fn rekey_failed(f: Option<&RekeyFailedInfo>, times: Times) -> Option<String> {
    f.map(|f| {
        format!(
            "rekey failed {}, last {} ago: {}",
            match f.count {
                1 => "once".to_string(),
                n => format!("{n} times"),
            },
            duration(f.last_ago_secs, times),
            f.cause
        )
    })
}

/// `rekey unanswered, sent 3 times since 12s ago`: our rekey in flight, sent
/// again without an answer (the SA ends at its expiry unless one comes).
/// `MOBIKE, peer also at 198.51.100.7`: the peer may move the SA.
fn mobike_line(m: &MobikeInfo) -> String {
    if m.peer_addresses.is_empty() {
        "MOBIKE".to_string()
    } else {
        format!("MOBIKE, peer also at {}", m.peer_addresses.join(", "))
    }
}

fn rekey_unanswered(u: Option<UnansweredInfo>, times: Times) -> Option<String> {
    u.map(|u| {
        format!(
            "rekey unanswered, sent {} times since {} ago",
            u.sends,
            duration(u.first_sent_ago_secs, times)
        )
    })
}

/// `NAT: peer behind, its mapping changed 2 times (last 5s ago)` or
/// `NAT: this host behind, keepalives every 20s`.
fn nat_line(n: NatInfo, times: Times) -> String {
    let behind = match (n.local_behind, n.peer_behind) {
        (true, true) => "both ends behind",
        (true, false) => "this host behind",
        _ => "peer behind",
    };
    let mut line = format!("NAT: {behind}");
    if n.local_behind {
        match n.keepalive_secs {
            Some(every) => line.push_str(&format!(", keepalives every {}", duration(every, times))),
            None => line.push_str(", no keepalives (nat_keepalive = 0)"),
        }
    }
    if n.mapping_changes > 0 {
        line.push_str(&format!(
            ", the peer's mapping changed {} time{}",
            n.mapping_changes,
            if n.mapping_changes == 1 { "" } else { "s" }
        ));
        if let Some(last) = n.last_change_ago_secs {
            line.push_str(&format!(" (last {} ago)", duration(last, times)));
        }
    }
    line
}

/// `installed 12s ago, rekeying in 55m, expires in 65m`, as swanctl says it.
fn timing(
    age: Option<u64>,
    verb: &str,
    rekey_in: Option<u64>,
    expires_in: Option<u64>,
    times: Times,
) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(age) = age {
        parts.push(format!("{verb} {} ago", duration(age, times)));
    }
    if let Some(r) = rekey_in {
        parts.push(format!("rekeying in {}", duration(r, times)));
    }
    if let Some(e) = expires_in {
        parts.push(format!("expires in {}", duration(e, times)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `, 840 bytes, 10 packets`, or nothing when the kernel gave no counters.
fn counters(bytes: Option<u64>, packets: Option<u64>) -> String {
    match (bytes, packets) {
        (Some(b), Some(p)) => format!(", {b} bytes, {p} packets"),
        (Some(b), None) => format!(", {b} bytes"),
        (None, Some(p)) => format!(", {p} packets"),
        (None, None) => String::new(),
    }
}

/// `192.0.2.1:500` as `192.0.2.1[500]`, swanctl style; anything else unchanged.
fn endpoint(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(sa) => format!("{}[{}]", sa.ip(), sa.port()),
        Err(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tern_control::{ChildSaMode, ChildSaState, IkeSaState};

    fn demo_sa() -> IkeSaInfo {
        IkeSaInfo {
            connection: "demo".into(),
            unique_id: 1,
            state: IkeSaState::Established,
            role: IkeRole::Initiator,
            local_addr: "192.0.2.1:500".into(),
            remote_addr: "192.0.2.2:500".into(),
            local_id: "moon.tern.example".into(),
            remote_id: "sun.tern.example".into(),
            initiator_spi: "0123456789abcdef".into(),
            responder_spi: "fedcba9876543210".into(),
            proposal: "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519".into(),
            established_secs: Some(12),
            rekey_in_secs: Some(13900),
            expires_in_secs: Some(15828),
            peer_rekeyed_at_secs: None,
            rekey_failed: None,
            rekey_unanswered: None,
            nat: None,
            mobike: None,
            children: vec![ChildSaInfo {
                name: "net".into(),
                unique_id: 1,
                reqid: Some(1),
                state: ChildSaState::Installed,
                mode: ChildSaMode::Tunnel,
                protocol: "ESP".into(),
                spi_in: "c1a2b3c4".into(),
                spi_out: "c5d6e7f8".into(),
                proposal: "AES_GCM_16_128".into(),
                local_ts: vec!["10.1.0.0/24".into()],
                remote_ts: vec!["10.2.0.0/24".into()],
                bytes_in: Some(840),
                packets_in: Some(10),
                bytes_out: Some(840),
                packets_out: Some(10),
                installed_secs: Some(12),
                rekey_in_secs: Some(3300),
                expires_in_secs: Some(3948),
                last_use_secs: Some(3),
                peer_rekeyed_at_secs: None,
                adapted_rekey_before_secs: None,
                rekey_failed: None,
                rekey_unanswered: None,
            }],
        }
    }

    #[test]
    fn established_sa_reads_like_swanctl() {
        let expected = "\
demo: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
  local  'moon.tern.example' @ 192.0.2.1[500]
  remote 'sun.tern.example' @ 192.0.2.2[500]
  AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519
  established 12s ago, rekeying in 3h, expires in 4h
  net: #1, reqid 1, INSTALLED, TUNNEL, ESP SPIs: c1a2b3c4_i c5d6e7f8_o
    AES_GCM_16_128
    installed 12s ago, rekeying in 55m, expires in 65m
    in  c1a2b3c4, 840 bytes, 10 packets
    out c5d6e7f8, 840 bytes, 10 packets
    last use 3s ago
    local  10.1.0.0/24
    remote 10.2.0.0/24
";
        assert_eq!(ike_sas(&[demo_sa()], Times::Rounded), expected);
    }

    #[test]
    fn nat_traversal_and_the_peers_mapping_changes_are_shown() {
        let mut sa = demo_sa();
        sa.nat = Some(NatInfo {
            local_behind: false,
            peer_behind: true,
            keepalive_secs: None,
            mapping_changes: 2,
            first_change_ago_secs: Some(600),
            last_change_ago_secs: Some(5),
        });
        let text = ike_sas(&[sa.clone()], Times::Rounded);
        assert!(
            text.contains(
                "expires in 4h\n  NAT: peer behind, the peer's mapping changed 2 times (last 5s ago)\n  net:"
            ),
            "{text}"
        );
        sa.nat = Some(NatInfo {
            local_behind: true,
            peer_behind: false,
            keepalive_secs: Some(20),
            mapping_changes: 0,
            first_change_ago_secs: None,
            last_change_ago_secs: None,
        });
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.contains("\n  NAT: this host behind, keepalives every 20s\n"),
            "{text}"
        );
    }

    #[test]
    fn the_peers_rhythm_is_shown_beside_ours() {
        let mut sa = demo_sa();
        sa.children[0].peer_rekeyed_at_secs = Some(2700);
        sa.peer_rekeyed_at_secs = Some(3 * 3600);
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.contains("expires in 4h\n  the peer rekeys at 3h\n  net:"),
            "{text}"
        );
        assert!(
            text.contains("expires in 65m\n    the peer rekeys at 45m\n    in "),
            "{text}"
        );
    }

    #[test]
    fn mobike_and_the_peers_other_addresses_are_shown() {
        let mut sa = demo_sa();
        let plain = ike_sas(&[sa.clone()], Times::Rounded);
        assert!(!plain.contains("MOBIKE"), "{plain}");
        sa.mobike = Some(MobikeInfo {
            peer_addresses: Vec::new(),
        });
        let text = ike_sas(&[sa.clone()], Times::Rounded);
        assert!(text.contains("expires in 4h\n  MOBIKE\n  net:"), "{text}");
        sa.mobike = Some(MobikeInfo {
            peer_addresses: vec!["198.51.100.7".into(), "2001:db8::7".into()],
        });
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.contains("  MOBIKE, peer also at 198.51.100.7, 2001:db8::7\n"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_rekey_is_shown_under_the_sas_times() {
        let mut sa = demo_sa();
        sa.children[0].rekey_failed = Some(RekeyFailedInfo {
            end_kind: "ts_unacceptable".into(),
            cause: "rekey failed: the peer refused with TS_UNACCEPTABLE; retrying in 60 s".into(),
            count: 3,
            first_ago_secs: 150,
            last_ago_secs: 30,
        });
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.contains("expires in 65m\n    rekey failed 3 times, last 30s ago: rekey failed: the peer refused with TS_UNACCEPTABLE; retrying in 60 s\n    in "),
            "{text}"
        );
    }

    #[test]
    fn an_unanswered_rekey_is_shown_under_the_sas_times() {
        let mut sa = demo_sa();
        sa.children[0].rekey_unanswered = Some(UnansweredInfo {
            sends: 3,
            first_sent_ago_secs: 12,
        });
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.contains(
                "expires in 65m\n    rekey unanswered, sent 3 times since 12s ago\n    in "
            ),
            "{text}"
        );
    }

    #[test]
    fn last_use_as_swanctl_counts_it_or_never() {
        let mut sa = demo_sa();
        sa.children[0].last_use_secs = Some(36_000);
        assert!(ike_sas(&[sa.clone()], Times::Rounded).contains("\n    last use 10h ago\n"));
        // The kernel answered (counters), no packet yet.
        sa.children[0].last_use_secs = None;
        let text = ike_sas(&[sa.clone()], Times::Rounded);
        assert!(text.contains("\n    never used\n"), "{text}");
        assert!(!text.contains("last use"), "{text}");
        // No kernel answer at all: nothing to say.
        let c = &mut sa.children[0];
        (c.bytes_in, c.bytes_out) = (None, None);
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            !text.contains("never used") && !text.contains("last use"),
            "{text}"
        );
    }

    #[test]
    fn responder_connecting_without_counters() {
        let mut sa = demo_sa();
        sa.role = IkeRole::Responder;
        sa.state = IkeSaState::Connecting;
        sa.established_secs = None;
        sa.local_addr = "[2001:db8::1]:4500".into();
        for c in &mut sa.children {
            c.bytes_in = None;
            c.packets_in = None;
            c.bytes_out = None;
            c.packets_out = None;
        }
        let text = ike_sas(&[sa], Times::Rounded);
        assert!(
            text.starts_with(
                "demo: #1, CONNECTING, IKEv2, 0123456789abcdef_i fedcba9876543210_r*\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  local  'moon.tern.example' @ 2001:db8::1[4500]\n"),
            "{text}"
        );
        assert!(!text.contains("established"), "{text}");
        assert!(
            text.contains("    in  c1a2b3c4\n    out c5d6e7f8\n"),
            "{text}"
        );
    }

    #[test]
    fn exact_times_are_whole_seconds() {
        let text = ike_sas(&[demo_sa()], Times::Exact);
        assert!(
            text.contains("established 12s ago, rekeying in 13900s, expires in 15828s"),
            "{text}"
        );
    }

    #[test]
    fn no_sas() {
        assert_eq!(ike_sas(&[], Times::Rounded), "no IKE SAs\n");
    }
}
