//! Requests, responses and the SA/connection descriptions they carry.
//!
//! The JSON shape of these types is part of tern's interface (scripts parse
//! `ternctl --json` output): renaming a field is a breaking change.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One request from a client to the daemon.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Request {
    pub version: u32,
    pub command: Command,
}

impl Request {
    /// A request for `command`, stamped with the oldest protocol version that has it,
    /// so a newer ternctl still works with an older ternd for the commands they share.
    pub fn new(command: Command) -> Self {
        Request {
            version: command.since_version(),
            command,
        }
    }
}

/// What the client asks the daemon to do.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Command {
    /// List the IKE SAs and their CHILD SAs.
    ListSas,
    /// List the configured connections.
    ListConns,
    /// Bring a connection up and wait (at most `timeout_secs`) until its SAs are
    /// established or have failed.
    Initiate {
        connection: String,
        timeout_secs: u64,
    },
    /// Delete a connection's SAs and wait for the peer's answer.
    Terminate { connection: String },
    /// Rekey the connection's CHILD SAs now and wait for the new ones.
    Rekey { connection: String },
    /// Rekey the connection's IKE SAs now and wait for the new ones. Protocol
    /// version 2.
    RekeyIke { connection: String },
    /// Read the configuration file again and apply it.
    Reload,
    /// The daemon's version.
    Version,
    /// Subscribe to events (of one connection, or all): the daemon answers
    /// [`ResponseBody::Watching`], then writes one [`EventInfo`] line per event until
    /// the client closes the connection. Protocol version 2.
    Watch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<String>,
    },
    /// The engine's and the daemon's counters. Protocol version 2.
    Stats,
    /// The virtual IPs leased from address pools. Protocol version 3.
    ListLeases,
    /// What ternd knows about each connection (or one) for `ternctl diagnose`:
    /// its configuration, SAs, recent ends and the counters. Protocol version 3.
    Diagnose {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<String>,
    },
}

impl Command {
    /// The protocol version that introduced this command.
    pub fn since_version(&self) -> u32 {
        match self {
            Command::Watch { .. } | Command::Stats | Command::RekeyIke { .. } => 2,
            Command::ListLeases => 3,
            Command::Diagnose { .. } => 3,
            _ => 1,
        }
    }
}

/// The daemon's answer to one request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Response {
    Ok {
        body: ResponseBody,
    },
    /// The request failed; `message` is meant for people and says why in plain words.
    Error {
        message: String,
    },
}

/// The data of a successful response, one variant per command.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ResponseBody {
    Sas {
        sas: Vec<IkeSaInfo>,
        /// How each connection's recent SAs ended (absent from older daemons).
        #[serde(default)]
        history: Vec<ConnHistory>,
    },
    Conns {
        conns: Vec<ConnInfo>,
    },
    Initiated {
        message: String,
    },
    Terminated {
        message: String,
    },
    Rekeyed {
        message: String,
    },
    Reloaded {
        message: String,
    },
    Version {
        version: String,
    },
    /// The subscription is in place; event lines follow.
    Watching {
        /// The connection watched; `None` means all.
        #[serde(default)]
        connection: Option<String>,
    },
    Stats {
        // Boxed: the other answers are much smaller.
        stats: Box<StatsInfo>,
    },
    Leases {
        leases: Vec<LeaseInfo>,
    },
    /// The evidence `ternctl diagnose` judges.
    Diagnosis {
        connections: Vec<ConnEvidence>,
        stats: Box<StatsInfo>,
    },
}

/// One virtual IP leased from an address pool.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub pool: String,
    pub address: std::net::IpAddr,
    /// The peer identity it is leased to.
    pub identity: String,
    /// Whether an IKE SA holds it now; if not, it is kept for that identity.
    pub online: bool,
}

/// One connection as `diagnose` sees it: configured, now, and recently.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConnEvidence {
    pub conn: ConnInfo,
    /// Its IKE SAs now.
    pub sas: Vec<IkeSaInfo>,
    /// How its recent SAs ended, oldest first.
    pub ends: Vec<SaEndInfo>,
}

/// An SA's configured lifetimes, in seconds.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeInfo {
    /// 0: rekeying off.
    pub rekey_time_secs: u64,
    pub life_time_secs: u64,
    pub rand_time_secs: u64,
}

/// One line of the event stream that follows [`ResponseBody::Watching`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventInfo {
    /// When ternd saw it, in milliseconds since the Unix epoch (UTC).
    pub unix_ms: u64,
    pub kind: EventKind,
    /// Empty for [`EventKind::EventsLost`].
    pub connection: String,
    /// The IKE SA's unique id (for a rekey, the old one).
    pub ike_id: u64,
    /// For [`EventKind::IkeSaRekeyed`], the IKE SA that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_ike_id: Option<u64>,
    /// The IKE SA's SPIs (16 hex digits), when ternd knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_spi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder_spi: Option<String>,
    /// The CHILD SA's name, for CHILD SA events and end actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    /// The CHILD SA's SPIs (8 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_out: Option<String>,
    /// Why, in plain words: the cause of an end or failure, or what an end action does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The kind of an end or failure's cause, a stable name (as in `SaEndInfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_kind: Option<String>,
    /// For [`EventKind::EventsLost`]: how many events this watcher missed because it
    /// read too slowly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
}

/// What an [`EventInfo`] reports.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    IkeSaEstablished,
    /// Never came up.
    IkeSaFailed,
    /// Ended after being established.
    IkeSaDeleted,
    IkeSaRekeyed,
    ChildSaInstalled,
    ChildSaFailed,
    /// Ended; `reason` says why (`rekeyed` when a new CHILD SA replaced it).
    ChildSaDeleted,
    /// `dpd_action = restart` or `close_action = start` brings the connection back.
    EndAction,
    /// The watcher fell behind and ternd dropped events rather than wait for it.
    EventsLost,
}

/// The answer to `stats`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct StatsInfo {
    pub version: String,
    pub uptime_secs: u64,
    pub ike_sas_established: u64,
    pub ike_sas_connecting: u64,
    pub child_sas_installed: u64,
    pub datagrams: DatagramStats,
    /// Every datagram dropped, by reason (`malformed`, `unknown-spi`,
    /// `unauthenticated`, `out-of-window`, `unexpected`, `not-ike`).
    pub dropped: std::collections::BTreeMap<String, u64>,
    pub exchanges: ExchangeStats,
    pub events: EventStats,
    /// Absent from an older ternd's answer.
    #[serde(default)]
    pub half_open: HalfOpenStats,
}

/// Half-open IKE SAs (IKE_SA_INIT answered as responder, no IKE_AUTH yet), and
/// the IKE_SA_INIT requests kept from making more.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct HalfOpenStats {
    /// Half-open now.
    pub current: u64,
    /// Answered with a COOKIE demand (`cookie_threshold`) instead of a key exchange.
    pub cookies_demanded: u64,
    /// Dropped: their address had `half_open_per_address` half-open already.
    pub refused_per_address: u64,
    /// Dropped: `half_open_limit` IKE SAs were half-open.
    pub refused_limit: u64,
}

/// Datagrams through the IKE sockets.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct DatagramStats {
    /// Read from the sockets (IKE, and whatever else arrived on the IKE ports).
    pub received: u64,
    /// Handed to the sockets (retransmissions included).
    pub sent: u64,
    /// Reads and sends the operating system refused.
    pub receive_failed: u64,
    pub send_failed: u64,
    /// Sends tried again after the kernel had no buffer room (EAGAIN, ENOBUFS);
    /// those that still failed are in `send_failed`. Absent from older ternds.
    #[serde(default)]
    pub send_retries: u64,
}

/// What the SAs went through since ternd started.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ExchangeStats {
    pub ike_sas_established: u64,
    /// IKE SAs replaced by a rekey, whichever side started it.
    pub ike_rekeys: u64,
    pub ike_rekeys_initiated: u64,
    pub ike_hard_expiries: u64,
    pub child_sas_installed: u64,
    /// CHILD SAs replaced by a rekey, whichever side started it.
    pub child_rekeys: u64,
    pub child_rekeys_initiated: u64,
    pub child_rekey_collisions: u64,
    pub child_hard_expiries: u64,
    /// Simultaneous IKE SA rekeys settled by the nonce rule (RFC 7296 §2.8.2).
    #[serde(default)]
    pub ike_rekey_collisions: u64,
    /// Lines (a child's SAs, or a connection's IKE SAs with one peer) that tern
    /// now rekeys before the age at which the peer kept letting them expire.
    #[serde(default)]
    pub rekeys_adapted: u64,
    /// Reauthentications instead of a CHILD rekey refused for PFS wanted by one
    /// side only.
    #[serde(default)]
    pub pfs_reauths: u64,
    /// Virtual IPs handed out from address pools.
    #[serde(default)]
    pub virtual_ips_assigned: u64,
    /// Requests for a virtual IP answered INTERNAL_ADDRESS_FAILURE.
    #[serde(default)]
    pub virtual_ip_refusals: u64,
    /// Configuration payload attributes of a wrong length, ignored.
    #[serde(default)]
    pub cp_attributes_malformed: u64,
    pub retransmits_sent: u64,
    pub retransmits_answered: u64,
    pub dpd_checks_sent: u64,
    pub dead_peers: u64,
    pub restarts: u64,
}

/// The event stream.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct EventStats {
    pub watchers: u64,
    /// Events not delivered to a watcher that read too slowly.
    pub dropped: u64,
}

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
    pub children: Vec<ChildSaInfo>,
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
}

/// One configured connection, in configuration-file syntax.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConnInfo {
    pub name: String,
    pub local_addrs: Vec<String>,
    pub remote_addrs: Vec<String>,
    pub local_id: String,
    /// `None` accepts any identity the peer proves.
    pub remote_id: Option<String>,
    pub auth: String,
    pub ike_proposals: Vec<String>,
    pub children: Vec<ChildConnInfo>,
    /// Dead peer detection interval ("30s"); `None` when DPD is off.
    #[serde(default)]
    pub dpd_delay: Option<String>,
    /// The IKE SA's lifetimes (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ike_lifetime: Option<LifetimeInfo>,
}

/// One configured CHILD SA template, in configuration-file syntax.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ChildConnInfo {
    pub name: String,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    pub esp_proposals: Vec<String>,
    pub mode: String,
    pub start_action: String,
    /// `clear` or `restart` (empty from daemons that predate it).
    #[serde(default)]
    pub dpd_action: String,
    /// `none` or `start` (empty from daemons that predate it).
    #[serde(default)]
    pub close_action: String,
    /// Its trap is installed: its policies wait for traffic to bring it up.
    #[serde(default)]
    pub trapped: bool,
    /// The CHILD SA's lifetimes (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<LifetimeInfo>,
    /// The key exchanges (PFS) every ESP proposal asks for, in the
    /// configuration's words (`x25519`); empty when one asks for none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pfs_groups: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The example of INTERFACES.md, as a value.
    fn sample_sa() -> IkeSaInfo {
        IkeSaInfo {
            connection: "demo".into(),
            unique_id: 1,
            state: IkeSaState::Established,
            role: IkeRole::Initiator,
            local_addr: "192.0.2.1:500".into(),
            remote_addr: "192.0.2.2:500".into(),
            local_id: "moon.tern.example".into(),
            remote_id: "sun.tern.example".into(),
            initiator_spi: "0123456789abcdef".into(),
            responder_spi: "fedcba9876543210".into(),
            proposal: "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519".into(),
            established_secs: Some(12),
            rekey_in_secs: None,
            expires_in_secs: None,
            peer_rekeyed_at_secs: None,
            rekey_failed: None,
            children: vec![ChildSaInfo {
                name: "net".into(),
                unique_id: 1,
                reqid: Some(1),
                state: ChildSaState::Installed,
                mode: ChildSaMode::Tunnel,
                protocol: "ESP".into(),
                spi_in: "c1a2b3c4".into(),
                spi_out: "c5d6e7f8".into(),
                proposal: "AES_GCM_16_128".into(),
                local_ts: vec!["10.1.0.0/24".into()],
                remote_ts: vec!["10.2.0.0/24".into()],
                bytes_in: Some(0),
                packets_in: Some(0),
                bytes_out: Some(0),
                packets_out: Some(0),
                installed_secs: None,
                rekey_in_secs: None,
                expires_in_secs: None,
                last_use_secs: Some(3),
                peer_rekeyed_at_secs: Some(2700),
                adapted_rekey_before_secs: None,
                rekey_failed: None,
            }],
        }
    }

    #[test]
    fn ike_sa_json_matches_the_documented_shape() {
        let documented = json!([{"connection":"demo","unique_id":1,"state":"ESTABLISHED","role":"initiator",
          "local_addr":"192.0.2.1:500","remote_addr":"192.0.2.2:500",
          "local_id":"moon.tern.example","remote_id":"sun.tern.example",
          "initiator_spi":"0123456789abcdef","responder_spi":"fedcba9876543210",
          "proposal":"AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519","established_secs":12,
          "rekey_in_secs":null,"expires_in_secs":null,
          "children":[{"name":"net","unique_id":1,"reqid":1,"state":"INSTALLED","mode":"TUNNEL","protocol":"ESP",
             "spi_in":"c1a2b3c4","spi_out":"c5d6e7f8","proposal":"AES_GCM_16_128",
             "local_ts":["10.1.0.0/24"],"remote_ts":["10.2.0.0/24"],
             "bytes_in":0,"packets_in":0,"bytes_out":0,"packets_out":0,
             "installed_secs":null,"rekey_in_secs":null,"expires_in_secs":null,
             "last_use_secs":3,"peer_rekeyed_at_secs":2700}]}]);
        let ours = serde_json::to_value(vec![sample_sa()]).unwrap();
        assert_eq!(ours, documented);
        let back: Vec<IkeSaInfo> = serde_json::from_value(documented).unwrap();
        assert_eq!(back, vec![sample_sa()]);
    }

    #[test]
    fn missing_counters_serialize_as_null() {
        let mut sa = sample_sa();
        sa.children[0].bytes_in = None;
        sa.established_secs = None;
        let v = serde_json::to_value(&sa).unwrap();
        assert_eq!(v["children"][0]["bytes_in"], Value::Null);
        assert_eq!(v["established_secs"], Value::Null);
    }

    #[test]
    fn request_json_shape() {
        let req = Request::new(Command::Initiate {
            connection: "demo".into(),
            timeout_secs: 30,
        });
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"version":1,"command":{"type":"initiate","connection":"demo","timeout_secs":30}})
        );
        assert_eq!(
            serde_json::to_value(Request::new(Command::ListSas)).unwrap(),
            json!({"version":1,"command":{"type":"list-sas"}})
        );
    }

    #[test]
    fn response_json_shape() {
        let ok = Response::Ok {
            body: ResponseBody::Version {
                version: "0.1.0".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"status":"ok","body":{"kind":"version","version":"0.1.0"}})
        );
        let err = Response::Error {
            message: "no connection named `x`".into(),
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"status":"error","message":"no connection named `x`"})
        );
    }

    #[test]
    fn every_command_and_response_round_trips() {
        let commands = [
            Command::ListSas,
            Command::ListConns,
            Command::Initiate {
                connection: "demo".into(),
                timeout_secs: 5,
            },
            Command::Terminate {
                connection: "demo".into(),
            },
            Command::Version,
            Command::Watch {
                connection: Some("demo".into()),
            },
            Command::Watch { connection: None },
            Command::Stats,
            Command::RekeyIke {
                connection: "demo".into(),
            },
            Command::Diagnose { connection: None },
            Command::Diagnose {
                connection: Some("demo".into()),
            },
        ];
        for command in commands {
            let req = Request::new(command);
            let text = serde_json::to_string(&req).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), req);
        }
        let conn = ConnInfo {
            name: "demo".into(),
            local_addrs: vec!["192.0.2.1".into()],
            remote_addrs: vec![],
            local_id: "moon.tern.example".into(),
            remote_id: None,
            auth: "psk".into(),
            ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
            children: vec![ChildConnInfo {
                name: "net".into(),
                local_ts: vec!["10.1.0.0/24".into()],
                remote_ts: vec!["10.2.0.0/24".into()],
                esp_proposals: vec!["aes128gcm16".into()],
                mode: "tunnel".into(),
                start_action: "none".into(),
                dpd_action: "restart".into(),
                close_action: "none".into(),
                trapped: false,
                lifetime: Some(LifetimeInfo {
                    rekey_time_secs: 3600,
                    life_time_secs: 3960,
                    rand_time_secs: 360,
                }),
                pfs_groups: vec!["x25519".into()],
            }],
            dpd_delay: Some("30s".into()),
            ike_lifetime: None,
        };
        let bodies = [
            ResponseBody::Sas {
                sas: vec![sample_sa()],
                history: vec![ConnHistory {
                    connection: "demo".into(),
                    ends: vec![SaEndInfo {
                        ago_secs: 5,
                        unix_ms: None,
                        kind: "CHILD".into(),
                        ike_id: 1,
                        child: Some("net".into()),
                        spi_in: Some("c0000101".into()),
                        spi_out: Some("c1b2c3d4".into()),
                        was_up: true,
                        cause: "deleted by the peer".into(),
                        end_kind: "deleted_by_peer".into(),
                        routine: false,
                        ke_ours: vec![],
                        ke_asked: vec![],
                    }],
                }],
            },
            ResponseBody::Diagnosis {
                connections: vec![ConnEvidence {
                    conn: conn.clone(),
                    sas: vec![sample_sa()],
                    ends: vec![],
                }],
                stats: Box::default(),
            },
            ResponseBody::Conns { conns: vec![conn] },
            ResponseBody::Initiated {
                message: "up".into(),
            },
            ResponseBody::Terminated {
                message: "down".into(),
            },
            ResponseBody::Version {
                version: "0.1.0".into(),
            },
            ResponseBody::Watching { connection: None },
            ResponseBody::Stats {
                stats: Box::new(StatsInfo {
                    version: "0.1.0".into(),
                    uptime_secs: 3,
                    dropped: [("malformed".to_string(), 2)].into_iter().collect(),
                    ..StatsInfo::default()
                }),
            },
        ];
        for body in bodies {
            let resp = Response::Ok { body };
            let text = serde_json::to_string(&resp).unwrap();
            assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), resp);
        }
    }

    #[test]
    fn old_commands_keep_version_1_new_ones_say_2() {
        // A ternd that speaks only version 1 still understands what ternctl sends
        // for the commands it knows.
        for command in [
            Command::ListSas,
            Command::ListConns,
            Command::Reload,
            Command::Version,
        ] {
            assert_eq!(Request::new(command).version, 1);
        }
        assert_eq!(
            serde_json::to_value(Request::new(Command::Watch { connection: None })).unwrap(),
            json!({"version":2,"command":{"type":"watch"}})
        );
        assert_eq!(
            serde_json::to_value(Request::new(Command::Stats)).unwrap(),
            json!({"version":2,"command":{"type":"stats"}})
        );
        // A version 1 request as an old ternctl wrote it still parses.
        let old: Request =
            serde_json::from_str(r#"{"version":1,"command":{"type":"list-sas"}}"#).unwrap();
        assert_eq!(old.command, Command::ListSas);
    }

    #[test]
    fn event_json_leaves_out_what_does_not_apply() {
        let event = EventInfo {
            unix_ms: 5,
            kind: EventKind::ChildSaDeleted,
            connection: "demo".into(),
            ike_id: 3,
            new_ike_id: None,
            initiator_spi: None,
            responder_spi: None,
            child: Some("net".into()),
            spi_in: Some("c0000101".into()),
            spi_out: Some("c1b2c3d4".into()),
            reason: Some("rekeyed".into()),
            end_kind: None,
            lost: None,
        };
        let v = serde_json::to_value(&event).unwrap();
        assert_eq!(
            v,
            json!({"unix_ms":5,"kind":"child-sa-deleted","connection":"demo","ike_id":3,
                   "child":"net","spi_in":"c0000101","spi_out":"c1b2c3d4","reason":"rekeyed"})
        );
        assert_eq!(serde_json::from_value::<EventInfo>(v).unwrap(), event);
    }

    #[test]
    fn unknown_command_is_rejected() {
        let r = serde_json::from_str::<Request>(r#"{"version":1,"command":{"type":"reboot"}}"#);
        assert!(r.is_err());
    }
}
