//! What the field-bug tests (field_bugs*.rs) check after forcing a message order:
//! what a user would look at with `ip xfrm state`, `ip xfrm policy` and the log.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::Duration;

use tern_engine::config::{EngineConfig, Lifetime};
use tern_engine::{EndKind, Event, Transmit};

use crate::common::{Node, Pair};

pub const IKE_SA_INIT: u8 = 34;
pub const IKE_AUTH: u8 = 35;
pub const CREATE_CHILD_SA: u8 = 36;
pub const INFORMATIONAL: u8 = 37;

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn lifetime(rekey: u64, life: u64, rand: u64) -> Lifetime {
    Lifetime {
        rekey_time: secs(rekey),
        life_time: secs(life),
        rand_time: secs(rand),
    }
}

pub fn with_child_lifetime(mut config: EngineConfig, lifetime: Lifetime) -> EngineConfig {
    config.connections[0].children[0].lifetime = lifetime;
    config
}

pub fn with_ike_lifetime(mut config: EngineConfig, lifetime: Lifetime) -> EngineConfig {
    config.connections[0].lifetime = lifetime;
    config
}

/// A datagram's exchange type and whether it is a response (RFC 7296 §3.1:
/// octet 18 and the R flag of octet 19; no NAT in these tests, so no marker).
pub fn exchange(t: &Transmit) -> (u8, bool) {
    let kind = t.payload.get(18).copied().unwrap_or(0);
    let response = t.payload.get(19).is_some_and(|flags| flags & 0x20 != 0);
    (kind, response)
}

pub fn up(pair: &mut Pair) {
    pair.initiate_from_a("demo");
    pair.deliver();
}

/// Once quiet: one IKE SA and one CHILD SA on each side, the same ones; each
/// kernel holds exactly the two SAs of that CHILD SA, keys matching the peer's
/// (our outbound SA is the peer's inbound one), its three policies, nothing else.
pub fn assert_one_consistent_child(pair: &Pair) {
    let a = pair.a.engine.list_sas(pair.now);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "IKE SAs\nmoon: {a:?}\nsun: {b:?}"
    );
    assert_eq!(
        (a[0].initiator_spi, a[0].responder_spi),
        (b[0].initiator_spi, b[0].responder_spi),
        "both ends use the same IKE SA"
    );
    let (a, b) = (&a[0], &b[0]);
    assert_eq!(a.children.len(), 1, "moon children: {:?}", a.children);
    assert_eq!(b.children.len(), 1, "sun children: {:?}", b.children);
    let (ca, cb) = (&a.children[0], &b.children[0]);
    assert_eq!((ca.spi_in, ca.spi_out), (cb.spi_out, cb.spi_in));
    assert_eq!((ca.state, cb.state), ("INSTALLED", "INSTALLED"));
    let (ka, kb) = (pair.a.kernel(), pair.b.kernel());
    assert!(ka.errors.is_empty(), "moon kernel: {:?}", ka.errors);
    assert!(kb.errors.is_empty(), "sun kernel: {:?}", kb.errors);
    let moon: IpAddr = "192.0.2.1".parse().unwrap();
    let sun: IpAddr = "192.0.2.2".parse().unwrap();
    let a_sas: Vec<_> = ka.sas.keys().copied().collect();
    let b_sas: Vec<_> = kb.sas.keys().copied().collect();
    assert_eq!(a_sas.len(), 2, "moon SAs: {a_sas:?}");
    assert_eq!(b_sas.len(), 2, "sun SAs: {b_sas:?}");
    let out_a = ka
        .sas
        .get(&(moon, sun, ca.spi_out))
        .expect("moon's outbound SA");
    let in_b = kb
        .sas
        .get(&(moon, sun, cb.spi_in))
        .expect("sun's inbound SA");
    assert_eq!(out_a, in_b, "moon sends with the key sun receives with");
    let out_b = kb
        .sas
        .get(&(sun, moon, cb.spi_out))
        .expect("sun's outbound SA");
    let in_a = ka
        .sas
        .get(&(sun, moon, ca.spi_in))
        .expect("moon's inbound SA");
    assert_eq!(out_b, in_a, "sun sends with the key moon receives with");
    assert_eq!((ka.policies.len(), kb.policies.len()), (3, 3));
    assert!(
        ka.larval.is_empty() && kb.larval.is_empty(),
        "reserved SPIs left behind"
    );
}

/// Each end's in, out and fwd policies are in place now.
pub fn assert_policies_in_place(pair: &Pair, when: &str) {
    for (name, node) in [("moon", &pair.a), ("sun", &pair.b)] {
        let k = node.kernel();
        assert_eq!(
            k.policies.len(),
            3,
            "{name}'s policies {when} ({:?}): {:?}",
            pair.elapsed(),
            k.policies
        );
    }
}

/// No policy was ever removed on either end: traffic of the tunnel never left
/// in clear text (with a policy and no SA the kernel holds it and asks for one).
pub fn assert_policies_never_removed(pair: &Pair) {
    for (name, node) in [("moon", &pair.a), ("sun", &pair.b)] {
        let k = node.kernel();
        assert_eq!(
            k.policies_deleted, 0,
            "{name} removed policies: its traffic left in clear text"
        );
    }
}

/// How each CHILD SA of this node ended, as the log and history say.
pub fn child_ends(node: &Node) -> Vec<(EndKind, String)> {
    node.events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaDeleted { reason, .. } => Some((reason.kind, reason.text.clone())),
            _ => None,
        })
        .collect()
}

/// The node never logged a CHILD SA as closed by the peer.
pub fn assert_no_child_deleted_by_peer(node: &Node, name: &str) {
    let ends = child_ends(node);
    assert!(
        !ends
            .iter()
            .any(|(kind, _)| matches!(kind, EndKind::DeletedByPeer)),
        "{name} says the peer deleted a CHILD SA: {ends:?}"
    );
}

/// Runs `total` in steps of `step`, calling `check` after each.
pub fn step(pair: &mut Pair, total: Duration, step: Duration, mut check: impl FnMut(&Pair)) {
    let end = pair.now + total;
    while pair.now < end {
        pair.run_for(step);
        check(pair);
    }
}
