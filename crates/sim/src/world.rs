//! The simulation loop: two hosts, a network between them, a virtual clock that
//! jumps from one deadline to the next, and a watch on whether traffic could pass.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tern_engine::config::{EngineConfig, StartAction};
use tern_engine::{Command, EndKind, Event, Stats, Transmit};

use crate::host::{Host, Rng};
use crate::report::{Outage, Report, SideReport, TimelineEntry};
use crate::scenario::{Action, NetworkSettings, Scenario, ScheduledEvent, Side};

/// Timeline entries kept in the report; later ones are only counted.
const TIMELINE_LIMIT: usize = 200;
/// After the scenario: how long both sides get, on a lossless network and with no
/// more events, to finish what they started, so the end state can be judged. A
/// request sent just before the network turned clean may wait for its next
/// retransmission: 76 s at the end of the default schedule, so twice that and more.
const SETTLE: Duration = Duration::from_secs(300);
/// After the scenario, when the end state is first judged: past the inbound
/// grace period (5 s), and past the 10 s an engine waits for the peer to create
/// a deleted SA again before it does so itself (`adapt::RECREATE_WITHIN`): a run
/// that ends just after the peer's DELETE is not yet down for good.
const FIRST_LOOK: Duration = Duration::from_secs(15);
/// Steps at one instant before the simulation concludes the engines are looping.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 100_000;
/// Datagrams in one run before the simulation concludes the engines are in a
/// runaway (a month of keepalives and rekeys is a few hundred thousand).
const MAX_DATAGRAMS: u64 = 5_000_000;
/// Steps (deadlines handled) in one run before the simulation concludes the
/// engines are in a runaway: a month of default lifetimes takes a few thousand.
const MAX_STEPS: u64 = 20_000_000;

/// Runs a scenario to its end.
pub fn run(scenario: &Scenario) -> Result<Report, String> {
    run_keeping(scenario, TIMELINE_LIMIT)
}

/// As [`run`], keeping up to `timeline_limit` timeline entries.
pub fn run_keeping(scenario: &Scenario, timeline_limit: usize) -> Result<Report, String> {
    let mut world = World::new(scenario)?;
    world.timeline_limit = timeline_limit;
    world.run()
}

/// A datagram on its way.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    arrives: Instant,
    /// Sending order, so equal arrival times keep it (and the heap is total).
    seq: u64,
    to: usize,
    from: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

struct World {
    start: Instant,
    now: Instant,
    /// When the scenario ends (the settling period comes after).
    end: Instant,
    seed: u64,
    hosts: [Host; 2],
    configs: [EngineConfig; 2],
    /// Counters of earlier incarnations of each host (before restarts).
    earlier: [Stats; 2],
    restarts: [u64; 2],
    established: [u64; 2],
    /// CHILD SAs each side deleted as replaced by a rekey.
    replaced: [u64; 2],
    network: NetworkSettings,
    rng: Rng,
    wire: BinaryHeap<Reverse<InFlight>>,
    sent: u64,
    /// When local last sent something through its NAT.
    nat_refreshed: Option<Instant>,
    /// Datagrams sent so far, both ways.
    datagrams: u64,
    /// Deadlines handled so far.
    steps: u64,
    events: VecDeque<ScheduledEvent>,
    watch: TunnelWatch,
    /// Whether ESP passes both ways, and the kernel generations it was
    /// computed at: asked at every step, it changes only with the kernels.
    passes_at: Option<([u64; 2], bool)>,
    timeline: Vec<TimelineEntry>,
    timeline_omitted: u64,
    timeline_limit: usize,
    /// The latest note once the timeline is full: an outage's cause is the
    /// latest note, kept or not.
    latest_omitted: Option<String>,
}

impl World {
    fn new(s: &Scenario) -> Result<World, String> {
        let local = host_address(&s.local, "local")?;
        let peer = host_address(&s.peer, "peer")?;
        if local.ip() == peer.ip() {
            return Err(format!(
                "both sides have the address {}: give them different local_addrs",
                local.ip()
            ));
        }
        let start = Instant::now();
        Ok(World {
            start,
            now: start,
            end: start + s.duration,
            seed: s.seed,
            hosts: [
                Host::start(local, s.local.clone(), host_seed(s.seed, 0, 0)),
                Host::start(peer, s.peer.clone(), host_seed(s.seed, 1, 0)),
            ],
            configs: [s.local.clone(), s.peer.clone()],
            earlier: Default::default(),
            restarts: [0; 2],
            established: [0; 2],
            replaced: [0; 2],
            network: s.network,
            rng: Rng::new(s.seed ^ 0x6e65_7477_6f72_6b00),
            wire: BinaryHeap::new(),
            sent: 0,
            nat_refreshed: None,
            datagrams: 0,
            steps: 0,
            events: s
                .events
                .iter()
                .cloned()
                .map(|mut e| {
                    e.at = e.at.min(s.duration);
                    e
                })
                .collect(),
            watch: TunnelWatch::default(),
            passes_at: None,
            timeline: Vec::new(),
            timeline_omitted: 0,
            timeline_limit: TIMELINE_LIMIT,
            latest_omitted: None,
        })
    }

    fn run(mut self) -> Result<Report, String> {
        self.boot(0);
        self.boot(1);
        if !self.configs.iter().any(has_start_action) {
            // Nobody starts by configuration: local brings its connections up.
            for name in initiable(&self.configs[0]) {
                self.command(0, Command::Initiate { connection: name });
            }
        }
        let end = self.end;
        self.advance_until(end, true)?;
        let up = self.is_up();
        self.watch.observe(self.now, up, || None);
        let mut report = self.watch.report(self.start, self.now);

        // Let what is under way finish on a clean network, then judge the state.
        self.network.loss = 0.0;
        self.network.nat_timeout = None;
        self.events.clear();
        let quiet = self.settle()?;
        report.kernels_agree = quiet.is_some();
        let sides = [0, 1].map(|i| self.side_report(i));
        report.duplicate_child_sas = sides.iter().map(|s| s.duplicate_child_sas).sum();
        [report.local, report.peer] = sides;
        report.duration_s = (end - self.start).as_secs_f64();
        report.seed = self.seed;
        report.timeline = self.timeline;
        report.timeline_omitted = self.timeline_omitted;
        report.verdict = crate::verdict::judge(
            &self.hosts[0].engine,
            self.hosts[0].engine.stats(),
            self.start,
            self.now,
        );
        Ok(report)
    }

    /// Runs until `until`; with `watching`, scenario events fire and outages count.
    fn advance_until(&mut self, until: Instant, watching: bool) -> Result<(), String> {
        let mut steps_here = 0;
        loop {
            self.settle_messages();
            if watching {
                let up = self.is_up();
                // Copied only when the tunnel goes down, not at every step.
                let latest = self
                    .latest_omitted
                    .as_ref()
                    .or(self.timeline.last().map(|e| &e.what));
                let note = || latest.cloned();
                if let Some(entry) = self.watch.observe(self.now, up, note) {
                    self.note(None, entry);
                }
            }
            let next_event = self
                .events
                .front()
                .filter(|_| watching)
                .map(|e| self.start + e.at);
            let next = [
                self.wire.peek().map(|Reverse(d)| d.arrives),
                self.hosts[0].engine.poll_timeout(),
                self.hosts[1].engine.poll_timeout(),
                next_event,
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = self.now.max(until);
                return Ok(());
            };
            if next <= self.now {
                steps_here += 1;
                if steps_here > MAX_STEPS_AT_ONE_INSTANT {
                    return Err(format!(
                        "the engines made no progress at {:.3} s: {MAX_STEPS_AT_ONE_INSTANT} steps without time passing",
                        (self.now - self.start).as_secs_f64()
                    ));
                }
            } else {
                steps_here = 0;
                self.now = next;
            }
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(format!(
                    "the engines handled more than {MAX_STEPS} deadlines by {:.3} s: a runaway (next deadlines: local {:?}, peer {:?})",
                    (self.now - self.start).as_secs_f64(),
                    self.hosts[0].engine.poll_timeout().map(|t| t - self.now),
                    self.hosts[1].engine.poll_timeout().map(|t| t - self.now),
                ));
            }
            if self.datagrams > MAX_DATAGRAMS {
                return Err(format!(
                    "the engines sent more than {MAX_DATAGRAMS} datagrams by {:.3} s: a runaway",
                    (self.now - self.start).as_secs_f64()
                ));
            }
            self.deliver_due();
            for i in 0..2 {
                let _in = self.span(i).entered();
                self.hosts[i].engine.handle_timeout(self.now);
            }
            while watching
                && self
                    .events
                    .front()
                    .is_some_and(|e| self.start + e.at <= self.now)
            {
                let event = self.events.pop_front().expect("checked");
                self.fire(event.action);
            }
        }
    }

    /// After the scenario: runs on until both kernels agree (checked every 100 ms
    /// after the inbound grace period: SAs rekeyed every few seconds agree only
    /// between the old inbound SAs' grace and the next rekey), at most SETTLE.
    /// Returns when they agreed.
    fn settle(&mut self) -> Result<Option<Instant>, String> {
        let give_up = self.now + SETTLE;
        let first_look = self.now + FIRST_LOOK;
        while self.now < give_up {
            let step = (self.now + Duration::from_millis(100)).min(give_up);
            self.advance_until(step, false)?;
            if self.now >= first_look && self.kernels_agree() && self.ike_settled() {
                return Ok(Some(self.now));
            }
        }
        Ok(None)
    }

    fn boot(&mut self, i: usize) {
        let names: Vec<String> = self.configs[i]
            .connections
            .iter()
            .filter(|c| c.start_action == StartAction::Start && !c.remote_addrs.is_empty())
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            self.command(i, Command::Initiate { connection: name });
        }
    }

    fn command(&mut self, i: usize, command: Command) {
        let what = format!("{command:?}");
        let result = {
            let _in = self.span(i).entered();
            self.hosts[i].engine.handle_command(self.now, command)
        };
        if let Err(e) = result {
            self.note(Some(i), format!("{what} refused: {e}"));
        }
    }

    fn fire(&mut self, action: Action) {
        match action {
            Action::Restart(side) => {
                let i = index(side);
                self.note(Some(i), "restarted: all IKE and kernel state lost".into());
                self.restart(i);
            }
            Action::Initiate(side, connection) => {
                self.command(index(side), Command::Initiate { connection })
            }
            Action::Terminate(side, connection) => {
                self.note(Some(index(side)), format!("terminate {connection}"));
                self.command(index(side), Command::Terminate { connection })
            }
            Action::Rekey(side, connection) => {
                self.command(index(side), Command::Rekey { connection })
            }
            Action::Network(n) => {
                self.note(
                    None,
                    format!(
                        "network: loss {}, delay {:?}, jitter {:?}, nat_timeout {:?}",
                        n.loss, n.delay, n.jitter, n.nat_timeout
                    ),
                );
                self.network = n;
            }
        }
    }

    fn restart(&mut self, i: usize) {
        let stats = self.hosts[i].engine.stats().clone();
        add_stats(&mut self.earlier[i], &stats);
        self.restarts[i] += 1;
        let addr = self.hosts[i].addr;
        let seed = host_seed(self.seed, i as u64, self.restarts[i]);
        self.hosts[i] = Host::start(addr, self.configs[i].clone(), seed);
        self.boot(i);
    }

    /// Moves datagrams onto the wire and applies kernel operations and events,
    /// until both engines have nothing more to say at this instant.
    /// A span naming the side and the virtual time, so that the engines' logs
    /// (RUST_LOG=...) read as one timeline.
    fn span(&self, i: usize) -> tracing::Span {
        let t = self.now.saturating_duration_since(self.start).as_secs_f64();
        tracing::info_span!("sim", t, side = SIDE_NAMES[i])
    }

    fn settle_messages(&mut self) {
        for i in 0..2 {
            self.hosts[i].drain_local(self.now);
            while let Some(t) = self.hosts[i].engine.poll_transmit() {
                self.send(i, t);
            }
            self.hosts[i].drain_local(self.now);
            let events = std::mem::take(&mut self.hosts[i].events);
            for e in events {
                self.record(i, e);
            }
        }
    }

    fn send(&mut self, from: usize, t: Transmit) {
        self.datagrams += 1;
        let to = 1 - from;
        if t.remote.ip() != self.hosts[to].addr.ip() {
            self.note(
                Some(from),
                format!("sent a datagram to {}, where no host is", t.remote),
            );
            return;
        }
        if from == 0 {
            self.nat_refreshed = Some(self.now);
        }
        if self.network.loss > 0.0 && self.rng.unit() < self.network.loss {
            return;
        }
        let jitter = self.network.jitter.mul_f64(self.rng.unit());
        self.sent += 1;
        self.wire.push(Reverse(InFlight {
            arrives: self.now + self.network.delay + jitter,
            seq: self.sent,
            to,
            from: t.local,
            dst: t.remote,
            payload: t.payload,
        }));
    }

    fn deliver_due(&mut self) {
        while self
            .wire
            .peek()
            .is_some_and(|Reverse(d)| d.arrives <= self.now)
        {
            let Reverse(d) = self.wire.pop().expect("peeked");
            if d.to == 0 && self.nat_expired() {
                continue;
            }
            let _in = self.span(d.to).entered();
            self.hosts[d.to]
                .engine
                .handle_datagram(self.now, d.dst, d.from, &d.payload);
        }
    }

    fn nat_expired(&self) -> bool {
        match self.network.nat_timeout {
            None => false,
            Some(timeout) => self
                .nat_refreshed
                .is_none_or(|t| self.now.duration_since(t) > timeout),
        }
    }

    fn record(&mut self, i: usize, event: Event) {
        let what = match event {
            Event::IkeSaEstablished { .. } => {
                self.established[i] += 1;
                return;
            }
            Event::IkeSaFailed {
                connection, reason, ..
            } => format!("{connection}: IKE SA failed: {reason}"),
            Event::IkeSaDeleted {
                connection, reason, ..
            } => format!("{connection}: IKE SA deleted: {reason}"),
            Event::ChildSaFailed {
                connection,
                child,
                reason,
                ..
            } => format!("{connection}/{child}: CHILD SA failed: {reason}"),
            Event::ChildSaDeleted { reason, .. } if reason.kind == EndKind::Rekeyed => {
                self.replaced[i] += 1;
                return;
            }
            Event::ChildSaDeleted {
                connection,
                child,
                reason,
                ..
            } => {
                format!("{connection}/{child}: CHILD SA deleted: {reason}")
            }
            Event::EndAction {
                connection,
                child,
                reason,
                ..
            } => format!("{connection}/{child}: {reason}"),
            _ => return,
        };
        self.note(Some(i), what);
    }

    fn note(&mut self, side: Option<usize>, what: String) {
        if self.timeline.len() >= self.timeline_limit {
            self.timeline_omitted += 1;
            self.latest_omitted = Some(what);
            return;
        }
        self.timeline.push(TimelineEntry {
            at_s: (self.now - self.start).as_secs_f64(),
            side: side.map(|i| SIDE_NAMES[i]),
            what,
        });
    }

    /// Whether traffic could pass both ways now.
    fn is_up(&mut self) -> bool {
        let generations = [
            self.hosts[0].kernel_generation,
            self.hosts[1].kernel_generation,
        ];
        let passes = match self.passes_at {
            Some((at, passes)) if at == generations => passes,
            _ => {
                let passes = self.passes(0, 1) && self.passes(1, 0);
                self.passes_at = Some((generations, passes));
                passes
            }
        };
        passes && !self.nat_expired()
    }

    /// Whether ESP from host `a` to host `b` would arrive and be accepted.
    fn passes(&self, a: usize, b: usize) -> bool {
        let (src, dst) = (self.hosts[a].addr.ip(), self.hosts[b].addr.ip());
        let sender = self.hosts[a].kernel();
        let Some((spi, sa)) = sender.outbound_to(src, dst) else {
            return false;
        };
        self.hosts[b]
            .kernel()
            .accepts(src, dst, spi, sa.key_fingerprint)
    }

    /// No IKE SA on either side is coming up or going: two empty kernels agree
    /// too, but not for long when an IKE SA still retransmits its DELETE and its
    /// end calls for a restart.
    fn ike_settled(&self) -> bool {
        self.hosts.iter().all(|h| {
            h.engine
                .list_sas(self.now)
                .iter()
                .all(|sa| sa.state == "ESTABLISHED")
        })
    }

    /// Both kernels hold the same SAs, with the same keys, and no reserved SPI.
    fn kernels_agree(&self) -> bool {
        let (a, b) = (self.hosts[0].kernel(), self.hosts[1].kernel());
        a.larval.is_empty()
            && b.larval.is_empty()
            && a.sas.len() == b.sas.len()
            && a.sas.iter().all(|(id, sa)| {
                b.sas
                    .get(id)
                    .is_some_and(|o| o.key_fingerprint == sa.key_fingerprint)
            })
    }

    fn side_report(&self, i: usize) -> SideReport {
        let mut stats = self.earlier[i].clone();
        add_stats(&mut stats, self.hosts[i].engine.stats());
        let sas = self.hosts[i].engine.list_sas(self.now);
        let mut installed: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for sa in &sas {
            for child in sa.children.iter().filter(|c| c.state == "INSTALLED") {
                *installed
                    .entry((sa.connection.clone(), child.name.clone()))
                    .or_default() += 1;
            }
        }
        SideReport {
            ike_rekeys: stats.ike_rekeys_initiated,
            child_rekeys: stats.child_rekeys_initiated,
            child_sas_replaced: self.replaced[i],
            collisions: stats.child_rekey_collisions,
            hard_expiries: stats.child_hard_expiries + stats.ike_hard_expiries,
            rekeys_adapted: stats.rekeys_adapted,
            ike_sas_established: self.established[i],
            messages_sent: stats.sent,
            retransmits: stats.retransmits_sent,
            restarts: self.restarts[i],
            ike_sas_at_end: sas.len() as u64,
            child_sas_at_end: installed.values().sum(),
            duplicate_child_sas: installed.values().map(|n| n.saturating_sub(1)).sum(),
            kernel_errors: self.hosts[i].kernel().errors.clone(),
        }
    }
}

/// Outages: stretches of time, after the tunnel first came up, when it was down.
#[derive(Default)]
struct TunnelWatch {
    first_up: Option<Instant>,
    down_since: Option<(Instant, Option<String>)>,
    outages: Vec<(Instant, Instant, Option<String>)>,
}

impl TunnelWatch {
    /// Records the state at `now`; returns a timeline line when an outage ends.
    /// `last_note` says why, should the tunnel turn out to have just gone down.
    fn observe(
        &mut self,
        now: Instant,
        up: bool,
        last_note: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        match (up, self.first_up, self.down_since.take()) {
            (true, None, _) => {
                self.first_up = Some(now);
                None
            }
            (true, Some(_), Some((since, why))) => {
                let secs = (now - since).as_secs_f64();
                self.outages.push((since, now, why));
                Some(format!("tunnel up again after an outage of {secs:.3} s"))
            }
            (false, Some(_), None) => {
                self.down_since = Some((now, last_note()));
                None
            }
            (_, _, down) => {
                self.down_since = down;
                None
            }
        }
    }

    fn report(&self, start: Instant, end: Instant) -> Report {
        let secs = |t: Instant| (t - start).as_secs_f64();
        let mut outages: Vec<Outage> = self
            .outages
            .iter()
            .map(|(from, to, why)| Outage {
                start_s: secs(*from),
                end_s: secs(*to),
                duration_s: (*to - *from).as_secs_f64(),
                ongoing: false,
                after: why.clone(),
            })
            .collect();
        if let Some((from, why)) = &self.down_since {
            outages.push(Outage {
                start_s: secs(*from),
                end_s: secs(end),
                duration_s: (end - *from).as_secs_f64(),
                ongoing: true,
                after: why.clone(),
            });
        }
        Report {
            first_up_s: self.first_up.map(secs),
            max_outage_s: outages.iter().map(|o| o.duration_s).fold(0.0, f64::max),
            total_outage_s: outages.iter().map(|o| o.duration_s).fold(0.0, |a, b| a + b),
            up_at_end: self.first_up.is_some() && self.down_since.is_none(),
            outages,
            ..Report::default()
        }
    }
}

/// The hosts' names, by index.
const SIDE_NAMES: [&str; 2] = ["local", "peer"];

fn index(side: Side) -> usize {
    match side {
        Side::Local => 0,
        Side::Peer => 1,
    }
}

fn host_seed(seed: u64, host: u64, incarnation: u64) -> u64 {
    seed.wrapping_mul(0x100_0000_01b3) ^ (host << 48) ^ (incarnation << 32) ^ 0x7465_726e
}

/// A host's address: its first connection's first local address (port 500).
fn host_address(config: &EngineConfig, side: &str) -> Result<SocketAddr, String> {
    config
        .connections
        .iter()
        .find_map(|c| c.local_addrs.first())
        .map(|ip| SocketAddr::new(*ip, 500))
        .ok_or_else(|| {
            format!("[{side}]: the simulation needs the host's address: set local_addrs in a connection")
        })
}

fn has_start_action(config: &EngineConfig) -> bool {
    config
        .connections
        .iter()
        .any(|c| c.start_action == StartAction::Start)
}

fn initiable(config: &EngineConfig) -> Vec<String> {
    config
        .connections
        .iter()
        .filter(|c| !c.remote_addrs.is_empty())
        .map(|c| c.name.clone())
        .collect()
}

fn add_stats(total: &mut Stats, more: &Stats) {
    total.sent += more.sent;
    total.received += more.received;
    total.retransmits_sent += more.retransmits_sent;
    total.child_rekeys_initiated += more.child_rekeys_initiated;
    total.child_rekey_collisions += more.child_rekey_collisions;
    total.child_hard_expiries += more.child_hard_expiries;
    total.rekeys_adapted += more.rekeys_adapted;
    total.pfs_reauths += more.pfs_reauths;
    total.ike_rekey_collisions += more.ike_rekey_collisions;
    total.ike_rekeys_initiated += more.ike_rekeys_initiated;
    total.ike_hard_expiries += more.ike_hard_expiries;
    total.dpd_checks_sent += more.dpd_checks_sent;
    total.dead_peers += more.dead_peers;
    total.restarts += more.restarts;
}
