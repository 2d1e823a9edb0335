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

use crate::civil_time::civil_from_days;
use crate::config::Lifetime;
use crate::end_reason::{EndKind, KeGroups};

mod ahead;
mod esp;
mod findings;
mod kernel;
mod nat;
mod repeats;
use ahead::{peer_ends_first, rekey_failed_will_expire, rekey_unanswered};
use esp::esp_not_arriving;
use findings::{
    child_refusals, collisions, dead_peer, hard_expiries, invalid_ke_loops, never_up,
    peer_lets_expire, peer_sooner, restarts,
};
use kernel::kernel_refusals;
use nat::{nat_keepalives_off, nat_mapping_changes};
use repeats::{duplicates, repeated_deletes};

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
    /// The newest established IKE SA, as it stands now.
    pub ike_sa: Option<SaNow>,
    /// The connection's recent SA ends, oldest first.
    pub ends: Vec<EndEvidence>,
    /// Daemon-wide counters (not per connection).
    pub counters: Counters,
    /// What the ends' times count from.
    pub clock: Clock,
    /// The moment judged, on the same clock as the ends' times.
    pub now: u64,
}

/// One SA as it stands now: its times on the evidence's clock (seconds), and
/// our rekeys of it that failed.
#[derive(Clone, Debug, Default)]
pub struct SaNow {
    pub installed_at: u64,
    /// When we rekey it; none while rekeying, or with rekeying off.
    pub rekey_at: Option<u64>,
    /// When it reaches its life_time.
    pub expire_at: Option<u64>,
    pub rekey_failed: Option<RekeyFailed>,
    /// Our rekey of it in flight, sent more than once and not answered yet.
    pub rekey_unanswered: Option<Unanswered>,
    /// A CHILD SA's packets through the kernel so far (none without a kernel,
    /// and for an IKE SA).
    pub traffic: Option<Traffic>,
    /// An IKE SA's NAT traversal, when a NAT is in the way (none for a CHILD SA).
    pub nat: Option<NatNow>,
}

/// What NAT detection found for an IKE SA, and the peer's mapping changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NatNow {
    /// This host is behind a NAT.
    pub local_behind: bool,
    pub peer_behind: bool,
    /// How often we send NAT-keepalives (none: not behind a NAT, or turned off).
    pub keepalive_every: Option<Duration>,
    /// How often the peer's mapping changed while established.
    pub mapping_changes: u32,
    pub first_change_at: Option<u64>,
    pub last_change_at: Option<u64>,
}

/// Packets a CHILD SA's two ESP SAs carried, as the kernel counts them.
#[derive(Clone, Copy, Debug)]
pub struct Traffic {
    pub packets_in: u64,
    pub packets_out: u64,
}

/// A request of ours sent again and again without an answer.
#[derive(Clone, Copy, Debug)]
pub struct Unanswered {
    /// How many times it was sent, the first time included.
    pub sends: u32,
    /// When it was first sent.
    pub first_sent_at: u64,
}

/// Our rekeys of an SA that failed while it goes on.
#[derive(Clone, Debug)]
pub struct RekeyFailed {
    /// The last failure's kind, and its sentence (quoted as evidence).
    pub kind: EndKind,
    pub cause: String,
    pub count: u32,
    pub first_at: u64,
    pub last_at: u64,
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
    /// Its newest installed CHILD SA, as it stands now.
    pub sa: Option<SaNow>,
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
    /// For an INVALID_KE_PAYLOAD loop, the groups of each side.
    pub ke_groups: Option<KeGroups>,
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
    /// EAP-RADIUS logins no RADIUS server answered.
    RadiusUnreachable,
    RecurringCollisions,
    PeerRestarted,
    /// Looking ahead: our rekey of a live SA failed; it will reach its life_time.
    RekeyFailedWillExpire,
    /// Looking ahead: our rekey of a live SA goes unanswered, retransmitted.
    RekeyUnanswered,
    /// ESP goes out on a CHILD SA and nothing comes in.
    EspNotArriving,
    /// Looking ahead: the peer's SA will end (its life) before ours rekeys.
    PeerEndsFirst,
    /// Looking ahead: the peer's SA would end before our rekey_time, and tern's
    /// adaptive rekey renews it first.
    AdaptedRekeyAhead,
    /// INVALID_KE_PAYLOAD back and forth: the groups never meet.
    InvalidKeLoop,
    /// Duplicate IKE or CHILD SAs, again and again.
    RepeatedDuplicates,
    /// The peer deletes a child's SAs again and again.
    RepeatedDeletes,
    /// This host's kernel refused a child's ESP SAs.
    KernelRefused,
    /// The peer's NAT mapping changes again and again.
    NatMappingChanges,
    /// Behind a NAT with keepalives turned off.
    NatKeepalivesOff,
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
            VerdictKind::RekeyUnanswered => "rekey_unanswered",
            VerdictKind::EspNotArriving => "esp_not_arriving",
            VerdictKind::AuthFailed => "auth_failed",
            VerdictKind::EapFailed => "eap_failed",
            VerdictKind::RadiusUnreachable => "radius_unreachable",
            VerdictKind::RecurringCollisions => "recurring_collisions",
            VerdictKind::PeerRestarted => "peer_restarted",
            VerdictKind::RekeyFailedWillExpire => "rekey_failed_will_expire",
            VerdictKind::PeerEndsFirst => "peer_ends_first",
            VerdictKind::AdaptedRekeyAhead => "adapted_rekey_ahead",
            VerdictKind::InvalidKeLoop => "invalid_ke_loop",
            VerdictKind::RepeatedDuplicates => "repeated_duplicates",
            VerdictKind::RepeatedDeletes => "repeated_deletes",
            VerdictKind::KernelRefused => "kernel_refused",
            VerdictKind::NatMappingChanges => "nat_mapping_changes",
            VerdictKind::NatKeepalivesOff => "nat_keepalives_off",
        }
    }

    /// A note says how things are and needs nothing changed.
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            VerdictKind::PeerRekeysSooner | VerdictKind::AdaptedRekeyAhead
        )
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
    kernel_refusals(e, &mut verdicts);
    invalid_ke_loops(e, &mut verdicts);
    peer_lets_expire(e, &mut verdicts);
    hard_expiries(e, &mut verdicts);
    restarts(e, &mut verdicts);
    collisions(e, &mut verdicts);
    duplicates(e, &mut verdicts);
    repeated_deletes(e, &mut verdicts);
    peer_sooner(e, &mut verdicts);
    rekey_failed_will_expire(e, &mut verdicts);
    rekey_unanswered(e, &mut verdicts);
    esp_not_arriving(e, &mut verdicts);
    nat_mapping_changes(e, &mut verdicts);
    nat_keepalives_off(e, &mut verdicts);
    peer_ends_first(e, &mut verdicts);
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

/// "T (in N s)": a moment to come.
fn ahead(e: &Evidence, secs: u64) -> String {
    format!("{} (in {} s)", at(e, secs), secs.saturating_sub(e.now))
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

#[cfg(test)]
mod tests;
