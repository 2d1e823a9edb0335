//! The fixed 28-byte IKE header (RFC 7296 §3.1) and its flags.

use crate::error::{WireError, WireErrorKind};
use crate::parse::{self, array, be_u32, fail, u8, Input, Parsed};
use crate::registry::{ExchangeType, PayloadType};
use nom::sequence::tuple;

/// The header's flags octet. Bits other than the three named ones are kept as
/// received so that a parsed header writes back unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// Set in messages sent by the original initiator of the IKE SA.
    pub const INITIATOR: Flags = Flags(0x08);
    /// "Higher version supported" — never set by IKEv2-only implementations.
    pub const VERSION: Flags = Flags(0x10);
    /// Set in responses.
    pub const RESPONSE: Flags = Flags(0x20);

    /// Flags for a request; `from_original_initiator` sets the I bit.
    pub fn request(from_original_initiator: bool) -> Flags {
        Flags::NONE.with_initiator(from_original_initiator)
    }

    /// Flags for a response; `from_original_initiator` sets the I bit.
    pub fn response(from_original_initiator: bool) -> Flags {
        Flags::RESPONSE.with_initiator(from_original_initiator)
    }

    const NONE: Flags = Flags(0);

    fn with_initiator(self, set: bool) -> Flags {
        if set {
            self | Flags::INITIATOR
        } else {
            self
        }
    }

    /// True if every bit of `other` is set here.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The I bit: sent by the original initiator of the IKE SA.
    pub fn is_initiator(self) -> bool {
        self.contains(Flags::INITIATOR)
    }

    /// The R bit: this message is a response.
    pub fn is_response(self) -> bool {
        self.contains(Flags::RESPONSE)
    }

    /// Neither a response nor anything else: a request.
    pub fn is_request(self) -> bool {
        !self.is_response()
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The IKE header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub initiator_spi: [u8; 8],
    pub responder_spi: [u8; 8],
    /// When writing a [`crate::Message`] this is computed; the caller's value is ignored.
    pub next_payload: PayloadType,
    /// 2 for IKEv2.
    pub major_version: u8,
    /// 0 for RFC 7296.
    pub minor_version: u8,
    pub exchange: ExchangeType,
    pub flags: Flags,
    pub message_id: u32,
    /// Length of the whole message. When writing a [`crate::Message`] this is computed.
    pub length: u32,
}

impl Header {
    /// Size of the header on the wire.
    pub const LEN: usize = 28;
    /// Offset of the version octet, for errors about it.
    pub(crate) const VERSION_OFFSET: usize = 17;
    /// Offset of the length field, for errors about it.
    pub(crate) const LENGTH_OFFSET: usize = 24;

    /// A version 2.0 header; `next_payload` and `length` are filled in when written
    /// as part of a [`crate::Message`].
    pub fn new(
        initiator_spi: [u8; 8],
        responder_spi: [u8; 8],
        exchange: ExchangeType,
        flags: Flags,
        message_id: u32,
    ) -> Header {
        Header {
            initiator_spi,
            responder_spi,
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange,
            flags,
            message_id,
            length: 0,
        }
    }

    /// Parses only the 28-byte header at the start of `bytes`, checking that its
    /// length field is at least 28 and at most `bytes.len()`.
    ///
    /// The version is *not* checked here, so that the engine can still read the SPIs
    /// of a message with an unsupported major version and answer
    /// INVALID_MAJOR_VERSION; [`crate::Message::parse`] does check it.
    pub fn parse(bytes: &[u8]) -> Result<Header, WireError> {
        parse::run(bytes, header)
    }

    /// The header's 28 bytes exactly as its fields say (nothing is computed).
    pub fn to_bytes(&self) -> [u8; Header::LEN] {
        let mut out = [0u8; Header::LEN];
        out[0..8].copy_from_slice(&self.initiator_spi);
        out[8..16].copy_from_slice(&self.responder_spi);
        out[16] = self.next_payload.0;
        out[17] = (self.major_version << 4) | (self.minor_version & 0x0f);
        out[18] = self.exchange.0;
        out[19] = self.flags.0;
        out[20..24].copy_from_slice(&self.message_id.to_be_bytes());
        out[24..28].copy_from_slice(&self.length.to_be_bytes());
        out
    }
}

/// The header at the start of `input` (the whole datagram): its length field
/// must be at least [`Header::LEN`] and at most the datagram's size.
fn header(input: Input<'_>) -> Parsed<'_, Header> {
    let (after_id, (initiator_spi, responder_spi, next_payload, version, exchange, flags)) =
        tuple((
            array("initiator SPI"),
            array("responder SPI"),
            u8("next payload type"),
            u8("version"),
            u8("exchange type"),
            u8("flags"),
        ))(input)?;
    let (length_field, message_id) = be_u32("message ID")(after_id)?;
    let (rest, length) = be_u32("message length")(length_field)?;
    let declared = length as usize;
    if declared < Header::LEN || declared > input.len() {
        return fail(
            length_field,
            WireErrorKind::BadLength {
                what: "IKE message (header length field)",
                declared,
                min: Header::LEN,
                max: input.len(),
            },
        );
    }
    let header = Header {
        initiator_spi,
        responder_spi,
        next_payload: PayloadType(next_payload),
        major_version: version >> 4,
        minor_version: version & 0x0f,
        exchange: ExchangeType(exchange),
        flags: Flags(flags),
        message_id,
        length,
    };
    Ok((rest, header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_helpers() {
        assert_eq!(Flags::request(true), Flags(0x08));
        assert_eq!(Flags::request(false), Flags(0x00));
        assert_eq!(Flags::response(true), Flags(0x28));
        assert_eq!(Flags::response(false), Flags(0x20));
        assert!(Flags(0x28).is_initiator() && Flags(0x28).is_response());
        assert!(Flags(0x08).is_request() && !Flags(0x20).is_initiator());
    }

    #[test]
    fn header_round_trip() {
        let mut header = Header::new(
            [1, 2, 3, 4, 5, 6, 7, 8],
            [0; 8],
            ExchangeType::IKE_SA_INIT,
            Flags::request(true),
            0,
        );
        header.length = 28;
        let bytes = header.to_bytes();
        assert_eq!(bytes[17], 0x20);
        assert_eq!(Header::parse(&bytes), Ok(header));
    }

    #[test]
    fn header_length_field_is_checked() {
        let mut header = Header::new([1; 8], [0; 8], ExchangeType::IKE_AUTH, Flags::default(), 1);
        header.length = 27;
        let err = Header::parse(&header.to_bytes()).unwrap_err();
        assert_eq!(err.offset, 24);
        header.length = 29;
        assert!(Header::parse(&header.to_bytes()).is_err());
        // A longer buffer is fine for Header::parse: the length field is at most its size.
        let mut longer = header.to_bytes().to_vec();
        longer.push(0);
        assert_eq!(Header::parse(&longer).map(|h| h.length), Ok(29));
    }

    #[test]
    fn header_does_not_judge_the_version() {
        let mut header = Header::new(
            [1; 8],
            [0; 8],
            ExchangeType::IKE_SA_INIT,
            Flags::default(),
            0,
        );
        header.major_version = 3;
        header.length = 28;
        assert_eq!(
            Header::parse(&header.to_bytes()).map(|h| h.major_version),
            Ok(3)
        );
    }
}
