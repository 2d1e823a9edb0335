//! Commands from the control socket: initiate, terminate, rekey, delete, reload.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Connection, EngineConfig};
use crate::end_action;
use crate::end_reason::{EndKind, EndReason};
use crate::ike_sa::Spi;

use super::{warn_about, Command, CommandAccepted, Engine, Next, ReloadReport};

impl Engine {
    /// Runs commands from the control socket.
    pub fn handle_command(
        &mut self,
        now: Instant,
        command: Command,
    ) -> Result<CommandAccepted, String> {
        match command {
            Command::Initiate { connection } => {
                let conn = self
                    .ctx
                    .connections
                    .iter()
                    .find(|c| c.name == connection)
                    .cloned()
                    .ok_or_else(|| format!("no connection named `{connection}`"))?;
                let mut sa = self.initiate(now, conn)?;
                sa.restart = end_action::first_try(&sa.connection);
                let id = sa.unique_id;
                self.settle(now, sa, Next::Keep);
                Ok(CommandAccepted { ike_ids: vec![id] })
            }
            Command::RekeyIke { connection } => {
                let spis = self.established_spis(&connection)?;
                let mut ike_ids = Vec::new();
                for spi in spis {
                    if let Some(mut sa) = self.sas.remove(&spi) {
                        ike_ids.push(sa.unique_id);
                        self.ctx.start_ike_rekey(now, &mut sa);
                        self.settle(now, sa, Next::Keep);
                    }
                }
                Ok(CommandAccepted { ike_ids })
            }
            Command::MoveLocal { connection, local } => {
                let spis = self.established_spis(&connection)?;
                let mut ike_ids = Vec::new();
                let mut refusals = Vec::new();
                for spi in spis {
                    if let Some(mut sa) = self.sas.remove(&spi) {
                        match self.ctx.move_local(now, &mut sa, local) {
                            Ok(()) => ike_ids.push(sa.unique_id),
                            Err(why) => refusals.push(why),
                        }
                        self.settle(now, sa, Next::Keep);
                    }
                }
                if ike_ids.is_empty() {
                    return Err(refusals.join("; "));
                }
                Ok(CommandAccepted { ike_ids })
            }
            Command::Rekey { connection } => {
                let mut ike_ids = Vec::new();
                for sa in self
                    .sas
                    .values_mut()
                    .filter(|sa| sa.connection.name == connection && sa.is_established())
                {
                    ike_ids.push(sa.unique_id);
                    let children: Vec<u64> = sa.children.iter().map(|c| c.unique_id).collect();
                    for id in children {
                        self.ctx.start_child_rekey(now, sa, id);
                    }
                }
                if ike_ids.is_empty() {
                    return Err(format!(
                        "no established IKE SA for connection `{connection}`"
                    ));
                }
                let spis: Vec<Spi> = self
                    .sas
                    .iter()
                    .filter(|(_, sa)| ike_ids.contains(&sa.unique_id))
                    .map(|(spi, _)| *spi)
                    .collect();
                for spi in spis {
                    if let Some(sa) = self.sas.remove(&spi) {
                        self.settle(now, sa, Next::Keep);
                    }
                }
                Ok(CommandAccepted { ike_ids })
            }
            Command::Terminate { connection } => {
                let restarting = self
                    .ctx
                    .pending_restarts
                    .iter()
                    .any(|p| p.restart.connection == connection);
                let trapped = self.ctx.traps.iter().any(|t| t.connection == connection);
                let ike_ids = self.delete_sas_of(now, &connection, "terminated by ternctl");
                if ike_ids.is_empty() && trapped {
                    return Ok(CommandAccepted { ike_ids });
                }
                if ike_ids.is_empty() && restarting {
                    return Err(format!(
                        "no IKE SA for connection `{connection}`; its pending restart is cancelled"
                    ));
                }
                if ike_ids.is_empty() {
                    return Err(format!("no IKE SA for connection `{connection}`"));
                }
                Ok(CommandAccepted { ike_ids })
            }
        }
    }

    /// Starts deleting every IKE SA, telling each peer, with `reason` as the cause
    /// recorded for each (the daemon is stopping). Returns their ids.
    pub fn delete_all(&mut self, now: Instant, reason: &str) -> Vec<u64> {
        let mut names: Vec<String> = self
            .sas
            .values()
            .map(|sa| sa.connection.name.clone())
            .chain(self.ctx.traps.iter().map(|t| t.connection.clone()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .iter()
            .flat_map(|name| self.delete_sas_of(now, name, reason))
            .collect()
    }

    /// Starts deleting every IKE SA of a connection, for a local reason: nothing
    /// brings it back, not even a trap. Returns their ids.
    fn delete_sas_of(&mut self, now: Instant, connection: &str, reason: &str) -> Vec<u64> {
        self.ctx.cancel_restarts(connection);
        self.ctx.remove_traps(connection);
        let spis: Vec<Spi> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.connection.name == connection)
            .map(|(spi, _)| *spi)
            .collect();
        let mut ike_ids = Vec::new();
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            ike_ids.push(sa.unique_id);
            sa.end_cause = None;
            sa.restart = None;
            let why = EndReason::new(EndKind::ClosedByUs, reason);
            let next = self.ctx.start_delete(now, &mut sa, why);
            self.settle(now, sa, next);
        }
        ike_ids
    }

    /// Applies a new configuration: SAs of removed and changed connections are
    /// deleted, those of unchanged ones are left alone, and added or changed
    /// connections with `start_action = start` are brought up.
    pub fn reload(&mut self, now: Instant, config: EngineConfig) -> ReloadReport {
        let old = std::mem::take(&mut self.ctx.connections);
        let mut report = ReloadReport::default();
        for conn in &old {
            match config.connections.iter().find(|c| c.name == conn.name) {
                None => report.removed.push(conn.name.clone()),
                Some(new) if **conn != *new => report.changed.push(conn.name.clone()),
                Some(_) => report.unchanged.push(conn.name.clone()),
            }
        }
        report.added = config
            .connections
            .iter()
            .filter(|c| !old.iter().any(|o| o.name == c.name))
            .map(|c| c.name.clone())
            .collect();
        // Unchanged connections keep their Arc, so their SAs keep pointing at it.
        self.ctx.connections = config
            .connections
            .iter()
            .map(|c| {
                old.iter()
                    .find(|o| o.as_ref() == c)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(c.clone()))
            })
            .collect();
        if self.ctx.shard.index() == 0 {
            warn_about(&config);
        }
        // Pools configured as before keep their leases (strongSwan's reload does too).
        let pools = config.connections.iter().flat_map(|c| c.pools.iter());
        self.ctx.pools.retain_configured(pools);
        self.ctx.config = config;
        for name in &report.removed {
            self.delete_sas_of(now, name, "connection removed from the configuration");
        }
        for name in &report.changed {
            self.delete_sas_of(now, name, "connection changed in the configuration");
        }
        // The ends of a removed connection's SAs stay readable until the next reload.
        let kept: Vec<String> = self
            .ctx
            .connections
            .iter()
            .map(|c| c.name.clone())
            .collect();
        self.ctx.history.retain(|name| {
            kept.iter().any(|k| k == name) || report.removed.iter().any(|r| r == name)
        });
        let starting: Vec<Arc<Connection>> = self
            .ctx
            .connections
            .iter()
            .filter(|c| report.added.contains(&c.name) || report.changed.contains(&c.name))
            .cloned()
            .collect();
        for conn in &starting {
            self.ctx.install_start_traps(conn);
        }
        for conn in starting.into_iter().filter(|c| c.starts_on_load()) {
            match self.initiate(now, conn) {
                Ok(mut sa) => {
                    sa.restart = end_action::first_try(&sa.connection);
                    self.settle(now, sa, Next::Keep);
                }
                Err(e) => tracing::warn!("after reload: {e}"),
            }
        }
        tracing::info!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, "configuration reloaded");
        report
    }
}

impl Engine {
    /// Our SPIs of the connection's established IKE SAs; an error when it has none.
    fn established_spis(&self, connection: &str) -> Result<Vec<Spi>, String> {
        let spis: Vec<Spi> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.connection.name == connection && sa.is_established())
            .map(|(spi, _)| *spi)
            .collect();
        if spis.is_empty() {
            return Err(format!(
                "no established IKE SA for connection `{connection}`"
            ));
        }
        Ok(spis)
    }
}
