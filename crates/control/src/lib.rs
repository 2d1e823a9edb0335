//! tern-control: the control protocol spoken on ternd's unix socket.
//!
//! The client writes one [`Request`] as a single JSON line, the daemon answers with one
//! [`Response`] line and closes the connection. [`framing`] holds the line helpers both
//! sides use; [`client`] is a small synchronous client for ternctl and tests.

pub mod client;
pub mod framing;
pub mod types;

pub use client::{Client, ClientError};
pub use framing::{decode_line, encode_line, read_line, write_line, MAX_LINE_BYTES};
pub use types::*;

/// Version of the request format; the daemon rejects requests of another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where ternd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/tern/ternd.sock";
