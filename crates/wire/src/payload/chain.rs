//! Generic payload headers and the next-payload chain (RFC 7296 §3.2).

use super::{EncryptedFragmentPayload, EncryptedPayload, Payload};
use nom::combinator::map;
use nom::sequence::tuple;

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::parse::{all_consumed, fail, length_prefixed, u8, Input, Parsed};
use crate::registry::PayloadType;

/// Size of the generic payload header: next payload, critical/reserved, length.
pub(crate) const GENERIC_HEADER_LEN: usize = crate::parse::LENGTH_PREFIXED_HEADER_LEN;
const CRITICAL_BIT: u8 = 0x80;

/// Where a chain is being parsed: SK/SKF may end a message but never appear inside
/// the plaintext they protect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ChainContext {
    Message,
    Plaintext,
}

/// The generic payload header (RFC 7296 §3.2) and the body its length frames.
struct GenericPayload<'a> {
    next: PayloadType,
    critical: bool,
    body: Input<'a>,
}

fn generic_payload(input: Input<'_>) -> Parsed<'_, GenericPayload<'_>> {
    let (input, (next, flags, body)) = tuple((
        u8("next payload type"),
        u8("critical bit"),
        length_prefixed("payload", "payload length", GENERIC_HEADER_LEN),
    ))(input)?;
    let payload = GenericPayload {
        next: PayloadType(next),
        critical: flags & CRITICAL_BIT != 0,
        body,
    };
    Ok((input, payload))
}

/// Parses payloads starting with `first` until the chain ends, then requires the
/// input to be exhausted.
pub(crate) fn payload_chain<'a>(
    first: PayloadType,
    context: ChainContext,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Vec<Payload>> {
    move |mut input| {
        // Room for the payloads of a typical message (at most 8, and no more than
        // the input could hold), so that the vector rarely has to grow.
        let mut payloads = Vec::with_capacity((input.len() / GENERIC_HEADER_LEN).min(8));
        let mut current = first;
        while current != PayloadType::NONE {
            let start = input;
            let (rest, payload) = generic_payload(input)?;
            input = rest;
            if current == PayloadType::SK || current == PayloadType::SKF {
                if context == ChainContext::Plaintext {
                    return fail(start, WireErrorKind::EncryptedInsidePlaintext);
                }
                // The next-payload field of SK/SKF names the first *inner* payload, so
                // the outer chain ends here and nothing may follow.
                if !rest.is_empty() {
                    return fail(rest, WireErrorKind::EncryptedNotLast);
                }
                let (_, encrypted) = encrypted(current, payload.next)(payload.body)?;
                payloads.push(encrypted);
                return Ok((rest, payloads));
            }
            let (_, parsed) = all_consumed(Payload::body(current, payload.critical))(payload.body)?;
            payloads.push(parsed);
            current = payload.next;
        }
        if !input.is_empty() {
            return fail(input, WireErrorKind::TrailingBytes(input.len()));
        }
        Ok((input, payloads))
    }
}

fn encrypted<'a>(
    kind: PayloadType,
    first_inner: PayloadType,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Payload> {
    move |body| {
        if kind == PayloadType::SK {
            map(EncryptedPayload::parse(first_inner), Payload::Encrypted)(body)
        } else {
            map(
                EncryptedFragmentPayload::parse(first_inner),
                Payload::EncryptedFragment,
            )(body)
        }
    }
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
