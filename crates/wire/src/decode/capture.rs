//! Capture files: classic pcap (either byte order, micro- or nanosecond) and pcapng
//! (Section Header, Interface Description, Enhanced/Simple/obsolete Packet blocks;
//! other blocks are skipped), read with pcap-parser. Each packet goes to
//! [`super::packet`] and comes back with its timestamp; what is wrong with a file
//! is said with its offset.

use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, parse_sectionheaderblock, parse_unknownblock_be,
    parse_unknownblock_le, Block,
};
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

use super::packet::{ike_in_frame, supported_linktype, Frame};
use super::{CaptureItem, Captured, Datagram, InputError, Origin};

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4], // microseconds, big-endian
    [0xd4, 0xc3, 0xb2, 0xa1], // microseconds, little-endian
    [0xa1, 0xb2, 0x3c, 0x4d], // nanoseconds, big-endian
    [0x4d, 0x3c, 0xb2, 0xa1], // nanoseconds, little-endian
];
const PCAP_RECORD_HEADER_LEN: usize = 16;

/// The section header block's type reads the same in either byte order.
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// The obsolete Packet Block, which pcap-parser does not know (it arrives as an
/// unknown block), and the two it does, by type as written in the file's order.
const PCAPNG_OBSOLETE_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
/// Where the packet data starts in each packet block, from the block's start.
const EPB_DATA_OFFSET: usize = 28;
const SPB_DATA_OFFSET: usize = 12;
const OBSOLETE_PB_DATA_OFFSET: usize = 28;

pub(crate) fn is_pcap(input: &[u8]) -> bool {
    input.len() >= 4 && PCAP_MAGICS.iter().any(|m| input[..4] == m[..])
}

pub(crate) fn is_pcapng(input: &[u8]) -> bool {
    input.starts_with(&PCAPNG_SHB)
}

/// One packet as its block gives it: its number, timestamp (microseconds since
/// the Unix epoch), link type, bytes and their offset, and its length on the wire.
struct RawFrame<'a> {
    number: u64,
    time_us: u64,
    linktype: u32,
    data: &'a [u8],
    offset: usize,
    original_len: usize,
}

/// Turns one captured frame into at most one item.
fn extract_frame(raw: RawFrame<'_>, out: &mut Vec<Captured>) {
    let RawFrame {
        number,
        time_us,
        linktype,
        data: frame,
        offset: frame_offset,
        original_len,
    } = raw;
    let item = match ike_in_frame(linktype, frame, original_len) {
        Frame::NotIke => return,
        Frame::Esp(header) => CaptureItem::Esp { number, header },
        Frame::Ike {
            source,
            destination,
            offset,
            message,
        } => CaptureItem::Ike(Datagram {
            origin: Origin::Packet {
                number,
                source: Some(source),
                destination: Some(destination),
                input_offset: frame_offset + offset,
            },
            bytes: message.to_vec(),
        }),
        Frame::Problem {
            source,
            destination,
            reason,
        } => CaptureItem::Problem {
            origin: Origin::Packet {
                number,
                source,
                destination,
                input_offset: frame_offset,
            },
            reason,
        },
    };
    out.push(Captured {
        time_us: Some(time_us),
        item,
    });
}

/// A problem with no packet time (the file itself is cut short or malformed).
fn untimed(item: CaptureItem) -> Captured {
    Captured {
        time_us: None,
        item,
    }
}

fn truncated_file(number: u64, input_offset: usize, what: &str) -> Captured {
    untimed(CaptureItem::Problem {
        origin: Origin::Packet {
            number,
            source: None,
            destination: None,
            input_offset,
        },
        reason: format!("the file ends in the middle of {what}; the rest is not decoded"),
    })
}

/// Classic pcap.
pub(crate) fn read_pcap(input: &[u8]) -> Result<Vec<Captured>, InputError> {
    let Ok((mut rest, header)) = parse_pcap_header(input) else {
        return Err(InputError::new(0, "the pcap file header is truncated"));
    };
    let linktype = (header.network.0 as u32) & 0x0fff_ffff;
    if !supported_linktype(linktype) {
        return Err(InputError::new(
            20,
            format!("link type {linktype} is not supported (Ethernet, Linux cooked, raw IP and loopback are)"),
        ));
    }
    // Either fraction of a second, as the magic says.
    let nanoseconds = header.is_nanosecond_precision();
    let parse_record = if header.is_bigendian() {
        parse_pcap_frame_be
    } else {
        parse_pcap_frame
    };
    let mut out = Vec::new();
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let at = input.len() - rest.len();
        let Ok((after, record)) = parse_record(rest) else {
            let what = if rest.len() < PCAP_RECORD_HEADER_LEN {
                "a packet record header"
            } else {
                "a packet"
            };
            out.push(truncated_file(number, at, what));
            break;
        };
        let fraction = u64::from(record.ts_usec);
        extract_frame(
            RawFrame {
                number,
                time_us: u64::from(record.ts_sec) * 1_000_000
                    + if nanoseconds {
                        fraction / 1000
                    } else {
                        fraction
                    },
                linktype,
                data: record.data,
                offset: at + PCAP_RECORD_HEADER_LEN,
                original_len: record.origlen as usize,
            },
            &mut out,
        );
        rest = after;
    }
    Ok(out)
}

/// One packet of a pcapng file as its block gives it.
struct NgPacket<'a> {
    interface: u32,
    /// In the interface's units (none for a Simple Packet Block).
    timestamp: Option<u64>,
    data: &'a [u8],
    data_offset: usize,
    original_len: usize,
}

/// pcapng: a sequence of sections, each with its own byte order and interfaces.
pub(crate) fn read_pcapng(input: &[u8]) -> Result<Vec<Captured>, InputError> {
    let mut out = Vec::new();
    let mut big_endian = true;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut rest = input;
    let mut number = 0;
    while !rest.is_empty() {
        let at = input.len() - rest.len();
        let problem = |number: u64, input_offset: usize, reason: String| {
            untimed(CaptureItem::Problem {
                origin: Origin::Packet {
                    number,
                    source: None,
                    destination: None,
                    input_offset,
                },
                reason,
            })
        };
        if rest.starts_with(&PCAPNG_SHB) {
            match parse_sectionheaderblock(rest) {
                Ok((after, shb)) => {
                    big_endian = shb.big_endian();
                    interfaces.clear();
                    rest = after;
                    continue;
                }
                Err(_) if at == 0 && !has_byte_order_magic(rest) => {
                    return Err(InputError::new(
                        8,
                        "the pcapng section header has no byte-order magic",
                    ))
                }
                Err(_) => {
                    out.push(truncated_file(number + 1, at, "a section header block"));
                    break;
                }
            }
        }
        // The block's frame first (type, length, trailing length), whatever its kind.
        let framed = if big_endian {
            parse_unknownblock_be(rest)
        } else {
            parse_unknownblock_le(rest)
        };
        let (after, frame) = match framed {
            Ok(ok) => ok,
            Err(nom::Err::Incomplete(_)) => {
                let what = if rest.len() < 12 {
                    "a block header"
                } else {
                    "a block"
                };
                out.push(truncated_file(number + 1, at, what));
                break;
            }
            Err(_) => {
                out.push(problem(
                    number + 1,
                    at + 4,
                    "pcapng block length is less than 12; the rest is not decoded".into(),
                ));
                break;
            }
        };
        let block_type = if big_endian {
            frame.block_type.swap_bytes()
        } else {
            frame.block_type
        };
        let typed = if big_endian {
            parse_block_be(rest)
        } else {
            parse_block_le(rest)
        };
        let packet = match typed {
            Ok((_, Block::InterfaceDescription(idb))) => {
                interfaces.push(Interface {
                    linktype: idb.linktype.0 as u32,
                    units_per_second: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_secs: idb.ts_offset(),
                });
                None
            }
            Ok((_, Block::EnhancedPacket(epb))) => Some(Ok(NgPacket {
                interface: epb.if_id,
                timestamp: Some((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low)),
                // The data field is padded to 32 bits; the captured length says how much is packet.
                data: &epb.data[..(epb.caplen as usize).min(epb.data.len())],
                data_offset: at + EPB_DATA_OFFSET,
                original_len: epb.origlen as usize,
            })),
            Ok((_, Block::SimplePacket(spb))) => Some(Ok(NgPacket {
                interface: 0,
                timestamp: None,
                // No captured length here: the original, up to what the block holds.
                data: &spb.data[..(spb.origlen as usize).min(spb.data.len())],
                data_offset: at + SPB_DATA_OFFSET,
                original_len: spb.origlen as usize,
            })),
            _ if block_type == PCAPNG_OBSOLETE_PB => {
                Some(obsolete_packet(frame.data, big_endian, at))
            }
            Ok(_) => None,
            // A packet block whose fields do not fit it; any other is skipped.
            Err(_) if matches!(block_type, PCAPNG_EPB | PCAPNG_SPB) => Some(Err(
                "the packet's captured length exceeds its block".to_string(),
            )),
            Err(_) => None,
        };
        match packet {
            None => {}
            Some(Ok(p)) => {
                number += 1;
                match interface_of(p.interface, &interfaces) {
                    Ok(interface) => extract_frame(
                        RawFrame {
                            number,
                            time_us: p.timestamp.map_or(0, |t| interface.micros(t)),
                            linktype: interface.linktype,
                            data: p.data,
                            offset: p.data_offset,
                            original_len: p.original_len,
                        },
                        &mut out,
                    ),
                    Err(reason) => out.push(problem(number, at, reason)),
                }
            }
            Some(Err(reason)) => {
                number += 1;
                out.push(problem(number, at, reason));
            }
        }
        rest = after;
    }
    Ok(out)
}

/// Whether a section header carries the byte-order magic, in either order.
fn has_byte_order_magic(block: &[u8]) -> bool {
    matches!(
        block.get(8..12),
        Some([0x1a, 0x2b, 0x3c, 0x4d] | [0x4d, 0x3c, 0x2b, 0x1a])
    )
}

/// The obsolete Packet Block (pcapng's type 2): interface (u16), drops (u16),
/// timestamp (2 x u32), captured and original length, data. pcap-parser does not
/// know it; `body` is the block between its length fields.
fn obsolete_packet(body: &[u8], big_endian: bool, at: usize) -> Result<NgPacket<'_>, String> {
    let missing = || "the packet block is too short for its fields".to_string();
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = body.get(i..i + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let interface: [u8; 2] = body
        .get(0..2)
        .ok_or_else(missing)?
        .try_into()
        .map_err(|_| missing())?;
    let interface = if big_endian {
        u16::from_be_bytes(interface)
    } else {
        u16::from_le_bytes(interface)
    };
    let captured = u32_at(12).ok_or_else(missing)? as usize;
    let original = u32_at(16).ok_or_else(missing)? as usize;
    let data = body
        .get(20..20usize.saturating_add(captured))
        .ok_or_else(|| "the packet's captured length exceeds its block".to_string())?;
    let timestamp = (u64::from(u32_at(4).ok_or_else(missing)?) << 32)
        | u64::from(u32_at(8).ok_or_else(missing)?);
    Ok(NgPacket {
        interface: u32::from(interface),
        timestamp: Some(timestamp),
        data,
        data_offset: at + OBSOLETE_PB_DATA_OFFSET,
        original_len: original,
    })
}

/// What a pcapng Interface Description Block says that reading packets needs.
#[derive(Clone, Copy)]
struct Interface {
    linktype: u32,
    /// if_tsresol (10^6 when absent).
    units_per_second: u64,
    /// if_tsoffset: seconds to add to every timestamp.
    offset_secs: i64,
}

impl Interface {
    /// A timestamp in this interface's units as microseconds since the epoch.
    fn micros(&self, timestamp: u64) -> u64 {
        let us = u128::from(timestamp) * 1_000_000 / u128::from(self.units_per_second);
        let us = u64::try_from(us).unwrap_or(u64::MAX);
        us.saturating_add_signed(self.offset_secs.saturating_mul(1_000_000))
    }
}

/// Interface `interface`, if it was described and its link type is supported.
fn interface_of(interface: u32, interfaces: &[Interface]) -> Result<Interface, String> {
    let found = *interfaces.get(interface as usize).ok_or_else(|| {
        format!("the packet names interface {interface}, which was not described")
    })?;
    if !supported_linktype(found.linktype) {
        return Err(format!(
            "link type {} is not supported (Ethernet, Linux cooked, raw IP and loopback are)",
            found.linktype
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::Interface;

    #[test]
    fn pcapng_timestamps_follow_the_interfaces_resolution_and_offset() {
        let micro = Interface {
            linktype: 101,
            units_per_second: 1_000_000,
            offset_secs: 0,
        };
        assert_eq!(micro.micros(1_700_000_000_123_456), 1_700_000_000_123_456);
        let nano = Interface {
            units_per_second: 1_000_000_000,
            ..micro
        };
        assert_eq!(
            nano.micros(1_700_000_000_123_456_789),
            1_700_000_000_123_456
        );
        let offset = Interface {
            offset_secs: 3600,
            ..micro
        };
        assert_eq!(offset.micros(1_000_000), 3_601_000_000);
    }
}
