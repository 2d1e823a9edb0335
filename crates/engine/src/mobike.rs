//! MOBIKE (RFC 4555), gateway side.
//!
//! A peer that offers MOBIKE_SUPPORTED in IKE_AUTH, on a connection with
//! `mobike = true`, gets it back and may then move the IKE SA and its CHILD SAs
//! to other addresses with an INFORMATIONAL request carrying
//! UPDATE_SA_ADDRESSES (§3.5): the addresses are taken from that request's IP
//! header, NAT detection is done again from its NAT_DETECTION_* notifies, and
//! the kernel SAs and policies move with the same keys. Other messages from
//! new addresses no longer move the SA (§3.8): they are answered where they
//! came from. The peer's other addresses (ADDITIONAL_IP4/6_ADDRESS,
//! NO_ADDITIONAL_ADDRESSES) are remembered for `list-sas`; we announce none.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tern_wire::{NotifyData, NotifyType, Payload};

use crate::engine::{hex, Ctx};
use crate::ike_sa::IkeSa;
use crate::nat;
use crate::payloads;
use crate::stats::DropReason;

/// MOBIKE on one IKE SA: the peer offered it and we agreed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mobike {
    /// The peer's other addresses, as it last listed them; empty when it said
    /// NO_ADDITIONAL_ADDRESSES or nothing.
    pub peer_addresses: Vec<IpAddr>,
    /// The message ID of the last UPDATE_SA_ADDRESSES acted on: an older one
    /// (delayed on another path) must not move the SA back (§3.5).
    pub last_update: Option<u32>,
    /// Whether we are the side that moves: the original initiator, the only one
    /// that sends UPDATE_SA_ADDRESSES (§3.1). An IKE rekey keeps it.
    pub we_move: bool,
}

/// Whether the peer's IKE_AUTH request offers MOBIKE.
pub(crate) fn offered(p: &[Payload]) -> bool {
    payloads::notify(p, NotifyType::MOBIKE_SUPPORTED).is_some()
}

/// Whether MOBIKE governs this IKE SA's addresses: agreed, and IKE_AUTH over
/// (until then the peer may still float to the NAT-T port, RFC 7296 §2.23).
pub(crate) fn in_use(sa: &IkeSa) -> bool {
    sa.mobike.is_some() && sa.established_at.is_some()
}

impl Ctx {
    /// Responder, IKE_AUTH: agrees to MOBIKE when the peer offers it and the
    /// connection allows it (the answer carries MOBIKE_SUPPORTED then).
    pub(crate) fn agree_mobike(&mut self, now: Instant, sa: &mut IkeSa, p: &[Payload]) {
        if sa.connection.mobike && offered(p) {
            sa.mobike = Some(Box::default());
            self.note_peer_addresses(now, sa, p);
        }
    }

    /// The MOBIKE notifies of one of the peer's INFORMATIONAL requests: the
    /// payloads our answer must add (NAT detection, COOKIE2).
    pub(crate) fn mobike_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        path: (SocketAddr, SocketAddr),
        p: &[Payload],
    ) -> Vec<Payload> {
        let mut answer = Vec::new();
        if payloads::notify(p, NotifyType::UPDATE_SA_ADDRESSES).is_some() {
            if !in_use(sa) {
                tracing::info!(
                    ike = sa.unique_id,
                    from = %path.1,
                    "UPDATE_SA_ADDRESSES ignored: MOBIKE is not in use on this IKE SA"
                );
            } else if sa.mobike.as_ref().and_then(|m| m.last_update) >= Some(id) {
                tracing::info!(
                    ike = sa.unique_id,
                    id,
                    "UPDATE_SA_ADDRESSES ignored: a newer one was acted on (RFC 4555 §3.5)"
                );
            } else {
                self.update_addresses(now, sa, id, path, p);
            }
        }
        if in_use(sa) {
            self.note_peer_addresses(now, sa, p);
            // The peer checks its NAT mapping this way, UPDATE or not: the
            // hashes are of the path its request took (§3.5).
            if payloads::notify(p, NotifyType::NAT_DETECTION_SOURCE_IP).is_some() {
                answer.extend(nat::hashes_for(sa, path));
            }
        }
        // Return routability (§3.7): the peer checks that we got this request.
        if let Some(cookie2) = payloads::notify(p, NotifyType::COOKIE2) {
            answer.push(payloads::status(NotifyType::COOKIE2, cookie2.data.clone()));
        }
        answer
    }

    /// Moves the IKE SA and its CHILD SAs to where UPDATE_SA_ADDRESSES came from.
    fn update_addresses(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u32,
        (local, remote): (SocketAddr, SocketAddr),
        p: &[Payload],
    ) {
        let before_nat = sa.nat;
        let nat = match self.peer_nat_hashes(now, sa, remote, p) {
            Some((src, dst)) => nat::judge(sa, sa.spi_r, (local, remote), &src, &dst),
            // No (usable) NAT detection: the way is as it was.
            None => before_nat,
        };
        let (from_local, from_remote) = (sa.local, sa.remote);
        // Behind a NAT before and after, at the same public address on another
        // port: the peer's NAT mapped it anew (it noticed by NAT detection), no
        // roam. Counted as `follow_peer` counts the changes it follows.
        let remapped = before_nat.peer_behind
            && nat.peer_behind
            && from_local == local
            && from_remote.ip() == remote.ip()
            && from_remote.port() != remote.port();
        if remapped {
            nat::MappingChanges::record(&mut sa.mapping_changes, now);
        }
        let before = crate::children::endpoints(sa);
        sa.local = local;
        sa.remote = remote;
        sa.nat = nat;
        sa.keepalive_at = if nat.local_behind {
            sa.keepalive_at.or_else(|| self.keepalive_due(now))
        } else {
            None
        };
        self.move_children(sa, before);
        if let Some(m) = sa.mobike.as_mut() {
            m.last_update = Some(id);
        }
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            spi = hex(&sa.spi_i),
            from = %from_remote,
            to = %remote,
            local_from = %from_local,
            local = %local,
            nat = nat.detected(),
            children = sa.children.len(),
            "MOBIKE: peer moved the IKE SA and its CHILD SAs (UPDATE_SA_ADDRESSES)"
        );
    }

    /// The peer's NAT_DETECTION_SOURCE_IP and _DESTINATION_IP hashes, when both
    /// are there and well formed (a malformed one is counted and ignored).
    fn peer_nat_hashes(
        &mut self,
        now: Instant,
        sa: &IkeSa,
        from: SocketAddr,
        p: &[Payload],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut hash = |t: NotifyType| {
            let n = payloads::notify(p, t)?;
            match n.decode_data() {
                Ok(NotifyData::NatDetection(h)) => Some(h.to_vec()),
                _ => {
                    self.malformed_notify(now, sa, from, t, n.data.len());
                    None
                }
            }
        };
        let src = hash(NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = hash(NotifyType::NAT_DETECTION_DESTINATION_IP);
        src.zip(dst)
    }

    /// ADDITIONAL_IP4/6_ADDRESS and NO_ADDITIONAL_ADDRESSES: the peer's list of
    /// other addresses, replaced whenever it sends one (§3.6).
    fn note_peer_addresses(&mut self, now: Instant, sa: &mut IkeSa, p: &[Payload]) {
        let mut listed = false;
        let mut addresses = Vec::new();
        for n in p.iter().filter_map(|x| match x {
            Payload::Notify(n) => Some(n),
            _ => None,
        }) {
            match n.notify_type {
                NotifyType::NO_ADDITIONAL_ADDRESSES => listed = true,
                t @ (NotifyType::ADDITIONAL_IP4_ADDRESS | NotifyType::ADDITIONAL_IP6_ADDRESS) => {
                    listed = true;
                    match n.decode_data() {
                        Ok(NotifyData::AdditionalAddress(a)) => addresses.push(a),
                        _ => self.malformed_notify(now, sa, sa.remote, t, n.data.len()),
                    }
                }
                _ => {}
            }
        }
        if let (true, Some(m)) = (listed, sa.mobike.as_mut()) {
            m.peer_addresses = addresses;
        }
    }

    fn malformed_notify(
        &mut self,
        now: Instant,
        sa: &IkeSa,
        from: SocketAddr,
        t: NotifyType,
        len: usize,
    ) {
        let detail = format!(
            "IKE SA #{}: {t} with {len} bytes of data; the notify is ignored",
            sa.unique_id
        );
        self.drop_packet(now, DropReason::Malformed, from, &detail);
    }
}
