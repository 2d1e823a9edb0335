//! Resident memory per established IKE SA (with its CHILD SA) in one
//! responder engine alone: no daemon, no sockets, no kernel model.
//!
//!     cargo run --release -p tern-load --example engine-memory -- 100000

use tern_load::memory::{Configs, Pair, SeededEnv};
use tern_load::profile::Profile;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS");
    kib * 1024
}

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of SAs"))
        .unwrap_or(100_000);
    let configs = Configs::new(&Profile::default()).expect("configs");
    let mut responder =
        tern_engine::Engine::new(configs.responder.clone(), Box::new(SeededEnv::new(1)));
    let before = rss_bytes();
    for seed in 1..=count {
        let mut pair = Pair::with_responder(&configs, seed, responder);
        pair.establish().expect("handshake");
        responder = pair.into_responder();
    }
    let after = rss_bytes();
    let held = responder.list_sas(std::time::Instant::now()).len();
    assert_eq!(held as u64, count);
    println!(
        "{}",
        serde_json::json!({
            "sas": held,
            "rss_bytes_per_sa": (after - before) / count,
        })
    );
}
