//! Connections as configured, and as `diagnose` sees them.

use serde::{Deserialize, Serialize};

use super::*;

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
