//! NAT traversal gone wrong, judged from the live IKE SA: a peer whose NAT
//! mapping keeps changing (the NAT forgets it between keepalives, or the peer's
//! network changes), and keepalives turned off while this host is behind a NAT.

use super::*;

/// Mapping changes before they are worth a word: one may be a home router's
/// restart or a client that changed networks once.
const CHANGES_RECURRING: u32 = 2;

/// The peer's NAT mapping changed again and again under the IKE SA. tern
/// follows each change, but until the peer's next packet shows the new
/// mapping, traffic to it goes to the old one and is lost.
pub(super) fn nat_mapping_changes(e: &Evidence, out: &mut Vec<Verdict>) {
    let Some(nat) = e.ike_sa.as_ref().and_then(|sa| sa.nat) else {
        return;
    };
    if !nat.peer_behind || nat.mapping_changes < CHANGES_RECURRING {
        return;
    }
    let since = nat
        .first_change_at
        .map(|t| format!(" since {}", at(e, t)))
        .unwrap_or_default();
    let last = nat
        .last_change_at
        .map(|t| format!(", the last at {}", at(e, t)))
        .unwrap_or_default();
    out.push(Verdict {
        kind: VerdictKind::NatMappingChanges,
        connection: e.connection.clone(),
        child: None,
        what: format!(
            "connection {}: the peer's NAT mapping changed {} times{since}{last}: the NAT in front of the peer forgets the tunnel's UDP mapping (keepalives rarer than its timeout) or the peer changes networks; tern follows each change, but traffic to the peer is lost until its next packet shows the new mapping.",
            e.connection, nat.mapping_changes
        ),
        evidence: vec![format!(
            "the IKE SA's peer is behind a NAT and was seen at a new address or port {} times while established (ESP or IKE from there)",
            nat.mapping_changes
        )],
        setting: Some("nat_keepalive"),
        fix: "on the peer's side, send NAT-keepalives more often than its NAT's UDP timeout (tern: nat_keepalive, default 20s; strongSwan: charon.keep_alive) or raise that timeout on the NAT; a roaming client keeps its SAs with MOBIKE".into(),
    });
}

/// This host is behind a NAT and sends no keepalives: an idle tunnel's mapping
/// dies after the NAT's UDP timeout, and the peer can no longer reach us.
pub(super) fn nat_keepalives_off(e: &Evidence, out: &mut Vec<Verdict>) {
    let Some(nat) = e.ike_sa.as_ref().and_then(|sa| sa.nat) else {
        return;
    };
    if !nat.local_behind || nat.keepalive_every.is_some() {
        return;
    }
    out.push(Verdict {
        kind: VerdictKind::NatKeepalivesOff,
        connection: e.connection.clone(),
        child: None,
        what: format!(
            "connection {}: this host is behind a NAT and sends no NAT-keepalives (nat_keepalive = 0): once the tunnel is idle longer than the NAT's UDP timeout, the NAT forgets the mapping and the peer's packets no longer reach us.",
            e.connection
        ),
        evidence: vec![
            "NAT detection in IKE_SA_INIT: our address or port is rewritten on the way".into(),
        ],
        setting: Some("nat_keepalive"),
        fix: "set nat_keepalive = \"20s\" (the default), or shorter than the NAT's UDP timeout".into(),
    });
}
