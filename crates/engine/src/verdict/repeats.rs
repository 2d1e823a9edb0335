//! Habits of the peer that cost nothing once but say something wrong when they
//! keep coming: duplicate IKE or CHILD SAs set up again and again, and the
//! same child deleted again and again (neither at one interval, which is a
//! lifetime: `peer_lets_sas_expire`, nor in collisions).

use super::findings::peer_life;
use super::*;

/// How many duplicates in the recent history make a habit.
const REPEATED: usize = 3;
/// How many DELETEs of one child: a peer's administrator or a restart of its
/// service can close a child now and then.
const DELETED_OFTEN: usize = 4;

pub(super) fn duplicates(e: &Evidence, out: &mut Vec<Verdict>) {
    let dups: Vec<&EndEvidence> = e
        .ends
        .iter()
        .filter(|x| x.kind == EndKind::Duplicate)
        .collect();
    if dups.len() < REPEATED {
        return;
    }
    let ike = dups.iter().filter(|x| x.child.is_none()).count();
    let what = match (ike, dups.len() - ike) {
        (i, 0) => format!("{i} duplicate IKE SA(s)"),
        (0, c) => format!("{c} duplicate CHILD SA(s)"),
        (i, c) => format!("{i} duplicate IKE SA(s) and {c} duplicate CHILD SA(s)"),
    };
    out.push(verdict(
        e,
        VerdictKind::RepeatedDuplicates,
        None,
        format!(
            "connection {}: the two sides keep setting up the same SAs at once ({what} in the recent history, last at {}); tern keeps one of each pair and deletes the other, so nothing drops, but each time both sides negotiate twice.",
            e.connection,
            dups.last().map(|x| at(e, x.unix_secs)).unwrap_or_default()
        ),
        &dups,
        Some("start_action"),
        "let one side initiate: start_action = \"start\" on one end, \"trap\" or \"none\" on the other (strongSwan: start_action = none or trap); if both reauthenticate, give only one a reauth_time (strongSwan: reauth_time = 0 on the peer)".into(),
    ));
}

/// The peer deleted a child's SAs again and again, at no regular age.
pub(super) fn repeated_deletes(e: &Evidence, out: &mut Vec<Verdict>) {
    for child in &e.children {
        let name = child.name.as_str();
        // A lifetime of the peer's is another finding's (and not a close);
        // with collisions about, the peer deletes the redundant SAs it made.
        if peer_life(e, Some(name), child.adapted_rekey_before).is_some()
            || e.counters.child_rekey_collisions > 0
        {
            continue;
        }
        let deleted: Vec<&EndEvidence> = e
            .ends
            .iter()
            .filter(|x| {
                x.child.as_deref() == Some(name) && x.was_up && x.kind == EndKind::DeletedByPeer
            })
            .collect();
        if deleted.len() < DELETED_OFTEN {
            continue;
        }
        out.push(verdict(
            e,
            VerdictKind::RepeatedDeletes,
            Some(name),
            format!(
                "connection {}, child {name}: the peer deleted its SA {} times in the recent history (last at {}), at no regular age, and it was set up again{}.",
                e.connection,
                deleted.len(),
                at(e, deleted[deleted.len() - 1].unix_secs),
                if child.installed {
                    "; it is installed now"
                } else {
                    ""
                }
            ),
            &deleted,
            None,
            "check the peer's log for why it closes the child (an administrator or script terminating it, its own dead peer detection, a policy or reload that removes it) and its close action, which sets it up again (strongSwan: close_action)".into(),
        ));
    }
}
