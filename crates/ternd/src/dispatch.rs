//! Which engine (shard) a datagram or a command belongs to.
//!
//! Every IKE SA with one peer lives in one engine: reauthentication, INITIAL_CONTACT
//! and the shared reqids and policy counts need them together. So a new IKE SA
//! (an IKE_SA_INIT request: responder SPI zero) goes to the shard of the peer's IP
//! address (not its port, which a NAT may change), and so does `initiate`. Every
//! later message carries the SPI we chose, which encodes our shard
//! (`tern_engine::Shard`): routing needs no table per SA and survives the peer's
//! address changing. Garbage is routed like anything else; the engine that gets it
//! drops and counts it.

use std::net::IpAddr;

use tern_engine::Shard;

/// Offset of the flags octet in the IKE header (RFC 7296 §3.1).
const FLAGS: usize = 19;
/// Set by the original initiator of the IKE SA.
const FLAG_INITIATOR: u8 = 0x08;

/// The shard for a datagram from `remote` (non-ESP marker already removed).
pub fn route(bytes: &[u8], remote: IpAddr, count: u32) -> usize {
    if count <= 1 {
        return 0;
    }
    let (Some(initiator_spi), Some(responder_spi), Some(flags)) =
        (spi_at(bytes, 0), spi_at(bytes, 8), bytes.get(FLAGS))
    else {
        // Too short for an IKE header: the peer's shard counts it as malformed.
        return peer_shard(remote, count);
    };
    if responder_spi == [0; 8] {
        return peer_shard(remote, count);
    }
    // The I flag says who sent it: the original initiator knows us by the responder SPI.
    let ours = if flags & FLAG_INITIATOR != 0 {
        responder_spi
    } else {
        initiator_spi
    };
    Shard::of_ike_spi(ours, count) as usize
}

/// Offset of the exchange type octet in the IKE header.
const EXCHANGE: usize = 18;
const IKE_SA_INIT: u8 = 34;
/// Set in responses.
const FLAG_RESPONSE: u8 = 0x20;

/// Whether a datagram asks for a new IKE SA (an IKE_SA_INIT request: no responder
/// SPI yet), the costly kind a flood sends (see `intake`). Anything too short for
/// an IKE header is not; the engine drops it cheaply.
pub fn is_new_ike_sa(bytes: &[u8]) -> bool {
    spi_at(bytes, 8) == Some([0; 8])
        && bytes.get(EXCHANGE) == Some(&IKE_SA_INIT)
        && bytes.get(FLAGS).is_some_and(|f| f & FLAG_RESPONSE == 0)
}

fn spi_at(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at + 8)?.try_into().ok()
}

/// The shard of every IKE SA with the peer at `ip` ([`Shard::of_peer`]).
pub fn peer_shard(ip: IpAddr, count: u32) -> usize {
    Shard::of_peer(ip, count) as usize
}

/// The shard that initiates a connection ([`Shard::of_connection`]).
pub fn connection_shard(remote_addrs: &[IpAddr], count: u32) -> usize {
    Shard::of_connection(remote_addrs, count) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ispi: u64, rspi: u64, flags: u8) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&ispi.to_be_bytes());
        h.extend_from_slice(&rspi.to_be_bytes());
        // next payload, version 2.0, exchange IKE_SA_INIT (34), flags, message id, length
        h.extend_from_slice(&[33, 0x20, 34, flags, 0, 0, 0, 0, 0, 0, 0, 28]);
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_new_ike_sa_goes_to_its_peers_shard() {
        let peers: Vec<IpAddr> = (1..=64).map(|n| ip(&format!("192.0.2.{n}"))).collect();
        for count in [2, 3, 4] {
            let mut seen = vec![0; count as usize];
            for peer in &peers {
                let shard = route(&header(0x1234, 0, FLAG_INITIATOR), *peer, count);
                assert_eq!(shard, peer_shard(*peer, count));
                // The port plays no part, the address alone decides; and a
                // retransmission (any SPI of the peer's) lands in the same place.
                assert_eq!(
                    route(&header(0x9999, 0, FLAG_INITIATOR), *peer, count),
                    shard
                );
                seen[shard] += 1;
            }
            assert!(seen.iter().all(|n| *n > 0), "{count} shards: {seen:?}");
        }
        assert_eq!(
            connection_shard(&[peers[5], peers[6]], 3),
            peer_shard(peers[5], 3)
        );
        assert_eq!(connection_shard(&[], 3), 0);
    }

    #[test]
    fn later_messages_go_to_the_shard_of_our_spi() {
        let count = 4;
        for shard in 0..count {
            let ours = Shard::new(shard, count)
                .unwrap()
                .ike_spi_from(0x5eed_0000_1111_2222u64.to_be_bytes())
                .map(u64::from_be_bytes)
                .unwrap();
            let theirs = 0xffff_0000_0000_0003;
            // From the initiator (we responded): our SPI is the responder's.
            for peer in [ip("192.0.2.1"), ip("2001:db8::7"), ip("198.51.100.9")] {
                assert_eq!(
                    route(&header(theirs, ours, FLAG_INITIATOR), peer, count),
                    shard as usize
                );
                // From the responder (we initiated): our SPI is the initiator's.
                assert_eq!(
                    route(&header(ours, theirs, 0x20), peer, count),
                    shard as usize
                );
            }
        }
    }

    #[test]
    fn garbage_is_routed_not_refused() {
        let peer = ip("203.0.113.5");
        for bytes in [&[][..], &[0xff; 3], &[0; 19], &[0xab; 27], &[0xff; 2000]] {
            assert!(route(bytes, peer, 2) < 2);
        }
        assert_eq!(route(&[1, 2, 3], peer, 2), peer_shard(peer, 2));
        assert_eq!(route(&[0xff; 100], peer, 1), 0);
    }

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_address() {
        assert_eq!(
            peer_shard(ip("::ffff:192.0.2.77"), 5),
            peer_shard(ip("192.0.2.77"), 5)
        );
    }
}
