//! Typed views of the Notification Data of the notify types whose data has a
//! structure: RFC 7296 (NAT detection, INVALID_KE_PAYLOAD, SET_WINDOW_SIZE, ...),
//! RFC 4555 (MOBIKE addresses), RFC 5685 (redirect), RFC 7427 (hash algorithms).
//!
//! [`NotifyPayload`] keeps its data as bytes (so any notify round-trips); these views
//! are decoded on demand with [`NotifyPayload::decode_data`] and written back with
//! [`NotifyData::to_bytes`]. Error offsets count from the start of the data.

use std::net::{IpAddr, SocketAddr};

use super::NotifyPayload;
use nom::combinator::map;
use nom::sequence::pair;

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::parse::{
    self, all_consumed, array, be_u16, be_u32, fail, rest_vec, take, to_the_end_with_capacity, u8,
    Input, Parsed,
};
use crate::registry::{GatewayIdType, HashAlgorithm, KeMethod, NotifyType};

/// Size of the SHA-1 hash in NAT_DETECTION_SOURCE_IP / _DESTINATION_IP.
const NAT_DETECTION_HASH_LEN: usize = 20;

/// The structured content of a notification's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyData {
    /// A type that carries no data (MOBIKE_SUPPORTED, REDIRECT_SUPPORTED,
    /// CHILDLESS_IKEV2_SUPPORTED, INTERMEDIATE_EXCHANGE_SUPPORTED, INITIAL_CONTACT, ...).
    Empty,
    /// NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP: a SHA-1 hash.
    NatDetection([u8; NAT_DETECTION_HASH_LEN]),
    /// INVALID_KE_PAYLOAD: the key exchange method the responder wants.
    InvalidKePayload(KeMethod),
    /// SET_WINDOW_SIZE (window size) or AUTH_LIFETIME (seconds).
    U32(u32),
    /// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4).
    SignatureHashAlgorithms(Vec<HashAlgorithm>),
    /// ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS (RFC 4555 §3.6).
    AdditionalAddress(IpAddr),
    /// NO_NATS_ALLOWED (RFC 4555 §3.9): the addresses and ports the sender used.
    NoNatsAllowed {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// REDIRECT (RFC 5685 §8.1): where to go, and the initiator's nonce when the
    /// redirect is sent in an IKE_SA_INIT response (empty otherwise).
    Redirect {
        gateway: GatewayIdentity,
        nonce: Vec<u8>,
    },
    /// REDIRECTED_FROM (RFC 5685 §8.2): the gateway that redirected the initiator.
    RedirectedFrom(GatewayIdentity),
    /// Data without further structure (COOKIE, COOKIE2, ADDITIONAL_KEY_EXCHANGE's
    /// link, REKEY_SA has none, ...) or a type this crate does not know.
    Opaque(Vec<u8>),
}

/// A gateway identity of RFC 5685 §8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayIdentity {
    Ip(IpAddr),
    Fqdn(Vec<u8>),
    /// An identity type this crate does not know, kept verbatim.
    Other {
        id_type: GatewayIdType,
        data: Vec<u8>,
    },
}

impl NotifyPayload {
    /// Decodes the notification data according to the notify type.
    pub fn decode_data(&self) -> Result<NotifyData, WireError> {
        NotifyData::parse(self.notify_type, &self.data)
    }
}

impl NotifyData {
    /// Parses `data` as the data of a notify of type `notify_type`.
    pub fn parse(notify_type: NotifyType, data: &[u8]) -> Result<NotifyData, WireError> {
        parse::run(data, all_consumed(|input| notify_data(notify_type, input)))
    }

    /// The notification data bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            NotifyData::Empty => {}
            NotifyData::NatDetection(hash) => w.bytes(hash),
            NotifyData::InvalidKePayload(method) => w.u16(method.0),
            NotifyData::U32(value) => w.bytes(&value.to_be_bytes()),
            NotifyData::SignatureHashAlgorithms(algorithms) => {
                algorithms.iter().for_each(|a| w.u16(a.0))
            }
            NotifyData::AdditionalAddress(address) => write_ip(&mut w, *address),
            NotifyData::NoNatsAllowed {
                source,
                destination,
            } => {
                write_ip(&mut w, source.ip());
                write_ip(&mut w, destination.ip());
                w.u16(source.port());
                w.u16(destination.port());
            }
            NotifyData::Redirect { gateway, nonce } => {
                gateway.write(&mut w);
                w.bytes(nonce);
            }
            NotifyData::RedirectedFrom(gateway) => gateway.write(&mut w),
            NotifyData::Opaque(data) => w.bytes(data),
        }
        w.into_vec()
    }
}

/// The data of a notify of type `notify_type`, as far as its structure goes.
fn notify_data(notify_type: NotifyType, input: Input<'_>) -> Parsed<'_, NotifyData> {
    match notify_type {
        NotifyType::NAT_DETECTION_SOURCE_IP | NotifyType::NAT_DETECTION_DESTINATION_IP => {
            map(
                array("NAT detection hash (20 bytes)"),
                NotifyData::NatDetection,
            )(input)
        }
        NotifyType::INVALID_KE_PAYLOAD => map(be_u16("key exchange method"), |method| {
            NotifyData::InvalidKePayload(KeMethod(method))
        })(input),
        NotifyType::SET_WINDOW_SIZE | NotifyType::AUTH_LIFETIME => {
            map(be_u32("32-bit value"), NotifyData::U32)(input)
        }
        NotifyType::SIGNATURE_HASH_ALGORITHMS => map(
            to_the_end_with_capacity(
                input.len() / 2,
                map(be_u16("hash algorithm"), HashAlgorithm),
            ),
            NotifyData::SignatureHashAlgorithms,
        )(input),
        NotifyType::ADDITIONAL_IP4_ADDRESS => map(array::<4>("IPv4 address"), |a| {
            NotifyData::AdditionalAddress(IpAddr::from(a))
        })(input),
        NotifyType::ADDITIONAL_IP6_ADDRESS => map(array::<16>("IPv6 address"), |a| {
            NotifyData::AdditionalAddress(IpAddr::from(a))
        })(input),
        NotifyType::NO_NATS_ALLOWED => no_nats_allowed(input),
        NotifyType::REDIRECT => map(
            pair(GatewayIdentity::parse, rest_vec),
            |(gateway, nonce)| NotifyData::Redirect { gateway, nonce },
        )(input),
        NotifyType::REDIRECTED_FROM => {
            map(GatewayIdentity::parse, NotifyData::RedirectedFrom)(input)
        }
        t if carries_no_data(t) => Ok((input, NotifyData::Empty)),
        _ => map(rest_vec, NotifyData::Opaque)(input),
    }
}

/// Status types whose data is empty by definition.
fn carries_no_data(t: NotifyType) -> bool {
    matches!(
        t,
        NotifyType::INITIAL_CONTACT
            | NotifyType::USE_TRANSPORT_MODE
            | NotifyType::HTTP_CERT_LOOKUP_SUPPORTED
            | NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED
            | NotifyType::NON_FIRST_FRAGMENTS_ALSO
            | NotifyType::MOBIKE_SUPPORTED
            | NotifyType::NO_ADDITIONAL_ADDRESSES
            | NotifyType::UPDATE_SA_ADDRESSES
            | NotifyType::MULTIPLE_AUTH_SUPPORTED
            | NotifyType::ANOTHER_AUTH_FOLLOWS
            | NotifyType::REDIRECT_SUPPORTED
            | NotifyType::CHILDLESS_IKEV2_SUPPORTED
            | NotifyType::IKEV2_FRAGMENTATION_SUPPORTED
            | NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED
            | NotifyType::USE_PPK
            | NotifyType::NO_PPK_AUTH
    )
}

/// RFC 4555 §3.9: source address, destination address, source port, destination
/// port; 12 bytes for IPv4, 36 for IPv6.
fn no_nats_allowed(input: Input<'_>) -> Parsed<'_, NotifyData> {
    let (ports, (source, destination)) = match input.len() {
        12 => pair(
            map(array::<4>("source IPv4 address"), IpAddr::from),
            map(array::<4>("destination IPv4 address"), IpAddr::from),
        )(input)?,
        36 => pair(
            map(array::<16>("source IPv6 address"), IpAddr::from),
            map(array::<16>("destination IPv6 address"), IpAddr::from),
        )(input)?,
        declared => {
            return fail(
                input,
                WireErrorKind::BadLength {
                    what: "NO_NATS_ALLOWED data (12 bytes for IPv4, 36 for IPv6)",
                    declared,
                    min: 12,
                    max: 36,
                },
            )
        }
    };
    let (rest, (source_port, destination_port)) =
        pair(be_u16("source port"), be_u16("destination port"))(ports)?;
    let data = NotifyData::NoNatsAllowed {
        source: SocketAddr::new(source, source_port),
        destination: SocketAddr::new(destination, destination_port),
    };
    Ok((rest, data))
}

fn write_ip(w: &mut Writer, address: IpAddr) {
    match address {
        IpAddr::V4(a) => w.bytes(&a.octets()),
        IpAddr::V6(a) => w.bytes(&a.octets()),
    }
}

impl GatewayIdentity {
    fn parse(input: Input<'_>) -> Parsed<'_, GatewayIdentity> {
        let (length_field, id_type) = u8("gateway identity type")(input)?;
        let (identity, length) = u8("gateway identity length")(length_field)?;
        let id_type = GatewayIdType(id_type);
        let length = usize::from(length);
        let expected = match id_type {
            GatewayIdType::IPV4_ADDR => Some(4),
            GatewayIdType::IPV6_ADDR => Some(16),
            _ => None,
        };
        if let Some(expected) = expected.filter(|&e| e != length) {
            return fail(
                length_field,
                WireErrorKind::BadLength {
                    what: "gateway identity",
                    declared: length,
                    min: expected,
                    max: expected,
                },
            );
        }
        match id_type {
            GatewayIdType::IPV4_ADDR => map(array::<4>("gateway IPv4 address"), |a| {
                GatewayIdentity::Ip(IpAddr::from(a))
            })(identity),
            GatewayIdType::IPV6_ADDR => map(array::<16>("gateway IPv6 address"), |a| {
                GatewayIdentity::Ip(IpAddr::from(a))
            })(identity),
            GatewayIdType::FQDN => map(take(length, "gateway FQDN"), |name: &[u8]| {
                GatewayIdentity::Fqdn(name.to_vec())
            })(identity),
            _ => map(take(length, "gateway identity"), |data: &[u8]| {
                GatewayIdentity::Other {
                    id_type,
                    data: data.to_vec(),
                }
            })(identity),
        }
    }

    fn write(&self, w: &mut Writer) {
        let (id_type, data): (GatewayIdType, Vec<u8>) = match self {
            GatewayIdentity::Ip(IpAddr::V4(a)) => (GatewayIdType::IPV4_ADDR, a.octets().to_vec()),
            GatewayIdentity::Ip(IpAddr::V6(a)) => (GatewayIdType::IPV6_ADDR, a.octets().to_vec()),
            GatewayIdentity::Fqdn(name) => (GatewayIdType::FQDN, name.clone()),
            GatewayIdentity::Other { id_type, data } => (*id_type, data.clone()),
        };
        // A longer identity cannot be expressed; RFC 5685 limits FQDNs to 255 anyway.
        let data = &data[..data.len().min(usize::from(u8::MAX))];
        w.u8(id_type.0);
        w.u8(data.len() as u8);
        w.bytes(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: NotifyType, data: NotifyData) {
        let bytes = data.to_bytes();
        assert_eq!(NotifyData::parse(t, &bytes), Ok(data), "{t}");
    }

    #[test]
    fn structured_notify_data_round_trips() {
        round_trip(
            NotifyType::NAT_DETECTION_SOURCE_IP,
            NotifyData::NatDetection([7; 20]),
        );
        round_trip(
            NotifyType::INVALID_KE_PAYLOAD,
            NotifyData::InvalidKePayload(KeMethod::CURVE25519),
        );
        round_trip(NotifyType::SET_WINDOW_SIZE, NotifyData::U32(4));
        round_trip(
            NotifyType::SIGNATURE_HASH_ALGORITHMS,
            NotifyData::SignatureHashAlgorithms(vec![HashAlgorithm::SHA2_256, HashAlgorithm(9)]),
        );
        round_trip(
            NotifyType::ADDITIONAL_IP6_ADDRESS,
            NotifyData::AdditionalAddress("2001:db8::1".parse().unwrap()),
        );
        round_trip(
            NotifyType::NO_NATS_ALLOWED,
            NotifyData::NoNatsAllowed {
                source: "192.0.2.1:500".parse().unwrap(),
                destination: "192.0.2.2:4500".parse().unwrap(),
            },
        );
        round_trip(
            NotifyType::REDIRECT,
            NotifyData::Redirect {
                gateway: GatewayIdentity::Fqdn(b"gw2.example".to_vec()),
                nonce: vec![1, 2, 3, 4],
            },
        );
        round_trip(
            NotifyType::REDIRECTED_FROM,
            NotifyData::RedirectedFrom(GatewayIdentity::Ip("192.0.2.9".parse().unwrap())),
        );
        round_trip(NotifyType::MOBIKE_SUPPORTED, NotifyData::Empty);
        round_trip(NotifyType::COOKIE, NotifyData::Opaque(vec![9; 16]));
    }

    #[test]
    fn malformed_notify_data_is_an_error_with_its_offset() {
        let err = NotifyData::parse(NotifyType::NAT_DETECTION_SOURCE_IP, &[0; 19]).unwrap_err();
        assert_eq!(err.offset, 0);
        let err = NotifyData::parse(NotifyType::NAT_DETECTION_SOURCE_IP, &[0; 21]).unwrap_err();
        assert_eq!(err.kind, WireErrorKind::TrailingBytes(1));
        let err = NotifyData::parse(NotifyType::REDIRECT, &[1, 5, 1, 2, 3, 4, 5]).unwrap_err();
        assert_eq!(err.offset, 1);
        assert!(NotifyData::parse(NotifyType::MOBIKE_SUPPORTED, &[0]).is_err());
        assert!(NotifyData::parse(NotifyType::NO_NATS_ALLOWED, &[0; 13]).is_err());
        assert!(NotifyData::parse(NotifyType::SIGNATURE_HASH_ALGORITHMS, &[0; 3]).is_err());
    }
}
