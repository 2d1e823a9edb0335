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
        ended.is_some_and(|r| r.text.contains("INITIAL_CONTACT")),
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
                    if reason.text.starts_with("duplicate: both ends set up an IKE SA at once"))
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
                if *ike_id == rekeyed[0].unique_id && reason.text.contains("INITIAL_CONTACT")
        )));
    }
}

/// In a sharded ternd, a peer that comes back from another address lands in
/// another engine. Its INITIAL_CONTACT is passed on, and the engine holding
/// its old IKE SA lets that go too.
#[test]
fn initial_contact_reaches_the_other_engines_of_a_sharded_daemon() {
    use tern_engine::Shard;
    let sun_engine = |index| {
        Node::sharded(
            sun_config(),
            B_ADDR.parse().unwrap(),
            2 + u64::from(index),
            Shard::new(index, 2).unwrap(),
        )
    };
    // Moon's first IKE SA lives in sun's engine 0.
    let mut first = Pair::demo();
    first.b = sun_engine(0);
    first.initiate_from_a("demo");
    first.deliver();
    assert_eq!(first.b.engine.list_sas(first.now).len(), 1);
    assert_eq!(
        first
            .b
            .engine
            .poll_peer_started_over()
            .map(|p| p.connection),
        Some("demo".into())
    );

    // Moon restarts and comes back through engine 1, saying INITIAL_CONTACT.
    let mut second = Pair::demo();
    second.b = sun_engine(1);
    second.initiate_from_a("demo");
    second.deliver();
    let gone = second.b.engine.poll_peer_started_over().expect("passed on");
    assert_eq!(gone.connection, "demo");
    assert_eq!(second.b.engine.poll_peer_started_over(), None);

    first.b.engine.forget_peer(first.now, &gone);
    first.deliver();
    assert!(first.b.engine.list_sas(first.now).is_empty());
    assert!(
        first.b.kernel().sas.is_empty(),
        "{:?}",
        first.b.kernel().sas
    );
    assert!(first.b.events.iter().any(|e| matches!(
        e,
        Event::IkeSaDeleted { reason, .. } if reason.text.contains("INITIAL_CONTACT")
    )));
    // The new IKE SA, in the other engine, stays.
    assert_eq!(second.b.engine.list_sas(second.now).len(), 1);
    // An engine alone has nobody to tell.
    let mut alone = Pair::demo();
    alone.initiate_from_a("demo");
    alone.deliver();
    assert_eq!(alone.b.engine.poll_peer_started_over(), None);
}
