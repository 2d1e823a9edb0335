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
        sa: None,
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
        ike_sa: None,
        ends,
        counters: Counters::default(),
        clock: Clock::Unix,
        now: T0 + 86_400,
    }
}

fn end(at: u64, child: Option<&str>, was_up: bool, kind: EndKind) -> EndEvidence {
    EndEvidence {
        unix_secs: T0 + at,
        child: child.map(str::to_string),
        was_up,
        kind,
        cause: format!("{kind} happened"),
        ke_groups: None,
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
            EndKind::RadiusUnreachable,
            false,
            VerdictKind::RadiusUnreachable,
            "radius.servers",
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

/// Now, in these tests: a day after T0.
const NOW: u64 = T0 + 86_400;

fn sa_now(age: u64, rekey_in: Option<u64>, expire_in: u64) -> SaNow {
    SaNow {
        installed_at: NOW - age,
        rekey_at: rekey_in.map(|s| NOW + s),
        expire_at: Some(NOW + expire_in),
        rekey_failed: None,
        rekey_unanswered: None,
        traffic: None,
        nat: None,
    }
}

fn failed(kind: EndKind, count: u32, last_ago: u64) -> RekeyFailed {
    RekeyFailed {
        kind,
        cause: format!("rekey failed: {kind} said the peer; retrying in 60 s"),
        count,
        first_at: NOW - last_ago - 60 * u64::from(count - 1),
        last_at: NOW - last_ago,
    }
}

fn ahead_of(d: &Diagnosis, kind: VerdictKind) -> Vec<&Verdict> {
    d.verdicts.iter().filter(|v| v.kind == kind).collect()
}

#[test]
fn a_live_child_whose_rekey_was_refused_will_end_at_its_life_time() {
    // PFS wanted by tern only: the rekey refused 12 minutes before the end.
    let mut net = child("net", &["x25519"]);
    let mut sa = sa_now(3300, None, 720);
    sa.rekey_failed = Some(failed(EndKind::NoProposal, 1, 0));
    net.sa = Some(sa);
    let d = diagnose(&evidence(vec![net], vec![]));
    let v = only(&d);
    assert_eq!(v.kind, VerdictKind::RekeyFailedWillExpire);
    assert_eq!(v.child.as_deref(), Some("net"));
    assert_eq!(v.setting, Some("esp_proposals"));
    assert!(
        v.what.contains(
            "will end at 2026-12-01 01:05:20 UTC (in 720 s) when its life_time is reached"
        ),
        "{}",
        v.what
    );
    assert!(
        v.what.contains("PFS (x25519) is wanted by tern only"),
        "{}",
        v.what
    );
    assert!(
        v.fix.contains("add x25519 to the peer's ESP proposals"),
        "{}",
        v.fix
    );
    assert!(
        v.evidence[0].contains("retrying in 60 s"),
        "{:?}",
        v.evidence
    );
    assert!(d.healthy.is_none());
    // Selectors refused, five times: counted, and the selectors named.
    let mut net = child("net", &[]);
    let mut sa = sa_now(3500, None, 300);
    sa.rekey_failed = Some(failed(EndKind::TsUnacceptable, 5, 20));
    net.sa = Some(sa);
    let d = diagnose(&evidence(vec![net], vec![]));
    let v = only(&d);
    assert_eq!(v.setting, Some("local_ts"));
    assert!(v.what.contains("5 times since"), "{}", v.what);
    assert!(v.what.contains("(in 300 s)"), "{}", v.what);
    assert!(v.fix.contains("local_ts [10.1.0.0/24]"), "{}", v.fix);
}

#[test]
fn a_refused_ike_rekey_warns_that_the_children_go_with_it() {
    let mut e = evidence(vec![child("net", &[])], vec![]);
    let mut sa = sa_now(14_400, None, 1440);
    sa.rekey_failed = Some(failed(EndKind::NoProposal, 2, 30));
    e.ike_sa = Some(sa);
    let d = diagnose(&e);
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref(), v.setting),
        (VerdictKind::RekeyFailedWillExpire, None, Some("proposals"))
    );
    assert!(v.what.contains("connection gw, IKE SA"), "{}", v.what);
    assert!(v.what.contains("(in 1440 s)"), "{}", v.what);
    assert!(v.what.contains("taking every CHILD SA"), "{}", v.what);
    assert!(
        v.fix.contains("ours are [aes128gcm16-prfsha256-x25519]"),
        "{}",
        v.fix
    );
}

#[test]
fn a_rekey_sent_again_and_again_is_said_with_the_end_it_leads_to() {
    // Sent twice: one lost message, routine.
    let mut net = child("net", &[]);
    let mut sa = sa_now(3300, None, 600);
    sa.rekey_unanswered = Some(Unanswered {
        sends: 2,
        first_sent_at: NOW - 5,
    });
    net.sa = Some(sa.clone());
    assert!(diagnose(&evidence(vec![net.clone()], vec![]))
        .verdicts
        .is_empty());
    // The third send unanswered: the IKE SA's and the child's ends said.
    sa.rekey_unanswered = Some(Unanswered {
        sends: 3,
        first_sent_at: NOW - 12,
    });
    net.sa = Some(sa);
    let d = diagnose(&evidence(vec![net], vec![]));
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref()),
        (VerdictKind::RekeyUnanswered, Some("net"))
    );
    assert!(
        v.what
            .contains("connection gw, child net: our rekey has gone unanswered since"),
        "{}",
        v.what
    );
    assert!(v.what.contains("(3 sends)"), "{}", v.what);
    assert!(
        v.what.contains("(in 600 s) when its life_time is reached"),
        "{}",
        v.what
    );
    assert!(
        v.what.contains("the IKE SA is given up as dead"),
        "{}",
        v.what
    );
    assert!(v.fix.contains("UDP 500 and 4500"), "{}", v.fix);
    assert!(d.healthy.is_none());
}

#[test]
fn esp_that_goes_out_and_never_comes_back_is_said_once_enough_went() {
    let with_age = |age, packets_in, packets_out| {
        let mut net = child("net", &[]);
        let mut sa = sa_now(age, Some(3000), 3600);
        sa.traffic = Some(Traffic {
            packets_in,
            packets_out,
        });
        net.sa = Some(sa);
        diagnose(&evidence(vec![net], vec![]))
    };
    let with = |packets_in, packets_out| with_age(300, packets_in, packets_out);
    // A few out before the first answer, or traffic both ways: nothing.
    assert!(with(0, 9).verdicts.is_empty());
    assert!(with(12, 40).verdicts.is_empty());
    // An SA a few seconds old (a rekey just made it; the peer's first packet
    // on it is a round trip away): nothing yet.
    assert!(with_age(3, 0, 40).verdicts.is_empty());
    let d = with(0, 40);
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref()),
        (VerdictKind::EspNotArriving, Some("net"))
    );
    assert!(
        v.what
            .contains("40 ESP packets went out on the CHILD SA installed at"),
        "{}",
        v.what
    );
    assert!(
        v.what.contains("none came in, while IKE works"),
        "{}",
        v.what
    );
    assert!(v.fix.contains("IP protocol 50 (ESP)"), "{}", v.fix);
    assert!(d.healthy.is_none());
}

#[test]
fn no_warning_for_a_passing_failure_an_sa_gone_or_one_renewed() {
    // One TEMPORARY_FAILURE: the retry in seconds will most likely pass.
    let mut net = child("net", &[]);
    let mut sa = sa_now(3300, Some(10), 600);
    sa.rekey_failed = Some(failed(EndKind::RefusedByPeer, 1, 0));
    net.sa = Some(sa.clone());
    let d = diagnose(&evidence(vec![net.clone()], vec![]));
    assert!(d.verdicts.is_empty(), "{:#?}", d.verdicts);
    // The third in a row is no passing failure.
    sa.rekey_failed = Some(failed(EndKind::RefusedByPeer, 3, 0));
    net.sa = Some(sa);
    let d = diagnose(&evidence(vec![net], vec![]));
    assert_eq!(only(&d).kind, VerdictKind::RekeyFailedWillExpire);
    assert!(only(&d).what.contains("refused it (refused_by_peer)"));
    // An SA whose rekey never failed (a new one replaced the one that did)
    // and no peer lifetime known: nothing ahead.
    let mut net = child("net", &[]);
    net.sa = Some(sa_now(100, Some(3200), 3860));
    let mut e = evidence(vec![net], vec![]);
    e.ike_sa = Some(sa_now(100, Some(14_000), 15_000));
    assert!(diagnose(&e).verdicts.is_empty());
}

#[test]
fn the_peers_sa_ending_before_our_rekey_is_said_ahead_with_rekey_time() {
    // The peer deletes at 600 s, three times at one interval; rekey_adapt off.
    let ends: Vec<_> = (1..=3)
        .map(|i| {
            end(
                86_400 - 700 - (3 - i) * 600,
                Some("net"),
                true,
                EndKind::DeletedByPeer,
            )
        })
        .collect();
    let mut net = child("net", &[]);
    net.sa = Some(sa_now(100, Some(3200), 3860));
    let d = diagnose(&evidence(vec![net], ends));
    let v = ahead_of(&d, VerdictKind::PeerEndsFirst);
    assert_eq!(v.len(), 1, "{:#?}", d.verdicts);
    let v = v[0];
    assert!(v.kind.is_problem());
    assert_eq!(v.setting, Some("rekey_time"));
    assert!(
        v.what.contains("the peer's SA will end at 2026-12-01 01:01:40 UTC (in 500 s), at the age of about 600 s"),
        "{}",
        v.what
    );
    assert!(v.what.contains("before ours rekeys at"), "{}", v.what);
    assert!(v.what.contains("(in 3200 s)"), "{}", v.what);
    assert!(v.fix.contains("rekey_time = \"480s\""), "{}", v.fix);
    assert_eq!(v.evidence.len(), 4, "{:?}", v.evidence);
}

#[test]
fn an_adapted_rekey_ahead_of_the_peers_end_is_a_note() {
    let mut net = child("net", &[]);
    net.adapted_rekey_before = Some(secs(540));
    net.sa = Some(sa_now(100, Some(440), 3860));
    let d = diagnose(&evidence(vec![net], vec![]));
    let notes = ahead_of(&d, VerdictKind::AdaptedRekeyAhead);
    assert_eq!(notes.len(), 1, "{:#?}", d.verdicts);
    let v = notes[0];
    assert!(!v.kind.is_problem());
    assert!(v.what.contains("(in 500 s)"), "{}", v.what);
    assert!(
        v.what
            .contains("adaptive rekey (before an age of 540 s) renews it at"),
        "{}",
        v.what
    );
    assert!(v.what.contains("(in 440 s), first"), "{}", v.what);
    assert!(ahead_of(&d, VerdictKind::PeerEndsFirst).is_empty());
}

#[test]
fn an_invalid_ke_loop_names_both_sides_groups_in_config_words() {
    let mut net = child("net", &["x25519"]);
    net.esp_proposals = vec!["aes128gcm16-x25519-ecp256".into()];
    let mut looped = end(300, Some("net"), false, EndKind::InvalidKeLoop);
    looped.ke_groups = Some(KeGroups {
        ours: vec!["x25519".into(), "ecp256".into()],
        asked: vec!["ecp256".into(), "x25519".into()],
    });
    let d = diagnose(&evidence(vec![net], vec![looped]));
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref(), v.setting),
        (
            VerdictKind::InvalidKeLoop,
            Some("net"),
            Some("esp_proposals")
        )
    );
    assert!(v
        .what
        .contains("answering CREATE_CHILD_SA with INVALID_KE_PAYLOAD"));
    assert!(
        v.what
            .contains("ours are x25519, ecp256; it asked for ecp256, x25519"),
        "{}",
        v.what
    );
    assert!(
        v.fix.contains("esp_proposals = [\"aes128gcm16-x25519\"]"),
        "{}",
        v.fix
    );
    // From an older ternd, without the groups: still said, and the key named.
    let d = diagnose(&evidence(
        vec![child("net", &[])],
        vec![end(300, None, false, EndKind::InvalidKeLoop)],
    ));
    let v = only(&d);
    assert_eq!(v.setting, Some("proposals"));
    assert!(v.what.contains("ours are (not recorded)"), "{}", v.what);
}

#[test]
fn duplicates_again_and_again_suggest_one_side_initiates() {
    let ends: Vec<_> = (1..=2)
        .map(|i| end(i * 3600, None, true, EndKind::Duplicate))
        .collect();
    let d = diagnose(&evidence(vec![child("net", &[])], ends.clone()));
    assert!(d.verdicts.is_empty(), "two are chance: {:#?}", d.verdicts);
    let mut ends = ends;
    ends.push(end(3 * 3600, Some("net"), true, EndKind::Duplicate));
    let d = diagnose(&evidence(vec![child("net", &[])], ends));
    let v = only(&d);
    assert_eq!(
        (v.kind, v.setting),
        (VerdictKind::RepeatedDuplicates, Some("start_action"))
    );
    assert!(
        v.what
            .contains("2 duplicate IKE SA(s) and 1 duplicate CHILD SA(s)"),
        "{}",
        v.what
    );
    assert!(v.fix.contains("reauth_time"), "{}", v.fix);
}

#[test]
fn a_child_deleted_again_and_again_at_no_regular_age_is_said_with_the_peer_hint() {
    let ends = vec![
        end(100, Some("net"), true, EndKind::DeletedByPeer),
        end(700, Some("net"), true, EndKind::DeletedByPeer),
        end(3000, Some("net"), true, EndKind::DeletedByPeer),
        end(3100, Some("net"), true, EndKind::DeletedByPeer),
    ];
    let d = diagnose(&evidence(vec![child("net", &[])], ends));
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref(), v.setting),
        (VerdictKind::RepeatedDeletes, Some("net"), None)
    );
    assert!(v.what.contains("deleted its SA 4 times"), "{}", v.what);
    assert!(v.what.contains("it is installed now"), "{}", v.what);
    assert!(v.fix.contains("close_action"), "{}", v.fix);
    // At one interval it is the peer's lifetime, said once, by that finding.
    let ends: Vec<_> = (1..=4)
        .map(|i| end(i * 600, Some("net"), true, EndKind::DeletedByPeer))
        .collect();
    let d = diagnose(&evidence(vec![child("net", &[])], ends));
    assert_eq!(only(&d).kind, VerdictKind::PeerLetsSasExpire);
}

#[test]
fn kernel_refusals_point_at_this_host_not_the_peer() {
    let d = diagnose(&evidence(
        vec![child("net", &[])],
        vec![
            end(100, Some("net"), true, EndKind::KernelRefused),
            end(105, Some("net"), true, EndKind::KernelRefused),
        ],
    ));
    let v = only(&d);
    assert_eq!(
        (v.kind, v.child.as_deref()),
        (VerdictKind::KernelRefused, Some("net"))
    );
    assert!(
        v.what
            .contains("this host's kernel refused its ESP SAs (2 times"),
        "{}",
        v.what
    );
    assert!(v.fix.contains("esp4/esp6"), "{}", v.fix);
    assert_eq!(v.evidence.len(), 2);
    assert!(d.healthy.is_none());
}

fn with_nat(nat: NatNow) -> Diagnosis {
    let mut e = evidence(vec![child("net", &[])], vec![]);
    let mut ike = sa_now(7200, Some(3600), 10_000);
    ike.nat = Some(nat);
    e.ike_sa = Some(ike);
    diagnose(&e)
}

#[test]
fn a_peer_nat_mapping_that_keeps_changing_points_at_its_keepalives() {
    let peer_behind = |changes: u32| NatNow {
        peer_behind: true,
        mapping_changes: changes,
        first_change_at: (changes > 0).then_some(NOW - 3000),
        last_change_at: (changes > 0).then_some(NOW - 60),
        ..NatNow::default()
    };
    // A NAT in the way, and one change (a router's restart, a new network): nothing.
    assert!(with_nat(peer_behind(0)).verdicts.is_empty());
    assert!(with_nat(peer_behind(1)).verdicts.is_empty());
    let d = with_nat(peer_behind(3));
    let v = only(&d);
    assert_eq!(v.kind, VerdictKind::NatMappingChanges);
    assert_eq!(v.kind.code(), "nat_mapping_changes");
    assert!(
        v.what
            .contains("the peer's NAT mapping changed 3 times since"),
        "{}",
        v.what
    );
    assert!(
        v.what.contains(&at(&evidence(vec![], vec![]), NOW - 60)),
        "{}",
        v.what
    );
    assert_eq!(v.setting, Some("nat_keepalive"));
    assert!(v.fix.contains("NAT-keepalives more often"), "{}", v.fix);
    // Changes of a peer that is not behind a NAT are not this finding's.
    let not_behind = NatNow {
        local_behind: true,
        keepalive_every: Some(secs(20)),
        mapping_changes: 3,
        ..NatNow::default()
    };
    assert!(with_nat(not_behind).verdicts.is_empty());
}

#[test]
fn behind_a_nat_without_keepalives_is_said_with_the_setting() {
    let behind = |keepalive_every| NatNow {
        local_behind: true,
        keepalive_every,
        ..NatNow::default()
    };
    assert!(with_nat(behind(Some(secs(20)))).verdicts.is_empty());
    let d = with_nat(behind(None));
    let v = only(&d);
    assert_eq!(v.kind, VerdictKind::NatKeepalivesOff);
    assert!(v.what.contains("sends no NAT-keepalives"), "{}", v.what);
    assert_eq!(v.setting, Some("nat_keepalive"));
    // Only the peer behind a NAT: its keepalives are its own business.
    let peer_only = NatNow {
        peer_behind: true,
        ..NatNow::default()
    };
    assert!(with_nat(peer_only).verdicts.is_empty());
}
