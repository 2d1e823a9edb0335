//! CHILD SA rekeying (RFC 7296 §1.3.3, §2.8): on schedule in both roles, with and
//! without PFS, through loss, through simultaneous rekeys, and refused.

#[path = "../common/mod.rs"]
mod common;

mod adapt;
mod collisions;
mod expiry;
mod loss;
mod pfs;
mod schedule;

use std::time::Duration;

use common::*;
use tern_engine::config::{EngineConfig, KeyExchange, Lifetime};
use tern_engine::Event;
use tern_wire::{ExchangeType, Message};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn with_child_lifetime(mut config: EngineConfig, lifetime: Lifetime) -> EngineConfig {
    config.connections[0].children[0].lifetime = lifetime;
    config
}

fn lifetime(rekey: u64, life: u64, rand: u64) -> Lifetime {
    Lifetime {
        rekey_time: secs(rekey),
        life_time: secs(life),
        rand_time: secs(rand),
    }
}

fn up(pair: &mut Pair) {
    pair.initiate_from_a("demo");
    pair.deliver();
}

/// Once quiet: one CHILD SA on each side, the two agree on SPIs, each kernel holds
/// exactly its two SAs with keys matching the peer's, three policies, nothing left over.
fn assert_one_consistent_child(pair: &Pair) {
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(a.children.len(), 1, "moon children: {:?}", a.children);
    assert_eq!(b.children.len(), 1, "sun children: {:?}", b.children);
    let (ca, cb) = (&a.children[0], &b.children[0]);
    assert_eq!((ca.spi_in, ca.spi_out), (cb.spi_out, cb.spi_in));
    assert_eq!(ca.state, "INSTALLED");
    let (ka, kb) = (pair.a.kernel(), pair.b.kernel());
    assert!(ka.errors.is_empty(), "moon kernel: {:?}", ka.errors);
    assert!(kb.errors.is_empty(), "sun kernel: {:?}", kb.errors);
    assert_eq!(
        ka.sas.len(),
        2,
        "moon SAs: {:?}",
        ka.sas.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        kb.sas.len(),
        2,
        "sun SAs: {:?}",
        kb.sas.keys().collect::<Vec<_>>()
    );
    assert_eq!(ka.policies.len(), 3);
    assert_eq!(kb.policies.len(), 3);
    assert!(
        ka.larval.is_empty() && kb.larval.is_empty(),
        "reserved SPIs left behind"
    );
    let moon: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let sun: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    assert_eq!(
        ka.sas[&(moon, sun, ca.spi_out)],
        kb.sas[&(moon, sun, cb.spi_in)]
    );
    assert_eq!(
        ka.sas[&(sun, moon, ca.spi_in)],
        kb.sas[&(sun, moon, cb.spi_out)]
    );
}

fn child_spis(node: &Node, pair: &Pair) -> (u32, u32) {
    let c = &node.engine.list_sas(pair.now)[0].children[0];
    (c.spi_in, c.spi_out)
}

/// Moon's CREATE_CHILD_SA answers, lost while `lost(elapsed)` says so.
fn lose_moons_child_answers(pair: &mut Pair, lost: impl Fn(Duration) -> bool + 'static) {
    let start = pair.start;
    let clock = std::rc::Rc::new(std::cell::Cell::new(pair.now));
    let seen = clock.clone();
    pair.network = Box::new(move |t, from_a| {
        let answer = from_a
            && t.payload.get(18) == Some(&36)
            && t.payload.get(19).is_some_and(|flags| flags & 0x20 != 0);
        if answer && lost(seen.get() - start) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    CLOCK.with(|c| *c.borrow_mut() = Some(clock));
}

thread_local! {
    /// The clock a network filter reads, set by the test before each step.
    static CLOCK: std::cell::RefCell<Option<std::rc::Rc<std::cell::Cell<std::time::Instant>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `secs` one second at a time, telling the network filter the time.
fn step_seconds(pair: &mut Pair, secs_total: u64, mut each: impl FnMut(&Pair)) {
    for _ in 0..secs_total {
        CLOCK.with(|c| {
            if let Some(clock) = c.borrow().as_ref() {
                clock.set(pair.now);
            }
        });
        pair.run_for(secs(1));
        each(pair);
    }
}

/// Moon's INFORMATIONAL requests (DELETEs; DPD is off) in the wire log so far.
fn moons_informational_requests(pair: &Pair) -> usize {
    pair.wire_log
        .iter()
        .filter(|(from_a, bytes)| {
            *from_a && bytes.len() > 20 && bytes[18] == 37 && bytes[19] & 0x20 == 0
        })
        .count()
}
