//! tern-wire: IKEv2 messages to and from bytes (RFC 7296 §3).
//!
//! No I/O, no crypto, no clock: this crate only turns datagrams into typed values and
//! back. Parsing is strict (every length and count is checked, trailing bytes are an
//! error), never panics, and allocates no more than the input's size justifies.
//! The parsers are nom parsers, one per structure, composed; `parse` holds the
//! field readers they share and turns their errors into offsets.
//! Writing computes every length and the next-payload chain; reserved fields are
//! written as zero (and ignored when parsing, as RFC 7296 requires), so a message
//! whose reserved fields were zero writes back byte for byte.
//!
//! ```
//! use tern_wire::*;
//!
//! let mut message = Message {
//!     header: Header::new([7; 8], [0; 8], ExchangeType::IKE_SA_INIT, Flags::request(true), 0),
//!     payloads: vec![Payload::Nonce(vec![0xab; 32])],
//! };
//! let bytes = message.to_bytes();
//! assert_eq!(bytes.len(), Header::LEN + 4 + 32);
//! message.header.next_payload = PayloadType::NONCE;
//! message.header.length = bytes.len() as u32;
//! assert_eq!(Message::parse(&bytes), Ok(message));
//! ```

mod codec;
pub mod decode;
mod error;
mod header;
mod message;
mod parse;
mod payload;
mod registry;

pub use error::{WireError, WireErrorKind};
pub use header::{Flags, Header};
pub use message::{
    encrypted_message_with_room, parse_payloads, try_write_payloads, write_payloads, Message,
};
pub use payload::*;
pub use registry::*;
