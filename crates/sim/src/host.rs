//! One simulated host: a tern engine, a seeded environment and a model of the
//! kernel's IPsec state built from the engine's XFRM operations.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tern_engine::config::EngineConfig;
use tern_engine::{Engine, Environment, KernelOp, PolicyDirection};

/// xorshift64*: deterministic from its seed, and plenty for a simulation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64's finalizer: seeds that differ in any bit give unrelated
        // states (never zero, which xorshift cannot leave).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An ESP SA as the kernel would hold it. The key is kept only as a fingerprint:
/// enough to tell whether both ends derived the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSa {
    pub key_fingerprint: u64,
    pub reqid: u32,
    /// Order of installation: the kernel sends on the newest outbound SA.
    pub installed: u64,
}

/// The kernel's IPsec state, and every operation that made no sense.
#[derive(Debug, Default)]
pub struct Kernel {
    /// (src, dst, spi) -> SA
    pub sas: BTreeMap<(IpAddr, IpAddr, u32), KernelSa>,
    /// Inbound SPIs (our address, SPI) the engine holds with no SA here: chosen
    /// for an exchange and not given up (see `Host::drain_local`).
    pub larval: BTreeSet<(IpAddr, u32)>,
    /// (direction, tunnel src, tunnel dst, reqid) of each policy.
    pub policies: BTreeSet<(u8, IpAddr, IpAddr, u32)>,
    pub errors: Vec<String>,
    installs: u64,
}

impl Kernel {
    fn apply(&mut self, op: KernelOp) {
        match op {
            KernelOp::AddSa(sa) => {
                let id = (sa.src, sa.dst, sa.spi);
                self.installs += 1;
                let new = KernelSa {
                    key_fingerprint: fingerprint(sa.key.expose()),
                    reqid: sa.reqid,
                    installed: self.installs,
                };
                if self.sas.insert(id, new).is_some() {
                    self.errors.push(format!("SA {:08x} added twice", sa.spi));
                }
            }
            KernelOp::DeleteSa { src, dst, spi } => {
                let id = (src, dst, spi);
                if self.sas.remove(&id).is_none() {
                    self.errors.push(format!("deleting unknown SA {spi:08x}"));
                }
            }
            KernelOp::MoveSa(m) => match self.sas.remove(&(m.src, m.dst, m.spi)) {
                Some(sa) => {
                    self.sas.insert((m.new_src, m.new_dst, m.spi), sa);
                }
                None => self.errors.push(format!("moving unknown SA {:08x}", m.spi)),
            },
            // Policies are known here by direction, endpoints and reqid: the
            // replacement takes the place of those of its direction and reqid.
            KernelOp::ReplacePolicy(p) => {
                let (dir, _, _, reqid) = policy_key(&p);
                self.policies.retain(|&(d, _, _, r)| (d, r) != (dir, reqid));
                self.policies.insert(policy_key(&p));
            }
            KernelOp::AddPolicy(p) => {
                if !self.policies.insert(policy_key(&p)) {
                    self.errors.push(format!("policy added twice: {p:?}"));
                }
            }
            KernelOp::DeletePolicy(p) => {
                if !self.policies.remove(&policy_key(&p)) {
                    self.errors.push(format!("deleting unknown policy {p:?}"));
                }
            }
        }
    }

    /// The SA this host would send ESP to `dst` on: the newest one, as the kernel
    /// picks it, provided an outbound policy leads there.
    pub fn outbound_to(&self, src: IpAddr, dst: IpAddr) -> Option<(u32, &KernelSa)> {
        let has_policy = self
            .policies
            .iter()
            .any(|&(dir, s, d, _)| dir == OUT && s == src && d == dst);
        if !has_policy {
            return None;
        }
        self.sas
            .iter()
            .filter(|((s, d, _), _)| *s == src && *d == dst)
            .max_by_key(|(_, sa)| sa.installed)
            .map(|((_, _, spi), sa)| (*spi, sa))
    }

    /// Whether ESP from `src` with `spi` and this key would be accepted.
    pub fn accepts(&self, src: IpAddr, dst: IpAddr, spi: u32, key_fingerprint: u64) -> bool {
        let has_policy = self
            .policies
            .iter()
            .any(|&(dir, s, d, _)| dir == IN && s == src && d == dst);
        has_policy
            && self
                .sas
                .get(&(src, dst, spi))
                .is_some_and(|sa| sa.key_fingerprint == key_fingerprint)
    }
}

const IN: u8 = 0;
const OUT: u8 = 1;
const FWD: u8 = 2;

fn policy_key(p: &tern_engine::PolicyInstall) -> (u8, IpAddr, IpAddr, u32) {
    let dir = match p.direction {
        PolicyDirection::In => IN,
        PolicyDirection::Out => OUT,
        PolicyDirection::Fwd => FWD,
    };
    (dir, p.tunnel_src, p.tunnel_dst, p.reqid)
}

/// FNV-1a: a fingerprint, not a hash anyone must not invert (the keys are the
/// simulation's own, made from a seeded RNG).
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The engine's window on the simulated world.
struct SimEnv {
    rng: Rng,
    /// The virtual instant first asked about, which is `SIM_CALENDAR_START`.
    calendar_anchor: Option<std::time::Instant>,
}

/// 2026-01-01T00:00:00Z: the calendar date simulations start on.
const SIM_CALENDAR_START: u64 = 1_767_225_600;

impl Environment for SimEnv {
    fn random(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    fn local_address_for(&mut self, _remote: IpAddr) -> Option<IpAddr> {
        None
    }

    fn wall_clock(&mut self, now: std::time::Instant) -> std::time::SystemTime {
        let anchor = *self.calendar_anchor.get_or_insert(now);
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(SIM_CALENDAR_START)
            + now.saturating_duration_since(anchor)
    }
}

/// A host: its address, its engine and its kernel.
pub struct Host {
    pub addr: SocketAddr,
    pub engine: Engine,
    kernel: Arc<Mutex<Kernel>>,
    pub events: Vec<tern_engine::Event>,
    /// Changes whenever an operation is applied to this host's kernel, and is
    /// unique across hosts (a restarted one included) and threads: what was
    /// computed from the kernel's SAs and policies holds while it does, and
    /// reading it takes no lock.
    pub kernel_generation: u64,
}

/// The source of kernel generations.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

impl Host {
    /// A freshly started host. `seed` makes its randomness (and SPIs) its own.
    pub fn start(addr: SocketAddr, config: EngineConfig, seed: u64) -> Host {
        let kernel = Arc::new(Mutex::new(Kernel::default()));
        let env = SimEnv {
            rng: Rng::new(seed),
            calendar_anchor: None,
        };
        Host {
            addr,
            engine: Engine::new(config, Box::new(env)),
            kernel,
            events: Vec::new(),
            kernel_generation: next_generation(),
        }
    }

    pub fn kernel(&self) -> MutexGuard<'_, Kernel> {
        self.kernel.lock().expect("kernel lock")
    }

    /// Applies the engine's kernel operations, answers its counter reads (at
    /// `now`: this kernel counts no traffic, so it cannot tell) and collects its
    /// events.
    pub fn drain_local(&mut self, now: std::time::Instant) {
        let mut changed = false;
        loop {
            if let Some(op) = self.engine.poll_kernel_op() {
                let mut kernel = self.kernel.lock().expect("kernel lock");
                kernel.apply(op);
                while let Some(op) = self.engine.poll_kernel_op() {
                    kernel.apply(op);
                }
                changed = true;
            }
            let Some(read) = self.engine.poll_counter_read() else {
                break;
            };
            let answer = tern_engine::KernelEvent::InboundBytes {
                src: read.src,
                dst: read.dst,
                spi: read.spi,
                bytes: None,
            };
            self.engine.handle_kernel_event(now, answer);
        }
        let held = self.engine.inbound_spis();
        let mut kernel = self.kernel.lock().expect("kernel lock");
        let installed: BTreeSet<(IpAddr, u32)> = kernel.sas.keys().map(|k| (k.1, k.2)).collect();
        let larval: BTreeSet<(IpAddr, u32)> = held
            .into_iter()
            .filter(|h| !installed.contains(h))
            .collect();
        if larval != kernel.larval {
            kernel.larval = larval;
            changed = true;
        }
        drop(kernel);
        if changed {
            self.kernel_generation = next_generation();
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }
}
