//! The engine's Environment in the daemon: the OS random source, the routing
//! table and the system clock. Nothing here touches the kernel's IPsec state: the
//! engine chooses its inbound SPIs itself and asks for byte counters through an
//! output the daemon answers (see `daemon::flush`).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Instant, SystemTime};

use tern_crypto::BufferedRandom;
use tern_engine::Environment;

pub struct DaemonEnv {
    rng: BufferedRandom,
}

impl Default for DaemonEnv {
    fn default() -> DaemonEnv {
        DaemonEnv {
            rng: BufferedRandom::new(),
        }
    }
}

impl Environment for DaemonEnv {
    fn random(&mut self, buf: &mut [u8]) {
        // Without randomness no key can be made safely; there is nothing to fall back to.
        self.rng.fill(buf).expect("the OS random source failed");
    }

    fn wall_clock(&mut self, now: Instant) -> SystemTime {
        // `now` is at most a moment old; step back by its age.
        SystemTime::now() - Instant::now().saturating_duration_since(now)
    }

    fn local_address_for(&mut self, remote: IpAddr) -> Option<IpAddr> {
        // A connected UDP socket learns the route's source address without sending.
        let bind: SocketAddr = if remote.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let socket = UdpSocket::bind(bind).ok()?;
        socket.connect(SocketAddr::new(remote, 500)).ok()?;
        socket.local_addr().ok().map(|a| a.ip())
    }
}
