//! The `rekeys` bench's scenario (a day of 60 s CHILD lifetimes between two
//! engines), run N times, printing the rekeys and the process's CPU time:
//! on a shared machine CPU time varies far less than criterion's wall time.
//!
//!     cargo run --release -p tern-sim --example rekeys-cpu -- 50
//!
//! Prints `{"runs", "rekeys", "cpu_s", "rekeys_per_cpu_s", "allocs_per_rekey"}`:
//! the last counts every heap allocation (and reallocation) of the runs,
//! set-up and handshakes included, divided by the rekeys.

#[path = "../benches/shared/rekeys_scenario.rs"]
mod rekeys_scenario;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use rekeys_scenario::scenario;

#[path = "../benches/shared/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

/// The system allocator, counting allocations and reallocations.
///
/// The count is a load and a store, not an atomic add: this example runs on
/// one thread, and a locked add on every allocation cost 7 % of its time.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds GlobalAlloc's contract; the counter has no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count_one() {
    ALLOCATIONS.store(ALLOCATIONS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let runs: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of runs"))
        .unwrap_or(50);
    let scenario = scenario();
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let before = cpu_seconds();
    let mut rekeys = 0;
    for _ in 0..runs {
        let report = tern_sim::run(&scenario).expect("runs");
        assert!(report.up_at_end && report.max_outage_s == 0.0, "{report}");
        rekeys += report.local.child_rekeys + report.peer.child_rekeys;
    }
    let cpu_s = cpu_seconds() - before;
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    println!(
        "{{\"runs\":{runs},\"rekeys\":{rekeys},\"cpu_s\":{cpu_s:.2},\"rekeys_per_cpu_s\":{:.0},\"allocs_per_rekey\":{:.1}}}",
        rekeys as f64 / cpu_s,
        allocations as f64 / rekeys as f64
    );
}
