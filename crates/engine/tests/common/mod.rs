//! A deterministic world for two engines: a virtual clock, a seeded RNG, a fake
//! kernel that applies the engine's XFRM operations, and a network that can lose
//! or duplicate datagrams on demand.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tern_engine::config::*;
use tern_engine::{
    Engine, Environment, Event, KernelEvent, KernelOp, PolicyDirection, PolicyInstall, Refusal,
    TrafficLimits, Transmit, UdpEncap,
};

/// xorshift64*: plenty for simulations, and reproducible from a seed.
pub struct SeededEnv {
    state: u64,
    pub kernel: std::sync::Arc<std::sync::Mutex<FakeKernel>>,
    pub calendar: Calendar,
}

/// The calendar date at a virtual instant; wall-clock time runs with virtual time.
pub type Calendar = std::sync::Arc<std::sync::Mutex<(Instant, SystemTime)>>;

/// 2027-06-01T00:00:00Z: inside the validity of the test certificates
/// (tests/fixtures/certs, valid 2026-11-23 to 2036-11-20).
pub const CALENDAR_START: u64 = 1_811_808_000;

impl Environment for SeededEnv {
    fn random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        }
    }

    fn local_address_for(&mut self, _remote: IpAddr) -> Option<IpAddr> {
        None
    }

    fn wall_clock(&mut self, now: Instant) -> SystemTime {
        let (at, date) = *self.calendar.lock().unwrap();
        date + now.saturating_duration_since(at)
    }
}

/// What the kernel would hold after the engine's operations.
#[derive(Default, Debug)]
pub struct FakeKernel {
    /// (src, dst, spi) -> key material
    pub sas: BTreeMap<(IpAddr, IpAddr, u32), Vec<u8>>,
    /// Inbound SPIs (our address, SPI) the engine holds with no SA installed:
    /// chosen for an exchange and not given up (see `Node::drain_local`).
    pub larval: BTreeSet<(IpAddr, u32)>,
    pub policies: BTreeSet<(String, u32)>,
    pub errors: Vec<String>,
    /// Bytes each SA has carried, as GETSA would report them.
    pub bytes: BTreeMap<(IpAddr, IpAddr, u32), u64>,
    /// Packets each SA has carried, likewise.
    pub packets: BTreeMap<(IpAddr, IpAddr, u32), u64>,
    /// The ESP-in-UDP ports of the SAs that have them.
    pub encap: BTreeMap<(IpAddr, IpAddr, u32), UdpEncap>,
    /// The traffic limits of every SA.
    pub limits: BTreeMap<(IpAddr, IpAddr, u32), TrafficLimits>,
    /// The reqid of every SA, for ACQUIREs.
    pub reqids: BTreeMap<(IpAddr, IpAddr, u32), u32>,
    /// The outbound policies in full, by `policy_key`, for ACQUIREs.
    pub outbound: BTreeMap<String, PolicyInstall>,
    /// How many policies were deleted so far.
    pub policies_deleted: usize,
    /// Moments traffic between the hosts would have been dropped: the last SA
    /// from one to the other deleted (only tunnels meant to stay up check this).
    pub gaps: Vec<String>,
    /// Inbound SAs (our address, SPI) another XFRM user holds: adding one of ours
    /// there is refused (EEXIST).
    pub taken: BTreeSet<(IpAddr, u32)>,
    /// Another XFRM user takes the SPI of the next SA added to this address
    /// just before it (joins `taken`).
    pub take_next_to: Option<IpAddr>,
    /// Every SA added is refused with these words (an algorithm, or ESP itself,
    /// missing from the kernel).
    pub refusing: Option<String>,
}

impl FakeKernel {
    /// Applies `op`, or returns the refusal the engine must hear of.
    pub fn apply(&mut self, op: KernelOp) -> Option<KernelEvent> {
        match op {
            KernelOp::AddSa(sa) => {
                let id = (sa.src, sa.dst, sa.spi);
                if self.take_next_to.take_if(|to| *to == sa.dst).is_some() {
                    self.taken.insert((sa.dst, sa.spi));
                }
                let taken = self.taken.contains(&(sa.dst, sa.spi));
                if let Some(error) = self
                    .refusing
                    .clone()
                    .or(taken.then(|| "File exists".into()))
                {
                    return Some(KernelEvent::SaRefused {
                        src: sa.src,
                        dst: sa.dst,
                        spi: sa.spi,
                        refusal: Refusal {
                            error,
                            spi_taken: taken,
                        },
                    });
                }
                if let Some(encap) = sa.encap {
                    self.encap.insert(id, encap);
                }
                self.limits.insert(id, sa.limits);
                self.reqids.insert(id, sa.reqid);
                if self.sas.insert(id, sa.key.expose().to_vec()).is_some() {
                    self.errors.push(format!("SA {:08x} added twice", sa.spi));
                }
            }
            KernelOp::DeleteSa { src, dst, spi } => {
                let id = (src, dst, spi);
                self.encap.remove(&id);
                self.limits.remove(&id);
                self.reqids.remove(&id);
                if self.sas.remove(&id).is_none() {
                    self.errors.push(format!("deleting unknown SA {spi:08x}"));
                }
                let last = !self.sas.keys().any(|k| (k.0, k.1) == (src, dst));
                if last {
                    self.gaps.push(format!(
                        "no SA left from {src} to {dst} (deleted {spi:08x})"
                    ));
                }
            }
            KernelOp::MoveSa(m) => {
                let id = (m.src, m.dst, m.spi);
                let Some(key) = self.sas.remove(&id) else {
                    self.errors.push(format!("moving unknown SA {:08x}", m.spi));
                    return None;
                };
                let moved = (m.new_src, m.new_dst, m.spi);
                // tern-xfrm re-adds an SA that changes address with the new
                // encapsulation (MOBIKE); one updated in place keeps its own.
                let in_place = id == moved;
                if self.encap.remove(&id).is_some() != m.encap.is_some() && in_place {
                    self.errors
                        .push(format!("SA {:08x}: encapsulation added or removed", m.spi));
                }
                if let Some(encap) = m.encap {
                    self.encap.insert(moved, encap);
                }
                if let Some(limits) = self.limits.remove(&id) {
                    self.limits.insert(moved, limits);
                }
                if let Some(bytes) = self.bytes.remove(&id) {
                    self.bytes.insert(moved, bytes);
                }
                if let Some(packets) = self.packets.remove(&id) {
                    self.packets.insert(moved, packets);
                }
                if let Some(reqid) = self.reqids.remove(&id) {
                    self.reqids.insert(moved, reqid);
                }
                self.sas.insert(moved, key);
            }
            KernelOp::ReplacePolicy(p) => {
                let key = policy_key(&p);
                let before = self.policies.len();
                self.policies.retain(|(k, _)| *k != key);
                if self.policies.len() == before {
                    self.errors.push(format!("replacing unknown policy {p:?}"));
                }
                self.policies.insert((key.clone(), p.reqid));
                if p.direction == PolicyDirection::Out {
                    self.outbound.insert(key, p);
                }
            }
            // As in the kernel, a policy is known by its selector and direction: a
            // second one with another reqid is refused all the same.
            KernelOp::AddPolicy(p) => {
                let key = policy_key(&p);
                if self.policies.iter().any(|(k, _)| *k == key) {
                    self.errors.push(format!("policy added twice: {p:?}"));
                } else {
                    self.policies.insert((key.clone(), p.reqid));
                    if p.direction == PolicyDirection::Out {
                        self.outbound.insert(key, p);
                    }
                }
            }
            KernelOp::DeletePolicy(p) => {
                let key = policy_key(&p);
                let before = self.policies.len();
                self.policies.retain(|(k, _)| *k != key);
                self.outbound.remove(&key);
                self.policies_deleted += 1;
                if self.policies.len() == before {
                    self.errors.push(format!("deleting unknown policy {p:?}"));
                }
            }
        }
        None
    }

    /// An outbound packet from `src` to `dst`: the ACQUIRE the kernel sends when
    /// an out policy matches it and no SA of the policy's reqid goes to its tunnel
    /// end yet (XFRM's behaviour; the kernel would also hold off repeats for a
    /// while, which the engine must not count on).
    pub fn outbound_packet(&self, src: IpAddr, dst: IpAddr) -> Option<KernelEvent> {
        let policy = self
            .outbound
            .values()
            .filter(|p| covers(&p.src, src) && covers(&p.dst, dst))
            .min_by_key(|p| p.priority)?;
        let has_sa = self.reqids.iter().any(|((s, d, _), reqid)| {
            *reqid == policy.reqid && (*s, *d) == (policy.tunnel_src, policy.tunnel_dst)
        });
        (!has_sa).then_some(KernelEvent::Acquire {
            reqid: policy.reqid,
            src: policy.tunnel_src,
            dst: policy.tunnel_dst,
        })
    }

    /// ESP traffic arrives: every SA into `dst` counts `bytes` more.
    pub fn receive_esp(&mut self, dst: IpAddr, bytes: u64) {
        let inbound: Vec<_> = self.sas.keys().filter(|k| k.1 == dst).copied().collect();
        for id in inbound {
            *self.bytes.entry(id).or_default() += bytes;
        }
    }

    /// `count` packets of `size` bytes go through every SA `dst`-ward
    /// (`inbound`) or from `addr` (`!inbound`).
    pub fn carry(&mut self, addr: IpAddr, inbound: bool, count: u64, size: u64) {
        let sas: Vec<_> = self
            .sas
            .keys()
            .filter(|k| if inbound { k.1 == addr } else { k.0 == addr })
            .copied()
            .collect();
        for id in sas {
            *self.bytes.entry(id).or_default() += count * size;
            *self.packets.entry(id).or_default() += count;
        }
    }

    /// What GETSA would say of the SA `id`: `None` when it is not there.
    pub fn traffic(&self, id: (IpAddr, IpAddr, u32)) -> Option<tern_engine::SaTraffic> {
        self.sas.contains_key(&id).then(|| tern_engine::SaTraffic {
            bytes: self.bytes.get(&id).copied().unwrap_or(0),
            packets: self.packets.get(&id).copied().unwrap_or(0),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sas.is_empty() && self.larval.is_empty() && self.policies.is_empty()
    }
}

/// Whether a selector's prefix holds `addr`.
fn covers(sel: &tern_engine::Selector, addr: IpAddr) -> bool {
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ((net, width), (a, w)) = (bits(sel.addr), bits(addr));
    if width != w {
        return false;
    }
    let host_bits = width - u32::from(sel.prefix_len);
    host_bits >= width || (net >> host_bits) == (a >> host_bits)
}

fn policy_key(p: &tern_engine::PolicyInstall) -> String {
    let dir = match p.direction {
        PolicyDirection::In => "in",
        PolicyDirection::Out => "out",
        PolicyDirection::Fwd => "fwd",
    };
    format!(
        "{dir} {}/{} -> {}/{}",
        p.src.addr, p.src.prefix_len, p.dst.addr, p.dst.prefix_len
    )
}

pub struct Node {
    pub engine: Engine,
    pub addr: SocketAddr,
    pub kernel: std::sync::Arc<std::sync::Mutex<FakeKernel>>,
    pub events: Vec<Event>,
    pub calendar: Calendar,
    /// Traffic reads go unanswered (see `set_answer_traffic`).
    silent_traffic: bool,
}

impl Node {
    pub fn new(config: EngineConfig, addr: SocketAddr, seed: u64) -> Node {
        Node::sharded(config, addr, seed, tern_engine::Shard::ONLY)
    }

    /// One engine of a sharded daemon.
    pub fn sharded(
        config: EngineConfig,
        addr: SocketAddr,
        seed: u64,
        shard: tern_engine::Shard,
    ) -> Node {
        let kernel = std::sync::Arc::new(std::sync::Mutex::new(FakeKernel::default()));
        let calendar = std::sync::Arc::new(std::sync::Mutex::new((
            Instant::now(),
            UNIX_EPOCH + Duration::from_secs(CALENDAR_START),
        )));
        let env = SeededEnv {
            state: seed | 1,
            kernel: kernel.clone(),
            calendar: calendar.clone(),
        };
        Node {
            engine: Engine::sharded(config, Box::new(env), shard),
            addr,
            kernel,
            events: Vec::new(),
            calendar,
            silent_traffic: false,
        }
    }

    /// From virtual instant `at` on, this node's wall clock reads `date` (and runs on).
    pub fn set_calendar(&self, at: Instant, date: SystemTime) {
        *self.calendar.lock().unwrap() = (at, date);
    }

    pub fn kernel(&self) -> std::sync::MutexGuard<'_, FakeKernel> {
        self.kernel.lock().unwrap()
    }

    /// `ternctl rekey CONNECTION` on this node: every CHILD SA of it is rekeyed.
    pub fn rekey(&mut self, now: Instant, connection: &str) {
        self.engine
            .handle_command(
                now,
                tern_engine::Command::Rekey {
                    connection: connection.into(),
                },
            )
            .expect("rekey");
    }

    /// `ternctl rekey --ike CONNECTION` on this node.
    pub fn rekey_ike(&mut self, now: Instant, connection: &str) {
        self.engine
            .handle_command(
                now,
                tern_engine::Command::RekeyIke {
                    connection: connection.into(),
                },
            )
            .expect("rekey IKE");
    }

    /// `ternctl terminate CONNECTION` on this node.
    pub fn terminate(&mut self, now: Instant, connection: &str) {
        self.engine
            .handle_command(
                now,
                tern_engine::Command::Terminate {
                    connection: connection.into(),
                },
            )
            .expect("terminate");
    }

    /// A packet from `src` to `dst` leaves this node: the kernel's ACQUIRE, if
    /// any, goes to the engine. Returns whether there was one.
    pub fn send_packet(&mut self, now: Instant, src: &str, dst: &str) -> bool {
        let acquire = self
            .kernel()
            .outbound_packet(src.parse().unwrap(), dst.parse().unwrap());
        match acquire {
            Some(event) => {
                self.engine.handle_kernel_event(now, event);
                true
            }
            None => false,
        }
    }

    /// ESP traffic from the peer arrives at this node's inbound SAs.
    pub fn receive_esp(&self, bytes: u64) {
        self.kernel().receive_esp(self.addr.ip(), bytes);
    }

    /// `count` packets of `size` bytes from the peer through each of this
    /// node's inbound SAs.
    pub fn receive_packets(&self, count: u64, size: u64) {
        self.kernel().carry(self.addr.ip(), true, count, size);
    }

    /// `count` packets of `size` bytes to the peer through each of this
    /// node's outbound SAs.
    pub fn send_packets(&self, count: u64, size: u64) {
        self.kernel().carry(self.addr.ip(), false, count, size);
    }

    /// When `answer_traffic` is false, the engine's traffic reads go
    /// unanswered (a kernel that cannot tell).
    pub fn set_answer_traffic(&mut self, answer: bool) {
        self.silent_traffic = !answer;
    }

    /// Answers the engine's traffic reads from the kernel's counters.
    fn answer_traffic(&mut self, now: Instant) {
        while let Some(read) = self.engine.poll_traffic_read() {
            if self.silent_traffic {
                continue;
            }
            let traffic = self.kernel().traffic((read.src, read.dst, read.spi));
            let answer = KernelEvent::Traffic {
                src: read.src,
                dst: read.dst,
                spi: read.spi,
                traffic,
            };
            self.engine.handle_kernel_event(now, answer);
        }
    }

    /// Applies the engine's kernel operations, answers its counter reads as GETSA
    /// would (at `now`), and collects its events.
    fn drain_local(&mut self, now: Instant) {
        loop {
            let mut refusals = Vec::new();
            while let Some(op) = self.engine.poll_kernel_op() {
                // The SA an operation deletes is read before it goes, as ternd does.
                self.answer_traffic(now);
                refusals.extend(self.kernel.lock().unwrap().apply(op));
            }
            self.answer_traffic(now);
            if !refusals.is_empty() {
                for refusal in refusals {
                    self.engine.handle_kernel_event(now, refusal);
                }
                continue;
            }
            let Some(read) = self.engine.poll_counter_read() else {
                break;
            };
            let id = (read.src, read.dst, read.spi);
            let bytes = {
                let kernel = self.kernel.lock().unwrap();
                kernel
                    .sas
                    .contains_key(&id)
                    .then(|| kernel.bytes.get(&id).copied().unwrap_or(0))
            };
            let answer = KernelEvent::InboundBytes {
                src: read.src,
                dst: read.dst,
                spi: read.spi,
                bytes,
            };
            self.engine.handle_kernel_event(now, answer);
        }
        let held = self.engine.inbound_spis();
        let mut kernel = self.kernel.lock().unwrap();
        let installed: BTreeSet<(IpAddr, u32)> = kernel.sas.keys().map(|k| (k.1, k.2)).collect();
        kernel.larval = held
            .into_iter()
            .filter(|h| !installed.contains(h))
            .collect();
        drop(kernel);
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }
}

/// What the network does with one datagram.
pub enum Fate {
    Deliver,
    Drop,
    Duplicate,
    /// Kept back until `release_held`: a datagram overtaken by later ones.
    Hold,
}

/// The network's behaviour: sees each datagram and whether A sent it.
pub type Network = Box<dyn FnMut(&Transmit, bool) -> Fate>;

pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub start: Instant,
    pub now: Instant,
    /// Decides each datagram's fate; the default delivers everything.
    pub network: Network,
    /// Every datagram sent, (from_a, bytes), for inspection.
    pub wire_log: Vec<(bool, Vec<u8>)>,
    /// Datagrams the network holds back, (from_a, datagram).
    pub held: Vec<(bool, Transmit)>,
    /// A NAT in front of A, if any.
    pub nat: Option<Nat>,
    /// NAT-keepalives sent, (from_a, time); they refresh the NAT but reach no engine.
    pub keepalives: Vec<(bool, Instant)>,
}

/// A NAT in front of A: A's datagrams leave from `public`, with a port the NAT
/// picks per A source port; datagrams to a mapped port go back to A. Mappings
/// idle for `timeout` are forgotten, and the next datagram gets a new port.
pub struct Nat {
    pub public: IpAddr,
    pub timeout: Duration,
    /// (A's address, public port, last used)
    mappings: Vec<(SocketAddr, u16, Instant)>,
    next_port: u16,
}

impl Nat {
    pub fn new(public: &str, timeout: Duration) -> Nat {
        Nat {
            public: public.parse().unwrap(),
            timeout,
            mappings: Vec::new(),
            next_port: 61000,
        }
    }

    fn forget_idle(&mut self, now: Instant) {
        let timeout = self.timeout;
        self.mappings.retain(|m| now - m.2 < timeout);
    }

    /// The public address A's datagram from `private` leaves with.
    fn outbound(&mut self, now: Instant, private: SocketAddr) -> SocketAddr {
        self.forget_idle(now);
        if let Some(m) = self.mappings.iter_mut().find(|m| m.0 == private) {
            m.2 = now;
            return SocketAddr::new(self.public, m.1);
        }
        let port = self.next_port;
        self.next_port += 1;
        self.mappings.push((private, port, now));
        SocketAddr::new(self.public, port)
    }

    /// Where a datagram to the public `addr` goes inside, if a mapping holds it.
    fn inbound(&mut self, now: Instant, addr: SocketAddr) -> Option<SocketAddr> {
        self.forget_idle(now);
        if addr.ip() != self.public {
            return None;
        }
        let m = self.mappings.iter_mut().find(|m| m.1 == addr.port())?;
        m.2 = now;
        Some(m.0)
    }

    /// A's public port for datagrams from `private`, if still mapped at `now`.
    pub fn public_port(&self, now: Instant, private: SocketAddr) -> Option<u16> {
        self.mappings
            .iter()
            .find(|m| m.0 == private && now - m.2 < self.timeout)
            .map(|m| m.1)
    }
}

pub const A_ADDR: &str = "192.0.2.1:500";
pub const B_ADDR: &str = "192.0.2.2:500";

impl Pair {
    pub fn new(a: EngineConfig, b: EngineConfig) -> Pair {
        let start = Instant::now();
        let calendar = UNIX_EPOCH + Duration::from_secs(CALENDAR_START);
        let (a, b) = (
            Node::new(a, A_ADDR.parse().unwrap(), 1),
            Node::new(b, B_ADDR.parse().unwrap(), 2),
        );
        a.set_calendar(start, calendar);
        b.set_calendar(start, calendar);
        Pair {
            a,
            b,
            start,
            now: start,
            network: Box::new(|_, _| Fate::Deliver),
            wire_log: Vec::new(),
            held: Vec::new(),
            nat: None,
            keepalives: Vec::new(),
        }
    }

    /// Demo-like configurations: A is moon (initiator), B is sun.
    pub fn demo() -> Pair {
        Pair::new(moon_config(), sun_config())
    }

    /// A initiates `demo`; both ends then have one established IKE SA with one
    /// CHILD SA.
    #[allow(dead_code)] // not every test binary uses it
    pub fn up(mut self) -> Pair {
        self.initiate_from_a("demo");
        self.deliver();
        for node in [&self.a, &self.b] {
            let sas = node.engine.list_sas(self.now);
            assert_eq!(sas.len(), 1);
            assert_eq!(sas[0].state, "ESTABLISHED", "{:?}", node.events);
            assert_eq!(sas[0].children.len(), 1);
        }
        self
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Delivers datagrams until both sides are quiet (no time passes).
    pub fn deliver(&mut self) {
        for _ in 0..1000 {
            self.a.drain_local(self.now);
            self.b.drain_local(self.now);
            let mut moved = false;
            while let Some(t) = self.a.engine.poll_transmit() {
                moved = true;
                self.carry(t, true);
            }
            while let Some(t) = self.b.engine.poll_transmit() {
                moved = true;
                self.carry(t, false);
            }
            if !moved {
                self.a.drain_local(self.now);
                self.b.drain_local(self.now);
                return;
            }
        }
        panic!("the engines kept talking for 1000 rounds");
    }

    fn carry(&mut self, t: Transmit, from_a: bool) {
        self.wire_log.push((from_a, t.payload.clone()));
        let copies = match (self.network)(&t, from_a) {
            Fate::Deliver => 1,
            Fate::Drop => 0,
            Fate::Duplicate => 2,
            Fate::Hold => {
                self.held.push((from_a, t));
                return;
            }
        };
        self.arrive(t, from_a, copies);
    }

    /// Delivers what the network held back, in the order it was sent.
    pub fn release_held(&mut self) {
        for (from_a, t) in std::mem::take(&mut self.held) {
            self.arrive(t, from_a, 1);
        }
    }

    fn arrive(&mut self, t: Transmit, from_a: bool, copies: usize) {
        let (sender, receiver) = if from_a {
            (self.a.addr, self.b.addr)
        } else {
            (self.b.addr, self.a.addr)
        };
        assert_eq!(
            t.local.ip(),
            sender.ip(),
            "datagram sent from the wrong address"
        );
        // Through the NAT: A's source is rewritten; B's answers find A by mapping.
        let (source, destination) = match (&mut self.nat, from_a) {
            (Some(nat), true) => (nat.outbound(self.now, t.local), t.remote),
            (Some(nat), false) => match nat.inbound(self.now, t.remote) {
                Some(inside) => (t.local, inside),
                None => return, // no mapping (any more): the NAT drops it
            },
            (None, _) => (t.local, t.remote),
        };
        assert_eq!(
            destination.ip(),
            receiver.ip(),
            "datagram sent to the wrong address"
        );
        if t.is_nat_keepalive() {
            self.keepalives.push((from_a, self.now));
            return;
        }
        let to = if from_a { &mut self.b } else { &mut self.a };
        for _ in 0..copies {
            to.engine
                .handle_datagram(self.now, destination, source, &t.payload);
        }
    }

    /// Delivers, then advances the clock deadline by deadline until `limit` has passed.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.deliver();
            let next = [self.a.engine.poll_timeout(), self.b.engine.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.engine.handle_timeout(self.now);
                    self.b.engine.handle_timeout(self.now);
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }

    pub fn initiate_from_a(&mut self, connection: &str) {
        self.a
            .engine
            .handle_command(
                self.now,
                tern_engine::Command::Initiate {
                    connection: connection.into(),
                },
            )
            .expect("initiate");
    }
}

pub fn cidr(s: &str) -> TsConfig {
    let (a, l) = s.split_once('/').unwrap();
    TsConfig {
        addr: a.parse().unwrap(),
        prefix_len: l.parse().unwrap(),
        protocol: 0,
        port_start: 0,
        port_end: u16::MAX,
    }
}

pub fn gcm128() -> Encryption {
    Encryption::AesGcm16 { key_bits: 128 }
}

pub fn connection(
    local: &str,
    remote: &str,
    local_id: &str,
    remote_id: &str,
    local_ts: &str,
    remote_ts: &str,
) -> Connection {
    Connection {
        name: "demo".into(),
        local_addrs: vec![local.parse().unwrap()],
        remote_addrs: vec![remote.parse().unwrap()],
        remote_port: 500,
        local_id: Identity::Fqdn(local_id.into()),
        remote_id: Some(Identity::Fqdn(remote_id.into())),
        auth: AuthConfig::Psk(b"a shared secret for tests".to_vec()),
        remote_auth: Default::default(),
        ike_proposals: vec![IkeProposal {
            encryption: vec![gcm128()],
            integrity: vec![],
            prf: vec![Prf::HmacSha256],
            key_exchange: vec![KeyExchange::X25519],
        }],
        children: vec![ChildConfig {
            name: "net".into(),
            local_ts: vec![cidr(local_ts)],
            remote_ts: vec![cidr(remote_ts)],
            esp_proposals: vec![EspProposal {
                encryption: vec![gcm128()],
                integrity: vec![],
                key_exchange: vec![],
                esn: false,
            }],
            mode: Mode::Tunnel,
            start_action: StartAction::None,
            lifetime: Default::default(),
            traffic: Default::default(),
            dpd_action: Default::default(),
            close_action: Default::default(),
        }],
        start_action: StartAction::None,
        lifetime: tern_engine::config::Lifetime::ike_default(),
        dpd_delay: Duration::ZERO,
        reauth_time: Duration::ZERO,
        keyingtries: 0,
        rekey_adapt: true,
        mobike: true,
        pools: Vec::new(),
    }
}

pub fn moon_config() -> EngineConfig {
    EngineConfig {
        connections: vec![connection(
            "192.0.2.1",
            "192.0.2.2",
            "moon.tern.example",
            "sun.tern.example",
            "10.1.0.0/24",
            "10.2.0.0/24",
        )],
        ..Default::default()
    }
}

pub fn sun_config() -> EngineConfig {
    EngineConfig {
        connections: vec![connection(
            "192.0.2.2",
            "192.0.2.1",
            "sun.tern.example",
            "moon.tern.example",
            "10.2.0.0/24",
            "10.1.0.0/24",
        )],
        ..Default::default()
    }
}
