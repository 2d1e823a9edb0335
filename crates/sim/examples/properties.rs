//! The property search over more seeds and longer runs than the `properties` test
//! (see tests/common/properties.rs for what is drawn and checked):
//!
//!     cargo run --release -p tern-sim --example properties
//!
//! TERN_SIM_SEEDS=N searches N seeds, TERN_SIM_SEED=N checks that one only.

#[path = "../tests/common/mod.rs"]
mod common;

use common::properties::{check, hours, seeds};

/// Seeds searched by default.
const DEFAULT_SEEDS: u64 = 48;
/// Each draw's length of virtual time.
const HOURS: u64 = 24;

fn main() -> std::process::ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .without_time()
            .with_ansi(false)
            .init();
    }
    let draws = seeds(DEFAULT_SEEDS);
    let total = draws.clone().count();
    let failures: Vec<String> = draws.filter_map(|s| check(s, hours(HOURS)).err()).collect();
    for failure in &failures {
        println!("{}\n", failure.lines().next().unwrap_or_default());
    }
    println!("{} of {total} draws failed", failures.len());
    if let Some(first) = failures.first() {
        println!("\nthe first in full:\n{first}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
