//! The verdict at the end of a simulation (`ternctl diagnose`'s judgement of
//! the local side) where the evidence comes from real exchanges: no false
//! alarm on healthy tunnels, and the setting named for each problem.

mod common;

use common::*;
use tern_sim::{ConnVerdict, Report};

fn demo(report: &Report) -> &ConnVerdict {
    assert_eq!(report.verdict.len(), 1, "{report}");
    &report.verdict[0]
}

fn problem<'a>(report: &'a Report, kind: &str) -> &'a tern_sim::VerdictFinding {
    demo(report)
        .findings
        .iter()
        .find(|f| f.kind == kind && f.problem)
        .unwrap_or_else(|| panic!("no {kind} problem\n{report}"))
}

/// Seven days at 5 % loss, with the defaults on both sides and with lifetimes
/// that differ but work (the peer's shorter, and longer): "healthy".
#[test]
fn seven_days_of_healthy_tunnels_at_five_percent_loss_are_healthy() {
    for (seed, peer_child) in [
        (1, Lifetimes::default()),
        (2, Lifetimes::rekey("45m")),
        (3, Lifetimes::rekey("8h")),
    ] {
        let local = side(true, &Lifetimes::default(), &Lifetimes::default(), "");
        let peer = side(false, &Lifetimes::default(), &peer_child, "");
        let report = run(&scenario(
            "7d",
            seed,
            &local,
            &peer,
            "[network]\nloss = 0.05\n",
        ));
        let d = demo(&report);
        assert!(d.healthy, "seed {seed}: {report}");
        assert!(
            d.findings.iter().all(|f| !f.problem),
            "seed {seed}: {report}"
        );
        let summary = d.summary.as_deref().unwrap();
        assert!(summary.starts_with("healthy: IKE SA up"), "{summary}");
    }
}

/// The peer (45 m) rekeys before us (1 h): said once, as a note.
#[test]
fn a_peer_that_rekeys_sooner_is_a_note() {
    let local = side(true, &Lifetimes::default(), &Lifetimes::rekey("1h"), "");
    let peer = side(false, &Lifetimes::default(), &Lifetimes::rekey("45m"), "");
    let report = run(&scenario("1d", 4, &local, &peer, ""));
    let d = demo(&report);
    assert!(d.healthy, "{report}");
    let notes: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.kind == "peer_rekeys_sooner")
        .collect();
    assert_eq!(notes.len(), 1, "{report}");
    assert!(notes[0].message.contains("before our rekey_time of 3600 s"));
}

/// The peer lets each CHILD SA end at 7 s and makes a new one: tern adapts,
/// and the verdict says so and names rekey_time with a value below 7 s.
#[test]
fn a_peer_that_lets_sas_expire_is_named_with_rekey_time() {
    let local = side(true, &Lifetimes::default(), &Lifetimes::default(), "");
    let peer = side(false, &Lifetimes::default(), &Lifetimes::exact("7s"), "");
    let report = run(&scenario(
        "1h",
        3,
        &local,
        &peer,
        "behaves = [\"life-rounded-down\"]\n[network]\ndelay = \"20ms\"\n",
    ));
    let f = problem(&report, "peer_lets_sas_expire");
    assert_eq!(f.setting, Some("rekey_time"));
    assert_eq!(f.child.as_deref(), Some("net"));
    assert!(f.message.contains("tern noticed"), "{}", f.message);
    assert!(f.fix.contains("rekey_time = \"5s\""), "{}", f.fix); // Ahead: tern's adaptive rekey renews the live SA before the peer's end.
    let note = demo(&report)
        .findings
        .iter()
        .find(|f| f.kind == "adapted_rekey_ahead")
        .unwrap_or_else(|| panic!("no note ahead\n{report}"));
    assert!(!note.problem);
    assert!(
        note.message.contains("so the tunnel will not drop"),
        "{}",
        note.message
    );
}

/// Both sides rekey at the same instant (no jitter): rand_time.
#[test]
fn collisions_that_keep_coming_name_rand_time() {
    let child = Lifetimes::exact("10m");
    let local = side(true, &Lifetimes::default(), &child, "");
    let peer = side(false, &Lifetimes::default(), &child, "");
    let report = run(&scenario(
        "1d",
        11,
        &local,
        &peer,
        "[network]\ndelay = \"50ms\"\njitter = \"40ms\"\n",
    ));
    assert_eq!(
        problem(&report, "recurring_collisions").setting,
        Some("rand_time")
    );
}

/// Our child asks for PFS (x25519), the peer's offers none: the CHILD SA comes
/// up in IKE_AUTH, its rekeys are refused.
#[test]
fn pfs_wanted_by_us_only_is_named_with_the_group() {
    let pfs = "esp_proposals = [\"aes128gcm16-x25519\"]\n";
    let local = side(true, &Lifetimes::default(), &Lifetimes::rekey("10m"), "") + pfs;
    let peer = side(false, &Lifetimes::default(), &Lifetimes::default(), "");
    let report = run(&scenario("1h", 5, &local, &peer, ""));
    let f = problem(&report, "one_sided_pfs");
    assert_eq!(f.setting, Some("esp_proposals"));
    assert!(
        f.message.contains("PFS (x25519) is wanted by tern only"),
        "{}",
        f.message
    );
}

/// The peer's child asks for PFS (x25519), ours offers none, and the peer
/// rekeys first: tern refuses each rekey (and reauthenticates instead); the
/// verdict says PFS is wanted by the peer only and names esp_proposals.
#[test]
fn pfs_wanted_by_the_peer_only_is_named_when_the_peer_rekeys() {
    let pfs = "esp_proposals = [\"aes128gcm16-x25519\"]\n";
    let local = side(true, &Lifetimes::default(), &Lifetimes::default(), "");
    let peer = side(false, &Lifetimes::default(), &Lifetimes::rekey("10m"), "") + pfs;
    let report = run(&scenario("1h", 6, &local, &peer, ""));
    let f = problem(&report, "one_sided_pfs");
    assert_eq!(f.setting, Some("esp_proposals"));
    assert!(
        f.message.contains("PFS is wanted by the peer only"),
        "{}",
        f.message
    );
    assert!(f.fix.contains("\"aes128gcm16-x25519\""), "{}", f.fix);
}

/// Looking ahead: the peer refuses each of our rekeys with TS_UNACCEPTABLE (a
/// Cisco ASA after narrowing) and does not rekey itself before our life_time:
/// before the SA ends, the verdict says when it will, why, and names local_ts.
#[test]
fn a_refused_rekey_is_reported_before_the_sa_ends() {
    let local = side(true, &Lifetimes::default(), &Lifetimes::rekey("10m"), "");
    let peer = side(false, &Lifetimes::default(), &Lifetimes::rekey("2h"), "");
    let report = run(&scenario(
        "630s",
        7,
        &local,
        &peer,
        "behaves = [\"refuse-rekeys-ts-unacceptable\"]\n",
    ));
    let f = problem(&report, "rekey_failed_will_expire");
    assert_eq!(f.child.as_deref(), Some("net"));
    assert_eq!(f.setting, Some("local_ts"));
    assert!(
        f.message
            .contains("the peer refused the traffic selectors (TS_UNACCEPTABLE)"),
        "{}",
        f.message
    );
    // life_time is 11 m (rekey_time + 10 %): from +10m30s and a few seconds
    // of settling, about 25 s ahead.
    assert!(
        f.message.contains("will end at +11m0s (in "),
        "{}",
        f.message
    );
    assert!(f.fix.contains("local_ts [10.1.0.0/24]"), "{}", f.fix);
    assert!(
        f.evidence[0].contains("TS_UNACCEPTABLE"),
        "{:?}",
        f.evidence
    );
}

/// Looking ahead: the peer lets each CHILD SA expire at 10 m (rekeying off on
/// its side) and tern does not adapt (rekey_adapt = false): the verdict says
/// when the live SA will end on the peer's side, before our rekey at 1 h, and
/// names rekey_time below 10 m.
#[test]
fn the_peers_sa_ending_before_our_rekey_is_foreseen() {
    let local = side(
        true,
        &Lifetimes::default(),
        &Lifetimes::default(),
        "rekey_adapt = false\n",
    );
    let peer_child = Lifetimes {
        rekey_time: Some("0".into()),
        life_time: Some("10m".into()),
        rand_time: Some("0".into()),
    };
    let peer = side(false, &Lifetimes::default(), &peer_child, "");
    let report = run(&scenario("45m", 8, &local, &peer, ""));
    let f = problem(&report, "peer_ends_first");
    assert_eq!(f.child.as_deref(), Some("net"));
    assert_eq!(f.setting, Some("rekey_time"));
    assert!(
        f.message.contains("at the age of about 600 s at which the peer lets its SAs expire, before ours rekeys at"),
        "{}",
        f.message
    );
    assert!(f.fix.contains("rekey_time = \"480s\""), "{}", f.fix);
}

/// Both sides offer x25519 and ecp256; the peer answers each IKE_SA_INIT
/// INVALID_KE_PAYLOAD asking for the other group: tern stops the loop, and
/// the verdict names both groups in the configuration's words and proposals.
#[test]
fn an_invalid_ke_loop_names_both_groups_and_proposals() {
    let groups =
        "proposals = [\"aes128gcm16-prfsha256-x25519\", \"aes128gcm16-prfsha256-ecp256\"]\n";
    let local = side(true, &Lifetimes::default(), &Lifetimes::default(), groups);
    let peer = side(false, &Lifetimes::default(), &Lifetimes::default(), groups) + "";
    let report = run(&scenario(
        "2m",
        9,
        &local,
        &peer,
        "behaves = [\"ask-other-ke-group\"]\n",
    ));
    let f = problem(&report, "invalid_ke_loop");
    assert_eq!(f.child, None);
    assert_eq!(f.setting, Some("proposals"));
    assert!(
        f.message
            .contains("ours are x25519, ecp256; it asked for ecp256, x25519"),
        "{}",
        f.message
    );
    assert!(
        f.fix
            .contains("proposals = [\"aes128gcm16-prfsha256-x25519\"]"),
        "{}",
        f.fix
    );
    assert!(
        f.evidence[0].contains("INVALID_KE_PAYLOAD"),
        "{:?}",
        f.evidence
    );
    // No false alarm: a peer with ecp256 only asks once, tern follows, and the
    // tunnel comes up healthy.
    let peer = side(
        false,
        &Lifetimes::default(),
        &Lifetimes::default(),
        "proposals = [\"aes128gcm16-prfsha256-ecp256\"]\n",
    );
    let report = run(&scenario("2h", 10, &local, &peer, ""));
    assert!(demo(&report).healthy, "{report}");
    assert!(report.local.ike_sas_established >= 1, "{report}");
}

/// Both sides start the connection and reauthenticate on one schedule (no
/// jitter): each reauthentication makes duplicate IKE and CHILD SAs, which
/// tern settles; the verdict says it keeps happening and names start_action.
#[test]
fn duplicates_again_and_again_name_start_action() {
    let both = "start_action = \"start\"\nreauth_time = \"10m\"\nrand_time = \"0\"\n";
    let child = Lifetimes::rekey("10m");
    let local = side(true, &Lifetimes::default(), &child, both);
    let peer = side(false, &Lifetimes::default(), &child, both);
    let report = run(&scenario("2h", 12, &local, &peer, ""));
    let f = problem(&report, "repeated_duplicates");
    assert_eq!(f.setting, Some("start_action"));
    assert!(f.message.contains("duplicate IKE SA(s)"), "{}", f.message);
    assert!(f.fix.contains("reauth_time"), "{}", f.fix);
}

/// The same peer habit in CREATE_CHILD_SA: both children offer PFS with
/// x25519 or ecp256, and the peer asks for the other group each time. tern
/// stops each rekey, and the verdict names the child and esp_proposals.
#[test]
fn an_invalid_ke_loop_in_a_child_rekey_names_esp_proposals() {
    let ike = "proposals = [\"aes128gcm16-prfsha256-x25519\"]\n";
    let esp = "esp_proposals = [\"aes128gcm16-x25519\", \"aes128gcm16-ecp256\"]\n";
    let local = side(true, &Lifetimes::default(), &Lifetimes::rekey("10m"), ike) + esp;
    let peer = side(false, &Lifetimes::default(), &Lifetimes::rekey("2h"), ike) + esp;
    let report = run(&scenario(
        "630s",
        13,
        &local,
        &peer,
        "behaves = [\"ask-other-ke-group\"]\n",
    ));
    let f = problem(&report, "invalid_ke_loop");
    assert_eq!(f.child.as_deref(), Some("net"));
    assert_eq!(f.setting, Some("esp_proposals"));
    assert!(
        f.message
            .contains("CREATE_CHILD_SA with INVALID_KE_PAYLOAD")
            && f.message.contains("ours are x25519, ecp256"),
        "{}",
        f.message
    );
    assert!(
        f.fix.contains("esp_proposals = [\"aes128gcm16-x25519\"]"),
        "{}",
        f.fix
    );
    // The SA goes on until its life_time, and that is said ahead too.
    let ahead = problem(&report, "rekey_failed_will_expire");
    assert!(
        ahead.message.contains("will end at +11m0s"),
        "{}",
        ahead.message
    );
    assert_eq!(ahead.setting, Some("esp_proposals"));
}
