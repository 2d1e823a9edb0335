//! Whole IKE messages (header + payload chain) and SK plaintext chains.

use nom::sequence::preceded;

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::header::Header;
use crate::parse::{self, take};
use crate::payload::chain::{payload_chain, write_chain, ChainContext};
use crate::payload::{EncryptedPayload, Payload};
use crate::registry::PayloadType;

/// The only IKE major version this crate speaks.
const IKE_MAJOR_VERSION: u8 = 2;

/// An IKE message: the header and its payloads in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Parses a whole datagram (without the 4-byte non-ESP marker). Checks: version
    /// 2.x, length field == bytes.len(), every payload length, the next-payload
    /// chain, no trailing bytes, SK/SKF only as the last payload (its next-payload
    /// field is the first inner payload type).
    pub fn parse(bytes: &[u8]) -> Result<Message, WireError> {
        let header = Header::parse(bytes)?;
        if header.major_version != IKE_MAJOR_VERSION {
            return Err(WireError {
                offset: Header::VERSION_OFFSET,
                kind: WireErrorKind::UnsupportedVersion(header.major_version),
            });
        }
        let declared = header.length as usize;
        if declared != bytes.len() {
            return Err(WireError {
                offset: Header::LENGTH_OFFSET,
                kind: WireErrorKind::BadLength {
                    what: "IKE message (header length field)",
                    declared,
                    min: bytes.len(),
                    max: bytes.len(),
                },
            });
        }
        let payloads = parse::run(
            bytes,
            preceded(
                take(Header::LEN, "IKE header"),
                payload_chain(header.next_payload, ChainContext::Message),
            ),
        )?;
        Ok(Message { header, payloads })
    }

    /// Writes with all lengths and the next-payload chain computed.
    ///
    /// # Panics
    ///
    /// If the message cannot be encoded: see [`Message::try_to_bytes`]. Nothing that
    /// [`Message::parse`] returned can fail; only hand-built values with an SK/SKF
    /// payload that is not last, a field too long for its length field, or a
    /// traffic selector whose type and addresses disagree.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self.try_to_bytes() {
            Ok(bytes) => bytes,
            Err(e) => panic!("cannot encode IKE message: {e}"),
        }
    }

    /// Writes with all lengths and the next-payload chain computed, or says why the
    /// message cannot be encoded.
    pub fn try_to_bytes(&self) -> Result<Vec<u8>, WireError> {
        write_message(&self.header, &self.payloads, 0)
    }

    /// The SK payload, if the message has one (it is always the last payload).
    pub fn encrypted(&self) -> Option<&EncryptedPayload> {
        match self.payloads.last() {
            Some(Payload::Encrypted(sk)) => Some(sk),
            _ => None,
        }
    }
}

/// The bytes of a message of `header` and one SK or SKF payload,
/// `container`, whose body is `body_len` zero bytes, to be sealed in place:
/// what [`Message::to_bytes`] gives for that message, without building the
/// zeroed body and the message around it first (and copying the body).
///
/// # Panics
///
/// If `container` is not SK or SKF, has a body already, or the message is too
/// long for its length fields.
pub fn encrypted_message_with_room(
    header: &Header,
    container: &Payload,
    body_len: usize,
) -> Vec<u8> {
    let empty = match container {
        Payload::Encrypted(sk) => sk.body.is_empty(),
        Payload::EncryptedFragment(skf) => skf.body.is_empty(),
        _ => panic!("only SK and SKF payloads carry a sealed body"),
    };
    assert!(empty, "the container's body is written by sealing");
    match write_message(header, std::slice::from_ref(container), body_len) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot encode IKE message: {e}"),
    }
}

/// Writes `header` and `payloads`, then `room` zero bytes counted in the last
/// payload's length and the message's: the body of an SK or SKF payload.
fn write_message(header: &Header, payloads: &[Payload], room: usize) -> Result<Vec<u8>, WireError> {
    let guess: usize = payloads.iter().map(Payload::encoded_len_guess).sum();
    let mut w = Writer::with_capacity(Header::LEN + guess + room);
    w.bytes(&[0; Header::LEN]);
    let mut last_start = Header::LEN;
    let first = write_chain(&mut w, payloads, ChainContext::Message, &mut last_start)?;
    if room > 0 {
        w.zeros(room);
        // The payload's length field follows its next-payload and flags bytes.
        w.patch_length_u16(last_start + 2, last_start, "payload")?;
    }
    w.patch_length_u32(Header::LENGTH_OFFSET, 0, "IKE message")?;
    let mut bytes = w.into_vec();
    let header = Header {
        next_payload: first,
        length: bytes.len() as u32,
        ..header.clone()
    };
    bytes[..Header::LEN].copy_from_slice(&header.to_bytes());
    Ok(bytes)
}

/// Parse the plaintext of a decrypted SK payload: a payload chain starting with `first`.
///
/// Error offsets count from the start of `bytes`.
pub fn parse_payloads(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, WireError> {
    parse::run(bytes, payload_chain(first, ChainContext::Plaintext))
}

/// Write a payload chain (for the plaintext inside SK); returns the type of the
/// first payload (PayloadType::NONE if empty) and the bytes.
///
/// # Panics
///
/// If the chain cannot be encoded: see [`try_write_payloads`].
pub fn write_payloads(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    match try_write_payloads(payloads) {
        Ok(written) => written,
        Err(e) => panic!("cannot encode IKE payloads: {e}"),
    }
}

/// Like [`write_payloads`], but says why a chain cannot be encoded: an SK/SKF
/// payload inside (plaintext cannot nest them), a field too long for its length
/// field, or a traffic selector whose type and addresses disagree.
pub fn try_write_payloads(payloads: &[Payload]) -> Result<(PayloadType, Vec<u8>), WireError> {
    let guess: usize = payloads.iter().map(Payload::encoded_len_guess).sum();
    let mut w = Writer::with_capacity(guess);
    let first = write_chain(&mut w, payloads, ChainContext::Plaintext, &mut 0)?;
    Ok((first, w.into_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Flags;
    use crate::payload::EncryptedFragmentPayload;
    use crate::registry::ExchangeType;

    #[test]
    fn room_for_a_sealed_body_is_the_message_with_a_zeroed_body() {
        let header = Header::new(
            [1; 8],
            [2; 8],
            ExchangeType::CREATE_CHILD_SA,
            Flags::request(true),
            7,
        );
        let sk = |body: Vec<u8>| {
            Payload::Encrypted(EncryptedPayload {
                first_inner: PayloadType::SA,
                body,
            })
        };
        let skf = |body: Vec<u8>| {
            Payload::EncryptedFragment(EncryptedFragmentPayload {
                fragment_number: 2,
                total_fragments: 3,
                first_inner: PayloadType::NONE,
                body,
            })
        };
        for container in [sk, skf] {
            let whole = Message {
                header: header.clone(),
                payloads: vec![container(vec![0; 93])],
            };
            assert_eq!(
                encrypted_message_with_room(&header, &container(Vec::new()), 93),
                whole.to_bytes()
            );
        }
    }
}
