//! Rekeys with PFS, and PFS configured on one side only.

use super::*;

#[test]
fn rekey_with_pfs_carries_a_key_exchange() {
    let pfs = |mut c: EngineConfig| {
        c.connections[0].children[0].esp_proposals[0].key_exchange = vec![KeyExchange::X25519];
        with_child_lifetime(c, lifetime(30, 40, 0))
    };
    // Only moon rekeys (sun keeps the 1 h default), so there is no collision.
    let mut sun = pfs(sun_config());
    sun.connections[0].children[0].lifetime = Lifetime::default();
    let mut pair = Pair::new(pfs(moon_config()), sun);
    up(&mut pair);
    assert_one_consistent_child(&pair);
    assert_eq!(
        pair.a.engine.list_sas(pair.now)[0].children[0].proposal,
        "AES_GCM_16_128",
        "no PFS in IKE_AUTH: it has no KE payload"
    );
    pair.run_for(secs(37));
    assert_eq!(pair.a.engine.stats().child_rekeys_initiated, 1);
    let proposal = &pair.a.engine.list_sas(pair.now)[0].children[0].proposal;
    assert_eq!(
        proposal, "AES_GCM_16_128/CURVE25519",
        "the rekeyed SA used PFS"
    );
    assert_one_consistent_child(&pair);
}

/// PFS on one side only: the rekey is refused, and the failure names both
/// proposals. Before, nothing fixed it until life_time ended the CHILD SA; now a
/// reauthentication keeps the tunnel up (IKE_AUTH's CHILD SA needs no key
/// exchange), make-before-break.
#[test]
fn pfs_on_one_side_only_is_refused_with_both_proposals_named_and_a_reauthentication_keeps_the_tunnel(
) {
    let moon = {
        let mut c = with_child_lifetime(moon_config(), lifetime(30, 90, 0));
        c.connections[0].children[0].esp_proposals[0].key_exchange = vec![KeyExchange::X25519];
        c
    };
    let mut pair = Pair::new(moon, sun_config());
    up(&mut pair);
    assert_one_consistent_child(&pair);
    let first = child_spis(&pair.a, &pair);
    pair.run_for(secs(35));
    let reason = pair
        .a
        .events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaFailed { reason, .. } => Some(reason.text.clone()),
            _ => None,
        })
        .expect("the rekey failure is an event");
    assert!(
        reason.contains("rekey failed: the peer refused with NO_PROPOSAL_CHOSEN"),
        "{reason}"
    );
    assert!(
        reason.contains("we offered #1 AES_GCM_16_128/CURVE25519"),
        "{reason}"
    );
    assert_eq!(pair.a.engine.stats().pfs_reauths, 1);
    assert_ne!(
        child_spis(&pair.a, &pair),
        first,
        "a new CHILD SA from IKE_AUTH"
    );
    assert_eq!(
        pair.a.engine.list_sas(pair.now).len(),
        1,
        "the old IKE SA went"
    );
    assert_one_consistent_child(&pair);
    // Each rekey fails the same way and is answered the same way: never a hard
    // expiry, always one CHILD SA.
    pair.run_for(secs(100));
    assert_eq!(pair.a.engine.stats().child_hard_expiries, 0);
    assert!(pair.a.engine.stats().pfs_reauths >= 3);
    assert_one_consistent_child(&pair);
}

/// The peer requires PFS on rekeys and we do not offer it: we refuse its rekey,
/// and reauthenticate so that its CHILD SA does not run into its life_time.
#[test]
fn a_peer_requiring_pfs_we_do_not_offer_is_answered_by_a_reauthentication() {
    let sun = {
        let mut c = with_child_lifetime(sun_config(), lifetime(30, 90, 0));
        c.connections[0].children[0].esp_proposals[0].key_exchange = vec![KeyExchange::X25519];
        c
    };
    let mut pair = Pair::new(moon_config(), sun);
    up(&mut pair);
    pair.run_for(secs(35));
    assert_eq!(pair.a.engine.stats().pfs_reauths, 1, "moon reauthenticates");
    assert_eq!(pair.b.engine.stats().child_hard_expiries, 0);
    pair.run_for(secs(6));
    assert_one_consistent_child(&pair);
}
