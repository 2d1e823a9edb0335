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

mod control;
mod datagrams;
mod observe;

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
    /// Where EAP-RADIUS messages go (`[radius]`), and their answers come back.
    radius: Option<Arc<crate::radius::Relayer>>,
    radius_answers: crate::radius::Answers,
    radius_answered: Option<mpsc::UnboundedReceiver<(u64, tern_engine::RadiusAnswer)>>,
    /// Accounting requests on their way: a stopping ternd waits for them.
    accounting: tokio::task::JoinSet<()>,
}

/// What every engine's loop shares with the others.
#[derive(Clone)]
pub struct Shared {
    /// Counted by the socket readers.
    pub sockets_counted: Arc<SocketCounters>,
    /// How SAs ended (see `history`).
    pub history: SharedHistory,
    /// How long IKE SAs took to come up, for the metrics.
    pub setup_times: crate::metrics::SetupTimes,
    /// The RADIUS servers of `[radius]`, if any.
    pub radius: Option<Arc<crate::radius::Relayer>>,
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
        let (radius_answers, radius_answered) = mpsc::unbounded_channel();
        Daemon {
            radius: shared.radius,
            radius_answers,
            radius_answered: Some(radius_answered),
            accounting: tokio::task::JoinSet::new(),
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
        let mut radius_answered = self.radius_answered.take().expect("a daemon runs once");
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
                Some((ike, answer)) = radius_answered.recv() => {
                    self.engine.handle_radius_answer(std::time::Instant::now(), ike, answer);
                }
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
        // The Stops of the sessions just ended are on their way: let them
        // arrive (each gives up after its tries), or the server would count
        // those sessions as open.
        if !self.accounting.is_empty() {
            let waited = tokio::time::timeout(Duration::from_secs(10), async {
                while self.accounting.join_next().await.is_some() {}
            })
            .await;
            if waited.is_err() {
                tracing::warn!(
                    "stopping without the answers to {} RADIUS accounting requests",
                    self.accounting.len()
                );
            }
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
        // The engine's counter reads are answered here, off its own path: an
        // answer may let a timer run that was waiting for it, whose kernel
        // operations then go out before its datagrams too. Its traffic reads
        // (RADIUS accounting) are answered before each operation: the one just
        // taken may delete the SA they read.
        {
            let mut kernel = self.kernel.lock().expect("kernel lock");
            loop {
                // Every operation first, then the refusals: the engine's answer to
                // one (its CHILD SA retired) may cancel operations queued with it.
                let mut refusals = Vec::new();
                let mut traffic = Vec::new();
                while let Some(op) = self.engine.poll_kernel_op() {
                    while let Some(read) = self.engine.poll_traffic_read() {
                        traffic.push(crate::kernel::traffic_answer(&mut *kernel, read));
                    }
                    let added = crate::kernel::added_sa(&op);
                    if let Err(e) = kernel.apply(op) {
                        tracing::error!("kernel: {e}");
                        refusals.extend(crate::kernel::sa_refusal(added, &e));
                    }
                }
                while let Some(read) = self.engine.poll_traffic_read() {
                    traffic.push(crate::kernel::traffic_answer(&mut *kernel, read));
                }
                // Figures for accounting only: they queue no kernel operation.
                let now = std::time::Instant::now();
                for answer in traffic {
                    self.engine.handle_kernel_event(now, answer);
                }
                if !refusals.is_empty() {
                    let now = std::time::Instant::now();
                    for refusal in refusals {
                        self.engine.handle_kernel_event(now, refusal);
                    }
                    continue;
                }
                let Some(read) = self.engine.poll_counter_read() else {
                    break;
                };
                let answer = crate::kernel::counter_answer(&mut *kernel, read);
                self.engine
                    .handle_kernel_event(std::time::Instant::now(), answer);
            }
        }
        while let Some(t) = self.engine.poll_transmit() {
            self.send(t);
        }
        while let Some(relay) = self.engine.poll_radius_request() {
            crate::radius::relay(self.radius.as_ref(), relay, &self.radius_answers);
        }
        while let Some(record) = self.engine.poll_accounting() {
            crate::radius::account(self.radius.as_ref(), record, &mut self.accounting);
        }
        // Forget the requests that are done.
        while self.accounting.try_join_next().is_some() {}
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
