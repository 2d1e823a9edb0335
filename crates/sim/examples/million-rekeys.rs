//! Simulates at least 1,000,000 CHILD rekeys and says how long it took.
//!
//!     cargo run --release -p tern-sim --example million-rekeys -- [REKEYS] [THREADS] [CONNECTIONS]
//!
//! Each thread runs independent simulated worlds (the `rekeys` bench's
//! scenario: two engines, a day of 60 s CHILD lifetimes, seeds 1, 2, ...)
//! until the worlds finished so far hold REKEYS (default 1,000,000).
//! THREADS defaults to 1; CONNECTIONS (default 1) gives each world that many
//! connections, each its own IKE SA and CHILD SA, so one engine rekeys many
//! CHILD SAs side by side.
//!
//! A rekey is counted when it finished: the simulation's CHILD SAs that
//! went because a rekey replaced them (the engine's deletion event with
//! reason "rekeyed": on this clean link one per rekey on each side, and the
//! local side's are counted). Every world must end with no kernel error and every rekey
//! started finished, but for the losers of simultaneous rekeys (`rekeys-cpu`
//! counts rekeys started: 0.4 % more); with one connection, also with the
//! tunnel up, no outage and the two kernels agreeing.
//!
//! Prints `{"threads", "connections", "worlds", "rekeys", "wall_s", "cpu_s",
//! "rekeys_per_wall_s", "rekeys_per_cpu_s"}`; CPU time is the process's, all
//! threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[path = "../benches/shared/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

/// One side's configuration: `connections` connections to the other host,
/// the n-th with identities `{me}-n` and `{them}-n` (the responder picks the
/// connection by them), between 10.1h.l.0/24 and 10.2h.l.0/24 (n = 256 h + l).
fn side(me: &str, them: &str, my_net: u8, their_net: u8, connections: usize) -> String {
    let (me_addr, them_addr) = (address(me), address(them));
    let mut text = String::new();
    for n in 0..connections {
        let (hi, lo) = (n / 256, n % 256);
        text.push_str(&format!(
            r#"[connections.c{n}]
local_addrs = ["{me_addr}"]
remote_addrs = ["{them_addr}"]
local_id = "{me}-{n}"
remote_id = "{them}-{n}"
auth = "psk"
psk = "bench key"
[connections.c{n}.children.net]
local_ts = ["10.{my_net}{hi}.{lo}.0/24"]
remote_ts = ["10.{their_net}{hi}.{lo}.0/24"]
rekey_time = "60s"
"#
        ));
    }
    text
}

fn address(host: &str) -> &'static str {
    if host == "moon" {
        "192.0.2.1"
    } else {
        "192.0.2.2"
    }
}

fn scenario(seed: u64, connections: usize) -> tern_sim::Scenario {
    let local = side("moon", "sun", 1, 2, connections);
    let peer = side("sun", "moon", 2, 1, connections);
    let text = format!(
        "duration = \"1d\"\nseed = {seed}\n[local]\nconfig_text = \"\"\"\n{local}\"\"\"\n[peer]\nconfig_text = \"\"\"\n{peer}\"\"\"\n[network]\ndelay = \"10ms\"\n"
    );
    tern_sim::parse(&text, "million-rekeys", None).expect("the scenario parses")
}

/// Runs one world and returns the rekeys that finished in it: the rekeys
/// started, less the losers of simultaneous rekeys (RFC 7296 §2.8.1), which
/// replace nothing.
fn one_world(seed: u64, connections: usize) -> u64 {
    let report = tern_sim::run(&scenario(seed, connections)).expect("the world runs");
    let started = report.local.child_rekeys + report.peer.child_rekeys;
    let finished = report.local.child_sas_replaced;
    assert!(
        report.local.kernel_errors.is_empty()
            && report.peer.kernel_errors.is_empty()
            && finished == report.peer.child_sas_replaced
            && finished + report.local.collisions == started,
        "seed {seed}: {report}"
    );
    // The tunnel watch follows one tunnel between the two hosts (the newest
    // outbound SA): with many connections its outages and the end-of-run
    // kernel comparison say little, and are checked with one only.
    if connections == 1 {
        assert!(
            report.up_at_end && report.max_outage_s == 0.0 && report.kernels_agree,
            "seed {seed}: {report}"
        );
    }
    finished
}

fn main() {
    let arg = |n: usize, default: u64| -> u64 {
        std::env::args()
            .nth(n)
            .map(|a| a.replace(['_', ','], "").parse().expect("a number"))
            .unwrap_or(default)
    };
    let target = arg(1, 1_000_000);
    let threads = arg(2, 1).max(1);
    let connections = arg(3, 1).max(1) as usize;
    assert!(
        connections <= 2560,
        "at most 2,560 connections (10.1xx.yy.0/24)"
    );

    let rekeys = AtomicU64::new(0);
    let next_seed = AtomicU64::new(1);
    let worlds = AtomicU64::new(0);
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while rekeys.load(Ordering::Relaxed) < target {
                    let seed = next_seed.fetch_add(1, Ordering::Relaxed);
                    rekeys.fetch_add(one_world(seed, connections), Ordering::Relaxed);
                    worlds.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let (wall_s, cpu_s) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let rekeys = rekeys.into_inner();
    println!(
        "{{\"threads\":{threads},\"connections\":{connections},\"worlds\":{},\"rekeys\":{rekeys},\"wall_s\":{wall_s:.2},\"cpu_s\":{cpu_s:.2},\"rekeys_per_wall_s\":{:.0},\"rekeys_per_cpu_s\":{:.0}}}",
        worlds.into_inner(),
        rekeys as f64 / wall_s,
        rekeys as f64 / cpu_s
    );
}
