//! The engine's Environment in the daemon: the OS random source and the kernel.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use ring::rand::{SecureRandom, SystemRandom};
use tern_engine::Environment;

use crate::kernel::Kernel;

pub struct DaemonEnv {
    rng: SystemRandom,
    kernel: Arc<Mutex<dyn Kernel>>,
}

impl DaemonEnv {
    pub fn new(kernel: Arc<Mutex<dyn Kernel>>) -> DaemonEnv {
        DaemonEnv {
            rng: SystemRandom::new(),
            kernel,
        }
    }
}

impl Environment for DaemonEnv {
    fn random(&mut self, buf: &mut [u8]) {
        // Without randomness no key can be made safely; there is nothing to fall back to.
        self.rng.fill(buf).expect("the OS random source failed");
    }

    fn allocate_spi(&mut self, local: IpAddr, remote: IpAddr, reqid: u32) -> Result<u32, String> {
        self.kernel
            .lock()
            .expect("kernel lock")
            .allocate_spi(local, remote, reqid)
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
