//! Capture files: classic pcap (either byte order, micro- or nanosecond) and pcapng
//! (Section Header, Interface Description, Enhanced/Simple/obsolete Packet blocks;
//! other blocks are skipped). Each packet goes to [`super::packet`].

use super::packet::{ike_in_frame, supported_linktype, Frame};
use super::{Datagram, Extracted, InputError, Origin};

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4], // microseconds, big-endian
    [0xd4, 0xc3, 0xb2, 0xa1], // microseconds, little-endian
    [0xa1, 0xb2, 0x3c, 0x4d], // nanoseconds, big-endian
    [0x4d, 0x3c, 0xb2, 0xa1], // nanoseconds, little-endian
];
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;

const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OBSOLETE_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// The section header block's type reads the same in either byte order.
const BIG: Endian = Endian { big: true };

pub(crate) fn is_pcap(input: &[u8]) -> bool {
    input.len() >= 4 && PCAP_MAGICS.iter().any(|m| input[..4] == m[..])
}

pub(crate) fn is_pcapng(input: &[u8]) -> bool {
    input.starts_with(&PCAPNG_SHB.to_be_bytes())
}

/// Reads u16/u32 in the byte order a file declared.
#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u16(self, bytes: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

/// Turns one captured frame into at most one extracted item.
fn extract_frame(
    number: u64,
    linktype: u32,
    frame: &[u8],
    frame_offset: usize,
    original_len: usize,
    out: &mut Vec<Extracted>,
) {
    match ike_in_frame(linktype, frame, original_len) {
        Frame::NotIke => {}
        Frame::Ike {
            source,
            destination,
            offset,
            message,
        } => out.push(Extracted::Ike(Datagram {
            origin: Origin::Packet {
                number,
                source: Some(source),
                destination: Some(destination),
                input_offset: frame_offset + offset,
            },
            bytes: message.to_vec(),
        })),
        Frame::Problem {
            source,
            destination,
            reason,
        } => out.push(Extracted::Problem {
            origin: Origin::Packet {
                number,
                source,
                destination,
                input_offset: frame_offset,
            },
            reason,
        }),
    }
}

fn truncated_file(number: u64, input_offset: usize, what: &str) -> Extracted {
    Extracted::Problem {
        origin: Origin::Packet {
            number,
            source: None,
            destination: None,
            input_offset,
        },
        reason: format!("the file ends in the middle of {what}; the rest is not decoded"),
    }
}

/// Classic pcap.
pub(crate) fn read_pcap(input: &[u8]) -> Result<Vec<Extracted>, InputError> {
    if input.len() < PCAP_HEADER_LEN {
        return Err(InputError::new(0, "the pcap file header is truncated"));
    }
    let endian = Endian {
        big: input[0] == 0xa1,
    };
    let linktype = endian.u32(input, 20).unwrap_or_default() & 0x0fff_ffff;
    if !supported_linktype(linktype) {
        return Err(InputError::new(
            20,
            format!("link type {linktype} is not supported (Ethernet, Linux cooked, raw IP and loopback are)"),
        ));
    }
    let mut out = Vec::new();
    let mut at = PCAP_HEADER_LEN;
    let mut number = 0;
    while at < input.len() {
        number += 1;
        let (Some(captured), Some(original)) =
            (endian.u32(input, at + 8), endian.u32(input, at + 12))
        else {
            out.push(truncated_file(number, at, "a packet record header"));
            break;
        };
        let data_start = at + PCAP_RECORD_HEADER_LEN;
        let Some(frame) = input.get(data_start..data_start.saturating_add(captured as usize))
        else {
            out.push(truncated_file(number, at, "a packet"));
            break;
        };
        extract_frame(
            number,
            linktype,
            frame,
            data_start,
            original as usize,
            &mut out,
        );
        at = data_start + frame.len();
    }
    Ok(out)
}

/// pcapng: a sequence of sections, each with its own byte order and interfaces.
pub(crate) fn read_pcapng(input: &[u8]) -> Result<Vec<Extracted>, InputError> {
    let mut out = Vec::new();
    let mut endian = BIG;
    let mut interfaces: Vec<u32> = Vec::new();
    let mut at = 0;
    let mut number = 0;
    while at < input.len() {
        let block_type = BIG.u32(input, at);
        if block_type == Some(PCAPNG_SHB) {
            match BIG.u32(input, at + 8) {
                Some(PCAPNG_BYTE_ORDER_MAGIC) => endian = BIG,
                Some(m) if m.swap_bytes() == PCAPNG_BYTE_ORDER_MAGIC => {
                    endian = Endian { big: false }
                }
                _ if at == 0 => {
                    return Err(InputError::new(
                        8,
                        "the pcapng section header has no byte-order magic",
                    ))
                }
                _ => {
                    out.push(truncated_file(number + 1, at, "a section header block"));
                    break;
                }
            }
            interfaces.clear();
        }
        let (Some(block_type), Some(total_len)) =
            (endian.u32(input, at), endian.u32(input, at + 4))
        else {
            out.push(truncated_file(number + 1, at, "a block header"));
            break;
        };
        let total_len = total_len as usize;
        let Some(block) = input.get(at..at.saturating_add(total_len)) else {
            out.push(truncated_file(number + 1, at, "a block"));
            break;
        };
        if total_len < 12 || total_len % 4 != 0 {
            out.push(Extracted::Problem {
                origin: Origin::Packet {
                    number: number + 1,
                    source: None,
                    destination: None,
                    input_offset: at + 4,
                },
                reason: format!("pcapng block length {total_len} is not a multiple of 4 of at least 12; the rest is not decoded"),
            });
            break;
        }
        let body = &block[8..total_len - 4];
        match block_type {
            PCAPNG_IDB => interfaces.push(u32::from(endian.u16(body, 0).unwrap_or(u16::MAX))),
            PCAPNG_EPB | PCAPNG_OBSOLETE_PB | PCAPNG_SPB => {
                number += 1;
                let packet = pcapng_packet(endian, block_type, body, &interfaces);
                match packet {
                    Ok((linktype, data_offset, captured, original)) => {
                        match body.get(data_offset..data_offset + captured) {
                            Some(frame) => extract_frame(
                                number,
                                linktype,
                                frame,
                                at + 8 + data_offset,
                                original,
                                &mut out,
                            ),
                            None => out.push(Extracted::Problem {
                                origin: Origin::Packet {
                                    number,
                                    source: None,
                                    destination: None,
                                    input_offset: at,
                                },
                                reason: "the packet's captured length exceeds its block".into(),
                            }),
                        }
                    }
                    Err(reason) => out.push(Extracted::Problem {
                        origin: Origin::Packet {
                            number,
                            source: None,
                            destination: None,
                            input_offset: at,
                        },
                        reason,
                    }),
                }
            }
            _ => {}
        }
        at += total_len;
    }
    Ok(out)
}

/// For a packet block: (link type, offset of the data in the body, captured
/// length, original length).
fn pcapng_packet(
    endian: Endian,
    block_type: u32,
    body: &[u8],
    interfaces: &[u32],
) -> Result<(u32, usize, usize, usize), String> {
    let missing = || "the packet block is too short for its fields".to_string();
    let (interface, data_offset, captured, original) = match block_type {
        PCAPNG_EPB => (
            endian.u32(body, 0).ok_or_else(missing)?,
            20,
            endian.u32(body, 12).ok_or_else(missing)? as usize,
            endian.u32(body, 16).ok_or_else(missing)? as usize,
        ),
        PCAPNG_OBSOLETE_PB => (
            u32::from(endian.u16(body, 0).ok_or_else(missing)?),
            20,
            endian.u32(body, 12).ok_or_else(missing)? as usize,
            endian.u32(body, 16).ok_or_else(missing)? as usize,
        ),
        _ => {
            // Simple Packet Block: interface 0; the data fills the block.
            let original = endian.u32(body, 0).ok_or_else(missing)? as usize;
            (0, 4, original.min(body.len() - 4), original)
        }
    };
    let linktype = *interfaces.get(interface as usize).ok_or_else(|| {
        format!("the packet names interface {interface}, which was not described")
    })?;
    if !supported_linktype(linktype) {
        return Err(format!(
            "link type {linktype} is not supported (Ethernet, Linux cooked, raw IP and loopback are)"
        ));
    }
    Ok((linktype, data_offset, captured, original))
}
