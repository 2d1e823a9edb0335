//! The engine's views turned into the control protocol's types.

use std::time::Instant;

use tern_control::{
    ChildSaInfo, ChildSaMode, ChildSaState, ConnHistory, IkeRole, IkeSaInfo, IkeSaState, SaEndInfo,
};
use tern_engine::config::Mode;

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
        children: sa.children.iter().map(|c| child_sa(c, kernel)).collect(),
    }
}

fn child_sa(c: &tern_engine::ChildSaInfo, kernel: &mut dyn Kernel) -> ChildSaInfo {
    let inbound = kernel.counters(c.remote_addr, c.local_addr, c.spi_in);
    let outbound = kernel.counters(c.local_addr, c.remote_addr, c.spi_out);
    ChildSaInfo {
        name: c.name.clone(),
        unique_id: c.unique_id,
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
    }
}

/// The engine's per-connection history, for `list-sas`.
pub fn history(history: Vec<(String, Vec<tern_engine::SaEnd>)>, now: Instant) -> Vec<ConnHistory> {
    history
        .into_iter()
        .map(|(connection, ends)| ConnHistory {
            connection,
            ends: ends.iter().map(|e| sa_end(e, now)).collect(),
        })
        .collect()
}

fn sa_end(e: &tern_engine::SaEnd, now: Instant) -> SaEndInfo {
    let child = e.kind == tern_engine::SaKind::Child;
    let spi = |spi: u32| (spi != 0).then(|| format!("{spi:08x}"));
    SaEndInfo {
        ago_secs: now.saturating_duration_since(e.at).as_secs(),
        kind: if child { "CHILD" } else { "IKE" }.into(),
        ike_id: e.ike_id,
        child: child.then(|| e.child.clone()),
        spi_in: spi(e.spi_in),
        spi_out: spi(e.spi_out),
        was_up: e.was_up,
        cause: e.cause.clone(),
    }
}
