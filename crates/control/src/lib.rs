//! tern-control: the control protocol spoken on ternd's unix socket.
//!
//! The client writes one [`Request`] as a single JSON line, the daemon answers with one
//! [`Response`] line and closes the connection; after a `watch` request it keeps the
//! connection open and writes one [`EventInfo`] line per event instead. [`framing`] holds the line helpers both
//! sides use; [`client`] is a small synchronous client for ternctl and tests.

pub mod client;
pub mod framing;
pub mod types;

pub use client::{Client, ClientError};
pub use framing::{decode_line, encode_line, read_line, write_line, MAX_LINE_BYTES};
pub use types::*;

/// Newest version of the request format. Version 2 added `watch` and `stats`, 3
/// `list-leases` and `diagnose`; a
/// request carries the oldest version that has its command (see
/// [`Command::since_version`]), and the daemon accepts every version from
/// [`MIN_PROTOCOL_VERSION`] to this one.
pub const PROTOCOL_VERSION: u32 = 3;

/// Oldest request format the daemon still accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// Where ternd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/tern/ternd.sock";
