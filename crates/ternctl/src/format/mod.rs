//! Text output for people, modelled on swanctl's so its users feel at home.

mod conns;
mod event;
mod history;
mod leases;
mod sas;
mod stats;
mod utc;

pub use conns::conns;
pub use event::event;
pub use history::history;
pub use leases::leases;
pub use sas::ike_sas;
pub use stats::stats;
pub use utc::utc_time;

/// How times are shown: rounded as swanctl does (`55m`), or exactly (`--exact`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    Rounded,
    Exact,
}

/// Seconds as swanctl shows them: `12s`, `55m`, `4h`; exactly, `3725s`.
fn duration(secs: u64, times: Times) -> String {
    if times == Times::Exact {
        return format!("{secs}s");
    }
    match secs {
        s if s < 300 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}
