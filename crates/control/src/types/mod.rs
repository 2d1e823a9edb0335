//! Requests, responses and the SA/connection descriptions they carry.
//!
//! The JSON shape of these types is part of tern's interface (scripts parse
//! `ternctl --json` output): renaming a field is a breaking change.

use serde::{Deserialize, Serialize};

mod conn;
mod event;
mod lease;
mod sa;
mod stats;
#[cfg(test)]
mod tests;

pub use conn::*;
pub use event::*;
pub use lease::*;
pub use sa::*;
pub use stats::*;

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
