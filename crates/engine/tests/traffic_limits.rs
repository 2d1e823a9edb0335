//! rekey_bytes / life_packets and friends: the limits go into the kernel with each
//! SA, and the kernel's EXPIRE messages rekey (soft) or end (hard) the CHILD SA.

mod common;

use std::net::IpAddr;

use common::*;
use tern_engine::config::{CloseAction, EngineConfig, TrafficLifetime};
use tern_engine::{Event, KernelEvent, TrafficLimits};

fn with_traffic(mut config: EngineConfig, t: TrafficLifetime) -> EngineConfig {
    config.connections[0].children[0].traffic = t;
    config
}

fn limited() -> TrafficLifetime {
    TrafficLifetime {
        rekey_bytes: 1_000_000,
        life_bytes: 1_100_000,
        rand_bytes: 100_000,
        rekey_packets: 0,
        life_packets: 5000,
        rand_packets: 0,
    }
}

fn up(a: EngineConfig) -> Pair {
    let mut pair = Pair::new(a, sun_config());
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.a.kernel().sas.len(), 2);
    pair
}

fn a_ip() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}
fn b_ip() -> IpAddr {
    "192.0.2.2".parse().unwrap()
}

#[test]
fn the_kernel_gets_the_limits_with_a_random_soft_part() {
    let pair = up(with_traffic(moon_config(), limited()));
    let child = &pair.a.engine.list_sas(pair.now)[0].children[0];
    let k = pair.a.kernel();
    let inbound = k.limits[&(b_ip(), a_ip(), child.spi_in)];
    let outbound = k.limits[&(a_ip(), b_ip(), child.spi_out)];
    assert_eq!(inbound, outbound, "both SAs of a CHILD SA share its limits");
    assert!(
        (900_001..=1_000_000).contains(&inbound.soft_bytes),
        "{inbound:?}"
    );
    assert_eq!(inbound.hard_bytes, 1_100_000);
    assert_eq!((inbound.soft_packets, inbound.hard_packets), (0, 5000));
    // B sets none: the limits are each side's own.
    let kb = pair.b.kernel();
    assert!(kb.limits.values().all(|l| *l == TrafficLimits::default()));
}

#[test]
fn a_soft_expire_rekeys_the_child_sa() {
    let mut pair = up(with_traffic(moon_config(), limited()));
    let old = pair.a.engine.list_sas(pair.now)[0].children[0].clone();
    pair.a.engine.handle_kernel_event(
        pair.now,
        KernelEvent::Expire {
            src: b_ip(),
            dst: a_ip(),
            spi: old.spi_in,
            hard: false,
        },
    );
    pair.deliver();
    let children = &pair.a.engine.list_sas(pair.now)[0].children;
    assert_eq!(children.len(), 1, "{children:#?}");
    assert_ne!(children[0].spi_in, old.spi_in, "a new CHILD SA replaced it");
    assert_eq!(pair.a.engine.stats().child_rekeys_initiated, 1);
    assert_eq!(pair.a.engine.stats().child_hard_expiries, 0);
    // A second soft EXPIRE, from the other SA of the same (old) CHILD SA, starts nothing.
    pair.a.engine.handle_kernel_event(
        pair.now,
        KernelEvent::Expire {
            src: a_ip(),
            dst: b_ip(),
            spi: old.spi_out,
            hard: false,
        },
    );
    pair.deliver();
    assert_eq!(pair.a.engine.stats().child_rekeys_initiated, 1);
}

#[test]
fn a_hard_expire_ends_the_child_sa_says_why_and_close_action_brings_it_back() {
    let mut config = with_traffic(moon_config(), limited());
    config.connections[0].children[0].close_action = CloseAction::Start;
    let mut pair = up(config);
    let old = pair.a.engine.list_sas(pair.now)[0].children[0].clone();
    pair.a.engine.handle_kernel_event(
        pair.now,
        KernelEvent::Expire {
            src: a_ip(),
            dst: b_ip(),
            spi: old.spi_out,
            hard: true,
        },
    );
    pair.deliver();
    assert_eq!(pair.a.engine.stats().child_hard_expiries, 1);
    let reason = pair.a.events.iter().find_map(|e| match e {
        Event::ChildSaDeleted { reason, .. } => Some(reason.text.clone()),
        _ => None,
    });
    assert_eq!(
        reason.as_deref(),
        Some("life_bytes/life_packets reached before a rekey succeeded (hard expiry)")
    );
    // The peer was told, and a fresh CHILD SA stands in both kernels.
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(a.children.len(), 1, "{a:#?}");
    assert_eq!(b.children.len(), 1, "{b:#?}");
    assert_ne!(a.children[0].spi_in, old.spi_in);
    assert_eq!(a.children[0].spi_in, b.children[0].spi_out);
    // Once B's grace period for the old inbound SA is over, its kernel agrees.
    pair.run_for(std::time::Duration::from_secs(60));
    assert_eq!(pair.b.kernel().sas.len(), 2);
    assert!(pair.b.kernel().errors.is_empty());
}

#[test]
fn an_expire_for_an_sa_nobody_uses_is_ignored() {
    let mut pair = up(moon_config());
    pair.a.engine.handle_kernel_event(
        pair.now,
        KernelEvent::Expire {
            src: b_ip(),
            dst: a_ip(),
            spi: 0xdead_beef,
            hard: true,
        },
    );
    pair.deliver();
    assert_eq!(pair.a.engine.stats().child_hard_expiries, 0);
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].children.len(), 1);
}
