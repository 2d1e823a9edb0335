//! `watch`: one line per event.

use tern_control::{EventInfo, EventKind};

use super::utc::utc_time;

/// One event of `watch`, on one line: when, which connection, which SA, what
/// happened and why.
pub fn event(e: &EventInfo) -> String {
    let when = utc_time(e.unix_ms);
    let ike = match (&e.initiator_spi, &e.responder_spi) {
        (Some(i), Some(r)) => format!("IKE SA #{} {i}_i {r}_r", e.ike_id),
        _ => format!("IKE SA #{}", e.ike_id),
    };
    let child = || {
        let name = e.child.as_deref().unwrap_or("?");
        match (&e.spi_in, &e.spi_out) {
            (Some(i), Some(o)) => format!("CHILD SA {name} {i}_i {o}_o"),
            _ => format!("CHILD SA {name}"),
        }
    };
    let reason = e.reason.as_deref().unwrap_or("no reason given");
    let what = match e.kind {
        EventKind::IkeSaEstablished => format!("{ike} established"),
        EventKind::IkeSaFailed => format!("{ike} failed: {reason}"),
        EventKind::IkeSaDeleted => format!("{ike} ended: {reason}"),
        EventKind::IkeSaRekeyed => format!(
            "IKE SA #{} rekeyed: replaced by {}",
            e.ike_id,
            match (e.new_ike_id, &e.initiator_spi, &e.responder_spi) {
                (Some(n), Some(i), Some(r)) => format!("IKE SA #{n} {i}_i {r}_r"),
                (Some(n), _, _) => format!("IKE SA #{n}"),
                (None, _, _) => "a new IKE SA".to_string(),
            }
        ),
        EventKind::ChildSaInstalled => format!("{} installed on IKE SA #{}", child(), e.ike_id),
        EventKind::ChildSaFailed => format!("{} failed: {reason}", child()),
        EventKind::ChildSaDeleted => format!("{} ended: {reason}", child()),
        EventKind::EndAction => format!("bringing it back ({reason})"),
        EventKind::EventsLost => return format!("{when} {reason}\n"),
    };
    format!("{when} {}: {what}\n", e.connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(kind: EventKind) -> EventInfo {
        EventInfo {
            unix_ms: 1_795_437_601_005,
            kind,
            connection: "demo".into(),
            ike_id: 3,
            new_ike_id: None,
            initiator_spi: Some("0123456789abcdef".into()),
            responder_spi: Some("fedcba9876543210".into()),
            child: None,
            spi_in: None,
            spi_out: None,
            reason: None,
            end_kind: None,
            lost: None,
        }
    }

    #[test]
    fn events_read_as_one_line_each() {
        assert_eq!(
            event(&watched(EventKind::IkeSaEstablished)),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 0123456789abcdef_i fedcba9876543210_r established\n"
        );
        let mut e = watched(EventKind::ChildSaDeleted);
        e.child = Some("net".into());
        e.spi_in = Some("c0000101".into());
        e.spi_out = Some("c1b2c3d4".into());
        e.reason = Some("dead peer (DPD timeout)".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: CHILD SA net c0000101_i c1b2c3d4_o ended: dead peer (DPD timeout)\n"
        );
        let mut e = watched(EventKind::IkeSaRekeyed);
        e.new_ike_id = Some(4);
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 rekeyed: replaced by IKE SA #4 0123456789abcdef_i fedcba9876543210_r\n"
        );
        let mut e = watched(EventKind::IkeSaFailed);
        e.initiator_spi = None;
        e.reason = Some("the peer rejected our authentication".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z demo: IKE SA #3 failed: the peer rejected our authentication\n"
        );
        let mut e = watched(EventKind::EventsLost);
        e.connection.clear();
        e.reason = Some("7 event(s) dropped: this watcher read too slowly".into());
        assert_eq!(
            event(&e),
            "2026-11-23 12:40:01.005Z 7 event(s) dropped: this watcher read too slowly\n"
        );
    }
}
