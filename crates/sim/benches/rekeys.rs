//! Engine throughput in simulated CHILD rekeys per second: two engines, a day of
//! virtual time with 60 s CHILD lifetimes (about 1,400 rekeys, each a
//! CREATE_CHILD_SA exchange and a DELETE, with their key schedules and kernel
//! operations), on a clean 10 ms link.
//!
//!     cargo bench -p tern-sim --bench rekeys

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "shared/rekeys_scenario.rs"]
mod rekeys_scenario;
use rekeys_scenario::scenario;

fn rekeys(c: &mut Criterion) {
    let scenario = scenario();
    let report = tern_sim::run(&scenario).expect("runs");
    let rekeys = report.local.child_rekeys + report.peer.child_rekeys;
    assert!(report.up_at_end && report.max_outage_s == 0.0, "{report}");
    let mut group = c.benchmark_group("simulated");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rekeys));
    group.bench_function("child_rekeys_1d_60s", |b| {
        b.iter(|| tern_sim::run(&scenario).expect("runs"))
    });
    group.finish();
}

criterion_group!(benches, rekeys);
criterion_main!(benches);
