//! What `ternctl decode` does, minus the file handling: find the IKE messages in a
//! capture (classic pcap or pcapng; UDP 500, and UDP 4500 after the non-ESP marker)
//! or in hex text, parse them, and describe them as text or JSON.
//!
//! It lives here rather than in ternctl so that the fuzz targets can reach it, and it
//! needs nothing beyond this crate. Like the rest of tern-wire it does no I/O: it is
//! handed the input's bytes.

mod capture;
mod describe;
mod hex;
mod packet;
mod value;

use std::fmt;
use std::net::SocketAddr;

pub use describe::{describe_message, describe_payload};
pub use packet::EspHeader;
pub use value::Value;

use crate::{Message, WireError};

/// Where a message was found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A packet of a capture; `number` counts packets from 1, as Wireshark does.
    Packet {
        number: u64,
        source: Option<SocketAddr>,
        destination: Option<SocketAddr>,
        /// Offset of the IKE message (or of the packet, for problems) in the file.
        input_offset: usize,
    },
    /// A block of hex text starting at `line` (counted from 1).
    HexBlock { line: usize, input_offset: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Packet {
                number,
                source,
                destination,
                ..
            } => {
                write!(f, "packet {number}")?;
                if let (Some(s), Some(d)) = (source, destination) {
                    write!(f, " {s} -> {d}")?;
                }
                Ok(())
            }
            Origin::HexBlock { line, .. } => write!(f, "hex block at line {line}"),
        }
    }
}

/// The bytes of one IKE message (without the non-ESP marker) and where they were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub origin: Origin,
    pub bytes: Vec<u8>,
}

/// What the input yields, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extracted {
    Ike(Datagram),
    /// IKE traffic (or input) that could not be turned into a message's bytes.
    Problem {
        origin: Origin,
        reason: String,
    },
}

/// One item of a capture, with the packet's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// Microseconds since the Unix epoch; `None` for a problem with the file
    /// rather than with a packet.
    pub time_us: Option<u64>,
    pub item: CaptureItem,
}

/// What a captured packet held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureItem {
    Ike(Datagram),
    /// An ESP packet (IP protocol 50, or ESP in UDP 4500), packet `number`.
    Esp {
        number: u64,
        header: EspHeader,
    },
    /// As [`Extracted::Problem`].
    Problem {
        origin: Origin,
        reason: String,
    },
}

/// The IKE messages and ESP packets of a capture (pcap or pcapng) with their
/// times; anything else is refused.
pub fn read_capture(input: &[u8]) -> Result<Vec<Captured>, InputError> {
    match InputFormat::detect(input) {
        InputFormat::Pcap => capture::read_pcap(input),
        InputFormat::PcapNg => capture::read_pcapng(input),
        InputFormat::Hex => Err(InputError::new(
            0,
            "not a capture: no pcap or pcapng magic number at the start",
        )),
    }
}

/// The input as a whole is unusable (no known format, a truncated file header, an
/// unsupported link type).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset} of the input: {reason}")]
pub struct InputError {
    pub offset: usize,
    pub reason: String,
}

impl InputError {
    fn new(offset: usize, reason: impl Into<String>) -> InputError {
        InputError {
            offset,
            reason: reason.into(),
        }
    }
}

/// The input formats [`extract`] recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    Pcap,
    PcapNg,
    Hex,
}

impl InputFormat {
    /// By the magic number at the start; anything else is taken for hex text.
    pub fn detect(input: &[u8]) -> InputFormat {
        if capture::is_pcap(input) {
            InputFormat::Pcap
        } else if capture::is_pcapng(input) {
            InputFormat::PcapNg
        } else {
            InputFormat::Hex
        }
    }
}

/// Finds the IKE messages in a capture or hex text.
pub fn extract(input: &[u8]) -> Result<Vec<Extracted>, InputError> {
    if InputFormat::detect(input) == InputFormat::Hex {
        return hex::read_hex(input);
    }
    Ok(read_capture(input)?
        .into_iter()
        .filter_map(|c| match c.item {
            CaptureItem::Ike(datagram) => Some(Extracted::Ike(datagram)),
            CaptureItem::Problem { origin, reason } => Some(Extracted::Problem { origin, reason }),
            CaptureItem::Esp { .. } => None,
        })
        .collect())
}

/// One decoded item: a message, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub origin: Origin,
    pub outcome: Result<Message, DecodeProblem>,
}

/// Why an item did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeProblem {
    /// The packet could not be taken apart (see [`Extracted::Problem`]).
    #[error("{0}")]
    Packet(String),
    /// The IKE message is malformed; the offset counts from its first byte.
    #[error("malformed IKE message: {0}")]
    Message(WireError),
}

/// [`extract`], then [`Message::parse`] on each message.
pub fn decode(input: &[u8]) -> Result<Vec<Decoded>, InputError> {
    Ok(extract(input)?
        .into_iter()
        .map(|item| match item {
            Extracted::Ike(Datagram { origin, bytes }) => Decoded {
                outcome: Message::parse(&bytes).map_err(DecodeProblem::Message),
                origin,
            },
            Extracted::Problem { origin, reason } => Decoded {
                origin,
                outcome: Err(DecodeProblem::Packet(reason)),
            },
        })
        .collect())
}

impl Decoded {
    /// The message's description with where it was found (`packet`, `source`,
    /// `destination` or `line`) first; `None` for a problem.
    pub fn describe(&self) -> Option<Value> {
        let message = self.outcome.as_ref().ok()?;
        let mut fields = match &self.origin {
            Origin::Packet {
                number,
                source,
                destination,
                ..
            } => {
                let mut f = vec![("packet", Value::Number(*number))];
                if let (Some(s), Some(d)) = (source, destination) {
                    f.push(("source", Value::text(s)));
                    f.push(("destination", Value::text(d)));
                }
                f
            }
            Origin::HexBlock { line, .. } => vec![("line", Value::Number(*line as u64))],
        };
        if let Value::Object(described) = describe_message(message) {
            fields.extend(described);
        }
        Some(Value::Object(fields))
    }

    /// The text `ternctl decode` prints for a message: a summary line, then one
    /// line per payload (nested structures indented); `None` for a problem.
    pub fn render_text(&self) -> Option<String> {
        let message = self.outcome.as_ref().ok()?;
        let h = &message.header;
        let mut out = format!(
            "{}: {} {} (message ID {}, {}, {} bytes)\n  SPIs {} / {}\n",
            self.origin,
            h.exchange,
            if h.flags.is_response() {
                "response"
            } else {
                "request"
            },
            h.message_id,
            if h.flags.is_initiator() {
                "from the original initiator"
            } else {
                "from the original responder"
            },
            h.length,
            hex_spi(&h.initiator_spi),
            hex_spi(&h.responder_spi),
        );
        for payload in &message.payloads {
            if let Value::Object(mut fields) = describe_payload(payload) {
                let label = match fields.first() {
                    Some((_, Value::Text(t))) => t.clone(),
                    _ => String::from("payload"),
                };
                fields.remove(0);
                Value::Object(fields).render_text(&label, 1, &mut out);
            }
        }
        Some(out)
    }

    /// The one-line error `ternctl decode` prints for a problem; `None` for a message.
    pub fn error_text(&self) -> Option<String> {
        let problem = self.outcome.as_ref().err()?;
        let at = match &self.origin {
            Origin::Packet { input_offset, .. } | Origin::HexBlock { input_offset, .. } => {
                *input_offset
            }
        };
        Some(match problem {
            DecodeProblem::Message(e) => format!(
                "{}: malformed IKE message at offset {} (byte {} of the input): {}",
                self.origin,
                e.offset,
                at + e.offset,
                e.kind
            ),
            DecodeProblem::Packet(reason) => format!("{}: {reason}", self.origin),
        })
    }
}

fn hex_spi(spi: &[u8; 8]) -> String {
    spi.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON array `ternctl decode --json` prints: one object per decoded message.
pub fn to_json(items: &[Decoded]) -> String {
    Value::List(items.iter().filter_map(Decoded::describe).collect()).to_json_pretty()
}
