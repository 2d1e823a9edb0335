//! The one error type of this crate. Messages name what failed and the
//! lengths involved, never key material or plaintext.

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("prf+ asked for {requested} octets, but 255 blocks of this PRF give at most {max}")]
    PrfPlusTooLong { requested: usize, max: usize },

    #[error("private key has {actual} octets, this key exchange method needs {expected}")]
    PrivateKeyLength { expected: usize, actual: usize },

    #[error(
        "peer's key exchange value has {actual} octets, this key exchange method needs {expected}"
    )]
    PeerPublicLength { expected: usize, actual: usize },

    #[error("key exchange produced an all-zero shared secret (the peer sent a low-order point)")]
    AllZeroSharedSecret,

    #[error("{alg} is not supported: {reason}")]
    Unsupported {
        alg: &'static str,
        reason: &'static str,
    },

    #[error("key material has {actual} octets, the algorithm needs {expected}")]
    KeyMaterialLength { expected: usize, actual: usize },

    #[error("IV has {actual} octets, the algorithm needs {expected}")]
    IvLength { expected: usize, actual: usize },

    #[error("output buffer has {actual} octets, the sealed payload needs {expected}")]
    OutputLength { expected: usize, actual: usize },

    #[error("plaintext of {len} octets is too long to encrypt")]
    PlaintextTooLong { len: usize },

    #[error("encrypted payload body has {actual} octets, at least {min} are needed (IV, pad length octet, ICV)")]
    BodyTooShort { min: usize, actual: usize },

    #[error("integrity check failed: the ICV does not match (wrong key, or the message or its header was altered)")]
    IcvMismatch,

    #[error("bad padding: pad length {pad_len} does not fit in the {available} decrypted octets before the pad length octet")]
    BadPadding { pad_len: usize, available: usize },

    #[error("ciphertext of {actual} octets is not a whole number of {block}-octet blocks")]
    NotWholeBlocks { block: usize, actual: usize },

    #[error("{alg}: the peer's key exchange value is invalid: {reason}")]
    InvalidPeerPublic {
        alg: &'static str,
        reason: &'static str,
    },

    #[error("{alg}: the private key is unusable: {reason}")]
    InvalidPrivateKey {
        alg: &'static str,
        reason: &'static str,
    },

    #[error("the key cannot be used: {reason}")]
    BadKey { reason: String },

    #[error("the key does not fit {method}")]
    SignatureKeyMismatch { method: String },

    #[error("signing failed")]
    SigningFailed,

    #[error("the signature does not verify with the peer's public key")]
    BadSignature,

    #[error("the AUTH payload's signature data is malformed")]
    BadSignatureEncoding,

    #[error("the AUTH payload names a signature algorithm that is not supported")]
    UnknownSignatureAlgorithm,

    #[error("AUTH method {method} is not a supported signature method")]
    UnknownAuthMethod { method: u8 },
}
