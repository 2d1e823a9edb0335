//! What a simulation found, for people (`Display`) and for scripts (serde/JSON).

use std::fmt;

use serde::Serialize;

/// The whole report. JSON keys are part of ternctl's interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub duration_s: f64,
    pub seed: u64,
    /// Virtual time until traffic could first pass both ways.
    pub first_up_s: Option<f64>,
    /// The longest time, after the tunnel first came up, during which traffic
    /// between the subnets would have been dropped (either direction).
    pub max_outage_s: f64,
    pub total_outage_s: f64,
    pub outages: Vec<Outage>,
    /// CHILD SAs beyond one per configured CHILD SA, both sides, at the end.
    pub duplicate_child_sas: u64,
    /// Whether traffic could pass both ways at the end.
    pub up_at_end: bool,
    /// Whether both kernels agree at the end: every SA on one side has its match
    /// on the other, and no reserved SPI is left over.
    pub kernels_agree: bool,
    pub local: SideReport,
    pub peer: SideReport,
    /// Noteworthy moments (SAs ending other than by rekeying, restarts, network
    /// changes, outages), the first ones if there are many.
    pub timeline: Vec<TimelineEntry>,
    /// How many timeline entries were left out.
    pub timeline_omitted: u64,
    /// The local side judged at the end as `ternctl diagnose` judges ternd.
    pub verdict: Vec<crate::verdict::ConnVerdict>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideReport {
    pub ike_rekeys: u64,
    pub child_rekeys: u64,
    /// CHILD SAs that went because a rekey replaced them (their deletion
    /// event said "rekeyed"). On a clean link each finished CHILD rekey counts
    /// one on each side; with collisions, loss and reordering the sides can
    /// differ (conf/scenarios/identical-no-jitter.toml: 156 and 153).
    pub child_sas_replaced: u64,
    /// Simultaneous rekeys resolved by the nonce rule.
    pub collisions: u64,
    /// SAs that reached life_time before a rekey succeeded.
    pub hard_expiries: u64,
    /// Children whose SAs this side rekeys before the peer lets them expire
    /// (rekey_adapt).
    pub rekeys_adapted: u64,
    pub ike_sas_established: u64,
    pub messages_sent: u64,
    pub retransmits: u64,
    pub restarts: u64,
    pub ike_sas_at_end: u64,
    pub child_sas_at_end: u64,
    pub duplicate_child_sas: u64,
    /// Kernel operations that made no sense (deleting unknown SAs, ...).
    pub kernel_errors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outage {
    pub start_s: f64,
    pub end_s: f64,
    pub duration_s: f64,
    /// Still going on when the scenario ended.
    pub ongoing: bool,
    /// The last noteworthy thing that happened before it began.
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at_s: f64,
    pub side: Option<&'static str>,
    pub what: String,
}

/// Reads one count off a side's report, for the table.
type SideCount = fn(&SideReport) -> u64;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulated {} (seed {})",
            human(self.duration_s),
            self.seed
        )?;
        match self.first_up_s {
            Some(t) => writeln!(f, "tunnel first up after {}", human(t))?,
            None => writeln!(f, "the tunnel never came up")?,
        }
        writeln!(
            f,
            "longest outage: {}; {} outage(s), {} in all; {} at the end",
            human(self.max_outage_s),
            self.outages.len(),
            human(self.total_outage_s),
            if self.up_at_end { "up" } else { "DOWN" }
        )?;
        writeln!(
            f,
            "duplicate CHILD SAs at the end: {}; kernels {}",
            self.duplicate_child_sas,
            if self.kernels_agree {
                "agree"
            } else {
                "DISAGREE"
            }
        )?;
        writeln!(f)?;
        writeln!(f, "{:<22}{:>12}{:>12}", "", "local", "peer")?;
        let rows: [(&str, SideCount); 11] = [
            ("IKE rekeys started", |s| s.ike_rekeys),
            ("CHILD rekeys started", |s| s.child_rekeys),
            ("CHILD SAs replaced", |s| s.child_sas_replaced),
            ("collisions", |s| s.collisions),
            ("hard expiries", |s| s.hard_expiries),
            ("rekeys adapted", |s| s.rekeys_adapted),
            ("IKE SAs established", |s| s.ike_sas_established),
            ("messages sent", |s| s.messages_sent),
            ("retransmits", |s| s.retransmits),
            ("restarts", |s| s.restarts),
            ("CHILD SAs at the end", |s| s.child_sas_at_end),
        ];
        for (name, value) in rows {
            writeln!(
                f,
                "{name:<22}{:>12}{:>12}",
                value(&self.local),
                value(&self.peer)
            )?;
        }
        for (side, report) in [("local", &self.local), ("peer", &self.peer)] {
            for e in &report.kernel_errors {
                writeln!(f, "{side} kernel error: {e}")?;
            }
        }
        if !self.outages.is_empty() {
            writeln!(f)?;
            writeln!(f, "outages:")?;
            for o in &self.outages {
                write!(
                    f,
                    "  at {}: {}{}",
                    human(o.start_s),
                    human(o.duration_s),
                    if o.ongoing { " (until the end)" } else { "" }
                )?;
                match &o.after {
                    Some(why) => writeln!(f, ", after: {why}")?,
                    None => writeln!(f)?,
                }
            }
        }
        if !self.timeline.is_empty() {
            writeln!(f)?;
            writeln!(f, "timeline:")?;
            for e in &self.timeline {
                writeln!(
                    f,
                    "  {:>12}  {:<6} {}",
                    human(e.at_s),
                    e.side.unwrap_or(""),
                    e.what
                )?;
            }
            if self.timeline_omitted > 0 {
                writeln!(f, "  ... and {} more", self.timeline_omitted)?;
            }
        }
        if !self.verdict.is_empty() {
            writeln!(f)?;
            writeln!(f, "verdict (local, as ternctl diagnose):")?;
            for c in &self.verdict {
                match &c.summary {
                    Some(line) => writeln!(f, "  {}: {line}", c.connection)?,
                    None => writeln!(f, "  {}: problems", c.connection)?,
                }
                for finding in &c.findings {
                    write!(f, "    {}", finding.message)?;
                    if !finding.fix.is_empty() {
                        write!(f, " Fix: {}", finding.fix)?;
                    }
                    writeln!(f)?;
                }
            }
        }
        Ok(())
    }
}

/// 0.25 s, 42 s, 1h 3m 20s, 7d 0h 0m.
fn human(secs: f64) -> String {
    if secs < 10.0 {
        return format!("{secs:.3} s");
    }
    let whole = secs.round() as u64;
    let (d, h, m, s) = (
        whole / 86400,
        whole / 3600 % 24,
        whole / 60 % 60,
        whole % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m {s}s"),
        _ => format!("{d}d {h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_durations() {
        assert_eq!(human(0.25), "0.250 s");
        assert_eq!(human(42.0), "42 s");
        assert_eq!(human(3800.0), "1h 3m 20s");
        assert_eq!(human(7.0 * 86400.0), "7d 0h 0m");
    }
}
