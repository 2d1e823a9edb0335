//! The top level of the file: `[daemon]`, `[retransmit]`, `[fragmentation]`,
//! `[pools]` and `[connections]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tern_engine::config::{
    EngineConfig, Fragmentation, RetransmitConfig, DEFAULT_COOKIE_THRESHOLD,
    DEFAULT_HALF_OPEN_LIMIT, DEFAULT_HALF_OPEN_PER_ADDRESS, DEFAULT_NAT_KEEPALIVE,
};

use crate::connection::connections;
use crate::error::{ConfigError, Errors, Source};
use crate::reader::TableReader;
use crate::{Config, DaemonConfig};

/// Most engines `daemon.workers` may ask for.
pub const MAX_WORKERS: usize = 256;

/// Where ternd keeps its SA history across restarts unless configured otherwise.
pub const DEFAULT_STATE_FILE: &str = "/var/lib/tern/history.json";

/// SA ends remembered per connection unless configured otherwise.
pub const DEFAULT_HISTORY_LENGTH: usize = 16;

/// Most SA ends `daemon.history_length` may ask to keep per connection.
pub const MAX_HISTORY_LENGTH: usize = 10_000;

/// Where ternd listens for ternctl unless configured otherwise.
pub const DEFAULT_SOCKET: &str = "/run/tern/ternd.sock";

pub(crate) const ROOT_KEYS: &[&str] = &[
    "daemon",
    "retransmit",
    "fragmentation",
    "pools",
    "eap",
    "radius",
    "connections",
];
pub(crate) const DAEMON_KEYS: &[&str] = &[
    "socket",
    "listen",
    "port",
    "nat_port",
    "cookie_threshold",
    "half_open_per_address",
    "half_open_limit",
    "nat_keepalive",
    "socket_group",
    "workers",
    "metrics_listen",
    "history_length",
    "state_file",
];
pub(crate) const RETRANSMIT_KEYS: &[&str] = &["base_secs", "factor", "tries"];
pub(crate) const FRAGMENTATION_KEYS: &[&str] = &["enabled", "size_ipv4", "size_ipv6"];

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from(DEFAULT_SOCKET),
            socket_group: None,
            listen: vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            port: 500,
            nat_port: 4500,
            workers: None,
            metrics_listen: None,
            history_length: DEFAULT_HISTORY_LENGTH,
            state_file: PathBuf::from(DEFAULT_STATE_FILE),
            radius: None,
        }
    }
}

/// Everything the parser needs besides the document.
pub(crate) struct Context<'a> {
    pub src: Source<'a>,
    /// Directory that relative paths (`psk_file`) are resolved against.
    pub base_dir: Option<&'a Path>,
}

/// The configuration, or every error found in it (a syntax error stops the reading
/// at once; past that, each table, key and value is checked on its own).
pub(crate) fn config(ctx: &Context<'_>) -> Result<Config, Vec<ConfigError>> {
    let document = toml_edit::ImDocument::parse(ctx.src.text)
        .map_err(|e| vec![ctx.src.error(e.span(), one_line(e.message()))])?;
    let mut errors = Errors::default();
    let root = TableReader::root(ctx.src, document.as_table(), ROOT_KEYS, &mut errors);
    let daemon_table = root
        .field("daemon")
        .and_then(|f| f.table_checked(DAEMON_KEYS, &mut errors));
    let (daemon, settings) = match &daemon_table {
        Some(table) => (
            daemon(table, &mut errors),
            engine_settings(table, &mut errors),
        ),
        None => (DaemonConfig::default(), EngineSettings::default()),
    };
    let retransmit = match root
        .field("retransmit")
        .and_then(|f| f.table_checked(RETRANSMIT_KEYS, &mut errors))
    {
        Some(table) => retransmit(&table, &mut errors),
        None => RetransmitConfig::default(),
    };
    let fragmentation = match root
        .field("fragmentation")
        .and_then(|f| f.table_checked(FRAGMENTATION_KEYS, &mut errors))
    {
        Some(table) => fragmentation(&table, &mut errors),
        None => Fragmentation::default(),
    };
    let pools = match root
        .field("pools")
        .and_then(|f| errors.keep(f.named_tables()))
    {
        Some(table) => crate::pool::pools(&ctx.src, &table, &mut errors),
        None => Vec::new(),
    };
    let eap_users = match root
        .field("eap")
        .and_then(|f| f.table_checked(crate::eap::EAP_KEYS, &mut errors))
    {
        Some(table) => crate::eap::eap_users(ctx, &table, &mut errors),
        None => Default::default(),
    };
    let radius = root
        .field("radius")
        .and_then(|f| f.table_checked(crate::radius::RADIUS_KEYS, &mut errors))
        .and_then(|table| crate::radius::radius(ctx, &table, &mut errors));
    let eap = crate::eap::EapSources {
        users: eap_users,
        radius: radius.is_some(),
    };
    let connections = match root
        .field("connections")
        .and_then(|f| errors.keep(f.named_tables()))
    {
        Some(table) => connections(ctx, &table, &pools, &eap, &mut errors),
        None => Vec::new(),
    };
    let (ike_port, nat_port) = (daemon.port, daemon.nat_port);
    let mut daemon = daemon;
    daemon.radius = radius;
    errors.finish(Config {
        daemon,
        engine: EngineConfig {
            connections,
            retransmit,
            cookie_threshold: settings.cookie_threshold,
            half_open_per_address: settings.half_open_per_address,
            half_open_limit: settings.half_open_limit,
            ike_port,
            nat_port,
            nat_keepalive: settings.nat_keepalive,
            fragmentation,
            // Not a setting yet (see EngineConfig::mobike_initiator).
            mobike_initiator: false,
            emulate: Default::default(),
        },
    })
}

fn daemon(table: &TableReader<'_>, errors: &mut Errors) -> DaemonConfig {
    let mut daemon = DaemonConfig::default();
    if let Some(f) = table.field("socket") {
        errors.check(|| {
            let path = f.string()?;
            if path.value.is_empty() {
                return Err(f.error("`daemon.socket` must not be empty"));
            }
            daemon.socket = PathBuf::from(path.value);
            Ok(())
        });
    }
    if let Some(f) = table.field("socket_group") {
        errors.check(|| {
            let group = f.string()?;
            let valid = !group.value.is_empty()
                && group
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(f.error(format!(
                    "`daemon.socket_group` must be a group name or number, not `{}`",
                    group.value
                )));
            }
            daemon.socket_group = Some(group.value.to_string());
            Ok(())
        });
    }
    if let Some(f) = table.field("listen") {
        errors.check(|| {
            daemon.listen = ip_list(&f)?;
            if daemon.listen.is_empty() {
                return Err(f.error("`daemon.listen` needs at least one address"));
            }
            Ok(())
        });
    }
    let mut ports_read = true;
    if let Some(f) = table.field("port") {
        match errors.keep(f.port()) {
            Some(port) => daemon.port = port,
            None => ports_read = false,
        }
    }
    if let Some(f) = table.field("nat_port") {
        match errors.keep(f.port()) {
            Some(port) => daemon.nat_port = port,
            None => ports_read = false,
        }
    }
    if let Some(f) = table.field("workers") {
        errors.check(|| {
            daemon.workers = Some(f.integer_in(1, MAX_WORKERS as i64)? as usize);
            Ok(())
        });
    }
    if let Some(f) = table.field("metrics_listen") {
        errors.check(|| {
            let text = f.string()?;
            daemon.metrics_listen = Some(text.value.parse().map_err(|_| {
                f.error(format!(
                    "`daemon.metrics_listen` must be an address and port such as \"127.0.0.1:9719\" or \"[::1]:9719\", not `{}`",
                    text.value
                ))
            })?);
            Ok(())
        });
    }
    if let Some(f) = table.field("history_length") {
        errors.check(|| {
            daemon.history_length = f.integer_in(1, MAX_HISTORY_LENGTH as i64)? as usize;
            Ok(())
        });
    }
    if let Some(f) = table.field("state_file") {
        errors.check(|| {
            let path = f.string()?;
            if path.value.is_empty() {
                return Err(f.error("`daemon.state_file` must not be empty"));
            }
            daemon.state_file = PathBuf::from(path.value);
            Ok(())
        });
    }
    if ports_read && daemon.port == daemon.nat_port {
        errors.push(table.error("`daemon.port` and `daemon.nat_port` must differ"));
    }
    daemon
}

/// Engine settings that live in `[daemon]`, as they concern every connection.
struct EngineSettings {
    cookie_threshold: u32,
    half_open_per_address: u32,
    half_open_limit: u32,
    nat_keepalive: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            cookie_threshold: DEFAULT_COOKIE_THRESHOLD,
            half_open_per_address: DEFAULT_HALF_OPEN_PER_ADDRESS,
            half_open_limit: DEFAULT_HALF_OPEN_LIMIT,
            nat_keepalive: DEFAULT_NAT_KEEPALIVE,
        }
    }
}

fn engine_settings(table: &TableReader<'_>, errors: &mut Errors) -> EngineSettings {
    let mut settings = EngineSettings::default();
    if let Some(f) = table.field("cookie_threshold") {
        errors.check(|| {
            settings.cookie_threshold = f.integer_in(0, i64::from(u32::MAX))? as u32;
            Ok(())
        });
    }
    // At least one: a limit of zero would refuse every peer.
    if let Some(f) = table.field("half_open_per_address") {
        errors.check(|| {
            settings.half_open_per_address = f.integer_in(1, i64::from(u32::MAX))? as u32;
            Ok(())
        });
    }
    if let Some(f) = table.field("half_open_limit") {
        errors.check(|| {
            settings.half_open_limit = f.integer_in(1, i64::from(u32::MAX))? as u32;
            Ok(())
        });
    }
    if let Some(f) = table.field("nat_keepalive") {
        errors.check(|| {
            settings.nat_keepalive = crate::duration::duration(&f)?;
            Ok(())
        });
    }
    settings
}

fn retransmit(table: &TableReader<'_>, errors: &mut Errors) -> RetransmitConfig {
    let mut config = RetransmitConfig::default();
    if let Some(f) = table.field("base_secs") {
        errors.check(|| {
            let secs = f.number()?.value;
            if !(0.01..=600.0).contains(&secs) {
                return Err(f.error(format!(
                    "`retransmit.base_secs` must be between 0.01 and 600, not {secs}"
                )));
            }
            config.base = Duration::from_secs_f64(secs);
            Ok(())
        });
    }
    if let Some(f) = table.field("factor") {
        errors.check(|| {
            let factor = f.number()?.value;
            if !(1.0..=10.0).contains(&factor) {
                return Err(f.error(format!(
                    "`retransmit.factor` must be between 1.0 and 10.0, not {factor}"
                )));
            }
            // The engine keeps tenths so its configuration stays `Eq`.
            config.factor_tenths = (factor * 10.0).round() as u32;
            Ok(())
        });
    }
    if let Some(f) = table.field("tries") {
        errors.check(|| {
            config.tries = f.integer_in(1, 20)? as u32;
            Ok(())
        });
    }
    config
}

/// `[fragmentation]`: IKE fragmentation (RFC 7383) on or off, and the largest
/// datagram (IP and UDP headers included) to send per address family.
fn fragmentation(table: &TableReader<'_>, errors: &mut Errors) -> Fragmentation {
    let mut config = Fragmentation::default();
    if let Some(f) = table.field("enabled") {
        errors.check(|| {
            config.enabled = f.boolean()?;
            Ok(())
        });
    }
    // Below 576 (IPv4) or 1280 (IPv6) a path is broken, and tern will not send
    // fragments that small; 65535 is the largest UDP datagram.
    if let Some(f) = table.field("size_ipv4") {
        errors.check(|| {
            config.size_v4 = f.integer_in(576, 65535)? as u16;
            Ok(())
        });
    }
    if let Some(f) = table.field("size_ipv6") {
        errors.check(|| {
            config.size_v6 = f.integer_in(1280, 65535)? as u16;
            Ok(())
        });
    }
    config
}

/// An array of IP address literals.
pub(crate) fn ip_list(field: &crate::reader::Field<'_>) -> Result<Vec<IpAddr>, ConfigError> {
    field
        .string_array()?
        .iter()
        .map(|s| {
            s.value.parse::<IpAddr>().map_err(|_| {
                field.error_at(
                    s.span.clone(),
                    format!(
                        "`{}` is not an IPv4 or IPv6 address (host names are not supported)",
                        s.value
                    ),
                )
            })
        })
        .collect()
}

/// The TOML parser's multi-line message ("invalid string\nexpected ...") on one line.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
