//! tern-config: the configuration file (TOML) -> the daemon's settings and the
//! engine's [`EngineConfig`].
//!
//! Every error names the file, line and column it concerns; unknown keys come with a
//! "did you mean" suggestion. The schema is documented in `conf/ternd.toml`, which is
//! also the configuration ternd uses when given none ([`DEFAULT_CONFIG`]).

mod connection;
mod describe;
mod duration;
mod eap;
mod error;
mod file;
mod identity;
mod pool;
mod proposal;
mod psk;
mod pubkey;
pub mod radius;
mod reader;
mod schema;
mod suggest;
mod traffic;
mod ts;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tern_engine::config::EngineConfig;

pub use connection::{DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS};
pub use describe::{
    conn_info, format_close_action, format_dpd_action, format_mode, format_start_action,
};
pub use duration::{format as format_duration, parse as parse_duration};
pub use error::ConfigError;
pub use identity::{format_identity, parse_identity};
pub use proposal::{
    format_esp_proposal, format_ike_proposal, parse_esp_proposal, parse_ike_proposal,
};
pub use schema::DEFAULT_SOCKET;
pub use ts::{format_ts, parse_ts};

/// Every table of the file and the keys it accepts, for documentation and its
/// tests (docs/CONFIGURATION.md is checked against this). `NAME` and `CHILD`
/// stand for the names the user chooses.
pub const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("", schema::ROOT_KEYS),
    ("daemon", schema::DAEMON_KEYS),
    ("retransmit", schema::RETRANSMIT_KEYS),
    ("fragmentation", schema::FRAGMENTATION_KEYS),
    ("pools.NAME", pool::POOL_KEYS),
    ("eap", eap::EAP_KEYS),
    ("radius", radius::RADIUS_KEYS),
    ("radius.servers.NAME", radius::SERVER_KEYS),
    ("connections.NAME", connection::CONNECTION_KEYS),
    ("connections.NAME.children.CHILD", connection::CHILD_KEYS),
];

/// The embedded default configuration: the moon side of the demo.
pub const DEFAULT_CONFIG: &str = include_str!("../../../conf/ternd.toml");

/// Name under which errors in [`DEFAULT_CONFIG`] are reported.
pub const DEFAULT_CONFIG_ORIGIN: &str = "<built-in ternd.toml>";

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub engine: EngineConfig,
}

/// Settings of the daemon itself (`[daemon]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The control socket ternctl connects to.
    pub socket: PathBuf,
    /// The group (name or number) the control socket is given, whose members may
    /// use ternctl; `None` leaves ternd's own group.
    pub socket_group: Option<String>,
    /// Addresses to bind the IKE ports on; default `0.0.0.0` and `::`.
    pub listen: Vec<IpAddr>,
    /// IKE port, default 500.
    pub port: u16,
    /// IKE port for NAT traversal (UDP encapsulation), default 4500.
    pub nat_port: u16,
    /// How many engines (shards) ternd runs, each on its own thread; `None` is one
    /// per CPU.
    pub workers: Option<usize>,
    /// Where ternd serves its metrics (OpenMetrics text over HTTP, `GET /metrics`);
    /// `None`, the default, serves none.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How many SA ends ternd remembers per connection (`ternctl history`).
    pub history_length: usize,
    /// Where ternd keeps that history across restarts.
    pub state_file: PathBuf,
    /// `[radius]`: where EAP-RADIUS logins go; `None` without the table.
    pub radius: Option<radius::RadiusConfig>,
}

/// Parses configuration text. `origin` names it in errors; a relative `psk_file` is
/// resolved against the current directory.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    check_str(text, origin).map_err(first)
}

/// Parses configuration text and reports every error found, in file order of
/// discovery (`parse_str` reports the first of them).
pub fn check_str(text: &str, origin: &str) -> Result<Config, Vec<ConfigError>> {
    let ctx = schema::Context {
        src: error::Source { origin, text },
        base_dir: None,
    };
    schema::config(&ctx)
}

/// Reads and parses a configuration file. A relative `psk_file` is resolved against
/// the file's directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    check_file(path).map_err(first)
}

/// Reads and parses a configuration file and reports every error found (`load_file`
/// reports the first of them): for `ternd --check`.
pub fn check_file(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| {
            error::Source {
                origin: &origin,
                text: "",
            }
            .file_error(format!("cannot read the configuration: {e}"))
        })
        .map_err(|e| vec![e])?;
    let base_dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let ctx = schema::Context {
        src: error::Source {
            origin: &origin,
            text: &text,
        },
        base_dir,
    };
    schema::config(&ctx)
}

/// The first of a check's errors (there is always one).
fn first(errors: Vec<ConfigError>) -> ConfigError {
    errors
        .into_iter()
        .next()
        .expect("a failed check reports at least one error")
}

/// The embedded default configuration, parsed.
pub fn default_config() -> Result<Config, ConfigError> {
    parse_str(DEFAULT_CONFIG, DEFAULT_CONFIG_ORIGIN)
}
