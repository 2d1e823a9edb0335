//! The findings, one function each: what they look for in the [`Evidence`] and
//! the sentence, evidence and fix they give.

use super::*;

/// The IKE SA never came up: no answer at all, no answer to IKE_AUTH,
/// authentication refused, no IKE proposal in common.
pub(super) fn never_up(e: &Evidence, out: &mut Vec<Verdict>) {
    let c = &e.connection;
    let unanswered: Vec<_> = ends_of(e, true, &[EndKind::Unanswered]).collect();
    if !unanswered.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::NeverReachable,
            None,
            format!(
                "connection {c}: the peer never answered IKE_SA_INIT ({}): it is down, or UDP 500/4500 is filtered on the path.",
                summary(e, &unanswered)
            ),
            &unanswered,
            Some("remote_addrs"),
            "check that the peer runs IKE at remote_addrs and that UDP ports 500 and 4500 pass both ways (firewalls, security groups)".into(),
        ));
    }
    let auth_unanswered: Vec<_> = ends_of(e, true, &[EndKind::AuthUnanswered]).collect();
    if !auth_unanswered.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::AuthUnanswered,
            None,
            format!(
                "connection {c}: the peer answered IKE_SA_INIT but never IKE_AUTH ({}): large IKE messages are lost on the path (IP fragments dropped, MTU).",
                summary(e, &auth_unanswered)
            ),
            &auth_unanswered,
            Some("fragmentation.enabled"),
            "keep IKE fragmentation on at both ends (here [fragmentation] enabled = true, the default; strongSwan: fragmentation = yes) so IKE_AUTH goes in pieces the path carries, and check that the path passes UDP 4500 (certificates make IKE_AUTH large)".into(),
        ));
    }
    let auth: Vec<_> = e
        .ends
        .iter()
        .filter(|x| x.kind == EndKind::AuthFailed)
        .collect();
    if !auth.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::AuthFailed,
            None,
            format!("connection {c}: authentication failed ({}).", summary(e, &auth)),
            &auth,
            Some("psk"),
            "check that both sides use the same PSK (psk / psk_file), that local_id matches the peer's remote id and remote_id the peer's identity, and for certificates the CA (cacerts), validity and CRLs named in the evidence".into(),
        ));
    }
    let eap: Vec<_> = e
        .ends
        .iter()
        .filter(|x| x.kind == EndKind::EapFailed)
        .collect();
    if !eap.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::EapFailed,
            None,
            format!("connection {c}: EAP logins failed ({}).", summary(e, &eap)),
            &eap,
            Some("users_file"),
            "the evidence names each user and why (unknown user, wrong password, an EAP method the client refused): check the user's name and password in [eap] users / users_file and that the client uses EAP-MSCHAPv2; with remote_auth = \"eap-radius\", the RADIUS server's own log says why it rejected the user".into(),
        ));
    }
    let radius: Vec<_> = e
        .ends
        .iter()
        .filter(|x| x.kind == EndKind::RadiusUnreachable)
        .collect();
    if !radius.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::RadiusUnreachable,
            None,
            format!(
                "connection {c}: EAP-RADIUS logins could not be decided: no RADIUS server answered ({}).",
                summary(e, &radius)
            ),
            &radius,
            Some("radius.servers"),
            "check that the [radius] servers run and listen at their address and port, that UDP to them passes, and that each knows this host as a client with the same secret (a request with a wrong secret is dropped without an answer; the server's log says so)".into(),
        ));
    }
    let no_ike: Vec<_> = ends_of(e, true, &[EndKind::NoProposal]).collect();
    if !no_ike.is_empty() {
        out.push(verdict(
            e,
            VerdictKind::NoProposal,
            None,
            format!(
                "connection {c}: no IKE proposal in common with the peer ({}).",
                summary(e, &no_ike)
            ),
            &no_ike,
            Some("proposals"),
            format!(
                "ours are [{}]; add one the peer offers to proposals, or add one of ours on the peer, e.g. \"aes128gcm16-prfsha256-x25519\" or, for older peers, \"aes256-sha256-modp2048\"",
                e.ike_proposals.join(", ")
            ),
        ));
    }
}

pub(super) fn dead_peer(e: &Evidence, out: &mut Vec<Verdict>) {
    let dead: Vec<_> = ends_of(e, true, &[EndKind::DeadPeer]).collect();
    if dead.is_empty() {
        return;
    }
    out.push(verdict(
        e,
        VerdictKind::DeadPeer,
        None,
        format!(
            "connection {}: the peer stopped answering an established IKE SA (dead peer, {}){}.",
            e.connection,
            summary(e, &dead),
            if e.ike_up {
                "; it is up again now"
            } else {
                ""
            }
        ),
        &dead,
        Some("dpd_action"),
        "check that the peer is running and reachable; dpd_action = \"restart\" brings the tunnel back when it is".into(),
    ));
}

/// CHILD SAs refused: PFS one-sided (the child comes up in IKE_AUTH, where no key
/// exchange is made, but its CREATE_CHILD_SA rekeys are refused), no proposal,
/// traffic selectors.
pub(super) fn child_refusals(e: &Evidence, out: &mut Vec<Verdict>) {
    for child in &e.children {
        let name = child.name.as_str();
        let of = |kind: EndKind| -> Vec<&EndEvidence> {
            e.ends
                .iter()
                .filter(|x| x.child.as_deref() == Some(name) && x.kind == kind && !x.was_up)
                .collect()
        };
        let no_proposal = of(EndKind::NoProposal);
        // The same proposals were accepted in IKE_AUTH: only the key exchange,
        // which IKE_AUTH's CHILD SA never carries, can differ.
        let came_up = child.installed
            || e.ends
                .iter()
                .any(|x| x.child.as_deref() == Some(name) && x.was_up);
        if !no_proposal.is_empty() && came_up {
            let (cause, fix) = one_sided_pfs(child);
            let what = format!(
                "connection {}, child {name}: its rekey was refused ({}): {cause}.",
                e.connection,
                summary(e, &no_proposal)
            );
            let what = match e.counters.pfs_reauths {
                0 => what,
                n => format!(
                    "{what} tern reauthenticated instead ({n} time(s), daemon-wide: IKE_AUTH's CHILD SA needs no key exchange), so the tunnel did not drop; the fix below makes that unnecessary."
                ),
            };
            out.push(verdict(
                e,
                VerdictKind::OneSidedPfs,
                Some(name),
                what,
                &no_proposal,
                Some("esp_proposals"),
                fix,
            ));
        } else if !no_proposal.is_empty() {
            out.push(verdict(
                e,
                VerdictKind::NoProposal,
                Some(name),
                format!(
                    "connection {}, child {name}: no ESP proposal in common with the peer ({}).",
                    e.connection,
                    summary(e, &no_proposal)
                ),
                &no_proposal,
                Some("esp_proposals"),
                format!(
                    "ours are [{}]; add one the peer offers to esp_proposals, e.g. \"aes128gcm16\" or, for older peers, \"aes256-sha256\"",
                    child.esp_proposals.join(", ")
                ),
            ));
        }
        let ts = of(EndKind::TsUnacceptable);
        if !ts.is_empty() {
            out.push(verdict(
                e,
                VerdictKind::TsUnacceptable,
                Some(name),
                format!(
                    "connection {}, child {name}: the traffic selectors were refused (TS_UNACCEPTABLE, {}).",
                    e.connection,
                    summary(e, &ts)
                ),
                &ts,
                Some("local_ts"),
                ts_fix(child),
            ));
        }
    }
}

/// Why the rekeys of a child that came up are refused for want of a proposal
/// (PFS on one side only), and the fix.
pub(super) fn one_sided_pfs(child: &ChildEvidence) -> (String, String) {
    let name = &child.name;
    if child.pfs_groups.is_empty() {
        return (
            "PFS is wanted by the peer only; the child comes up in IKE_AUTH (which makes no key exchange) but every CREATE_CHILD_SA without a key exchange is refused".into(),
            format!(
                "add the peer's PFS group to child {name}'s esp_proposals, e.g. \"{}\", or remove the group from the peer's ESP proposals",
                with_group(child.esp_proposals.first(), "x25519")
            ),
        );
    }
    let groups = child.pfs_groups.join(", ");
    (
        format!("PFS ({groups}) is wanted by tern only; the child comes up in IKE_AUTH (which makes no key exchange) but the peer refuses every CREATE_CHILD_SA with {groups}"),
        format!(
            "add {groups} to the peer's ESP proposals (strongSwan: esp_proposals = aes128gcm16-{}), or drop it from child {name}'s esp_proposals",
            child.pfs_groups[0]
        ),
    )
}

/// What to do about refused traffic selectors.
pub(super) fn ts_fix(child: &ChildEvidence) -> String {
    format!(
        "ours are local_ts [{}], remote_ts [{}]: the peer's must be the mirror image (its local_ts our remote_ts) or contain them",
        child.local_ts.join(", "),
        child.remote_ts.join(", ")
    )
}

/// `proposal` with its key exchange replaced by (or added as) `group`.
fn with_group(proposal: Option<&String>, group: &str) -> String {
    let base = proposal.map_or("aes128gcm16", String::as_str);
    format!("{base}-{group}")
}

/// Roughly the same age: within a tenth, or two seconds for short ones.
fn about(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= (a.max(b) / 10).max(2)
}

/// The peer lets an SA line expire instead of rekeying it (its rekeying is off,
/// or its life_time equals its rekey_time). For a child, the engine's adaptive
/// rekeying saw it (the peer deleted the only SA and created it again, twice at
/// about one age); for the IKE SA, or with rekey_adapt off, the history shows
/// the peer's DELETEs at regular intervals, with no collisions about that could
/// have made them.
pub(super) fn peer_lets_expire(e: &Evidence, out: &mut Vec<Verdict>) {
    let mut lines: Vec<(Option<&str>, Option<&Lifetime>, Option<Duration>)> =
        vec![(None, e.ike.as_ref(), None)];
    lines.extend(e.children.iter().map(|c| {
        (
            Some(c.name.as_str()),
            c.lifetime.as_ref(),
            c.adapted_rekey_before,
        )
    }));
    for (child, ours, adapted) in lines {
        let Some((life, deleted)) = peer_life(e, child, adapted) else {
            continue;
        };
        let line = match child {
            Some(c) => format!("connection {}, child {c}", e.connection),
            None => format!("connection {}, IKE SA", e.connection),
        };
        let rekey_below = life * 8 / 10;
        let ours_text = ours
            .map(|l| format!("; our rekey_time is {} s", l.rekey_time.as_secs()))
            .unwrap_or_default();
        let adapted_text = match adapted {
            Some(before) => format!(
                " tern noticed and now rekeys it itself before {} s, so the tunnel no longer drops at each end; the fix below makes that unnecessary.",
                before.as_secs()
            ),
            None => String::new(),
        };
        let count = if deleted.is_empty() {
            String::new()
        } else {
            format!(" (deleted {} times in the recent history)", deleted.len())
        };
        out.push(verdict(
            e,
            VerdictKind::PeerLetsSasExpire,
            child,
            format!(
                "{line}: the peer lets its SAs expire instead of rekeying them: it deletes each at about {life} s and sets up a new one{count}{ours_text} (rekeying off on its side, or its life_time equal to its rekey_time).{adapted_text}"
            ),
            &deleted,
            Some("rekey_time"),
            format!(
                "on the peer, turn rekeying on (strongSwan: rekey_time below life_time); here, set rekey_time below the peer's life of {life} s, e.g. rekey_time = \"{rekey_below}s\""
            ),
        ));
    }
}

/// The age (seconds) at which the peer lets the SAs of a line (`child`, or the
/// IKE SA's) expire, from what adapt learned (`adapted`) or from its DELETEs at
/// one interval; with those DELETEs.
pub(super) fn peer_life<'a>(
    e: &'a Evidence,
    child: Option<&str>,
    adapted: Option<Duration>,
) -> Option<(u64, Vec<&'a EndEvidence>)> {
    let deleted: Vec<&EndEvidence> = e
        .ends
        .iter()
        .filter(|x| x.child.as_deref() == child && x.was_up && x.kind == EndKind::DeletedByPeer)
        .collect();
    let life = match adapted {
        // adapt rekeys a tenth before the age it saw.
        Some(before) => ((before * 10 / 9).as_millis() as u64 + 500) / 1000,
        None => match regular_gap(&deleted) {
            Some(gap) if e.counters.child_rekey_collisions == 0 || child.is_none() => gap,
            _ => return None,
        },
    };
    Some((life, deleted))
}

/// The one interval at which `ends` came, if there are three or more of them
/// and all their intervals are about the same.
fn regular_gap(ends: &[&EndEvidence]) -> Option<u64> {
    if ends.len() < 3 {
        return None;
    }
    let gaps: Vec<u64> = ends
        .windows(2)
        .map(|w| w[1].unix_secs.saturating_sub(w[0].unix_secs))
        .collect();
    let life = *gaps.iter().min()?;
    (life >= 5 && gaps.iter().all(|&g| about(g, life))).then_some(life)
}

pub(super) fn hard_expiries(e: &Evidence, out: &mut Vec<Verdict>) {
    let mut lines: Vec<Option<&str>> = vec![None];
    lines.extend(e.children.iter().map(|c| Some(c.name.as_str())));
    for child in lines {
        let expired: Vec<&EndEvidence> = e
            .ends
            .iter()
            .filter(|x| x.child.as_deref() == child && x.kind == EndKind::HardExpiry)
            .collect();
        if expired.is_empty() {
            continue;
        }
        // The cause: the failure of this line that came last before the expiry.
        let last = expired.last().expect("not empty");
        let cause = e.ends.iter().rfind(|x| {
            x.child.as_deref() == child
                && !x.was_up
                && x.unix_secs <= last.unix_secs
                && x.kind != EndKind::HardExpiry
        });
        let line = match child {
            Some(c) => format!("connection {}, child {c}", e.connection),
            None => format!("connection {}, IKE SA", e.connection),
        };
        let (why, setting, fix) = match cause.map(|c| c.kind) {
            Some(EndKind::NoProposal) => (
                "its rekey had been refused (no proposal: see the PFS or proposal finding)".to_string(),
                Some("esp_proposals"),
                "make both sides' proposals agree, as the refusal's finding says".to_string(),
            ),
            Some(EndKind::Unanswered | EndKind::DeadPeer) => (
                "its rekey went unanswered".to_string(),
                Some("life_time"),
                "check the path to the peer; a life_time further after rekey_time leaves more retransmissions".to_string(),
            ),
            Some(EndKind::CollisionLoser) => (
                "its rekey lost a collision".to_string(),
                Some("rand_time"),
                "give rand_time a larger value so the two sides do not rekey at the same moment".to_string(),
            ),
            Some(kind) => (
                format!("its rekey failed before ({kind})"),
                None,
                "see the failure's own finding".to_string(),
            ),
            None => (
                "no rekey failure was recorded before it".to_string(),
                Some("rekey_time"),
                "check that rekey_time is set and below life_time (ternctl diagnose --config)".to_string(),
            ),
        };
        out.push(verdict(
            e,
            VerdictKind::HardExpiry,
            child,
            format!(
                "{line}: an SA reached its hard life_time ({}): {why}.",
                summary(e, &expired)
            ),
            &expired.iter().copied().chain(cause).collect::<Vec<_>>(),
            setting,
            fix,
        ));
    }
}

pub(super) fn restarts(e: &Evidence, out: &mut Vec<Verdict>) {
    let restarts: Vec<_> = ends_of(e, true, &[EndKind::InitialContact]).collect();
    if restarts.is_empty() {
        return;
    }
    out.push(verdict(
        e,
        VerdictKind::PeerRestarted,
        None,
        format!(
            "connection {}: the peer restarted and started over with INITIAL_CONTACT ({}); tern dropped the stale SAs.",
            e.connection,
            summary(e, &restarts)
        ),
        &restarts,
        None,
        "check the peer's logs for why it restarted (crash, reboot, service restart)".into(),
    ));
}

pub(super) fn collisions(e: &Evidence, out: &mut Vec<Verdict>) {
    let lost: Vec<_> = e
        .ends
        .iter()
        .filter(|x| x.kind == EndKind::CollisionLoser)
        .collect();
    let c = &e.counters;
    // Daemon-wide: a fourth of the rekeys or more meeting the peer's.
    let counted = c.child_rekey_collisions >= COLLISIONS_RECURRING as u64
        && c.child_rekey_collisions * 4 >= c.child_rekeys_initiated;
    if lost.len() < COLLISIONS_RECURRING && !counted {
        return;
    }
    let mut found = verdict(
        e,
        VerdictKind::RecurringCollisions,
        lost.last().and_then(|x| x.child.as_deref()),
        format!(
            "connection {}: both sides keep rekeying at the same moment ({} collision(s) in the recent history{}); each is settled without loss, but the two sides' schedules coincide.",
            e.connection,
            lost.len(),
            if counted {
                format!(
                    "; {} of {} CHILD rekeys started here met the peer's",
                    c.child_rekey_collisions, c.child_rekeys_initiated
                )
            } else {
                String::new()
            }
        ),
        &lost,
        Some("rand_time"),
        "give rand_time a tenth of rekey_time here (the default), or set one on the peer (strongSwan: rand_time), so the two sides rekey at different moments".into(),
    );
    if counted {
        found.evidence.push(format!(
            "child_rekey_collisions = {}, child_rekeys_initiated = {} (daemon-wide)",
            c.child_rekey_collisions, c.child_rekeys_initiated
        ));
    }
    out.push(found);
}

pub(super) fn peer_sooner(e: &Evidence, out: &mut Vec<Verdict>) {
    let mut lines: Vec<(Option<&str>, Option<&Lifetime>, Option<Duration>)> =
        vec![(None, e.ike.as_ref(), e.ike_peer_rekeyed_at)];
    lines.extend(e.children.iter().map(|c| {
        (
            Some(c.name.as_str()),
            c.lifetime.as_ref(),
            c.peer_rekeyed_at,
        )
    }));
    for (child, ours, at) in lines {
        let (Some(ours), Some(at)) = (ours, at) else {
            continue;
        };
        // Sooner than our own jitter and a tenth more could explain.
        let earliest = ours.rekey_time.saturating_sub(ours.rand_time);
        if ours.rekey_time.is_zero() || at >= earliest - earliest / 10 {
            continue;
        }
        let line = match child {
            Some(c) => format!("connection {}, child {c}", e.connection),
            None => format!("connection {}, IKE SA", e.connection),
        };
        out.push(Verdict {
            kind: VerdictKind::PeerRekeysSooner,
            connection: e.connection.clone(),
            child: child.map(str::to_string),
            what: format!(
                "{line}: the peer rekeys after {} s, before our rekey_time of {} s: its lifetime is shorter, and tern follows its lead. Nothing to change.",
                at.as_secs(),
                ours.rekey_time.as_secs()
            ),
            evidence: vec![format!("peer_rekeyed_at_secs = {}", at.as_secs())],
            setting: None,
            fix: String::new(),
        });
    }
}

/// The peer answered INVALID_KE_PAYLOAD asking again for a group it had
/// refused: the two sides' group preferences never meet (the engine stops the
/// exchange rather than go back and forth).
pub(super) fn invalid_ke_loops(e: &Evidence, out: &mut Vec<Verdict>) {
    let mut lines: Vec<Option<&ChildEvidence>> = vec![None];
    lines.extend(e.children.iter().map(Some));
    for child in lines {
        let name = child.map(|c| c.name.as_str());
        let loops: Vec<&EndEvidence> = e
            .ends
            .iter()
            .filter(|x| x.child.as_deref() == name && x.kind == EndKind::InvalidKeLoop)
            .collect();
        let Some(last) = loops.last() else { continue };
        let (ours, asked) = last
            .ke_groups
            .as_ref()
            .map(|g| (g.ours.clone(), g.asked.clone()))
            .unwrap_or_default();
        // A group both sides have, the peer's last choice first.
        let meet = asked
            .iter()
            .rev()
            .find(|g| ours.contains(g))
            .or(ours.first())
            .cloned()
            .unwrap_or_else(|| "x25519".into());
        let (line, exchange, setting, proposals) = match child {
            Some(c) => (
                format!("connection {}, child {}", e.connection, c.name),
                "CREATE_CHILD_SA",
                "esp_proposals",
                &c.esp_proposals,
            ),
            None => (
                format!("connection {}", e.connection),
                "IKE_SA_INIT",
                "proposals",
                &e.ike_proposals,
            ),
        };
        let first = proposals.first().map_or("aes128gcm16", String::as_str);
        let suggested = only_group(first, &ours, &meet);
        out.push(verdict(
            e,
            VerdictKind::InvalidKeLoop,
            name,
            format!(
                "{line}: the peer keeps answering {exchange} with INVALID_KE_PAYLOAD, asking again for a key exchange group it refused before ({}): ours are {}; it asked for {}, in that order. The two sides' group preferences never meet, so tern stops instead of going back and forth.",
                summary(e, &loops),
                words(&ours),
                words(&asked)
            ),
            &loops,
            Some(setting),
            format!(
                "offer one group both sides accept, alone or first, on both sides: here {setting} = [\"{suggested}\"], and {meet} first in the peer's (strongSwan: {} = {suggested})",
                if child.is_some() { "esp_proposals" } else { "proposals" }
            ),
        ));
    }
}

fn words(groups: &[String]) -> String {
    if groups.is_empty() {
        "(not recorded)".into()
    } else {
        groups.join(", ")
    }
}

/// `proposal` (configuration words joined by `-`) with its key exchange
/// groups (those of `groups`) replaced by `group` alone.
fn only_group(proposal: &str, groups: &[String], group: &str) -> String {
    let mut words: Vec<&str> = proposal
        .split('-')
        .filter(|w| !groups.iter().any(|g| g == w) && *w != group)
        .collect();
    words.push(group);
    words.join("-")
}
