//! What the kernel tells the engine about its SAs: an ESP SA reached the traffic
//! limit the engine set on it (`rekey_bytes`, `life_packets`, ...), a NAT moved the
//! peer (MAPPING), or a trap's policy matched a packet and wants an SA (ACQUIRE,
//! see `trap.rs`).
//!
//! Time limits are the engine's own timers; traffic limits only the kernel can
//! count, so it reports them as XFRM EXPIRE messages: a soft one asks for a rekey,
//! a hard one says the kernel has already removed the SA.
//!
//! A NAT between the peers may also change its mapping; the kernel notices when
//! authenticated ESP in UDP arrives from a new address or port (a MAPPING
//! message), and the CHILD SAs and their IKE SA follow the peer there.
//!
//! The daemon also reports an ESP SA the kernel would not install (see
//! `kernel_refusal`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::child_sa::ChildState;
use crate::engine::{Engine, Next};
pub use crate::kernel_refusal::Refusal;

/// A kernel notification, as ternd reads it off the XFRM monitor socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvent {
    /// The ESP SA (`src`, `dst`, `spi`) reached its soft limit (`hard == false`)
    /// or its hard limit, and is gone.
    Expire {
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        hard: bool,
    },
    /// ESP in UDP for the inbound SA (`dst`, `spi`) passed the kernel's integrity
    /// check but came from `new`, not the address and port the SA expects.
    Mapping {
        dst: IpAddr,
        spi: u32,
        new: SocketAddr,
    },
    /// An outbound packet matched a policy of `reqid` that has no SA: the
    /// kernel asks for one between `src` and `dst` (a trap doing its job).
    Acquire {
        reqid: u32,
        src: IpAddr,
        dst: IpAddr,
    },
    /// The kernel refused the ESP SA (`src`, `dst`, `spi`) an
    /// [`AddSa`](crate::KernelOp::AddSa) asked for.
    SaRefused {
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        refusal: Refusal,
    },
    /// The answer to a [`CounterRead`](crate::CounterRead): the bytes the ESP SA
    /// (`src`, `dst`, `spi`) has received, `None` if the kernel cannot tell.
    InboundBytes {
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        bytes: Option<u64>,
    },
    /// The answer to a [`TrafficRead`](crate::TrafficRead): what the ESP SA
    /// (`src`, `dst`, `spi`) has carried, `None` if the kernel cannot tell.
    Traffic {
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
        traffic: Option<crate::SaTraffic>,
    },
}

impl Engine {
    pub fn handle_kernel_event(&mut self, now: Instant, event: KernelEvent) {
        match event {
            KernelEvent::Expire { dst, spi, hard, .. } => self.on_expire(now, dst, spi, hard),
            KernelEvent::Mapping { dst, spi, new } => self.on_mapping(now, dst, spi, new),
            KernelEvent::Acquire { reqid, src, dst } => self.on_acquire(now, reqid, src, dst),
            KernelEvent::SaRefused {
                dst, spi, refusal, ..
            } => self.on_sa_refused(now, dst, spi, refusal),
            KernelEvent::InboundBytes {
                dst, spi, bytes, ..
            } => self.on_inbound_bytes(now, dst, spi, bytes),
            KernelEvent::Traffic {
                dst, spi, traffic, ..
            } => self.on_traffic(dst, spi, traffic),
        }
    }

    /// The peer's NAT moved it: everything to that peer follows (RFC 7296 §2.23).
    /// Only with a NAT detected: without one, ESP in UDP is not ours to move.
    fn on_mapping(&mut self, now: Instant, dst: IpAddr, spi: u32, new: SocketAddr) {
        let found = self.sas.iter().find_map(|(ike_spi, sa)| {
            let ours = sa.local.ip() == dst && sa.children.iter().any(|c| c.spi_in == spi);
            (ours && sa.nat.detected() && sa.remote != new).then_some(*ike_spi)
        });
        let Some(ike_spi) = found else {
            return;
        };
        let mut sa = self.sas.remove(&ike_spi).expect("found above");
        tracing::info!(
            ike = sa.unique_id,
            spi_in = format_args!("{spi:08x}"),
            from = %sa.remote,
            to = %new,
            "the peer's NAT mapping changed (seen on ESP)"
        );
        let local = sa.local;
        self.ctx.follow_peer(now, &mut sa, local, new);
        self.settle(now, sa, Next::Keep);
    }

    fn on_expire(&mut self, now: Instant, dst: IpAddr, spi: u32, hard: bool) {
        let found = self.sas.iter().find_map(|(ike_spi, sa)| {
            sa.children
                .iter()
                .find(|c| {
                    (c.spi_in == spi && sa.local.ip() == dst)
                        || (c.spi_out == spi && sa.remote.ip() == dst)
                })
                .map(|c| (*ike_spi, c.unique_id, c.state))
        });
        let Some((ike_spi, child_id, state)) = found else {
            // An SA replaced already (lingering inbound), or not ours.
            tracing::debug!(
                spi = format_args!("{spi:08x}"),
                hard,
                "EXPIRE for an SA no CHILD SA uses now"
            );
            return;
        };
        let mut sa = self.sas.remove(&ike_spi).expect("found above");
        self.ctx
            .on_traffic_limit(now, &mut sa, child_id, state, hard);
        self.settle(now, sa, Next::Keep);
    }
}

impl crate::engine::Ctx {
    fn on_traffic_limit(
        &mut self,
        now: Instant,
        sa: &mut crate::ike_sa::IkeSa,
        child_id: u64,
        state: ChildState,
        hard: bool,
    ) {
        match (hard, state) {
            (false, ChildState::Installed) => {
                tracing::info!(
                    ike = sa.unique_id,
                    child = child_id,
                    "CHILD SA reached rekey_bytes/rekey_packets in the kernel; rekeying"
                );
                self.start_child_rekey(now, sa, child_id);
            }
            // Rekeying already, or on its way out: nothing more to start.
            (false, _) | (true, ChildState::Deleting) => {}
            (true, _) => self.child_hard_expired(now, sa, child_id, "life_bytes/life_packets"),
        }
    }
}
