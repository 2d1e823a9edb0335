//! The values callers hand to [`crate::Xfrm`] and get back from it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zeroize::Zeroize;

/// IPsec mode of an SA or policy template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Transport,
    Tunnel,
}

impl Mode {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Mode::Transport => 0, // XFRM_MODE_TRANSPORT
            Mode::Tunnel => 1,    // XFRM_MODE_TUNNEL
        }
    }

    /// `None` for modes tern does not use (BEET, route optimisation...).
    pub fn from_u8(v: u8) -> Option<Mode> {
        match v {
            0 => Some(Mode::Transport),
            1 => Some(Mode::Tunnel),
            _ => None,
        }
    }
}

/// Direction of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyDir {
    In,
    Out,
    Fwd,
}

impl PolicyDir {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            PolicyDir::In => 0,
            PolicyDir::Out => 1,
            PolicyDir::Fwd => 2,
        }
    }

    pub fn from_u8(v: u8) -> Option<PolicyDir> {
        match v {
            0 => Some(PolicyDir::In),
            1 => Some(PolicyDir::Out),
            2 => Some(PolicyDir::Fwd),
            _ => None,
        }
    }
}

impl fmt::Display for PolicyDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyDir::In => "in",
            PolicyDir::Out => "out",
            PolicyDir::Fwd => "fwd",
        })
    }
}

/// An AEAD transform, e.g. `rfc4106(gcm(aes))` with key = AES key + 4-byte salt.
#[derive(Clone)]
pub struct AeadAlgo {
    pub name: &'static str,
    /// Key material including the salt. Zeroized on drop.
    pub key: Vec<u8>,
    pub icv_bits: u32,
}

/// An encryption transform without integrity, e.g. `cbc(aes)`.
#[derive(Clone)]
pub struct Algo {
    pub name: &'static str,
    /// Zeroized on drop.
    pub key: Vec<u8>,
}

/// An integrity transform with truncation, e.g. `hmac(sha256)` truncated to 128 bits.
#[derive(Clone)]
pub struct AuthAlgo {
    pub name: &'static str,
    /// Zeroized on drop.
    pub key: Vec<u8>,
    pub trunc_bits: u32,
}

macro_rules! secret_key_hygiene {
    ($t:ty) => {
        impl Drop for $t {
            fn drop(&mut self) {
                self.key.zeroize();
            }
        }
    };
}
secret_key_hygiene!(AeadAlgo);
secret_key_hygiene!(Algo);
secret_key_hygiene!(AuthAlgo);

impl fmt::Debug for AeadAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AeadAlgo")
            .field("name", &self.name)
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .field("icv_bits", &self.icv_bits)
            .finish()
    }
}

impl fmt::Debug for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Algo")
            .field("name", &self.name)
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .finish()
    }
}

impl fmt::Debug for AuthAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthAlgo")
            .field("name", &self.name)
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .field("trunc_bits", &self.trunc_bits)
            .finish()
    }
}

/// ESP-in-UDP encapsulation (RFC 3948), ports in host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncap {
    pub sport: u16,
    pub dport: u16,
}

/// An XFRM mark: the SA or policy applies only to packets whose mark,
/// masked with `mask`, equals `value` (`ip xfrm ... mark VALUE mask MASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark {
    pub value: u32,
    pub mask: u32,
}

impl Mark {
    /// Matches packets whose mark is exactly `value`.
    pub fn exact(value: u32) -> Mark {
        Mark { value, mask: !0 }
    }
}

/// Kernel-enforced SA limits. 0 means unlimited for every field.
/// The seconds count from when the SA was added (add-expires).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifetime {
    pub soft_bytes: u64,
    pub hard_bytes: u64,
    pub soft_packets: u64,
    pub hard_packets: u64,
    pub soft_seconds: u64,
    pub hard_seconds: u64,
}

/// Traffic selector. Ports are in host order; a mask of 0 means any port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    pub src: IpAddr,
    pub src_prefix: u8,
    pub dst: IpAddr,
    pub dst_prefix: u8,
    /// IP protocol number, 0 = any.
    pub proto: u8,
    pub sport: u16,
    pub sport_mask: u16,
    pub dport: u16,
    pub dport_mask: u16,
}

impl Selector {
    /// Subnet to subnet, any protocol, any port.
    pub fn subnets(src: IpAddr, src_prefix: u8, dst: IpAddr, dst_prefix: u8) -> Selector {
        Selector {
            src,
            src_prefix,
            dst,
            dst_prefix,
            proto: 0,
            sport: 0,
            sport_mask: 0,
            dport: 0,
            dport_mask: 0,
        }
    }

    /// Host to host (/32 or /128), any protocol, any port.
    pub fn hosts(src: IpAddr, dst: IpAddr) -> Selector {
        Selector::subnets(src, full_prefix(src), dst, full_prefix(dst))
    }

    /// All traffic of one address family.
    pub fn any(v6: bool) -> Selector {
        let any: IpAddr = if v6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        Selector::subnets(any, 0, any, 0)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}/{}",
            self.src, self.src_prefix, self.dst, self.dst_prefix
        )?;
        if self.proto != 0 {
            write!(f, " proto {}", self.proto)?;
        }
        if self.sport_mask != 0 {
            write!(f, " sport {}", self.sport)?;
        }
        if self.dport_mask != 0 {
            write!(f, " dport {}", self.dport)?;
        }
        Ok(())
    }
}

pub(crate) fn full_prefix(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

/// Everything needed to install one ESP SA.
#[derive(Debug, Clone)]
pub struct SaParams {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Host order; written to the kernel in network order.
    pub spi: u32,
    pub reqid: u32,
    pub mode: Mode,
    pub aead: Option<AeadAlgo>,
    pub encryption: Option<Algo>,
    pub integrity: Option<AuthAlgo>,
    pub encap: Option<UdpEncap>,
    /// Anti-replay window in packets. Windows above 32, or with `esn`,
    /// go in XFRMA_REPLAY_ESN_VAL (the legacy field caps at 32).
    pub replay_window: u32,
    pub esn: bool,
    pub lifetime: Lifetime,
    /// Selector bound to the SA; usually set in transport mode.
    pub selector: Option<Selector>,
    /// UPDSA instead of NEWSA: fills the larval SA left by `alloc_spi`.
    pub update: bool,
    /// Only for packets with this mark (XFRMA_MARK). Deleting or reading
    /// the SA then needs the same mark.
    pub mark: Option<Mark>,
    /// The xfrm interface this SA belongs to (XFRMA_IF_ID); `None` or 0
    /// for SAs used through policies alone.
    pub if_id: Option<u32>,
}

/// An outbound/inbound/forward policy requiring ESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyParams {
    pub selector: Selector,
    pub dir: PolicyDir,
    pub priority: u32,
    pub templates: Vec<Template>,
    /// UPDPOLICY instead of NEWPOLICY (replace if present).
    pub update: bool,
    /// Only for packets with this mark (XFRMA_MARK); part of the policy's
    /// identity, so deleting it needs the same mark.
    pub mark: Option<Mark>,
    /// The xfrm interface the policy belongs to (XFRMA_IF_ID).
    pub if_id: Option<u32>,
}

/// One ESP template of a policy. In transport mode the addresses are not
/// sent (the kernel takes them from the packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Template {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub reqid: u32,
    pub mode: Mode,
    /// 0 = any SPI.
    pub spi: u32,
}

/// The kernel's current-lifetime counters of an SA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaCounters {
    pub bytes: u64,
    pub packets: u64,
    /// Unix time (seconds) when the SA was added.
    pub add_time: u64,
    /// Unix time (seconds) of first use, 0 if never used.
    pub use_time: u64,
}

/// One SA as listed by a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaSummary {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    pub reqid: u32,
    /// IP protocol of the SA (50 = ESP).
    pub proto: u8,
    /// `None` for modes tern does not use.
    pub mode: Option<Mode>,
    pub counters: SaCounters,
    /// The hard add-expires limit in seconds (0 = none); a larval SA from
    /// ALLOCSPI carries the kernel's acquire timeout here.
    pub hard_seconds: u64,
    pub mark: Option<Mark>,
    pub if_id: Option<u32>,
    /// ESP in UDP: the ports it is sent from and to.
    pub encap: Option<UdpEncap>,
}

/// Where an installed ESP SA is to go: its outer addresses and NAT-T ports
/// after a NAT changed its mapping (see [`crate::Xfrm::move_sa`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaMove {
    /// The SA as it is: found by destination and SPI.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    /// Its new outer addresses (of the same family).
    pub new_src: IpAddr,
    pub new_dst: IpAddr,
    /// Its new ESP-in-UDP ports. An SA keeps encapsulation or its absence:
    /// the kernel cannot add or remove it in place.
    pub encap: Option<UdpEncap>,
}

/// One policy as listed by a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySummary {
    pub selector: Selector,
    pub dir: PolicyDir,
    pub priority: u32,
    pub index: u32,
    /// 0 = allow, 1 = block.
    pub action: u8,
    pub templates: Vec<Template>,
    pub mark: Option<Mark>,
    pub if_id: Option<u32>,
    /// Unix time (seconds) a packet last matched the policy, 0 if none has.
    pub use_time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let a = AeadAlgo {
            name: "rfc4106(gcm(aes))",
            key: vec![0xAB; 20],
            icv_bits: 128,
        };
        let s = format!("{a:?}");
        assert!(s.contains("20 bytes redacted"), "{s}");
        assert!(
            !s.to_lowercase().contains("ab, ") && !s.contains("171"),
            "{s}"
        );
    }
}
