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
