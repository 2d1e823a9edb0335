//! Virtual IPs leased from address pools.

use serde::{Deserialize, Serialize};

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
