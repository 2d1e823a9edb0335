//! MOBIKE (RFC 4555), the side that moves: as initiator we offer
//! MOBIKE_SUPPORTED in IKE_AUTH, and once the peer agreed, a new local address
//! (for now named by a command) is announced with UPDATE_SA_ADDRESSES from that
//! address (§3.5), with NAT detection and a COOKIE2 (§3.7). The CHILD SAs'
//! kernel state moves when the peer's answer says how the new path looks.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tern_wire::{ExchangeType, NotifyType, Payload};

use crate::child_sa::Endpoints;
use crate::engine::{hex, Ctx};
use crate::ike_sa::{IkeSa, Purpose};
use crate::nat;
use crate::payloads;

/// How many random bytes our COOKIE2 has (RFC 4555 §3.7: 8 to 64).
const COOKIE2_LEN: usize = 16;

/// Our UPDATE_SA_ADDRESSES in flight.
pub struct AddressUpdate {
    /// Where the CHILD SAs' kernel state was before the move.
    pub before: Endpoints,
    /// The COOKIE2 the answer must echo.
    pub cookie2: Vec<u8>,
}

/// Initiator: the MOBIKE_SUPPORTED notify our IKE_AUTH request carries.
pub(crate) fn offer(sa: &IkeSa) -> Option<Payload> {
    sa.connection
        .mobike
        .then(|| payloads::status(NotifyType::MOBIKE_SUPPORTED, Vec::new()))
}

impl Ctx {
    /// Initiator: the peer's IKE_AUTH answer; MOBIKE is in use when it agreed.
    pub(crate) fn note_mobike_answer(&mut self, sa: &mut IkeSa, p: &[Payload]) {
        if sa.connection.mobike && crate::mobike::offered(p) {
            sa.mobike = Some(Box::new(crate::mobike::Mobike {
                we_move: true,
                ..Default::default()
            }));
        }
    }

    /// Our local address is now `local`: the IKE SA moves there, on the NAT-T
    /// ports (where a NAT appearing on the new path needs IKE and ESP), and the
    /// peer is told. Errors say why the SA cannot move.
    pub(crate) fn move_local(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        local: IpAddr,
    ) -> Result<(), String> {
        if !sa.mobike.as_ref().is_some_and(|m| m.we_move) || !crate::mobike::in_use(sa) {
            return Err(format!(
                "IKE SA #{} cannot move: MOBIKE is not in use (the peer did not agree, or \
                 mobike = false), or we were not its initiator",
                sa.unique_id
            ));
        }
        if local.is_ipv4() != sa.remote.is_ipv4() {
            return Err(format!(
                "IKE SA #{}: {local} is not of the peer's address family",
                sa.unique_id
            ));
        }
        let before = crate::children::endpoints(sa);
        sa.local = SocketAddr::new(local, self.config.nat_port);
        nat::peer_to_nat_t_port(sa);
        self.send_update(now, sa, before);
        Ok(())
    }

    /// Behind a NAT, with MOBIKE: the NAT may have mapped us anew while we were
    /// quiet, and the peer follows only UPDATE_SA_ADDRESSES (RFC 4555 §3.8), so
    /// the liveness check is one. True when it was sent.
    pub(crate) fn refresh_nat_mapping(&mut self, now: Instant, sa: &mut IkeSa) -> bool {
        let we_move = sa.mobike.as_ref().is_some_and(|m| m.we_move);
        if !(we_move && crate::mobike::in_use(sa) && sa.nat.local_behind) {
            return false;
        }
        let before = crate::children::endpoints(sa);
        self.send_update(now, sa, before);
        true
    }

    /// UPDATE_SA_ADDRESSES from where the IKE SA now is; `before`: where its
    /// CHILD SAs are in the kernel.
    fn send_update(&mut self, now: Instant, sa: &mut IkeSa, before: Endpoints) {
        let cookie2 = self.random(COOKIE2_LEN);
        let mut request = vec![payloads::status(
            NotifyType::UPDATE_SA_ADDRESSES,
            Vec::new(),
        )];
        request.extend(nat::our_hashes(sa));
        request.push(payloads::status(NotifyType::COOKIE2, cookie2.clone()));
        request.push(payloads::status(
            NotifyType::NO_ADDITIONAL_ADDRESSES,
            Vec::new(),
        ));
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            local = %sa.local,
            remote = %sa.remote,
            "MOBIKE: moving the IKE SA to a new local address (UPDATE_SA_ADDRESSES)"
        );
        let update = Box::new(AddressUpdate { before, cookie2 });
        self.request(
            now,
            sa,
            ExchangeType::INFORMATIONAL,
            Purpose::UpdateAddresses(update),
            request,
        );
    }

    /// The answer to our UPDATE_SA_ADDRESSES: NAT detection for the new path,
    /// then the CHILD SAs follow the IKE SA.
    pub(crate) fn handle_update_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        update: &AddressUpdate,
        p: &[Payload],
    ) {
        let echoed = payloads::notify(p, NotifyType::COOKIE2).map(|n| n.data.as_slice());
        if echoed != Some(update.cookie2.as_slice()) {
            // Not the answer to this update (§3.7): the CHILD SAs stay until one
            // that is comes (the next liveness check sends another).
            tracing::warn!(
                ike = sa.unique_id,
                "MOBIKE: the peer's answer does not echo our COOKIE2; CHILD SAs not moved"
            );
            return;
        }
        let hashes = (
            payloads::notify(p, NotifyType::NAT_DETECTION_SOURCE_IP),
            payloads::notify(p, NotifyType::NAT_DETECTION_DESTINATION_IP),
        );
        if let (Some(src), Some(dst)) = hashes {
            sa.nat = nat::judge(sa, sa.spi_r, (sa.local, sa.remote), &src.data, &dst.data);
        }
        sa.keepalive_at = if sa.nat.local_behind {
            sa.keepalive_at.or_else(|| self.keepalive_due(now))
        } else {
            None
        };
        self.move_children(sa, update.before);
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            spi = hex(&sa.spi_i),
            local = %sa.local,
            remote = %sa.remote,
            nat = sa.nat.detected(),
            children = sa.children.len(),
            "MOBIKE: the peer confirmed the move; CHILD SAs moved"
        );
    }
}
