//! tern-sim: two tern engines in virtual time.
//!
//! A [`Scenario`] gives both sides' configurations, the network between them
//! (loss, delay, jitter, a NAT's idle timeout) and events on the way (restarts,
//! commands, network changes). [`run`] plays it: the clock jumps from one deadline
//! to the next, so days of lifetimes and rekeys take seconds, and the same seed
//! always gives the same run. The [`Report`] says what the tunnel went through:
//! rekeys, collisions, hard expiries, and every outage (time during which ESP
//! between the two would have been dropped), judged from both kernels' SAs.
//!
//! `ternctl simulate` is the command line for it; the property tests in `tests/`
//! run it over many seeds.

mod host;
mod report;
mod scenario;
mod verdict;
mod world;

pub use report::{Outage, Report, SideReport, TimelineEntry};
pub use scenario::{
    load, load_with, parse, parse_duration, parse_with, Action, Importer, NetworkSettings,
    Scenario, ScheduledEvent, Side,
};
pub use verdict::{ConnVerdict, VerdictFinding};
pub use world::{run, run_keeping};
