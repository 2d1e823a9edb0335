//! INITIAL_CONTACT (RFC 7296 §2.4): a peer that restarted and comes back says it
//! has no other IKE SA with us, and we drop the ones it forgot.

mod common;

use common::*;
use tern_engine::Event;

fn up() -> Pair {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
    pair
}

/// A loses all state (a restart) and initiates again.
fn restart_a_and_initiate(pair: &mut Pair) {
    pair.a = Node::new(moon_config(), pair.a.addr, 7);
    pair.initiate_from_a("demo");
    pair.deliver();
}

#[test]
fn a_restarted_peer_replaces_its_forgotten_sas() {
    let mut pair = up();
    let old = pair.b.engine.list_sas(pair.now)[0].clone();
    restart_a_and_initiate(&mut pair);

    let sas = pair.b.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "{sas:#?}");
    assert_ne!(sas[0].unique_id, old.unique_id);
    assert_eq!(sas[0].state, "ESTABLISHED");
    assert_eq!(sas[0].children.len(), 1);
    // B's kernel holds the new CHILD SA only, agreeing with A's.
    let kb = pair.b.kernel();
    assert!(kb.errors.is_empty(), "{:?}", kb.errors);
    assert_eq!(kb.sas.len(), 2);
    assert_eq!(kb.policies.len(), 3);
    let new_child = &sas[0].children[0];
    assert!(kb.sas.keys().any(|k| k.2 == new_child.spi_in));
    assert!(kb.sas.keys().any(|k| k.2 == new_child.spi_out));
    drop(kb);
    // The old IKE SA's end says why, and no DELETE was sent to a peer that forgot it.
    let ended = pair.b.events.iter().find_map(|e| match e {
        Event::IkeSaDeleted { ike_id, reason, .. } if *ike_id == old.unique_id => Some(reason),
        _ => None,
    });
    assert!(
        ended.is_some_and(|r| r.contains("INITIAL_CONTACT")),
        "{:?}",
        pair.b.events
    );
    assert_eq!(pair.a.engine.stats().dropped_unknown_spi, 0);
}

#[test]
fn a_second_tunnel_alongside_the_first_leaves_the_first_alone() {
    let mut pair = up();
    // A asks for another IKE SA while one is up: it must not say INITIAL_CONTACT.
    pair.initiate_from_a("demo");
    pair.deliver();
    let sas = pair.b.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 2, "{sas:#?}");
    assert!(sas.iter().all(|sa| sa.state == "ESTABLISHED"));
    // B, the responder, sends on the second CHILD SA once A surely has it: what
    // a reauthentication looks like (see held_outbound), five seconds at most.
    assert_eq!(pair.b.kernel().sas.len(), 3);
    pair.run_for(std::time::Duration::from_secs(5));
    // Two CHILD SAs for the same traffic share one set of policies (the kernel
    // would refuse a second), which stays until the last of them goes.
    for node in [&pair.a, &pair.b] {
        let k = node.kernel();
        assert!(k.errors.is_empty(), "{:?}", k.errors);
        assert_eq!(k.sas.len(), 4);
        assert_eq!(k.policies.len(), 3);
    }
}

/// Both ends initiate at the same moment (both with start_action = start, say).
/// Each one's INITIAL_CONTACT arrives before its own IKE SA is up, so neither
/// removes anything and two IKE SAs with two CHILD SAs for one child remain. Five
/// minutes later both ends keep the same one and delete the other.
#[test]
fn both_ends_initiating_at_once_end_with_one_ike_sa() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.b
        .engine
        .handle_command(
            pair.now,
            tern_engine::Command::Initiate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(std::time::Duration::from_secs(60));
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 2);
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 2);

    pair.run_for(std::time::Duration::from_secs(300));
    let a = pair.a.engine.list_sas(pair.now);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!((a.len(), b.len()), (1, 1), "{a:#?}\n{b:#?}");
    assert_eq!(
        (a[0].initiator_spi, a[0].responder_spi),
        (b[0].initiator_spi, b[0].responder_spi)
    );
    assert_eq!(a[0].children.len(), 1);
    assert_eq!(a[0].children[0].spi_in, b[0].children[0].spi_out);
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    let ended = |node: &Node| {
        node.events
            .iter()
            .filter(|e| {
                matches!(e, Event::IkeSaDeleted { reason, .. }
                    if reason.starts_with("duplicate: both ends set up an IKE SA at once"))
            })
            .count()
    };
    assert_eq!((ended(&pair.a), ended(&pair.b)), (1, 1));
}

#[test]
fn an_ike_sa_rekeyed_by_either_side_is_replaced_as_well() {
    // The index of peers must follow an IKE SA to its new SPIs, whoever rekeyed it.
    for rekeying_side in ["a", "b"] {
        let mut pair = up();
        let node = if rekeying_side == "a" {
            &mut pair.a
        } else {
            &mut pair.b
        };
        node.engine
            .handle_command(
                pair.now,
                tern_engine::Command::RekeyIke {
                    connection: "demo".into(),
                },
            )
            .unwrap();
        pair.deliver();
        let rekeyed = pair.b.engine.list_sas(pair.now);
        assert_eq!(rekeyed.len(), 1, "{rekeyed:#?}");
        restart_a_and_initiate(&mut pair);
        let sas = pair.b.engine.list_sas(pair.now);
        assert_eq!(sas.len(), 1, "rekeyed by {rekeying_side}: {sas:#?}");
        assert_ne!(sas[0].unique_id, rekeyed[0].unique_id);
        assert!(pair.b.events.iter().any(|e| matches!(
            e,
            Event::IkeSaDeleted { ike_id, reason, .. }
                if *ike_id == rekeyed[0].unique_id && reason.contains("INITIAL_CONTACT")
        )));
    }
}
