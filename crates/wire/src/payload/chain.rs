//! Generic payload headers and the next-payload chain (RFC 7296 §3.2).

use super::{EncryptedFragmentPayload, EncryptedPayload, Payload};
use crate::codec::{Reader, Writer};
use crate::error::{WireError, WireErrorKind};
use crate::registry::PayloadType;

/// Size of the generic payload header: next payload, critical/reserved, length.
pub(crate) const GENERIC_HEADER_LEN: usize = 4;
const CRITICAL_BIT: u8 = 0x80;

/// Where a chain is being parsed: SK/SKF may end a message but never appear inside
/// the plaintext they protect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ChainContext {
    Message,
    Plaintext,
}

/// Parses payloads starting with `first` until the chain ends, then requires the
/// reader to be exhausted.
pub(crate) fn parse_chain(
    r: &mut Reader<'_>,
    first: PayloadType,
    context: ChainContext,
) -> Result<Vec<Payload>, WireError> {
    let mut payloads = Vec::new();
    let mut current = first;
    while current != PayloadType::NONE {
        let start = r.offset();
        let next = PayloadType(r.u8("next payload type")?);
        let critical = r.u8("critical bit")? & CRITICAL_BIT != 0;
        let declared = usize::from(r.u16("payload length")?);
        let max = r.remaining() + GENERIC_HEADER_LEN;
        if declared < GENERIC_HEADER_LEN || declared > max {
            return Err(WireError {
                offset: start + 2,
                kind: WireErrorKind::BadLength {
                    what: "payload",
                    declared,
                    min: GENERIC_HEADER_LEN,
                    max,
                },
            });
        }
        let mut body = r.sub(declared - GENERIC_HEADER_LEN, "payload body")?;

        if current == PayloadType::SK || current == PayloadType::SKF {
            if context == ChainContext::Plaintext {
                return Err(WireError {
                    offset: start,
                    kind: WireErrorKind::EncryptedInsidePlaintext,
                });
            }
            // The next-payload field of SK/SKF names the first *inner* payload, so
            // the outer chain ends here and nothing may follow.
            if !r.is_empty() {
                return Err(r.error(WireErrorKind::EncryptedNotLast));
            }
            payloads.push(parse_encrypted(current, next, &mut body)?);
            return Ok(payloads);
        }

        payloads.push(Payload::parse_body(current, critical, &mut body)?);
        current = next;
    }
    r.expect_end()?;
    Ok(payloads)
}

fn parse_encrypted(
    kind: PayloadType,
    first_inner: PayloadType,
    body: &mut Reader<'_>,
) -> Result<Payload, WireError> {
    Ok(if kind == PayloadType::SK {
        Payload::Encrypted(EncryptedPayload::parse(first_inner, body))
    } else {
        Payload::EncryptedFragment(EncryptedFragmentPayload::parse(first_inner, body)?)
    })
}

/// Writes a chain with every length and next-payload field computed; returns the
/// type of the first payload (NONE if there is none).
pub(crate) fn write_chain(
    w: &mut Writer,
    payloads: &[Payload],
    context: ChainContext,
    last_start: &mut usize,
) -> Result<PayloadType, WireError> {
    for (index, payload) in payloads.iter().enumerate() {
        if payload.is_encrypted() && context == ChainContext::Plaintext {
            return Err(w.error(WireErrorKind::EncryptedInsidePlaintext));
        }
        let following = payloads.get(index + 1);
        let next = match payload {
            Payload::Encrypted(sk) => sk.first_inner,
            Payload::EncryptedFragment(skf) => skf.first_inner,
            _ => following.map_or(PayloadType::NONE, Payload::payload_type),
        };
        if payload.is_encrypted() && following.is_some() {
            return Err(w.error(WireErrorKind::EncryptedNotLast));
        }
        let start = w.len();
        *last_start = start;
        w.u8(next.0);
        w.u8(if payload.is_critical() {
            CRITICAL_BIT
        } else {
            0
        });
        let length_at = w.length_u16_placeholder();
        payload.write_body(w)?;
        w.patch_length_u16(length_at, start, "payload")?;
    }
    Ok(payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type))
}
