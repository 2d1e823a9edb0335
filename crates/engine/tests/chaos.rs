//! The engine against a hostile network, over many seeds: loss, duplication and
//! reordering must never leave the two sides disagreeing or holding a second SA.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::{EngineConfig, Lifetime, RetransmitConfig};

/// xorshift64*, for the network's decisions.
struct Dice(u64);

impl Dice {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A network that drops, duplicates and holds back (reorders) datagrams at the given rates.
fn hostile(seed: u64, loss: f64, duplicate: f64, reorder: f64) -> Network {
    let mut dice = Dice(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    Box::new(move |_, _| {
        let roll = dice.unit();
        if roll < loss {
            Fate::Drop
        } else if roll < loss + duplicate {
            Fate::Duplicate
        } else if roll < loss + duplicate + reorder {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    })
}

/// Enough tries that 30 % loss cannot exhaust them in these seeds' handshakes, and
/// lifetimes long enough that no rekey happens while the test runs.
fn patient(mut config: EngineConfig) -> EngineConfig {
    config.retransmit = RetransmitConfig {
        tries: 12,
        ..RetransmitConfig::default()
    };
    let days = Lifetime::from_rekey_time(Duration::from_secs(100 * 24 * 3600));
    for conn in &mut config.connections {
        conn.lifetime = days;
        for child in &mut conn.children {
            child.lifetime = days;
        }
    }
    config
}

/// Runs the clock for `limit`, releasing held datagrams after each round of
/// deliveries: what the network held back arrives after what overtook it.
fn run_reordering(pair: &mut Pair, limit: Duration) {
    let end = pair.now + limit;
    loop {
        pair.deliver();
        if !pair.held.is_empty() {
            pair.release_held();
            continue;
        }
        let next = [pair.a.engine.poll_timeout(), pair.b.engine.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= end => {
                pair.now = pair.now.max(t);
                pair.a.engine.handle_timeout(pair.now);
                pair.b.engine.handle_timeout(pair.now);
            }
            _ => {
                pair.now = end;
                return;
            }
        }
    }
}

/// Both sides hold exactly one established IKE SA with one CHILD SA, and their
/// kernels hold the same two ESP SAs, mirrored, and nothing else.
fn assert_one_tunnel_agreed(pair: &Pair, seed: u64) {
    let (a, b) = (
        pair.a.engine.list_sas(pair.now),
        pair.b.engine.list_sas(pair.now),
    );
    assert_eq!(a.len(), 1, "seed {seed}: A has {} IKE SAs: {a:#?}", a.len());
    assert_eq!(b.len(), 1, "seed {seed}: B has {} IKE SAs: {b:#?}", b.len());
    assert_eq!(a[0].state, "ESTABLISHED", "seed {seed}");
    assert_eq!(b[0].state, "ESTABLISHED", "seed {seed}");
    assert_eq!(a[0].children.len(), 1, "seed {seed}: {:#?}", a[0].children);
    assert_eq!(b[0].children.len(), 1, "seed {seed}: {:#?}", b[0].children);
    let (ca, cb) = (&a[0].children[0], &b[0].children[0]);
    assert_eq!(
        (ca.spi_in, ca.spi_out),
        (cb.spi_out, cb.spi_in),
        "seed {seed}"
    );
    let (ka, kb) = (pair.a.kernel(), pair.b.kernel());
    assert!(ka.errors.is_empty(), "seed {seed}: {:?}", ka.errors);
    assert!(kb.errors.is_empty(), "seed {seed}: {:?}", kb.errors);
    let spis = |k: &FakeKernel| k.sas.keys().map(|id| id.2).collect::<Vec<_>>();
    let mut expected = vec![ca.spi_in, ca.spi_out];
    expected.sort();
    let (mut in_a, mut in_b) = (spis(&ka), spis(&kb));
    in_a.sort();
    in_b.sort();
    assert_eq!(in_a, expected, "seed {seed}: A's kernel");
    assert_eq!(in_b, expected, "seed {seed}: B's kernel");
    assert!(
        ka.larval.is_empty() && kb.larval.is_empty(),
        "seed {seed}: SPIs left reserved"
    );
}

#[test]
fn handshakes_converge_under_30_percent_loss() {
    for seed in 0..300 {
        let mut pair = Pair::new(patient(moon_config()), patient(sun_config()));
        pair.network = hostile(seed, 0.30, 0.0, 0.0);
        pair.initiate_from_a("demo");
        pair.run_for(Duration::from_secs(3600));
        // Then a clean network for as long as the longest backoff, so what is still
        // being retransmitted gets through and the two sides can be compared.
        pair.network = Box::new(|_, _| Fate::Deliver);
        pair.run_for(Duration::from_secs(2 * 3600));
        assert_one_tunnel_agreed(&pair, seed);
    }
}

#[test]
fn duplicated_and_reordered_datagrams_never_make_a_second_sa() {
    for seed in 0..300 {
        let mut pair = Pair::demo();
        pair.network = hostile(seed, 0.0, 0.3, 0.3);
        pair.initiate_from_a("demo");
        run_reordering(&mut pair, Duration::from_secs(60));
        // And a rekey from each side through the same network.
        for side_a in [true, false] {
            let node = if side_a { &mut pair.a } else { &mut pair.b };
            node.engine
                .handle_command(
                    pair.now,
                    tern_engine::Command::Rekey {
                        connection: "demo".into(),
                    },
                )
                .unwrap();
            run_reordering(&mut pair, Duration::from_secs(60));
        }
        assert_one_tunnel_agreed(&pair, seed);
    }
}

/// Short rekey times on both sides, with jitter: many rekeys, some at once. The
/// life_time leaves room for a whole retransmission schedule (165 s) after the
/// rekey starts, as it must for a rekey to survive a lossy link.
fn busy(mut config: EngineConfig, child_secs: u64, ike_secs: u64) -> EngineConfig {
    let lifetime = |rekey: u64| Lifetime {
        rekey_time: Duration::from_secs(rekey),
        life_time: Duration::from_secs(rekey + 400),
        rand_time: Duration::from_secs(rekey / 10),
    };
    for conn in &mut config.connections {
        conn.lifetime = lifetime(ike_secs);
        for child in &mut conn.children {
            child.lifetime = lifetime(child_secs);
        }
    }
    config
}

/// One IKE SA and one installed CHILD SA per side, mirrored; each kernel holds that
/// CHILD SA's two SAs plus, at most, inbound SAs of replaced ones still in their grace
/// period (never a second outbound SA).
fn assert_agreed_with_grace(pair: &Pair, seed: u64) {
    let (a, b) = (
        pair.a.engine.list_sas(pair.now),
        pair.b.engine.list_sas(pair.now),
    );
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "seed {seed}: IKE SAs {a:#?} {b:#?}"
    );
    assert_eq!(a[0].children.len(), 1, "seed {seed}: {:#?}", a[0].children);
    assert_eq!(b[0].children.len(), 1, "seed {seed}: {:#?}", b[0].children);
    let (ca, cb) = (&a[0].children[0], &b[0].children[0]);
    assert_eq!(
        (ca.state, cb.state),
        ("INSTALLED", "INSTALLED"),
        "seed {seed}"
    );
    assert_eq!(
        (ca.spi_in, ca.spi_out),
        (cb.spi_out, cb.spi_in),
        "seed {seed}"
    );
    for (node, child) in [(&pair.a, ca), (&pair.b, cb)] {
        let k = node.kernel();
        assert!(k.errors.is_empty(), "seed {seed}: {:?}", k.errors);
        let me = node.addr.ip();
        let outbound: Vec<u32> = k
            .sas
            .keys()
            .filter(|id| id.0 == me)
            .map(|id| id.2)
            .collect();
        assert_eq!(outbound, vec![child.spi_out], "seed {seed}: outbound SAs");
        assert!(
            k.sas.keys().any(|id| id.1 == me && id.2 == child.spi_in),
            "seed {seed}"
        );
    }
}

#[test]
fn a_thousand_seeds_of_a_busy_hostile_half_hour() {
    let mut rekeys = 0;
    for seed in 0..1000 {
        let mut pair = Pair::new(busy(moon_config(), 90, 300), busy(sun_config(), 120, 420));
        pair.network = hostile(seed, 0.05, 0.05, 0.05);
        pair.initiate_from_a("demo");
        run_reordering(&mut pair, Duration::from_secs(20 * 60));
        pair.network = Box::new(|_, _| Fate::Deliver);
        pair.run_for(Duration::from_secs(10 * 60));
        assert_agreed_with_grace(&pair, seed);
        let (sa, sb) = (pair.a.engine.stats(), pair.b.engine.stats());
        assert_eq!(
            sa.child_hard_expiries + sb.child_hard_expiries,
            0,
            "seed {seed}"
        );
        assert_eq!(
            sa.ike_hard_expiries + sb.ike_hard_expiries,
            0,
            "seed {seed}"
        );
        rekeys += sa.child_rekeys_initiated + sb.child_rekeys_initiated;
    }
    // The draws did what they are for: plenty of rekeys (about 20 per seed).
    assert!(rekeys > 10_000, "only {rekeys} CHILD rekeys in 1000 seeds");
}
