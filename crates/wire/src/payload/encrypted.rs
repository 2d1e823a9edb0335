//! Encrypted and Authenticated payload SK (RFC 7296 §3.14) and its fragment form
//! SKF (RFC 7383 §2.5). The protected body is opaque here: decrypting is the
//! crypto crate's job, and the engine parses the plaintext with
//! [`crate::parse_payloads`].
//!
//! Both must be the last payload of a message, so the AEAD associated data — every
//! byte of the datagram before the body — is `&datagram[..datagram.len() - body.len()]`.

use nom::sequence::tuple;

use crate::codec::Writer;
use crate::error::WireErrorKind;
use crate::parse::{be_u16, fail, rest_vec, Input, Parsed};
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
    /// The body of an SK payload whose next-payload field was `first_inner`.
    pub(crate) fn parse<'a>(
        first_inner: PayloadType,
    ) -> impl FnMut(Input<'a>) -> Parsed<'a, EncryptedPayload> {
        move |input| {
            let (rest, body) = rest_vec(input)?;
            Ok((rest, EncryptedPayload { first_inner, body }))
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.bytes(&self.body);
    }
}

impl EncryptedFragmentPayload {
    /// The body of an SKF payload whose next-payload field was `first_inner`.
    pub(crate) fn parse<'a>(
        first_inner: PayloadType,
    ) -> impl FnMut(Input<'a>) -> Parsed<'a, EncryptedFragmentPayload> {
        move |input| {
            let (body, (fragment_number, total_fragments)) =
                tuple((be_u16("fragment number"), be_u16("total fragments")))(input)?;
            if fragment_number == 0 || fragment_number > total_fragments {
                return fail(
                    input,
                    WireErrorKind::BadFragmentNumber {
                        number: fragment_number,
                        total: total_fragments,
                    },
                );
            }
            let (rest, body) = rest_vec(body)?;
            let fragment = EncryptedFragmentPayload {
                fragment_number,
                total_fragments,
                first_inner,
                body,
            };
            Ok((rest, fragment))
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u16(self.fragment_number);
        w.u16(self.total_fragments);
        w.bytes(&self.body);
    }
}
