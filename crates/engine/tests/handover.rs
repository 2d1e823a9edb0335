//! What waits behind our IKE rekey goes to the new IKE SA (RFC 7296 §2.18), and two
//! CHILD SAs that both ends created for one child at once end up as one.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::{DpdAction, EngineConfig, Lifetime};
use tern_engine::{Command, Event, IkeSaInfo};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn command(node: &mut Node, now: std::time::Instant, command: Command) {
    node.engine.handle_command(now, command).expect("command");
}

fn rekey_ike(connection: &str) -> Command {
    Command::RekeyIke {
        connection: connection.into(),
    }
}

fn only_sa(node: &Node, pair_now: std::time::Instant) -> IkeSaInfo {
    let sas = node.engine.list_sas(pair_now);
    assert_eq!(sas.len(), 1, "{sas:?}");
    sas.into_iter().next().unwrap()
}

#[test]
fn a_child_rekey_queued_behind_an_ike_rekey_runs_on_the_new_ike_sa() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    let before = only_sa(&pair.a, pair.now);
    let now = pair.now;
    // The CHILD rekey waits for the IKE rekey's answer, on the old IKE SA.
    command(&mut pair.a, now, rekey_ike("demo"));
    pair.a.rekey(now, "demo");
    pair.run_for(secs(10));
    let (a, b) = (only_sa(&pair.a, pair.now), only_sa(&pair.b, pair.now));
    assert_ne!(a.unique_id, before.unique_id, "the IKE SA was rekeyed");
    assert_eq!(a.children.len(), 1, "{a:?}");
    assert_eq!(a.children[0].state, "INSTALLED", "not stuck in REKEYING");
    assert_ne!(
        a.children[0].spi_in, before.children[0].spi_in,
        "the CHILD SA was rekeyed, on the new IKE SA"
    );
    assert_eq!(a.children[0].spi_in, b.children[0].spi_out);
    assert_eq!(b.children.len(), 1, "{b:?}");
    // ... and keeps its rhythm: rekeyed again within its rekey_time, never expired.
    pair.run_for(secs(3 * 3600));
    let (sa, sb) = (pair.a.engine.stats(), pair.b.engine.stats());
    assert_eq!(sa.child_hard_expiries + sb.child_hard_expiries, 0);
    let rekeys = sa.child_rekeys_initiated + sb.child_rekeys_initiated;
    assert!(rekeys >= 3, "the command's and one an hour: {rekeys}");
}

#[test]
fn a_delete_queued_behind_an_ike_rekey_deletes_the_new_ike_sa_on_both_sides() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    let now = pair.now;
    command(&mut pair.a, now, rekey_ike("demo"));
    command(
        &mut pair.a,
        now,
        Command::Terminate {
            connection: "demo".into(),
        },
    );
    // Longer than the peer keeps an IKE SA it saw rekeyed without a DELETE.
    pair.run_for(secs(200));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(
        pair.b.engine.list_sas(pair.now).is_empty(),
        "sun keeps nothing on the IKE SA the rekey made: {:?}",
        pair.b.engine.list_sas(pair.now)
    );
    assert!(pair.a.kernel().is_empty(), "{:?}", pair.a.kernel());
    assert!(pair.b.kernel().is_empty(), "{:?}", pair.b.kernel());
}

#[test]
fn an_ike_sa_expiring_during_its_rekey_is_brought_back_on_both_sides() {
    // life_time reached while the rekey's answer is on its way: the new IKE SA
    // must not keep the CHILD SA on sun while moon has dropped it.
    let with_restart = |mut config: EngineConfig| {
        config.connections[0].children[0].dpd_action = DpdAction::Restart;
        config
    };
    let mut moon = with_restart(moon_config());
    moon.connections[0].lifetime = Lifetime {
        rekey_time: secs(100),
        life_time: secs(104),
        rand_time: Duration::ZERO,
    };
    let mut pair = Pair::new(moon, with_restart(sun_config()));
    let mut held_rekey = false;
    // Drop sun's first answer to the IKE rekey: moon retransmits it at 104 s, by
    // which time the IKE SA has reached its life_time.
    pair.network = Box::new(move |t, from_a| {
        // CREATE_CHILD_SA (36) with the response flag: the only one in 400 s.
        let rekey_answer = !from_a && t.payload[18] == 36 && t.payload[19] & 0x20 != 0;
        if rekey_answer && !held_rekey {
            held_rekey = true;
            return Fate::Drop;
        }
        Fate::Deliver
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.run_for(secs(400));
    let (a, b) = (only_sa(&pair.a, pair.now), only_sa(&pair.b, pair.now));
    assert_eq!(a.children.len(), 1, "{a:?}");
    assert_eq!(b.children.len(), 1, "{b:?}");
    assert_eq!(a.children[0].spi_in, b.children[0].spi_out);
    assert_eq!(pair.a.kernel().sas.len(), pair.b.kernel().sas.len());
    assert!(pair.a.kernel().errors.is_empty() && pair.b.kernel().errors.is_empty());
}

#[test]
fn two_child_sas_created_by_both_ends_at_once_end_up_as_one() {
    // Both ends' CHILD SA expires at the same instant (no rekeying), and both bring
    // it back at once: the two CREATE_CHILD_SA requests cross.
    let expiring = |mut config: EngineConfig| {
        let child = &mut config.connections[0].children[0];
        child.dpd_action = DpdAction::Restart;
        child.lifetime = Lifetime {
            rekey_time: Duration::ZERO,
            life_time: secs(100),
            rand_time: Duration::ZERO,
        };
        config
    };
    let mut pair = Pair::new(expiring(moon_config()), expiring(sun_config()));
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.run_for(secs(130));
    let (a, b) = (only_sa(&pair.a, pair.now), only_sa(&pair.b, pair.now));
    let installed = |sa: &IkeSaInfo| {
        sa.children
            .iter()
            .filter(|c| c.state == "INSTALLED")
            .map(|c| (c.spi_in, c.spi_out))
            .collect::<Vec<_>>()
    };
    let (on_a, on_b) = (installed(&a), installed(&b));
    assert_eq!(on_a.len(), 1, "moon: {a:?}");
    assert_eq!(on_b.len(), 1, "sun: {b:?}");
    assert_eq!(on_a[0], (on_b[0].1, on_b[0].0), "the same one on both ends");
    let restarts = |n: &Node| {
        n.events
            .iter()
            .filter(|e| matches!(e, Event::EndAction { .. }))
            .count()
    };
    assert!(
        restarts(&pair.a) >= 1 && restarts(&pair.b) >= 1,
        "both brought it back"
    );
}
