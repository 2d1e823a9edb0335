//! What each side announces in IKE_SA_INIT beside the exchange itself: the hashes it
//! verifies signatures with (SIGNATURE_HASH_ALGORITHMS, RFC 7427 §4), support for
//! IKE fragmentation (RFC 7383 §2.3) and for IKE SAs without a CHILD SA
//! (CHILDLESS_IKEV2_SUPPORTED, RFC 6023 §3) and, from a responder whose connection uses
//! certificates, the CAs it trusts (CERTREQ, RFC 7296 §3.7; an initiator sends its
//! CERTREQ in IKE_AUTH).

use tern_crypto::SigHash;
use tern_wire::{NotifyData, NotifyType, Payload};

use crate::cert_auth::{self, OUR_SIGNATURE_HASHES};
use crate::config::{AuthConfig, Connection, EngineConfig};
use crate::ike_sa::IkeSa;
use crate::payloads;

/// Payloads to add to our IKE_SA_INIT message for `conn`.
pub(crate) fn announce(config: &EngineConfig, conn: &Connection, responder: bool) -> Vec<Payload> {
    let hashes = OUR_SIGNATURE_HASHES
        .iter()
        .map(|h| tern_wire::HashAlgorithm(h.to_u16()))
        .collect();
    let mut out = Vec::new();
    if let (true, AuthConfig::Pubkey(auth)) = (responder, &conn.auth) {
        out.push(cert_auth::certreq(auth));
    }
    if config.fragmentation.enabled {
        out.push(payloads::status(
            NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
            Vec::new(),
        ));
    }
    // Either role may set an IKE SA up with no CHILD SA (a connection without
    // children), and accepts one that the peer sets up so.
    out.push(payloads::status(
        NotifyType::CHILDLESS_IKEV2_SUPPORTED,
        Vec::new(),
    ));
    out.push(payloads::status(
        NotifyType::SIGNATURE_HASH_ALGORITHMS,
        NotifyData::SignatureHashAlgorithms(hashes).to_bytes(),
    ));
    out
}

/// Remembers what the peer announced in its IKE_SA_INIT message.
pub(crate) fn note_peer(sa: &mut IkeSa, p: &[Payload]) {
    sa.peer_fragmentation =
        payloads::notify(p, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
    sa.peer_signature_hashes = payloads::notify(p, NotifyType::SIGNATURE_HASH_ALGORITHMS)
        .and_then(|n| match n.decode_data() {
            Ok(NotifyData::SignatureHashAlgorithms(list)) => {
                Some(list.iter().filter_map(|h| SigHash::from_u16(h.0)).collect())
            }
            _ => None,
        })
        .unwrap_or_default();
}
