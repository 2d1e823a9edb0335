//! Looking ahead: live SAs that will end before anything renews them, said
//! while there is still time to act. Judged from each line's SA as it stands
//! now ([`SaNow`]): its failed rekeys, its rekey and life times, and the age
//! at which the peer lets its SAs expire.

use super::findings::{one_sided_pfs, peer_life, ts_fix};
use super::*;

/// The live SA of each line: the IKE SA (no child), then each child's.
fn live_lines(e: &Evidence) -> impl Iterator<Item = (Option<&ChildEvidence>, &SaNow)> {
    let ike = e.ike_sa.as_ref().map(|sa| (None, sa));
    let children = e
        .children
        .iter()
        .filter_map(|c| c.sa.as_ref().map(|sa| (Some(c), sa)));
    ike.into_iter().chain(children)
}

/// A line as a verdict names it.
fn line_name(e: &Evidence, child: Option<&ChildEvidence>) -> String {
    match child {
        Some(c) => format!("connection {}, child {}", e.connection, c.name),
        None => format!("connection {}, IKE SA", e.connection),
    }
}

/// One lost message is routine on a lossy path: a rekey is worth a word
/// once it was sent this often without an answer.
const UNANSWERED_SENDS: u32 = 3;

/// Our rekey of a live SA has been sent again and again without an answer:
/// the SA will reach its life_time unless one comes, and the IKE SA is given
/// up as dead once the retransmissions run out.
pub(super) fn rekey_unanswered(e: &Evidence, out: &mut Vec<Verdict>) {
    for (child, sa) in live_lines(e) {
        let Some(u) = sa.rekey_unanswered.filter(|u| u.sends >= UNANSWERED_SENDS) else {
            continue;
        };
        let ends = match sa.expire_at {
            Some(end) if end > e.now => format!(
                "the SA ends at {} when its life_time is reached, and ",
                ahead(e, end)
            ),
            _ => String::new(),
        };
        out.push(Verdict {
            kind: VerdictKind::RekeyUnanswered,
            connection: e.connection.clone(),
            child: child.map(|c| c.name.clone()),
            what: format!(
                "{}: our rekey has gone unanswered since {} ({} sends): unless an answer comes, {ends}the IKE SA is given up as dead when the retransmissions run out.",
                line_name(e, child),
                at(e, u.first_sent_at),
                u.sends
            ),
            evidence: vec![format!(
                "{} {} request first sent at {}, sent {} times, not answered",
                line_name(e, child),
                if child.is_some() { "CHILD SA rekey" } else { "IKE SA rekey" },
                at(e, u.first_sent_at),
                u.sends
            )],
            setting: None,
            fix: "check that the peer is up and that IKE (UDP 500 and 4500) passes both ways; the peer's log shows whether the rekey requests reach it".into(),
        });
    }
}

/// Failures that may clear up on the next try (a TEMPORARY_FAILURE, an answer
/// we could not use) are worth a word only once they repeat this often.
const TRANSIENT_REPEATS: u32 = 3;

/// Our rekey of a live SA failed and the SA still carries the traffic: it
/// reaches its life_time at `expire_at` unless a retry succeeds.
pub(super) fn rekey_failed_will_expire(e: &Evidence, out: &mut Vec<Verdict>) {
    for (child, sa) in live_lines(e) {
        let (Some(f), Some(end)) = (&sa.rekey_failed, sa.expire_at) else {
            continue;
        };
        let transient = matches!(
            f.kind,
            EndKind::RefusedByPeer | EndKind::PeerMisbehaved | EndKind::Other
        );
        if end <= e.now || (transient && f.count < TRANSIENT_REPEATS) {
            continue;
        }
        let line = line_name(e, child);
        let with = match child {
            Some(_) => "and the child's traffic with it",
            None => "taking every CHILD SA of the connection with it",
        };
        let (cause, setting, fix) = refusal(e, child, f.kind);
        let times = match f.count {
            1 => format!("at {}", at(e, f.last_at)),
            n => format!(
                "{n} times since {}, the last at {}",
                at(e, f.first_at),
                at(e, f.last_at)
            ),
        };
        out.push(Verdict {
            kind: VerdictKind::RekeyFailedWillExpire,
            connection: e.connection.clone(),
            child: child.map(|c| c.name.clone()),
            what: format!(
                "{line}: its rekey failed ({times}): {cause}. The SA will end at {} when its life_time is reached, {with}, unless a retry succeeds first.",
                ahead(e, end)
            ),
            evidence: vec![format!(
                "{} {}: {} ({})",
                at(e, f.last_at),
                if child.is_some() { "CHILD SA rekey" } else { "IKE SA rekey" },
                f.cause,
                f.kind
            )],
            setting,
            fix,
        });
    }
}

/// The cause of a failed rekey in the refusal findings' words, the key to
/// change and the fix.
fn refusal(
    e: &Evidence,
    child: Option<&ChildEvidence>,
    kind: EndKind,
) -> (String, Option<&'static str>, String) {
    match (child, kind) {
        // The child came up in IKE_AUTH with these proposals: only the key
        // exchange, which IKE_AUTH's CHILD SA never carries, can differ.
        (Some(c), EndKind::NoProposal) => {
            let (cause, fix) = one_sided_pfs(c);
            (cause, Some("esp_proposals"), fix)
        }
        (Some(c), EndKind::TsUnacceptable) => (
            "the peer refused the traffic selectors (TS_UNACCEPTABLE)".into(),
            Some("local_ts"),
            ts_fix(c),
        ),
        (None, EndKind::NoProposal) => (
            "the peer accepts none of our IKE proposals for the rekey".into(),
            Some("proposals"),
            format!(
                "ours are [{}]; add one the peer offers to proposals, or one of ours on the peer",
                e.ike_proposals.join(", ")
            ),
        ),
        (c, EndKind::InvalidKeLoop) => (
            "the peer keeps answering INVALID_KE_PAYLOAD, asking for a key exchange group it refused before".into(),
            Some(if c.is_some() { "esp_proposals" } else { "proposals" }),
            "offer one key exchange group both sides take, alone or first, on both sides (the invalid_ke_loop finding names them)".into(),
        ),
        (_, kind) => (
            format!("the peer refused it ({kind})"),
            None,
            "see what the peer said in the evidence, and its log for why it refuses the rekey"
                .into(),
        ),
    }
}

/// The peer lets the SAs of a line expire at an age (adapt learned it, or its
/// DELETEs came at one interval) that the current SA reaches before our rekey:
/// the SA ends on the peer's side first, and the tunnel drops until a new one
/// is made. When tern's adaptive rekey renews it first, that is a note.
pub(super) fn peer_ends_first(e: &Evidence, out: &mut Vec<Verdict>) {
    for (child, sa) in live_lines(e) {
        let name = child.map(|c| c.name.as_str());
        let adapted = child.and_then(|c| c.adapted_rekey_before);
        let Some((life, deleted)) = peer_life(e, name, adapted) else {
            continue;
        };
        let peer_end = sa.installed_at + life;
        if peer_end <= e.now {
            continue;
        }
        let line = line_name(e, child);
        let ends = |will: &str| {
            format!(
                "the peer's SA {will} end at {}, at the age of about {life} s at which the peer lets its SAs expire",
                ahead(e, peer_end)
            )
        };
        let evidence: Vec<String> = deleted
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|x| quote(e, x))
            .chain([format!(
                "installed at {}, rekey at {}",
                at(e, sa.installed_at),
                sa.rekey_at
                    .map_or("none (rekeying off, or under way)".into(), |t| at(e, t))
            )])
            .collect();
        match (adapted, sa.rekey_at) {
            // adapt brought our rekey forward to a tenth before the age it saw,
            // so it comes first (to the second, the two may look alike).
            (Some(before), Some(rekey)) => {
                out.push(Verdict {
                    kind: VerdictKind::AdaptedRekeyAhead,
                    connection: e.connection.clone(),
                    child: name.map(str::to_string),
                    what: format!(
                        "{line}: {}; tern's adaptive rekey (before an age of {} s) renews it at {}, first, so the tunnel will not drop.",
                        ends("would"),
                        before.as_secs(),
                        ahead(e, rekey)
                    ),
                    evidence,
                    setting: None,
                    fix: String::new(),
                });
            }
            // Ours is under way, or comes first.
            (Some(_), None) => {}
            (None, Some(rekey)) if rekey < peer_end => {}
            (None, rekey) => {
                let ours = match rekey {
                    Some(t) => format!("before ours rekeys at {}", ahead(e, t)),
                    None => "and ours is not due to rekey before then".into(),
                };
                let rekey_below = life * 8 / 10;
                out.push(Verdict {
                    kind: VerdictKind::PeerEndsFirst,
                    connection: e.connection.clone(),
                    child: name.map(str::to_string),
                    what: format!(
                        "{line}: {}, {ours}: the tunnel will drop then until a new SA is made.",
                        ends("will")
                    ),
                    evidence,
                    setting: Some("rekey_time"),
                    fix: format!(
                        "set rekey_time below the peer's life of {life} s, e.g. rekey_time = \"{rekey_below}s\" (rekey_adapt, on by default, learns it after two such ends), or turn rekeying on at the peer (strongSwan: rekey_time below life_time)"
                    ),
                });
            }
        }
    }
}
