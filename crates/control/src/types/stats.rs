//! The counters of `stats`.

use serde::{Deserialize, Serialize};

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
    /// ESP SAs the kernel refused to install (absent from older daemons).
    #[serde(default)]
    pub kernel_refusals: u64,
}

/// The event stream.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct EventStats {
    pub watchers: u64,
    /// Events not delivered to a watcher that read too slowly.
    pub dropped: u64,
}
