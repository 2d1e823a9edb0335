//! `[connections.NAME]` and `[connections.NAME.children.CHILD]` sections.

use std::sync::Arc;
use std::time::Duration;

use tern_engine::config::{
    AuthConfig, ChildConfig, CloseAction, Connection, DpdAction, Lifetime, Mode, PoolConfig,
    RemoteAuth, StartAction,
};

use crate::duration::{duration, format as format_duration};
use crate::eap::EapSources;

use crate::error::{ConfigError, Errors, Source};
use crate::identity::identity;
use crate::proposal::{esp_proposal, ike_proposal};
use crate::psk::{psk_bytes, read_psk_file, resolve, SecretFileError};
use crate::pubkey::{check_local_id_in_cert, pubkey_auth};
use crate::reader::{Field, Located, TableReader};
use crate::schema::{ip_list, Context};
use crate::suggest::nearest;
use crate::traffic;
use crate::ts::ts;

pub(crate) const CONNECTION_KEYS: &[&str] = &[
    "local_addrs",
    "remote_addrs",
    "remote_port",
    "local_id",
    "remote_id",
    "auth",
    "remote_auth",
    "psk",
    "psk_file",
    "cert",
    "key",
    "cacerts",
    "crls",
    "proposals",
    "start_action",
    "rekey_time",
    "life_time",
    "rand_time",
    "reauth_time",
    "keyingtries",
    "rekey_adapt",
    "mobike",
    "dpd_delay",
    "dpd_timeout",
    "pools",
    "children",
];

pub(crate) const CHILD_KEYS: &[&str] = &[
    "local_ts",
    "remote_ts",
    "esp_proposals",
    "mode",
    "start_action",
    "rekey_time",
    "life_time",
    "rand_time",
    "rekey_bytes",
    "life_bytes",
    "rand_bytes",
    "rekey_packets",
    "life_packets",
    "rand_packets",
    "dpd_action",
    "close_action",
];

/// Offered when a connection lists no `proposals`.
pub const DEFAULT_IKE_PROPOSALS: &[&str] = &[
    "aes128gcm16-prfsha256-x25519",
    "aes256gcm16-prfsha384-x25519",
];

/// Offered when a child lists no `esp_proposals`.
pub const DEFAULT_ESP_PROPOSALS: &[&str] = &["aes128gcm16", "aes256gcm16"];

pub(crate) fn connections(
    ctx: &Context<'_>,
    table: &TableReader<'_>,
    pools: &[PoolConfig],
    eap: &EapSources,
    errors: &mut Errors,
) -> Vec<Connection> {
    table
        .entries()
        .into_iter()
        .filter_map(|(name, field)| {
            let named = errors.keep(check_name(&ctx.src, &name, "connection"));
            let table = field.table_checked(CONNECTION_KEYS, errors)?;
            let connection = connection(ctx, name.value, &table, pools, eap, errors);
            named.and(connection)
        })
        .collect()
}

/// The connection, or `None` with its errors kept: every key is checked on its own;
/// checks that join several keys run when those keys are sound.
fn connection(
    ctx: &Context<'_>,
    name: &str,
    table: &TableReader<'_>,
    pools: &[PoolConfig],
    eap: &EapSources,
    errors: &mut Errors,
) -> Option<Connection> {
    let src = &ctx.src;
    let before = errors.len();
    let local_addrs = errors
        .keep(optional(table, "local_addrs", ip_list))
        .flatten()
        .unwrap_or_default();
    let remote_addrs = errors.keep(optional(table, "remote_addrs", ip_list));
    let remote_port = errors
        .keep(optional(table, "remote_port", |f| f.port()))
        .flatten()
        .unwrap_or(500);
    let local_id_field = errors.keep(table.required("local_id"));
    let local_id = local_id_field
        .as_ref()
        .and_then(|f| errors.keep(f.string().and_then(|id| id.parse_with(src, identity))));
    let remote_id = match table.field("remote_id") {
        Some(f) => errors.keep(f.string().and_then(|id| match id.value {
            "%any" => Ok(None),
            _ => id.parse_with(src, identity).map(Some),
        })),
        None => Some(None),
    };
    let auth = errors.keep(auth(ctx, table));
    let remote_auth = errors.keep(remote_auth(table, eap));
    if let (Some(AuthConfig::Pubkey(pubkey)), Some(field), Some(id)) =
        (&auth, &local_id_field, &local_id)
    {
        for credential in &pubkey.credentials {
            errors.keep(check_local_id_in_cert(field, id, &credential.certs[0]));
        }
    }
    let ike_proposals = errors.keep(proposals(
        table,
        "proposals",
        DEFAULT_IKE_PROPOSALS,
        ike_proposal,
    ));
    let start_action = errors.keep(optional(table, "start_action", start_action));
    let dpd_delay = errors
        .keep(optional(table, "dpd_delay", duration))
        .flatten()
        .unwrap_or(Duration::ZERO);
    let reauth_time = errors
        .keep(optional(table, "reauth_time", duration))
        .flatten()
        .unwrap_or(Duration::ZERO);
    let keyingtries = match table.field("keyingtries") {
        // 0 means "until the peer answers"; beyond that, any bound is a choice.
        Some(f) => errors.keep(f.integer_in(0, 10_000)).unwrap_or(0) as u32,
        None => 0,
    };
    let rekey_adapt = errors
        .keep(optional(table, "rekey_adapt", |f| f.boolean()))
        .flatten()
        .unwrap_or(true);
    // Off unless asked for, for now: with MOBIKE agreed, strongSwan's
    // reauthentication lost pings in interop (docs/CONFIGURATION.md, `mobike`).
    let mobike = errors
        .keep(optional(table, "mobike", |f| f.boolean()))
        .flatten()
        .unwrap_or(false);
    // IKEv2 judges a peer dead by the retransmission schedule, as strongSwan does;
    // dpd_timeout is read (and checked) so swanctl-style files load unchanged.
    errors.keep(optional(table, "dpd_timeout", duration));
    let pools = errors
        .keep(optional(table, "pools", |f| {
            crate::pool::connection_pools(src, f, pools)
        }))
        .flatten()
        .unwrap_or_default();
    let children = match table
        .field("children")
        .and_then(|f| errors.keep(f.named_tables()))
    {
        Some(f) => children(src, &f, errors),
        None => Vec::new(),
    };

    // Starting a connection (or trapping it) means initiating, which needs
    // somewhere to send to.
    let start_action = start_action.map(Option::unwrap_or_default);
    let remote_addrs = remote_addrs.map(Option::unwrap_or_default);
    if let (Some(start_action), Some(remote_addrs)) = (start_action, &remote_addrs) {
        check_initiator_has_a_peer(name, table, start_action, remote_addrs, &children, errors);
    }
    let lifetime = errors.keep(lifetime(table, Lifetime::ike_default()));
    if errors.len() > before {
        return None;
    }

    Some(Connection {
        name: name.to_string(),
        local_addrs,
        remote_addrs: remote_addrs?,
        remote_port,
        local_id: local_id?,
        remote_id: remote_id?,
        auth: auth?,
        remote_auth: remote_auth?,
        ike_proposals: ike_proposals?,
        children,
        start_action: start_action?,
        lifetime: lifetime?,
        dpd_delay,
        reauth_time,
        keyingtries,
        rekey_adapt,
        mobike,
        pools,
    })
}

/// Starting a connection (or trapping it) means initiating, which needs somewhere to
/// send to.
fn check_initiator_has_a_peer(
    name: &str,
    table: &TableReader<'_>,
    start_action: StartAction,
    remote_addrs: &[std::net::IpAddr],
    children: &[ChildConfig],
    errors: &mut Errors,
) {
    if remote_addrs.is_empty() {
        let starts_itself =
            (start_action != StartAction::None).then(|| table.field("start_action"));
        let initiating_child = children.iter().find_map(|c| {
            let key = if c.start_action != StartAction::None {
                "start_action"
            } else if c.dpd_action != DpdAction::Clear {
                "dpd_action"
            } else if c.close_action != CloseAction::None {
                "close_action"
            } else {
                return None;
            };
            Some(child_field(table, &c.name, key))
        });
        if let Some(Some(f)) = starts_itself.or(initiating_child) {
            if let Some(value) = errors.keep(f.string()) {
                let setting = format!("{} = {}", f.key(), value.value);
                errors.push(f.error(format!(
                    "`{setting}` needs `remote_addrs` in [connections.{name}]: \
                     without a peer address tern can only respond"
                )));
            }
        }
    }
}

/// The value of `key` in child `child` of a connection table (for error positions).
fn child_field<'a>(table: &TableReader<'a>, child: &str, key: &str) -> Option<Field<'a>> {
    let children = table.field("children")?.named_tables().ok()?;
    children.field(child)?.table(CHILD_KEYS).ok()?.field(key)
}

fn auth(ctx: &Context<'_>, table: &TableReader<'_>) -> Result<AuthConfig, ConfigError> {
    let method = table.required("auth")?.string()?;
    match method.value {
        "psk" => {}
        "pubkey" => return pubkey_auth(ctx, table),
        other => {
            return Err(method.error(
                &ctx.src,
                format!("unsupported auth method `{other}`; tern supports: psk, pubkey"),
            ))
        }
    }
    if let Some(f) = ["cert", "key", "cacerts", "crls"]
        .iter()
        .find_map(|k| table.field(k))
    {
        return Err(f.error(format!(
            "`{}` has no use with auth = \"psk\"; remove it or set auth = \"pubkey\"",
            f.key()
        )));
    }
    match (table.field("psk"), table.field("psk_file")) {
        (Some(_), Some(file)) => Err(ctx.src.error(
            file.key_span(),
            format!(
                "set either `psk` or `psk_file` in {}, not both",
                table_name(table)
            ),
        )),
        (None, None) => Err(table.error(format!(
            "missing key `psk` (or `psk_file`) in {}: auth = \"psk\" needs the key",
            table_name(table)
        ))),
        (Some(inline), None) => {
            let text = inline.string()?;
            let bytes = psk_bytes(text.value).map_err(|m| text.error(&ctx.src, m))?;
            Ok(AuthConfig::Psk(bytes))
        }
        (None, Some(file)) => {
            let text = file.string()?;
            let path = resolve(text.value, ctx.base_dir);
            let shown = path.display();
            let bytes = read_psk_file(&path).map_err(|e| match e {
                SecretFileError::Unreadable(io) => {
                    text.error(&ctx.src, format!("cannot read psk_file {shown}: {io}"))
                }
                SecretFileError::OpenToOthers { mode } => text.error(
                    &ctx.src,
                    SecretFileError::open_to_others("psk_file", &shown.to_string(), mode),
                ),
                SecretFileError::Invalid(m) => {
                    text.error(&ctx.src, format!("psk_file {shown}: {m}"))
                }
            })?;
            Ok(AuthConfig::Psk(bytes))
        }
    }
}

/// `remote_auth`: how the peer authenticates when not as `auth` says.
fn remote_auth(table: &TableReader<'_>, eap: &EapSources) -> Result<RemoteAuth, ConfigError> {
    let eap_users = &eap.users;
    let Some(field) = table.field("remote_auth") else {
        return Ok(RemoteAuth::AsAuth);
    };
    let method = field.string()?;
    match method.value {
        "eap-mschapv2" if eap_users.is_empty() => Err(field.error(
            "remote_auth = \"eap-mschapv2\" needs EAP users: add them under [eap.users] or in [eap] users_file",
        )),
        "eap-mschapv2" => Ok(RemoteAuth::EapMschapv2(Arc::clone(eap_users))),
        "eap-radius" if !eap.radius => Err(field.error(
            "remote_auth = \"eap-radius\" needs RADIUS servers: add [radius.servers.NAME] with address and secret",
        )),
        "eap-radius" => Ok(RemoteAuth::EapRadius),
        other => Err(field.error(format!(
            "unsupported remote_auth method `{other}`; tern supports: eap-mschapv2, eap-radius \
             (leave remote_auth out for the peer to authenticate as `auth` says)"
        ))),
    }
}

fn table_name(table: &TableReader<'_>) -> String {
    format!("[{}]", table.path())
}

fn children(src: &Source<'_>, table: &TableReader<'_>, errors: &mut Errors) -> Vec<ChildConfig> {
    // TOML itself rejects a child defined twice, so names are unique here.
    table
        .entries()
        .into_iter()
        .filter_map(|(name, field)| {
            let named = errors.keep(check_name(src, &name, "child"));
            let table = field.table_checked(CHILD_KEYS, errors)?;
            let child = child(src, name.value, &table, errors);
            named.and(child)
        })
        .collect()
}

/// The child, or `None` with its errors kept: every key is checked on its own.
fn child(
    src: &Source<'_>,
    name: &str,
    table: &TableReader<'_>,
    errors: &mut Errors,
) -> Option<ChildConfig> {
    let selectors = |key: &str| -> Result<Vec<_>, ConfigError> {
        let field = table.required(key)?;
        let list = field.string_array()?;
        if list.is_empty() {
            return Err(field.error(format!("`{key}` needs at least one traffic selector")));
        }
        list.iter().map(|s| s.parse_with(src, ts)).collect()
    };
    let local_ts = errors.keep(selectors("local_ts"));
    let remote_ts = errors.keep(selectors("remote_ts"));
    let esp_proposals = errors.keep(proposals(
        table,
        "esp_proposals",
        DEFAULT_ESP_PROPOSALS,
        esp_proposal,
    ));
    let mode = errors.keep(optional(table, "mode", mode));
    let start_action = errors.keep(optional(table, "start_action", start_action));
    let lifetime = errors.keep(lifetime(table, Lifetime::default()));
    let traffic = errors.keep(traffic::traffic(table));
    let dpd_action = errors.keep(optional(table, "dpd_action", dpd_action));
    let close_action = errors.keep(optional(table, "close_action", close_action));
    Some(ChildConfig {
        name: name.to_string(),
        local_ts: local_ts?,
        remote_ts: remote_ts?,
        esp_proposals: esp_proposals?,
        mode: mode?.unwrap_or_default(),
        start_action: start_action?.unwrap_or_default(),
        lifetime: lifetime?,
        traffic: traffic?,
        dpd_action: dpd_action?.unwrap_or_default(),
        close_action: close_action?.unwrap_or_default(),
    })
}

/// `rekey_time`, `life_time` and `rand_time` of an IKE or CHILD SA, with strongSwan's
/// defaults (`default` gives rekey_time when absent): life_time
/// is rekey_time + 10 %, rand_time the difference. A rekey_time of 0 turns
/// rekeying off.
fn lifetime(table: &TableReader<'_>, default: Lifetime) -> Result<Lifetime, ConfigError> {
    let rekey_time = optional(table, "rekey_time", duration)?;
    let base = Lifetime::from_rekey_time(rekey_time.unwrap_or(default.rekey_time));
    let life_time = optional(table, "life_time", duration)?.unwrap_or(base.life_time);
    let rand_time = optional(table, "rand_time", duration)?
        .unwrap_or_else(|| life_time.saturating_sub(base.rekey_time));
    let lifetime = Lifetime {
        rekey_time: base.rekey_time,
        life_time,
        rand_time,
    };
    if !lifetime.rekey_time.is_zero() && lifetime.life_time <= lifetime.rekey_time {
        let field = table
            .field("life_time")
            .or_else(|| table.field("rekey_time"));
        let message = format!(
            "life_time ({}) must be longer than rekey_time ({}), or the SA ends before it is rekeyed",
            format_duration(lifetime.life_time),
            format_duration(lifetime.rekey_time)
        );
        return Err(field.map_or_else(
            || table.error(message.clone()),
            |f| f.error(message.clone()),
        ));
    }
    if !lifetime.rekey_time.is_zero() && lifetime.rand_time >= lifetime.rekey_time {
        let message = format!(
            "rand_time ({}) must be shorter than rekey_time ({})",
            format_duration(lifetime.rand_time),
            format_duration(lifetime.rekey_time)
        );
        return Err(table.field("rand_time").map_or_else(
            || table.error(message.clone()),
            |f| f.error(message.clone()),
        ));
    }
    Ok(lifetime)
}

/// A list of proposal strings, or the defaults when the key is absent.
fn proposals<P>(
    table: &TableReader<'_>,
    key: &str,
    defaults: &[&str],
    parse: fn(&str) -> Result<P, crate::error::ValueError>,
) -> Result<Vec<P>, ConfigError> {
    let Some(field) = table.field(key) else {
        // The defaults are constants covered by tests; a failure here is a tern bug.
        return defaults
            .iter()
            .map(|p| {
                parse(p).map_err(|e| table.error(format!("built-in default {p}: {}", e.message)))
            })
            .collect();
    };
    let list = field.string_array()?;
    if list.is_empty() {
        return Err(field.error(format!("`{key}` needs at least one proposal")));
    }
    list.iter()
        .map(|p| p.parse_with(field.src(), parse))
        .collect()
}

fn start_action(field: &Field<'_>) -> Result<StartAction, ConfigError> {
    choice(
        field,
        &[
            ("none", StartAction::None),
            ("start", StartAction::Start),
            ("trap", StartAction::Trap),
        ],
    )
}

fn dpd_action(field: &Field<'_>) -> Result<DpdAction, ConfigError> {
    choice(
        field,
        &[
            ("clear", DpdAction::Clear),
            ("restart", DpdAction::Restart),
            ("trap", DpdAction::Trap),
        ],
    )
}

fn close_action(field: &Field<'_>) -> Result<CloseAction, ConfigError> {
    choice(
        field,
        &[
            ("none", CloseAction::None),
            ("start", CloseAction::Start),
            ("trap", CloseAction::Trap),
        ],
    )
}

fn mode(field: &Field<'_>) -> Result<Mode, ConfigError> {
    choice(
        field,
        &[("tunnel", Mode::Tunnel), ("transport", Mode::Transport)],
    )
}

/// One of a fixed set of words.
fn choice<T: Copy>(field: &Field<'_>, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    let word = field.string()?;
    if let Some(&(_, value)) = choices.iter().find(|(w, _)| *w == word.value) {
        return Ok(value);
    }
    let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
    let hint =
        nearest(word.value, &words).map_or(String::new(), |w| format!("; did you mean `{w}`?"));
    Err(field.error(format!(
        "`{}` must be one of {}, not `{}`{hint}",
        field.key(),
        words.join(", "),
        word.value
    )))
}

/// `read(field)` if `key` is present.
fn optional<'a, T>(
    table: &TableReader<'a>,
    key: &str,
    read: impl FnOnce(&Field<'a>) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    table.field(key).map(|f| read(&f)).transpose()
}

/// Connection and child names appear on ternctl's command line and in logs.
pub(crate) fn check_name(
    src: &Source<'_>,
    name: &Located<&str>,
    what: &str,
) -> Result<(), ConfigError> {
    let ok = !name.value.is_empty()
        && name.value.len() <= 64
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(name.error(
            src,
            format!(
                "{what} name `{}` must be 1 to 64 characters of A-Z, a-z, 0-9, `-`, `_` and `.`",
                name.value
            ),
        ))
    }
}
