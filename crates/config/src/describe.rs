//! Configured connections as ternctl shows them (`list-conns`), in file syntax.

use tern_control::{ChildConnInfo, ConnInfo, LifetimeInfo};
use tern_engine::config::{
    AuthConfig, ChildConfig, CloseAction, Connection, DpdAction, Lifetime, Mode, StartAction,
};

use crate::{
    format_duration, format_esp_proposal, format_identity, format_ike_proposal, format_ts,
};

/// The description of `conn` sent to ternctl. Never includes the key material.
pub fn conn_info(conn: &Connection) -> ConnInfo {
    ConnInfo {
        name: conn.name.clone(),
        local_addrs: conn.local_addrs.iter().map(|a| a.to_string()).collect(),
        remote_addrs: conn.remote_addrs.iter().map(|a| a.to_string()).collect(),
        local_id: format_identity(&conn.local_id),
        remote_id: conn.remote_id.as_ref().map(format_identity),
        auth: match conn.auth {
            AuthConfig::Psk(_) => "psk".to_string(),
            AuthConfig::Pubkey(_) => "pubkey".to_string(),
        },
        ike_proposals: conn.ike_proposals.iter().map(format_ike_proposal).collect(),
        children: conn.children.iter().map(child_conn_info).collect(),
        dpd_delay: (!conn.dpd_delay.is_zero()).then(|| format_duration(conn.dpd_delay)),
        ike_lifetime: Some(lifetime_info(&conn.lifetime)),
    }
}

fn lifetime_info(l: &Lifetime) -> LifetimeInfo {
    LifetimeInfo {
        rekey_time_secs: l.rekey_time.as_secs(),
        life_time_secs: l.life_time.as_secs(),
        rand_time_secs: l.rand_time.as_secs(),
    }
}

/// The key exchanges every ESP proposal of `child` asks for, in the file's
/// words; none when one proposal asks for none (the child does not require PFS).
fn pfs_groups(child: &ChildConfig) -> Vec<String> {
    if child
        .esp_proposals
        .iter()
        .any(|p| p.key_exchange.is_empty())
    {
        return Vec::new();
    }
    let mut groups: Vec<String> = Vec::new();
    for p in &child.esp_proposals {
        for &k in &p.key_exchange {
            let word = crate::proposal::key_exchange_word(k);
            if !groups.contains(&word) {
                groups.push(word);
            }
        }
    }
    groups
}

fn child_conn_info(child: &ChildConfig) -> ChildConnInfo {
    ChildConnInfo {
        name: child.name.clone(),
        local_ts: child.local_ts.iter().map(format_ts).collect(),
        remote_ts: child.remote_ts.iter().map(format_ts).collect(),
        esp_proposals: child
            .esp_proposals
            .iter()
            .map(format_esp_proposal)
            .collect(),
        mode: format_mode(child.mode).to_string(),
        start_action: format_start_action(child.start_action).to_string(),
        dpd_action: format_dpd_action(child.dpd_action).to_string(),
        close_action: format_close_action(child.close_action).to_string(),
        // Known to the running engine, not the file: ternd fills it in.
        trapped: false,
        lifetime: Some(lifetime_info(&child.lifetime)),
        pfs_groups: pfs_groups(child),
    }
}

/// `clear` or `restart`, as in the file.
pub fn format_dpd_action(action: DpdAction) -> &'static str {
    match action {
        DpdAction::Clear => "clear",
        DpdAction::Restart => "restart",
        DpdAction::Trap => "trap",
    }
}

/// `none` or `start`, as in the file.
pub fn format_close_action(action: CloseAction) -> &'static str {
    match action {
        CloseAction::None => "none",
        CloseAction::Start => "start",
        CloseAction::Trap => "trap",
    }
}

/// `tunnel` or `transport`, as in the file.
pub fn format_mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Tunnel => "tunnel",
        Mode::Transport => "transport",
    }
}

/// `none` or `start`, as in the file.
pub fn format_start_action(action: StartAction) -> &'static str {
    match action {
        StartAction::None => "none",
        StartAction::Start => "start",
        StartAction::Trap => "trap",
    }
}
