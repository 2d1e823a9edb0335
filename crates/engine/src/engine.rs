//! The engine: owns every IKE SA, routes datagrams, timers and commands to them,
//! and queues what must go out.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_wire::{ExchangeType, Message, Payload};

use crate::chosen_keys::ChosenKeys;
use crate::config::{Connection, EngineConfig};
use crate::cookie::CookieJar;
use crate::end_action::{self, EndCause, PendingRestart};
use crate::end_reason::{EndKind, EndReason};
use crate::env::Environment;
use crate::history::{History, SaEnd, SaKind};
use crate::identity;
use crate::ike_sa::{IkeSa, InFlight, Opened, Phase, Purpose, Queued, Spi};
use crate::output::{ChildSaInfo, Event, IkeSaInfo, KernelOp, Transmit};
use crate::shard::Shard;
use crate::stats::{DropReason, Stats};
use crate::timers::Timers;

/// How long a responder keeps an IKE SA whose IKE_AUTH never came, at least
/// (strongSwan's half_open_timeout); longer when the retransmission schedule is.
pub(crate) const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What an exchange handler decided about its IKE SA.
pub(crate) enum Next {
    Keep,
    /// Remove the SA and its kernel state, telling the user why.
    Destroy(EndReason),
}

/// Commands from the control socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Initiate {
        connection: String,
    },
    Terminate {
        connection: String,
    },
    /// Rekey every CHILD SA of the connection now.
    Rekey {
        connection: String,
    },
    /// Rekey the connection's IKE SAs now (their CHILD SAs move to the new ones).
    RekeyIke {
        connection: String,
    },
}

/// What a reload did, by connection name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// What a command started: the IKE SAs whose events will tell how it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandAccepted {
    pub ike_ids: Vec<u64>,
}

/// Everything but the SA table, so handlers can borrow one SA and the rest at once.
pub(crate) struct Ctx {
    pub connections: Vec<Arc<Connection>>,
    pub config: EngineConfig,
    pub env: Box<dyn Environment + Send>,
    pub transmits: VecDeque<Transmit>,
    pub kernel_ops: VecDeque<KernelOp>,
    pub events: VecDeque<Event>,
    /// How SAs ended, per connection.
    pub history: History,
    pub stats: Stats,
    /// IKE SAs made by a handler (rekeying), for the engine to take into its table.
    pub new_sas: Vec<IkeSa>,
    /// Connections to initiate again (dpd_action, close_action), and when.
    pub pending_restarts: Vec<PendingRestart>,
    /// Secrets for IKE_SA_INIT cookies (made on first need).
    pub cookies: CookieJar,
    /// Keeps a flood of bad datagrams from choosing what the log says.
    pub drop_log: crate::log_limit::LogLimiter,
    /// The half-open IKE SAs we answered as responder, by our SPI and by address.
    pub half_open: crate::half_open::HalfOpen,
    /// IKE SAs (unique id, our SPI) whose peer sent INITIAL_CONTACT: its other
    /// IKE SAs are to go.
    pub initial_contacts: Vec<(u64, Spi)>,
    /// The established IKE SAs by connection and peer, for INITIAL_CONTACT.
    pub peers: crate::initial_contact::PeerIndex,
    /// IKE SAs a peer set up without INITIAL_CONTACT: maybe a second one with it.
    pub maybe_duplicates: Vec<Spi>,
    /// Looks, later, for two IKE SAs with one peer (see `duplicate_ike`).
    pub duplicate_checks: Vec<crate::duplicate_ike::DuplicateCheck>,
    /// New CHILD SAs (IKE SA, child) of an IKE_AUTH without INITIAL_CONTACT whose
    /// outbound SA was held back, to be judged (see `held_outbound`).
    pub outbound_to_hold: Vec<(Spi, u64)>,
    /// Outbound SAs waiting for the IKE SA they replace to go.
    pub held_outbound: Vec<crate::held_outbound::HeldOutbound>,
    /// The ages at which peers let IKE SAs expire (see `adapt`).
    pub ike_peer_ends: crate::adapt::IkePeerEnds,
    /// IKE SAs (our SPIs) whose reauthentication is due (see `reauth`).
    pub reauths_due: Vec<Spi>,
    /// IKE SAs that finished reauthenticating another: that one is to go.
    pub reauths_done: Vec<u64>,
    /// The reqid of each (connection, child): every CHILD SA of that child, on any
    /// IKE SA, shares it, and with it the kernel policies.
    reqids: HashMap<(String, String), u32>,
    /// How many CHILD SAs use each set of installed policies. Two IKE SAs may carry
    /// the same child for a while (a peer's make-before-break reauthentication, a
    /// second tunnel): its policies go in with the first and out with the last.
    /// Keyed by a fingerprint of the policies (see `child_sa::policy_fingerprint`),
    /// not the policies themselves: a copy per CHILD SA would cost hundreds of
    /// bytes each.
    pub policy_users: HashMap<u64, usize, ChosenKeys>,
    /// Children waiting for traffic (`trap.rs`).
    pub(crate) traps: Vec<crate::trap::Trap>,
    /// Policies kept while a child is set up again (`policy_hold.rs`).
    pub(crate) policy_holds: Vec<crate::policy_hold::PolicyHold>,
    next_unique_id: u64,
    next_reqid: u32,
    /// The slice of SPIs, reqids and unique ids this engine hands out.
    pub shard: Shard,
    /// Virtual IPs leased to remote-access peers (see `pool`).
    pub(crate) pools: crate::pool::Pools,
}

pub struct Engine {
    pub(crate) ctx: Ctx,
    /// Boxed: an IKE SA is about 1 KB, so the table (up to 1.3x oversized as it
    /// grows) stays small and taking an SA out to work on it moves a pointer.
    /// Keyed by our own random SPIs, so a hash without secret keys is safe (see
    /// `chosen_keys`); its order is then a function of the engine's randomness,
    /// and a seeded simulation replays.
    pub(crate) sas: HashMap<Spi, Box<IkeSa>, ChosenKeys>,
    /// Peers that sent INITIAL_CONTACT, for the other engines (sharded only).
    pub(crate) peers_started_over: VecDeque<crate::initial_contact::PeerStartedOver>,
    /// Responder: (peer address, peer's SPI) -> our SPI, so a retransmitted
    /// IKE_SA_INIT finds its SA instead of making a second one.
    by_peer_spi: HashMap<(SocketAddr, Spi), Spi>,
    timers: Timers,
}

impl Engine {
    pub fn new(config: EngineConfig, env: Box<dyn Environment + Send>) -> Engine {
        Engine::sharded(config, env, Shard::ONLY)
    }

    /// One of several engines that share the work (see [`Shard`]).
    pub fn sharded(config: EngineConfig, env: Box<dyn Environment + Send>, shard: Shard) -> Engine {
        if shard.index() == 0 {
            warn_about(&config);
        }
        Engine {
            ctx: Ctx {
                connections: config.connections.iter().cloned().map(Arc::new).collect(),
                config,
                env,
                transmits: VecDeque::new(),
                kernel_ops: VecDeque::new(),
                events: VecDeque::new(),
                history: History::default(),
                stats: Stats::default(),
                new_sas: Vec::new(),
                pending_restarts: Vec::new(),
                cookies: CookieJar::default(),
                drop_log: crate::log_limit::LogLimiter::default(),
                half_open: Default::default(),
                initial_contacts: Vec::new(),
                maybe_duplicates: Vec::new(),
                duplicate_checks: Vec::new(),
                outbound_to_hold: Vec::new(),
                held_outbound: Vec::new(),
                peers: Default::default(),
                ike_peer_ends: Default::default(),
                reauths_due: Vec::new(),
                reauths_done: Vec::new(),
                reqids: HashMap::new(),
                policy_users: HashMap::default(),
                traps: Vec::new(),
                policy_holds: Vec::new(),
                next_unique_id: shard.first_serial(),
                next_reqid: shard.first_serial() as u32,
                shard,
                pools: crate::pool::Pools::new(shard),
            },
            sas: HashMap::default(),
            peers_started_over: VecDeque::new(),
            by_peer_spi: HashMap::new(),
            timers: Timers::default(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.ctx.config
    }

    pub fn shard(&self) -> Shard {
        self.ctx.shard
    }

    /// The virtual IPs this engine leased, by pool and address: those IKE SAs hold
    /// and those kept for peers that left.
    pub fn leases(&self) -> Vec<crate::pool::LeaseInfo> {
        self.ctx.pools.leases()
    }

    pub fn stats(&self) -> &Stats {
        &self.ctx.stats
    }

    /// IKE SAs we answered IKE_SA_INIT for and whose IKE_AUTH has not come yet
    /// (what the cookie threshold counts).
    pub fn half_open_count(&self) -> usize {
        self.ctx.half_open.len()
    }

    /// A datagram arrived on `local` from `remote` (non-ESP marker already removed).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        self.ctx.stats.received += 1;
        let message = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.ctx
                    .drop_packet(now, DropReason::Malformed, remote, &e.to_string());
                return;
            }
        };
        let header = &message.header;
        if header.exchange == ExchangeType::IKE_SA_INIT && !header.flags.is_response() {
            self.handle_init_request(now, local, remote, bytes, message);
            return;
        }
        // The I flag says who sent it: the original initiator knows us by the responder SPI.
        let our_spi = if header.flags.is_initiator() {
            header.responder_spi
        } else {
            header.initiator_spi
        };
        let Some(mut sa) = self.sas.remove(&our_spi) else {
            self.ctx.drop_packet(
                now,
                DropReason::UnknownSpi,
                remote,
                &format!("no IKE SA with SPI {}", hex(&our_spi)),
            );
            return;
        };
        let next = self
            .ctx
            .dispatch(now, &mut sa, local, remote, bytes, message);
        self.settle(now, sa, next);
    }

    fn handle_init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        message: Message,
    ) {
        let peer_spi = message.header.initiator_spi;
        if let Some(our_spi) = self.by_peer_spi.get(&(remote, peer_spi)) {
            if let Some(sa) = self.sas.get(our_spi) {
                if sa.init_request == bytes && !sa.init_response.is_empty() {
                    self.ctx.stats.retransmits_answered += 1;
                    tracing::debug!(
                        ike = sa.unique_id,
                        "IKE_SA_INIT retransmitted by the peer; resending our response"
                    );
                    let response = sa.init_response.clone();
                    self.ctx.transmit(local, remote, response);
                } else {
                    self.ctx.drop_packet(
                        now,
                        DropReason::Unexpected,
                        remote,
                        "IKE_SA_INIT for an IKE SA that already exists",
                    );
                }
                return;
            }
        }
        if let Some(sa) = self.ctx.respond_to_init(now, local, remote, bytes, message) {
            self.by_peer_spi.insert((remote, peer_spi), sa.our_spi());
            self.settle(now, sa, Next::Keep);
        }
    }

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

    /// Call when `poll_timeout()` has passed (early or spurious calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, spi)) = self.timers.pop_due(now) {
            // An entry due before the SA's live one was left by a deadline that
            // moved later. Waking the SA for it would schedule yet another entry.
            let stale = |sa: &IkeSa| sa.scheduled.is_some_and(|live| live > at);
            if self.sas.get(&spi).is_none_or(|sa| stale(sa)) {
                continue;
            }
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            sa.scheduled = None;
            let next = self.ctx.on_timeout(now, &mut sa);
            self.settle(now, sa, next);
        }
        self.run_restarts(now);
        self.run_duplicate_checks(now);
        self.release_due_outbound(now);
    }

    /// Drops the timer entries at the top of the heap that an SA's deadline
    /// moving later left behind, so that poll_timeout names a live deadline:
    /// each stale one cost the caller a wake-up for nothing (in a simulated
    /// CHILD rekey, a world step of its own). Entries of SAs not in the table
    /// (gone, or out for work) stay: handle_timeout judges those.
    fn drop_stale_timers(&mut self) {
        while let Some((at, spi)) = self.timers.peek() {
            let stale = self
                .sas
                .get(&spi)
                .is_some_and(|sa| sa.scheduled.is_some_and(|live| live > at));
            if !stale {
                return;
            }
            self.timers.pop();
        }
    }

    /// Logs the summaries of drops left out of the log whose window has ended;
    /// for a daemon to call every few seconds (the engine sets no timer for it).
    pub fn log_drop_summaries(&mut self, now: Instant) {
        for summary in self.ctx.drop_log.ended(now) {
            tracing::warn!("{summary}");
        }
    }

    /// How many IKE SAs are half-open as responder (IKE_SA_INIT answered, no
    /// IKE_AUTH yet).
    pub fn half_open(&self) -> usize {
        self.ctx.half_open.len()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.next(),
            self.ctx.next_restart(),
            self.next_duplicate_check(),
            self.next_outbound_release(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Initiates the connections whose restart is due.
    fn run_restarts(&mut self, now: Instant) {
        for restart in self.ctx.take_due_restarts(now) {
            let name = restart.connection.as_str();
            let Some(conn) = self
                .ctx
                .connections
                .iter()
                .find(|c| c.name == name)
                .cloned()
            else {
                continue;
            };
            if let Some(up) = self.established_sa_of(name) {
                tracing::debug!(conn = name, "restart not needed while IKE SA {up} is up");
                self.ctx.defer_restart(now, restart, up);
                continue;
            }
            if self.has_live_sa(name) {
                // One is being set up (by the peer, say): it may yet fail, and then
                // nothing else would bring the connection back. Look again later.
                self.ctx.postpone_restart(now, restart);
                continue;
            }
            self.ctx.stats.restarts += 1;
            tracing::info!(
                conn = name,
                attempt = restart.attempt,
                "restarting connection ({})",
                restart.action
            );
            match self.initiate(now, conn) {
                Ok(mut sa) => {
                    sa.restart = Some(restart);
                    self.settle(now, sa, Next::Keep);
                }
                Err(e) => {
                    let next = end_action::Restart {
                        attempt: restart.attempt + 1,
                        ..restart
                    };
                    self.ctx.schedule_restart(now, 0, next, &e);
                }
            }
        }
    }

    /// A new IKE SA for `conn`, which tells the peer INITIAL_CONTACT when it is the
    /// only one we have with that peer.
    pub(crate) fn initiate(
        &mut self,
        now: Instant,
        conn: Arc<Connection>,
    ) -> Result<IkeSa, String> {
        let alone = !self.has_live_sa(&conn.name);
        let mut sa = self.ctx.initiate(now, conn)?;
        sa.initial_contact = alone;
        Ok(sa)
    }

    /// Whether the connection has an IKE SA that is up or coming up.
    /// An established IKE SA of `connection`, if there is one: its unique id.
    fn established_sa_of(&self, connection: &str) -> Option<u64> {
        self.sas
            .values()
            .find(|sa| sa.connection.name == connection && sa.is_established())
            .map(|sa| sa.unique_id)
    }

    fn has_live_sa(&self, connection: &str) -> bool {
        self.sas.values().any(|sa| {
            sa.connection.name == connection
                && !matches!(sa.phase, Phase::Deleting(_) | Phase::Rekeyed)
        })
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ctx.transmits.pop_front()
    }

    pub fn poll_kernel_op(&mut self) -> Option<KernelOp> {
        self.ctx.kernel_ops.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.ctx.events.pop_front()
    }

    /// One IKE SA's view, by unique id, without building everyone's.
    pub fn ike_sa(&self, now: Instant, unique_id: u64) -> Option<IkeSaInfo> {
        self.sas
            .values()
            .find(|sa| sa.unique_id == unique_id)
            .map(|sa| info(sa, now))
    }

    pub fn list_sas(&self, now: Instant) -> Vec<IkeSaInfo> {
        let mut out: Vec<IkeSaInfo> = self.sas.values().map(|sa| info(sa, now)).collect();
        out.sort_by_key(|i| i.unique_id);
        out
    }

    /// How the SAs of each connection ended, recent ones last; connections by name.
    pub fn history(&self) -> Vec<(String, Vec<SaEnd>)> {
        let h = &self.ctx.history;
        h.connections()
            .into_iter()
            .map(|name| (name.to_string(), h.of(name).cloned().collect()))
            .collect()
    }

    /// Puts an SA back in the table (or tears it down) after a handler ran.
    pub(crate) fn settle(&mut self, now: Instant, sa: impl Into<Box<IkeSa>>, next: Next) {
        self.settle_one(now, sa, next);
        // IKE SAs the handler made (rekeying).
        for new in std::mem::take(&mut self.ctx.new_sas) {
            self.settle_one(now, new, Next::Keep);
        }
        self.honour_initial_contacts(now);
        for spi in std::mem::take(&mut self.ctx.maybe_duplicates) {
            self.check_duplicates_later(now, spi);
        }
        self.hold_outbound(now);
        self.run_reauths(now);
    }

    pub(crate) fn settle_one(&mut self, now: Instant, sa: impl Into<Box<IkeSa>>, next: Next) {
        let mut sa = sa.into();
        let half_open = matches!(next, Next::Keep)
            && matches!(sa.phase, Phase::AwaitAuthRequest | Phase::AwaitEap(_));
        if half_open {
            self.ctx.half_open.insert(sa.our_spi(), sa.remote.ip());
        } else {
            self.ctx.half_open.remove(&sa.our_spi());
        }
        match next {
            Next::Keep => {
                self.ctx.note_reauth_done(&mut sa);
                sa.release_handshake();
                if let Some(deadline) = sa.next_deadline() {
                    if sa.scheduled != Some(deadline) {
                        self.timers.schedule(deadline.max(now), sa.our_spi());
                        sa.scheduled = Some(deadline);
                    }
                }
                self.ctx.peers.add(&mut sa);
                self.sas.insert(sa.our_spi(), sa);
                self.drop_stale_timers();
            }
            Next::Destroy(reason) => {
                self.ctx.peers.remove(&sa);
                self.by_peer_spi.remove(&(sa.init_remote, sa.spi_i));
                let restart = end_action::plan(&sa);
                self.release_outbound_before_end(&sa);
                let (ike_id, connection) = (sa.unique_id, sa.connection.name.clone());
                self.ctx.trap_after_end(&sa, &reason.text);
                self.ctx.destroy(now, *sa, &reason);
                if let Some(restart) = restart {
                    // One being set up may still fail: the restart then waits
                    // for it (see `run_restarts`).
                    match self.established_sa_of(&connection) {
                        Some(up) => {
                            tracing::debug!(
                                conn = connection,
                                "not restarting while IKE SA {up} is up"
                            );
                            self.ctx.defer_restart(now, restart, up);
                        }
                        None => self
                            .ctx
                            .schedule_restart(now, ike_id, restart, &reason.text),
                    }
                }
                self.ctx.restarts_wait_no_more(now, ike_id);
            }
        }
    }
}

impl Ctx {
    pub fn random(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.env.random(&mut buf);
        buf
    }

    pub fn unique_id(&mut self) -> u64 {
        let id = self.next_unique_id;
        self.next_unique_id += self.shard.serial_step();
        id
    }

    /// The reqid of a child of a connection, the same for all its CHILD SAs.
    pub fn reqid_for(&mut self, connection: &str, child: &str) -> u32 {
        let key = (connection.to_string(), child.to_string());
        if let Some(reqid) = self.reqids.get(&key) {
            return *reqid;
        }
        let reqid = self.next_reqid;
        self.next_reqid += self.shard.serial_step() as u32;
        self.reqids.insert(key, reqid);
        reqid
    }

    pub fn transmit(&mut self, local: SocketAddr, remote: SocketAddr, payload: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            local,
            remote,
            payload,
        });
    }

    /// Sends a message's datagrams (one, or its fragments) in order.
    pub fn transmit_all(&mut self, local: SocketAddr, remote: SocketAddr, datagrams: Vec<Vec<u8>>) {
        for datagram in datagrams {
            self.transmit(local, remote, datagram);
        }
    }

    /// Counts a dropped datagram, and logs it unless its kind has had its share
    /// of the log lately (see `log_limit`).
    pub fn drop_packet(
        &mut self,
        now: Instant,
        reason: DropReason,
        from: SocketAddr,
        detail: &str,
    ) {
        self.stats.count_drop(reason);
        if self.log_allowed(now, reason.log_label(), from.ip()) {
            tracing::warn!(%from, reason = reason.as_str(), "dropped IKE packet: {detail}");
        } else {
            tracing::debug!(%from, reason = reason.as_str(), "dropped IKE packet: {detail}");
        }
    }

    /// Whether a line of kind `what` that `from` caused may be logged: a
    /// remote host must not choose what fills the log (see `log_limit`). Logs
    /// the summary of the kind's window that just ended, if any.
    pub fn log_allowed(&mut self, now: Instant, what: &'static str, from: IpAddr) -> bool {
        let (log, ended) = self.drop_log.allow(now, what, from);
        if let Some(summary) = ended {
            tracing::warn!("{summary}");
        }
        log
    }

    /// Routes a message for an existing SA: window checks, decryption, then the
    /// handler for its exchange.
    fn dispatch(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        message: Message,
    ) -> Next {
        let header = message.header.clone();
        if header.exchange == ExchangeType::IKE_SA_INIT {
            return self.handle_init_response(now, sa, bytes, message);
        }
        if header.flags.is_response() {
            if sa.in_flight.as_ref().map(|r| r.message_id) != Some(header.message_id) {
                self.drop_packet(
                    now,
                    DropReason::Unexpected,
                    remote,
                    &format!(
                        "response with message ID {} matches no request of ours",
                        header.message_id
                    ),
                );
                return Next::Keep;
            }
        } else if header.message_id.wrapping_add(1) == sa.expected_request_id {
            // A retransmitted fragmented request: answer its first fragment only
            // (RFC 7383 §2.6.1), not every one.
            let first =
                crate::fragment::skf(&message.payloads).is_none_or(|f| f.fragment_number == 1);
            if let Some(response) = sa.last_response.clone().filter(|_| first) {
                self.stats.retransmits_answered += 1;
                tracing::debug!(
                    ike = sa.unique_id,
                    id = header.message_id,
                    "request retransmitted by the peer; resending our response"
                );
                self.transmit_all(sa.local, sa.remote, response);
            }
            return Next::Keep;
        } else if header.message_id != sa.expected_request_id {
            self.drop_packet(
                now,
                DropReason::OutOfWindow,
                remote,
                &format!(
                    "request with message ID {}, expected {}",
                    header.message_id, sa.expected_request_id
                ),
            );
            return Next::Keep;
        }
        let payloads = match sa.open(bytes, &message) {
            Ok(Opened::Message(p)) => p,
            Ok(Opened::Fragment) => return Next::Keep,
            Err(e) => {
                self.drop_packet(
                    now,
                    DropReason::Unauthenticated,
                    remote,
                    &format!("IKE SA #{}: {e}", sa.unique_id),
                );
                return Next::Keep;
            }
        };
        self.dispatch_opened(
            now,
            sa,
            (local, remote),
            header.exchange,
            header.flags.is_response(),
            header.message_id,
            payloads,
        )
    }

    /// The rest of [`Ctx::dispatch`] once a message is authenticated and decrypted
    /// (and, for fuzzing, where payload chains that skip decryption come in).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dispatch_opened(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        (local, remote): (SocketAddr, SocketAddr),
        exchange: ExchangeType,
        is_response: bool,
        message_id: u32,
        payloads: Vec<Payload>,
    ) -> Next {
        self.follow_peer(sa, local, remote);
        sa.last_heard = Some(now);
        if let Some(critical) = crate::payloads::unknown_critical(&payloads) {
            if !is_response {
                let notify = Payload::Notify(tern_wire::NotifyPayload {
                    protocol: tern_wire::ProtocolId(0),
                    spi: Vec::new(),
                    notify_type: tern_wire::NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                    data: vec![critical],
                });
                self.respond(sa, exchange, message_id, &[notify]);
            }
            return Next::Keep;
        }
        if is_response {
            let request = sa.in_flight.take().expect("checked by the caller");
            let next = self.handle_response(now, sa, exchange, request.purpose, payloads);
            if matches!(next, Next::Keep) {
                self.send_queued(now, sa);
            }
            next
        } else {
            self.handle_request(now, sa, exchange, message_id, payloads)
        }
    }

    /// An authenticated message came over other addresses or ports than the SA's: the
    /// peer moved (e.g. it floated to port 4500, as strongSwan does with MOBIKE).
    /// Answers and our later requests follow it (RFC 7296 §2.11, §2.23).
    /// Its CHILD SAs follow too.
    pub(crate) fn follow_peer(&mut self, sa: &mut IkeSa, local: SocketAddr, remote: SocketAddr) {
        if (sa.local, sa.remote) != (local, remote) {
            tracing::info!(ike = sa.unique_id, from = %sa.remote, to = %remote, local = %local, "peer moved; following it");
            let before = crate::children::endpoints(sa);
            sa.local = local;
            sa.remote = remote;
            self.move_children(sa, before);
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        id: u32,
        payloads: Vec<Payload>,
    ) -> Next {
        match (exchange, &sa.phase) {
            (ExchangeType::IKE_AUTH, Phase::AwaitAuthRequest) => {
                self.handle_auth_request(now, sa, id, payloads)
            }
            (ExchangeType::IKE_AUTH, Phase::AwaitEap(_)) => {
                self.handle_eap_request(now, sa, id, payloads)
            }
            (ExchangeType::INFORMATIONAL, _) => {
                self.handle_informational_request(now, sa, id, payloads)
            }
            (ExchangeType::CREATE_CHILD_SA, Phase::Established | Phase::Deleting(_)) => {
                self.handle_create_child_request(now, sa, id, payloads)
            }
            (exchange, phase) => {
                let detail = format!("{exchange} request while {}", phase.name());
                self.drop_packet(now, DropReason::Unexpected, sa.remote, &detail);
                Next::Keep
            }
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        purpose: Purpose,
        payloads: Vec<Payload>,
    ) -> Next {
        match (purpose, exchange) {
            (Purpose::IkeAuth, ExchangeType::IKE_AUTH) => {
                self.handle_auth_response(now, sa, payloads)
            }
            (Purpose::RekeyIke(rekey), ExchangeType::CREATE_CHILD_SA) => {
                self.handle_ike_rekey_response(now, sa, rekey, payloads)
            }
            (Purpose::CreateChild(ex), ExchangeType::CREATE_CHILD_SA) => {
                self.handle_create_child_response(now, sa, ex, payloads)
            }
            (
                purpose @ (Purpose::DeleteIke | Purpose::DeleteChild { .. } | Purpose::Liveness),
                ExchangeType::INFORMATIONAL,
            ) => self.handle_informational_response(now, sa, purpose, payloads),
            (purpose, exchange) => {
                let detail = format!("{exchange} response to our {} request", purpose.describe());
                self.drop_packet(now, DropReason::Unexpected, sa.remote, &detail);
                Next::Keep
            }
        }
    }

    /// Sends (or queues, while another request is in flight) an encrypted request.
    pub fn request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        purpose: Purpose,
        payloads: Vec<Payload>,
    ) {
        if sa.in_flight.is_some() {
            sa.queued.push_back(Queued {
                exchange,
                purpose,
                payloads,
            });
            return;
        }
        let id = sa.next_request_id;
        sa.next_request_id += 1;
        let limit = sa.fragment_limit(&self.config.fragmentation);
        let datagrams = sa.seal(exchange, false, id, &payloads, limit);
        self.send_first(now, sa, id, purpose, datagrams);
    }

    /// Sends a request for the first time and arms its retransmission.
    pub fn send_first(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        message_id: u32,
        purpose: Purpose,
        datagrams: Vec<Vec<u8>>,
    ) {
        self.transmit_all(sa.local, sa.remote, datagrams.clone());
        sa.in_flight = Some(InFlight {
            message_id,
            purpose,
            datagrams,
            sends: 1,
            next_retransmit: now + self.retransmit_delay(0),
        });
    }

    pub(crate) fn send_queued(&mut self, now: Instant, sa: &mut IkeSa) {
        if let Some(q) = sa.queued.pop_front() {
            self.request(now, sa, q.exchange, q.purpose, q.payloads);
        }
    }

    /// Answers the peer's request `id` and remembers the answer for retransmits.
    pub fn respond(
        &mut self,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        id: u32,
        payloads: &[Payload],
    ) {
        let limit = sa.fragment_limit(&self.config.fragmentation);
        let datagrams = sa.seal(exchange, true, id, payloads, limit);
        sa.expected_request_id = id.wrapping_add(1);
        sa.last_response = Some(datagrams.clone());
        self.transmit_all(sa.local, sa.remote, datagrams);
    }

    /// How long a half-open IKE SA waits for IKE_AUTH: as long as an initiator
    /// retransmitting on our schedule would keep trying, so that an IKE_AUTH that
    /// got through only at its last try still finds its SA.
    pub fn half_open_timeout(&self) -> Duration {
        let schedule: Duration = (0..=self.config.retransmit.tries)
            .map(|n| self.retransmit_delay(n))
            .sum();
        schedule.max(HALF_OPEN_TIMEOUT)
    }

    /// Delay before retransmission number `n + 1`: base * factor^n.
    /// How long a CHILD SA the peer replaced waits for the peer's DELETE. If our
    /// answer to its rekey was lost, the peer sends on the old SA until one of
    /// its retransmissions gets through, up to a whole retransmission schedule
    /// (ours is the estimate): deleting the old SA sooner cut such tunnels off.
    pub(crate) fn peer_delete_wait(&self) -> Duration {
        let schedule: Duration = (0..=self.config.retransmit.tries)
            .map(|n| self.retransmit_delay(n))
            .sum();
        schedule.max(crate::child_sa::REKEYED_LINGER)
    }

    fn retransmit_delay(&self, n: u32) -> Duration {
        let r = &self.config.retransmit;
        let factor = f64::from(r.factor_tenths) / 10.0;
        r.base.mul_f64(factor.powi(n as i32))
    }

    fn on_timeout(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        if sa.phase_deadline.is_some_and(|d| d <= now) {
            return Next::Destroy(match sa.phase {
                Phase::AwaitAuthRequest => EndReason::new(
                    EndKind::HalfOpenTimeout,
                    "the peer never sent IKE_AUTH (half-open IKE SA timed out)",
                ),
                Phase::AwaitEap(_) => EndReason::new(
                    EndKind::HalfOpenTimeout,
                    "the peer did not finish its EAP login in time (half-open IKE SA timed out)",
                ),
                _ => EndReason::new(EndKind::Unanswered, "timed out"),
            });
        }
        if let Next::Destroy(reason) = self.retransmit_due(now, sa) {
            return Next::Destroy(reason);
        }
        self.run_keepalive(now, sa);
        self.run_child_timers(now, sa);
        let next = self.run_ike_timers(now, sa);
        if matches!(next, Next::Keep) {
            self.run_dpd(now, sa);
        }
        next
    }

    /// Retransmits our request if its time has come, or gives up on the peer.
    fn retransmit_due(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        let tries = self.config.retransmit.tries;
        let delay_next = match &sa.in_flight {
            Some(r) if r.next_retransmit <= now => self.retransmit_delay(r.sends),
            _ => return Next::Keep,
        };
        let request = sa.in_flight.as_mut().expect("matched above");
        if request.sends > tries {
            if matches!(request.purpose, Purpose::DeleteIke) {
                let why = match &sa.phase {
                    Phase::Deleting(reason) => reason.clone(),
                    _ => EndReason::new(EndKind::ClosedByUs, "deleted"),
                };
                let text = format!("{why} (the peer did not confirm the DELETE)");
                return Next::Destroy(EndReason::new(why.kind, text));
            }
            let unanswered = format!(
                "the peer did not answer our {} request after {} transmissions",
                request.purpose.describe(),
                request.sends
            );
            if sa.established_at.is_none() {
                sa.end_cause = Some(EndCause::Unanswered);
                // IKE_SA_INIT answered and IKE_AUTH not: the path loses what
                // is large, not everything.
                let (kind, why) = match request.purpose {
                    Purpose::IkeAuth => (
                        EndKind::AuthUnanswered,
                        "IKE_SA_INIT was answered, so large messages are lost on the path \
                         (IP fragments, MTU)",
                    ),
                    _ => (EndKind::Unanswered, "peer unreachable or not running IKE"),
                };
                return Next::Destroy(EndReason::new(kind, format!("{unanswered}: {why}")));
            }
            self.stats.dead_peers += 1;
            sa.end_cause = Some(EndCause::PeerDead);
            return Next::Destroy(EndReason::new(
                EndKind::DeadPeer,
                match request.purpose {
                    Purpose::Liveness => format!("{}: {unanswered}", crate::dpd::DEAD_PEER),
                    _ => format!("dead peer: {unanswered}"),
                },
            ));
        }
        request.sends += 1;
        request.next_retransmit = now + delay_next;
        self.stats.retransmits_sent += 1;
        tracing::info!(
            ike = sa.unique_id,
            id = request.message_id,
            attempt = request.sends,
            "retransmitting request"
        );
        let datagrams = request.datagrams.clone();
        self.transmit_all(sa.local, sa.remote, datagrams);
        Next::Keep
    }

    /// Removes an SA's kernel state and tells the user how it ended.
    fn destroy(&mut self, now: Instant, mut sa: IkeSa, reason: &EndReason) {
        // SPIs reserved for CHILD SAs that never came.
        let pending_spi = match (&sa.phase, sa.in_flight.as_ref().map(|r| &r.purpose)) {
            (Phase::AwaitAuthResponse(pending), _) => pending.child.as_ref().map(|c| c.spi_in),
            (_, Some(Purpose::CreateChild(ex))) => Some(ex.spi_in),
            _ => None,
        };
        // ... and those of CREATE_CHILD_SA requests still queued behind another.
        let queued_spis = sa.queued.iter().filter_map(|q| match &q.purpose {
            Purpose::CreateChild(ex) => Some(ex.spi_in),
            _ => None,
        });
        let reserved: Vec<u32> = pending_spi
            .into_iter()
            .chain(queued_spis)
            .filter(|s| *s != 0)
            .collect();
        for spi in reserved {
            self.kernel_ops.push_back(KernelOp::DeleteSa {
                src: sa.remote.ip(),
                dst: sa.local.ip(),
                spi,
            });
        }
        self.kernel_ops.extend(sa.lingering.drain(..).map(|l| l.op));
        self.release_virtual_ips(&mut sa);
        let ids: Vec<u64> = sa.children.iter().map(|c| c.unique_id).collect();
        for id in ids {
            self.retire_child(now, &mut sa, id, reason, false);
        }
        self.release_policies_of(sa.unique_id);
        let connection = sa.connection.name.clone();
        self.history.record(
            &connection,
            SaEnd {
                at: now,
                kind: SaKind::Ike,
                ike_id: sa.unique_id,
                child: String::new(),
                spi_in: 0,
                spi_out: 0,
                was_up: sa.established_at.is_some(),
                cause: reason.clone(),
            },
        );
        if sa.established_at.is_some() {
            tracing::info!(ike = sa.unique_id, conn = connection, ike_spi = ike_spi(&sa), remote = %sa.remote, "IKE SA deleted: {reason}");
            self.events.push_back(Event::IkeSaDeleted {
                connection,
                ike_id: sa.unique_id,
                reason: reason.clone(),
            });
        } else {
            tracing::warn!(ike = sa.unique_id, conn = connection, ike_spi = ike_spi(&sa), remote = %sa.remote, "IKE SA failed: {reason}");
            self.events.push_back(Event::IkeSaFailed {
                connection,
                ike_id: sa.unique_id,
                reason: reason.clone(),
            });
        }
    }
}

fn info(sa: &IkeSa, now: Instant) -> IkeSaInfo {
    IkeSaInfo {
        connection: sa.connection.name.clone(),
        unique_id: sa.unique_id,
        state: sa.phase.name(),
        initiator: sa.initiator,
        local_addr: sa.local,
        remote_addr: sa.remote,
        local_id: identity::describe_config(&sa.connection.local_id),
        remote_id: sa
            .peer_id
            .as_ref()
            .map(identity::describe)
            .unwrap_or_default(),
        initiator_spi: sa.spi_i,
        responder_spi: sa.spi_r,
        proposal: sa.suite.map(|s| s.to_string()).unwrap_or_default(),
        established_for: sa.established_at.map(|t| now.saturating_duration_since(t)),
        set_up_in: sa
            .negotiation_started
            .zip(sa.established_at)
            .map(|(started, up)| up.saturating_duration_since(started)),
        rekey_in: sa
            .rekey_at
            .filter(|_| sa.is_established())
            .map(|t| t.saturating_duration_since(now)),
        expires_in: sa.expire_at.map(|t| t.saturating_duration_since(now)),
        peer_rekeyed_at: sa.peer_rekeyed_at,
        children: sa
            .children
            .iter()
            .map(|c| ChildSaInfo {
                name: c.name.clone(),
                unique_id: c.unique_id,
                reqid: c.reqid,
                state: c.state.name(),
                mode: c.mode,
                spi_in: c.spi_in,
                spi_out: c.spi_out,
                proposal: c.suite.to_string(),
                local_ts: c.local_ts.iter().map(|t| t.to_string()).collect(),
                remote_ts: c.remote_ts.iter().map(|t| t.to_string()).collect(),
                installed_for: now.saturating_duration_since(c.installed_at),
                rekey_in: c
                    .rekey_at
                    .filter(|_| c.state == crate::child_sa::ChildState::Installed)
                    .map(|t| t.saturating_duration_since(now)),
                expires_in: c.expire_at.map(|t| t.saturating_duration_since(now)),
                peer_rekeyed_at: c.peer_rekeyed_at,
                adapted_rekey_before: crate::adapt::rekey_before(sa, &c.name),
                local_addr: sa.local.ip(),
                remote_addr: sa.remote.ip(),
                policies: crate::child_sa::policies(c, crate::children::endpoints(sa)),
            })
            .collect(),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An IKE SA's SPIs as its log lines carry them (`ike_spi`, IKE_SPI in the journal):
/// the initiator's and the responder's, in hex, as `ternctl list-sas` shows them.
pub(crate) fn ike_spi(sa: &IkeSa) -> String {
    format!("{}_{}", hex(&sa.spi_i), hex(&sa.spi_r))
}

/// Logs what `lint` finds in a configuration being loaded (once, by the first engine).
fn warn_about(config: &EngineConfig) {
    for finding in crate::lint::lint(config) {
        tracing::warn!("configuration: {finding}");
    }
}
