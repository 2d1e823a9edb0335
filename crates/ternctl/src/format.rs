//! Text output for people, modelled on swanctl's so its users feel at home.

use std::fmt::Write;
use std::net::SocketAddr;

use tern_control::{
    ChildSaInfo, ConnHistory, ConnInfo, EventInfo, EventKind, IkeRole, IkeSaInfo, RekeyFailedInfo,
    SaEndInfo, StatsInfo,
};

/// How times are shown: rounded as swanctl does (`55m`), or exactly (`--exact`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    Rounded,
    Exact,
}

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

/// How each connection's recent SAs ended, newest first: the answer to "why did
/// the tunnel drop?". Routine ends (rekeys) are left out unless `all`.
pub fn history(history: &[ConnHistory], all: bool, times: Times) -> String {
    let mut out = String::new();
    for conn in history {
        let ends: Vec<&SaEndInfo> = conn
            .ends
            .iter()
            .rev()
            .filter(|e| all || !is_routine(e))
            .collect();
        if ends.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}: recent ends", conn.connection);
        for e in ends {
            let what = match (&e.child, &e.spi_in, &e.spi_out) {
                (Some(child), Some(i), Some(o)) => format!("CHILD SA {child} {i}_i {o}_o"),
                (Some(child), _, _) => format!("CHILD SA {child}"),
                (None, _, _) => format!("IKE SA #{}", e.ike_id),
            };
            let verb = if e.was_up { "ended" } else { "failed" };
            let ago = duration(e.ago_secs, times);
            let when = match (e.unix_ms, times) {
                (Some(ms), Times::Exact) => format!("{} ({ago} ago)", utc_time(ms)),
                (Some(ms), Times::Rounded) => format!("{} ({ago} ago)", utc_time_secs(ms)),
                (None, _) => format!("{ago} ago"),
            };
            let _ = writeln!(out, "  {when}: {what} {verb}: {}", e.cause);
        }
    }
    out
}

fn is_routine(e: &SaEndInfo) -> bool {
    e.routine
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

/// Seconds as swanctl shows them: `12s`, `55m`, `4h`; exactly, `3725s`.
fn duration(secs: u64, times: Times) -> String {
    if times == Times::Exact {
        return format!("{secs}s");
    }
    match secs {
        s if s < 300 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
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

/// `list-conns`: each connection with its children.
pub fn conns(conns: &[ConnInfo]) -> String {
    if conns.is_empty() {
        return "no connections configured\n".to_string();
    }
    let mut out = String::new();
    for conn in conns {
        let _ = writeln!(out, "{}: IKEv2", conn.name);
        let _ = writeln!(out, "  local:  {}", addresses(&conn.local_addrs));
        let _ = writeln!(out, "  remote: {}", addresses(&conn.remote_addrs));
        let _ = writeln!(out, "  local {} authentication:", conn.auth);
        let _ = writeln!(out, "    id: {}", conn.local_id);
        let _ = writeln!(out, "  remote {} authentication:", conn.auth);
        let _ = writeln!(
            out,
            "    id: {}",
            conn.remote_id.as_deref().unwrap_or("%any")
        );
        let _ = writeln!(out, "  proposals: {}", conn.ike_proposals.join(", "));
        if let Some(delay) = &conn.dpd_delay {
            let _ = writeln!(out, "  dpd_delay: {delay}");
        }
        for child in &conn.children {
            // Only the settings that differ from their defaults.
            let start: String = [
                ("start_action", &child.start_action, "none"),
                ("dpd_action", &child.dpd_action, "clear"),
                ("close_action", &child.close_action, "none"),
            ]
            .iter()
            .filter(|(_, value, default)| !value.is_empty() && value != default)
            .map(|(key, value, _)| format!(", {key} {value}"))
            .collect();
            let trapped = if child.trapped {
                ", TRAPPED (waiting for traffic)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {}: {}{start}{trapped}",
                child.name,
                child.mode.to_uppercase()
            );
            let _ = writeln!(out, "    local:  {}", child.local_ts.join(" "));
            let _ = writeln!(out, "    remote: {}", child.remote_ts.join(" "));
            let _ = writeln!(out, "    esp_proposals: {}", child.esp_proposals.join(", "));
        }
    }
    out
}

fn addresses(addrs: &[String]) -> String {
    if addrs.is_empty() {
        "%any".to_string()
    } else {
        addrs.join(", ")
    }
}

/// One event of `watch`, on one line: when, which connection, which SA, what
/// happened and why.
pub fn event(e: &EventInfo) -> String {
    let when = utc_time(e.unix_ms);
    let ike = match (&e.initiator_spi, &e.responder_spi) {
        (Some(i), Some(r)) => format!("IKE SA #{} {i}_i {r}_r", e.ike_id),
        _ => format!("IKE SA #{}", e.ike_id),
    };
    let child = || {
        let name = e.child.as_deref().unwrap_or("?");
        match (&e.spi_in, &e.spi_out) {
            (Some(i), Some(o)) => format!("CHILD SA {name} {i}_i {o}_o"),
            _ => format!("CHILD SA {name}"),
        }
    };
    let reason = e.reason.as_deref().unwrap_or("no reason given");
    let what = match e.kind {
        EventKind::IkeSaEstablished => format!("{ike} established"),
        EventKind::IkeSaFailed => format!("{ike} failed: {reason}"),
        EventKind::IkeSaDeleted => format!("{ike} ended: {reason}"),
        EventKind::IkeSaRekeyed => format!(
            "IKE SA #{} rekeyed: replaced by {}",
            e.ike_id,
            match (e.new_ike_id, &e.initiator_spi, &e.responder_spi) {
                (Some(n), Some(i), Some(r)) => format!("IKE SA #{n} {i}_i {r}_r"),
                (Some(n), _, _) => format!("IKE SA #{n}"),
                (None, _, _) => "a new IKE SA".to_string(),
            }
        ),
        EventKind::ChildSaInstalled => format!("{} installed on IKE SA #{}", child(), e.ike_id),
        EventKind::ChildSaFailed => format!("{} failed: {reason}", child()),
        EventKind::ChildSaDeleted => format!("{} ended: {reason}", child()),
        EventKind::EndAction => format!("bringing it back ({reason})"),
        EventKind::EventsLost => return format!("{when} {reason}\n"),
    };
    format!("{when} {}: {what}\n", e.connection)
}

/// Milliseconds since the Unix epoch as `2026-11-23 18:20:01Z` (UTC).
pub fn utc_time_secs(unix_ms: u64) -> String {
    let exact = utc_time(unix_ms);
    format!("{}Z", &exact[..exact.len() - ".123Z".len()])
}

/// Milliseconds since the Unix epoch as `2026-11-23 18:20:01.123Z` (UTC).
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `stats`: counters grouped as an administrator looks for them.
pub fn stats(s: &StatsInfo) -> String {
    let mut out = String::new();
    let x = &s.exchanges;
    let _ = writeln!(
        out,
        "ternd {}, up {}",
        s.version,
        duration(s.uptime_secs, Times::Rounded)
    );
    let _ = writeln!(
        out,
        "SAs:        {} IKE SA(s) established, {} connecting, {} CHILD SA(s) installed",
        s.ike_sas_established, s.ike_sas_connecting, s.child_sas_installed
    );
    let _ = writeln!(
        out,
        "datagrams:  {} received, {} sent ({} retransmissions); {} receive and {} send failures ({} sends tried again)",
        s.datagrams.received,
        s.datagrams.sent,
        x.retransmits_sent,
        s.datagrams.receive_failed,
        s.datagrams.send_failed,
        s.datagrams.send_retries
    );
    let dropped: u64 = s.dropped.values().sum();
    let reasons: Vec<String> = s
        .dropped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    if reasons.is_empty() {
        let _ = writeln!(out, "dropped:    {dropped}");
    } else {
        let _ = writeln!(out, "dropped:    {dropped} ({})", reasons.join(", "));
    }
    let _ = writeln!(
        out,
        "IKE SAs:    {} established, {} rekeyed ({} by us, {} collisions), {} hard expiries",
        x.ike_sas_established,
        x.ike_rekeys,
        x.ike_rekeys_initiated,
        x.ike_rekey_collisions,
        x.ike_hard_expiries
    );
    if x.virtual_ips_assigned + x.virtual_ip_refusals + x.cp_attributes_malformed > 0 {
        let _ = writeln!(
            out,
            "virtual IPs: {} assigned, {} refused (INTERNAL_ADDRESS_FAILURE), {} malformed attributes ignored",
            x.virtual_ips_assigned, x.virtual_ip_refusals, x.cp_attributes_malformed
        );
    }
    let _ = writeln!(
        out,
        "CHILD SAs:  {} installed, {} rekeyed ({} by us, {} collisions), {} hard expiries",
        x.child_sas_installed,
        x.child_rekeys,
        x.child_rekeys_initiated,
        x.child_rekey_collisions,
        x.child_hard_expiries
    );
    let _ = writeln!(
        out,
        "adapting:   {} lines rekeyed before the peer lets them expire, {} reauthentications for PFS on one side",
        x.rekeys_adapted, x.pfs_reauths
    );
    let _ = writeln!(
        out,
        "liveness:   {} DPD checks sent, {} dead peers, {} restarts; {} retransmissions answered",
        x.dpd_checks_sent, x.dead_peers, x.restarts, x.retransmits_answered
    );
    let _ = writeln!(
        out,
        "half-open:  {} now; {} cookies demanded; IKE_SA_INITs refused: {} per address, {} over the limit",
        s.half_open.current,
        s.half_open.cookies_demanded,
        s.half_open.refused_per_address,
        s.half_open.refused_limit
    );
    let _ = writeln!(
        out,
        "watchers:   {} watching, {} events dropped for slow watchers",
        s.events.watchers, s.events.dropped
    );
    out
}

/// `ternctl leases`: one line per leased address.
pub fn leases(leases: &[tern_control::LeaseInfo]) -> String {
    if leases.is_empty() {
        return "no virtual IP is leased\n".to_string();
    }
    let mut out = String::new();
    for lease in leases {
        let state = if lease.online {
            "online"
        } else {
            "offline (kept for its peer)"
        };
        out.push_str(&format!(
            "{:<12} {:<40} {:<32} {state}\n",
            lease.pool, lease.address, lease.identity
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn leases_one_line_each_or_none() {
        assert_eq!(leases(&[]), "no virtual IP is leased\n");
        let lease = |address: &str, identity: &str, online| tern_control::LeaseInfo {
            pool: "rw".into(),
            address: address.parse().unwrap(),
            identity: identity.into(),
            online,
        };
        let text = leases(&[
            lease("10.3.0.1", "carol@corp.example", true),
            lease("fd00::2", "dave@corp.example", false),
        ]);
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            [
                vec!["rw", "10.3.0.1", "carol@corp.example", "online"],
                vec![
                    "rw",
                    "fd00::2",
                    "dave@corp.example",
                    "offline",
                    "(kept",
                    "for",
                    "its",
                    "peer)"
                ],
            ]
        );
    }

    use super::*;
    use tern_control::{ChildConnInfo, ChildSaMode, ChildSaState, IkeSaState};

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
    fn history_newest_first_without_rekeys_unless_asked() {
        let end = |ago_secs, child: Option<&str>, cause: &str, was_up| SaEndInfo {
            ago_secs,
            unix_ms: None,
            kind: if child.is_some() { "CHILD" } else { "IKE" }.into(),
            ike_id: 3,
            child: child.map(Into::into),
            spi_in: child.map(|_| "c0000101".into()),
            spi_out: child.map(|_| "c1b2c3d4".into()),
            was_up,
            cause: cause.into(),
            // What ternd says of each; ternctl does not read the sentence.
            end_kind: if cause == "rekeyed" {
                "rekeyed"
            } else {
                "dead_peer"
            }
            .into(),
            routine: cause == "rekeyed",
            ke_ours: vec![],
            ke_asked: vec![],
        };
        let history = [ConnHistory {
            connection: "demo".into(),
            ends: vec![
                end(4000, Some("net"), "rekeyed", true),
                end(700, Some("net"), "dead peer (DPD timeout)", true),
                end(700, None, "dead peer (DPD timeout)", true),
                end(20, None, "the peer rejected our authentication", false),
            ],
        }];
        assert_eq!(
            history_text(&history, false),
            "demo: recent ends\n\
             \x20 20s ago: IKE SA #3 failed: the peer rejected our authentication\n\
             \x20 11m ago: IKE SA #3 ended: dead peer (DPD timeout)\n\
             \x20 11m ago: CHILD SA net c0000101_i c1b2c3d4_o ended: dead peer (DPD timeout)\n"
        );
        assert!(history_text(&history, true)
            .ends_with("66m ago: CHILD SA net c0000101_i c1b2c3d4_o ended: rekeyed\n"));
        let routine_only = [ConnHistory {
            connection: "demo".into(),
            ends: vec![end(5, Some("net"), "rekeyed", true)],
        }];
        assert_eq!(history_text(&routine_only, false), "");
    }

    #[test]
    fn history_with_absolute_times_rounded_or_exact() {
        let ends = [ConnHistory {
            connection: "demo".into(),
            ends: vec![SaEndInfo {
                ago_secs: 3725,
                unix_ms: Some(1_795_437_601_005),
                kind: "IKE".into(),
                ike_id: 3,
                child: None,
                spi_in: None,
                spi_out: None,
                was_up: true,
                cause: "dead peer (DPD timeout)".into(),
                end_kind: "dead_peer".into(),
                routine: false,
                ke_ours: vec![],
                ke_asked: vec![],
            }],
        }];
        assert_eq!(
            history(&ends, false, Times::Rounded),
            "demo: recent ends\n\
             \x20 2026-11-23 12:40:01Z (62m ago): IKE SA #3 ended: dead peer (DPD timeout)\n"
        );
        assert_eq!(
            history(&ends, false, Times::Exact),
            "demo: recent ends\n\
             \x20 2026-11-23 12:40:01.005Z (3725s ago): IKE SA #3 ended: dead peer (DPD timeout)\n"
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

    fn history_text(h: &[ConnHistory], all: bool) -> String {
        history(h, all, Times::Rounded)
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00.000Z");
        // 2000-02-29 (a leap day) 12:34:56.789
        assert_eq!(utc_time(951_827_696_789), "2000-02-29 12:34:56.789Z");
        assert_eq!(utc_time(1_795_437_601_005), "2026-11-23 12:40:01.005Z");
    }

    fn watched(kind: EventKind) -> EventInfo {
        EventInfo {
            unix_ms: 1_795_437_601_005,
            kind,
            connection: "demo".into(),
            ike_id: 3,
            new_ike_id: None,
            initiator_spi: Some("0123456789abcdef".into()),
            responder_spi: Some("fedcba9876543210".into()),
            child: None,
            spi_in: None,
            spi_out: None,
            reason: None,
            end_kind: None,
            lost: None,
        }
    }

    #[test]
    fn events_read_as_one_line_each() {
        assert_eq!(
            event(&watched(EventKind::IkeSaEstablished)),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 0123456789abcdef_i fedcba9876543210_r established\n"
        );
        let mut e = watched(EventKind::ChildSaDeleted);
        e.child = Some("net".into());
        e.spi_in = Some("c0000101".into());
        e.spi_out = Some("c1b2c3d4".into());
        e.reason = Some("dead peer (DPD timeout)".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: CHILD SA net c0000101_i c1b2c3d4_o ended: dead peer (DPD timeout)\n"
        );
        let mut e = watched(EventKind::IkeSaRekeyed);
        e.new_ike_id = Some(4);
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 rekeyed: replaced by IKE SA #4 0123456789abcdef_i fedcba9876543210_r\n"
        );
        let mut e = watched(EventKind::IkeSaFailed);
        e.initiator_spi = None;
        e.reason = Some("the peer rejected our authentication".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 failed: the peer rejected our authentication\n"
        );
        let mut e = watched(EventKind::EventsLost);
        e.connection.clear();
        e.reason = Some("7 event(s) dropped: this watcher read too slowly".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z 7 event(s) dropped: this watcher read too slowly\n"
        );
    }

    #[test]
    fn stats_name_every_drop_reason_that_happened() {
        let mut s = StatsInfo {
            version: "0.1.0".into(),
            uptime_secs: 7200,
            ike_sas_established: 1,
            child_sas_installed: 1,
            ..StatsInfo::default()
        };
        s.dropped.insert("malformed".into(), 2);
        s.dropped.insert("unknown-spi".into(), 0);
        s.exchanges.child_rekeys = 5;
        s.exchanges.child_rekeys_initiated = 3;
        s.half_open.current = 4;
        s.half_open.cookies_demanded = 120;
        s.half_open.refused_per_address = 7;
        let text = stats(&s);
        assert!(
            text.contains("half-open:  4 now; 120 cookies demanded; IKE_SA_INITs refused: 7 per address, 0 over the limit\n"),
            "{text}"
        );
        assert!(text.starts_with("ternd 0.1.0, up 120m\n"), "{text}");
        assert!(text.contains("dropped:    2 (2 malformed)\n"), "{text}");
        assert!(
            text.contains("CHILD SAs:  0 installed, 5 rekeyed (3 by us, 0 collisions)"),
            "{text}"
        );
        assert!(
            text.contains(
                "SAs:        1 IKE SA(s) established, 0 connecting, 1 CHILD SA(s) installed"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_sas() {
        assert_eq!(ike_sas(&[], Times::Rounded), "no IKE SAs\n");
    }

    #[test]
    fn connections() {
        let conn = ConnInfo {
            name: "demo".into(),
            local_addrs: vec!["192.0.2.1".into()],
            remote_addrs: vec![],
            local_id: "moon.tern.example".into(),
            remote_id: None,
            auth: "psk".into(),
            ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
            children: vec![ChildConnInfo {
                name: "net".into(),
                local_ts: vec!["10.1.0.0/24".into()],
                remote_ts: vec!["10.2.0.0/24".into(), "10.3.0.0/24".into()],
                esp_proposals: vec!["aes128gcm16".into()],
                mode: "tunnel".into(),
                start_action: "start".into(),
                dpd_action: "restart".into(),
                close_action: "none".into(),
                trapped: false,
                lifetime: None,
                pfs_groups: vec![],
            }],
            dpd_delay: Some("30s".into()),
            ike_lifetime: None,
        };
        let expected = "\
demo: IKEv2
  local:  192.0.2.1
  remote: %any
  local psk authentication:
    id: moon.tern.example
  remote psk authentication:
    id: %any
  proposals: aes128gcm16-prfsha256-x25519
  dpd_delay: 30s
  net: TUNNEL, start_action start, dpd_action restart
    local:  10.1.0.0/24
    remote: 10.2.0.0/24 10.3.0.0/24
    esp_proposals: aes128gcm16
";
        assert_eq!(conns(&[conn]), expected);
    }
}
