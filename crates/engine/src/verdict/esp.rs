//! ESP that goes out and never comes back, judged from the kernel's counters
//! of a live CHILD SA while the IKE SA is up: IKE passes, ESP does not.

use super::*;

/// Packets out with none in before it is worth a word: a few may go before
/// the peer's first answer, and a flow one way only sends some too.
const SENT_WITHOUT_ANSWER: u64 = 10;

/// How old a live SA must be before its counters say anything: just after a
/// rekey the peer starts sending on the new SA a round trip after we do, and a
/// busy tunnel sends more than [`SENT_WITHOUT_ANSWER`] meanwhile.
const SETTLED_AFTER_SECS: u64 = 10;

/// Each child whose live SA, settled, sent at least [`SENT_WITHOUT_ANSWER`]
/// packets and received none.
pub(super) fn esp_not_arriving(e: &Evidence, out: &mut Vec<Verdict>) {
    if !e.ike_up {
        return;
    }
    for c in &e.children {
        let Some(sa) = &c.sa else { continue };
        let Some(t) = sa.traffic else { continue };
        let settled = e.now.saturating_sub(sa.installed_at) >= SETTLED_AFTER_SECS;
        if !settled || t.packets_in > 0 || t.packets_out < SENT_WITHOUT_ANSWER {
            continue;
        }
        out.push(Verdict {
            kind: VerdictKind::EspNotArriving,
            connection: e.connection.clone(),
            child: Some(c.name.clone()),
            what: format!(
                "connection {}, child {}: {} ESP packets went out on the CHILD SA installed at {} and none came in, while IKE works: if traffic should come back (pings, TCP), ESP from the peer does not arrive.",
                e.connection,
                c.name,
                t.packets_out,
                at(e, sa.installed_at)
            ),
            evidence: vec![format!(
                "kernel counters of the CHILD SA installed at {}: {} packets out, 0 in",
                at(e, sa.installed_at),
                t.packets_out
            )],
            setting: None,
            fix: "check the firewalls on the path and on both hosts for IP protocol 50 (ESP) and, with NAT traversal, UDP 4500, both ways; and at the peer that traffic for these selectors goes into the tunnel (`ternctl list-sas` shows the counters)".into(),
        });
    }
}
