//! Engine throughput in simulated CHILD rekeys per second: two engines, a day of
//! virtual time with 60 s CHILD lifetimes (about 1,400 rekeys, each a
//! CREATE_CHILD_SA exchange and a DELETE, with their key schedules and kernel
//! operations), on a clean 10 ms link.
//!
//!     cargo bench -p tern-sim --bench rekeys

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn side(me: &str, them: &str, my_id: &str, their_id: &str, mine: &str, theirs: &str) -> String {
    format!(
        r#"[connections.demo]
local_addrs = ["{me}"]
remote_addrs = ["{them}"]
local_id = "{my_id}"
remote_id = "{their_id}"
auth = "psk"
psk = "bench key"
[connections.demo.children.net]
local_ts = ["{mine}"]
remote_ts = ["{theirs}"]
rekey_time = "60s"
"#
    )
}

fn scenario() -> tern_sim::Scenario {
    let local = side(
        "192.0.2.1",
        "192.0.2.2",
        "moon",
        "sun",
        "10.1.0.0/24",
        "10.2.0.0/24",
    );
    let peer = side(
        "192.0.2.2",
        "192.0.2.1",
        "sun",
        "moon",
        "10.2.0.0/24",
        "10.1.0.0/24",
    );
    let text = format!(
        "duration = \"1d\"\nseed = 1\n[local]\nconfig_text = \"\"\"\n{local}\"\"\"\n[peer]\nconfig_text = \"\"\"\n{peer}\"\"\"\n[network]\ndelay = \"10ms\"\n"
    );
    tern_sim::parse(&text, "bench", None).expect("bench scenario")
}

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
