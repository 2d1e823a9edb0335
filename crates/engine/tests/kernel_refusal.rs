//! The kernel refuses a CHILD SA's ESP SA (its SPI taken by another XFRM user, an
//! algorithm or ESP missing): the CHILD SA ends as `kernel_refused` with the
//! kernel's words, the peer is told, nothing of another user's is removed, and the
//! child is created again after a back-off, never in a tight loop.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use tern_engine::config::{EngineConfig, Lifetime};
use tern_engine::{EndKind, SaKind};

fn a_ip() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn with_child_rekey(mut config: EngineConfig, rekey_secs: u64) -> EngineConfig {
    config.connections[0].children[0].lifetime = Lifetime {
        rekey_time: Duration::from_secs(rekey_secs),
        life_time: Duration::from_secs(rekey_secs * 3 / 2),
        rand_time: Duration::ZERO,
    };
    config
}

/// A rekeys the CHILD SA at 10 minutes, B (the peer) later.
fn pair() -> Pair {
    Pair::new(
        with_child_rekey(moon_config(), 600),
        with_child_rekey(sun_config(), 1200),
    )
}

/// The CHILD SA ends A's history records as refused by the kernel.
fn kernel_refused_ends(pair: &Pair) -> Vec<String> {
    pair.a
        .engine
        .history()
        .into_iter()
        .flat_map(|(_, ends)| ends)
        .filter(|e| e.kind == SaKind::Child && e.cause.kind == EndKind::KernelRefused)
        .map(|e| e.cause.to_string())
        .collect()
}

/// Both sides hold exactly one CHILD SA, the same one, with both its ESP SAs in
/// each kernel.
fn assert_one_agreed_child(pair: &Pair) {
    let a = &pair.a.engine.list_sas(pair.now)[0].children;
    let b = &pair.b.engine.list_sas(pair.now)[0].children;
    assert_eq!((a.len(), b.len()), (1, 1), "A {a:#?}\nB {b:#?}");
    assert_eq!((a[0].spi_in, a[0].spi_out), (b[0].spi_out, b[0].spi_in));
    for node in [&pair.a, &pair.b] {
        let sas: Vec<_> = node.kernel().sas.keys().copied().collect();
        assert_eq!(sas.len(), 2, "{sas:?}");
    }
}

/// Neither model kernel saw an operation on an SA or policy it lacks (such as
/// the removal of an SA the kernel refused, which may be another user's).
fn assert_no_kernel_errors(pair: &Pair) {
    for node in [&pair.a, &pair.b] {
        let errors = node.kernel().errors.clone();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn a_taken_inbound_spi_ends_the_child_and_another_spi_brings_it_back() {
    let mut pair = pair();
    pair.a.kernel().take_next_to = Some(a_ip());
    pair.initiate_from_a("demo");
    pair.deliver();
    let taken = *pair
        .a
        .kernel()
        .taken
        .iter()
        .next()
        .expect("an SPI was taken");
    let ends = kernel_refused_ends(&pair);
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert!(
        ends[0].contains(&format!("inbound ESP SA {:08x}: File exists", taken.1)),
        "{ends:?}"
    );
    // The peer was told: it holds no CHILD SA; the IKE SA stays.
    assert!(pair.b.engine.list_sas(pair.now)[0].children.is_empty());
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].state, "ESTABLISHED");

    pair.run_for(Duration::from_secs(6));
    assert_one_agreed_child(&pair);
    let child = &pair.a.engine.list_sas(pair.now)[0].children[0];
    assert_ne!(child.spi_in, taken.1, "the taken SPI is not chosen again");
    // The other user's SA was never touched: no deletion of an SA we lack.
    assert_no_kernel_errors(&pair);
    assert!(pair.a.engine.inbound_spis().contains(&(a_ip(), taken.1)));
    assert_eq!(pair.a.engine.stats().kernel_refusals, 1);
}

#[test]
fn a_kernel_that_keeps_refusing_is_tried_with_a_growing_back_off_until_it_accepts() {
    // B leaves a deleted child to A, as strongSwan does by default (a tern peer
    // would create it again itself after adapt's 10 s, and meet the same refusal).
    let mut b = with_child_rekey(sun_config(), 1200);
    b.emulate.no_recreate_after_expiry = true;
    let mut pair = Pair::new(with_child_rekey(moon_config(), 600), b);
    pair.a.kernel().refusing = Some("Function not implemented".into());
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(600));
    // Tries at 0 s, again at once, then 5, 15, 35, 75, 155, 315 s (and 615 s):
    // eight in ten minutes, not one per round trip.
    let refusals = pair.a.engine.stats().kernel_refusals;
    assert_eq!(refusals, 8, "{:?}", kernel_refused_ends(&pair));
    assert!(pair.a.kernel().sas.is_empty());
    assert!(pair.b.engine.list_sas(pair.now)[0].children.is_empty());
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].state, "ESTABLISHED");
    // The child's policies stayed in A's kernel all along: its traffic held,
    // never sent in clear.
    assert!(!pair.a.kernel().policies.is_empty());

    pair.a.kernel().refusing = None;
    pair.run_for(Duration::from_secs(301));
    assert_one_agreed_child(&pair);
    assert_no_kernel_errors(&pair);
}

#[test]
fn our_rekey_refused_is_followed_at_once_by_a_new_child() {
    let mut pair = pair();
    pair.initiate_from_a("demo");
    pair.deliver();
    let first = pair.a.engine.list_sas(pair.now)[0].children[0].clone();
    pair.a.kernel().take_next_to = Some(a_ip());
    pair.run_for(Duration::from_secs(601));
    assert_eq!(pair.a.engine.stats().kernel_refusals, 1);
    let taken = *pair
        .a
        .kernel()
        .taken
        .iter()
        .next()
        .expect("an SPI was taken");
    // The rekey's answer came with the old SA's DELETE on its way: the child is
    // created again at once, on a SPI nobody holds (checked once the old
    // inbound SA's grace is over).
    let children = &pair.a.engine.list_sas(pair.now)[0].children;
    assert_eq!(children.len(), 1, "{children:#?}");
    pair.run_for(Duration::from_secs(30));
    assert_one_agreed_child(&pair);
    let child = &pair.a.engine.list_sas(pair.now)[0].children[0];
    assert!(child.spi_in != first.spi_in && child.spi_in != taken.1);
    assert_no_kernel_errors(&pair);
}

#[test]
fn the_peers_rekey_refused_leaves_the_old_sa_until_a_new_child_is_up() {
    // B rekeys first; A, the responder, cannot install the new inbound SA.
    let mut pair = Pair::new(
        with_child_rekey(moon_config(), 1200),
        with_child_rekey(sun_config(), 600),
    );
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.a.kernel().take_next_to = Some(a_ip());
    pair.run_for(Duration::from_secs(601));
    assert_eq!(pair.a.engine.stats().kernel_refusals, 1);
    assert!(
        kernel_refused_ends(&pair)[0].contains("inbound ESP SA"),
        "{:?}",
        kernel_refused_ends(&pair)
    );
    // However the peer settles its rekey and our DELETE, a child both sides
    // agree on is back within the adaptation's wait.
    pair.run_for(Duration::from_secs(15));
    assert_one_agreed_child(&pair);
    assert_no_kernel_errors(&pair);
}
