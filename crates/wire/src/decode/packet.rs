//! From one captured frame to the IKE message it carries: link layer (Ethernet,
//! Linux cooked v1/v2, raw IP, BSD loopback), IPv4/IPv6, UDP, then port 500 (IKE
//! as is) or 4500 (IKE after the four-zero-octet non-ESP marker; NAT keepalives
//! are skipped). ESP (IP protocol 50, or in UDP 4500 with a non-zero first word)
//! is told by its SPI and sequence number.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Link-layer header types (tcpdump.org's LINKTYPE_ values) this reader knows.
pub(crate) mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
    /// DLT_RAW as some systems write it in place of LINKTYPE_RAW.
    pub const RAW_ALT: u32 = 12;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
const IP_PROTO_UDP: u8 = 17;
const IP_PROTO_ESP: u8 = 50;
const IKE_PORT: u16 = 500;
const NAT_T_PORT: u16 = 4500;
const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// What a frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// An IKE message (marker removed), its addresses, and its offset in the frame.
    Ike {
        source: SocketAddr,
        destination: SocketAddr,
        offset: usize,
        message: &'a [u8],
    },
    /// An ESP packet's header: its SPI and sequence number, its addresses, and
    /// whether it came in UDP 4500 (NAT traversal).
    Esp(EspHeader),
    /// Something else: not IP, not UDP, other ports, a keepalive, a later fragment.
    NotIke,
    /// IKE traffic that cannot be decoded from this frame alone.
    Problem {
        source: Option<SocketAddr>,
        destination: Option<SocketAddr>,
        reason: String,
    },
}

/// The clear part of an ESP packet (RFC 4303 §2) and where it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspHeader {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub in_udp: bool,
    pub spi: u32,
    pub sequence: u32,
}

/// Whether a link type is one this reader can take apart.
pub(crate) fn supported_linktype(linktype: u32) -> bool {
    use linktype::*;
    matches!(
        linktype,
        NULL | ETHERNET | RAW | RAW_ALT | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// Takes a frame of `linktype` apart down to the IKE message, if there is one.
/// `original_len` is the frame's length on the wire (more than `frame.len()` if the
/// capture cut it short).
pub(crate) fn ike_in_frame(linktype: u32, frame: &[u8], original_len: usize) -> Frame<'_> {
    let Some((network, offset)) = network_layer(linktype, frame) else {
        return Frame::NotIke;
    };
    let cut_short = original_len > frame.len();
    match network {
        Network::V4 => ipv4(frame, offset, cut_short),
        Network::V6 => ipv6(frame, offset, cut_short),
    }
}

enum Network {
    V4,
    V6,
}

/// The network protocol and where its header starts.
fn network_layer(linktype: u32, frame: &[u8]) -> Option<(Network, usize)> {
    use linktype::*;
    match linktype {
        ETHERNET => {
            let mut offset = 12;
            let mut ethertype = be16(frame, offset)?;
            while ETHERTYPE_VLAN.contains(&ethertype) {
                offset += 4;
                ethertype = be16(frame, offset)?;
            }
            from_ethertype(ethertype, offset + 2)
        }
        LINUX_SLL => from_ethertype(be16(frame, 14)?, 16),
        LINUX_SLL2 => from_ethertype(be16(frame, 0)?, 20),
        RAW | RAW_ALT => from_version(frame, 0),
        IPV4 => Some((Network::V4, 0)),
        IPV6 => Some((Network::V6, 0)),
        // The address family is in the capturing host's byte order; IP's version
        // nibble after the 4-byte header says the same more simply.
        NULL => from_version(frame, 4),
        _ => None,
    }
}

fn from_ethertype(ethertype: u16, offset: usize) -> Option<(Network, usize)> {
    match ethertype {
        ETHERTYPE_IPV4 => Some((Network::V4, offset)),
        ETHERTYPE_IPV6 => Some((Network::V6, offset)),
        _ => None,
    }
}

fn from_version(frame: &[u8], offset: usize) -> Option<(Network, usize)> {
    match frame.get(offset)? >> 4 {
        4 => Some((Network::V4, offset)),
        6 => Some((Network::V6, offset)),
        _ => None,
    }
}

fn ipv4(frame: &[u8], start: usize, cut_short: bool) -> Frame<'_> {
    let Some(header) = frame.get(start..start + 20) else {
        return Frame::NotIke;
    };
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let flags_fragment = u16::from_be_bytes([header[6], header[7]]);
    let more_fragments = flags_fragment & 0x2000 != 0;
    let fragment_offset = flags_fragment & 0x1fff;
    let protocol = header[9];
    if header[0] >> 4 != 4
        || header_len < 20
        || total_len < header_len
        || ![IP_PROTO_UDP, IP_PROTO_ESP].contains(&protocol)
    {
        return Frame::NotIke;
    }
    if fragment_offset != 0 {
        return Frame::NotIke;
    }
    let source = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let destination = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    if protocol == IP_PROTO_ESP {
        return esp(frame, start + header_len, (source, destination), false);
    }
    udp(
        frame,
        start + header_len,
        start + total_len,
        (source, destination),
        more_fragments,
        cut_short,
    )
}

fn ipv6(frame: &[u8], start: usize, cut_short: bool) -> Frame<'_> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const DESTINATION_OPTIONS: u8 = 60;
    let Some(header) = frame.get(start..start + 40) else {
        return Frame::NotIke;
    };
    if header[0] >> 4 != 6 {
        return Frame::NotIke;
    }
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut next = header[6];
    let source = IpAddr::V6(Ipv6Addr::from(octets16(&header[8..24])));
    let destination = IpAddr::V6(Ipv6Addr::from(octets16(&header[24..40])));
    let mut offset = start + 40;
    let mut more_fragments = false;
    loop {
        match next {
            IP_PROTO_UDP => break,
            IP_PROTO_ESP if !more_fragments => {
                return esp(frame, offset, (source, destination), false)
            }
            HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS => {
                let (Some(&following), Some(&len)) = (frame.get(offset), frame.get(offset + 1))
                else {
                    return Frame::NotIke;
                };
                next = following;
                offset += (usize::from(len) + 1) * 8;
            }
            FRAGMENT => {
                let (Some(&following), Some(fragment)) =
                    (frame.get(offset), be16(frame, offset + 2))
                else {
                    return Frame::NotIke;
                };
                if fragment & 0xfff8 != 0 {
                    return Frame::NotIke;
                }
                more_fragments = fragment & 1 != 0;
                next = following;
                offset += 8;
            }
            _ => return Frame::NotIke,
        }
    }
    udp(
        frame,
        offset,
        start + 40 + payload_len,
        (source, destination),
        more_fragments,
        cut_short,
    )
}

/// The UDP datagram at `start`, whose IP packet ends at `ip_end`.
fn udp(
    frame: &[u8],
    start: usize,
    ip_end: usize,
    (source_ip, destination_ip): (IpAddr, IpAddr),
    more_fragments: bool,
    cut_short: bool,
) -> Frame<'_> {
    let (Some(source_port), Some(destination_port), Some(udp_len)) = (
        be16(frame, start),
        be16(frame, start + 2),
        be16(frame, start + 4),
    ) else {
        return Frame::NotIke;
    };
    let ports = [source_port, destination_port];
    let nat_t = ports.contains(&NAT_T_PORT);
    if !nat_t && !ports.contains(&IKE_PORT) {
        return Frame::NotIke;
    }
    let source = SocketAddr::new(source_ip, source_port);
    let destination = SocketAddr::new(destination_ip, destination_port);
    let problem = |reason: String| Frame::Problem {
        source: Some(source),
        destination: Some(destination),
        reason,
    };
    if more_fragments {
        return problem("the UDP datagram is IP-fragmented; fragments are not reassembled".into());
    }
    let udp_len = usize::from(udp_len);
    let payload_start = start + 8;
    if udp_len < 8 || start + udp_len > ip_end {
        return problem(format!(
            "the UDP length {udp_len} does not fit the IP packet"
        ));
    }
    let end = start + udp_len;
    let Some(payload) = frame.get(payload_start..end) else {
        let what = if cut_short {
            "the capture cut the packet short (snapshot length)"
        } else {
            "the frame is shorter than its UDP datagram"
        };
        return problem(format!(
            "{what}: {} of {} UDP payload bytes captured",
            frame.len().saturating_sub(payload_start),
            udp_len - 8
        ));
    };
    if !nat_t {
        return Frame::Ike {
            source,
            destination,
            offset: payload_start,
            message: payload,
        };
    }
    match payload {
        [0xff] => Frame::NotIke, // NAT-keepalive (RFC 3948 §2.3)
        [m0, m1, m2, m3, message @ ..] if [*m0, *m1, *m2, *m3] == NON_ESP_MARKER => Frame::Ike {
            source,
            destination,
            offset: payload_start + 4,
            message,
        },
        _ => esp(frame, payload_start, (source_ip, destination_ip), true),
    }
}

/// The ESP header at `start`: SPI then sequence number (a zero SPI is reserved and
/// marks no ESP packet).
fn esp(
    frame: &[u8],
    start: usize,
    (source, destination): (IpAddr, IpAddr),
    in_udp: bool,
) -> Frame<'_> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?))
    };
    match (word(start), word(start + 4)) {
        (Some(spi), Some(sequence)) if spi != 0 => Frame::Esp(EspHeader {
            source,
            destination,
            in_udp,
            spi,
            sequence,
        }),
        _ => Frame::NotIke,
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn octets16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(bytes);
    out
}
