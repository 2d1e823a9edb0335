//! The RADIUS packet (RFC 2865 §3 and §5): code, identifier, length,
//! authenticator, then type-length-value attributes.

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, u8 as byte};
use nom::IResult;

use crate::Error;

pub const ACCESS_REQUEST: u8 = 1;
pub const ACCESS_ACCEPT: u8 = 2;
pub const ACCESS_REJECT: u8 = 3;
pub const ACCESS_CHALLENGE: u8 = 11;

/// The header: code, identifier, length, authenticator.
pub const HEADER_LEN: usize = 20;
/// RFC 2865 §3: the largest packet.
pub const MAX_LEN: usize = 4096;
/// An attribute's value is at most 253 octets (its length octet counts 2 more).
pub const MAX_VALUE_LEN: usize = 253;

/// One attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub kind: u8,
    pub value: Vec<u8>,
}

/// A RADIUS packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub code: u8,
    pub identifier: u8,
    pub authenticator: [u8; 16],
    pub attributes: Vec<Attribute>,
}

impl Packet {
    /// Reads a packet. Octets past the Length field are padding and ignored
    /// (RFC 2865 §3); a Length beyond the datagram, below 20 or above 4096, or
    /// an attribute running past the end, is refused.
    pub fn parse(bytes: &[u8]) -> Result<Packet, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Malformed("shorter than the 20-octet header"));
        }
        let length = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if !(HEADER_LEN..=MAX_LEN).contains(&length) {
            return Err(Error::Malformed("a Length below 20 or above 4096"));
        }
        if length > bytes.len() {
            return Err(Error::Malformed("a Length beyond the datagram"));
        }
        let (_, packet) = packet(&bytes[..length])
            .map_err(|_| Error::Malformed("an attribute runs past the end"))?;
        Ok(packet)
    }

    /// The packet as sent. Attribute values longer than 253 octets are the
    /// caller's error (see [`Packet::push_split`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.push(self.code);
        out.push(self.identifier);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.authenticator);
        for a in &self.attributes {
            assert!(
                a.value.len() <= MAX_VALUE_LEN,
                "attribute value over 253 octets"
            );
            out.push(a.kind);
            out.push(a.value.len() as u8 + 2);
            out.extend_from_slice(&a.value);
        }
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Adds `value` as consecutive attributes of `kind`, 253 octets each at
    /// most (how EAP-Message carries a long EAP packet, RFC 3579 §3.1).
    pub fn push_split(&mut self, kind: u8, value: &[u8]) {
        for chunk in value.chunks(MAX_VALUE_LEN) {
            self.attributes.push(Attribute {
                kind,
                value: chunk.to_vec(),
            });
        }
    }

    /// The first attribute of `kind`.
    pub fn first(&self, kind: u8) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| a.value.as_slice())
    }

    /// All attributes of `kind`, concatenated in order (None when there are none).
    pub fn joined(&self, kind: u8) -> Option<Vec<u8>> {
        let mut parts = self.attributes.iter().filter(|a| a.kind == kind).peekable();
        parts.peek()?;
        Some(parts.flat_map(|a| a.value.iter().copied()).collect())
    }
}

fn attribute(input: &[u8]) -> IResult<&[u8], Attribute> {
    let (input, kind) = byte(input)?;
    let (input, len) = byte(input)?;
    if len < 2 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::LengthValue,
        )));
    }
    let (input, value) = take(usize::from(len) - 2)(input)?;
    Ok((
        input,
        Attribute {
            kind,
            value: value.to_vec(),
        },
    ))
}

fn packet(input: &[u8]) -> IResult<&[u8], Packet> {
    let (input, code) = byte(input)?;
    let (input, identifier) = byte(input)?;
    let (input, _length) = be_u16(input)?;
    let (mut input, auth) = take(16usize)(input)?;
    let mut attributes = Vec::new();
    while !input.is_empty() {
        let (rest, a) = attribute(input)?;
        attributes.push(a);
        input = rest;
    }
    let mut authenticator = [0; 16];
    authenticator.copy_from_slice(auth);
    Ok((
        input,
        Packet {
            code,
            identifier,
            authenticator,
            attributes,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Packet {
        let mut p = Packet {
            code: ACCESS_REQUEST,
            identifier: 7,
            authenticator: [0x11; 16],
            attributes: vec![],
        };
        p.push_split(1, b"carol");
        p.push_split(79, &[0xab; 600]);
        p
    }

    #[test]
    fn long_values_split_at_253_and_join_back() {
        let p = sample();
        let sizes: Vec<usize> = p.attributes.iter().map(|a| a.value.len()).collect();
        assert_eq!(sizes, [5, 253, 253, 94]);
        let bytes = p.to_bytes();
        assert_eq!(bytes.len(), 20 + 7 + 3 * 2 + 600);
        assert_eq!(
            u16::from_be_bytes([bytes[2], bytes[3]]) as usize,
            bytes.len()
        );
        let back = Packet::parse(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.joined(79).unwrap(), vec![0xab; 600]);
        assert_eq!(back.first(1).unwrap(), b"carol");
        assert_eq!(back.joined(24), None);
    }

    #[test]
    fn padding_past_length_is_ignored() {
        let mut bytes = sample().to_bytes();
        bytes.extend_from_slice(&[0; 9]);
        assert_eq!(Packet::parse(&bytes).unwrap(), sample());
    }

    #[test]
    fn bad_lengths_are_refused() {
        let good = sample().to_bytes();
        assert!(Packet::parse(&good[..19]).is_err());
        let mut long = good.clone();
        long[2..4].copy_from_slice(&((good.len() + 1) as u16).to_be_bytes());
        assert_eq!(
            Packet::parse(&long),
            Err(Error::Malformed("a Length beyond the datagram"))
        );
        let mut short = good.clone();
        short[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(Packet::parse(&short).is_err());
        // An attribute whose length octet says 1, and one that runs past Length.
        let mut p = vec![2, 1, 0, 23];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[18, 1, 0]);
        assert!(Packet::parse(&p).is_err());
        p[21] = 9;
        assert!(Packet::parse(&p).is_err());
    }
}
