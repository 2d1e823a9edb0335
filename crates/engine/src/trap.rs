//! On-demand (trap) children: their policies go into the kernel without SAs, and
//! the first packet they match comes back as an ACQUIRE that initiates them.
//!
//! A trap's policies are exactly those its CHILD SAs install (same selectors,
//! endpoints and reqid), and it counts as one of their users in
//! `Ctx::policy_users`: the SA takes them over when it comes, and leaves them
//! behind, still trapping, when it goes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child_sa::{self, Endpoints};
use crate::config::{ChildConfig, Connection};
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::Phase;
use crate::output::{KernelOp, PolicyInstall};
use crate::shared_child::SharedChild;
use crate::ts::Ts;

/// An acquire this soon after the last one that started a negotiation is
/// ignored, so a peer that refuses at once is not asked again for every packet.
pub(crate) const ACQUIRE_HOLDOFF: Duration = Duration::from_secs(2);

/// One installed trap.
pub(crate) struct Trap {
    pub connection: String,
    pub child: String,
    pub reqid: u32,
    policies: Vec<PolicyInstall>,
    fingerprint: u64,
    /// When an acquire last started a negotiation.
    last_attempt: Option<Instant>,
}

impl Ctx {
    /// Installs the trap of `child` of `conn`, unless it is installed already.
    pub(crate) fn install_trap(&mut self, conn: &Connection, child: &ChildConfig) {
        if self.trap_of(&conn.name, &child.name).is_some() {
            return;
        }
        let Some(remote) = conn.remote_addrs.first().copied() else {
            tracing::warn!(
                conn = conn.name,
                child = child.name,
                "cannot trap a connection without remote_addrs"
            );
            return;
        };
        let Some(local) = conn
            .local_addrs
            .first()
            .copied()
            .or_else(|| self.env.local_address_for(remote))
        else {
            tracing::warn!(
                conn = conn.name,
                child = child.name,
                "cannot trap: no local address can reach {remote}"
            );
            return;
        };
        let reqid = self.reqid_for(&conn.name, &child.name);
        let ends = Endpoints {
            local,
            remote,
            ports: None,
        };
        let local_ts: Vec<Ts> = child.local_ts.iter().map(Ts::from_config).collect();
        let remote_ts: Vec<Ts> = child.remote_ts.iter().map(Ts::from_config).collect();
        let policies = child_sa::policies_for(&local_ts, &remote_ts, reqid, child.mode, ends);
        let fingerprint = child_sa::fingerprint(policies.iter().cloned());
        if self.take_policies(fingerprint) {
            self.kernel_ops
                .extend(policies.iter().cloned().map(KernelOp::AddPolicy));
        }
        tracing::info!(
            conn = conn.name,
            child = child.name,
            reqid,
            "trap installed: {} === {}",
            crate::ts::describe(&local_ts),
            crate::ts::describe(&remote_ts)
        );
        self.traps.push(Trap {
            connection: conn.name.clone(),
            child: child.name.clone(),
            reqid,
            policies,
            fingerprint,
            last_attempt: None,
        });
    }

    /// Removes every trap of a connection; its policies go unless a CHILD SA
    /// still uses them.
    pub(crate) fn remove_traps(&mut self, connection: &str) -> usize {
        let (gone, kept) = std::mem::take(&mut self.traps)
            .into_iter()
            .partition::<Vec<_>, _>(|t| t.connection == connection);
        self.traps = kept;
        for trap in &gone {
            if self.drop_policies(trap.fingerprint) {
                self.kernel_ops
                    .extend(trap.policies.iter().cloned().map(KernelOp::DeletePolicy));
            }
            tracing::info!(conn = connection, child = trap.child, "trap removed");
        }
        gone.len()
    }

    fn trap_of(&self, connection: &str, child: &str) -> Option<usize> {
        self.traps
            .iter()
            .position(|t| t.connection == connection && t.child == child)
    }

    /// Installs the traps of a connection's children that ask for one at load.
    /// Only the engine that would initiate the connection holds its traps: with
    /// several engines, one set of policies per child.
    pub(crate) fn install_start_traps(&mut self, conn: &Connection) {
        use crate::config::StartAction;
        if !self.shard.owns_connection(&conn.remote_addrs) {
            return;
        }
        let all = conn.start_action == StartAction::Trap;
        for child in conn
            .children
            .iter()
            .filter(|c| all || c.start_action == StartAction::Trap)
        {
            self.install_trap(conn, child);
        }
    }
}

impl Engine {
    /// The installed traps, as (connection, child), sorted.
    pub fn traps(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .ctx
            .traps
            .iter()
            .map(|t| (t.connection.clone(), t.child.clone()))
            .collect();
        out.sort();
        out
    }

    /// Installs the traps of every connection whose children ask for one at
    /// load (`start_action = "trap"`). ternd calls it once at start; reloads
    /// install those of added or changed connections themselves.
    pub fn install_traps(&mut self) {
        let conns: Vec<Arc<Connection>> = self.ctx.connections.clone();
        for conn in conns {
            self.ctx.install_start_traps(&conn);
        }
    }

    /// The kernel wants an SA for a trap's policy (XFRM ACQUIRE): initiate the
    /// child, unless it is on its way already.
    pub(crate) fn on_acquire(&mut self, now: Instant, reqid: u32, src: IpAddr, dst: IpAddr) {
        let Some(pos) = self.ctx.traps.iter().position(|t| t.reqid == reqid) else {
            tracing::debug!(reqid, %src, %dst, "ACQUIRE for no trap of ours");
            return;
        };
        let (connection, child) = {
            let t = &self.ctx.traps[pos];
            (t.connection.clone(), t.child.clone())
        };
        if let Some(why) = self.acquire_needless(&connection, &child) {
            tracing::debug!(conn = connection, child, "ACQUIRE ignored: {why}");
            return;
        }
        let trap = &mut self.ctx.traps[pos];
        if trap
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < ACQUIRE_HOLDOFF)
        {
            tracing::debug!(
                conn = connection,
                child,
                "ACQUIRE ignored: an attempt just started"
            );
            return;
        }
        trap.last_attempt = Some(now);
        let Some(conn) = self
            .ctx
            .connections
            .iter()
            .find(|c| c.name == connection)
            .cloned()
        else {
            return;
        };
        let Some(config) = SharedChild::find(&conn, &child) else {
            return;
        };
        tracing::info!(conn = connection, child, %src, %dst, "ACQUIRE: traffic for a trap; initiating");
        let established = self
            .sas
            .iter()
            .find(|(_, sa)| sa.connection.name == connection && sa.is_established())
            .map(|(spi, _)| *spi);
        if let Some(spi) = established {
            let mut sa = self.sas.remove(&spi).expect("found above");
            self.ctx.start_child(now, &mut sa, config);
            self.settle(now, sa, Next::Keep);
            return;
        }
        match self.initiate(now, conn) {
            Ok(sa) => self.settle(now, sa, Next::Keep),
            // The trap stays; the next ACQUIRE tries again.
            Err(e) => tracing::warn!(conn = connection, child, "ACQUIRE: cannot initiate: {e}"),
        }
    }

    /// Why an ACQUIRE for `child` needs no new negotiation, if it does not.
    fn acquire_needless(&self, connection: &str, child: &str) -> Option<&'static str> {
        for sa in self
            .sas
            .values()
            .filter(|s| s.connection.name == connection)
        {
            match sa.phase {
                Phase::Deleting(_) | Phase::Rekeyed => {}
                Phase::Established => {
                    if sa.child_exchange_pending(child) {
                        return Some("its CREATE_CHILD_SA is in flight");
                    }
                    if sa.children.iter().any(|c| c.name == child) {
                        return Some("its CHILD SA is up");
                    }
                }
                _ => return Some("its IKE SA is being established"),
            }
        }
        None
    }
}
