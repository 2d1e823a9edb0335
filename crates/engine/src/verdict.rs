//! The live diagnosis: from what happened to a connection's SAs (their ends and
//! kinds, the peer's rekey rhythm, what tern adapted) to findings, each one
//! sentence saying what happened, the evidence behind it, and the setting to
//! change or what to check on the peer.
//!
//! A pure function of its [`Evidence`]: ternctl fills that from ternd's answer,
//! the simulator can fill it from its world. It goes by [`EndKind`] alone; the
//! ends' sentences are only quoted as evidence, never read.

use std::fmt;
use std::time::Duration;

use crate::config::Lifetime;
use crate::end_reason::EndKind;

/// What is known about one connection.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub connection: String,
    /// Our IKE SA lifetimes, as configured.
    pub ike: Option<Lifetime>,
    pub children: Vec<ChildEvidence>,
    /// Our IKE proposals, in the configuration's words.
    pub ike_proposals: Vec<String>,
    /// Whether an IKE SA of the connection is established now.
    pub ike_up: bool,
    /// How old an IKE SA was when the peer last rekeyed it.
    pub ike_peer_rekeyed_at: Option<Duration>,
    /// The connection's recent SA ends, oldest first.
    pub ends: Vec<EndEvidence>,
    /// Daemon-wide counters (not per connection).
    pub counters: Counters,
    /// What the ends' times count from.
    pub clock: Clock,
}

/// What [`EndEvidence::unix_secs`] counts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The Unix epoch: shown as UTC dates.
    #[default]
    Unix,
    /// The start of a simulation: shown as time since then.
    SinceStart,
}

/// One configured child and its SAs now.
#[derive(Clone, Debug, Default)]
pub struct ChildEvidence {
    pub name: String,
    pub lifetime: Option<Lifetime>,
    /// Our ESP proposals, in the configuration's words (`aes128gcm16-x25519`).
    pub esp_proposals: Vec<String>,
    /// The key exchanges every ESP proposal asks for, in the configuration's
    /// words (`x25519`); empty when some proposal has none (no PFS required).
    pub pfs_groups: Vec<String>,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    /// Whether one of its CHILD SAs is installed now.
    pub installed: bool,
    /// How old an SA of it was when the peer last rekeyed it.
    pub peer_rekeyed_at: Option<Duration>,
    /// The age before which tern now rekeys it itself, having seen the peer
    /// delete its SAs at about one age and create them again (`adapt`).
    pub adapted_rekey_before: Option<Duration>,
}

/// One SA's end.
#[derive(Clone, Debug)]
pub struct EndEvidence {
    /// When, in seconds since the Unix epoch (or since the start of a
    /// simulation: [`Evidence::clock`]).
    pub unix_secs: u64,
    /// The CHILD SA's name; `None` for the IKE SA.
    pub child: Option<String>,
    /// Whether it was established before it ended.
    pub was_up: bool,
    pub kind: EndKind,
    /// The engine's sentence, quoted as evidence.
    pub cause: String,
}

/// Daemon-wide counters the engine keeps (`ternctl stats`).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Lines tern rekeys before the age the peer let them expire at.
    pub rekeys_adapted: u64,
    /// Reauthentications instead of a CHILD rekey refused for one-sided PFS.
    pub pfs_reauths: u64,
    /// Our CHILD rekeys that met the peer's, and all we started.
    pub child_rekey_collisions: u64,
    pub child_rekeys_initiated: u64,
}

/// The kinds of findings. The names (`code`) are part of ternctl's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VerdictKind {
    PeerRekeysSooner,
    PeerLetsSasExpire,
    OneSidedPfs,
    NoProposal,
    TsUnacceptable,
    HardExpiry,
    DeadPeer,
    NeverReachable,
    AuthUnanswered,
    AuthFailed,
    EapFailed,
    RecurringCollisions,
    PeerRestarted,
}

impl VerdictKind {
    pub fn code(self) -> &'static str {
        match self {
            VerdictKind::PeerRekeysSooner => "peer_rekeys_sooner",
            VerdictKind::PeerLetsSasExpire => "peer_lets_sas_expire",
            VerdictKind::OneSidedPfs => "one_sided_pfs",
            VerdictKind::NoProposal => "no_proposal",
            VerdictKind::TsUnacceptable => "ts_unacceptable",
            VerdictKind::HardExpiry => "hard_expiry",
            VerdictKind::DeadPeer => "dead_peer",
            VerdictKind::NeverReachable => "never_reachable",
            VerdictKind::AuthUnanswered => "auth_unanswered",
            VerdictKind::AuthFailed => "auth_failed",
            VerdictKind::EapFailed => "eap_failed",
            VerdictKind::RecurringCollisions => "recurring_collisions",
            VerdictKind::PeerRestarted => "peer_restarted",
        }
    }

    /// A note says how things are and needs nothing changed.
    pub fn is_problem(self) -> bool {
        self != VerdictKind::PeerRekeysSooner
    }
}

/// One finding about a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub connection: String,
    pub child: Option<String>,
    /// What happened, with times and counts.
    pub what: String,
    /// What it was judged from.
    pub evidence: Vec<String>,
    /// The configuration key to change (ours or the peer's), when there is one.
    pub setting: Option<&'static str>,
    /// What to change (with a suggested value) or check.
    pub fix: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what)?;
        if !self.fix.is_empty() {
            write!(f, " Fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// A connection's diagnosis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub connection: String,
    /// Problems first, then notes.
    pub verdicts: Vec<Verdict>,
    /// One line of evidence when there is no problem.
    pub healthy: Option<String>,
}

impl Diagnosis {
    pub fn problems(&self) -> usize {
        self.verdicts.iter().filter(|v| v.kind.is_problem()).count()
    }
}

/// How many collisions in a connection's recent ends make a pattern.
const COLLISIONS_RECURRING: usize = 3;

/// Judges one connection.
pub fn diagnose(e: &Evidence) -> Diagnosis {
    let mut verdicts = Vec::new();
    never_up(e, &mut verdicts);
    dead_peer(e, &mut verdicts);
    child_refusals(e, &mut verdicts);
    peer_lets_expire(e, &mut verdicts);
    hard_expiries(e, &mut verdicts);
    restarts(e, &mut verdicts);
    collisions(e, &mut verdicts);
    peer_sooner(e, &mut verdicts);
    verdicts.sort_by_key(|v| !v.kind.is_problem());
    let healthy = verdicts
        .iter()
        .all(|v| !v.kind.is_problem())
        .then(|| healthy_line(e));
    Diagnosis {
        connection: e.connection.clone(),
        verdicts,
        healthy,
    }
}

fn healthy_line(e: &Evidence) -> String {
    let installed: Vec<&str> = e
        .children
        .iter()
        .filter(|c| c.installed)
        .map(|c| c.name.as_str())
        .collect();
    let routine = e.ends.iter().filter(|x| x.kind.is_routine()).count();
    let drops = e.ends.iter().filter(|x| !x.kind.is_routine()).count();
    format!(
        "healthy: IKE SA {}, {} of {} children installed{}; {} routine replacement(s) and {} other end(s) in the recent history, none a problem",
        if e.ike_up { "up" } else { "not up" },
        installed.len(),
        e.children.len(),
        if installed.is_empty() {
            String::new()
        } else {
            format!(" ({})", installed.join(", "))
        },
        routine,
        drops
    )
}

fn ends_of<'a>(
    e: &'a Evidence,
    ike: bool,
    kinds: &'a [EndKind],
) -> impl Iterator<Item = &'a EndEvidence> + 'a {
    e.ends
        .iter()
        .filter(move |x| x.child.is_none() == ike && kinds.contains(&x.kind))
}

/// A moment as the evidence counts time: a UTC date, or time since the start
/// of a simulation.
fn at(e: &Evidence, secs: u64) -> String {
    match e.clock {
        Clock::Unix => when(secs),
        Clock::SinceStart => format!("+{}", elapsed(secs)),
    }
}

/// 42s, 1h3m20s, 7d0h0m.
fn elapsed(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m{s}s"),
        _ => format!("{d}d{h}h{m}m"),
    }
}

fn when(unix_secs: u64) -> String {
    let t = unix_secs % 86_400;
    let days = unix_secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn quote(e: &Evidence, x: &EndEvidence) -> String {
    format!(
        "{} {}{}: {} ({})",
        at(e, x.unix_secs),
        if x.child.is_some() {
            "CHILD SA"
        } else {
            "IKE SA"
        },
        x.child
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default(),
        x.cause,
        x.kind
    )
}

/// Counts and the last of `ends`: "3 times, last at T".
fn summary(e: &Evidence, ends: &[&EndEvidence]) -> String {
    let last = ends.last().map(|x| at(e, x.unix_secs)).unwrap_or_default();
    match ends.len() {
        1 => format!("at {last}"),
        n => format!("{n} times, last at {last}"),
    }
}

fn verdict(
    e: &Evidence,
    kind: VerdictKind,
    child: Option<&str>,
    what: String,
    ends: &[&EndEvidence],
    setting: Option<&'static str>,
    fix: String,
) -> Verdict {
    Verdict {
        kind,
        connection: e.connection.clone(),
        child: child.map(str::to_string),
        what,
        evidence: ends
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|x| quote(e, x))
            .collect(),
        setting,
        fix,
    }
}

/// The IKE SA never came up: no answer at all, no answer to IKE_AUTH,
/// authentication refused, no IKE proposal in common.
fn never_up(e: &Evidence, out: &mut Vec<Verdict>) {
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
            "the evidence names each user and why (unknown user, wrong password, an EAP method the client refused): check the user's name and password in [eap] users / users_file and that the client uses EAP-MSCHAPv2".into(),
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

fn dead_peer(e: &Evidence, out: &mut Vec<Verdict>) {
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
fn child_refusals(e: &Evidence, out: &mut Vec<Verdict>) {
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
            let (what, fix) = if child.pfs_groups.is_empty() {
                (
                    format!(
                        "connection {}, child {name}: its rekey was refused ({}): PFS is wanted by the peer only; the child comes up in IKE_AUTH (which makes no key exchange) but every CREATE_CHILD_SA without a key exchange is refused.",
                        e.connection,
                        summary(e, &no_proposal)
                    ),
                    format!(
                        "add the peer's PFS group to child {name}'s esp_proposals, e.g. \"{}\", or remove the group from the peer's ESP proposals",
                        with_group(child.esp_proposals.first(), "x25519")
                    ),
                )
            } else {
                let groups = child.pfs_groups.join(", ");
                (
                    format!(
                        "connection {}, child {name}: its rekey was refused ({}): PFS ({groups}) is wanted by tern only; the child comes up in IKE_AUTH (which makes no key exchange) but the peer refuses every CREATE_CHILD_SA with {groups}.",
                        e.connection,
                        summary(e, &no_proposal)
                    ),
                    format!(
                        "add {groups} to the peer's ESP proposals (strongSwan: esp_proposals = aes128gcm16-{}), or drop it from child {name}'s esp_proposals",
                        child.pfs_groups[0]
                    ),
                )
            };
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
                format!(
                    "ours are local_ts [{}], remote_ts [{}]: the peer's must be the mirror image (its local_ts our remote_ts) or contain them",
                    child.local_ts.join(", "),
                    child.remote_ts.join(", ")
                ),
            ));
        }
    }
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
fn peer_lets_expire(e: &Evidence, out: &mut Vec<Verdict>) {
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
                _ => continue,
            },
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

fn hard_expiries(e: &Evidence, out: &mut Vec<Verdict>) {
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

fn restarts(e: &Evidence, out: &mut Vec<Verdict>) {
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

fn collisions(e: &Evidence, out: &mut Vec<Verdict>) {
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

fn peer_sooner(e: &Evidence, out: &mut Vec<Verdict>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_796_000_000;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn child(name: &str, pfs: &[&str]) -> ChildEvidence {
        ChildEvidence {
            name: name.into(),
            lifetime: Some(Lifetime::from_rekey_time(secs(3600))),
            esp_proposals: vec![if pfs.is_empty() {
                "aes128gcm16".into()
            } else {
                format!("aes128gcm16-{}", pfs[0])
            }],
            pfs_groups: pfs.iter().map(|s| s.to_string()).collect(),
            local_ts: vec!["10.1.0.0/24".into()],
            remote_ts: vec!["10.2.0.0/24".into()],
            installed: true,
            peer_rekeyed_at: None,
            adapted_rekey_before: None,
        }
    }

    fn evidence(children: Vec<ChildEvidence>, ends: Vec<EndEvidence>) -> Evidence {
        Evidence {
            connection: "gw".into(),
            ike: Some(Lifetime::from_rekey_time(secs(4 * 3600))),
            children,
            ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
            ike_up: true,
            ike_peer_rekeyed_at: None,
            ends,
            counters: Counters::default(),
            clock: Clock::Unix,
        }
    }

    fn end(at: u64, child: Option<&str>, was_up: bool, kind: EndKind) -> EndEvidence {
        EndEvidence {
            unix_secs: T0 + at,
            child: child.map(str::to_string),
            was_up,
            kind,
            cause: format!("{kind} happened"),
        }
    }

    fn only(d: &Diagnosis) -> &Verdict {
        let problems: Vec<_> = d.verdicts.iter().filter(|v| v.kind.is_problem()).collect();
        assert_eq!(problems.len(), 1, "{:#?}", d.verdicts);
        problems[0]
    }

    #[test]
    fn routine_rekeys_are_healthy() {
        let ends = (1..=10)
            .map(|i| end(i * 3300, Some("net"), true, EndKind::Rekeyed))
            .chain([end(40_000, None, true, EndKind::Rekeyed)])
            .collect();
        let d = diagnose(&evidence(vec![child("net", &[])], ends));
        assert!(d.verdicts.is_empty(), "{:#?}", d.verdicts);
        let line = d.healthy.expect("healthy");
        assert!(
            line.contains("IKE SA up, 1 of 1 children installed (net)"),
            "{line}"
        );
        assert!(line.contains("11 routine"), "{line}");
    }

    #[test]
    fn a_peer_that_rekeys_sooner_is_said_once_and_is_no_problem() {
        let mut net = child("net", &[]);
        net.peer_rekeyed_at = Some(secs(2700));
        let d = diagnose(&evidence(vec![net], vec![]));
        assert_eq!(d.verdicts.len(), 1);
        assert_eq!(d.verdicts[0].kind, VerdictKind::PeerRekeysSooner);
        assert!(d.verdicts[0]
            .what
            .contains("after 2700 s, before our rekey_time of 3600 s"));
        assert!(d.healthy.is_some());
        assert_eq!(d.problems(), 0);
        // Within our own jitter and a tenth: not worth a word.
        let mut net = child("net", &[]);
        net.peer_rekeyed_at = Some(secs(3000));
        assert!(diagnose(&evidence(vec![net], vec![])).verdicts.is_empty());
    }

    #[test]
    fn a_peer_that_lets_sas_expire_gets_a_rekey_time_below_its_life() {
        // What adapt saw: the peer deletes at 600 s; tern rekeys before 540 s.
        let mut net = child("net", &[]);
        net.adapted_rekey_before = Some(secs(540));
        let ends = (1..=2)
            .map(|i| end(i * 600, Some("net"), true, EndKind::DeletedByPeer))
            .collect();
        let d = diagnose(&evidence(vec![net], ends));
        let v = only(&d);
        assert_eq!(v.kind, VerdictKind::PeerLetsSasExpire);
        assert_eq!(v.setting, Some("rekey_time"));
        assert!(v.what.contains("deletes each at about 600 s"), "{}", v.what);
        assert!(
            v.what.contains("now rekeys it itself before 540 s"),
            "{}",
            v.what
        );
        assert!(v.fix.contains("rekey_time = \"480s\""), "{}", v.fix);
        assert_eq!(v.evidence.len(), 2);
        assert!(d.healthy.is_none());
        // Without adapt, from the DELETEs alone: three at one interval.
        let ends = (1..=3)
            .map(|i| end(i * 600, Some("net"), true, EndKind::DeletedByPeer))
            .collect();
        let d = diagnose(&evidence(vec![child("net", &[])], ends));
        assert_eq!(only(&d).kind, VerdictKind::PeerLetsSasExpire);
    }

    #[test]
    fn deletions_with_collisions_about_are_no_lifetime() {
        // The peer deletes the redundant SA of each collision it wins.
        let ends: Vec<_> = (1..=3)
            .map(|i| end(i * 3600, Some("net"), true, EndKind::DeletedByPeer))
            .collect();
        let mut e = evidence(vec![child("net", &[])], ends);
        e.counters.child_rekey_collisions = 3;
        e.counters.child_rekeys_initiated = 100;
        assert!(diagnose(&e).verdicts.is_empty());
    }

    #[test]
    fn deletions_at_irregular_times_are_no_lifetime() {
        let ends = vec![
            end(100, Some("net"), true, EndKind::DeletedByPeer),
            end(700, Some("net"), true, EndKind::DeletedByPeer),
            end(3000, Some("net"), true, EndKind::DeletedByPeer),
        ];
        let d = diagnose(&evidence(vec![child("net", &[])], ends));
        assert!(d.verdicts.is_empty(), "{:#?}", d.verdicts);
    }

    #[test]
    fn a_refused_rekey_of_a_child_that_came_up_is_one_sided_pfs_named_in_config_words() {
        // Ours asks for x25519, the peer offers none.
        let ends = vec![end(3300, Some("net"), false, EndKind::NoProposal)];
        let d = diagnose(&evidence(vec![child("net", &["x25519"])], ends.clone()));
        let v = only(&d);
        assert_eq!(v.kind, VerdictKind::OneSidedPfs);
        assert_eq!(v.setting, Some("esp_proposals"));
        assert!(
            v.what.contains("PFS (x25519) is wanted by tern only"),
            "{}",
            v.what
        );
        assert!(v.fix.contains("esp_proposals"), "{}", v.fix);
        assert!(!v.what.contains("reauthenticated"), "{}", v.what);
        // The peer asks for it, ours has none; tern reauthenticated instead.
        let mut e = evidence(vec![child("net", &[])], ends);
        e.counters.pfs_reauths = 2;
        let d = diagnose(&e);
        let v = only(&d);
        assert!(
            v.what.contains("tern reauthenticated instead (2 time(s)"),
            "{}",
            v.what
        );
        assert_eq!(v.kind, VerdictKind::OneSidedPfs);
        assert!(
            v.what.contains("PFS is wanted by the peer only"),
            "{}",
            v.what
        );
        assert!(v.fix.contains("\"aes128gcm16-x25519\""), "{}", v.fix);
    }

    #[test]
    fn a_child_that_never_came_up_has_no_proposal_in_common() {
        let mut net = child("net", &[]);
        net.installed = false;
        let d = diagnose(&evidence(
            vec![net],
            vec![end(5, Some("net"), false, EndKind::NoProposal)],
        ));
        let v = only(&d);
        assert_eq!(v.kind, VerdictKind::NoProposal);
        assert!(v.fix.contains("ours are [aes128gcm16]"), "{}", v.fix);
    }

    #[test]
    fn refused_selectors_name_ours() {
        let d = diagnose(&evidence(
            vec![child("net", &[])],
            vec![end(5, Some("net"), false, EndKind::TsUnacceptable)],
        ));
        let v = only(&d);
        assert_eq!(
            (v.kind, v.setting),
            (VerdictKind::TsUnacceptable, Some("local_ts"))
        );
        assert!(v
            .fix
            .contains("local_ts [10.1.0.0/24], remote_ts [10.2.0.0/24]"));
    }

    #[test]
    fn a_hard_expiry_names_the_failure_before_it() {
        let ends = vec![
            end(3300, Some("net"), false, EndKind::Unanswered),
            end(3960, Some("net"), true, EndKind::HardExpiry),
        ];
        let mut e = evidence(vec![child("net", &[])], ends);
        e.ike_up = true;
        let d = diagnose(&e);
        let v = d
            .verdicts
            .iter()
            .find(|v| v.kind == VerdictKind::HardExpiry)
            .expect("hard expiry");
        assert!(v.what.contains("its rekey went unanswered"), "{}", v.what);
        assert_eq!(v.setting, Some("life_time"));
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn dead_never_reachable_and_auth_unanswered_are_told_apart() {
        let cases = [
            (EndKind::DeadPeer, true, VerdictKind::DeadPeer, "dpd_action"),
            (
                EndKind::Unanswered,
                false,
                VerdictKind::NeverReachable,
                "remote_addrs",
            ),
            (
                EndKind::AuthUnanswered,
                false,
                VerdictKind::AuthUnanswered,
                "fragmentation.enabled",
            ),
            (EndKind::AuthFailed, false, VerdictKind::AuthFailed, "psk"),
            (
                EndKind::EapFailed,
                false,
                VerdictKind::EapFailed,
                "users_file",
            ),
            (
                EndKind::NoProposal,
                false,
                VerdictKind::NoProposal,
                "proposals",
            ),
            (
                EndKind::InitialContact,
                true,
                VerdictKind::PeerRestarted,
                "",
            ),
        ];
        for (kind, was_up, verdict, setting) in cases {
            let d = diagnose(&evidence(
                vec![child("net", &[])],
                vec![end(9, None, was_up, kind)],
            ));
            let v = only(&d);
            assert_eq!(v.kind, verdict);
            assert_eq!(v.setting.unwrap_or(""), setting);
            assert!(v.what.contains("2026-"), "a time: {}", v.what);
        }
    }

    #[test]
    fn collisions_that_keep_coming_suggest_rand_time() {
        let ends: Vec<_> = (1..=2)
            .map(|i| end(i * 3600, Some("net"), true, EndKind::CollisionLoser))
            .collect();
        let d = diagnose(&evidence(vec![child("net", &[])], ends.clone()));
        assert!(d.verdicts.is_empty(), "two are chance");
        let mut ends = ends;
        ends.push(end(3 * 3600, Some("net"), true, EndKind::CollisionLoser));
        let d = diagnose(&evidence(vec![child("net", &[])], ends));
        let v = only(&d);
        assert_eq!(
            (v.kind, v.setting),
            (VerdictKind::RecurringCollisions, Some("rand_time"))
        );
        // Or counted: 72 of 132 rekeys collided (no jitter on either side).
        let mut e = evidence(vec![child("net", &[])], vec![]);
        (
            e.counters.child_rekey_collisions,
            e.counters.child_rekeys_initiated,
        ) = (72, 132);
        assert_eq!(only(&diagnose(&e)).kind, VerdictKind::RecurringCollisions);
        (
            e.counters.child_rekey_collisions,
            e.counters.child_rekeys_initiated,
        ) = (3, 132);
        assert!(diagnose(&e).verdicts.is_empty(), "now and then is chance");
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_709_210_096), "2024-02-29 12:34:56 UTC");
        let e = Evidence {
            clock: Clock::SinceStart,
            ..Evidence::default()
        };
        assert_eq!(at(&e, 3800), "+1h3m20s");
    }
}
