//! The engine's Environment in the daemon: the OS random source and the kernel.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tern_crypto::BufferedRandom;
use tern_engine::Environment;

use crate::kernel::Kernel;

pub struct DaemonEnv {
    rng: BufferedRandom,
    kernel: Arc<Mutex<dyn Kernel>>,
}

impl DaemonEnv {
    pub fn new(kernel: Arc<Mutex<dyn Kernel>>) -> DaemonEnv {
        DaemonEnv {
            rng: BufferedRandom::new(),
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

    /// The same GETSA counters `list-sas` shows; dead peer detection reads them
    /// once per dpd_delay per CHILD SA.
    fn inbound_bytes(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Option<u64> {
        self.kernel
            .lock()
            .expect("kernel lock")
            .counters(src, dst, spi)
            .map(|c| c.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Counters;
    use tern_engine::KernelOp;

    /// A kernel with one inbound SA that has carried 4242 bytes.
    struct OneSa;

    impl Kernel for OneSa {
        fn allocate_spi(&mut self, _: IpAddr, _: IpAddr, _: u32) -> Result<u32, String> {
            Err("not needed".into())
        }
        fn apply(&mut self, _: KernelOp) -> Result<(), String> {
            Ok(())
        }
        fn counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Option<Counters> {
            let known = (src, dst, spi) == (peer(), us(), 0xc000_0001);
            known.then_some(Counters {
                bytes: 4242,
                packets: 3,
            })
        }
    }

    fn peer() -> IpAddr {
        "192.0.2.2".parse().unwrap()
    }

    fn us() -> IpAddr {
        "192.0.2.1".parse().unwrap()
    }

    #[test]
    fn inbound_bytes_come_from_the_kernel_counters() {
        let mut env = DaemonEnv::new(Arc::new(Mutex::new(OneSa)));
        assert_eq!(env.inbound_bytes(peer(), us(), 0xc000_0001), Some(4242));
        assert_eq!(env.inbound_bytes(peer(), us(), 0xc000_0002), None);
    }
}
