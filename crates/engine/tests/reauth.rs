//! Make-before-break reauthentication (`reauth_time`): a brand-new IKE SA with
//! the same CHILD SAs, installed while the old ones still run, then the old IKE SA
//! deleted. Traffic never lacks an SA, in either direction.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::EngineConfig;
use tern_engine::{Event, IkeSaInfo};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn reauth_every(mut config: EngineConfig, s: u64) -> EngineConfig {
    config.connections[0].reauth_time = secs(s);
    config
}

/// Both sides hold one IKE SA, the same one, with one CHILD SA between them.
fn one_tunnel(pair: &Pair) -> (IkeSaInfo, IkeSaInfo) {
    let a = pair.a.engine.list_sas(pair.now);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(a.len(), 1, "moon: {a:?}");
    assert_eq!(b.len(), 1, "sun: {b:?}");
    assert_eq!(
        (a[0].initiator_spi, a[0].responder_spi),
        (b[0].initiator_spi, b[0].responder_spi)
    );
    assert_eq!(a[0].children.len(), 1, "moon: {a:?}");
    assert_eq!(b[0].children.len(), 1, "sun: {b:?}");
    assert_eq!(a[0].children[0].spi_in, b[0].children[0].spi_out);
    (a[0].clone(), b[0].clone())
}

/// Runs `total` in steps of a second with ESP traffic both ways, checking that
/// neither kernel was ever left without an SA towards the other.
fn run_with_traffic(pair: &mut Pair, total: u64) {
    for _ in 0..total {
        pair.a.receive_esp(1000);
        pair.b.receive_esp(1000);
        pair.run_for(secs(1));
        for (name, node) in [("moon", &pair.a), ("sun", &pair.b)] {
            let kernel = node.kernel();
            assert!(kernel.gaps.is_empty(), "{name}: {:?}", kernel.gaps);
            assert!(kernel.errors.is_empty(), "{name}: {:?}", kernel.errors);
        }
    }
}

fn reasons(node: &Node) -> Vec<String> {
    node.events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaDeleted { reason, .. } => Some(reason.text.clone()),
            _ => None,
        })
        .collect()
}

fn reauthenticates_three_times(moon_reauths: bool) {
    let (a, b) = if moon_reauths {
        (reauth_every(moon_config(), 300), sun_config())
    } else {
        (moon_config(), reauth_every(sun_config(), 300))
    };
    let mut pair = Pair::new(a, b);
    pair.initiate_from_a("demo");
    pair.deliver();
    let (first, _) = one_tunnel(&pair);
    // 300 s less up to 30 s of jitter, three times, and some time to settle.
    run_with_traffic(&mut pair, 3 * 300 + 60);
    let (last, _) = one_tunnel(&pair);
    assert_ne!(last.unique_id, first.unique_id);
    assert_ne!(last.children[0].spi_in, first.children[0].spi_in);
    let (reauthing, other) = if moon_reauths {
        (&pair.a, &pair.b)
    } else {
        (&pair.b, &pair.a)
    };
    let ours = reasons(reauthing);
    assert_eq!(
        ours.iter().filter(|r| *r == "reauthenticated").count(),
        3,
        "{ours:?}"
    );
    let theirs = reasons(other);
    assert_eq!(
        theirs
            .iter()
            .filter(|r| *r == "deleted by the peer")
            .count(),
        3,
        "the peer deleted each old IKE SA, none went for INITIAL_CONTACT: {theirs:?}"
    );
    // Each old IKE SA's end and its CHILD SA's are on record as routine.
    let history = reauthing.engine.history();
    let ends = &history[0].1;
    assert!(
        ends.iter()
            .filter(|e| e.cause.text == "reauthenticated")
            .count()
            >= 6
    );
    assert!(ends.iter().all(|e| e.is_routine()), "{ends:?}");
    for node in [&pair.a, &pair.b] {
        let stats = node.engine.stats();
        assert_eq!(stats.ike_hard_expiries + stats.child_hard_expiries, 0);
        // Two SAs of the one CHILD SA, once the old inbound SAs' grace is over.
        assert_eq!(node.kernel().sas.len(), 2, "{:?}", node.kernel().sas);
        assert_eq!(node.kernel().policies.len(), 3);
    }
}

#[test]
fn the_initiator_reauthenticates_under_traffic_without_a_gap() {
    reauthenticates_three_times(true);
}

#[test]
fn the_responder_reauthenticates_under_traffic_without_a_gap() {
    reauthenticates_three_times(false);
}

#[test]
fn a_reauthentication_that_fails_is_tried_again_and_the_old_ike_sa_keeps_running() {
    let mut pair = Pair::new(reauth_every(moon_config(), 300), sun_config());
    pair.initiate_from_a("demo");
    pair.deliver();
    let (first, _) = one_tunnel(&pair);
    // The peer ignores new IKE SAs for a while (IKE_SA_INIT has message ID 0 and
    // zero responder SPI): the first attempt times out.
    let start = pair.now;
    let blocked_until = start + secs(300 + 200);
    let clock = std::rc::Rc::new(std::cell::Cell::new(start));
    let seen = clock.clone();
    pair.network = Box::new(move |t, from_a| {
        let init = from_a && t.payload[18] == 34;
        if init && seen.get() < blocked_until {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    for _ in 0..700 {
        clock.set(pair.now);
        pair.a.receive_esp(1000);
        pair.b.receive_esp(1000);
        pair.run_for(secs(1));
        assert!(
            pair.a.kernel().gaps.is_empty(),
            "{:?}",
            pair.a.kernel().gaps
        );
    }
    let (last, _) = one_tunnel(&pair);
    assert_ne!(
        last.unique_id, first.unique_id,
        "reauthenticated in the end"
    );
    let failed = pair
        .a
        .events
        .iter()
        .filter(|e| matches!(e, Event::IkeSaFailed { .. }))
        .count();
    assert!(failed >= 1, "the first attempt failed");
    assert_eq!(pair.a.engine.stats().ike_hard_expiries, 0);
}

#[test]
fn both_ends_reauthenticating_at_once_keep_one_ike_sa() {
    // The same reauth_time on both ends and no jitter: every reauthentication
    // collides, each end making a new IKE SA. Unresolved, they doubled each round
    // (64 IKE SAs after an hour).
    let mut a = reauth_every(moon_config(), 600);
    let mut b = reauth_every(sun_config(), 600);
    for config in [&mut a, &mut b] {
        let conn = &mut config.connections[0];
        conn.lifetime.rand_time = Duration::ZERO;
        for child in &mut conn.children {
            child.lifetime.rand_time = Duration::ZERO;
        }
    }
    let mut pair = Pair::new(a, b);
    pair.initiate_from_a("demo");
    pair.deliver();
    // Every 600 s both ends reauthenticate; look 60 s and 360 s after each.
    run_with_traffic(&mut pair, 600);
    for round in 1..=4 {
        run_with_traffic(&mut pair, 60);
        // Both new IKE SAs up on both ends, with traffic flowing throughout.
        let (a, b) = (
            pair.a.engine.list_sas(pair.now),
            pair.b.engine.list_sas(pair.now),
        );
        assert_eq!((a.len(), b.len()), (2, 2), "round {round}");
        // After the grace period (half the reauth_time): one, the same on both ends.
        run_with_traffic(&mut pair, 300);
        one_tunnel(&pair);
        run_with_traffic(&mut pair, 240);
    }
    let duplicates = |node: &Node| {
        reasons(node)
            .iter()
            .filter(|r| r.starts_with("duplicate: both ends set up an IKE SA at once"))
            .count()
    };
    // Both ends delete the same IKE SA, one deletion per round.
    assert_eq!(
        duplicates(&pair.a) + duplicates(&pair.b),
        4 * 2,
        "{:#?}",
        reasons(&pair.a)
    );
}

/// Runs until moon holds a second IKE SA (sun's reauthentication is in).
fn until_reauthenticated(pair: &mut Pair) {
    for _ in 0..400 {
        pair.run_for(secs(1));
        if pair.a.engine.list_sas(pair.now).len() == 2 {
            return;
        }
    }
    panic!("sun did not reauthenticate");
}

/// Outbound SAs from moon (192.0.2.1) to sun, by SPI.
fn moon_outbound(pair: &Pair) -> Vec<u32> {
    let moon: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    pair.a
        .kernel()
        .sas
        .keys()
        .filter(|(src, _, _)| *src == moon)
        .map(|(_, _, spi)| *spi)
        .collect()
}

/// Sun reauthenticates; moon, the IKE_AUTH responder, would send on the new
/// CHILD SA the moment it answers, before sun has it (interop lost a ping so).
/// Moon's new outbound SA waits until sun deletes the old IKE SA.
#[test]
fn the_reauthentication_responder_sends_on_the_new_child_sa_once_the_old_goes() {
    let mut pair = Pair::new(moon_config(), reauth_every(sun_config(), 300));
    pair.initiate_from_a("demo");
    pair.deliver();
    let (old, _) = one_tunnel(&pair);
    let old_out = old.children[0].spi_out;
    // Sun's DELETE of the old IKE SA (an INFORMATIONAL request) is held back.
    pair.network = Box::new(|t, from_a| {
        let delete = !from_a
            && t.payload.get(18) == Some(&37)
            && t.payload.get(19).is_some_and(|flags| flags & 0x20 == 0);
        if delete {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    until_reauthenticated(&mut pair);
    assert_eq!(
        moon_outbound(&pair),
        [old_out],
        "moon still sends on the old SA"
    );

    pair.release_held();
    pair.deliver();
    let (new, _) = one_tunnel(&pair);
    assert_ne!(new.unique_id, old.unique_id);
    assert_eq!(moon_outbound(&pair), [new.children[0].spi_out]);
    assert!(
        pair.a.kernel().gaps.is_empty(),
        "{:?}",
        pair.a.kernel().gaps
    );
    assert!(
        pair.a.kernel().errors.is_empty(),
        "{:?}",
        pair.a.kernel().errors
    );
}

/// The old IKE SA is not deleted (its DELETE lost every time): moon sends on
/// the new CHILD SA five seconds after IKE_AUTH all the same.
#[test]
fn a_held_outbound_sa_goes_in_after_five_seconds_at_the_latest() {
    let mut pair = Pair::new(moon_config(), reauth_every(sun_config(), 300));
    pair.initiate_from_a("demo");
    pair.deliver();
    let (old, _) = one_tunnel(&pair);
    pair.network = Box::new(|t, from_a| {
        let informational = !from_a && t.payload.get(18) == Some(&37);
        if informational {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    until_reauthenticated(&mut pair);
    let sas = pair.a.engine.list_sas(pair.now);
    let new = sas.iter().find(|sa| sa.unique_id != old.unique_id).unwrap();
    let new_out = new.children[0].spi_out;
    assert!(!moon_outbound(&pair).contains(&new_out));
    pair.run_for(secs(3));
    assert!(!moon_outbound(&pair).contains(&new_out));
    pair.run_for(secs(2));
    assert!(
        moon_outbound(&pair).contains(&new_out),
        "{:?}",
        moon_outbound(&pair)
    );
}
