//! Traffic Selector payloads (RFC 7296 §3.13).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::combinator::peek;
use nom::sequence::{pair, preceded, terminated};

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::parse::{
    array, be_u16, fail, length_prefixed, reserved, u8, Input, Parsed, LENGTH_PREFIXED_HEADER_LEN,
};
use crate::registry::TsType;

/// Type, protocol (or reserved), length: common to every selector type.
const SELECTOR_HEADER_LEN: usize = LENGTH_PREFIXED_HEADER_LEN;
/// Type, protocol, length, start port, end port.
const SELECTOR_FIXED_LEN: usize = 8;
const IPV4_SELECTOR_LEN: usize = SELECTOR_FIXED_LEN + 2 * 4;
const IPV6_SELECTOR_LEN: usize = SELECTOR_FIXED_LEN + 2 * 16;

/// TSi / TSr payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsPayload {
    pub selectors: Vec<TrafficSelector>,
}

/// One traffic selector: an address range, a port range and an IP protocol (0 = any).
///
/// `ts_type` must agree with the address family of both addresses; the
/// constructors below guarantee it, and writing checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficSelector {
    pub ts_type: TsType,
    pub ip_protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start_addr: IpAddr,
    pub end_addr: IpAddr,
}

impl TrafficSelector {
    /// A selector for `start_addr..=end_addr` (both of one family) with the type
    /// chosen from that family, or `None` if the families differ.
    pub fn range(
        ip_protocol: u8,
        start_port: u16,
        end_port: u16,
        start_addr: IpAddr,
        end_addr: IpAddr,
    ) -> Option<TrafficSelector> {
        let ts_type = match (start_addr, end_addr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => TsType::IPV4_ADDR_RANGE,
            (IpAddr::V6(_), IpAddr::V6(_)) => TsType::IPV6_ADDR_RANGE,
            _ => return None,
        };
        Some(TrafficSelector {
            ts_type,
            ip_protocol,
            start_port,
            end_port,
            start_addr,
            end_addr,
        })
    }

    /// Every IPv4 address, protocol and port.
    pub fn any_ipv4() -> TrafficSelector {
        TrafficSelector {
            ts_type: TsType::IPV4_ADDR_RANGE,
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start_addr: Ipv4Addr::UNSPECIFIED.into(),
            end_addr: Ipv4Addr::BROADCAST.into(),
        }
    }

    /// Every IPv6 address, protocol and port.
    pub fn any_ipv6() -> TrafficSelector {
        TrafficSelector {
            ts_type: TsType::IPV6_ADDR_RANGE,
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start_addr: Ipv6Addr::UNSPECIFIED.into(),
            end_addr: Ipv6Addr::from(u128::MAX).into(),
        }
    }

    /// Parses an IPv4 or IPv6 range selector (the caller has checked the type).
    fn parse(input: Input<'_>) -> Parsed<'_, TrafficSelector> {
        let (after_type, ts_type) = u8("traffic selector type")(input)?;
        let ts_type = TsType(ts_type);
        let expected_len = match ts_type {
            TsType::IPV4_ADDR_RANGE => IPV4_SELECTOR_LEN,
            TsType::IPV6_ADDR_RANGE => IPV6_SELECTOR_LEN,
            _ => return fail(input, WireErrorKind::UnsupportedTrafficSelector(ts_type)),
        };
        let (length_field, ip_protocol) = u8("traffic selector IP protocol")(after_type)?;
        let (ports, declared) = be_u16("traffic selector length")(length_field)?;
        let declared = usize::from(declared);
        if declared != expected_len {
            return fail(
                length_field,
                WireErrorKind::BadLength {
                    what: "traffic selector",
                    declared,
                    min: expected_len,
                    max: expected_len,
                },
            );
        }
        let (addresses, (start_port, end_port)) = pair(
            be_u16("traffic selector start port"),
            be_u16("traffic selector end port"),
        )(ports)?;
        let (rest, (start_addr, end_addr)) = if ts_type == TsType::IPV4_ADDR_RANGE {
            address_range::<4>(addresses)?
        } else {
            address_range::<16>(addresses)?
        };
        let selector = TrafficSelector {
            ts_type,
            ip_protocol,
            start_port,
            end_port,
            start_addr,
            end_addr,
        };
        Ok((rest, selector))
    }

    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        // The addresses as octets on the stack (16 for either family, the
        // first `address_len` used): two vectors per selector were most of the
        // allocations of writing a CREATE_CHILD_SA request.
        let mut start = [0u8; 16];
        let mut end = [0u8; 16];
        let (length, address_len) = match (self.ts_type, self.start_addr, self.end_addr) {
            (TsType::IPV4_ADDR_RANGE, IpAddr::V4(s), IpAddr::V4(e)) => {
                start[..4].copy_from_slice(&s.octets());
                end[..4].copy_from_slice(&e.octets());
                (IPV4_SELECTOR_LEN, 4)
            }
            (TsType::IPV6_ADDR_RANGE, IpAddr::V6(s), IpAddr::V6(e)) => {
                start = s.octets();
                end = e.octets();
                (IPV6_SELECTOR_LEN, 16)
            }
            (TsType::IPV4_ADDR_RANGE | TsType::IPV6_ADDR_RANGE, _, _) => {
                return Err(w.error(WireErrorKind::BadTrafficSelector(
                    "the addresses' family does not match the selector type",
                )))
            }
            (other, _, _) => return Err(w.error(WireErrorKind::UnsupportedTrafficSelector(other))),
        };
        w.u8(self.ts_type.0);
        w.u8(self.ip_protocol);
        w.u16(w.fit_u16(length, "traffic selector")?);
        w.u16(self.start_port);
        w.u16(self.end_port);
        w.bytes(&start[..address_len]);
        w.bytes(&end[..address_len]);
        Ok(())
    }
}

/// A selector's start and end address, `N` octets each.
fn address_range<const N: usize>(input: Input<'_>) -> Parsed<'_, (IpAddr, IpAddr)>
where
    IpAddr: From<[u8; N]>,
{
    let (rest, (start, end)) = pair(
        array::<N>("traffic selector start address"),
        array::<N>("traffic selector end address"),
    )(input)?;
    Ok((rest, (IpAddr::from(start), IpAddr::from(end))))
}

/// A TSi/TSr payload with at least one selector that is not an IPv4 or IPv6 address
/// range (TS_FC_ADDR_RANGE, TS_SECLABEL of RFC 9478, or an unassigned type). Parsed
/// as [`crate::Payload::TsIAny`] / [`crate::Payload::TsRAny`] so that the message
/// still parses and the engine can answer TS_UNACCEPTABLE; payloads with address
/// ranges only are [`TsPayload`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyTsPayload {
    pub selectors: Vec<AnyTrafficSelector>,
}

/// One selector of an [`AnyTsPayload`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyTrafficSelector {
    Range(TrafficSelector),
    Other(OtherTrafficSelector),
}

/// A selector of a type this crate does not model, kept verbatim. Every selector
/// starts with type (1 octet), one octet (the IP protocol for address ranges,
/// reserved in the others) and its length (2 octets); `data` is what follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherTrafficSelector {
    pub ts_type: TsType,
    pub second_octet: u8,
    pub data: Vec<u8>,
}

impl AnyTrafficSelector {
    fn parse(input: Input<'_>) -> Parsed<'_, AnyTrafficSelector> {
        let (_, ts_type) = peek(u8("traffic selector type"))(input)?;
        let ts_type = TsType(ts_type);
        if matches!(ts_type, TsType::IPV4_ADDR_RANGE | TsType::IPV6_ADDR_RANGE) {
            let (rest, range) = TrafficSelector::parse(input)?;
            return Ok((rest, AnyTrafficSelector::Range(range)));
        }
        let (length_field, second_octet) = preceded(
            u8("traffic selector type"),
            u8("traffic selector protocol/reserved octet"),
        )(input)?;
        let (rest, data) = length_prefixed(
            "traffic selector",
            "traffic selector length",
            SELECTOR_HEADER_LEN,
        )(length_field)?;
        let other = OtherTrafficSelector {
            ts_type,
            second_octet,
            data: data.to_vec(),
        };
        Ok((rest, AnyTrafficSelector::Other(other)))
    }

    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        match self {
            AnyTrafficSelector::Range(selector) => selector.write(w),
            AnyTrafficSelector::Other(other) => {
                w.u8(other.ts_type.0);
                w.u8(other.second_octet);
                w.u16(w.fit_u16(SELECTOR_HEADER_LEN + other.data.len(), "traffic selector")?);
                w.bytes(&other.data);
                Ok(())
            }
        }
    }
}

/// A TS payload as parsed: address ranges only, or with other selector types.
pub(crate) enum ParsedTs {
    Ranges(TsPayload),
    Any(AnyTsPayload),
}

/// Parses a TSi/TSr body (RFC 7296 §3.13).
pub(crate) fn parse_ts_payload(count_field: Input<'_>) -> Parsed<'_, ParsedTs> {
    let (mut input, declared) =
        terminated(u8("number of traffic selectors"), reserved(3))(count_field)?;
    let declared = usize::from(declared);
    // Address ranges (almost always all there is) go straight into the
    // payload's vector; the first other selector moves them into a vector of
    // any selectors. At most one vector either way, sized by the count
    // (bounded by the bytes there are: a selector takes at least 4).
    let capacity = declared.min(input.len() / SELECTOR_HEADER_LEN);
    let mut ranges = Vec::with_capacity(capacity);
    let mut others: Option<Vec<AnyTrafficSelector>> = None;
    while !input.is_empty() {
        let (rest, selector) = AnyTrafficSelector::parse(input)?;
        input = rest;
        match (&mut others, selector) {
            (None, AnyTrafficSelector::Range(range)) => ranges.push(range),
            (None, other) => {
                let mut any: Vec<AnyTrafficSelector> = Vec::with_capacity(capacity);
                any.extend(ranges.drain(..).map(AnyTrafficSelector::Range));
                any.push(other);
                others = Some(any);
            }
            (Some(any), selector) => any.push(selector),
        }
    }
    let found = others.as_ref().map_or(ranges.len(), Vec::len);
    if found != declared {
        return fail(
            count_field,
            WireErrorKind::CountMismatch {
                what: "traffic selectors",
                declared,
                found,
            },
        );
    }
    let parsed = match others {
        None => ParsedTs::Ranges(TsPayload { selectors: ranges }),
        Some(selectors) => ParsedTs::Any(AnyTsPayload { selectors }),
    };
    Ok((input, parsed))
}

impl AnyTsPayload {
    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.u8(w.fit_u8(self.selectors.len(), "number of traffic selectors")?);
        w.zeros(3);
        for selector in &self.selectors {
            selector.write(w)?;
        }
        Ok(())
    }
}

impl TsPayload {
    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.u8(w.fit_u8(self.selectors.len(), "number of traffic selectors")?);
        w.zeros(3);
        for selector in &self.selectors {
            selector.write(w)?;
        }
        Ok(())
    }
}
