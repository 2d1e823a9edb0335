//! Which outbound SA a child's traffic may leave on while SAs are replaced: never one
//! whose DELETE we have sent. The peer drops its inbound SA when our DELETE arrives
//! (strongSwan at once for an SA that is no rekeyed one), and the kernel keeps
//! sending on an SA it has, or moves onto the newest one, until the SA is removed.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use tern_engine::config::{EngineConfig, Lifetime};
use tern_wire::{ExchangeType, Message};

fn with_child_lifetime(mut config: EngineConfig, rekey_s: u64, life_s: u64) -> EngineConfig {
    config.connections[0].children[0].lifetime = Lifetime {
        rekey_time: Duration::from_secs(rekey_s),
        life_time: Duration::from_secs(life_s),
        rand_time: Duration::ZERO,
    };
    config
}

/// Brings the tunnel up, then runs past moon's rekey at 60 s with every
/// INFORMATIONAL request (the DELETEs) held on the wire.
fn up_then_rekey_with_deletes_held(pair: &mut Pair) {
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.network = Box::new(|t, _| {
        let informational_request = Message::parse(&t.payload).is_ok_and(|m| {
            m.header.exchange == ExchangeType::INFORMATIONAL && !m.header.flags.is_response()
        });
        if informational_request {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    pair.run_for(Duration::from_secs(61));
}

/// With every DELETE held on the wire: each CHILD SA a side is deleting has no
/// outbound SA left in its kernel, and the side still has one to send on.
fn assert_nothing_sent_on_sas_being_deleted(pair: &Pair, node: &Node, peer: IpAddr) {
    let me = node.addr.ip();
    let sas = node.engine.list_sas(pair.now);
    let children = &sas[0].children;
    let deleting: Vec<_> = children.iter().filter(|c| c.state == "DELETING").collect();
    assert!(
        !deleting.is_empty(),
        "{me}: a DELETE is held, so some CHILD SA is being deleted: {children:?}"
    );
    let kernel = node.kernel();
    for c in deleting {
        assert!(
            !kernel.sas.contains_key(&(me, peer, c.spi_out)),
            "{me} still has the outbound SA {:08x} of a CHILD SA whose DELETE it sent",
            c.spi_out
        );
    }
    assert!(
        kernel.sas.keys().any(|k| (k.0, k.1) == (me, peer)),
        "{me} has no outbound SA left: {:?}",
        kernel.sas.keys().collect::<Vec<_>>()
    );
}

#[test]
fn simultaneous_rekeys_stop_sending_on_the_sas_each_side_deletes() {
    // Identical lifetimes and no jitter: both sides rekey at the same instant; one
    // deletes the old SA, the other its redundant new one (RFC 7296 §2.8.1).
    let mut pair = Pair::new(
        with_child_lifetime(moon_config(), 60, 120),
        with_child_lifetime(sun_config(), 60, 120),
    );
    up_then_rekey_with_deletes_held(&mut pair);
    let collisions =
        pair.a.engine.stats().child_rekey_collisions + pair.b.engine.stats().child_rekey_collisions;
    assert_eq!(collisions, 2, "both sides saw the collision");
    assert_eq!(pair.held.len(), 2, "each side's DELETE is held");
    let (moon, sun) = (pair.a.addr.ip(), pair.b.addr.ip());
    assert_nothing_sent_on_sas_being_deleted(&pair, &pair.a, sun);
    assert_nothing_sent_on_sas_being_deleted(&pair, &pair.b, moon);

    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    pair.run_for(Duration::from_secs(10));
    for node in [&pair.a, &pair.b] {
        let kernel = node.kernel();
        assert!(kernel.errors.is_empty(), "kernel: {:?}", kernel.errors);
        assert_eq!(
            kernel.sas.len(),
            2,
            "one CHILD SA left: {:?}",
            kernel.sas.keys()
        );
    }
}

#[test]
fn a_rekey_stops_sending_on_the_old_sa_when_its_delete_leaves() {
    let mut pair = Pair::new(
        with_child_lifetime(moon_config(), 60, 120),
        with_child_lifetime(sun_config(), 100, 200),
    );
    up_then_rekey_with_deletes_held(&mut pair);
    assert_eq!(pair.held.len(), 1, "moon's DELETE of the old SA is held");
    assert_nothing_sent_on_sas_being_deleted(&pair, &pair.a, pair.b.addr.ip());
    pair.network = Box::new(|_, _| Fate::Deliver);
    pair.release_held();
    pair.run_for(Duration::from_secs(10));
    let kernel = pair.a.kernel();
    assert!(kernel.errors.is_empty(), "kernel: {:?}", kernel.errors);
}
