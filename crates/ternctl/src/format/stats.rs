//! `stats`: the daemon's counters.

use std::fmt::Write;

use tern_control::StatsInfo;

use super::{duration, Times};

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
        "CHILD SAs:  {} installed, {} rekeyed ({} by us, {} collisions), {} hard expiries, {} refused by the kernel",
        x.child_sas_installed,
        x.child_rekeys,
        x.child_rekeys_initiated,
        x.child_rekey_collisions,
        x.child_hard_expiries,
        x.kernel_refusals
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
