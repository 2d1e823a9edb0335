//! The daemon loop of one shard: one thread owns one engine and feeds it
//! datagrams, control requests, kernel events and its single timer, then carries
//! out what it asks for. `shards` runs several and answers control requests
//! from all of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tern_control::{Command as ControlCommand, Response, ResponseBody};
use tern_engine::log_limit::{self, LogLimiter};
use tern_engine::{Command, Engine, Event};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::control::ControlRequest;
use crate::dispatch;
use crate::history::SharedHistory;
use crate::intake::{Datagram, Intake};
use crate::kernel::Kernel;
use crate::metrics::ShardSnapshot;
use crate::present;
use crate::stats::{self, DaemonCounters, SocketCounters};
use crate::udp::{IkeSocket, NON_ESP_MARKER};
use crate::watch::Watchers;

/// What one engine's thread hands to another's.
pub enum Inbound {
    /// A datagram that reached another engine's socket, handed on to its own.
    Datagram {
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A peer said INITIAL_CONTACT to another engine: what this one holds with
    /// it goes ([`Engine::forget_peer`]).
    PeerStartedOver(tern_engine::PeerStartedOver),
}

/// A control client waiting for IKE SAs to reach an outcome.
struct Waiter {
    connection: String,
    ike_ids: Vec<u64>,
    goal: Goal,
    started: Instant,
    reply: tokio::sync::oneshot::Sender<Response>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// The IKE SA and its first CHILD SA (if the connection has children) are up.
    Established {
        with_child: bool,
    },
    Deleted,
    /// A new CHILD SA replaced the old one (or the rekey failed).
    Rekeyed,
    /// A new IKE SA replaced the old one (or the old one ended).
    IkeRekeyed,
}

/// Datagrams read from a socket per turn at most: enough to keep its buffer from
/// filling under a flood (reading is cheap; the intake sheds what it cannot hold),
/// few enough that timers and the control socket are not kept waiting.
const READ_BATCH: usize = 1024;

pub struct Daemon {
    pub engine: Engine,
    pub kernel: Arc<Mutex<dyn Kernel>>,
    /// This engine's sockets, one per IKE address and port: it reads them and
    /// sends from them (see `steering` for how the kernel picks the engine).
    pub sockets: Vec<Arc<IkeSocket>>,
    /// Every engine's queue, by shard, for a datagram that reached the wrong one.
    shards: Arc<[mpsc::Sender<Inbound>]>,
    pub nat_port: u16,
    waiters: Vec<Waiter>,
    watchers: Watchers,
    /// IKE SPIs by unique id, for the event stream; kept only while someone watches.
    ike_spis: HashMap<u64, ([u8; 8], [u8; 8])>,
    sockets_counted: Arc<SocketCounters>,
    counters: DaemonCounters,
    /// Keeps failing sends and receives (a flood filling the socket buffers)
    /// from flooding the log.
    noise: LogLimiter,
    /// How SAs ended, shared by every engine (see `history`).
    history: SharedHistory,
    setup_times: crate::metrics::SetupTimes,
    started: Instant,
    /// Read, not yet handled: known SPIs before new IKE SAs (see `intake`).
    intake: Intake,
    /// Until when failed sends are not retried (see `send`).
    sends_stalled_until: Option<Instant>,
}

/// Tries again of a send the kernel refused for want of buffer room.
const SEND_RETRIES: u32 = 2;
/// How long sends are not retried after one failed every retry.
const SENDS_STALLED: Duration = Duration::from_millis(100);

/// What every engine's loop shares with the others.
#[derive(Clone)]
pub struct Shared {
    /// Counted by the socket readers.
    pub sockets_counted: Arc<SocketCounters>,
    /// How SAs ended (see `history`).
    pub history: SharedHistory,
    /// How long IKE SAs took to come up, for the metrics.
    pub setup_times: crate::metrics::SetupTimes,
}

impl Daemon {
    pub fn new(
        engine: Engine,
        kernel: Arc<Mutex<dyn Kernel>>,
        sockets: Vec<Arc<IkeSocket>>,
        shards: Arc<[mpsc::Sender<Inbound>]>,
        nat_port: u16,
        shared: Shared,
    ) -> Daemon {
        Daemon {
            engine,
            kernel,
            sockets,
            shards,
            nat_port,
            waiters: Vec::new(),
            watchers: Watchers::default(),
            ike_spis: HashMap::new(),
            sockets_counted: shared.sockets_counted,
            counters: DaemonCounters::default(),
            noise: LogLimiter::default(),
            history: shared.history,
            setup_times: shared.setup_times,
            started: Instant::now(),
            intake: Intake::default(),
            sends_stalled_until: None,
        }
    }

    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut control: mpsc::Receiver<ControlRequest>,
        mut kernel_events: mpsc::Receiver<tern_engine::KernelEvent>,
        mut snapshots: mpsc::Receiver<tokio::sync::oneshot::Sender<ShardSnapshot>>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        self.start_connections();
        let sockets = self.sockets.clone();
        let mut buf = vec![0u8; 65536];
        // Summaries of the warnings the limiters left out, when a flood has ended too.
        let mut summaries = tokio::time::interval(log_limit::WINDOW);
        summaries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.engine.poll_timeout();
            let waiting = self.intake.is_waiting();
            tokio::select! {
                _ = summaries.tick() => self.log_summaries(),
                () = any_readable(&sockets) => self.receive(&sockets, &mut buf),
                // Datagrams left from the last turn (new IKE SAs beyond its share):
                // the sockets are read again first, so anything on a known SPI
                // that came meanwhile goes ahead of them.
                () = std::future::ready(()), if waiting => self.receive(&sockets, &mut buf),
                Some(handed) = inbound.recv() => self.handed_on(handed),
                Some(req) = control.recv() => self.control(req),
                Some(reply) = snapshots.recv() => drop(reply.send(self.metrics_snapshot())),
                Some(event) = kernel_events.recv() => {
                    self.engine.handle_kernel_event(std::time::Instant::now(), event);
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.engine.handle_timeout(std::time::Instant::now());
                }
                _ = shutdown.changed() => break,
            }
            self.flush();
        }
        self.shut_down(&sockets, &mut buf, &mut inbound).await;
    }

    /// Reads what waits on the sockets (up to a batch from each) into the intake,
    /// or hands it on to the engine it belongs to; then handles this turn's share
    /// of the intake.
    fn receive(&mut self, sockets: &[Arc<IkeSocket>], buf: &mut [u8]) {
        self.read_sockets(sockets, buf);
        self.intake.new_turn();
        self.handle_intake();
    }

    /// Known SPIs first, then a few new IKE SAs (see `intake`).
    fn handle_intake(&mut self) {
        while let Some(d) = self.intake.next() {
            let now = std::time::Instant::now();
            self.engine
                .handle_datagram(now, d.local, d.remote, &d.bytes);
            self.flush();
        }
        self.counters.shed_new_ike_sas = self.intake.shed_new;
        self.counters.shed_known = self.intake.shed_known;
    }

    fn read_sockets(&mut self, sockets: &[Arc<IkeSocket>], buf: &mut [u8]) {
        let count = self.shards.len() as u32;
        let ours = self.engine.shard().index() as usize;
        for socket in sockets {
            for _ in 0..READ_BATCH {
                let received = match socket.try_recv(buf) {
                    Ok(r) => r,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        SocketCounters::count(&self.sockets_counted.receive_failed);
                        if self.noisy("receives failed", socket.bound.ip()) {
                            tracing::warn!(socket = %socket.bound, "receive failed: {e}");
                        }
                        break;
                    }
                };
                SocketCounters::count(&self.sockets_counted.received);
                let mut bytes = &buf[..received.len];
                if socket.bound.port() == self.nat_port {
                    // On the NAT-T port IKE carries a zero marker; anything else is ESP.
                    match bytes.strip_prefix(&NON_ESP_MARKER) {
                        Some(rest) => bytes = rest,
                        None => {
                            SocketCounters::count(&self.sockets_counted.not_ike);
                            continue;
                        }
                    }
                }
                let shard = dispatch::route(bytes, received.remote.ip(), count);
                if shard == ours {
                    self.intake.push(Datagram {
                        local: received.local,
                        remote: received.remote,
                        bytes: bytes.to_vec(),
                    });
                    continue;
                }
                // Not steered here (no steering program in this kernel, say): its
                // engine gets it. Never waiting: two engines handing on to each
                // other must not block each other; UDP's peers retransmit.
                let inbound = Inbound::Datagram {
                    local: received.local,
                    remote: received.remote,
                    bytes: bytes.to_vec(),
                };
                if self.shards[shard].try_send(inbound).is_err() {
                    SocketCounters::count(&self.sockets_counted.receive_failed);
                }
            }
        }
    }

    /// What another engine's thread handed on.
    fn handed_on(&mut self, handed: Inbound) {
        let now = std::time::Instant::now();
        match handed {
            Inbound::Datagram {
                local,
                remote,
                bytes,
            } => {
                self.intake.push(Datagram {
                    local,
                    remote,
                    bytes,
                });
                self.handle_intake();
            }
            Inbound::PeerStartedOver(gone) => self.engine.forget_peer(now, &gone),
        }
    }

    fn start_connections(&mut self) {
        self.engine.install_traps();
        let shard = self.engine.shard();
        let starting: Vec<String> = self
            .engine
            .config()
            .connections
            .iter()
            .filter(|c| c.starts_on_load())
            // Each connection is started by its peer's shard, as `initiate` would.
            .filter(|c| shard.owns_connection(&c.remote_addrs))
            .map(|c| c.name.clone())
            .collect();
        for connection in starting {
            if let Err(e) = self.engine.handle_command(
                std::time::Instant::now(),
                Command::Initiate {
                    connection: connection.clone(),
                },
            ) {
                tracing::error!(conn = connection, "start_action = start failed: {e}");
            }
        }
        self.flush();
    }

    /// Deletes every IKE SA (telling the peers) and waits a little for their answers,
    /// so a stopped ternd leaves no SA or policy behind.
    async fn shut_down(
        &mut self,
        sockets: &[Arc<IkeSocket>],
        buf: &mut [u8],
        inbound: &mut mpsc::Receiver<Inbound>,
    ) {
        tracing::info!("shutting down: deleting all IKE SAs");
        self.engine
            .delete_all(std::time::Instant::now(), "ternd is stopping");
        self.flush();
        let give_up = Instant::now() + Duration::from_secs(2);
        while !self.engine.list_sas(std::time::Instant::now()).is_empty() {
            tokio::select! {
                () = any_readable(sockets) => self.receive(sockets, buf),
                Some(handed) = inbound.recv() => self.handed_on(handed),
                _ = tokio::time::sleep_until(give_up) => break,
            }
            self.flush();
        }
    }

    /// Switches the engine to `config` (read and validated by `Shards`, the same
    /// for every engine) and says what changed.
    fn reload(&mut self, config: &tern_engine::config::EngineConfig) -> String {
        let mut engine_config = config.clone();
        // The sockets stay as bound at start; the engine must keep sending from them.
        engine_config.nat_port = self.nat_port;
        let report = self.engine.reload(std::time::Instant::now(), engine_config);
        self.flush();
        let list = |names: &[String]| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        format!(
            "configuration reloaded: added {}; removed {}; changed {}; {} unchanged (socket, socket_group, listen, port, nat_port, workers, metrics_listen, history_length and state_file apply at restart)",
            list(&report.added),
            list(&report.removed),
            list(&report.changed),
            report.unchanged.len()
        )
    }

    /// Carries out everything the engine queued.
    fn flush(&mut self) {
        // The kernel first: a CREATE_CHILD_SA response lets the peer send on the new
        // SA at once, so our inbound SA must hold its keys before the response leaves
        // (sent first, strongSwan's first packets met a key-less SPI and were lost).
        {
            let mut kernel = self.kernel.lock().expect("kernel lock");
            while let Some(op) = self.engine.poll_kernel_op() {
                if let Err(e) = kernel.apply(op) {
                    tracing::error!("kernel: {e}");
                }
            }
        }
        while let Some(t) = self.engine.poll_transmit() {
            self.send(t);
        }
        while let Some(event) = self.engine.poll_event() {
            self.on_event(event);
        }
        // Every other engine hears of a peer that started over here.
        let ours = self.engine.shard().index() as usize;
        while let Some(gone) = self.engine.poll_peer_started_over() {
            for (index, shard) in self.shards.iter().enumerate() {
                if index != ours
                    && shard
                        .try_send(Inbound::PeerStartedOver(gone.clone()))
                        .is_err()
                {
                    tracing::warn!(
                        conn = gone.connection,
                        engine = index,
                        "cannot pass INITIAL_CONTACT on to another engine: its queue is full"
                    );
                }
            }
        }
    }

    fn send(&mut self, t: tern_engine::Transmit) {
        let socket = self
            .sockets
            .iter()
            .find(|s| s.bound.port() == t.local.port() && s.bound.is_ipv4() == t.remote.is_ipv4());
        let Some(socket) = socket else {
            tracing::error!(local = %t.local, remote = %t.remote, "no socket to send from");
            self.counters.send_failed += 1;
            return;
        };
        // After a send that failed every retry, the next ones for a moment do not
        // wait: a stalled link must not stall the engine too (they are counted).
        let now = Instant::now();
        let retries = if self.sends_stalled_until.is_some_and(|t| now < t) {
            0
        } else {
            SEND_RETRIES
        };
        let (result, tried_again) = if t.local.port() == self.nat_port && !t.is_nat_keepalive() {
            let mut framed = NON_ESP_MARKER.to_vec();
            framed.extend_from_slice(&t.payload);
            socket.send_retrying(t.local.ip(), t.remote, &framed, retries)
        } else {
            socket.send_retrying(t.local.ip(), t.remote, &t.payload, retries)
        };
        self.counters.send_retries += u64::from(tried_again);
        if result.is_err() && retries > 0 {
            self.sends_stalled_until = Some(now + SENDS_STALLED);
        }
        match result {
            Ok(_) => self.counters.sent += 1,
            Err(e) => {
                self.counters.send_failed += 1;
                if self.noisy("sends failed", t.remote.ip()) {
                    tracing::warn!(local = %t.local, remote = %t.remote, "sending failed: {e}");
                }
            }
        }
    }

    /// Counts a warning a remote host can cause; true if it is to be logged.
    fn noisy(&mut self, what: &'static str, address: std::net::IpAddr) -> bool {
        let (log, ended) = self.noise.allow(std::time::Instant::now(), what, address);
        if let Some(summary) = ended {
            tracing::warn!("{summary}");
        }
        log
    }

    /// Logs what the limiters left out in windows that have ended.
    fn log_summaries(&mut self) {
        let now = std::time::Instant::now();
        self.engine.log_drop_summaries(now);
        for summary in self.noise.ended(now) {
            tracing::warn!("{summary}");
        }
    }

    fn control(&mut self, req: ControlRequest) {
        let now = std::time::Instant::now();
        let response = match req.command {
            ControlCommand::ListSas => {
                let mut kernel = self.kernel.lock().expect("kernel lock");
                let sas = self
                    .engine
                    .list_sas(now)
                    .iter()
                    .map(|sa| present::ike_sa(sa, &mut *kernel))
                    .collect();
                // Every engine shares the one history: the first answers with it,
                // so the merged answer holds it once.
                let history = if self.engine.shard().index() == 0 {
                    self.history
                        .lock()
                        .expect("history lock")
                        .answer(SystemTime::now())
                } else {
                    Vec::new()
                };
                Response::Ok {
                    body: ResponseBody::Sas { sas, history },
                }
            }
            ControlCommand::ListConns => {
                let traps = self.engine.traps();
                let conns = self
                    .engine
                    .config()
                    .connections
                    .iter()
                    .map(|c| {
                        let mut info = tern_config::conn_info(c);
                        for child in &mut info.children {
                            child.trapped = traps.contains(&(c.name.clone(), child.name.clone()));
                        }
                        info
                    })
                    .collect();
                Response::Ok {
                    body: ResponseBody::Conns { conns },
                }
            }
            ControlCommand::Reload => match &req.config {
                Some(config) => Response::Ok {
                    body: ResponseBody::Reloaded {
                        message: self.reload(config),
                    },
                },
                // Shards loads the file; a reload without it would be a bug.
                None => Response::Error {
                    message: "reload refused: no configuration came with the request".into(),
                },
            },
            ControlCommand::Version => Response::Ok {
                body: ResponseBody::Version {
                    version: env!("CARGO_PKG_VERSION").into(),
                },
            },
            ControlCommand::Stats => Response::Ok {
                body: ResponseBody::Stats {
                    stats: Box::new(stats::info(stats::Sources {
                        engine: self.engine.stats(),
                        half_open: self.engine.half_open(),
                        sas: &self.engine.list_sas(now),
                        sockets: &self.sockets_counted,
                        daemon: &self.counters,
                        uptime: self.started.elapsed(),
                        watchers: self.watchers.count(),
                        events_dropped: self.watchers.dropped(),
                    })),
                },
            },
            ControlCommand::ListLeases => Response::Ok {
                body: ResponseBody::Leases {
                    leases: self.engine.leases().into_iter().map(lease_info).collect(),
                },
            },
            ControlCommand::Watch { connection } => self.subscribe(connection, req.events),
            // Shards puts it together from list-conns, list-sas and stats.
            ControlCommand::Diagnose { .. } => Response::Error {
                message: "diagnose is answered for all engines at once, not by one".into(),
            },
            ControlCommand::Initiate { connection, .. } => {
                let with_child = self
                    .engine
                    .config()
                    .connections
                    .iter()
                    .any(|c| c.name == connection && !c.children.is_empty());
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Initiate { connection },
                    Goal::Established { with_child },
                );
            }
            ControlCommand::Rekey { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Rekey { connection },
                    Goal::Rekeyed,
                );
            }
            ControlCommand::RekeyIke { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::RekeyIke { connection },
                    Goal::IkeRekeyed,
                );
            }
            ControlCommand::Terminate { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Terminate { connection },
                    Goal::Deleted,
                );
            }
        };
        let _ = req.reply.send(response);
    }

    fn start_waiting(
        &mut self,
        reply: tokio::sync::oneshot::Sender<Response>,
        connection: String,
        command: Command,
        goal: Goal,
    ) {
        match self
            .engine
            .handle_command(std::time::Instant::now(), command)
        {
            // Only a trap to remove (terminate): nothing to wait for.
            Ok(accepted) if accepted.ike_ids.is_empty() && goal == Goal::Deleted => {
                let _ = reply.send(Response::Ok {
                    body: ResponseBody::Terminated {
                        message: format!("{connection}: trap removed"),
                    },
                });
            }
            Ok(accepted) => self.waiters.push(Waiter {
                connection,
                ike_ids: accepted.ike_ids,
                goal,
                started: Instant::now(),
                reply,
            }),
            Err(message) => {
                let _ = reply.send(Response::Error { message });
            }
        }
    }

    /// How long the IKE SA took to come up, for the metrics (an IKE SA made by a
    /// rekey has no such time).
    fn observe_setup(&self, ike_id: u64, connection: &str) {
        let Some(sa) = self.engine.ike_sa(std::time::Instant::now(), ike_id) else {
            return;
        };
        if let Some(took) = sa.set_up_in {
            let labels = crate::metrics::SetupLabels {
                connection: connection.to_string(),
                role: if sa.initiator {
                    "initiator"
                } else {
                    "responder"
                },
            };
            self.setup_times
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        }
    }

    /// What this engine reports to a metrics scrape.
    fn metrics_snapshot(&mut self) -> ShardSnapshot {
        let sas = self.engine.list_sas(std::time::Instant::now());
        let mut kernel = self.kernel.lock().expect("kernel lock");
        ShardSnapshot::new(
            self.engine.stats().clone(),
            self.counters.clone(),
            self.engine.half_open_count(),
            &self.engine.config().connections,
            &sas,
            &mut *kernel,
        )
    }

    /// A new watcher of `connection` (or of all), if there is such a connection.
    fn subscribe(
        &mut self,
        connection: Option<String>,
        events: Option<mpsc::Sender<tern_control::EventInfo>>,
    ) -> Response {
        let Some(events) = events else {
            return Response::Error {
                message: "watch needs a stream".into(),
            };
        };
        if let Some(name) = &connection {
            if !self
                .engine
                .config()
                .connections
                .iter()
                .any(|c| &c.name == name)
            {
                return Response::Error {
                    message: format!("no connection named `{name}`"),
                };
            }
        }
        if self.watchers.is_empty() {
            self.ike_spis = self
                .engine
                .list_sas(std::time::Instant::now())
                .iter()
                .map(|sa| (sa.unique_id, (sa.initiator_spi, sa.responder_spi)))
                .collect();
        }
        self.watchers.subscribe(connection.clone(), events);
        Response::Ok {
            body: ResponseBody::Watching { connection },
        }
    }

    /// Counts `event` and hands it to the watchers.
    fn publish(&mut self, event: &Event) {
        self.counters.count_event(event);
        if let Event::IkeSaEstablished { ike_id, connection } = event {
            self.observe_setup(*ike_id, connection);
        }
        self.history
            .lock()
            .expect("history lock")
            .record_event(event);
        if self.watchers.is_empty() {
            self.ike_spis.clear();
            return;
        }
        let spis = match event {
            Event::IkeSaEstablished { ike_id, .. } => self.learn_spis(*ike_id),
            Event::IkeSaRekeyed { new_ike_id, .. } => self.learn_spis(*new_ike_id),
            Event::IkeSaDeleted { ike_id, .. } | Event::IkeSaFailed { ike_id, .. } => {
                self.ike_spis.remove(ike_id)
            }
            Event::ChildSaInstalled { ike_id, .. }
            | Event::ChildSaFailed { ike_id, .. }
            | Event::ChildSaDeleted { ike_id, .. }
            | Event::EndAction { ike_id, .. } => self.ike_spis.get(ike_id).copied(),
        };
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.watchers.publish(&present::event(event, unix_ms, spis));
    }

    fn learn_spis(&mut self, ike_id: u64) -> Option<([u8; 8], [u8; 8])> {
        let sa = self.engine.ike_sa(std::time::Instant::now(), ike_id)?;
        let spis = (sa.initiator_spi, sa.responder_spi);
        self.ike_spis.insert(ike_id, spis);
        Some(spis)
    }

    /// Completes the control requests an event settles.
    fn on_event(&mut self, event: Event) {
        self.publish(&event);
        let (id, outcome) = match &event {
            Event::IkeSaEstablished { ike_id, .. } => (*ike_id, Outcome::IkeUp),
            Event::ChildSaInstalled {
                ike_id,
                child,
                spi_in,
                spi_out,
                ..
            } => (
                *ike_id,
                Outcome::ChildUp(format!(
                    "CHILD SA {child} installed (in {spi_in:08x}, out {spi_out:08x})"
                )),
            ),
            Event::ChildSaFailed {
                ike_id,
                child,
                reason,
                ..
            } => (
                *ike_id,
                Outcome::ChildFailed(format!("CHILD SA {child} failed: {reason}")),
            ),
            Event::IkeSaFailed { ike_id, reason, .. }
            | Event::IkeSaDeleted { ike_id, reason, .. } => {
                (*ike_id, Outcome::Gone(reason.text.clone()))
            }
            Event::IkeSaRekeyed {
                old_ike_id,
                new_ike_id,
                ..
            } => (*old_ike_id, Outcome::IkeRekeyed(*new_ike_id)),
            // The engine logs end actions itself; no control request waits on one.
            Event::ChildSaDeleted { .. } | Event::EndAction { .. } => return,
        };
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters[i].ike_ids.contains(&id) {
                if let Some(response) = settle(&mut self.waiters[i], id, &outcome) {
                    let waiter = self.waiters.swap_remove(i);
                    let _ = waiter.reply.send(response);
                    continue;
                }
            }
            i += 1;
        }
    }
}

enum Outcome {
    IkeUp,
    IkeRekeyed(u64),
    ChildUp(String),
    ChildFailed(String),
    Gone(String),
}

/// Whether `outcome` for IKE SA `id` finishes the waiter's request, and how.
fn settle(w: &mut Waiter, id: u64, outcome: &Outcome) -> Option<Response> {
    let ms = w.started.elapsed().as_millis();
    let ok = |message: String| {
        Some(Response::Ok {
            body: ResponseBody::Initiated { message },
        })
    };
    let fail = |message: String| Some(Response::Error { message });
    match (w.goal, outcome) {
        (Goal::Established { with_child: false }, Outcome::IkeUp) => ok(format!(
            "{}: IKE SA #{id} established in {ms} ms",
            w.connection
        )),
        (Goal::Established { with_child: true }, Outcome::ChildUp(what)) => ok(format!(
            "{}: IKE SA #{id} established, {what} in {ms} ms",
            w.connection
        )),
        (Goal::Established { .. }, Outcome::ChildFailed(what)) => fail(format!(
            "{}: IKE SA #{id} established, but {what}",
            w.connection
        )),
        (Goal::Established { .. }, Outcome::Gone(reason)) => {
            fail(format!("{}: {reason}", w.connection))
        }
        (Goal::Rekeyed, Outcome::ChildUp(what)) => Some(Response::Ok {
            body: ResponseBody::Rekeyed {
                message: format!("{}: rekeyed, {what} in {ms} ms", w.connection),
            },
        }),
        (Goal::Rekeyed, Outcome::ChildFailed(what) | Outcome::Gone(what)) => {
            fail(format!("{}: {what}", w.connection))
        }
        (Goal::IkeRekeyed, Outcome::IkeRekeyed(new_id)) => Some(Response::Ok {
            body: ResponseBody::Rekeyed {
                message: format!(
                    "{}: IKE SA #{id} rekeyed, now IKE SA #{new_id}, in {ms} ms",
                    w.connection
                ),
            },
        }),
        (Goal::IkeRekeyed, Outcome::Gone(what)) => fail(format!("{}: {what}", w.connection)),
        (Goal::Deleted, Outcome::Gone(_)) => {
            w.ike_ids.retain(|x| *x != id);
            w.ike_ids.is_empty().then(|| Response::Ok {
                body: ResponseBody::Terminated {
                    message: format!("{}: IKE SA deleted in {ms} ms", w.connection),
                },
            })
        }
        _ => None,
    }
}

/// Until one of `sockets` may have a datagram.
fn any_readable(sockets: &[Arc<IkeSocket>]) -> impl std::future::Future<Output = ()> + '_ {
    std::future::poll_fn(move |cx| {
        if sockets.iter().any(|s| s.poll_readable(cx).is_ready()) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn lease_info(lease: tern_engine::LeaseInfo) -> tern_control::LeaseInfo {
    tern_control::LeaseInfo {
        pool: lease.pool,
        address: lease.address,
        identity: lease.identity,
        online: lease.online,
    }
}
