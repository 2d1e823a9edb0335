//! The load generator: tern engines as initiators over real UDP sockets.
//!
//! Each IKE SA comes with a CHILD SA, or, with a childless profile, alone
//! (RFC 6023; see [`crate::childless`] for what is checked of the responder).
//!
//! `concurrency` workers each own one UDP socket (so one source port) and
//! establish IKE SAs one after another, each with a fresh engine and its own
//! identity, until `count` have been tried. An established SA is left to the
//! responder (no DELETE is sent), so the responder ends holding them all.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tern_crypto::BufferedRandom;
use tern_engine::{Command, Engine, Environment, Event, Transmit};
use tokio::net::UdpSocket;

use crate::childless;
use crate::profile::{Initiator, Profile, CONNECTION};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub responder: SocketAddr,
    pub profile: Profile,
    /// IKE SAs to establish.
    pub count: u32,
    /// IKE SAs in flight at once (one socket, so one source port, each).
    pub concurrency: usize,
    /// Give up on one IKE SA after this long.
    pub timeout: Duration,
    /// Identity number of the first IKE SA, so runs can use disjoint identities.
    pub first_index: u32,
    /// Source addresses, taken in turn by the workers; empty: the one the route
    /// to the responder picks. A sharded ternd puts each peer address in one
    /// engine, so a load from one address would exercise only one.
    pub sources: Vec<IpAddr>,
}

/// What the run achieved, as tern-load prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub established: u32,
    pub failed: u32,
    /// Whether the IKE SAs were childless (no CHILD SA asked for or made).
    pub childless: bool,
    /// Established IKE SAs (with their CHILD SA unless childless) per second of the run.
    pub rate_per_s: f64,
    /// Time from sending IKE_SA_INIT to the CHILD SA being installed (childless:
    /// to the IKE SA being established).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub elapsed_s: f64,
    pub concurrency: usize,
    /// Why IKE SAs failed, with how many failed so (at most 10 reasons).
    pub failures: BTreeMap<String, u32>,
}

/// UDP-encapsulated IKE (port 4500) carries four zero octets first (RFC 3948).
const NON_ESP_MARKER: [u8; 4] = [0; 4];
const NAT_T_PORT: u16 = 4500;

pub async fn run(spec: LoadSpec) -> anyhow::Result<Summary> {
    let sources = if spec.sources.is_empty() {
        vec![route_source(spec.responder)?]
    } else {
        spec.sources.clone()
    };
    let initiators = sources
        .iter()
        .map(|ip| Initiator::new(&spec.profile, *ip, spec.responder))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..spec.concurrency.max(1) {
        let source = w % sources.len();
        let socket = UdpSocket::bind(SocketAddr::new(sources[source], 0)).await?;
        let initiator = initiators[source].clone();
        let (spec, next) = (spec.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            worker(socket, &spec, &initiator, &next).await
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = BTreeMap::new();
    let mut failed = 0;
    for w in workers {
        for outcome in w.await?? {
            match outcome {
                Ok(latency) => latencies.push(latency),
                Err(reason) => {
                    failed += 1;
                    if failures.len() < 10 || failures.contains_key(&reason) {
                        *failures.entry(reason).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Summary {
        established: latencies.len() as u32,
        failed,
        childless: spec.profile.childless,
        rate_per_s: latencies.len() as f64 / elapsed,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        elapsed_s: elapsed,
        concurrency: spec.concurrency,
        failures,
    })
}

/// Nearest-rank percentile of sorted latencies, in milliseconds (0 if none).
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// The address this host sends from to reach `responder`.
fn route_source(responder: SocketAddr) -> anyhow::Result<IpAddr> {
    let any: SocketAddr = if responder.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(responder)?;
    Ok(probe.local_addr()?.ip())
}

type Outcome = Result<Duration, String>;

async fn worker(
    socket: UdpSocket,
    spec: &LoadSpec,
    initiator: &Initiator,
    next: &AtomicU32,
) -> anyhow::Result<Vec<Outcome>> {
    let local = socket.local_addr()?;
    let mut outcomes = Vec::new();
    let mut buf = vec![0u8; 65536];
    // One random source per worker, not one per IKE SA (see BufferedRandom).
    let rng = Arc::new(Mutex::new(BufferedRandom::new()));
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= spec.count {
            return Ok(outcomes);
        }
        let engine = Engine::new(
            initiator.for_sa(spec.first_index.wrapping_add(i), local.port()),
            Box::new(OsEnv::new(rng.clone())?),
        );
        let started = Instant::now();
        let childless = spec.profile.childless;
        let result = establish(engine, &socket, local, spec.timeout, childless, &mut buf).await?;
        outcomes.push(result.map(|()| started.elapsed()));
    }
}

/// Drives one initiator engine until its CHILD SA is installed (childless: its
/// IKE SA is established without one), it fails, or `timeout` passes. Socket
/// errors end the run; protocol failures end the SA.
async fn establish(
    mut engine: Engine,
    socket: &UdpSocket,
    local: SocketAddr,
    timeout: Duration,
    childless: bool,
    buf: &mut [u8],
) -> anyhow::Result<Result<(), String>> {
    let deadline = Instant::now() + timeout;
    let initiate = Command::Initiate {
        connection: CONNECTION.into(),
    };
    if let Err(e) = engine.handle_command(Instant::now(), initiate) {
        return Ok(Err(e));
    }
    loop {
        while let Some(t) = engine.poll_transmit() {
            send(socket, &t).await?;
        }
        while engine.poll_kernel_op().is_some() {}
        let mut ike_up = false;
        while let Some(event) = engine.poll_event() {
            match event {
                Event::ChildSaInstalled { .. } if childless => {
                    return Ok(Err("a CHILD SA came up in a childless IKE SA".into()))
                }
                Event::ChildSaInstalled { .. } => return Ok(Ok(())),
                Event::IkeSaEstablished { .. } if childless => ike_up = true,
                Event::IkeSaFailed { reason, .. } | Event::ChildSaFailed { reason, .. } => {
                    return Ok(Err(reason.text))
                }
                _ => {}
            }
        }
        if ike_up {
            return Ok(childless::judge_established(&engine, Instant::now()));
        }
        let now = Instant::now();
        if now >= deadline {
            let what = if childless { "IKE SA" } else { "CHILD SA" };
            return Ok(Err(format!("no {what} within {timeout:?}")));
        }
        let wake = engine.poll_timeout().map_or(deadline, |t| t.min(deadline));
        tokio::select! {
            received = socket.recv_from(buf) => {
                let (len, from) = received?;
                let mut datagram = &buf[..len];
                if from.port() == NAT_T_PORT {
                    match datagram.strip_prefix(&NON_ESP_MARKER) {
                        Some(ike) => datagram = ike,
                        None => continue, // ESP, which a load run never carries
                    }
                }
                if childless
                    && childless::init_response_announces_childless(datagram) == Some(false)
                {
                    return Ok(Err(childless::NOT_ANNOUNCED.into()));
                }
                engine.handle_datagram(Instant::now(), local, from, datagram);
            }
            _ = tokio::time::sleep_until(wake.into()) => engine.handle_timeout(Instant::now()),
        }
    }
}

async fn send(socket: &UdpSocket, t: &Transmit) -> std::io::Result<()> {
    if t.remote.port() == NAT_T_PORT {
        let framed = [&NON_ESP_MARKER[..], &t.payload].concat();
        socket.send_to(&framed, t.remote).await?;
    } else {
        socket.send_to(&t.payload, t.remote).await?;
    }
    Ok(())
}

/// The OS random source (shared by a worker's IKE SAs).
struct OsEnv {
    rng: Arc<Mutex<BufferedRandom>>,
}

impl OsEnv {
    fn new(rng: Arc<Mutex<BufferedRandom>>) -> anyhow::Result<OsEnv> {
        Ok(OsEnv { rng })
    }
}

impl Environment for OsEnv {
    fn random(&mut self, buf: &mut [u8]) {
        self.rng
            .lock()
            .expect("random source lock")
            .fill(buf)
            .expect("the OS random source failed");
    }

    fn local_address_for(&mut self, _: IpAddr) -> Option<IpAddr> {
        None
    }

    fn wall_clock(&mut self, now: std::time::Instant) -> std::time::SystemTime {
        std::time::SystemTime::now() - std::time::Instant::now().saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&ms, 0.50), 50.0);
        assert_eq!(percentile_ms(&ms, 0.99), 99.0);
        assert_eq!(percentile_ms(&ms[..1], 0.99), 1.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
