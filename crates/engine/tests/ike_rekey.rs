//! IKE SA rekeying (RFC 7296 §1.3.2, §2.18): the CHILD SAs move to the new IKE SA,
//! which then works for everything the old one did.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::{EngineConfig, Lifetime};
use tern_engine::{Command, Event};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ike_lifetime(mut config: EngineConfig, rekey: u64, life: u64, rand: u64) -> EngineConfig {
    config.connections[0].lifetime = Lifetime {
        rekey_time: secs(rekey),
        life_time: secs(life),
        rand_time: secs(rand),
    };
    config
}

fn up(pair: &mut Pair) {
    pair.initiate_from_a("demo");
    pair.deliver();
}

/// Both sides hold one IKE SA, the same one, with one CHILD SA between them.
fn assert_one_ike_sa(pair: &Pair) -> (tern_engine::IkeSaInfo, tern_engine::IkeSaInfo) {
    let a = pair.a.engine.list_sas(pair.now);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(a.len(), 1, "moon: {a:?}");
    assert_eq!(b.len(), 1, "sun: {b:?}");
    assert_eq!(a[0].state, "ESTABLISHED");
    assert_eq!(
        (a[0].initiator_spi, a[0].responder_spi),
        (b[0].initiator_spi, b[0].responder_spi)
    );
    assert_eq!(a[0].children.len(), 1);
    assert_eq!(b[0].children.len(), 1);
    assert_eq!(a[0].children[0].spi_in, b[0].children[0].spi_out);
    (a[0].clone(), b[0].clone())
}

#[test]
fn initiator_rekeys_the_ike_sa_and_the_child_sa_moves_over() {
    let mut pair = Pair::new(ike_lifetime(moon_config(), 100, 110, 0), sun_config());
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    pair.run_for(secs(105));
    let (after, _) = assert_one_ike_sa(&pair);
    assert_ne!(after.initiator_spi, before.initiator_spi, "new SPIs");
    assert_ne!(after.unique_id, before.unique_id);
    assert_eq!(
        after.children[0].spi_in, before.children[0].spi_in,
        "the CHILD SA is untouched"
    );
    assert_eq!(
        pair.a.kernel().sas.len(),
        2,
        "no kernel change for an IKE rekey"
    );
    assert_eq!(pair.a.engine.stats().ike_rekeys_initiated, 1);
    for node in [&pair.a, &pair.b] {
        assert!(node
            .events
            .iter()
            .any(|e| matches!(e, Event::IkeSaRekeyed { .. })));
        assert!(node
            .events
            .iter()
            .any(|e| matches!(e, Event::IkeSaDeleted { reason, .. } if reason.text == "rekeyed")));
        assert!(!node
            .events
            .iter()
            .any(|e| matches!(e, Event::ChildSaDeleted { .. })));
    }
}

#[test]
fn responder_rekeys_the_ike_sa_and_it_keeps_working_afterwards() {
    let mut pair = Pair::new(moon_config(), ike_lifetime(sun_config(), 100, 110, 0));
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    pair.run_for(secs(105));
    let (after, _) = assert_one_ike_sa(&pair);
    assert_ne!(after.responder_spi, before.responder_spi);
    assert_eq!(pair.b.engine.stats().ike_rekeys_initiated, 1);
    // The new IKE SA carries a CHILD rekey (fresh message IDs) and then a delete.
    pair.a.rekey(pair.now, "demo");
    pair.run_for(secs(10));
    let (rekeyed, _) = assert_one_ike_sa(&pair);
    assert_ne!(rekeyed.children[0].spi_in, after.children[0].spi_in);
    pair.a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(secs(10));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(pair.a.kernel().is_empty() && pair.b.kernel().is_empty());
}

/// Equal IKE lifetimes without jitter: both ends rekey the IKE SA at the same
/// instant. Each answers the other's rekey as usual, and the nonce rule of RFC
/// 7296 §2.8.2 keeps one of the two new IKE SAs, on both ends, with the CHILD SA
/// on it unchanged (before, each answered TEMPORARY_FAILURE and tried again).
#[test]
fn simultaneous_ike_rekeys_converge_on_one_ike_sa() {
    let same = |c| ike_lifetime(c, 100, 200, 0);
    let mut pair = Pair::new(same(moon_config()), same(sun_config()));
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    pair.run_for(secs(130));
    let (after, _) = assert_one_ike_sa(&pair);
    assert_ne!(after.unique_id, before.unique_id);
    assert_eq!(after.children[0].spi_in, before.children[0].spi_in);
    for node in [&pair.a, &pair.b] {
        let stats = node.engine.stats();
        assert_eq!(
            stats.ike_rekeys_initiated, 1,
            "one rekey each, settled at once"
        );
        assert_eq!(stats.ike_rekey_collisions, 1);
        assert_eq!(stats.ike_hard_expiries, 0);
    }
    assert_eq!(
        pair.a.kernel().sas.len(),
        2,
        "no kernel change for an IKE rekey"
    );
}

/// As above, with one end's answers held back for 20 s: the other end settles
/// the collision first, and either deletes the old IKE SA (its new one stayed)
/// while the held end still waits for its answer, or waits for that end to.
/// Both orders end with one IKE SA on both ends.
fn simultaneous_ike_rekeys_with_late_answers(hold_moons: bool) {
    let same = |c| ike_lifetime(c, 100, 200, 0);
    let mut pair = Pair::new(same(moon_config()), same(sun_config()));
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    pair.run_for(secs(99));
    pair.network = Box::new(move |t, from_a| {
        let answer = t.payload.get(18) == Some(&36)
            && t.payload.get(19).is_some_and(|flags| flags & 0x20 != 0);
        if answer && from_a == hold_moons {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    pair.run_for(secs(2));
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.run_for(secs(20));
    pair.release_held();
    // Settled well before the next rekeys, at 200 s: one IKE SA in use on both
    // ends. (An end whose own answer came after the peer deleted the old IKE SA
    // never had keys for its redundant new one; the peer drops that one after
    // waiting for its DELETE.)
    pair.run_for(secs(60));
    let established = |node: &Node| -> Vec<tern_engine::IkeSaInfo> {
        let sas = node.engine.list_sas(pair.now);
        sas.into_iter()
            .filter(|sa| sa.state == "ESTABLISHED")
            .collect()
    };
    let (a, b) = (established(&pair.a), established(&pair.b));
    assert_eq!((a.len(), b.len()), (1, 1), "moon: {a:?}\nsun: {b:?}");
    assert_eq!(
        (a[0].initiator_spi, a[0].responder_spi),
        (b[0].initiator_spi, b[0].responder_spi)
    );
    assert_eq!(a[0].children[0].spi_in, before.children[0].spi_in);
    for node in [&pair.a, &pair.b] {
        assert_eq!(node.engine.stats().ike_hard_expiries, 0);
        assert_eq!(node.engine.stats().ike_rekey_collisions, 1);
    }
    // Later collisions (the same lifetimes again) settle too, and nothing lingers.
    pair.run_for(secs(190));
    assert_one_ike_sa(&pair);
    let (ka, kb) = (pair.a.kernel(), pair.b.kernel());
    assert_eq!((ka.sas.len(), kb.sas.len()), (2, 2));
    assert!(ka.errors.is_empty() && kb.errors.is_empty());
}

#[test]
fn simultaneous_ike_rekeys_with_moons_answers_late() {
    simultaneous_ike_rekeys_with_late_answers(true);
}

#[test]
fn simultaneous_ike_rekeys_with_suns_answers_late() {
    simultaneous_ike_rekeys_with_late_answers(false);
}

#[test]
fn a_week_of_ike_and_child_rekeys_keeps_one_tunnel() {
    let moon = ike_lifetime(moon_config(), 4 * 3600, 4 * 3960, 1440);
    let sun = ike_lifetime(sun_config(), 3 * 3600, 3 * 3960, 1080);
    let mut pair = Pair::new(moon, sun);
    up(&mut pair);
    pair.run_for(secs(7 * 24 * 3600));
    assert_one_ike_sa(&pair);
    let a = pair.a.engine.stats();
    let b = pair.b.engine.stats();
    assert!(a.ike_rekeys_initiated + b.ike_rekeys_initiated >= 40);
    assert!(a.child_rekeys_initiated + b.child_rekeys_initiated >= 160);
    assert_eq!(
        a.ike_hard_expiries + b.ike_hard_expiries + a.child_hard_expiries + b.child_hard_expiries,
        0
    );
    let k = pair.a.kernel();
    assert!(k.errors.is_empty(), "{:?}", k.errors);
    assert_eq!(k.sas.len(), 2);
}

#[test]
fn rekey_ike_command_rekeys_the_ike_sa_at_once_from_either_side() {
    let mut pair = Pair::demo();
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    let accepted = pair
        .a
        .engine
        .handle_command(
            pair.now,
            Command::RekeyIke {
                connection: "demo".into(),
            },
        )
        .unwrap();
    assert_eq!(accepted.ike_ids, vec![before.unique_id]);
    pair.deliver();
    let (after, _) = assert_one_ike_sa(&pair);
    assert_ne!(after.initiator_spi, before.initiator_spi, "new SPIs");
    assert_eq!(after.children[0].spi_in, before.children[0].spi_in);
    assert!(pair.a.events.iter().any(|e| matches!(
        e,
        Event::IkeSaRekeyed { old_ike_id, .. } if *old_ike_id == before.unique_id
    )));

    // The responder can do it as well.
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::RekeyIke {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.deliver();
    let (again, _) = assert_one_ike_sa(&pair);
    assert_ne!(again.initiator_spi, after.initiator_spi);

    let err = pair
        .a
        .engine
        .handle_command(
            pair.now,
            Command::RekeyIke {
                connection: "nope".into(),
            },
        )
        .unwrap_err();
    assert_eq!(err, "no established IKE SA for connection `nope`");
}

/// The old IKE SA's DELETE goes unanswered (every answer lost) until its
/// life_time passes. It was replaced, so that is no hard expiry: it simply goes,
/// and nothing is restarted. (It counted as a hard expiry, and dpd_action =
/// restart initiated a second IKE SA beside the new one.)
#[test]
fn an_old_ike_sa_whose_delete_is_unanswered_is_not_a_hard_expiry() {
    let mut a = ike_lifetime(moon_config(), 100, 160, 0);
    a.connections[0].children[0].dpd_action = tern_engine::config::DpdAction::Restart;
    let mut pair = Pair::new(a, sun_config());
    up(&mut pair);
    // From now on, sun's answers to INFORMATIONAL requests are lost.
    pair.network = Box::new(|t, from_a| {
        let informational_response = t.payload.get(18) == Some(&37)
            && t.payload.get(19).is_some_and(|flags| flags & 0x20 != 0);
        if !from_a && informational_response {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    // Rekeys at 100, 200 and 300 s; each old SA reaches life_time 160 s after it began.
    pair.run_for(secs(380));
    let stats = pair.a.engine.stats();
    assert_eq!(stats.ike_hard_expiries, 0);
    assert_eq!(stats.restarts, 0);
    assert_one_ike_sa(&pair);
    let ends: Vec<String> = pair
        .a
        .events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaDeleted { reason, .. } => Some(reason.text.clone()),
            _ => None,
        })
        .collect();
    // Rekeyed every 100 s: three old IKE SAs, each gone at its life_time.
    assert_eq!(ends, ["rekeyed"; 3]);
}

/// The IKE SA reaches its life_time while its rekey is unanswered: the rekey
/// holds the window, so a DELETE could not go out, and the expired SA would go on
/// answering and finishing exchanges (the rekey's late answer made a new IKE SA
/// out of it, only to delete that at once; seen in the property search, seed
/// 368, where the peer then kept that one as the survivor of two). Now it ends at
/// once, and the restart's INITIAL_CONTACT tells the peer.
#[test]
fn an_ike_sa_expiring_with_its_rekey_unanswered_ends_at_once_and_comes_back() {
    let a = ike_lifetime(moon_config(), 100, 110, 0);
    let mut pair = Pair::new(a, sun_config());
    up(&mut pair);
    let (before, _) = assert_one_ike_sa(&pair);
    let start = pair.start;
    let clock = std::rc::Rc::new(std::cell::Cell::new(pair.now));
    let seen = clock.clone();
    // Sun hears nothing from moon between 99 s and 112 s.
    pair.network = Box::new(move |_, from_a| {
        let t = seen.get() - start;
        if from_a && t >= secs(99) && t < secs(112) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    for _ in 0..111 {
        clock.set(pair.now);
        pair.run_for(secs(1));
    }
    let moon = pair.a.engine.list_sas(pair.now);
    assert!(
        moon.iter().all(|sa| sa.unique_id != before.unique_id),
        "the expired IKE SA is still there at {:?}: {moon:?}",
        pair.elapsed()
    );
    assert_eq!(pair.a.engine.stats().ike_hard_expiries, 1);
    for _ in 0..60 {
        clock.set(pair.now);
        pair.run_for(secs(1));
    }
    let (after, _) = assert_one_ike_sa(&pair);
    assert_ne!(after.unique_id, before.unique_id);
}

/// A peer with IKE rekeying off (sun: no rekey_time, a life_time of 60 s)
/// deletes the IKE SA at the end of its life and sets up a new one, taking the
/// CHILD SA down each time. Twice at the same age is a pattern: moon then
/// rekeys the IKE SA first, a tenth before that age, and sun's IKE SAs stop
/// expiring. `rekey_adapt = false` leaves sun's rhythm alone.
fn peer_with_ike_rekeying_off(adapt: bool) -> Pair {
    let mut a = moon_config();
    a.connections[0].rekey_adapt = adapt;
    let b = ike_lifetime(sun_config(), 0, 60, 0);
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    pair.run_for(secs(400));
    pair
}

#[test]
fn a_peer_that_lets_its_ike_sas_expire_is_rekeyed_first() {
    let pair = peer_with_ike_rekeying_off(true);
    assert_eq!(pair.b.engine.stats().ike_hard_expiries, 2);
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 1);
    assert!(pair.a.engine.stats().ike_rekeys_initiated >= 4);
    assert_one_ike_sa(&pair);
}

#[test]
fn rekey_adapt_false_leaves_the_peers_ike_rhythm_alone() {
    let pair = peer_with_ike_rekeying_off(false);
    assert_eq!(pair.b.engine.stats().ike_hard_expiries, 6);
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 0);
    assert_eq!(pair.a.engine.stats().ike_rekeys_initiated, 0);
}

/// An IKE rekey that comes due while another exchange is in flight waits, and
/// tries again 1 to 11 s later: never past the SA's life_time. Here the IKE SA
/// has 2.5 s of life after its rekey_time and moon's CHILD rekey is in flight
/// (its answer held back 2 s) when the IKE rekey comes due; before, the retry
/// fell after the hard expiry (seen in the property search, seed 17, with 1.1 s
/// of room).
#[test]
fn an_ike_rekey_put_off_by_another_exchange_still_comes_before_life_time() {
    let mut a = moon_config();
    a.connections[0].lifetime = Lifetime {
        rekey_time: Duration::from_secs(60),
        life_time: Duration::from_millis(62_500),
        rand_time: Duration::ZERO,
    };
    a.connections[0].children[0].lifetime = Lifetime {
        rekey_time: Duration::from_secs(59),
        life_time: Duration::from_secs(300),
        rand_time: Duration::ZERO,
    };
    let mut pair = Pair::new(a, sun_config());
    up(&mut pair);
    pair.run_for(Duration::from_secs(58));
    // Sun's answer to moon's CHILD rekey (at 59 s) is held back until 61 s.
    pair.network = Box::new(|t, from_a| {
        if !from_a && t.payload.get(18) == Some(&36) {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    pair.run_for(Duration::from_secs(3));
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    pair.run_for(Duration::from_secs(20));
    let stats = pair.a.engine.stats();
    assert_eq!(stats.child_rekeys_initiated, 1, "{stats:?}");
    assert_eq!(stats.ike_hard_expiries, 0, "{stats:?}");
    assert_eq!(stats.ike_rekeys_initiated, 1, "{stats:?}");
}

/// The peer's IKE rekeys refused with TEMPORARY_FAILURE while a CHILD rekey of ours
/// is stuck in retransmission, until the peer's IKE SA reaches its life_time and the
/// peer deletes it (property search seeds 524 and 703: the tunnel stayed down for
/// hours). That DELETE is the SA's end of life on the peer's side, not a close: moon
/// sets the IKE SA up again.
#[test]
fn an_ike_sa_the_peer_lets_expire_after_our_refusals_is_set_up_again() {
    use tern_wire::{ExchangeType, Message};
    let mut pair = Pair::new(moon_config(), ike_lifetime(sun_config(), 30, 36, 0));
    up(&mut pair);
    let (first, _) = assert_one_ike_sa(&pair);
    pair.run_for(secs(25));
    // From here sun's answers to CREATE_CHILD_SA are lost: moon's rekey stays in flight.
    pair.network = Box::new(|t, from_a| {
        let child_answer = Message::parse(&t.payload).is_ok_and(|m| {
            m.header.exchange == ExchangeType::CREATE_CHILD_SA && m.header.flags.is_response()
        });
        if !from_a && child_answer {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.a.rekey(pair.now, "demo");
    pair.run_for(secs(15));
    let deleted = pair.a.events.iter().find_map(|e| match e {
        Event::IkeSaDeleted { ike_id, reason, .. } if *ike_id == first.unique_id => {
            Some(reason.text.clone())
        }
        _ => None,
    });
    assert_eq!(
        deleted.as_deref(),
        Some("deleted by the peer soon after we refused its rekey (an exchange of ours was in flight): its end of life there, not a close"),
        "moon refused sun's IKE rekeys, then sun deleted the IKE SA at its life_time"
    );
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.run_for(secs(15));
    let (again, _) = assert_one_ike_sa(&pair);
    assert_ne!(
        again.unique_id, first.unique_id,
        "a new IKE SA, set up by moon"
    );
}
