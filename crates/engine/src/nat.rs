//! NAT traversal (RFC 7296 §2.23, RFC 3948).
//!
//! IKE_SA_INIT carries hashes of the addresses and ports each side sent from
//! and to. When a hash does not match what arrived, a NAT is in the way: the
//! initiator moves to the NAT-T port (4500) from IKE_AUTH on, the CHILD SAs are
//! installed with ESP in UDP on the same ports, and the side behind the NAT
//! sends a keepalive whenever the NAT might otherwise forget its mapping.

use std::net::SocketAddr;
use std::time::Instant;

use tern_crypto::nat_detection_hash;
use tern_wire::{NotifyType, Payload};

use crate::engine::{hex, Ctx};
use crate::ike_sa::IkeSa;
use crate::payloads;

/// A NAT-keepalive: one 0xFF octet in a UDP datagram on the NAT-T port (RFC 3948
/// §2.3). It can never be mistaken for an IKE message, which is 28 octets at least.
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// The IKE port from which a peer that floats moves to the NAT-T port.
const IKE_PORT: u16 = 500;
/// The peer's NAT-T port when it listens for IKE on the standard port.
const PEER_NAT_T_PORT: u16 = 4500;

/// The peer's end of an IKE SA moving to the NAT-T ports: from the standard IKE
/// port to its NAT-T port (a peer on another port stays there).
pub(crate) fn peer_to_nat_t_port(sa: &mut IkeSa) {
    if sa.remote.port() == IKE_PORT {
        sa.remote.set_port(PEER_NAT_T_PORT);
    }
}

/// What NAT detection found for one IKE SA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatState {
    /// Our address or port is rewritten on the way: we keep the mapping alive.
    pub local_behind: bool,
    /// The peer's address or port is rewritten on the way.
    pub peer_behind: bool,
}

impl NatState {
    /// Whether IKE and ESP travel in UDP on the NAT-T port.
    pub fn detected(self) -> bool {
        self.local_behind || self.peer_behind
    }
}

/// How often the peer's NAT mapping changed under an established IKE SA: a
/// NAT that forgets idle mappings (keepalives too rare for it) or a peer whose
/// network changes. Kept across IKE rekeys; boxed, as most IKE SAs never see one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappingChanges {
    pub count: u32,
    pub first: Instant,
    pub last: Instant,
}

impl MappingChanges {
    pub(crate) fn record(changes: &mut Option<Box<MappingChanges>>, now: Instant) {
        match changes {
            Some(c) => {
                c.count += 1;
                c.last = now;
            }
            None => {
                *changes = Some(Box::new(MappingChanges {
                    count: 1,
                    first: now,
                    last: now,
                }))
            }
        }
    }
}

/// What the peer's NAT detection hashes (`src`: of where it sent from, `dst`: of
/// where it sent to) say, given the (local, remote) addresses the message came over.
pub(crate) fn judge(
    sa: &IkeSa,
    spi_r: [u8; 8],
    (local, remote): (SocketAddr, SocketAddr),
    src: &[u8],
    dst: &[u8],
) -> NatState {
    let hash = |addr: SocketAddr| nat_detection_hash(&sa.spi_i, &spi_r, addr.ip(), addr.port());
    NatState {
        peer_behind: src != hash(remote),
        local_behind: dst != hash(local),
    }
}

/// Our NAT_DETECTION_SOURCE_IP and _DESTINATION_IP notifies for the SA's
/// current addresses (RFC 7296 §2.23).
pub(crate) fn our_hashes(sa: &IkeSa) -> [Payload; 2] {
    hashes_for(sa, (sa.local, sa.remote))
}

/// The same for a message over the (local, remote) path (RFC 4555 §3.5).
pub(crate) fn hashes_for(sa: &IkeSa, (local, remote): (SocketAddr, SocketAddr)) -> [Payload; 2] {
    let hash = |addr: SocketAddr| {
        nat_detection_hash(&sa.spi_i, &sa.spi_r, addr.ip(), addr.port()).to_vec()
    };
    [
        payloads::status(NotifyType::NAT_DETECTION_SOURCE_IP, hash(local)),
        payloads::status(NotifyType::NAT_DETECTION_DESTINATION_IP, hash(remote)),
    ]
}

impl Ctx {
    /// Compares the peer's NAT detection hashes in IKE_SA_INIT with the addresses
    /// we see, records the result, and moves an initiator behind or facing a NAT
    /// to the NAT-T ports before IKE_AUTH.
    pub(crate) fn detect_nat(&mut self, now: Instant, sa: &mut IkeSa, p: &[Payload]) {
        let (Some(src), Some(dst)) = (
            payloads::notify(p, NotifyType::NAT_DETECTION_SOURCE_IP),
            payloads::notify(p, NotifyType::NAT_DETECTION_DESTINATION_IP),
        ) else {
            return;
        };
        // The peer hashed with the SPIs in the header of the message that carried
        // them: the responder SPI is still zero in the initiator's request.
        let spi_r = if sa.initiator { sa.spi_r } else { [0; 8] };
        sa.nat = judge(sa, spi_r, (sa.local, sa.remote), &src.data, &dst.data);
        if !sa.nat.detected() {
            return;
        }
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            peer_behind_nat = sa.nat.peer_behind,
            we_are_behind_nat = sa.nat.local_behind,
            spi = hex(&sa.spi_i),
            "NAT detected; IKE and ESP move to UDP port {}",
            self.config.nat_port
        );
        if sa.initiator {
            sa.local.set_port(self.config.nat_port);
            peer_to_nat_t_port(sa);
        }
        if sa.nat.local_behind {
            sa.keepalive_at = self.keepalive_due(now);
        }
    }

    pub(crate) fn keepalive_due(&self, now: Instant) -> Option<Instant> {
        let every = self.config.nat_keepalive;
        (!every.is_zero()).then(|| now + every)
    }

    /// Sends a NAT-keepalive when one is due, so the NAT in front of us keeps our
    /// mapping while the tunnel is idle.
    pub(crate) fn run_keepalive(&mut self, now: Instant, sa: &mut IkeSa) {
        if sa.keepalive_at.is_some_and(|at| at <= now) {
            self.stats.nat_keepalives_sent += 1;
            self.transmit(sa.local, sa.remote, NAT_KEEPALIVE.to_vec());
            sa.keepalive_at = self.keepalive_due(now);
        }
    }
}
