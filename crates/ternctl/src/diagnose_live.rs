//! `ternctl diagnose [CONN]`: ternd's evidence (configuration, SAs, recent ends,
//! counters) turned into tern-engine's verdict input, judged, and printed.

use std::time::Duration;

use serde_json::json;
use tern_control::{
    ChildSaState, ConnEvidence, IkeSaState, LifetimeInfo, NatInfo, RekeyFailedInfo, StatsInfo,
    UnansweredInfo,
};
use tern_engine::config::Lifetime;
use tern_engine::verdict::{
    self, ChildEvidence, Clock, Counters, Diagnosis, EndEvidence, Evidence, NatNow, RekeyFailed,
    SaNow, Traffic, Unanswered,
};
use tern_engine::{EndKind, KeGroups};

/// Each connection's diagnosis, from ternd's answer at `now_ms` (Unix ms).
pub fn judge(connections: &[ConnEvidence], stats: &StatsInfo, now_ms: u64) -> Vec<Diagnosis> {
    connections
        .iter()
        .map(|c| verdict::diagnose(&evidence(c, stats, now_ms)))
        .collect()
}

fn lifetime(l: &LifetimeInfo) -> Lifetime {
    Lifetime {
        rekey_time: Duration::from_secs(l.rekey_time_secs),
        life_time: Duration::from_secs(l.life_time_secs),
        rand_time: Duration::from_secs(l.rand_time_secs),
    }
}

/// An SA as it stands, on the Unix clock in seconds (`now`), from its ages
/// and times to come as ternd gave them.
fn sa_now(
    now: u64,
    age: Option<u64>,
    rekey_in: Option<u64>,
    expires_in: Option<u64>,
    failed: Option<&RekeyFailedInfo>,
    unanswered: Option<UnansweredInfo>,
) -> SaNow {
    SaNow {
        installed_at: now.saturating_sub(age.unwrap_or(0)),
        rekey_at: rekey_in.map(|s| now + s),
        expire_at: expires_in.map(|s| now + s),
        rekey_failed: failed.map(|f| RekeyFailed {
            // A kind this ternctl does not know proves nothing.
            kind: EndKind::from_name(&f.end_kind).unwrap_or(EndKind::Other),
            cause: f.cause.clone(),
            count: f.count,
            first_at: now.saturating_sub(f.first_ago_secs),
            last_at: now.saturating_sub(f.last_ago_secs),
        }),
        rekey_unanswered: unanswered.map(|u| Unanswered {
            sends: u.sends,
            first_sent_at: now.saturating_sub(u.first_sent_ago_secs),
        }),
        traffic: None,
        nat: None,
    }
}

/// An IKE SA's NAT traversal on the Unix clock in seconds (`now`).
fn nat_now(now: u64, n: NatInfo) -> NatNow {
    NatNow {
        local_behind: n.local_behind,
        peer_behind: n.peer_behind,
        keepalive_every: n.keepalive_secs.map(Duration::from_secs),
        mapping_changes: n.mapping_changes,
        first_change_at: n.first_change_ago_secs.map(|s| now.saturating_sub(s)),
        last_change_at: n.last_change_ago_secs.map(|s| now.saturating_sub(s)),
    }
}

/// The verdict's input for one connection.
pub fn evidence(c: &ConnEvidence, stats: &StatsInfo, now_ms: u64) -> Evidence {
    let now = now_ms / 1000;
    let established = || {
        c.sas
            .iter()
            .filter(|sa| sa.state == IkeSaState::Established)
    };
    let children = c
        .conn
        .children
        .iter()
        .map(|child| {
            let sas = || {
                established()
                    .flat_map(|sa| sa.children.iter())
                    .filter(|x| x.name == child.name)
            };
            ChildEvidence {
                name: child.name.clone(),
                lifetime: child.lifetime.as_ref().map(lifetime),
                esp_proposals: child.esp_proposals.clone(),
                pfs_groups: child.pfs_groups.clone(),
                local_ts: child.local_ts.clone(),
                remote_ts: child.remote_ts.clone(),
                installed: sas().any(|x| {
                    matches!(
                        x.state,
                        ChildSaState::Installed | ChildSaState::Rekeying | ChildSaState::Rekeyed
                    )
                }),
                peer_rekeyed_at: sas()
                    .filter_map(|x| x.peer_rekeyed_at_secs)
                    .min()
                    .map(Duration::from_secs),
                adapted_rekey_before: sas()
                    .filter_map(|x| x.adapted_rekey_before_secs)
                    .min()
                    .map(Duration::from_secs),
                // The newest that carries the traffic.
                sa: sas()
                    .filter(|x| matches!(x.state, ChildSaState::Installed | ChildSaState::Rekeying))
                    .min_by_key(|x| x.installed_secs)
                    .map(|x| SaNow {
                        traffic: x.packets_in.zip(x.packets_out).map(
                            |(packets_in, packets_out)| Traffic {
                                packets_in,
                                packets_out,
                            },
                        ),
                        ..sa_now(
                            now,
                            x.installed_secs,
                            x.rekey_in_secs,
                            x.expires_in_secs,
                            x.rekey_failed.as_ref(),
                            x.rekey_unanswered,
                        )
                    }),
            }
        })
        .collect();
    let ends = c
        .ends
        .iter()
        .map(|e| EndEvidence {
            unix_secs: e
                .unix_ms
                .unwrap_or_else(|| now_ms.saturating_sub(e.ago_secs * 1000))
                / 1000,
            child: e.child.clone(),
            was_up: e.was_up,
            // An older ternd's ends carry no kind: they prove nothing.
            kind: EndKind::from_name(&e.end_kind).unwrap_or(EndKind::Other),
            cause: e.cause.clone(),
            ke_groups: (!e.ke_ours.is_empty() || !e.ke_asked.is_empty()).then(|| KeGroups {
                ours: e.ke_ours.clone(),
                asked: e.ke_asked.clone(),
            }),
        })
        .collect();
    let x = &stats.exchanges;
    Evidence {
        connection: c.conn.name.clone(),
        ike: c.conn.ike_lifetime.as_ref().map(lifetime),
        children,
        ike_proposals: c.conn.ike_proposals.clone(),
        ike_up: established().next().is_some(),
        ike_peer_rekeyed_at: established()
            .filter_map(|sa| sa.peer_rekeyed_at_secs)
            .min()
            .map(Duration::from_secs),
        ike_sa: established()
            .min_by_key(|sa| sa.established_secs)
            .map(|sa| SaNow {
                nat: sa.nat.map(|n| nat_now(now, n)),
                ..sa_now(
                    now,
                    sa.established_secs,
                    sa.rekey_in_secs,
                    sa.expires_in_secs,
                    sa.rekey_failed.as_ref(),
                    sa.rekey_unanswered,
                )
            }),
        ends,
        counters: Counters {
            rekeys_adapted: x.rekeys_adapted,
            pfs_reauths: x.pfs_reauths,
            child_rekey_collisions: x.child_rekey_collisions,
            child_rekeys_initiated: x.child_rekeys_initiated,
        },
        clock: Clock::Unix,
        now,
    }
}

/// 0 when every connection is healthy, 1 when one has a problem.
pub fn exit_code(diagnoses: &[Diagnosis]) -> u8 {
    u8::from(diagnoses.iter().any(|d| d.problems() > 0))
}

/// One block per connection: its verdicts with their evidence, or "healthy".
pub fn text(diagnoses: &[Diagnosis]) -> String {
    if diagnoses.is_empty() {
        return "no connections configured\n".into();
    }
    let mut out = String::new();
    for d in diagnoses {
        match &d.healthy {
            Some(line) => out.push_str(&format!("{}: {line}\n", d.connection)),
            None => out.push_str(&format!("{}: {} problem(s)\n", d.connection, d.problems())),
        }
        for v in &d.verdicts {
            out.push_str(&format!("  {v}\n"));
            for e in &v.evidence {
                out.push_str(&format!("    evidence: {e}\n"));
            }
        }
    }
    out
}

/// `{"connections": [{"connection", "healthy", "summary", "findings": [...]}]}`.
pub fn json(diagnoses: &[Diagnosis]) -> String {
    let connections: Vec<_> = diagnoses
        .iter()
        .map(|d| {
            let findings: Vec<_> = d
                .verdicts
                .iter()
                .map(|v| {
                    json!({
                        "kind": v.kind.code(),
                        "problem": v.kind.is_problem(),
                        "connection": v.connection,
                        "child": v.child,
                        "message": v.what,
                        "evidence": v.evidence,
                        "setting": v.setting,
                        "fix": v.fix,
                    })
                })
                .collect();
            json!({
                "connection": d.connection,
                "healthy": d.healthy.is_some(),
                "summary": d.healthy,
                "findings": findings,
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "connections": connections }))
        .expect("JSON values serialize")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_control::{ChildConnInfo, ConnInfo, SaEndInfo};

    fn answer(pfs: &[&str], ends: Vec<SaEndInfo>) -> ConnEvidence {
        ConnEvidence {
            conn: ConnInfo {
                name: "gw".into(),
                local_addrs: vec![],
                remote_addrs: vec!["192.0.2.2".into()],
                local_id: "moon".into(),
                remote_id: None,
                auth: "psk".into(),
                ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
                children: vec![ChildConnInfo {
                    name: "net".into(),
                    local_ts: vec!["10.1.0.0/24".into()],
                    remote_ts: vec!["10.2.0.0/24".into()],
                    esp_proposals: vec!["aes128gcm16".into()],
                    mode: "tunnel".into(),
                    start_action: "start".into(),
                    dpd_action: "clear".into(),
                    close_action: "none".into(),
                    trapped: false,
                    lifetime: Some(LifetimeInfo {
                        rekey_time_secs: 3600,
                        life_time_secs: 3960,
                        rand_time_secs: 360,
                    }),
                    pfs_groups: pfs.iter().map(|s| s.to_string()).collect(),
                }],
                dpd_delay: None,
                ike_lifetime: None,
            },
            sas: vec![],
            ends,
        }
    }

    fn end(unix_ms: u64, kind: &str, was_up: bool) -> SaEndInfo {
        SaEndInfo {
            ago_secs: 0,
            unix_ms: Some(unix_ms),
            kind: "CHILD".into(),
            ike_id: 1,
            child: Some("net".into()),
            spi_in: None,
            spi_out: None,
            was_up,
            cause: "rekey failed: the peer refused with NO_PROPOSAL_CHOSEN".into(),
            end_kind: kind.into(),
            routine: false,
            ke_ours: vec![],
            ke_asked: vec![],
        }
    }

    #[test]
    fn a_refused_rekey_of_a_child_that_was_up_names_pfs_and_the_group() {
        let c = answer(
            &["x25519"],
            vec![
                end(1_000_000, "rekeyed", true),
                end(2_000_000, "no_proposal", false),
            ],
        );
        let d = judge(&[c], &StatsInfo::default(), 3_000_000);
        assert_eq!(exit_code(&d), 1);
        let text = text(&d);
        assert!(text.contains("gw: 1 problem(s)"), "{text}");
        assert!(
            text.contains("PFS (x25519) is wanted by tern only"),
            "{text}"
        );
        assert!(text.contains("esp_proposals"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        let finding = &json["connections"][0]["findings"][0];
        assert_eq!(finding["kind"], "one_sided_pfs");
        assert_eq!(finding["setting"], "esp_proposals");
        assert_eq!(finding["child"], "net");
    }

    /// An established IKE SA with child `net` as ternd's list-sas gives it,
    /// `rekey_failed` on the child when given (an older ternd leaves it out).
    fn live_sa(rekey_failed: Option<serde_json::Value>) -> tern_control::IkeSaInfo {
        let mut child = json!({"name":"net","unique_id":2,"state":"INSTALLED","mode":"TUNNEL",
            "protocol":"ESP","spi_in":"c1a2b3c4","spi_out":"c5d6e7f8","proposal":"AES_GCM_16_128",
            "local_ts":["10.1.0.0/24"],"remote_ts":["10.2.0.0/24"],"bytes_in":null,"packets_in":null,
            "bytes_out":null,"packets_out":null,"installed_secs":3300,"rekey_in_secs":null,
            "expires_in_secs":660});
        if let Some(f) = rekey_failed {
            child["rekey_failed"] = f;
        }
        serde_json::from_value(
            json!({"connection":"gw","unique_id":1,"state":"ESTABLISHED",
            "role":"initiator","local_addr":"192.0.2.1:500","remote_addr":"192.0.2.2:500",
            "local_id":"moon","remote_id":"sun","initiator_spi":"0123456789abcdef",
            "responder_spi":"fedcba9876543210","proposal":"AES_GCM_16_128","established_secs":3300,
            "rekey_in_secs":10000,"expires_in_secs":11000,"children":[child]}),
        )
        .expect("list-sas JSON")
    }

    #[test]
    fn a_live_child_whose_rekey_failed_is_said_to_end_at_its_life_time() {
        let mut c = answer(&["x25519"], vec![]);
        c.sas = vec![live_sa(Some(json!({"end_kind":"no_proposal",
            "cause":"rekey failed: the peer refused with NO_PROPOSAL_CHOSEN; retrying in 60 s",
            "count":2,"first_ago_secs":100,"last_ago_secs":40})))];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 1);
        let text = text(&d);
        assert!(
            text.contains("its rekey failed (2 times since 2026-11-30 00:51:40 UTC, the last at 2026-11-30 00:52:40 UTC)"),
            "{text}"
        );
        assert!(
            text.contains(
                "will end at 2026-11-30 01:04:20 UTC (in 660 s) when its life_time is reached"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        let finding = &json["connections"][0]["findings"][0];
        assert_eq!(finding["kind"], "rekey_failed_will_expire");
        assert_eq!(finding["setting"], "esp_proposals");
        // The same SA from a ternd that does not say: nothing to foresee.
        let mut c = answer(&["x25519"], vec![]);
        c.sas = vec![live_sa(None)];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 0, "{}", super::text(&d));
    }

    #[test]
    fn a_rekey_ternd_sends_again_and_again_is_said() {
        let mut c = answer(&[], vec![]);
        let mut sa = live_sa(None);
        sa.children[0].state = ChildSaState::Rekeying;
        sa.children[0].rekey_unanswered = Some(UnansweredInfo {
            sends: 4,
            first_sent_ago_secs: 25,
        });
        c.sas = vec![sa];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 1);
        let text = text(&d);
        assert!(
            text.contains("our rekey has gone unanswered since 2026-11-30 00:52:55 UTC (4 sends)"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        assert_eq!(
            json["connections"][0]["findings"][0]["kind"],
            "rekey_unanswered"
        );
    }

    #[test]
    fn a_peer_whose_nat_mapping_keeps_changing_is_said_from_list_sas() {
        let mut c = answer(&[], vec![]);
        let mut sa = live_sa(None);
        sa.nat = serde_json::from_value(json!({"local_behind":false,"peer_behind":true,
            "mapping_changes":3,"first_change_ago_secs":900,"last_change_ago_secs":20}))
        .expect("nat JSON");
        c.sas = vec![sa];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 1);
        let text = text(&d);
        assert!(
            text.contains("the peer's NAT mapping changed 3 times since 2026-11-30 00:38:20 UTC, the last at 2026-11-30 00:53:00 UTC"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        let finding = &json["connections"][0]["findings"][0];
        assert_eq!(finding["kind"], "nat_mapping_changes");
        assert_eq!(finding["setting"], "nat_keepalive");
    }

    #[test]
    fn esp_out_and_nothing_in_by_the_kernels_counters_is_said() {
        let mut c = answer(&[], vec![]);
        let mut sa = live_sa(None);
        let net = &mut sa.children[0];
        (net.packets_in, net.packets_out) = (Some(0), Some(25));
        c.sas = vec![sa.clone()];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 1);
        let json: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        let finding = &json["connections"][0]["findings"][0];
        assert_eq!(finding["kind"], "esp_not_arriving");
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("25 ESP packets went out"),
            "{finding}"
        );
        // Without a kernel (ternd --no-kernel) there are no counters: nothing.
        let mut c = answer(&[], vec![]);
        let net = &mut sa.children[0];
        (net.packets_in, net.packets_out) = (None, None);
        c.sas = vec![sa];
        let d = judge(&[c], &StatsInfo::default(), 1_796_000_000_000);
        assert_eq!(exit_code(&d), 0, "{}", text(&d));
    }

    #[test]
    fn ends_without_a_kind_prove_nothing() {
        let c = answer(&[], vec![end(1_000_000, "", false)]);
        let d = judge(&[c], &StatsInfo::default(), 3_000_000);
        assert_eq!(exit_code(&d), 0);
        assert!(text(&d).starts_with("gw: healthy:"), "{}", text(&d));
    }
}
