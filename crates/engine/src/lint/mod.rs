//! Settings that will cause trouble before any peer is involved, said when the
//! configuration is loaded (and by `ternctl diagnose --config`, `ternd --check`).
//!
//! Only what tern-config accepts is judged here: a setting it refuses (life_time
//! not above rekey_time, rand_time not below it, ...) is an error there, not a
//! finding here.

use std::fmt;
use std::time::Duration;

use crate::config::{
    ChildConfig, Connection, EngineConfig, EspProposal, IkeProposal, Integrity, KeyExchange,
    Lifetime, Prf, TrafficLifetime,
};
use crate::ts::Ts;

/// One setting that will hurt, where it is and what to change it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub connection: String,
    /// The child the setting belongs to; `None` for the connection's own settings.
    pub child: Option<String>,
    /// The configuration key to change.
    pub setting: &'static str,
    /// One sentence: what goes wrong and a suggested value.
    pub message: String,
}

/// What a [`Finding`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// life_time leaves less than a retransmission after rekey_time.
    LifeMarginTooShort,
    /// rekey_time = 0 with a life_time: the SA simply ends, every life_time.
    RekeyingOff,
    /// Some children of a connection ask for PFS, others do not.
    OneSidedPfs,
    /// Every proposal can only negotiate a legacy algorithm.
    WeakProposals,
    /// dpd_delay is shorter than the first retransmission wait.
    DpdDelayTooShort,
    /// reauth_time is never reached: the IKE SA ends first.
    ReauthNeverHappens,
    /// A traffic limit ends the SA with no traffic rekey before it.
    TrafficLifeWithoutRekey,
    /// Addresses of a connection's pools lie outside a child's remote_ts: a client
    /// given one has its CHILD SA refused.
    PoolOutsideRemoteTs,
}

impl FindingKind {
    /// A stable name for scripts (`--json`).
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::LifeMarginTooShort => "life_margin_too_short",
            FindingKind::RekeyingOff => "rekeying_off",
            FindingKind::OneSidedPfs => "one_sided_pfs",
            FindingKind::WeakProposals => "weak_proposals",
            FindingKind::DpdDelayTooShort => "dpd_delay_too_short",
            FindingKind::ReauthNeverHappens => "reauth_never_happens",
            FindingKind::TrafficLifeWithoutRekey => "traffic_life_without_rekey",
            FindingKind::PoolOutsideRemoteTs => "pool_outside_remote_ts",
        }
    }
}

impl Finding {
    /// "connection NAME" or "connection NAME, child CHILD".
    pub fn location(&self) -> String {
        match &self.child {
            Some(child) => format!("connection {}, child {child}", self.connection),
            None => format!("connection {}", self.connection),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// A finding for each setting of `config` that will hurt; empty when all is well.
pub fn lint<'a>(config: &'a EngineConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    for conn in &config.connections {
        let at = |child: Option<&'a ChildConfig>| Place {
            connection: &conn.name,
            child: child.map(|c| c.name.as_str()),
        };
        let first_retransmit = config.retransmit.base;
        life_margin(at(None), &conn.lifetime, first_retransmit, &mut out);
        ike_without_rekeying(conn, &mut out);
        dpd_delay(conn, first_retransmit, &mut out);
        if all_weak(&conn.ike_proposals, ike_proposal_is_weak) {
            out.push(
                at(None).finding(
                    FindingKind::WeakProposals,
                    "proposals",
                    "every IKE proposal can only negotiate a legacy algorithm (MODP-1024 or \
                 SHA-1): add a modern one first, e.g. \"aes128gcm16-prfsha256-x25519\""
                        .into(),
                ),
            );
        }
        for child in &conn.children {
            life_margin(at(Some(child)), &child.lifetime, first_retransmit, &mut out);
            if let Some(message) = rekeying_off(&child.lifetime, "CHILD SA") {
                out.push(at(Some(child)).finding(FindingKind::RekeyingOff, "rekey_time", message));
            }
            if all_weak(&child.esp_proposals, esp_proposal_is_weak) {
                out.push(
                    at(Some(child)).finding(
                        FindingKind::WeakProposals,
                        "esp_proposals",
                        "every ESP proposal can only negotiate a legacy algorithm (MODP-1024 or \
                     SHA-1): add a modern one first, e.g. \"aes128gcm16\""
                            .into(),
                    ),
                );
            }
            traffic_without_rekey(at(Some(child)), &child.traffic, &mut out);
            pool_outside_remote_ts(at(Some(child)), conn, child, &mut out);
        }
        one_sided_pfs(conn, &mut out);
    }
    out
}

/// Where a finding is: a connection, or one of its children.
#[derive(Clone, Copy)]
struct Place<'a> {
    connection: &'a str,
    child: Option<&'a str>,
}

impl Place<'_> {
    fn finding(self, kind: FindingKind, setting: &'static str, message: String) -> Finding {
        Finding {
            kind,
            connection: self.connection.to_string(),
            child: self.child.map(str::to_string),
            setting,
            message,
        }
    }
}

fn life_margin(at: Place<'_>, l: &Lifetime, first_retransmit: Duration, out: &mut Vec<Finding>) {
    if l.rekey_time.is_zero() || l.life_time.is_zero() {
        return;
    }
    let room = l.life_time.saturating_sub(l.rekey_time);
    if room < first_retransmit {
        out.push(at.finding(
            FindingKind::LifeMarginTooShort,
            "life_time",
            format!(
                "life_time ({} s) leaves {:.1} s after rekey_time ({} s), less than \
                 the first retransmission ({} s): one lost rekey message means a hard \
                 expiry. Leave at least a retransmission schedule between them (the \
                 default life_time is rekey_time + 10 %, here {})",
                l.life_time.as_secs_f64(),
                room.as_secs_f64(),
                l.rekey_time.as_secs_f64(),
                first_retransmit.as_secs_f64(),
                format_duration(l.rekey_time + l.rekey_time / 10),
            ),
        ));
    }
}

/// rekey_time = 0 with a life_time: the SA is not replaced, it ends, and the
/// tunnel is down until it is set up again.
fn rekeying_off(l: &Lifetime, what: &str) -> Option<String> {
    if !l.rekey_time.is_zero() || l.life_time.is_zero() {
        return None;
    }
    Some(format!(
        "rekey_time is 0 (rekeying off) but life_time is {}: the {what} ends every {} \
         and the tunnel drops until it is set up again; set rekey_time below life_time, \
         e.g. {}",
        format_duration(l.life_time),
        format_duration(l.life_time),
        format_duration(below(l.life_time)),
    ))
}

/// The IKE SA without rekeying: reauthentication replaces it before life_time, or
/// nothing does. An IKE rekey keeps the reauthentication time, so with rekeying
/// on, any reauth_time is eventually reached.
fn ike_without_rekeying(conn: &Connection, out: &mut Vec<Finding>) {
    let l = &conn.lifetime;
    if !l.rekey_time.is_zero() || l.life_time.is_zero() {
        return;
    }
    let at = Place {
        connection: &conn.name,
        child: None,
    };
    let reauth = conn.reauth_time;
    if reauth.is_zero() {
        if let Some(message) = rekeying_off(l, "IKE SA (with its CHILD SAs)") {
            out.push(at.finding(FindingKind::RekeyingOff, "rekey_time", message));
        }
    } else if reauth >= l.life_time {
        out.push(at.finding(
            FindingKind::ReauthNeverHappens,
            "reauth_time",
            format!(
                "reauth_time ({}) is not shorter than the IKE life_time ({}) and IKE \
                 rekeying is off: the IKE SA ends before it reauthenticates, so \
                 reauthentication never happens; set reauth_time below life_time, e.g. {}",
                format_duration(reauth),
                format_duration(l.life_time),
                format_duration(below(l.life_time)),
            ),
        ));
    }
}

fn dpd_delay(conn: &Connection, first_retransmit: Duration, out: &mut Vec<Finding>) {
    let delay = conn.dpd_delay;
    if delay.is_zero() || delay >= first_retransmit {
        return;
    }
    let at = Place {
        connection: &conn.name,
        child: None,
    };
    out.push(at.finding(
        FindingKind::DpdDelayTooShort,
        "dpd_delay",
        format!(
            "dpd_delay ({}) is shorter than the first retransmission wait ({}): an idle \
             tunnel sends a liveness check every {}, more often than a lost message is \
             retransmitted, which loads both ends for little gain; set dpd_delay to at \
             least {}, e.g. 30s",
            format_duration_exact(delay),
            format_duration_exact(first_retransmit),
            format_duration_exact(delay),
            format_duration_exact(first_retransmit),
        ),
    ));
}

/// Children that all ask for a key exchange beside children that never do: the
/// peer must match each of them, or some rekeys fail.
fn one_sided_pfs(conn: &Connection, out: &mut Vec<Finding>) {
    let with_pfs = |c: &&ChildConfig| c.esp_proposals.iter().all(|p| !p.key_exchange.is_empty());
    let without_pfs = |c: &&ChildConfig| c.esp_proposals.iter().all(|p| p.key_exchange.is_empty());
    let names = |f: &dyn Fn(&&ChildConfig) -> bool| -> Vec<&str> {
        conn.children
            .iter()
            .filter(|c| !c.esp_proposals.is_empty())
            .filter(f)
            .map(|c| c.name.as_str())
            .collect()
    };
    let (pfs, no_pfs) = (names(&with_pfs), names(&without_pfs));
    if pfs.is_empty() || no_pfs.is_empty() {
        return;
    }
    let at = Place {
        connection: &conn.name,
        child: None,
    };
    out.push(at.finding(
        FindingKind::OneSidedPfs,
        "esp_proposals",
        format!(
            "{} for PFS (a key exchange in every esp_proposal) and {} not: harmless \
             alone, but the peer's children must match each one, or their rekeys fail; \
             if that is not meant, give all of them the same key exchange, e.g. \
             \"aes128gcm16-x25519\"",
            children(&pfs, "asks", "ask"),
            children(&no_pfs, "does", "do"),
        ),
    ));
}

/// "child a asks" or "children a, b ask".
fn children(names: &[&str], one: &str, many: &str) -> String {
    match names {
        [name] => format!("child {name} {one}"),
        _ => format!("children {} {many}", names.join(", ")),
    }
}

fn traffic_without_rekey(at: Place<'_>, t: &TrafficLifetime, out: &mut Vec<Finding>) {
    for (unit, rekey, life) in [
        ("bytes", t.rekey_bytes, t.life_bytes),
        ("packets", t.rekey_packets, t.life_packets),
    ] {
        if life == 0 || rekey != 0 {
            continue;
        }
        let setting = if unit == "bytes" {
            "rekey_bytes"
        } else {
            "rekey_packets"
        };
        out.push(at.finding(
            FindingKind::TrafficLifeWithoutRekey,
            setting,
            format!(
                "life_{unit} is {life} but rekey_{unit} is 0: the SA ends when it has \
                 carried {life} {unit} with no rekey before, and the tunnel drops; set \
                 rekey_{unit} below it, e.g. {}",
                life / 11 * 10
            ),
        ));
    }
}

/// A client's CHILD SA is narrowed to its virtual IP, which must then lie within
/// the child's remote_ts (see `config_payload`).
fn pool_outside_remote_ts(
    at: Place<'_>,
    conn: &Connection,
    child: &ChildConfig,
    out: &mut Vec<Finding>,
) {
    // Addresses only: a remote_ts narrowed to a protocol or ports still takes the
    // client's address.
    let any_traffic = |mut ts: Ts| {
        ts.protocol = 0;
        ts.start_port = 0;
        ts.end_port = u16::MAX;
        ts
    };
    let remote: Vec<Ts> = child
        .remote_ts
        .iter()
        .map(|c| any_traffic(Ts::from_config(c)))
        .collect();
    let outside = conn.pools.iter().find_map(|pool| {
        pool.ranges
            .iter()
            .find(|r| {
                let range = Ts {
                    protocol: 0,
                    start_port: 0,
                    end_port: u16::MAX,
                    start: r.first,
                    end: r.last,
                };
                !remote.iter().any(|ts| range.is_within(ts))
            })
            .map(|r| (pool, r))
    });
    if let Some((pool, range)) = outside {
        out.push(at.finding(
            FindingKind::PoolOutsideRemoteTs,
            "remote_ts",
            format!(
                "pool `{}` hands out {}-{}, outside remote_ts ({}): a client given one of \
                 these addresses has its CHILD SA refused (TS_UNACCEPTABLE); make remote_ts \
                 cover the pool, e.g. \"0.0.0.0/0\" and \"::/0\"",
                pool.name,
                range.first,
                range.last,
                crate::ts::describe(&remote)
            ),
        ));
    }
}

/// Whether there are proposals and none of them can avoid a legacy algorithm.
fn all_weak<P>(proposals: &[P], weak: fn(&P) -> bool) -> bool {
    !proposals.is_empty() && proposals.iter().all(weak)
}

/// A proposal is weak when some transform it needs has only legacy choices:
/// whatever the peer picks from it, a legacy algorithm is in.
fn ike_proposal_is_weak(p: &IkeProposal) -> bool {
    only_legacy_key_exchange(&p.key_exchange)
        || (!p.prf.is_empty() && p.prf.iter().all(|prf| *prf == Prf::HmacSha1))
        || integrity_forced_legacy(&p.encryption, &p.integrity)
}

fn esp_proposal_is_weak(p: &EspProposal) -> bool {
    only_legacy_key_exchange(&p.key_exchange)
        || integrity_forced_legacy(&p.encryption, &p.integrity)
}

fn only_legacy_key_exchange(ke: &[KeyExchange]) -> bool {
    !ke.is_empty() && ke.iter().all(|k| *k == KeyExchange::Modp1024)
}

/// Integrity is only needed when no encryption algorithm is AEAD.
fn integrity_forced_legacy(
    encryption: &[crate::config::Encryption],
    integrity: &[Integrity],
) -> bool {
    !encryption.iter().any(|e| e.is_aead())
        && !integrity.is_empty()
        && integrity.iter().all(|i| *i == Integrity::HmacSha1_96)
}

/// A suggested rekey point before `life`: its default relation (life_time is
/// rekey_time + 10 %), in whole minutes when that is long enough to matter.
fn below(life: Duration) -> Duration {
    let secs = life.as_secs() * 10 / 11;
    Duration::from_secs(if secs >= 600 { secs / 60 * 60 } else { secs })
}

/// A duration as the configuration file writes it (`3600s` is `1h`), whole seconds.
fn format_duration(d: Duration) -> String {
    match d.as_secs() {
        0 => "0s".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Retransmission waits may be fractions of a second.
fn format_duration_exact(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format_duration(d)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
