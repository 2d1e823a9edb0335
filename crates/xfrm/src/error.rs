//! Errors that name the operation, the SA or policy, and what the kernel lacks.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::codec::DecodeError;
use crate::types::{PolicyDir, Selector};

/// What was being attempted; the first half of every error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    /// Human description, e.g. "adding ESP SA 10.0.0.1->10.0.0.2 spi 0xc1234567".
    pub what: String,
    /// The SA's or policy's address family, to name esp4 or esp6.
    pub ipv6: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Open,
    AddSa,
    UpdateSa,
    DeleteSa,
    GetSa,
    AllocSpi,
    AddPolicy,
    UpdatePolicy,
    DeletePolicy,
    GetPolicy,
    Dump,
    Flush,
}

impl Op {
    pub(crate) fn sa(kind: OpKind, src: IpAddr, dst: IpAddr, spi: u32) -> Op {
        let verb = match kind {
            OpKind::AddSa => "adding",
            OpKind::UpdateSa => "updating",
            OpKind::DeleteSa => "deleting",
            _ => "reading",
        };
        Op {
            kind,
            what: format!("{verb} ESP SA {src}->{dst} spi 0x{spi:08x}"),
            ipv6: dst.is_ipv6(),
        }
    }

    pub(crate) fn alloc_spi(src: IpAddr, dst: IpAddr, reqid: u32) -> Op {
        Op {
            kind: OpKind::AllocSpi,
            what: format!("allocating an SPI for ESP SA {src}->{dst} reqid {reqid}"),
            ipv6: dst.is_ipv6(),
        }
    }

    pub(crate) fn policy(kind: OpKind, sel: &Selector, dir: PolicyDir) -> Op {
        let verb = match kind {
            OpKind::AddPolicy => "adding",
            OpKind::UpdatePolicy => "updating",
            OpKind::GetPolicy => "reading",
            _ => "deleting",
        };
        Op {
            kind,
            what: format!("{verb} policy {sel} dir {dir}"),
            ipv6: sel.dst.is_ipv6(),
        }
    }

    pub(crate) fn policy_index(index: u32, dir: PolicyDir) -> Op {
        Op {
            kind: OpKind::DeletePolicy,
            what: format!("deleting policy index {index} dir {dir}"),
            ipv6: false,
        }
    }

    pub(crate) fn plain(kind: OpKind, what: &str) -> Op {
        Op {
            kind,
            what: what.to_string(),
            ipv6: false,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// The kernel's extended-ack text, shown as " (kernel: ...)" when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelSays(pub Option<String>);

impl fmt::Display for KernelSays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(m) => write!(f, " (kernel: {m})"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum XfrmError {
    #[error("opening the XFRM netlink socket: the kernel has no XFRM netlink interface (CONFIG_XFRM_USER / xfrm_user module not loaded): {source}")]
    NoXfrm { source: io::Error },

    #[error("{op}: permission denied; XFRM needs CAP_NET_ADMIN{kernel}")]
    PermissionDenied { op: Op, kernel: KernelSays },

    /// The SA or policy does not exist. Callers deleting things may ignore it.
    #[error("{op}: no such {} in the kernel{kernel}", if matches!(op.kind, OpKind::DeletePolicy | OpKind::GetPolicy) { "policy" } else { "SA" })]
    NotFound { op: Op, kernel: KernelSays },

    #[error("{op}: it already exists in the kernel{kernel}")]
    AlreadyExists { op: Op, kernel: KernelSays },

    #[error("{op}: the kernel has no ESP support ({}){kernel}", if op.ipv6 { "CONFIG_INET6_ESP / esp6 module not loaded" } else { "CONFIG_INET_ESP / esp4 module not loaded" })]
    NoEsp { op: Op, kernel: KernelSays },

    /// The kernel's crypto API does not provide one of the SA's algorithms.
    #[error("{op}: the kernel does not provide {algorithm}{kernel}; {hint}")]
    AlgorithmUnavailable {
        op: Op,
        algorithm: String,
        hint: String,
        kernel: KernelSays,
    },

    /// ESP is there but setting up its crypto failed (often: module autoload).
    #[error("{op}: the kernel could not initialise the SA's cryptography{kernel}; check that the algorithm's modules are loaded or that /proc/sys/kernel/modprobe can load them")]
    CryptoInit { op: Op, kernel: KernelSays },

    #[error("{op}: no free SPI in 0x{min:08x}..=0x{max:08x}{kernel}")]
    NoSpiAvailable {
        op: Op,
        min: u32,
        max: u32,
        kernel: KernelSays,
    },

    #[error("{op}: the kernel refused: {} (errno {errno}){kernel}", io::Error::from_raw_os_error(*errno))]
    Kernel {
        op: Op,
        errno: i32,
        kernel: KernelSays,
    },

    /// The request was not sent: the parameters cannot be expressed.
    #[error("{op}: invalid request: {reason}")]
    Invalid { op: Op, reason: String },

    #[error("{op}: netlink I/O failed: {source}")]
    Io { op: Op, source: io::Error },

    #[error("{op}: no answer from the kernel within {seconds} s")]
    Timeout { op: Op, seconds: u64 },

    #[error("{op}: malformed reply from the kernel: {error}")]
    Malformed { op: Op, error: DecodeError },
}

impl XfrmError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, XfrmError::NotFound { .. })
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, XfrmError::AlreadyExists { .. })
    }

    /// The operation this error is about, when there is one.
    pub fn op(&self) -> Option<&Op> {
        match self {
            XfrmError::NoXfrm { .. } => None,
            XfrmError::PermissionDenied { op, .. }
            | XfrmError::NotFound { op, .. }
            | XfrmError::AlreadyExists { op, .. }
            | XfrmError::NoEsp { op, .. }
            | XfrmError::AlgorithmUnavailable { op, .. }
            | XfrmError::CryptoInit { op, .. }
            | XfrmError::NoSpiAvailable { op, .. }
            | XfrmError::Kernel { op, .. }
            | XfrmError::Invalid { op, .. }
            | XfrmError::Io { op, .. }
            | XfrmError::Timeout { op, .. }
            | XfrmError::Malformed { op, .. } => Some(op),
        }
    }

    pub(crate) fn invalid(op: &Op, reason: impl Into<String>) -> XfrmError {
        XfrmError::Invalid {
            op: op.clone(),
            reason: reason.into(),
        }
    }
}

/// What the request asked for, so an errno can be explained in its terms.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorContext {
    /// Algorithm names in the request, in the order AEAD, crypt, auth.
    pub aead: Option<String>,
    pub crypt: Option<String>,
    pub auth: Option<String>,
    pub spi_range: Option<(u32, u32)>,
}

/// Maps a negative errno from a netlink ack to an error that says what it means
/// for this operation.
pub(crate) fn from_errno(
    op: &Op,
    errno: i32,
    ext: Option<String>,
    ctx: &ErrorContext,
) -> XfrmError {
    let op = op.clone();
    let kernel = KernelSays(ext.clone());
    let ext_lc = ext.as_deref().unwrap_or("").to_ascii_lowercase();
    let sa_install = matches!(op.kind, OpKind::AddSa | OpKind::UpdateSa);
    match (op.kind, errno) {
        (_, libc::EPERM) | (_, libc::EACCES) => XfrmError::PermissionDenied { op, kernel },
        (OpKind::DeleteSa | OpKind::GetSa | OpKind::UpdateSa, libc::ESRCH | libc::ENOENT)
            if !ext_lc.contains("cryptographic") =>
        {
            XfrmError::NotFound { op, kernel }
        }
        (OpKind::DeletePolicy | OpKind::GetPolicy, libc::ENOENT) => {
            XfrmError::NotFound { op, kernel }
        }
        (OpKind::AddSa | OpKind::AddPolicy, libc::EEXIST) => {
            XfrmError::AlreadyExists { op, kernel }
        }
        (_, libc::EPROTONOSUPPORT) if sa_install => XfrmError::NoEsp { op, kernel },
        (_, libc::ENOSYS) if sa_install => {
            let algorithm = unavailable_algorithm(&ext_lc, ctx);
            let hint = algorithm_hint(&algorithm);
            XfrmError::AlgorithmUnavailable {
                op,
                algorithm,
                hint,
                kernel,
            }
        }
        _ if sa_install && ext_lc.contains("cryptographic") => XfrmError::CryptoInit { op, kernel },
        (OpKind::AllocSpi, libc::ENOENT) => {
            let (min, max) = ctx.spi_range.unwrap_or((0, 0));
            XfrmError::NoSpiAvailable {
                op,
                min,
                max,
                kernel,
            }
        }
        _ => XfrmError::Kernel { op, errno, kernel },
    }
}

/// Which algorithm the kernel's "Requested X algorithm not found" refers to.
fn unavailable_algorithm(ext_lc: &str, ctx: &ErrorContext) -> String {
    let named = |kind: &str, name: &Option<String>| {
        name.as_ref().map(|n| format!("the {kind} algorithm {n}"))
    };
    let by_message = if ext_lc.contains("aead") {
        named("AEAD", &ctx.aead)
    } else if ext_lc.contains("crypt") {
        named("encryption", &ctx.crypt)
    } else if ext_lc.contains("auth") {
        named("integrity", &ctx.auth)
    } else {
        None
    };
    by_message.unwrap_or_else(|| {
        let all: Vec<&str> = [&ctx.aead, &ctx.crypt, &ctx.auth]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        format!("one of the algorithms {}", all.join(", "))
    })
}

/// Which kernel options provide the algorithms tern proposes.
fn algorithm_hint(algorithm: &str) -> String {
    const HINTS: &[(&str, &str)] = &[
        (
            "rfc4106(gcm(aes))",
            "CONFIG_CRYPTO_GCM (modules gcm, ghash, aes)",
        ),
        (
            "rfc7539esp(chacha20,poly1305)",
            "CONFIG_CRYPTO_CHACHA20POLY1305 (module chacha20poly1305)",
        ),
        (
            "cbc(aes)",
            "CONFIG_CRYPTO_CBC and CONFIG_CRYPTO_AES (modules cbc, aes)",
        ),
        (
            "hmac(sha256)",
            "CONFIG_CRYPTO_HMAC and CONFIG_CRYPTO_SHA256 (modules hmac, sha256)",
        ),
        (
            "hmac(sha384)",
            "CONFIG_CRYPTO_HMAC and CONFIG_CRYPTO_SHA512 (modules hmac, sha512)",
        ),
        (
            "hmac(sha512)",
            "CONFIG_CRYPTO_HMAC and CONFIG_CRYPTO_SHA512 (modules hmac, sha512)",
        ),
    ];
    for (name, hint) in HINTS {
        if algorithm.contains(name) {
            return format!("enable {hint}");
        }
    }
    "load the crypto modules that provide it (see /proc/crypto for what is available)".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esp_add() -> Op {
        Op::sa(
            OpKind::AddSa,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            0xc1234567,
        )
    }

    #[test]
    fn no_esp_message_names_the_module() {
        let e = from_errno(
            &esp_add(),
            libc::EPROTONOSUPPORT,
            Some("Requested type not found".into()),
            &ErrorContext::default(),
        );
        assert_eq!(
            e.to_string(),
            "adding ESP SA 10.0.0.1->10.0.0.2 spi 0xc1234567: the kernel has no ESP support \
             (CONFIG_INET_ESP / esp4 module not loaded) (kernel: Requested type not found)"
        );
    }

    #[test]
    fn missing_aead_names_the_algorithm() {
        let ctx = ErrorContext {
            aead: Some("rfc4106(gcm(aes))".into()),
            ..Default::default()
        };
        let e = from_errno(
            &esp_add(),
            libc::ENOSYS,
            Some("Requested AEAD algorithm not found".into()),
            &ctx,
        );
        let s = e.to_string();
        assert!(s.contains("the AEAD algorithm rfc4106(gcm(aes))"), "{s}");
        assert!(s.contains("CONFIG_CRYPTO_GCM"), "{s}");
    }

    #[test]
    fn enoent_on_delete_is_not_found_but_not_on_add() {
        let del = Op::sa(
            OpKind::DeleteSa,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            1,
        );
        assert!(from_errno(&del, libc::ESRCH, None, &ErrorContext::default()).is_not_found());
        // A crypto setup failure can come back as ENOENT on NEWSA.
        let e = from_errno(
            &esp_add(),
            libc::ENOENT,
            Some("Kernel was unable to initialize cryptographic operations".into()),
            &ErrorContext::default(),
        );
        assert!(matches!(e, XfrmError::CryptoInit { .. }), "{e}");
    }
}
