//! The field's IKE SA rekey bugs (issue 23), in the message orders their public
//! reports describe, forced by the test network. See field_bugs.rs for the
//! CHILD SA ones.

mod common;
mod field_bugs_kit;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use field_bugs_kit::*;
use tern_engine::Event;

/// A link that is down (both directions lose everything) while `down` says so,
/// given the time since the pair started.
fn bouncing_link(pair: &mut Pair, down: impl Fn(Duration) -> bool + 'static) -> Rc<Cell<Instant>> {
    let clock = Rc::new(Cell::new(pair.now));
    let seen = clock.clone();
    let start = pair.start;
    pair.network = Box::new(move |_, _| {
        if down(seen.get() - start) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    clock
}

/// Runs `total` one 100 ms step at a time, telling the link the time.
fn run_with_clock(pair: &mut Pair, clock: &Rc<Cell<Instant>>, total: Duration) {
    let end = pair.now + total;
    while pair.now < end {
        clock.set(pair.now);
        pair.run_for(Duration::from_millis(100));
    }
}

/// How each IKE SA of this node ended.
fn ike_ends(node: &Node) -> Vec<String> {
    node.events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaDeleted { reason, .. } => Some(reason.text.clone()),
            _ => None,
        })
        .collect()
}

/// How many IKE_SA_INIT requests this side sent.
fn ike_sa_inits(pair: &Pair, from_moon: bool) -> usize {
    pair.wire_log
        .iter()
        .filter(|(a, p)| *a == from_moon && p[18] == IKE_SA_INIT && p[19] & 0x20 == 0)
        .count()
}

/// strongSwan #3042 (github.com/strongswan/strongswan/issues/3042): the link
/// goes down just before the IKE rekey and comes back after its request went
/// out; the peer's answer then arrives late, and charon deleted the old IKE SA
/// (expected) and the new one too. Here the link is down from 99 s to 115 s
/// around moon's rekey at 100 s; a retransmission gets through, and a copy of
/// the answer arrives once more, late, after the rekey completed. Both ends
/// keep the new IKE SA with the CHILD SA on it; only the old one is deleted.
#[test]
fn strongswan_3042_a_late_ike_rekey_answer_after_a_link_bounce() {
    let moon = with_ike_lifetime(moon_config(), lifetime(100, 1000, 0));
    let mut pair = Pair::new(moon, sun_config());
    up(&mut pair);
    let before = pair.a.engine.list_sas(pair.now)[0].clone();
    let clock = bouncing_link(&mut pair, |t| t >= secs(99) && t < secs(115));
    run_with_clock(&mut pair, &clock, secs(115));
    assert_eq!(
        pair.a.engine.list_sas(pair.now)[0].unique_id,
        before.unique_id,
        "no answer yet: the rekey is still in flight"
    );
    // The link is back; sun's answers to the rekey come twice (a copy held
    // back, released once the rekey is done).
    let held = Rc::new(Cell::new(false));
    let holding = held.clone();
    pair.network = Box::new(move |t, from_a| match (from_a, exchange(t)) {
        (false, (CREATE_CHILD_SA, true)) if !holding.get() => {
            holding.set(true);
            Fate::Duplicate
        }
        _ => Fate::Deliver,
    });
    pair.run_for(secs(30));
    assert!(held.get(), "sun answered the rekey");
    let ends = ike_ends(&pair.a);
    assert_eq!(ends, ["rekeyed"], "moon deleted the old IKE SA only");
    assert_eq!(ike_ends(&pair.b), ["rekeyed"], "sun too");
    pair.run_for(secs(60));
    let after = pair.a.engine.list_sas(pair.now)[0].clone();
    assert_ne!(after.initiator_spi, before.initiator_spi, "the new IKE SA");
    assert_eq!(
        after.children[0].spi_in, before.children[0].spi_in,
        "the CHILD SA moved over, untouched"
    );
    assert_one_consistent_child(&pair);
    assert_eq!(ike_sa_inits(&pair, true), 1, "moon never started over");
    assert_eq!(ike_sa_inits(&pair, false), 0);
    assert_policies_never_removed(&pair);
}

/// Libreswan #514 (github.com/libreswan/libreswan/issues/514): the IKE rekey
/// is sent while the route to the peer is blocked, and the replacement
/// (reauthentication) comes due before the rekey times out; pluto ended up with
/// duplicate CHILD SAs. Here moon rekeys its IKE SA at 100 s and reauthenticates
/// at 110 s, the link is down from 99 s to 130 s, and both exchanges complete
/// once it is back (the reauthentication first): in the end one IKE SA and one
/// CHILD SA on each end. tern made no duplicate CHILD SA, but the old IKE SA's
/// DELETE, queued behind the rekey, was dropped when the rekey's answer came,
/// and the old IKE SA stayed on the peer until its life_time.
#[test]
fn libreswan_514_ike_rekey_and_replace_do_not_duplicate_child_sas() {
    let mut moon = with_ike_lifetime(moon_config(), lifetime(100, 1000, 0));
    moon.connections[0].reauth_time = secs(110);
    let mut pair = Pair::new(moon, sun_config());
    up(&mut pair);
    let clock = bouncing_link(&mut pair, |t| t >= secs(99) && t < secs(130));
    run_with_clock(&mut pair, &clock, secs(200));
    // Both exchanges went through once the link was back: sun answered the
    // rekey, and moon's IKE SAs ended as replaced by the reauthentication (the
    // old one, and the redundant one the late rekey made).
    let answered = pair
        .wire_log
        .iter()
        .any(|(a, p)| !a && p[18] == CREATE_CHILD_SA && p[19] & 0x20 != 0);
    assert!(answered, "sun answered the IKE rekey");
    assert_eq!(ike_ends(&pair.a), ["reauthenticated", "reauthenticated"]);
    // Sun was told of both: the old IKE SA does not linger there until its
    // life_time (it did: its DELETE, queued behind the rekey, was dropped).
    let mut sun_ends = ike_ends(&pair.b);
    sun_ends.sort();
    assert_eq!(sun_ends, ["deleted by the peer", "rekeyed"]);
    for node in [&pair.a, &pair.b] {
        let sas = node.engine.list_sas(pair.now);
        let children: usize = sas.iter().map(|sa| sa.children.len()).sum();
        assert_eq!(children, 1, "CHILD SAs: {sas:?}");
    }
    assert_one_consistent_child(&pair);
}
