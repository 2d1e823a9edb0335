//! A CHILD SA that reaches its hard expiry comes back.

use super::*;

/// Rekeying off on one side (rekey_time = 0) and no end action configured: at
/// that side's life_time the CHILD SA hard-expires, and it is created again at
/// once on the same IKE SA, since both ends are alive. Before, the tunnel
/// stayed down for good.
fn hard_expiry_brings_the_child_back(expiring_side_is_moon: bool) {
    let short = lifetime(0, 60, 0);
    let (mut a, mut b) = if expiring_side_is_moon {
        (with_child_lifetime(moon_config(), short), sun_config())
    } else {
        (moon_config(), with_child_lifetime(sun_config(), short))
    };
    // Every round expires: the other side does not learn to rekey first.
    a.connections[0].rekey_adapt = false;
    b.connections[0].rekey_adapt = false;
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    for round in 1..=3u64 {
        pair.run_for(secs(62));
        let expiring = if expiring_side_is_moon {
            &pair.a
        } else {
            &pair.b
        };
        assert_eq!(expiring.engine.stats().child_hard_expiries, round);
        // The old inbound SAs linger for packets in flight, then go.
        pair.run_for(secs(6));
        assert_one_consistent_child(&pair);
    }
}

#[test]
fn the_initiators_hard_expiry_brings_the_child_back() {
    hard_expiry_brings_the_child_back(true);
}

#[test]
fn the_responders_hard_expiry_brings_the_child_back() {
    hard_expiry_brings_the_child_back(false);
}
