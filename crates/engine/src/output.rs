//! What the engine hands back: datagrams, kernel operations, events, and the
//! read-only views used by `ternctl list-sas`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tern_crypto::Secret;

use crate::config::{Encryption, Integrity, Mode};

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
}

impl Transmit {
    /// A NAT-keepalive goes out as it is; an IKE message on the NAT-T port goes
    /// behind the four-zero-octet non-ESP marker (RFC 3948 §2.2).
    pub fn is_nat_keepalive(&self) -> bool {
        self.payload == crate::nat::NAT_KEEPALIVE
    }
}

/// An operation on the kernel's IPsec state (XFRM), described as data.
#[derive(Debug)]
pub enum KernelOp {
    AddSa(SaInstall),
    DeleteSa {
        src: IpAddr,
        dst: IpAddr,
        spi: u32,
    },
    /// An installed SA follows its peer to new addresses or NAT-T ports.
    MoveSa(SaMove),
    AddPolicy(PolicyInstall),
    /// Takes the place of the policy with the same selectors and direction.
    ReplacePolicy(PolicyInstall),
    DeletePolicy(PolicyInstall),
}

/// Where an installed ESP SA goes when a NAT changed its mapping: new outer
/// addresses and ESP-in-UDP ports, the same SPI, keys and sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaMove {
    /// The SA as installed.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    pub new_src: IpAddr,
    pub new_dst: IpAddr,
    pub encap: Option<UdpEncap>,
}

/// One direction of a CHILD SA: an ESP SA from `src` to `dst`.
#[derive(Debug)]
pub struct SaInstall {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    pub reqid: u32,
    pub mode: Mode,
    pub encryption: Encryption,
    /// For AES-CBC.
    pub integrity: Option<Integrity>,
    /// Key material: the encryption key (for AES-GCM and ChaCha20 followed by the
    /// 4-octet salt), then the integrity key if there is one.
    pub key: Secret,
    /// Traffic the SA carries, (source, destination), when the kernel needs to be
    /// told: an SA whose inner address family differs from its outer one.
    pub selector: Option<(Selector, Selector)>,
    /// Extended sequence numbers, as negotiated.
    pub esn: bool,
    /// ESP in UDP, when a NAT is in the way.
    pub encap: Option<UdpEncap>,
    /// Traffic limits for the kernel to enforce (EXPIRE events come back).
    pub limits: TrafficLimits,
}

/// Soft (rekey) and hard (end) limits of one SA; zero means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficLimits {
    pub soft_bytes: u64,
    pub hard_bytes: u64,
    pub soft_packets: u64,
    pub hard_packets: u64,
}

/// The UDP ports of an SA's ESP-in-UDP packets (RFC 3948), as sent: source then
/// destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpEncap {
    pub sport: u16,
    pub dport: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyDirection {
    In,
    Out,
    Fwd,
}

/// An address prefix with optional protocol and port, as XFRM selectors take them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub protocol: u8,
    pub port: u16,
    /// 0 means any port; 0xffff an exact port.
    pub port_mask: u16,
}

/// One policy: traffic from `src` to `dst` goes through (or comes from) the ESP SA
/// between `tunnel_src` and `tunnel_dst` with `reqid`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyInstall {
    pub direction: PolicyDirection,
    pub src: Selector,
    pub dst: Selector,
    pub tunnel_src: IpAddr,
    pub tunnel_dst: IpAddr,
    pub reqid: u32,
    pub mode: Mode,
    pub priority: u32,
}

/// Something that happened, for ternd's control clients and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    IkeSaEstablished {
        connection: String,
        ike_id: u64,
    },
    /// The IKE SA could not be established (or died before it was).
    IkeSaFailed {
        connection: String,
        ike_id: u64,
        reason: crate::end_reason::EndReason,
    },
    IkeSaDeleted {
        connection: String,
        ike_id: u64,
        reason: crate::end_reason::EndReason,
    },
    /// The IKE SA was replaced by a new one, which took over its CHILD SAs.
    IkeSaRekeyed {
        connection: String,
        old_ike_id: u64,
        new_ike_id: u64,
    },
    ChildSaInstalled {
        connection: String,
        ike_id: u64,
        child: String,
        spi_in: u32,
        spi_out: u32,
    },
    ChildSaFailed {
        connection: String,
        ike_id: u64,
        child: String,
        reason: crate::end_reason::EndReason,
    },
    ChildSaDeleted {
        connection: String,
        ike_id: u64,
        child: String,
        /// The SPIs it had, so watchers can tell a rekeyed SA from its successor.
        spi_in: u32,
        spi_out: u32,
        reason: crate::end_reason::EndReason,
    },
    /// An SA ended and `child`'s configuration brings it back: the connection is
    /// initiated again (or, for one CHILD SA the peer deleted, the CHILD SA is
    /// created again), or its trap waits for traffic. `ike_id` is the IKE SA that ended (0 if none could be made);
    /// `reason` says why and what happens next, in one sentence.
    EndAction {
        connection: String,
        ike_id: u64,
        child: String,
        action: EndAction,
        reason: String,
    },
}

/// The setting behind an [`Event::EndAction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndAction {
    /// `dpd_action = restart`: the peer stopped answering (or the IKE SA expired).
    Restart,
    /// `close_action = start`: the peer closed the SA (or the IKE SA expired).
    Start,
    /// `dpd_action = trap`: as `Restart`, but the trap waits for traffic.
    DpdTrap,
    /// `close_action = trap`: as `Start`, but the trap waits for traffic.
    CloseTrap,
    /// `keyingtries`: initiating the connection went unanswered, and it is tried again.
    KeyingTries,
}

impl EndAction {
    /// Whether the child waits for traffic (a trap) rather than being initiated.
    pub fn is_trap(self) -> bool {
        matches!(self, EndAction::DpdTrap | EndAction::CloseTrap)
    }
}

impl std::fmt::Display for EndAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndAction::Restart => "dpd_action = restart",
            EndAction::Start => "close_action = start",
            EndAction::DpdTrap => "dpd_action = trap",
            EndAction::CloseTrap => "close_action = trap",
            EndAction::KeyingTries => "keyingtries",
        })
    }
}

/// The state of an IKE SA, as `ternctl list-sas` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeSaInfo {
    pub connection: String,
    pub unique_id: u64,
    pub state: &'static str,
    pub initiator: bool,
    pub local_addr: SocketAddr,
    pub remote_addr: SocketAddr,
    pub local_id: String,
    pub remote_id: String,
    pub initiator_spi: [u8; 8],
    pub responder_spi: [u8; 8],
    pub proposal: String,
    pub established_for: Option<Duration>,
    /// How long IKE_SA_INIT and IKE_AUTH took (none until it is up, and for an
    /// IKE SA made by a rekey).
    pub set_up_in: Option<Duration>,
    pub rekey_in: Option<Duration>,
    pub expires_in: Option<Duration>,
    /// How old an IKE SA of this line was when the peer last rekeyed it.
    pub peer_rekeyed_at: Option<Duration>,
    /// Our rekeys of it that failed (it ends at `expires_in` unless a retry succeeds).
    pub rekey_failed: Option<RekeyFailedInfo>,
    /// Our rekey of it in flight, once it had to be sent again.
    pub rekey_unanswered: Option<UnansweredInfo>,
    /// NAT traversal, when a NAT was detected between the peers.
    pub nat: Option<NatInfo>,
    /// MOBIKE (RFC 4555), when both sides agreed to it.
    pub mobike: Option<MobikeInfo>,
    pub children: Vec<ChildSaInfo>,
}

/// What NAT detection found for an IKE SA, and what happened to the mapping since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatInfo {
    /// This host is behind a NAT (it sends the keepalives).
    pub local_behind: bool,
    /// The peer is behind a NAT.
    pub peer_behind: bool,
    /// How often we send NAT-keepalives; none when we are not behind a NAT or
    /// `nat_keepalive` is 0.
    pub keepalive_every: Option<Duration>,
    /// The peer's NAT mapping changed this often while established (and in the
    /// IKE SAs this one replaced).
    pub mapping_changes: u32,
    /// How long ago the first and the last change were.
    pub first_change_ago: Option<Duration>,
    pub last_change_ago: Option<Duration>,
}

/// MOBIKE on an IKE SA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MobikeInfo {
    /// The peer's other addresses (ADDITIONAL_IP4/6_ADDRESS), as it last listed them.
    pub peer_addresses: Vec<IpAddr>,
}

/// A rekey request of ours sent more than once and not answered yet: the SA
/// ends at its life_time unless an answer comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnansweredInfo {
    /// How many times it was sent, the first time included (at least 2).
    pub sends: u32,
    /// How long ago it was first sent.
    pub first_sent_ago: Duration,
}

impl UnansweredInfo {
    /// The request in flight, if it was sent more than once.
    pub(crate) fn of(request: &crate::ike_sa::InFlight, now: std::time::Instant) -> Option<Self> {
        (request.sends > 1).then(|| UnansweredInfo {
            sends: request.sends,
            first_sent_ago: now.saturating_duration_since(request.first_sent),
        })
    }
}

/// An SA's failed rekeys, as of the moment asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyFailedInfo {
    /// Why the last one failed.
    pub kind: crate::end_reason::EndKind,
    pub cause: String,
    pub count: u32,
    /// How long ago the first and the last failed.
    pub first_ago: Duration,
    pub last_ago: Duration,
}

impl RekeyFailedInfo {
    pub fn of(f: &crate::end_reason::RekeyFailure, now: std::time::Instant) -> RekeyFailedInfo {
        RekeyFailedInfo {
            kind: f.reason.kind,
            cause: f.reason.text.clone(),
            count: f.count,
            first_ago: now.saturating_duration_since(f.first),
            last_ago: now.saturating_duration_since(f.last),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSaInfo {
    pub name: String,
    pub unique_id: u64,
    /// The kernel reqid its SAs and policies share (kept across rekeys).
    pub reqid: u32,
    pub state: &'static str,
    pub mode: Mode,
    pub spi_in: u32,
    pub spi_out: u32,
    pub proposal: String,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    pub installed_for: Duration,
    /// Until rekeying starts (none while rekeying or when rekeying is off).
    pub rekey_in: Option<Duration>,
    /// Until the SA ends, rekeyed or not.
    pub expires_in: Option<Duration>,
    /// How old an SA of this child was when the peer last rekeyed it (the
    /// peer's rhythm, where it differs from ours); none if it never has.
    pub peer_rekeyed_at: Option<Duration>,
    /// The age before which tern rekeys this child's SAs itself, once it saw
    /// the peer let them expire at about the same age (`adapt`); none until then.
    pub adapted_rekey_before: Option<Duration>,
    /// Our rekeys of it that failed (it ends at `expires_in` unless a retry succeeds).
    pub rekey_failed: Option<RekeyFailedInfo>,
    /// Our rekey of it in flight, once it had to be sent again.
    pub rekey_unanswered: Option<UnansweredInfo>,
    /// For reading the kernel's counters: the inbound SA is `remote -> local`.
    pub local_addr: IpAddr,
    pub remote_addr: IpAddr,
    /// The kernel policies the CHILD SA's traffic goes through (made on request,
    /// not stored), for reading when they were last used.
    pub policies: Vec<PolicyInstall>,
}
