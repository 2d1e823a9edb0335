//! `history`: how each connection's recent SAs ended.

use std::fmt::Write;

use tern_control::{ConnHistory, SaEndInfo};

use super::utc::{utc_time, utc_time_secs};
use super::{duration, Times};

/// How each connection's recent SAs ended, newest first: the answer to "why did
/// the tunnel drop?". Routine ends (rekeys) are left out unless `all`.
pub fn history(history: &[ConnHistory], all: bool, times: Times) -> String {
    let mut out = String::new();
    for conn in history {
        let ends: Vec<&SaEndInfo> = conn
            .ends
            .iter()
            .rev()
            .filter(|e| all || !is_routine(e))
            .collect();
        if ends.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}: recent ends", conn.connection);
        for e in ends {
            let what = match (&e.child, &e.spi_in, &e.spi_out) {
                (Some(child), Some(i), Some(o)) => format!("CHILD SA {child} {i}_i {o}_o"),
                (Some(child), _, _) => format!("CHILD SA {child}"),
                (None, _, _) => format!("IKE SA #{}", e.ike_id),
            };
            let verb = if e.was_up { "ended" } else { "failed" };
            let ago = duration(e.ago_secs, times);
            let when = match (e.unix_ms, times) {
                (Some(ms), Times::Exact) => format!("{} ({ago} ago)", utc_time(ms)),
                (Some(ms), Times::Rounded) => format!("{} ({ago} ago)", utc_time_secs(ms)),
                (None, _) => format!("{ago} ago"),
            };
            let _ = writeln!(out, "  {when}: {what} {verb}: {}", e.cause);
        }
    }
    out
}

fn is_routine(e: &SaEndInfo) -> bool {
    e.routine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_newest_first_without_rekeys_unless_asked() {
        let end = |ago_secs, child: Option<&str>, cause: &str, was_up| SaEndInfo {
            ago_secs,
            unix_ms: None,
            kind: if child.is_some() { "CHILD" } else { "IKE" }.into(),
            ike_id: 3,
            child: child.map(Into::into),
            spi_in: child.map(|_| "c0000101".into()),
            spi_out: child.map(|_| "c1b2c3d4".into()),
            was_up,
            cause: cause.into(),
            // What ternd says of each; ternctl does not read the sentence.
            end_kind: if cause == "rekeyed" {
                "rekeyed"
            } else {
                "dead_peer"
            }
            .into(),
            routine: cause == "rekeyed",
            ke_ours: vec![],
            ke_asked: vec![],
        };
        let history = [ConnHistory {
            connection: "demo".into(),
            ends: vec![
                end(4000, Some("net"), "rekeyed", true),
                end(700, Some("net"), "dead peer (DPD timeout)", true),
                end(700, None, "dead peer (DPD timeout)", true),
                end(20, None, "the peer rejected our authentication", false),
            ],
        }];
        assert_eq!(
            history_text(&history, false),
            "demo: recent ends\n\
             \x20 20s ago: IKE SA #3 failed: the peer rejected our authentication\n\
             \x20 11m ago: IKE SA #3 ended: dead peer (DPD timeout)\n\
             \x20 11m ago: CHILD SA net c0000101_i c1b2c3d4_o ended: dead peer (DPD timeout)\n"
        );
        assert!(history_text(&history, true)
            .ends_with("66m ago: CHILD SA net c0000101_i c1b2c3d4_o ended: rekeyed\n"));
        let routine_only = [ConnHistory {
            connection: "demo".into(),
            ends: vec![end(5, Some("net"), "rekeyed", true)],
        }];
        assert_eq!(history_text(&routine_only, false), "");
    }

    #[test]
    fn history_with_absolute_times_rounded_or_exact() {
        let ends = [ConnHistory {
            connection: "demo".into(),
            ends: vec![SaEndInfo {
                ago_secs: 3725,
                unix_ms: Some(1_795_437_601_005),
                kind: "IKE".into(),
                ike_id: 3,
                child: None,
                spi_in: None,
                spi_out: None,
                was_up: true,
                cause: "dead peer (DPD timeout)".into(),
                end_kind: "dead_peer".into(),
                routine: false,
                ke_ours: vec![],
                ke_asked: vec![],
            }],
        }];
        assert_eq!(
            history(&ends, false, Times::Rounded),
            "demo: recent ends\n\
             \x20 2026-11-23 12:40:01Z (62m ago): IKE SA #3 ended: dead peer (DPD timeout)\n"
        );
        assert_eq!(
            history(&ends, false, Times::Exact),
            "demo: recent ends\n\
             \x20 2026-11-23 12:40:01.005Z (3725s ago): IKE SA #3 ended: dead peer (DPD timeout)\n"
        );
    }

    fn history_text(h: &[ConnHistory], all: bool) -> String {
        history(h, all, Times::Rounded)
    }
}
