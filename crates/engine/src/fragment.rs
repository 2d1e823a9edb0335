//! IKE fragmentation (RFC 7383): encrypted messages larger than the path allows are
//! sent as SKF fragments, each encrypted and authenticated on its own, and received
//! fragments are put back together, within fixed bounds, before the message is
//! handled.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tern_wire::{EncryptedFragmentPayload, Payload, PayloadType};

use crate::config::Fragmentation;

/// A message may come in at most this many fragments...
pub(crate) const MAX_FRAGMENTS: u16 = 64;
/// ...of at most this much plaintext together: more than any IKE message tern
/// expects (a chain of three RSA-8192 certificates is well under it).
pub(crate) const MAX_REASSEMBLED: usize = 64 * 1024;

/// IPv4/IPv6 and UDP headers, and the non-ESP marker of port 4500, around an IKE
/// message: what the fragment size leaves for the message itself.
fn overhead(remote: SocketAddr) -> usize {
    let ip = if remote.is_ipv4() { 20 } else { 40 };
    ip + 8 + 4
}

/// The largest IKE message to send to `remote` unfragmented.
pub(crate) fn message_limit(config: &Fragmentation, remote: SocketAddr) -> usize {
    let datagram = if remote.is_ipv4() {
        config.size_v4
    } else {
        config.size_v6
    };
    usize::from(datagram).saturating_sub(overhead(remote))
}

/// A fragmented message being received.
pub(crate) struct Reassembly {
    message_id: u32,
    response: bool,
    total: u16,
    first_inner: PayloadType,
    /// Decrypted fragments by number.
    parts: BTreeMap<u16, Vec<u8>>,
    bytes: usize,
}

/// What one more fragment made of the message.
pub(crate) enum Fed {
    /// More fragments are needed.
    Incomplete,
    /// All of them: the plaintext payload chain and its first payload type.
    Complete(PayloadType, Vec<u8>),
    /// The fragment does not fit: dropped, with why.
    Refused(&'static str),
}

impl Reassembly {
    /// Adds the decrypted `plaintext` of fragment `f` of message (`message_id`,
    /// `response`). `slot` holds the message being put together, if any.
    pub(crate) fn feed(
        slot: &mut Option<Reassembly>,
        message_id: u32,
        response: bool,
        f: &EncryptedFragmentPayload,
        plaintext: Vec<u8>,
    ) -> Fed {
        if f.total_fragments > MAX_FRAGMENTS {
            return Fed::Refused("more fragments than tern accepts for one message");
        }
        let same_message = |r: &Reassembly| r.message_id == message_id && r.response == response;
        match slot {
            // RFC 7383 §2.6.1: a sender that retransmits with smaller fragments
            // announces more of them; start over with those.
            Some(r) if same_message(r) && f.total_fragments > r.total => *slot = None,
            Some(r) if same_message(r) && f.total_fragments < r.total => {
                return Fed::Refused("a fragment of an older fragmentation of the message")
            }
            Some(r) if same_message(r) => {}
            // Another message: whatever was collected for the old one is stale.
            _ => *slot = None,
        }
        let r = slot.get_or_insert_with(|| Reassembly {
            message_id,
            response,
            total: f.total_fragments,
            first_inner: PayloadType::NONE,
            parts: BTreeMap::new(),
            bytes: 0,
        });
        if r.parts.contains_key(&f.fragment_number) {
            return Fed::Incomplete;
        }
        if r.bytes + plaintext.len() > MAX_REASSEMBLED {
            *slot = None;
            return Fed::Refused("fragments add up to more than tern accepts for one message");
        }
        if f.fragment_number == 1 {
            r.first_inner = f.first_inner;
        }
        r.bytes += plaintext.len();
        r.parts.insert(f.fragment_number, plaintext);
        if r.parts.len() < usize::from(r.total) {
            return Fed::Incomplete;
        }
        let r = slot.take().expect("inserted above");
        let whole = r.parts.into_values().flatten().collect();
        Fed::Complete(r.first_inner, whole)
    }
}

/// The SKF payload of a message, if it is a fragment.
pub(crate) fn skf(payloads: &[Payload]) -> Option<&EncryptedFragmentPayload> {
    match payloads.last() {
        Some(Payload::EncryptedFragment(f)) => Some(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(n: u16, total: u16) -> EncryptedFragmentPayload {
        EncryptedFragmentPayload {
            fragment_number: n,
            total_fragments: total,
            first_inner: if n == 1 {
                PayloadType::IDI
            } else {
                PayloadType::NONE
            },
            body: Vec::new(),
        }
    }

    #[test]
    fn out_of_order_and_duplicated_fragments_make_one_message() {
        let mut slot = None;
        let feed = |slot: &mut _, n, data: &[u8]| {
            Reassembly::feed(slot, 1, false, &frag(n, 3), data.to_vec())
        };
        assert!(matches!(feed(&mut slot, 3, b"cc"), Fed::Incomplete));
        assert!(matches!(feed(&mut slot, 1, b"aa"), Fed::Incomplete));
        assert!(matches!(feed(&mut slot, 3, b"cc"), Fed::Incomplete));
        match feed(&mut slot, 2, b"bb") {
            Fed::Complete(first, whole) => {
                assert_eq!(first, PayloadType::IDI);
                assert_eq!(whole, b"aabbcc");
            }
            _ => panic!("complete after three distinct fragments"),
        }
        assert!(slot.is_none(), "nothing kept after completion");
    }

    #[test]
    fn bounds_and_refragmentation() {
        let mut slot = None;
        assert!(matches!(
            Reassembly::feed(&mut slot, 1, false, &frag(1, MAX_FRAGMENTS + 1), vec![0]),
            Fed::Refused(_)
        ));
        let big = vec![0; MAX_REASSEMBLED / 2 + 1];
        assert!(matches!(
            Reassembly::feed(&mut slot, 1, false, &frag(1, 3), big.clone()),
            Fed::Incomplete
        ));
        assert!(matches!(
            Reassembly::feed(&mut slot, 1, false, &frag(2, 3), big),
            Fed::Refused(_)
        ));
        assert!(slot.is_none(), "an oversized message is forgotten");
        // Retransmitted in more, smaller fragments: the old ones are dropped.
        Reassembly::feed(&mut slot, 2, false, &frag(1, 2), b"x".to_vec());
        Reassembly::feed(&mut slot, 2, false, &frag(1, 3), b"a".to_vec());
        assert!(matches!(
            Reassembly::feed(&mut slot, 2, false, &frag(2, 2), b"y".to_vec()),
            Fed::Refused(_)
        ));
        Reassembly::feed(&mut slot, 2, false, &frag(2, 3), b"b".to_vec());
        match Reassembly::feed(&mut slot, 2, false, &frag(3, 3), b"c".to_vec()) {
            Fed::Complete(_, whole) => assert_eq!(whole, b"abc"),
            _ => panic!("complete"),
        }
    }

    #[test]
    fn limits_leave_room_for_the_headers() {
        let config = Fragmentation::default();
        assert_eq!(
            message_limit(&config, "192.0.2.1:500".parse().unwrap()),
            576 - 32
        );
        assert_eq!(
            message_limit(&config, "[2001:db8::1]:500".parse().unwrap()),
            1280 - 52
        );
    }
}
