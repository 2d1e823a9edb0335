//! The verdict at the end of a simulation: the local side's engine judged as
//! `ternctl diagnose` judges a running ternd (tern_engine::verdict), from its
//! SAs' ends, the peer's rekey rhythm and its counters.

use std::time::{Duration, Instant};

use serde::Serialize;
use tern_engine::config::Connection;
use tern_engine::verdict::{
    self, ChildEvidence, Clock, Counters, EndEvidence, Evidence, NatNow, RekeyFailed, SaNow,
    Unanswered,
};
use tern_engine::{Engine, RekeyFailedInfo, Stats, UnansweredInfo};

/// One connection's verdict, as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnVerdict {
    pub connection: String,
    pub healthy: bool,
    /// The one line of evidence when healthy.
    pub summary: Option<String>,
    pub findings: Vec<VerdictFinding>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerdictFinding {
    pub kind: &'static str,
    /// False for a note (the peer rekeys sooner): nothing to change.
    pub problem: bool,
    pub child: Option<String>,
    pub message: String,
    pub evidence: Vec<String>,
    pub setting: Option<&'static str>,
    pub fix: String,
}

/// Every configured connection of `engine`, judged at `now`; times count from `start`.
pub fn judge(engine: &Engine, stats: &Stats, start: Instant, now: Instant) -> Vec<ConnVerdict> {
    engine
        .config()
        .connections
        .iter()
        .map(|conn| {
            let d = verdict::diagnose(&evidence(engine, conn, stats, start, now));
            ConnVerdict {
                connection: d.connection.clone(),
                healthy: d.healthy.is_some(),
                summary: d.healthy.clone(),
                findings: d
                    .verdicts
                    .iter()
                    .map(|v| VerdictFinding {
                        kind: v.kind.code(),
                        problem: v.kind.is_problem(),
                        child: v.child.clone(),
                        message: v.what.clone(),
                        evidence: v.evidence.clone(),
                        setting: v.setting,
                        fix: v.fix.clone(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn evidence(
    engine: &Engine,
    conn: &Connection,
    stats: &Stats,
    start: Instant,
    now: Instant,
) -> Evidence {
    let described = tern_config::conn_info(conn);
    let now_s = now.saturating_duration_since(start);
    let sas: Vec<_> = engine
        .list_sas(now)
        .into_iter()
        .filter(|sa| sa.connection == conn.name && sa.state == "ESTABLISHED")
        .collect();
    let children = conn
        .children
        .iter()
        .zip(&described.children)
        .map(|(child, words)| {
            let of = || {
                sas.iter()
                    .flat_map(|sa| sa.children.iter())
                    .filter(|c| c.name == child.name)
            };
            ChildEvidence {
                name: child.name.clone(),
                lifetime: Some(child.lifetime),
                esp_proposals: words.esp_proposals.clone(),
                pfs_groups: words.pfs_groups.clone(),
                local_ts: words.local_ts.clone(),
                remote_ts: words.remote_ts.clone(),
                installed: of().any(|c| matches!(c.state, "INSTALLED" | "REKEYING" | "REKEYED")),
                peer_rekeyed_at: of().filter_map(|c| c.peer_rekeyed_at).min(),
                adapted_rekey_before: of().filter_map(|c| c.adapted_rekey_before).min(),
                sa: of()
                    .filter(|c| matches!(c.state, "INSTALLED" | "REKEYING"))
                    .min_by_key(|c| c.installed_for)
                    .map(|c| {
                        sa_now(
                            now_s,
                            c.installed_for,
                            c.rekey_in,
                            c.expires_in,
                            c.rekey_failed.as_ref(),
                            c.rekey_unanswered,
                        )
                    }),
            }
        })
        .collect();
    let ends = engine
        .history()
        .into_iter()
        .filter(|(name, _)| *name == conn.name)
        .flat_map(|(_, ends)| ends)
        .map(|end| EndEvidence {
            unix_secs: end.at.saturating_duration_since(start).as_secs(),
            child: (!end.child.is_empty()).then(|| end.child.clone()),
            was_up: end.was_up,
            kind: end.cause.kind,
            cause: end.cause.text.clone(),
            ke_groups: end.cause.ke_groups.as_deref().cloned(),
        })
        .collect();
    Evidence {
        connection: conn.name.clone(),
        ike: Some(conn.lifetime),
        children,
        ike_proposals: described.ike_proposals.clone(),
        ike_up: !sas.is_empty(),
        ike_peer_rekeyed_at: sas.iter().filter_map(|sa| sa.peer_rekeyed_at).min(),
        ike_sa: sas
            .iter()
            .filter_map(|sa| sa.established_for.map(|age| (age, sa)))
            .min_by_key(|(age, _)| *age)
            .map(|(age, sa)| SaNow {
                nat: sa.nat.map(|n| NatNow {
                    local_behind: n.local_behind,
                    peer_behind: n.peer_behind,
                    keepalive_every: n.keepalive_every,
                    mapping_changes: n.mapping_changes,
                    first_change_at: n
                        .first_change_ago
                        .map(|d| now_s.saturating_sub(d).as_secs()),
                    last_change_at: n.last_change_ago.map(|d| now_s.saturating_sub(d).as_secs()),
                }),
                ..sa_now(
                    now_s,
                    age,
                    sa.rekey_in,
                    sa.expires_in,
                    sa.rekey_failed.as_ref(),
                    sa.rekey_unanswered,
                )
            }),
        ends,
        counters: Counters {
            rekeys_adapted: stats.rekeys_adapted,
            pfs_reauths: stats.pfs_reauths,
            child_rekey_collisions: stats.child_rekey_collisions,
            child_rekeys_initiated: stats.child_rekeys_initiated,
        },
        clock: Clock::SinceStart,
        now: now_s.as_secs(),
    }
}

/// An SA as it stands at `now` (since the start), in whole seconds as the
/// ends' times are.
fn sa_now(
    now: Duration,
    age: Duration,
    rekey_in: Option<Duration>,
    expires_in: Option<Duration>,
    failed: Option<&RekeyFailedInfo>,
    unanswered: Option<UnansweredInfo>,
) -> SaNow {
    SaNow {
        installed_at: now.saturating_sub(age).as_secs(),
        rekey_at: rekey_in.map(|d| (now + d).as_secs()),
        expire_at: expires_in.map(|d| (now + d).as_secs()),
        rekey_failed: failed.map(|f| RekeyFailed {
            kind: f.kind,
            cause: f.cause.clone(),
            count: f.count,
            first_at: now.saturating_sub(f.first_ago).as_secs(),
            last_at: now.saturating_sub(f.last_ago).as_secs(),
        }),
        rekey_unanswered: unanswered.map(|u| Unanswered {
            sends: u.sends,
            first_sent_at: now.saturating_sub(u.first_sent_ago).as_secs(),
        }),
        // The simulation carries IKE only.
        traffic: None,
        nat: None,
    }
}
