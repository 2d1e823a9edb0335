//! The kernel backend: the engine's XFRM operations translated into SAs and
//! policies, installed through netlink, or — when ternd runs with
//! `--no-kernel` (IKE only) — kept in an in-memory XFRM that answers as the
//! kernel does, so both modes go through the same translation.

use std::net::IpAddr;

use tern_engine::config::{Encryption, Integrity, Mode};
use tern_engine::{
    CounterRead, KernelEvent, KernelOp, PolicyDirection, PolicyInstall, Refusal, SaInstall,
    SaTraffic, TrafficRead,
};
use tern_xfrm::{
    kernel_reqid, EspAlgorithm, FakeXfrm, Lifetime, PolicyDir, PolicyParams, SaParams, Selector,
    Template, Xfrm, XfrmOps, TERN_REQIDS,
};

const REPLAY_WINDOW: u32 = 32;

/// Traffic counters of one SA.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub bytes: u64,
    pub packets: u64,
}

/// Why the kernel did not carry out an operation.
#[derive(Debug)]
pub struct Refused {
    pub message: String,
    /// The kernel holds what was to be added already (EEXIST).
    pub already_exists: bool,
}

impl From<String> for Refused {
    fn from(message: String) -> Refused {
        Refused {
            message,
            already_exists: false,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the engine hears when the kernel would not install an ESP SA: the
/// CHILD SA ends, and is created again after a back-off (tern-engine's
/// `kernel_refusal`). `None` for any other operation.
pub fn sa_refusal(added: Option<(IpAddr, IpAddr, u32)>, refused: &Refused) -> Option<KernelEvent> {
    let (src, dst, spi) = added?;
    Some(KernelEvent::SaRefused {
        src,
        dst,
        spi,
        refusal: Refusal {
            error: refused.message.clone(),
            spi_taken: refused.already_exists,
        },
    })
}

/// The SA an operation adds, if it adds one.
pub fn added_sa(op: &KernelOp) -> Option<(IpAddr, IpAddr, u32)> {
    match op {
        KernelOp::AddSa(sa) => Some((sa.src, sa.dst, sa.spi)),
        _ => None,
    }
}

/// The engine chooses inbound SPIs itself (see tern-engine's `inbound_spis`): the
/// inbound SA's NEWSA is what takes its SPI in the kernel, and the kernel refuses
/// it (EEXIST) should another XFRM user hold that SPI; the engine hears of it
/// ([`sa_refusal`]) and chooses another. There is no ALLOCSPI: a
/// reservation before the SA would be a synchronous netlink call in the middle
/// of handling a datagram, and a larval SA that expires if IKE_AUTH outlasts
/// `net.core.xfrm_acq_expires`.
pub trait Kernel: Send {
    fn apply(&mut self, op: KernelOp) -> Result<(), Refused>;
    /// `None` when the SA is not there (or cannot be read). The in-memory
    /// backend counts nothing: its SAs show zeros.
    fn counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Option<Counters>;
    /// When a packet last went through any of `policies` (Unix seconds), as the
    /// kernel keeps it per policy; `None` if none has been used (or none is there).
    fn last_use(&mut self, _policies: &[PolicyInstall]) -> Option<u64> {
        None
    }
}

/// The kernel's answer to the engine's question `read`: the same GETSA counters
/// `list-sas` shows (dead peer detection asks once per dpd_delay per CHILD SA).
pub fn counter_answer(kernel: &mut dyn Kernel, read: CounterRead) -> KernelEvent {
    KernelEvent::InboundBytes {
        src: read.src,
        dst: read.dst,
        spi: read.spi,
        bytes: kernel
            .counters(read.src, read.dst, read.spi)
            .map(|c| c.bytes),
    }
}

/// The kernel's answer to the engine's traffic read `read` (RADIUS
/// accounting): the SA's GETSA byte and packet counters.
pub fn traffic_answer(kernel: &mut dyn Kernel, read: TrafficRead) -> KernelEvent {
    KernelEvent::Traffic {
        src: read.src,
        dst: read.dst,
        spi: read.spi,
        traffic: kernel
            .counters(read.src, read.dst, read.spi)
            .map(|c| SaTraffic {
                bytes: c.bytes,
                packets: c.packets,
            }),
    }
}

/// The engine's kernel operations on an XFRM: the kernel's ([`Xfrm`]) or
/// an in-memory one ([`FakeXfrm`]).
pub struct XfrmKernel<X> {
    xfrm: X,
}

impl XfrmKernel<Xfrm> {
    /// Opens XFRM and first removes what a previous ternd that died without
    /// cleaning up (kill -9, a crash) left in the kernel: its policies would
    /// otherwise steer traffic into SAs nobody rekeys. tern's SAs and
    /// policies are recognised by their reqid (tern_xfrm::TERN_REQIDS).
    pub fn open() -> Result<XfrmKernel<Xfrm>, String> {
        let mut xfrm = Xfrm::open().map_err(|e| e.to_string())?;
        match xfrm.remove_stale(&TERN_REQIDS) {
            Ok(removed) if removed.is_empty() => {}
            Ok(removed) => {
                for p in &removed.policies {
                    tracing::info!(
                        "removed stale policy {} dir {} (left by a previous ternd)",
                        p.selector,
                        p.dir
                    );
                }
                for sa in &removed.sas {
                    tracing::info!(
                        "removed stale SA {}->{} spi 0x{:08x} (left by a previous ternd)",
                        sa.src,
                        sa.dst,
                        sa.spi
                    );
                }
                tracing::warn!(
                    policies = removed.policies.len(),
                    sas = removed.sas.len(),
                    "a previous ternd left SAs and policies in the kernel; removed them"
                );
            }
            Err(e) => tracing::warn!("could not remove a previous ternd's SAs and policies: {e}"),
        }
        Ok(XfrmKernel { xfrm })
    }

    /// Opens XFRM and nothing more: a further engine's socket, once
    /// [`XfrmKernel::open`] has cleaned up.
    pub fn connect() -> Result<XfrmKernel<Xfrm>, String> {
        Ok(XfrmKernel {
            xfrm: Xfrm::open().map_err(|e| e.to_string())?,
        })
    }
}

impl XfrmKernel<FakeXfrm> {
    /// For `--no-kernel`: nothing is installed, but every operation is
    /// translated and checked as for the kernel. `seed` seeds the in-memory
    /// XFRM (the SPIs of its ALLOCSPI, which ternd does not call).
    pub fn in_memory(seed: u32) -> XfrmKernel<FakeXfrm> {
        XfrmKernel {
            xfrm: FakeXfrm::with_seed(u64::from(seed)),
        }
    }
}

impl<X: XfrmOps + Send> Kernel for XfrmKernel<X> {
    fn apply(&mut self, op: KernelOp) -> Result<(), Refused> {
        let result = match op {
            KernelOp::AddSa(sa) => self.xfrm.add_sa(&sa_params(&sa)?),
            KernelOp::DeleteSa { src, dst, spi } => match self.xfrm.delete_sa(src, dst, spi) {
                // Gone already (the kernel expired it, or an admin flushed it): fine.
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            },
            KernelOp::MoveSa(m) => self.xfrm.move_sa(&tern_xfrm::SaMove {
                src: m.src,
                dst: m.dst,
                spi: m.spi,
                new_src: m.new_src,
                new_dst: m.new_dst,
                encap: m.encap.map(xfrm_encap),
            }),
            KernelOp::AddPolicy(p) => self.xfrm.add_policy(&policy_params(&p)),
            KernelOp::ReplacePolicy(p) => self.xfrm.add_policy(&PolicyParams {
                update: true,
                ..policy_params(&p)
            }),
            KernelOp::DeletePolicy(p) => match self
                .xfrm
                .delete_policy(&selector(&p), direction(p.direction))
            {
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            },
        };
        result.map_err(|e| Refused {
            already_exists: e.is_already_exists(),
            message: e.to_string(),
        })
    }

    fn last_use(&mut self, policies: &[PolicyInstall]) -> Option<u64> {
        policies
            .iter()
            .filter_map(|p| {
                self.xfrm
                    .get_policy(&selector(p), direction(p.direction))
                    .ok()
            })
            .map(|p| p.use_time)
            .max()
            .filter(|t| *t > 0)
    }

    fn counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Option<Counters> {
        let c = self.xfrm.sa_counters(src, dst, spi).ok()?;
        Some(Counters {
            bytes: c.bytes,
            packets: c.packets,
        })
    }
}

fn xfrm_mode(mode: Mode) -> tern_xfrm::Mode {
    match mode {
        Mode::Tunnel => tern_xfrm::Mode::Tunnel,
        Mode::Transport => tern_xfrm::Mode::Transport,
    }
}

/// The kernel's transform for a negotiated ESP algorithm.
fn esp_algorithm(
    encryption: Encryption,
    integrity: Option<Integrity>,
) -> Result<EspAlgorithm, String> {
    Ok(match encryption {
        Encryption::AesGcm16 { key_bits } => EspAlgorithm::AesGcm {
            key_bits,
            icv_octets: 16,
        },
        Encryption::AesGcm12 { key_bits } => EspAlgorithm::AesGcm {
            key_bits,
            icv_octets: 12,
        },
        Encryption::AesGcm8 { key_bits } => EspAlgorithm::AesGcm {
            key_bits,
            icv_octets: 8,
        },
        Encryption::ChaCha20Poly1305 => EspAlgorithm::ChaCha20Poly1305,
        Encryption::AesCbc { key_bits } => {
            let integrity =
                match integrity.ok_or("AES-CBC negotiated without an integrity algorithm")? {
                    Integrity::HmacSha1_96 => tern_xfrm::Integrity::HmacSha1_96,
                    Integrity::HmacSha256_128 => tern_xfrm::Integrity::HmacSha256_128,
                    Integrity::HmacSha384_192 => tern_xfrm::Integrity::HmacSha384_192,
                    Integrity::HmacSha512_256 => tern_xfrm::Integrity::HmacSha512_256,
                };
            EspAlgorithm::AesCbc {
                key_bits,
                integrity,
            }
        }
    })
}

fn xfrm_encap(e: tern_engine::UdpEncap) -> tern_xfrm::UdpEncap {
    tern_xfrm::UdpEncap {
        sport: e.sport,
        dport: e.dport,
    }
}

fn sa_params(sa: &SaInstall) -> Result<SaParams, String> {
    let mut params = SaParams {
        src: sa.src,
        dst: sa.dst,
        spi: sa.spi,
        // In the kernel, tern's reqids live in a band of their own: that is
        // how a restarted ternd recognises what it left behind.
        reqid: kernel_reqid(sa.reqid),
        mode: xfrm_mode(sa.mode),
        aead: None,
        encryption: None,
        integrity: None,
        encap: sa.encap.map(xfrm_encap),
        replay_window: REPLAY_WINDOW,
        esn: sa.esn,
        lifetime: Lifetime {
            soft_bytes: sa.limits.soft_bytes,
            hard_bytes: sa.limits.hard_bytes,
            soft_packets: sa.limits.soft_packets,
            hard_packets: sa.limits.hard_packets,
            ..Lifetime::default()
        },
        selector: sa.selector.map(|(src, dst)| Selector {
            src: src.addr,
            src_prefix: src.prefix_len,
            dst: dst.addr,
            dst_prefix: dst.prefix_len,
            proto: src.protocol,
            sport: src.port,
            sport_mask: src.port_mask,
            dport: dst.port,
            dport_mask: dst.port_mask,
        }),
        // NEWSA: the inbound SA takes its SPI here, or is refused (EEXIST).
        update: false,
        mark: None,
        if_id: None,
    };
    let algorithm = esp_algorithm(sa.encryption, sa.integrity)?;
    algorithm
        .apply_to(&mut params, sa.key.expose())
        .map_err(|e| format!("ESP SA {:08x}: {e}", sa.spi))?;
    Ok(params)
}

fn direction(d: PolicyDirection) -> PolicyDir {
    match d {
        PolicyDirection::In => PolicyDir::In,
        PolicyDirection::Out => PolicyDir::Out,
        PolicyDirection::Fwd => PolicyDir::Fwd,
    }
}

fn selector(p: &PolicyInstall) -> Selector {
    Selector {
        src: p.src.addr,
        src_prefix: p.src.prefix_len,
        dst: p.dst.addr,
        dst_prefix: p.dst.prefix_len,
        proto: p.src.protocol,
        sport: p.src.port,
        sport_mask: p.src.port_mask,
        dport: p.dst.port,
        dport_mask: p.dst.port_mask,
    }
}

fn policy_params(p: &PolicyInstall) -> PolicyParams {
    PolicyParams {
        selector: selector(p),
        dir: direction(p.direction),
        priority: p.priority,
        templates: vec![Template {
            src: p.tunnel_src,
            dst: p.tunnel_dst,
            reqid: kernel_reqid(p.reqid),
            mode: xfrm_mode(p.mode),
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_crypto::Secret;
    use tern_engine::Selector as TrafficSelector;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn subnet(addr: &str, prefix_len: u8) -> TrafficSelector {
        TrafficSelector {
            addr: ip(addr),
            prefix_len,
            protocol: 0,
            port: 0,
            port_mask: 0,
        }
    }

    fn esp_sa(src: &str, dst: &str, spi: u32) -> KernelOp {
        KernelOp::AddSa(SaInstall {
            src: ip(src),
            dst: ip(dst),
            spi,
            reqid: 3,
            mode: Mode::Tunnel,
            encryption: Encryption::AesGcm16 { key_bits: 128 },
            integrity: None,
            key: Secret::new(vec![7; 20]),
            selector: None,
            esn: false,
            encap: None,
            limits: Default::default(),
        })
    }

    fn policy(direction: PolicyDirection) -> PolicyInstall {
        let (src, dst, tunnel_src, tunnel_dst) = match direction {
            PolicyDirection::Out => ("10.1.0.0", "10.2.0.0", "192.0.2.1", "192.0.2.2"),
            _ => ("10.2.0.0", "10.1.0.0", "192.0.2.2", "192.0.2.1"),
        };
        PolicyInstall {
            direction,
            src: subnet(src, 16),
            dst: subnet(dst, 16),
            tunnel_src: ip(tunnel_src),
            tunnel_dst: ip(tunnel_dst),
            reqid: 3,
            mode: Mode::Tunnel,
            priority: 1000,
        }
    }

    #[test]
    fn esp_in_udp_ports_reach_the_kernel() {
        let KernelOp::AddSa(mut sa) = esp_sa("192.0.2.1", "203.0.113.9", 0xc0de_0003) else {
            unreachable!()
        };
        assert_eq!(sa_params(&sa).unwrap().encap, None);
        assert_eq!(
            sa_params(&sa).unwrap().lifetime,
            Lifetime::default(),
            "no limits"
        );
        sa.encap = Some(tern_engine::UdpEncap {
            sport: 4500,
            dport: 61001,
        });
        assert_eq!(
            sa_params(&sa).unwrap().encap,
            Some(tern_xfrm::UdpEncap {
                sport: 4500,
                dport: 61001
            })
        );
    }

    #[test]
    fn traffic_limits_reach_the_kernel() {
        let KernelOp::AddSa(mut sa) = esp_sa("192.0.2.1", "192.0.2.2", 0xc0de_0004) else {
            unreachable!()
        };
        sa.limits = tern_engine::TrafficLimits {
            soft_bytes: 900,
            hard_bytes: 1100,
            soft_packets: 9,
            hard_packets: 11,
        };
        let l = sa_params(&sa).unwrap().lifetime;
        assert_eq!(
            (l.soft_bytes, l.hard_bytes, l.soft_packets, l.hard_packets),
            (900, 1100, 9, 11)
        );
        assert_eq!(
            (l.soft_seconds, l.hard_seconds),
            (0, 0),
            "time is the engine's"
        );
    }

    #[test]
    fn in_memory_backend_keeps_what_the_kernel_would() {
        let mut k = XfrmKernel::in_memory(1);
        let (us, peer) = (ip("192.0.2.1"), ip("192.0.2.2"));
        // The engine chose the inbound SPI: the SA's NEWSA takes it.
        let spi_in = 0xc0de_1234;
        k.apply(esp_sa("192.0.2.2", "192.0.2.1", spi_in)).unwrap();
        k.apply(esp_sa("192.0.2.1", "192.0.2.2", 0xc0de_0001))
            .unwrap();
        let dirs = [
            PolicyDirection::Out,
            PolicyDirection::In,
            PolicyDirection::Fwd,
        ];
        for d in dirs {
            k.apply(KernelOp::AddPolicy(policy(d))).unwrap();
        }

        let sas = k.xfrm.list_sas().unwrap();
        assert_eq!(sas.len(), 2, "{sas:#?}");
        assert!(sas.iter().all(|s| s.reqid == kernel_reqid(3)));
        let policies = k.xfrm.list_policies().unwrap();
        assert_eq!(policies.len(), 3);
        assert!(policies
            .iter()
            .all(|p| p.templates[0].reqid == kernel_reqid(3)));
        let c = k.counters(peer, us, spi_in).unwrap();
        assert_eq!((c.bytes, c.packets), (0, 0));

        // Installing twice is an error, as in the kernel.
        let e = k.apply(KernelOp::AddPolicy(policy(PolicyDirection::Out)));
        assert!(e.unwrap_err().message.contains("already exists"));
        // An inbound SPI another XFRM user holds already: refused, not overwritten,
        // and the engine hears that the SPI is taken.
        let op = esp_sa("192.0.2.2", "192.0.2.1", spi_in);
        let added = added_sa(&op);
        let e = k.apply(op).unwrap_err();
        assert!(e.already_exists && e.message.contains("already exists"));
        let Some(KernelEvent::SaRefused {
            dst, spi, refusal, ..
        }) = sa_refusal(added, &e)
        else {
            panic!("an SA refusal");
        };
        assert_eq!((dst, spi), (us, spi_in));
        assert!(refusal.spi_taken);

        // Deleting what is gone already is fine.
        for _ in 0..2 {
            k.apply(KernelOp::DeleteSa {
                src: peer,
                dst: us,
                spi: spi_in,
            })
            .unwrap();
            for d in dirs {
                k.apply(KernelOp::DeletePolicy(policy(d))).unwrap();
            }
        }
        assert!(k.counters(peer, us, spi_in).is_none());
        assert_eq!(k.xfrm.list_sas().unwrap().len(), 1);
        assert!(k.xfrm.list_policies().unwrap().is_empty());
    }

    /// A kernel with one inbound SA that has carried 4242 bytes.
    struct OneSa;

    impl Kernel for OneSa {
        fn apply(&mut self, _: KernelOp) -> Result<(), Refused> {
            Ok(())
        }
        fn counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Option<Counters> {
            let known = (src, dst, spi) == (ip("192.0.2.2"), ip("192.0.2.1"), 0xc000_0001);
            known.then_some(Counters {
                bytes: 4242,
                packets: 3,
            })
        }
    }

    #[test]
    fn counter_reads_are_answered_from_the_kernel_counters() {
        let read = |spi| CounterRead {
            src: ip("192.0.2.2"),
            dst: ip("192.0.2.1"),
            spi,
        };
        let answer = |spi| match counter_answer(&mut OneSa, read(spi)) {
            KernelEvent::InboundBytes {
                src,
                dst,
                spi: answered,
                bytes,
            } => {
                assert_eq!((src, dst, answered), (read(spi).src, read(spi).dst, spi));
                bytes
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(answer(0xc000_0001), Some(4242));
        assert_eq!(answer(0xc000_0002), None);
    }

    #[test]
    fn traffic_reads_are_answered_with_bytes_and_packets() {
        let read = |spi| TrafficRead {
            src: ip("192.0.2.2"),
            dst: ip("192.0.2.1"),
            spi,
        };
        let answer = |spi| match traffic_answer(&mut OneSa, read(spi)) {
            KernelEvent::Traffic {
                spi: answered,
                traffic,
                ..
            } => {
                assert_eq!(answered, spi);
                traffic
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            answer(0xc000_0001),
            Some(SaTraffic {
                bytes: 4242,
                packets: 3
            })
        );
        assert_eq!(answer(0xc000_0002), None, "gone: not known, not zero");
    }
}
