//! Simultaneous rekeys of the same CHILD SA (RFC 7296 section 2.8.1).

use super::*;

#[test]
fn simultaneous_rekeys_leave_exactly_one_child_sa() {
    // Identical lifetimes and no jitter: both sides rekey at the same instant.
    let same = lifetime(60, 120, 0);
    let mut pair = Pair::new(
        with_child_lifetime(moon_config(), same),
        with_child_lifetime(sun_config(), same),
    );
    up(&mut pair);
    pair.run_for(secs(61));
    let collisions =
        pair.a.engine.stats().child_rekey_collisions + pair.b.engine.stats().child_rekey_collisions;
    assert_eq!(collisions, 2, "both sides saw the collision");
    pair.run_for(secs(10));
    assert_one_consistent_child(&pair);
    assert_eq!(
        pair.a.engine.stats().child_hard_expiries + pair.b.engine.stats().child_hard_expiries,
        0
    );
}

/// Simultaneous rekeys where one side's answer is overtaken by the other side's
/// DELETE of the old SA: the collision must still be settled (RFC 7296 §2.8.1), or
/// the side whose answer was late keeps a redundant CHILD SA.
fn simultaneous_rekeys_with_a_late_answer(late_from_a: bool) {
    let same = lifetime(60, 120, 0);
    let mut pair = Pair::new(
        with_child_lifetime(moon_config(), same),
        with_child_lifetime(sun_config(), same),
    );
    up(&mut pair);
    let mut held = false;
    pair.network = Box::new(move |t, from_a| {
        let create_response = Message::parse(&t.payload)
            .map(|m| {
                m.header.exchange == ExchangeType::CREATE_CHILD_SA && m.header.flags.is_response()
            })
            .unwrap_or(false);
        if from_a == late_from_a && create_response && !held {
            held = true;
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    pair.run_for(secs(61));
    assert_eq!(pair.held.len(), 1, "one answer was held back");
    pair.release_held();
    pair.run_for(secs(10));
    let collisions =
        pair.a.engine.stats().child_rekey_collisions + pair.b.engine.stats().child_rekey_collisions;
    assert_eq!(collisions, 2, "both sides settled the collision");
    assert_one_consistent_child(&pair);
}

#[test]
fn simultaneous_rekeys_with_moons_answer_overtaken() {
    simultaneous_rekeys_with_a_late_answer(true);
}

#[test]
fn simultaneous_rekeys_with_suns_answer_overtaken() {
    simultaneous_rekeys_with_a_late_answer(false);
}

/// Both ends rekey the same CHILD SA at once (equal lifetimes, no jitter) and
/// every CREATE_CHILD_SA answer is lost until after the old SA's life_time: each
/// end has answered the other's rekey (its successor is installed) while its own
/// is still unanswered. The old SA then goes silently: a DELETE would meet the
/// peer's unfinished rekey, and a strongSwan-like peer drops the new SA too,
/// leaving none (seen in the property search, seed 871). Before, that was a hard
/// expiry with a DELETE.
#[test]
fn a_collision_still_unsettled_at_life_time_ends_the_old_sa_without_a_delete() {
    let equal = lifetime(100, 110, 0);
    let mut a = with_child_lifetime(moon_config(), equal);
    let mut b = with_child_lifetime(sun_config(), equal);
    a.connections[0].rekey_adapt = false;
    b.connections[0].rekey_adapt = false;
    b.emulate.rekey_delete_collision = true;
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    let start = pair.start;
    let clock = std::rc::Rc::new(std::cell::Cell::new(pair.now));
    let seen = clock.clone();
    pair.network = Box::new(move |t, _from_a| {
        let child_answer = t.payload.get(18) == Some(&36)
            && t.payload.get(19).is_some_and(|flags| flags & 0x20 != 0);
        let lost = seen.get() - start < secs(113);
        if child_answer && lost {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    CLOCK.with(|c| *c.borrow_mut() = Some(clock));
    step_seconds(&mut pair, 140, |_| {});
    for node in [&pair.a, &pair.b] {
        assert_eq!(node.engine.stats().child_rekey_collisions, 1);
        assert_eq!(node.engine.stats().child_hard_expiries, 0);
    }
    assert_one_consistent_child(&pair);
}
