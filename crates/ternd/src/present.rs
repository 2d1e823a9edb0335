//! The engine's views turned into the control protocol's types.

use tern_control::{
    ChildSaInfo, ChildSaMode, ChildSaState, EventInfo, EventKind, IkeRole, IkeSaInfo, IkeSaState,
    MobikeInfo, NatInfo, RekeyFailedInfo, UnansweredInfo,
};
use tern_engine::config::Mode;
use tern_engine::Event;

use crate::kernel::Kernel;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn ike_sa(sa: &tern_engine::IkeSaInfo, kernel: &mut dyn Kernel) -> IkeSaInfo {
    IkeSaInfo {
        connection: sa.connection.clone(),
        unique_id: sa.unique_id,
        state: match sa.state {
            "ESTABLISHED" => IkeSaState::Established,
            "DELETING" => IkeSaState::Deleting,
            "REKEYED" => IkeSaState::Rekeyed,
            _ => IkeSaState::Connecting,
        },
        role: if sa.initiator {
            IkeRole::Initiator
        } else {
            IkeRole::Responder
        },
        local_addr: sa.local_addr.to_string(),
        remote_addr: sa.remote_addr.to_string(),
        local_id: sa.local_id.clone(),
        remote_id: sa.remote_id.clone(),
        initiator_spi: hex(&sa.initiator_spi),
        responder_spi: hex(&sa.responder_spi),
        proposal: sa.proposal.clone(),
        established_secs: sa.established_for.map(|d| d.as_secs()),
        rekey_in_secs: sa.rekey_in.map(|d| d.as_secs()),
        expires_in_secs: sa.expires_in.map(|d| d.as_secs()),
        peer_rekeyed_at_secs: sa.peer_rekeyed_at.map(|d| d.as_secs()),
        rekey_failed: sa.rekey_failed.as_ref().map(rekey_failed),
        rekey_unanswered: sa.rekey_unanswered.map(unanswered),
        nat: sa.nat.map(nat),
        mobike: sa.mobike.as_ref().map(|m| MobikeInfo {
            peer_addresses: m.peer_addresses.iter().map(|a| a.to_string()).collect(),
        }),
        children: sa.children.iter().map(|c| child_sa(c, kernel)).collect(),
    }
}

fn child_sa(c: &tern_engine::ChildSaInfo, kernel: &mut dyn Kernel) -> ChildSaInfo {
    let inbound = kernel.counters(c.remote_addr, c.local_addr, c.spi_in);
    let outbound = kernel.counters(c.local_addr, c.remote_addr, c.spi_out);
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last_use = kernel.last_use(&c.policies);
    ChildSaInfo {
        name: c.name.clone(),
        unique_id: c.unique_id,
        reqid: Some(c.reqid),
        state: match c.state {
            "INSTALLED" => ChildSaState::Installed,
            "REKEYING" => ChildSaState::Rekeying,
            "REKEYED" => ChildSaState::Rekeyed,
            "DELETING" => ChildSaState::Deleting,
            _ => ChildSaState::Installing,
        },
        mode: match c.mode {
            Mode::Tunnel => ChildSaMode::Tunnel,
            Mode::Transport => ChildSaMode::Transport,
        },
        protocol: "ESP".into(),
        spi_in: format!("{:08x}", c.spi_in),
        spi_out: format!("{:08x}", c.spi_out),
        proposal: c.proposal.clone(),
        local_ts: c.local_ts.clone(),
        remote_ts: c.remote_ts.clone(),
        bytes_in: inbound.map(|x| x.bytes),
        packets_in: inbound.map(|x| x.packets),
        bytes_out: outbound.map(|x| x.bytes),
        packets_out: outbound.map(|x| x.packets),
        installed_secs: Some(c.installed_for.as_secs()),
        rekey_in_secs: c.rekey_in.map(|d| d.as_secs()),
        expires_in_secs: c.expires_in.map(|d| d.as_secs()),
        last_use_secs: last_use.map(|t| unix_now.saturating_sub(t)),
        peer_rekeyed_at_secs: c.peer_rekeyed_at.map(|d| d.as_secs()),
        adapted_rekey_before_secs: c.adapted_rekey_before.map(|d| d.as_secs()),
        rekey_failed: c.rekey_failed.as_ref().map(rekey_failed),
        rekey_unanswered: c.rekey_unanswered.map(unanswered),
    }
}

fn nat(n: tern_engine::NatInfo) -> NatInfo {
    NatInfo {
        local_behind: n.local_behind,
        peer_behind: n.peer_behind,
        keepalive_secs: n.keepalive_every.map(|d| d.as_secs()),
        mapping_changes: n.mapping_changes,
        first_change_ago_secs: n.first_change_ago.map(|d| d.as_secs()),
        last_change_ago_secs: n.last_change_ago.map(|d| d.as_secs()),
    }
}

fn unanswered(u: tern_engine::UnansweredInfo) -> UnansweredInfo {
    UnansweredInfo {
        sends: u.sends,
        first_sent_ago_secs: u.first_sent_ago.as_secs(),
    }
}

fn rekey_failed(f: &tern_engine::RekeyFailedInfo) -> RekeyFailedInfo {
    RekeyFailedInfo {
        end_kind: f.kind.as_str().into(),
        cause: f.cause.clone(),
        count: f.count,
        first_ago_secs: f.first_ago.as_secs(),
        last_ago_secs: f.last_ago.as_secs(),
    }
}

/// An engine event as a line of the event stream. `ike_spis` are the IKE SA's
/// (for a rekey, the new SA's), when known.
pub fn event(event: &Event, unix_ms: u64, ike_spis: Option<([u8; 8], [u8; 8])>) -> EventInfo {
    let mut info = EventInfo {
        unix_ms,
        kind: EventKind::IkeSaEstablished,
        connection: String::new(),
        ike_id: 0,
        new_ike_id: None,
        initiator_spi: ike_spis.map(|(i, _)| hex(&i)),
        responder_spi: ike_spis.map(|(_, r)| hex(&r)),
        child: None,
        spi_in: None,
        spi_out: None,
        reason: None,
        end_kind: None,
        lost: None,
    };
    let spi = |spi: u32| Some(format!("{spi:08x}"));
    match event {
        Event::IkeSaEstablished { connection, ike_id } => {
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
        }
        Event::IkeSaFailed {
            connection,
            ike_id,
            reason,
        }
        | Event::IkeSaDeleted {
            connection,
            ike_id,
            reason,
        } => {
            info.kind = if matches!(event, Event::IkeSaFailed { .. }) {
                EventKind::IkeSaFailed
            } else {
                EventKind::IkeSaDeleted
            };
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
            info.reason = Some(reason.text.clone());
            info.end_kind = Some(reason.kind.as_str().into());
        }
        Event::IkeSaRekeyed {
            connection,
            old_ike_id,
            new_ike_id,
        } => {
            info.kind = EventKind::IkeSaRekeyed;
            info.connection.clone_from(connection);
            info.ike_id = *old_ike_id;
            info.new_ike_id = Some(*new_ike_id);
        }
        Event::ChildSaInstalled {
            connection,
            ike_id,
            child,
            spi_in,
            spi_out,
        } => {
            info.kind = EventKind::ChildSaInstalled;
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
            info.child = Some(child.clone());
            info.spi_in = spi(*spi_in);
            info.spi_out = spi(*spi_out);
        }
        Event::ChildSaFailed {
            connection,
            ike_id,
            child,
            reason,
        } => {
            info.kind = EventKind::ChildSaFailed;
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
            info.child = Some(child.clone());
            info.reason = Some(reason.text.clone());
            info.end_kind = Some(reason.kind.as_str().into());
        }
        Event::ChildSaDeleted {
            connection,
            ike_id,
            child,
            spi_in,
            spi_out,
            reason,
        } => {
            info.kind = EventKind::ChildSaDeleted;
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
            info.child = Some(child.clone());
            info.spi_in = spi(*spi_in);
            info.spi_out = spi(*spi_out);
            info.reason = Some(reason.text.clone());
            info.end_kind = Some(reason.kind.as_str().into());
        }
        Event::EndAction {
            connection,
            ike_id,
            child,
            action,
            reason,
        } => {
            info.kind = EventKind::EndAction;
            info.connection.clone_from(connection);
            info.ike_id = *ike_id;
            info.child = Some(child.clone());
            info.reason = Some(format!("{action}: {reason}"));
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_sa_deleted_carries_spis_and_cause() {
        let e = Event::ChildSaDeleted {
            connection: "demo".into(),
            ike_id: 4,
            child: "net".into(),
            spi_in: 0xc0000101,
            spi_out: 0xc1b2c3d4,
            reason: tern_engine::EndReason::rekeyed(),
        };
        let info = event(&e, 7, Some(([1; 8], [2; 8])));
        assert_eq!(info.kind, EventKind::ChildSaDeleted);
        assert_eq!(info.connection, "demo");
        assert_eq!(info.ike_id, 4);
        assert_eq!(info.spi_in.as_deref(), Some("c0000101"));
        assert_eq!(info.spi_out.as_deref(), Some("c1b2c3d4"));
        assert_eq!(info.reason.as_deref(), Some("rekeyed"));
        assert_eq!(info.end_kind.as_deref(), Some("rekeyed"));
        assert_eq!(info.initiator_spi.as_deref(), Some("0101010101010101"));
        assert_eq!(info.unix_ms, 7);
    }

    #[test]
    fn rekeyed_ike_sa_names_both_ids_and_failures_their_reason() {
        let e = Event::IkeSaRekeyed {
            connection: "demo".into(),
            old_ike_id: 1,
            new_ike_id: 2,
        };
        let info = event(&e, 0, None);
        assert_eq!(
            (info.kind, info.ike_id, info.new_ike_id),
            (EventKind::IkeSaRekeyed, 1, Some(2))
        );
        assert_eq!(info.initiator_spi, None);
        let e = Event::IkeSaFailed {
            connection: "demo".into(),
            ike_id: 3,
            reason: tern_engine::EndReason::new(
                tern_engine::EndKind::AuthFailed,
                "AUTHENTICATION_FAILED",
            ),
        };
        let info = event(&e, 0, None);
        assert_eq!(info.kind, EventKind::IkeSaFailed);
        assert_eq!(info.reason.as_deref(), Some("AUTHENTICATION_FAILED"));
        assert_eq!(info.end_kind.as_deref(), Some("auth_failed"));
    }
}
