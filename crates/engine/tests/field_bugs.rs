//! The field's CHILD SA rekey bugs (issue 23), each in the exact message order
//! its public report describes, forced by the test network (drop, hold, release)
//! and by `Emulation` for what the other implementation did. Each test names the
//! report it reproduces and checks what a user would: one CHILD SA on both ends
//! whose kernel SAs match, the policies in place throughout (no clear text), and
//! no CHILD SA logged as closed by the peer when the peer closed nothing.

mod common;
mod field_bugs_kit;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use field_bugs_kit::*;
use tern_engine::EndKind;

/// strongSwan #1896 (github.com/strongswan/strongswan/issues/1896): both ends
/// rekey the same CHILD SA; ours is lost and retransmitted; we answer the peer's
/// rekey (a collision); the peer, still waiting for our answer, refuses our
/// retransmission with TEMPORARY_FAILURE; then our answer reaches it and it
/// deletes the old SA. charon had reset the CHILD SA's state on TEMPORARY_FAILURE
/// and never installed the outbound SA of the peer's new one: traffic was lost
/// until DPD or the next rekey. Here moon must take the refusal as the peer's
/// rekey winning, and send on the new SA once the peer deletes the old one.
#[test]
fn strongswan_1896_collision_retransmit_and_temporary_failure() {
    let same = lifetime(60, 120, 0);
    let mut b = with_child_lifetime(sun_config(), same);
    b.emulate.refuse_rekey_while_rekeying = true;
    let mut pair = Pair::new(with_child_lifetime(moon_config(), same), b);
    up(&mut pair);
    pair.run_for(secs(59));
    // At 60 s both rekey. Moon's request is lost once (retransmitted at 64 s);
    // moon's answers to sun's rekey are held back.
    let dropped = Rc::new(Cell::new(false));
    let seen = dropped.clone();
    pair.network = Box::new(move |t, from_a| match (from_a, exchange(t)) {
        (true, (CREATE_CHILD_SA, false)) if !seen.get() => {
            seen.set(true);
            Fate::Drop
        }
        (true, (CREATE_CHILD_SA, true)) => Fate::Hold,
        _ => Fate::Deliver,
    });
    step(&mut pair, secs(6), secs(1), |p| {
        assert_policies_in_place(p, "while the rekeys cross")
    });
    assert!(
        dropped.get() && !pair.held.is_empty(),
        "the order was forced"
    );
    assert!(
        child_ends(&pair.a).is_empty(),
        "moon ended nothing yet: {:?}",
        child_ends(&pair.a)
    );
    // Sun refused moon's retransmission: moon leaves the SA to sun's rekey.
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    step(&mut pair, secs(10), secs(1), |p| {
        assert_policies_in_place(p, "after the collision")
    });
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
    assert_no_child_deleted_by_peer(&pair.a, "moon");
    assert_eq!(
        child_ends(&pair.a),
        [(EndKind::Rekeyed, "rekeyed".to_string())],
        "moon's old SA ended as rekeyed, and nothing else ended"
    );
    for node in [&pair.a, &pair.b] {
        assert_eq!(node.engine.stats().child_hard_expiries, 0);
    }
}

/// strongSwan #2477 (github.com/strongswan/strongswan/issues/2477): both ends
/// rekey the same CHILD SA; we answer the peer's rekey, and the peer (a Cisco
/// ASA, which had narrowed the traffic selectors) answers ours TS_UNACCEPTABLE;
/// then the peer deletes the old SA. charon treated the refusal as a plain failed
/// rekey and never installed the outbound SA of the peer's new one. Here moon's
/// answer to sun's rekey is held until sun's refusal has reached moon.
#[test]
fn strongswan_2477_collision_where_our_rekey_is_refused_ts_unacceptable() {
    let same = lifetime(60, 120, 0);
    let mut b = with_child_lifetime(sun_config(), same);
    b.emulate.refuse_peer_rekeys_with = Some(tern_wire::NotifyType::TS_UNACCEPTABLE);
    let mut pair = Pair::new(with_child_lifetime(moon_config(), same), b);
    up(&mut pair);
    pair.run_for(secs(59));
    pair.network = Box::new(|t, from_a| match (from_a, exchange(t)) {
        (true, (CREATE_CHILD_SA, true)) => Fate::Hold,
        _ => Fate::Deliver,
    });
    pair.run_for(secs(2));
    assert!(!pair.held.is_empty(), "the order was forced");
    let refused = child_ends(&pair.a);
    assert!(refused.is_empty(), "moon ended nothing yet: {refused:?}");
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    step(&mut pair, secs(10), secs(1), |p| {
        assert_policies_in_place(p, "after the collision")
    });
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
    assert_no_child_deleted_by_peer(&pair.a, "moon");
    assert_eq!(
        child_ends(&pair.a),
        [(EndKind::Rekeyed, "rekeyed".to_string())]
    );
}

/// strongSwan #1458 (github.com/strongswan/strongswan/issues/1458): we rekey;
/// the peer (a Palo Alto) answers and deletes the old SA itself at once, and its
/// DELETE is processed before its CREATE_CHILD_SA answer. charon took that for a
/// rekey/delete collision and removed the keys. tern used to retire the old SA
/// at the DELETE, taking its policies out of the kernel until the answer came
/// (traffic in clear text meanwhile), and logged it as deleted by the peer.
#[test]
fn strongswan_1458_the_peers_delete_overtakes_its_rekey_answer() {
    let mut b = sun_config();
    b.emulate.delete_after_answering_rekey = true;
    let mut pair = Pair::new(moon_config(), b);
    up(&mut pair);
    let first = pair.a.engine.list_sas(pair.now)[0].children[0].spi_in;
    pair.network = Box::new(|t, from_a| match (from_a, exchange(t)) {
        (false, (CREATE_CHILD_SA, true)) => Fate::Hold,
        _ => Fate::Deliver,
    });
    pair.a.rekey(pair.now, "demo");
    pair.deliver();
    assert_eq!(pair.held.len(), 1, "sun's answer is held back");
    assert_policies_in_place(&pair, "after the DELETE, before the answer");
    assert_no_child_deleted_by_peer(&pair.a, "moon");
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    pair.deliver();
    assert_ne!(
        pair.a.engine.list_sas(pair.now)[0].children[0].spi_in,
        first
    );
    step(&mut pair, secs(10), secs(1), |p| {
        assert_policies_in_place(p, "after the rekey")
    });
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
    assert_no_child_deleted_by_peer(&pair.a, "moon");
    assert_eq!(
        child_ends(&pair.a),
        [(EndKind::Rekeyed, "rekeyed".to_string())]
    );
}

/// strongSwan #1458 in a collision: both ends rekey at once, and one end's
/// answer is overtaken by the other's DELETE of the old SA. Whichever end's
/// answer is late, neither logs the old SA as deleted by the peer (it was
/// replaced) and neither takes its policies out.
fn strongswan_1458_in_a_collision(late_from_moon: bool) {
    let same = lifetime(60, 120, 0);
    let mut pair = Pair::new(
        with_child_lifetime(moon_config(), same),
        with_child_lifetime(sun_config(), same),
    );
    up(&mut pair);
    pair.run_for(secs(59));
    pair.network = Box::new(move |t, from_a| match (from_a, exchange(t)) {
        (late, (CREATE_CHILD_SA, true)) if late == late_from_moon => Fate::Hold,
        _ => Fate::Deliver,
    });
    pair.run_for(secs(2));
    assert!(!pair.held.is_empty(), "the order was forced");
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    step(&mut pair, secs(10), secs(1), |p| {
        assert_policies_in_place(p, "after the collision")
    });
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
    assert_no_child_deleted_by_peer(&pair.a, "moon");
    assert_no_child_deleted_by_peer(&pair.b, "sun");
}

#[test]
fn strongswan_1458_in_a_collision_with_moons_answer_late() {
    strongswan_1458_in_a_collision(true);
}

#[test]
fn strongswan_1458_in_a_collision_with_suns_answer_late() {
    strongswan_1458_in_a_collision(false);
}

/// strongSwan #2945 (github.com/strongswan/strongswan/issues/2945): a confused
/// peer rekeys the same CHILD SA twice before deleting the old SA; charon
/// answered both and crashed once the first replacement was deleted. Moon
/// answers the first and refuses the second (TEMPORARY_FAILURE: that SA is
/// already replaced, RFC 7296 §2.25), so it never holds two successors.
#[test]
fn strongswan_2945_the_peer_rekeys_the_same_child_sa_twice() {
    let mut b = sun_config();
    b.emulate.rekey_twice = true;
    let mut pair = Pair::new(moon_config(), b);
    up(&mut pair);
    pair.b.rekey(pair.now, "demo");
    pair.deliver();
    // Sun's requests: both rekeys of the same SA, then the DELETE of the old one.
    let sun_requests: Vec<u8> = pair
        .wire_log
        .iter()
        .filter(|(from_a, p)| !from_a && p[19] & 0x20 == 0)
        .map(|(_, p)| p[18])
        .collect();
    assert_eq!(
        sun_requests,
        [CREATE_CHILD_SA, CREATE_CHILD_SA, INFORMATIONAL]
    );
    step(&mut pair, secs(10), secs(1), |p| {
        let moon = p.a.engine.list_sas(p.now);
        assert!(moon[0].children.len() <= 1, "moon: {:?}", moon[0].children);
    });
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
    assert_eq!(
        child_ends(&pair.a),
        [(EndKind::Rekeyed, "rekeyed".to_string())]
    );
    assert_eq!(pair.a.engine.stats().child_hard_expiries, 0);
}

/// strongSwan #3053 (github.com/strongswan/strongswan/issues/3053): an SA reaches
/// its lifetime (60 s, no rekey); the host deletes it, and sends its traffic in
/// clear text until the peer answered the INFORMATIONAL. Here the expiring side
/// (moon or sun, rekeying off) deletes the SA and sets the child up again, and
/// neither end's policies ever leave the kernel: traffic waits for the new SA
/// instead of going out unprotected. tern took them out with the expired SA and
/// put them back with the new one: at least a round trip in clear text, on the
/// expiring side and on the side that received its DELETE.
fn strongswan_3053_hard_expiry(expiring_side_is_moon: bool) {
    let off = lifetime(0, 60, 0);
    let (a, b) = if expiring_side_is_moon {
        (with_child_lifetime(moon_config(), off), sun_config())
    } else {
        (moon_config(), with_child_lifetime(sun_config(), off))
    };
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    let first = pair.a.engine.list_sas(pair.now)[0].children[0].spi_in;
    pair.run_for(secs(55));
    step(
        &mut pair,
        secs(20),
        std::time::Duration::from_millis(100),
        |p| assert_policies_in_place(p, "around the hard expiry"),
    );
    let expiries =
        pair.a.engine.stats().child_hard_expiries + pair.b.engine.stats().child_hard_expiries;
    assert_eq!(expiries, 1, "the SA reached its life_time once");
    assert_ne!(
        pair.a.engine.list_sas(pair.now)[0].children[0].spi_in,
        first,
        "a new CHILD SA replaced it"
    );
    assert_one_consistent_child(&pair);
    assert_policies_never_removed(&pair);
}

#[test]
fn strongswan_3053_no_clear_text_around_our_hard_expiry() {
    strongswan_3053_hard_expiry(true);
}

#[test]
fn strongswan_3053_no_clear_text_around_the_peers_hard_expiry() {
    strongswan_3053_hard_expiry(false);
}

/// Libreswan #405 (the report could not be found in the search corpus; its
/// one-line description in issue 23 and the interop scenario
/// `libreswan-rekey-off` are the source): a responder with rekeying disabled
/// (pluto `rekey=no`, salifetime 15 s) deletes each CHILD SA at its lifetime and
/// sets none up again. Moon (1 h) sets the child up again, then rekeys before
/// the peer's lifetime; from then on the peer's SAs stop expiring, and moon's
/// policies stay in the kernel through every gap. They used to leave with the
/// deleted SA: up to 10 s of clear text (RECREATE_WITHIN) after each DELETE.
#[test]
fn libreswan_405_responder_with_rekeying_disabled() {
    let mut b = with_child_lifetime(sun_config(), lifetime(0, 15, 0));
    b.emulate.no_recreate_after_expiry = true;
    let mut pair = Pair::new(moon_config(), b);
    up(&mut pair);
    step(&mut pair, secs(90), secs(1), |p| {
        let k = p.a.kernel();
        assert_eq!(k.policies.len(), 3, "moon's policies at {:?}", p.elapsed());
    });
    assert_eq!(pair.b.engine.stats().child_hard_expiries, 2);
    assert_eq!(
        pair.a.engine.stats().rekeys_adapted,
        1,
        "moon rekeys first now"
    );
    // Three more of the peer's lifetimes: none ends at the peer any more.
    step(&mut pair, secs(45), secs(1), |p| {
        assert_policies_in_place(p, "once moon rekeys first")
    });
    assert_eq!(pair.b.engine.stats().child_hard_expiries, 2);
    assert!(pair.a.engine.stats().child_rekeys_initiated >= 3);
    // Checked between two rekeys, once the old inbound SA's grace is over.
    for _ in 0..15 {
        if pair.a.kernel().sas.len() == 2 && pair.b.kernel().sas.len() == 2 {
            break;
        }
        pair.run_for(secs(1));
    }
    assert_one_consistent_child(&pair);
    assert_eq!(
        pair.a.kernel().policies_deleted,
        0,
        "moon never removed its policies"
    );
}
