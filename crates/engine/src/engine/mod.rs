//! The engine: owns every IKE SA, routes datagrams, timers and commands to them,
//! and queues what must go out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_wire::{ExchangeType, Message};

use crate::chosen_keys::ChosenKeys;
use crate::config::{Connection, EngineConfig};
use crate::cookie::CookieJar;
use crate::end_action::{self, PendingRestart};
use crate::end_reason::EndReason;
use crate::env::Environment;
use crate::history::{History, SaEnd};
use crate::identity;
use crate::ike_sa::{IkeSa, Phase, Purpose, Spi};
use crate::output::{
    ChildSaInfo, Event, IkeSaInfo, KernelOp, NatInfo, RekeyFailedInfo, Transmit, UnansweredInfo,
};
use crate::shard::Shard;
use crate::stats::{DropReason, Stats};
use crate::timers::Timers;

mod commands;
mod exchange;

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
    /// Our local address of the connection's IKE SAs is now `local`: those that
    /// use MOBIKE move there and tell the peer (UPDATE_SA_ADDRESSES).
    MoveLocal {
        connection: String,
        local: std::net::IpAddr,
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
    /// The (local, remote) addresses of the peer's request being handled, while
    /// MOBIKE keeps its IKE SA where it is: answers go back that way (RFC 7296
    /// §2.11), and UPDATE_SA_ADDRESSES moves the SA there (see `mobike`).
    pub request_path: Option<(SocketAddr, SocketAddr)>,
    pub connections: Vec<Arc<Connection>>,
    pub config: EngineConfig,
    pub env: Box<dyn Environment + Send>,
    pub transmits: VecDeque<Transmit>,
    pub kernel_ops: VecDeque<KernelOp>,
    /// EAP messages for the RADIUS server (see `eap_radius`).
    pub radius_requests: VecDeque<crate::eap_radius::RadiusRelay>,
    /// Accounting to send, and addresses RADIUS gave (see `radius_session`).
    pub radius: crate::radius_session::RadiusBook,
    /// The traffic of RADIUS sessions, for accounting (see `traffic`).
    pub traffic: crate::traffic::TrafficBook,
    /// Byte counters to read for a timer run (see `counters`).
    pub counter_reads: VecDeque<crate::counters::CounterRead>,
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
    /// The inbound ESP SPIs chosen and not yet given up (see `inbound_spis`).
    pub(crate) spis_in: crate::inbound_spis::InboundSpis,
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
    /// An IKE SA's unique id -> our SPI: the control socket, the metrics and
    /// RADIUS answers name SAs by id, and a scan of 100,000 SAs for each was
    /// 15 % of ternd's time under a load of new IKE SAs.
    by_unique_id: HashMap<u64, Spi>,
    pub(crate) timers: Timers,
    /// IKE SAs whose due timers wait for counters, and how many answers are to
    /// come (see `counters`).
    pub(crate) counter_waits: HashMap<Spi, usize>,
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
                request_path: None,
                connections: config.connections.iter().cloned().map(Arc::new).collect(),
                config,
                env,
                transmits: VecDeque::new(),
                kernel_ops: VecDeque::new(),
                radius_requests: VecDeque::new(),
                radius: Default::default(),
                traffic: Default::default(),
                counter_reads: VecDeque::new(),
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
                spis_in: Default::default(),
                pools: crate::pool::Pools::new(shard),
            },
            sas: HashMap::default(),
            by_unique_id: HashMap::new(),
            peers_started_over: VecDeque::new(),
            by_peer_spi: HashMap::new(),
            timers: Timers::default(),
            counter_waits: HashMap::new(),
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
}

impl Engine {
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
            if self.wait_for_counters(now, &mut sa) {
                self.sas.insert(spi, sa);
                continue;
            }
            let next = self.ctx.on_timeout(now, &mut sa);
            crate::counters::forget_counters(&mut sa);
            self.settle(now, sa, next);
        }
        self.run_restarts(now);
        self.run_duplicate_checks(now);
        self.release_due_outbound(now);
        self.ctx.traffic.run_deadlines(now);
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
            self.ctx.traffic.next_deadline(),
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
        let op = self.ctx.kernel_ops.pop_front()?;
        self.ctx.spis_in.note(&op);
        self.note_traffic(&op);
        Some(op)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.ctx.events.pop_front()
    }

    /// One IKE SA's view, by unique id, without building everyone's.
    pub fn ike_sa(&self, now: Instant, unique_id: u64) -> Option<IkeSaInfo> {
        let spi = self.spi_of(unique_id)?;
        self.sas
            .get(&spi)
            .map(|sa| info(sa, self.ctx.config.nat_keepalive, now))
    }

    /// Our SPI of the IKE SA with `unique_id`, if it is in the table.
    pub(crate) fn spi_of(&self, unique_id: u64) -> Option<Spi> {
        let spi = *self.by_unique_id.get(&unique_id)?;
        self.sas
            .get(&spi)
            .is_some_and(|sa| sa.unique_id == unique_id)
            .then_some(spi)
    }

    pub fn list_sas(&self, now: Instant) -> Vec<IkeSaInfo> {
        let mut out: Vec<IkeSaInfo> = self
            .sas
            .values()
            .map(|sa| info(sa, self.ctx.config.nat_keepalive, now))
            .collect();
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
                self.by_unique_id.insert(sa.unique_id, sa.our_spi());
                self.sas.insert(sa.our_spi(), sa);
                self.drop_stale_timers();
            }
            Next::Destroy(reason) => {
                self.ctx.peers.remove(&sa);
                self.by_peer_spi.remove(&(sa.init_remote, sa.spi_i));
                self.by_unique_id.remove(&sa.unique_id);
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

fn info(sa: &IkeSa, keepalive_every: Duration, now: Instant) -> IkeSaInfo {
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
        rekey_failed: sa
            .rekey_failed
            .as_deref()
            .map(|f| RekeyFailedInfo::of(f, now)),
        rekey_unanswered: sa
            .in_flight
            .as_ref()
            .filter(|r| matches!(r.purpose, Purpose::RekeyIke(_)))
            .and_then(|r| UnansweredInfo::of(r, now)),
        nat: nat_info(sa, keepalive_every, now),
        mobike: sa
            .mobike
            .as_deref()
            .filter(|_| crate::mobike::in_use(sa))
            .map(|m| crate::output::MobikeInfo {
                peer_addresses: m.peer_addresses.clone(),
            }),
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
                rekey_failed: c
                    .rekey_failed
                    .as_deref()
                    .map(|f| RekeyFailedInfo::of(f, now)),
                rekey_unanswered: sa
                    .in_flight
                    .as_ref()
                    .filter(|r| {
                        matches!(&r.purpose,
                        Purpose::CreateChild(ex) if ex.rekey_of == Some(c.spi_in))
                    })
                    .and_then(|r| UnansweredInfo::of(r, now)),
                local_addr: sa.local.ip(),
                remote_addr: sa.remote.ip(),
                policies: crate::child_sa::policies(c, crate::children::endpoints(sa)),
            })
            .collect(),
    }
}

fn nat_info(sa: &IkeSa, keepalive_every: Duration, now: Instant) -> Option<NatInfo> {
    let changes = sa.mapping_changes.as_deref();
    sa.nat.detected().then(|| NatInfo {
        local_behind: sa.nat.local_behind,
        peer_behind: sa.nat.peer_behind,
        keepalive_every: (sa.nat.local_behind && !keepalive_every.is_zero())
            .then_some(keepalive_every),
        mapping_changes: changes.map_or(0, |c| c.count),
        first_change_ago: changes.map(|c| now.saturating_duration_since(c.first)),
        last_change_ago: changes.map(|c| now.saturating_duration_since(c.last)),
    })
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
