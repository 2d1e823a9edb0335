//! `[radius]`: the RADIUS servers a connection with `remote_auth = "eap-radius"`
//! relays EAP to, tried in turn, each with its shared secret inline (`secret`)
//! or in a file only its owner may read (`secret_file`, as `psk_file` is).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tern_crypto::Secret;

use crate::error::{ConfigError, Errors};
use crate::psk::{read_secret_file, resolve, SecretFileError};
use crate::reader::{Field, TableReader};
use crate::schema::Context;

pub(crate) const RADIUS_KEYS: &[&str] = &[
    "servers",
    "timeout_secs",
    "tries",
    "nas_identifier",
    "accounting",
    "interim_interval",
];
pub(crate) const SERVER_KEYS: &[&str] = &[
    "address",
    "port",
    "accounting_port",
    "secret",
    "secret_file",
];

/// The RADIUS authentication port (RFC 2865 §3).
pub const DEFAULT_RADIUS_PORT: u16 = 1812;
/// The RADIUS accounting port (RFC 2866 §3).
pub const DEFAULT_ACCOUNTING_PORT: u16 = 1813;
/// How long one try waits for an answer, and how many tries a server gets.
pub const DEFAULT_RADIUS_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_RADIUS_TRIES: u32 = 3;
/// The shortest Interim-Update interval: RFC 2869 §2.1 says it should not
/// be less than 600 s and must not be less than 60 s.
pub const MIN_INTERIM_INTERVAL: Duration = Duration::from_secs(60);

/// `[radius]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusConfig {
    /// In the order tried.
    pub servers: Vec<RadiusServer>,
    pub timeout: Duration,
    pub tries: u32,
    /// NAS-Identifier in our requests; default `tern`.
    pub nas_identifier: String,
    /// Whether EAP-RADIUS sessions are accounted (RFC 2866 Start and Stop to
    /// each server's `accounting_port`); off unless asked, as in strongSwan.
    pub accounting: bool,
    /// How often an Interim-Update goes when the server's Access-Accept has no
    /// Acct-Interim-Interval (strongSwan's `eap-radius.accounting_interval`);
    /// `None` (0, the default): no Interim-Update unless the server asks.
    pub interim_interval: Option<Duration>,
}

/// `[radius.servers.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusServer {
    pub name: String,
    pub address: SocketAddr,
    /// Where accounting goes: the address's host, `accounting_port`.
    pub accounting_address: SocketAddr,
    /// Never logged; `Debug` shows its length only.
    pub secret: Secret,
}

pub(crate) fn radius(
    ctx: &Context<'_>,
    table: &TableReader<'_>,
    errors: &mut Errors,
) -> Option<RadiusConfig> {
    let before = errors.len();
    let timeout = match table.field("timeout_secs") {
        Some(f) => errors
            .keep(f.integer_in(1, 60))
            .map(|s| Duration::from_secs(s as u64)),
        None => Some(DEFAULT_RADIUS_TIMEOUT),
    };
    let tries = match table.field("tries") {
        Some(f) => errors.keep(f.integer_in(1, 10)).map(|n| n as u32),
        None => Some(DEFAULT_RADIUS_TRIES),
    };
    let nas_identifier = match table.field("nas_identifier") {
        Some(f) => errors.keep(f.string().and_then(|s| {
            if s.value.is_empty() || s.value.len() > 253 {
                Err(f.error("`radius.nas_identifier` must be 1 to 253 octets"))
            } else {
                Ok(s.value.to_string())
            }
        })),
        None => Some("tern".to_string()),
    };
    let accounting = match table.field("accounting") {
        Some(f) => errors.keep(f.boolean()),
        None => Some(false),
    };
    let interim_interval = match table.field("interim_interval") {
        Some(f) => errors.keep(f.integer_in(0, i64::from(u32::MAX)).and_then(|secs| {
            let every = Duration::from_secs(secs as u64);
            match secs {
                0 => Ok(None),
                _ if every < MIN_INTERIM_INTERVAL => Err(f.error(format!(
                    "`radius.interim_interval` is 0 (no Interim-Update) or at least {} seconds (RFC 2869 §2.1)",
                    MIN_INTERIM_INTERVAL.as_secs()
                ))),
                _ => Ok(Some(every)),
            }
        })),
        None => Some(None),
    };
    let mut servers = Vec::new();
    match table.field("servers") {
        Some(f) => {
            if let Some(named) = errors.keep(f.named_tables()) {
                for (name, field) in named.entries() {
                    let Some(server) = field.table_checked(SERVER_KEYS, errors) else {
                        continue;
                    };
                    if let Some(s) = errors.keep(radius_server(ctx, name.value, &server)) {
                        servers.push(s);
                    }
                }
                if named.entries().is_empty() {
                    errors.push(f.error("[radius] needs at least one server: add [radius.servers.NAME] with address and secret"));
                }
            }
        }
        None => errors.push(table.error(
            "[radius] needs at least one server: add [radius.servers.NAME] with address and secret",
        )),
    }
    if errors.len() != before {
        return None;
    }
    Some(RadiusConfig {
        servers,
        timeout: timeout?,
        tries: tries?,
        nas_identifier: nas_identifier?,
        accounting: accounting?,
        interim_interval: interim_interval?,
    })
}

fn radius_server(
    ctx: &Context<'_>,
    name: &str,
    table: &TableReader<'_>,
) -> Result<RadiusServer, ConfigError> {
    let address = table.required("address")?;
    let text = address.string()?;
    let ip: IpAddr = text.value.parse().map_err(|_| {
        address.error(format!(
            "`{}` is not an IPv4 or IPv6 address (host names are not supported)",
            text.value
        ))
    })?;
    let port = match table.field("port") {
        Some(f) => f.port()?,
        None => DEFAULT_RADIUS_PORT,
    };
    let accounting_port = match table.field("accounting_port") {
        Some(f) => f.port()?,
        None => DEFAULT_ACCOUNTING_PORT,
    };
    let secret = match (table.field("secret"), table.field("secret_file")) {
        (Some(_), Some(file)) => {
            return Err(file.error(format!("set either `secret` or `secret_file` in {}, not both", table_name(table))))
        }
        (None, None) => {
            return Err(table.error(format!(
                "missing key `secret` (or `secret_file`) in {}: a RADIUS server needs the secret it shares with us",
                table_name(table)
            )))
        }
        (Some(f), None) => {
            let s = f.string()?;
            if s.value.is_empty() {
                return Err(f.error("the RADIUS secret is empty"));
            }
            Secret::from_slice(s.value.as_bytes())
        }
        (None, Some(f)) => secret_file(ctx, &f)?,
    };
    Ok(RadiusServer {
        name: name.to_string(),
        address: SocketAddr::new(ip, port),
        accounting_address: SocketAddr::new(ip, accounting_port),
        secret,
    })
}

/// Reads `secret_file`: the secret, surrounding white space left out.
fn secret_file(ctx: &Context<'_>, field: &Field<'_>) -> Result<Secret, ConfigError> {
    let text = field.string()?;
    let path = resolve(text.value, ctx.base_dir);
    let shown = path.display().to_string();
    let bytes = read_secret_file(&path).map_err(|e| match e {
        SecretFileError::Unreadable(io) => {
            field.error(format!("cannot read secret_file {shown}: {io}"))
        }
        SecretFileError::OpenToOthers { mode } => {
            field.error(SecretFileError::open_to_others("secret_file", &shown, mode))
        }
        SecretFileError::Invalid(m) => field.error(format!("secret_file {shown}: {m}")),
    })?;
    let bytes = Secret::new(bytes);
    let trimmed = std::str::from_utf8(bytes.expose())
        .map_err(|_| field.error(format!("secret_file {shown} is not UTF-8 text")))?
        .trim();
    if trimmed.is_empty() {
        return Err(field.error(format!("secret_file {shown} is empty")));
    }
    Ok(Secret::from_slice(trimmed.as_bytes()))
}

fn table_name(table: &TableReader<'_>) -> String {
    format!("[{}]", table.path())
}
