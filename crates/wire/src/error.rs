//! Parse and write errors. Every error carries the byte offset where it was found.

use crate::registry::TsType;

/// A malformed (or unwritable) IKEv2 message, and where the problem is.
///
/// When parsing, `offset` counts from the start of the buffer handed to the parser
/// (the datagram for [`crate::Message::parse`], the plaintext for
/// [`crate::parse_payloads`]). When writing, it is the offset in the output so far.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("at offset {offset}: {kind}")]
pub struct WireError {
    pub offset: usize,
    pub kind: WireErrorKind,
}

/// What exactly was wrong. Each message says what was expected in plain words.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The input ended in the middle of a field or structure.
    #[error("expected {expected} ({needed} bytes), but only {available} bytes remain")]
    Truncated {
        expected: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length field (or a length implied by other fields) is out of range.
    #[error("{what} length is {declared} bytes, but it must be between {min} and {max}")]
    BadLength {
        what: &'static str,
        declared: usize,
        min: usize,
        max: usize,
    },
    /// The header's major version is not 2.
    #[error("IKE major version {0} is not supported; only version 2 is")]
    UnsupportedVersion(u8),
    /// Bytes left over after the structure that should have ended there.
    #[error("{0} unexpected bytes after the end of the structure")]
    TrailingBytes(usize),
    /// An SK or SKF payload was followed by more payload bytes; it must be last.
    #[error("an Encrypted (SK/SKF) payload must be the last payload of a message")]
    EncryptedNotLast,
    /// An SK or SKF payload appeared inside already-decrypted plaintext.
    #[error("an Encrypted (SK/SKF) payload cannot appear inside encrypted contents")]
    EncryptedInsidePlaintext,
    /// A count field disagrees with the number of items actually present.
    #[error("{what}: the count field says {declared}, but {found} are present")]
    CountMismatch {
        what: &'static str,
        declared: usize,
        found: usize,
    },
    /// A "last substructure" field (0 = last, 2 = more proposals, 3 = more transforms)
    /// disagrees with whether another substructure follows.
    #[error("{what}: the 'last substructure' field is {found}, but {expected} was expected")]
    BadSubstructure {
        what: &'static str,
        found: u8,
        expected: u8,
    },
    /// A traffic selector type this crate cannot represent.
    #[error("traffic selector type {0} is not supported (only IPv4 and IPv6 address ranges are)")]
    UnsupportedTrafficSelector(TsType),
    /// A traffic selector whose fields contradict each other (when writing).
    #[error("traffic selector: {0}")]
    BadTrafficSelector(&'static str),
    /// An SKF fragment number of zero or above the total (RFC 7383 §2.5).
    #[error("fragment number {number} is outside 1..={total} (the total number of fragments)")]
    BadFragmentNumber { number: u16, total: u16 },
    /// When writing: a value too big for the field that must hold its length or count.
    #[error("{what} is {length}, more than the maximum of {max} its field can hold")]
    TooLong {
        what: &'static str,
        length: usize,
        max: usize,
    },
}
