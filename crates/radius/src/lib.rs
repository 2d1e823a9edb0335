//! RADIUS as an EAP pass-through authenticator uses it (RFC 2865, RFC 3579),
//! and accounting (RFC 2866, `acct`):
//! Access-Request with the peer's EAP message, Access-Challenge /
//! Access-Accept / Access-Reject back, Message-Authenticator (RFC 2869) on
//! both, and the MSK from the Accept's MS-MPPE keys (RFC 2548).
//!
//! `packet` and `attr` are the codec, `auth` the MD5-based authenticators and
//! key decryption, `eap` the request we send and the answer we accept: all
//! pure. `client` is the only I/O: a tokio UDP exchange with retransmission
//! over several servers in turn.

pub mod acct;
pub mod attr;
pub mod auth;
pub mod client;
pub mod eap;
pub mod grant;
pub mod packet;

pub use acct::{AccountingRequest, Status, Usage};
pub use client::{Client, Counts, Server, Unreachable};
pub use eap::{Answer, EapRequest};
pub use grant::Grant;
pub use packet::{Attribute, Packet};

/// Why a RADIUS datagram was refused. Never carries secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("a malformed RADIUS packet: {0}")]
    Malformed(&'static str),
    #[error("a RADIUS reply for identifier {got}, not our request's {want}")]
    WrongIdentifier { got: u8, want: u8 },
    #[error("a RADIUS reply whose Response Authenticator does not verify (wrong shared secret?)")]
    BadResponseAuthenticator,
    #[error("a RADIUS reply whose Message-Authenticator does not verify")]
    BadMessageAuthenticator,
    #[error("a RADIUS reply with EAP-Message but no Message-Authenticator (RFC 3579 §3.2)")]
    MissingMessageAuthenticator,
    #[error("a RADIUS reply with code {0}, not Accept, Reject or Challenge")]
    UnexpectedCode(u8),
    #[error("an Access-Challenge without EAP-Message")]
    ChallengeWithoutEap,
    #[error("an MS-MPPE key attribute that does not decrypt: {0}")]
    BadMppeKey(&'static str),
}
