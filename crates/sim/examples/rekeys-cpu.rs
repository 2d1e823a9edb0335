//! The `rekeys` bench's scenario (a day of 60 s CHILD lifetimes between two
//! engines), run N times, printing the rekeys and the process's CPU time:
//! on a shared machine CPU time varies far less than criterion's wall time.
//!
//!     cargo run --release -p tern-sim --example rekeys-cpu -- 50
//!
//! Prints `{"runs", "rekeys", "cpu_s", "rekeys_per_cpu_s"}`.

#[path = "../benches/shared/rekeys_scenario.rs"]
mod rekeys_scenario;
use rekeys_scenario::scenario;

/// User + system CPU time of this process, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / 100.0
}

fn main() {
    let runs: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of runs"))
        .unwrap_or(50);
    let scenario = scenario();
    let before = cpu_seconds();
    let mut rekeys = 0;
    for _ in 0..runs {
        let report = tern_sim::run(&scenario).expect("runs");
        assert!(report.up_at_end && report.max_outage_s == 0.0, "{report}");
        rekeys += report.local.child_rekeys + report.peer.child_rekeys;
    }
    let cpu_s = cpu_seconds() - before;
    println!(
        "{{\"runs\":{runs},\"rekeys\":{rekeys},\"cpu_s\":{cpu_s:.2},\"rekeys_per_cpu_s\":{:.0}}}",
        rekeys as f64 / cpu_s
    );
}
