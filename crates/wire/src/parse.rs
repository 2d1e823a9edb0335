//! The nom vocabulary the parsers are written in: named big-endian fields,
//! length-checked substructures, "nothing may be left over", and errors that keep
//! where they happened.
//!
//! A parser takes the unread input and returns what is left after it. An error keeps
//! the slice it was found at; [`run`] turns that slice into an offset from the start
//! of the buffer the caller handed over (nom's [`Offset`]), so a substructure's
//! parser needs no idea of where its bytes sit in the datagram.
//!
//! nom's own number and byte parsers do the reading; the wrappers here only give
//! their failures this crate's shape ([`WireErrorKind::Truncated`] naming the field).

use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Offset};

use crate::error::{WireError, WireErrorKind};

/// The unread bytes.
pub(crate) type Input<'a> = &'a [u8];

/// A parse error and the input it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure<'a> {
    at: Input<'a>,
    kind: WireErrorKind,
}

/// What every parser here returns.
pub(crate) type Parsed<'a, O> = IResult<Input<'a>, O, Failure<'a>>;

impl<'a> ParseError<Input<'a>> for Failure<'a> {
    /// Every field read here has a name, so a failure nom makes up itself can only
    /// come from a combinator that ran out of (complete) input.
    fn from_error_kind(input: Input<'a>, _: ErrorKind) -> Self {
        Failure {
            at: input,
            kind: WireErrorKind::Truncated {
                expected: "more bytes",
                needed: 1,
                available: input.len(),
            },
        }
    }

    /// The innermost error says most: keep it.
    fn append(_: Input<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Fails with `kind`, located at the start of `at`.
pub(crate) fn fail<'a, O>(at: Input<'a>, kind: WireErrorKind) -> Parsed<'a, O> {
    Err(nom::Err::Error(Failure { at, kind }))
}

/// Runs `parser` on `buffer`; error offsets count from the start of `buffer`.
/// What the parser leaves unread is not looked at (see [`all_consumed`]).
pub(crate) fn run<'a, O>(
    buffer: Input<'a>,
    mut parser: impl FnMut(Input<'a>) -> Parsed<'a, O>,
) -> Result<O, WireError> {
    match parser(buffer) {
        Ok((_, output)) => Ok(output),
        Err(nom::Err::Error(failure) | nom::Err::Failure(failure)) => Err(WireError {
            offset: buffer.offset(failure.at),
            kind: failure.kind,
        }),
        // Only streaming parsers ask for more input, and none is used here; should
        // one slip in, its request is still an honest "truncated".
        Err(nom::Err::Incomplete(needed)) => Err(WireError {
            offset: buffer.len(),
            kind: WireErrorKind::Truncated {
                expected: "more bytes",
                needed: match needed {
                    nom::Needed::Size(n) => n.get(),
                    nom::Needed::Unknown => 1,
                },
                available: 0,
            },
        }),
    }
}

/// `parser`, failing with [`WireErrorKind::TrailingBytes`] unless it reads all of
/// its input.
pub(crate) fn all_consumed<'a, O>(
    mut parser: impl FnMut(Input<'a>) -> Parsed<'a, O>,
) -> impl FnMut(Input<'a>) -> Parsed<'a, O> {
    move |input| {
        let (rest, output) = parser(input)?;
        if !rest.is_empty() {
            return fail(rest, WireErrorKind::TrailingBytes(rest.len()));
        }
        Ok((rest, output))
    }
}

/// Gives a failure of nom's `parser`, which reads a field of `needed` bytes, the
/// shape of this crate's errors: the field's name and how short the input was.
fn field<'a, O>(
    expected: &'static str,
    needed: usize,
    mut parser: impl FnMut(Input<'a>) -> IResult<Input<'a>, O, ()>,
) -> impl FnMut(Input<'a>) -> Parsed<'a, O> {
    move |input| {
        parser(input).map_err(|_| {
            nom::Err::Error(Failure {
                at: input,
                kind: WireErrorKind::Truncated {
                    expected,
                    needed,
                    available: input.len(),
                },
            })
        })
    }
}

/// One octet.
pub(crate) fn u8<'a>(expected: &'static str) -> impl FnMut(Input<'a>) -> Parsed<'a, u8> {
    field(expected, 1, nom::number::complete::u8)
}

/// A big-endian u16.
pub(crate) fn be_u16<'a>(expected: &'static str) -> impl FnMut(Input<'a>) -> Parsed<'a, u16> {
    field(expected, 2, nom::number::complete::be_u16)
}

/// A big-endian u32.
pub(crate) fn be_u32<'a>(expected: &'static str) -> impl FnMut(Input<'a>) -> Parsed<'a, u32> {
    field(expected, 4, nom::number::complete::be_u32)
}

/// The next `n` bytes, borrowed.
pub(crate) fn take<'a>(
    n: usize,
    expected: &'static str,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Input<'a>> {
    field(expected, n, nom::bytes::complete::take(n))
}

/// The next `N` bytes, copied into an array (SPIs, addresses, hashes).
pub(crate) fn array<'a, const N: usize>(
    expected: &'static str,
) -> impl FnMut(Input<'a>) -> Parsed<'a, [u8; N]> {
    let mut bytes = take(N, expected);
    move |input| {
        let (rest, bytes) = bytes(input)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok((rest, out))
    }
}

/// Reserved bytes: RFC 7296 says they are sent as zero and ignored on receipt.
pub(crate) fn reserved<'a>(n: usize) -> impl FnMut(Input<'a>) -> Parsed<'a, ()> {
    let mut bytes = take(n, "reserved bytes");
    move |input| bytes(input).map(|(rest, _)| (rest, ()))
}

/// Everything that is left, copied (the opaque data that ends most payloads).
pub(crate) fn rest_vec(input: Input<'_>) -> Parsed<'_, Vec<u8>> {
    Ok((&input[input.len()..], input.to_vec()))
}

/// Octets before (and including) the length field of the structures
/// [`length_prefixed`] reads: two octets of their own, then the two-octet length.
pub(crate) const LENGTH_PREFIXED_HEADER_LEN: usize = 4;

/// The body of a structure whose two-octet length field (where `input` starts)
/// counts the whole structure from the two octets before it: generic payload
/// headers, proposals, transforms, traffic selectors. The length must be at least
/// `min` and at most what is there; an error points at the length field.
pub(crate) fn length_prefixed<'a>(
    what: &'static str,
    length_field: &'static str,
    min: usize,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Input<'a>> {
    move |input| {
        let (rest, declared) = be_u16(length_field)(input)?;
        let declared = usize::from(declared);
        let max = rest.len() + LENGTH_PREFIXED_HEADER_LEN;
        if declared < min || declared > max {
            return fail(
                input,
                WireErrorKind::BadLength {
                    what,
                    declared,
                    min,
                    max,
                },
            );
        }
        take(declared - LENGTH_PREFIXED_HEADER_LEN, what)(rest)
    }
}

/// Applies `item` until the input is used up; an item's error ends the whole.
pub(crate) fn to_the_end<'a, O>(
    item: impl FnMut(Input<'a>) -> Parsed<'a, O>,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Vec<O>> {
    to_the_end_with_capacity(0, item)
}

/// [`to_the_end`] into a vector made with room for `capacity` items: the caller
/// knows how many to expect, bounded by how many the input can hold, and saves
/// the vector's regrowing (strongSwan proposes about 70 transforms in one proposal).
pub(crate) fn to_the_end_with_capacity<'a, O>(
    capacity: usize,
    mut item: impl FnMut(Input<'a>) -> Parsed<'a, O>,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Vec<O>> {
    move |mut input| {
        let mut items = Vec::with_capacity(capacity);
        while !input.is_empty() {
            let (rest, parsed) = item(input)?;
            input = rest;
            items.push(parsed);
        }
        Ok((input, items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_count_from_the_buffer_the_caller_handed_over() {
        let buffer = [0u8, 1, 2, 3, 4, 5];
        // A substructure parsed on its own slice still reports the buffer's offset.
        let err = run(&buffer, |input| {
            let (rest, _) = take(2, "prefix")(input)?;
            let (_, inner) = take(3, "inner")(rest)?;
            be_u32("inner value")(inner)
        })
        .unwrap_err();
        assert_eq!(
            err,
            WireError {
                offset: 2,
                kind: WireErrorKind::Truncated {
                    expected: "inner value",
                    needed: 4,
                    available: 3,
                },
            }
        );
    }

    #[test]
    fn all_consumed_refuses_what_is_left_over() {
        let err = run(&[1u8, 2, 3], all_consumed(u8("one octet"))).unwrap_err();
        assert_eq!(err.offset, 1);
        assert_eq!(err.kind, WireErrorKind::TrailingBytes(2));
        assert_eq!(run(&[7u8], all_consumed(u8("one octet"))), Ok(7));
    }

    #[test]
    fn length_prefixed_checks_the_length_against_what_is_there() {
        // Two octets of header, then a length of 6: two body bytes follow.
        let ok = run(&[9u8, 9, 0, 6, 0xaa, 0xbb, 0xcc], |input| {
            let (rest, _) = take(2, "header")(input)?;
            length_prefixed("thing", "thing length", 4)(rest)
        });
        assert_eq!(ok, Ok(&[0xaa, 0xbb][..]));
        let err = run(&[9u8, 9, 0, 8, 0xaa], |input| {
            let (rest, _) = take(2, "header")(input)?;
            length_prefixed("thing", "thing length", 4)(rest)
        })
        .unwrap_err();
        assert_eq!(
            err,
            WireError {
                offset: 2,
                kind: WireErrorKind::BadLength {
                    what: "thing",
                    declared: 8,
                    min: 4,
                    max: 5,
                },
            }
        );
    }
}
