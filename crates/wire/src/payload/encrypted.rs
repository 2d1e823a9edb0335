//! Encrypted and Authenticated payload SK (RFC 7296 §3.14) and its fragment form
//! SKF (RFC 7383 §2.5). The protected body is opaque here: decrypting is the
//! crypto crate's job, and the engine parses the plaintext with
//! [`crate::parse_payloads`].
//!
//! Both must be the last payload of a message, so the AEAD associated data — every
//! byte of the datagram before the body — is `&datagram[..datagram.len() - body.len()]`.

use crate::codec::{Reader, Writer};
use crate::error::{WireError, WireErrorKind};
use crate::registry::PayloadType;

/// SK payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedPayload {
    /// The type of the first payload inside (carried in SK's next-payload field).
    pub first_inner: PayloadType,
    /// IV || ciphertext || ICV, written verbatim at the very end of the message.
    pub body: Vec<u8>,
}

/// SKF payload: one fragment of an SK payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedFragmentPayload {
    /// 1-based.
    pub fragment_number: u16,
    pub total_fragments: u16,
    /// The first inner payload type in fragment 1; NONE in the others.
    pub first_inner: PayloadType,
    /// IV || ciphertext || ICV, written verbatim at the very end of the message.
    pub body: Vec<u8>,
}

impl EncryptedPayload {
    pub(crate) fn parse<'a>(
        first_inner: PayloadType,
    ) -> impl FnMut(&'a [u8]) -> crate::parse::Parsed<'a, EncryptedPayload> {
        move |input| {
            crate::codec::reader_as_parser(input, |r| {
                Ok(EncryptedPayload {
                    first_inner,
                    body: r.rest().to_vec(),
                })
            })
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.bytes(&self.body);
    }
}

impl EncryptedFragmentPayload {
    pub(crate) fn parse<'a>(
        first_inner: PayloadType,
    ) -> impl FnMut(&'a [u8]) -> crate::parse::Parsed<'a, EncryptedFragmentPayload> {
        move |input| crate::codec::reader_as_parser(input, |r| Self::parse_reader(first_inner, r))
    }

    fn parse_reader(
        first_inner: PayloadType,
        r: &mut Reader<'_>,
    ) -> Result<EncryptedFragmentPayload, WireError> {
        let number_offset = r.offset();
        let fragment_number = r.u16("fragment number")?;
        let total_fragments = r.u16("total fragments")?;
        if fragment_number == 0 || fragment_number > total_fragments {
            return Err(WireError {
                offset: number_offset,
                kind: WireErrorKind::BadFragmentNumber {
                    number: fragment_number,
                    total: total_fragments,
                },
            });
        }
        Ok(EncryptedFragmentPayload {
            fragment_number,
            total_fragments,
            first_inner,
            body: r.rest().to_vec(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u16(self.fragment_number);
        w.u16(self.total_fragments);
        w.bytes(&self.body);
    }
}
