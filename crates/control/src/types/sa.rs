//! IKE and CHILD SAs as shown to users, and how they ended.

use std::fmt;

use serde::{Deserialize, Serialize};

/// State of an IKE SA as shown to users.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IkeSaState {
    Connecting,
    Established,
    Deleting,
    /// Replaced by a rekey (its CHILD SAs moved on); waits for the peer's DELETE,
    /// or the peer's redundant one after a simultaneous rekey.
    Rekeyed,
}

/// Which side started the IKE SA.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IkeRole {
    Initiator,
    Responder,
}

/// State of a CHILD SA as shown to users.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChildSaState {
    Installing,
    Installed,
    /// Our rekey of it is in flight.
    Rekeying,
    /// Replaced by a new CHILD SA; about to be deleted.
    Rekeyed,
    Deleting,
}

/// IPsec mode of a CHILD SA.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChildSaMode {
    Tunnel,
    Transport,
}

/// The recent ends of one connection's SAs, oldest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConnHistory {
    pub connection: String,
    pub ends: Vec<SaEndInfo>,
}

/// One SA's end and its cause.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SaEndInfo {
    /// Seconds before the answer was made.
    pub ago_secs: u64,
    /// When it ended, in milliseconds since the Unix epoch (UTC); absent from
    /// older daemons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_ms: Option<u64>,
    /// "IKE" or "CHILD".
    pub kind: String,
    pub ike_id: u64,
    /// The CHILD SA's name; absent for an IKE SA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    /// The CHILD SA's SPIs (8 hex digits), when it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_out: Option<String>,
    /// False if the SA never came up (a failed negotiation or rekey).
    pub was_up: bool,
    pub cause: String,
    /// The cause's kind, a stable name (`rekeyed`, `deleted_by_peer`,
    /// `hard_expiry`, ...: docs/CONTROL.md); absent from older daemons.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end_kind: String,
    /// Replaced by another SA that carries the same traffic (a rekey, a
    /// reauthentication, a collision's or duplicate's redundant SA): nothing lost.
    #[serde(default)]
    pub routine: bool,
    /// For an INVALID_KE_PAYLOAD loop (`end_kind` `invalid_ke_loop`): the key
    /// exchange groups our proposals offer and those the peer asked for, in
    /// the configuration's words; left out otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ke_ours: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ke_asked: Vec<String>,
}

/// One IKE SA. SPIs are 16 lowercase hex digits without `0x`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IkeSaInfo {
    pub connection: String,
    pub unique_id: u64,
    pub state: IkeSaState,
    pub role: IkeRole,
    /// `address:port`, IPv6 in brackets.
    pub local_addr: String,
    pub remote_addr: String,
    pub local_id: String,
    pub remote_id: String,
    pub initiator_spi: String,
    pub responder_spi: String,
    /// Negotiated algorithms, e.g. `AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519`.
    pub proposal: String,
    /// Seconds since the SA was established; `null` while it is still connecting.
    pub established_secs: Option<u64>,
    /// Seconds until the IKE SA is rekeyed, and until it ends.
    #[serde(default)]
    pub rekey_in_secs: Option<u64>,
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// How old (seconds) an IKE SA of this line was when the peer last rekeyed
    /// it: the peer's rhythm, beside our own `rekey_in_secs`. Absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rekeyed_at_secs: Option<u64>,
    /// Our rekeys of it that failed while it goes on; absent when none has (and
    /// from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_failed: Option<RekeyFailedInfo>,
    /// Our rekey of it in flight, once it had to be sent again; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_unanswered: Option<UnansweredInfo>,
    /// NAT traversal, when a NAT was detected between the peers; absent
    /// otherwise (and from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatInfo>,
    /// MOBIKE (RFC 4555), when both sides agreed to it; absent otherwise (and
    /// from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobike: Option<MobikeInfo>,
    pub children: Vec<ChildSaInfo>,
}

/// What NAT detection found for an IKE SA, and the peer's mapping changes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatInfo {
    /// This host is behind a NAT (it sends the keepalives).
    pub local_behind: bool,
    pub peer_behind: bool,
    /// Seconds between our NAT-keepalives; absent when we send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_secs: Option<u64>,
    /// How often the peer's NAT mapping changed while the IKE SA (and those
    /// it replaced) was established, and seconds since the first and last.
    pub mapping_changes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_change_ago_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change_ago_secs: Option<u64>,
}

/// MOBIKE on an IKE SA: the peer may move it with UPDATE_SA_ADDRESSES.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MobikeInfo {
    /// The peer's other addresses (ADDITIONAL_IP4/6_ADDRESS), as it last listed
    /// them; empty when it listed none.
    pub peer_addresses: Vec<String>,
}

/// A rekey request of ours sent more than once and not answered yet: the SA
/// ends at its life_time (`expires_in_secs`) unless an answer comes first.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnansweredInfo {
    /// How many times it was sent, the first time included.
    pub sends: u32,
    /// Seconds since it was first sent.
    pub first_sent_ago_secs: u64,
}

/// An SA's rekeys that failed since it was made: it still carries the traffic,
/// and ends at its life_time (`expires_in_secs`) unless a retry succeeds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RekeyFailedInfo {
    /// Why the last one failed: its kind (`no_proposal`, `ts_unacceptable`, as
    /// in history's `end_kind`) and the sentence.
    pub end_kind: String,
    pub cause: String,
    pub count: u32,
    /// Seconds since the first and the last failed.
    pub first_ago_secs: u64,
    pub last_ago_secs: u64,
}

/// One CHILD SA (a pair of ESP SAs). SPIs are 8 lowercase hex digits without `0x`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ChildSaInfo {
    pub name: String,
    pub unique_id: u64,
    /// The kernel reqid its SAs and policies share (kept across rekeys); absent
    /// from older daemons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reqid: Option<u32>,
    pub state: ChildSaState,
    pub mode: ChildSaMode,
    /// `ESP` for now.
    pub protocol: String,
    pub spi_in: String,
    pub spi_out: String,
    /// Negotiated algorithms, e.g. `AES_GCM_16_128`.
    pub proposal: String,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    /// Traffic counters from the kernel; `null` when there is no kernel backend.
    pub bytes_in: Option<u64>,
    pub packets_in: Option<u64>,
    pub bytes_out: Option<u64>,
    pub packets_out: Option<u64>,
    /// Seconds since it was installed.
    #[serde(default)]
    pub installed_secs: Option<u64>,
    /// Seconds until rekeying starts; none while rekeying or if rekeying is off.
    #[serde(default)]
    pub rekey_in_secs: Option<u64>,
    /// Seconds until it ends, rekeyed or not.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// Seconds since a packet last went through one of its policies (in, out
    /// or fwd, the latest); absent when none has (or there is no kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use_secs: Option<u64>,
    /// How old (seconds) an SA of this child was when the peer last rekeyed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rekeyed_at_secs: Option<u64>,
    /// The age (seconds) before which tern rekeys this child's SAs itself,
    /// since it saw the peer let them expire at about that age; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapted_rekey_before_secs: Option<u64>,
    /// Our rekeys of it that failed while it goes on; absent when none has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_failed: Option<RekeyFailedInfo>,
    /// Our rekey of it in flight, once it had to be sent again; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_unanswered: Option<UnansweredInfo>,
}

impl fmt::Display for IkeSaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IkeSaState::Connecting => "CONNECTING",
            IkeSaState::Established => "ESTABLISHED",
            IkeSaState::Deleting => "DELETING",
            IkeSaState::Rekeyed => "REKEYED",
        })
    }
}

impl fmt::Display for IkeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IkeRole::Initiator => "initiator",
            IkeRole::Responder => "responder",
        })
    }
}

impl fmt::Display for ChildSaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildSaState::Installing => "INSTALLING",
            ChildSaState::Installed => "INSTALLED",
            ChildSaState::Rekeying => "REKEYING",
            ChildSaState::Rekeyed => "REKEYED",
            ChildSaState::Deleting => "DELETING",
        })
    }
}

impl fmt::Display for ChildSaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildSaMode::Tunnel => "TUNNEL",
            ChildSaMode::Transport => "TRANSPORT",
        })
    }
}
