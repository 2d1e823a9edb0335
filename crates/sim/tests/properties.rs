//! The properties of tests/common/properties.rs over a set of random draws, on
//! every `cargo test`. The draws are shorter than the example's (8 h instead of
//! 24 h), so that a debug build gets through them in well under a minute; the
//! example searches longer runs and more seeds:
//!
//!     cargo run --release -p tern-sim --example properties
//!
//! A failure prints the draw's scenario; TERN_SIM_SEED=N replays one draw.

mod common;

use common::properties::{check, hours, seeds};

/// Seeds checked on every run (TERN_SIM_SEEDS=N for more).
const SEEDS: u64 = 48;
/// Each draw's length of virtual time: long enough for several rekeys of the
/// shorter lifetimes drawn and for the random commands.
const HOURS: u64 = 8;

#[test]
fn random_lifetimes_loss_and_commands_never_drop_the_tunnel() {
    let draws = seeds(SEEDS);
    let total = draws.clone().count();
    let failures: Vec<String> = draws.filter_map(|s| check(s, hours(HOURS)).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} draws failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A seed names one run: the same draw, simulated again, replays event for
/// event. (With std's randomly keyed hash maps in the engine it did not: the
/// order in which the engine met its IKE SAs changed between runs, and in one
/// scan 43 of the first 200 draws of the 24 h search, these five among them,
/// differed from one run to the next.)
#[test]
fn a_draw_replays_exactly() {
    for seed in [10, 18, 21, 29, 33] {
        let drawn = common::properties::draw(seed, 24);
        let scenario = tern_sim::parse(&drawn.text, "replay", None).unwrap();
        let first = tern_sim::run(&scenario).unwrap();
        let again = tern_sim::run(&scenario).unwrap();
        assert!(again == first, "a second run of seed {seed} differs");
    }
}
