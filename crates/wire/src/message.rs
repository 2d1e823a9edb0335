//! Whole IKE messages (header + payload chain) and SK plaintext chains.

use crate::codec::{Reader, Writer};
use crate::error::{WireError, WireErrorKind};
use crate::header::Header;
use crate::payload::chain::{parse_chain, write_chain, ChainContext};
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
        let mut r = Reader::new(bytes);
        r.skip_reserved(Header::LEN)?;
        let payloads = parse_chain(&mut r, header.next_payload, ChainContext::Message)?;
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
        let guess: usize = self.payloads.iter().map(Payload::encoded_len_guess).sum();
        let mut w = Writer::with_capacity(Header::LEN + guess);
        w.bytes(&[0; Header::LEN]);
        let first = write_chain(&mut w, &self.payloads, ChainContext::Message)?;
        w.patch_length_u32(Header::LENGTH_OFFSET, 0, "IKE message")?;
        let mut bytes = w.into_vec();
        let header = Header {
            next_payload: first,
            length: bytes.len() as u32,
            ..self.header.clone()
        };
        bytes[..Header::LEN].copy_from_slice(&header.to_bytes());
        Ok(bytes)
    }

    /// The SK payload, if the message has one (it is always the last payload).
    pub fn encrypted(&self) -> Option<&EncryptedPayload> {
        match self.payloads.last() {
            Some(Payload::Encrypted(sk)) => Some(sk),
            _ => None,
        }
    }
}

/// Parse the plaintext of a decrypted SK payload: a payload chain starting with `first`.
///
/// Error offsets count from the start of `bytes`.
pub fn parse_payloads(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, WireError> {
    parse_chain(&mut Reader::new(bytes), first, ChainContext::Plaintext)
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
    let first = write_chain(&mut w, payloads, ChainContext::Plaintext)?;
    Ok((first, w.into_vec()))
}
