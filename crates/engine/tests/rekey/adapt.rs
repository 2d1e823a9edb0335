//! The peer's rekey rhythm: shown, and adapted to when the peer lets its SAs
//! (CHILD or IKE) expire instead of rekeying them.

use super::*;

/// Lifetimes differ (3600 s against the peer's 2700 s, and for the IKE SA 4 h
/// against 1 h): the peer rekeys first every time, and list-sas shows its
/// rhythm beside ours on our side only.
#[test]
fn the_peers_shorter_rhythm_is_shown() {
    let mut a = with_child_lifetime(moon_config(), lifetime(3600, 3960, 0));
    a.connections[0].lifetime = lifetime(4 * 3600, 4 * 3960, 0);
    let mut b = with_child_lifetime(sun_config(), lifetime(2700, 2970, 0));
    b.connections[0].lifetime = lifetime(3600, 3960, 0);
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    let before = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(before.peer_rekeyed_at, None);
    assert_eq!(before.children[0].peer_rekeyed_at, None);

    pair.run_for(secs(3 * 3600 + 60));
    assert_one_consistent_child(&pair);
    let a = &pair.a.engine.list_sas(pair.now)[0];
    // Give or take the moment an exchange already in flight delays the rekey.
    let near = |d: Option<Duration>, s: u64| d.is_some_and(|d| d >= secs(s) && d < secs(s + 10));
    assert!(near(a.peer_rekeyed_at, 3600), "{:?}", a.peer_rekeyed_at);
    assert!(
        near(a.children[0].peer_rekeyed_at, 2700),
        "{:?}",
        a.children[0].peer_rekeyed_at
    );
    // Moon never rekeyed first, so sun has no rhythm of moon's to show.
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(b.peer_rekeyed_at, None);
    assert_eq!(b.children[0].peer_rekeyed_at, None);
}

/// A peer with rekeying off (strongSwan `rekey_time = 0s`, or a life_time equal to
/// its rekey_time) lets each CHILD SA expire, deletes it and creates a new one:
/// break-before-make. Once it has done so twice at the same age, moon rekeys the
/// child itself a tenth before that age, and the peer's SAs stop expiring.
fn peer_with_rekeying_off(adapt: bool) -> Pair {
    let mut a = moon_config();
    a.connections[0].rekey_adapt = adapt;
    let b = with_child_lifetime(sun_config(), lifetime(0, 60, 0));
    let mut pair = Pair::new(a, b);
    up(&mut pair);
    pair.run_for(secs(600));
    pair
}

#[test]
fn a_peer_that_lets_its_sas_expire_is_rekeyed_first() {
    let mut pair = peer_with_rekeying_off(true);
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 1);
    assert_eq!(
        pair.b.engine.stats().child_hard_expiries,
        2,
        "the peer's SAs expire twice, then moon rekeys them first"
    );
    let moon_rekeys = pair.a.engine.stats().child_rekeys_initiated;
    assert!(
        moon_rekeys >= 8,
        "moon rekeyed {moon_rekeys} times in 8 min, every 54 s"
    );
    // Between two rekeys, once the old inbound SA's grace is over.
    pair.run_for(secs(20));
    assert_one_consistent_child(&pair);
}

#[test]
fn rekey_adapt_false_leaves_the_peers_rhythm_alone() {
    let mut pair = peer_with_rekeying_off(false);
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 0);
    assert_eq!(pair.a.engine.stats().child_rekeys_initiated, 0);
    assert!(pair.b.engine.stats().child_hard_expiries >= 9);
    // Each expiry brings the child back all the same.
    pair.run_for(secs(6));
    assert_one_consistent_child(&pair);
}

/// A peer with rekeying off that deletes each CHILD SA at its life_time and
/// leaves creating it again to us (Libreswan's responder with `rekey=no`, or a
/// peer whose rekey keeps failing): moon waits RECREATE_WITHIN (10 s) for the
/// peer to create it, then does itself; at the second end at the same age it
/// rekeys the child first from then on. Before, the first DELETE was taken for a
/// close and the tunnel stayed down for good.
#[test]
fn a_peer_that_leaves_its_expired_sas_to_us_gets_them_back_and_then_rekeyed_first() {
    let mut b = with_child_lifetime(sun_config(), lifetime(0, 60, 0));
    b.emulate.no_recreate_after_expiry = true;
    let mut pair = Pair::new(moon_config(), b);
    up(&mut pair);
    let mut down = Duration::ZERO;
    step_seconds(&mut pair, 600, |pair| {
        if pair.a.engine.list_sas(pair.now)[0].children.is_empty() {
            down += secs(1);
        }
    });
    assert_eq!(
        pair.b.engine.stats().child_hard_expiries,
        2,
        "the peer's SAs expire twice, then moon rekeys them first"
    );
    assert_eq!(
        pair.b.engine.stats().restarts,
        0,
        "the peer never creates one"
    );
    assert_eq!(
        pair.a.engine.stats().restarts,
        2,
        "moon created the child twice"
    );
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 1);
    assert!(
        down <= secs(22),
        "down for {down:?}: two waits of 10 s for the peer to create the child"
    );
    pair.run_for(secs(20));
    assert_one_consistent_child(&pair);
}

/// The peer rekeys its IKE SA at 30 s (here by command), then lets the next one
/// reach its life_time (its rekey failed, or was put off too long) and deletes it,
/// and, like some implementations, sets none up again. Moon has seen it rekey at
/// 30 s, so a DELETE at 90 s is that SA's end of life, not a close: moon waits
/// 10 s for the peer, then initiates itself. The next IKE SA ends at the same
/// age (90 s: another end of life), and from then on moon rekeys first. Before,
/// moon took the first DELETE for a close and the tunnel stayed down.
#[test]
fn an_ike_sa_the_peer_lets_expire_and_leaves_is_set_up_again_by_us() {
    let mut b = sun_config();
    b.connections[0].lifetime = lifetime(0, 90, 0);
    b.emulate.no_recreate_after_expiry = true;
    let mut pair = Pair::new(moon_config(), b);
    up(&mut pair);
    pair.run_for(secs(30));
    pair.b.rekey_ike(pair.now, "demo");
    let mut down = Duration::ZERO;
    step_seconds(&mut pair, 600, |pair| {
        let sas = pair.a.engine.list_sas(pair.now);
        if !sas.iter().any(|sa| !sa.children.is_empty()) {
            down += secs(1);
        }
    });
    assert_eq!(pair.b.engine.stats().ike_hard_expiries, 2);
    assert_eq!(
        pair.b.engine.stats().restarts,
        0,
        "the peer never sets one up"
    );
    assert_eq!(
        pair.a.engine.stats().restarts,
        2,
        "moon set the IKE SA up again"
    );
    assert_eq!(pair.a.engine.stats().rekeys_adapted, 1);
    assert!(pair.a.engine.stats().ike_rekeys_initiated >= 3);
    assert!(
        down <= secs(22),
        "down for {down:?}: two waits of 10 s for the peer"
    );
    assert_one_consistent_child(&pair);
}

/// The same peer, which rekeyed its IKE SA at 30 s, closes the next one at 20 s
/// (`swanctl --terminate`): younger than the peer's rekey age, a close, and
/// without close_action the tunnel stays down.
#[test]
fn an_ike_sa_the_peer_closes_before_its_rekey_age_stays_closed() {
    let mut pair = Pair::new(moon_config(), sun_config());
    up(&mut pair);
    pair.run_for(secs(30));
    pair.b.rekey_ike(pair.now, "demo");
    pair.run_for(secs(20));
    pair.b.terminate(pair.now, "demo");
    pair.run_for(secs(120));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_eq!(pair.a.engine.stats().restarts, 0);
}
