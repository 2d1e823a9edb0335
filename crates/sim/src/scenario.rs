//! A scenario file: how long to run, the two sides' configurations, the network
//! between them and what happens on the way.
//!
//! ```toml
//! duration = "7d"
//! seed = 1
//!
//! [local]
//! config = "moon.toml"          # a tern configuration file, relative to this one
//! [peer]
//! config_text = """             # ... or one written inline
//! [connections.demo]
//! ...
//! """
//! behaves = ["rekey-delete-collision"]   # play another implementation (see `emulation`)
//! # or, for a strongSwan peer, its own file (ternctl simulate imports it):
//! # swanctl = "peer-swanctl.conf"   # behaves defaults to strongSwan's ways
//!
//! [network]
//! loss = 0.05                   # fraction of datagrams lost, each way
//! delay = "40ms"                # one way
//! jitter = "10ms"               # up to this much more, at random (reorders)
//! nat_timeout = "30s"           # a NAT in front of local forgets idle mappings
//!
//! [[events]]
//! at = "2h"
//! action = "restart"            # restart | initiate | terminate | rekey | network
//! side = "peer"
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tern_engine::config::EngineConfig;

/// A parsed, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub duration: Duration,
    pub seed: u64,
    pub local: EngineConfig,
    pub peer: EngineConfig,
    pub network: NetworkSettings,
    /// In time order.
    pub events: Vec<ScheduledEvent>,
}

/// What the network does to each datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetworkSettings {
    /// Probability that a datagram is lost, each way, independently.
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Up to this much more delay, drawn per datagram; datagrams may overtake.
    pub jitter: Duration,
    /// A NAT in front of the local side that drops the peer's datagrams once local
    /// has sent nothing for this long (the simulation carries IKE only, no ESP data).
    pub nat_timeout: Option<Duration>,
}

/// Which of the two simulated hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Local,
    Peer,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Local => "local",
            Side::Peer => "peer",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledEvent {
    pub at: Duration,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The host loses all state (daemon and kernel) and starts again.
    Restart(Side),
    Initiate(Side, String),
    Terminate(Side, String),
    Rekey(Side, String),
    /// The network changes, e.g. `loss = 1.0` for a link that went dead.
    Network(NetworkSettings),
}

/// Turns another daemon's configuration file into tern's TOML: ternctl passes
/// its importer, so a side may be given as `swanctl = "FILE"`.
pub type Importer<'a> = &'a dyn Fn(&Path) -> Result<String, String>;

/// How strongSwan differs from tern where the simulation can play it: the
/// behaviours a side given as a swanctl.conf gets unless `behaves` says otherwise.
const STRONGSWAN_BEHAVES: &[&str] = &["rekey-delete-collision", "life-rounded-down"];

/// Reads a scenario file; configurations named in it are read relative to it.
pub fn load(path: &Path) -> Result<Scenario, String> {
    load_with(path, None)
}

/// As [`load`], with an importer for sides given as another daemon's file.
pub fn load_with(path: &Path, import: Option<Importer>) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the scenario: {e}", path.display()))?;
    parse_with(&text, &path.display().to_string(), path.parent(), import)
}

/// Parses scenario text; `origin` names it in errors and `base_dir` resolves `config`.
pub fn parse(text: &str, origin: &str, base_dir: Option<&Path>) -> Result<Scenario, String> {
    parse_with(text, origin, base_dir, None)
}

/// As [`parse`], with an importer for sides given as another daemon's file.
pub fn parse_with(
    text: &str,
    origin: &str,
    base_dir: Option<&Path>,
    import: Option<Importer>,
) -> Result<Scenario, String> {
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let (line, column) = line_column(text, s.start);
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        format!("{origin}{at}: {}", e.message())
    })?;
    let err = |what: &str| format!("{origin}: {what}");
    let duration = parse_duration(&file.duration)
        .ok_or_else(|| err(&format!("duration: `{}` is not a duration", file.duration)))?;
    if duration.is_zero() {
        return Err(err("duration must be more than 0"));
    }
    let local = side_config(&file.local, "local", text, origin, base_dir, import)?;
    let peer = side_config(&file.peer, "peer", text, origin, base_dir, import)?;
    let network = network(&file.network, &NetworkSettings::default())
        .map_err(|e| err(&format!("[network]: {e}")))?;
    let mut events = Vec::new();
    for (i, e) in file.events.iter().enumerate() {
        let event = scheduled_event(e, &network)
            .map_err(|why| err(&format!("[[events]] #{}: {why}", i + 1)))?;
        if event.at > duration {
            return Err(err(&format!(
                "[[events]] #{}: at {} is after the end of the scenario",
                i + 1,
                e.at
            )));
        }
        events.push(event);
    }
    // Stable: events at the same time happen in file order.
    events.sort_by_key(|e| e.at);
    Ok(Scenario {
        duration,
        seed: file.seed,
        local,
        peer,
        network,
        events,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    duration: String,
    #[serde(default = "default_seed")]
    seed: u64,
    local: SideFile,
    peer: SideFile,
    #[serde(default)]
    network: NetworkFile,
    #[serde(default)]
    events: Vec<EventFile>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SideFile {
    config: Option<String>,
    config_text: Option<toml::Spanned<String>>,
    /// strongSwan's swanctl.conf for this side, imported as `ternctl import
    /// swanctl` would.
    swanctl: Option<String>,
    /// How this side differs from tern, to play another implementation (see
    /// `emulation`). For a swanctl side, strongSwan's ways when not given.
    behaves: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    loss: Option<f64>,
    delay: Option<String>,
    jitter: Option<String>,
    nat_timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    at: String,
    action: String,
    side: Option<String>,
    connection: Option<String>,
    loss: Option<f64>,
    delay: Option<String>,
    jitter: Option<String>,
    nat_timeout: Option<String>,
}

fn side_config(
    side: &SideFile,
    name: &str,
    scenario_text: &str,
    origin: &str,
    base_dir: Option<&Path>,
    import: Option<Importer>,
) -> Result<EngineConfig, String> {
    let mut config = side_engine_config(side, name, scenario_text, origin, base_dir, import)?;
    let behaves: Vec<String> = match (&side.behaves, &side.swanctl) {
        (Some(given), _) => given.clone(),
        (None, Some(_)) => STRONGSWAN_BEHAVES.iter().map(|b| b.to_string()).collect(),
        (None, None) => Vec::new(),
    };
    for behaviour in &behaves {
        emulation(&mut config, behaviour)
            .map_err(|e| format!("{origin}: [{name}] behaves: {e}"))?;
    }
    Ok(config)
}

/// Turns on one behaviour of another implementation, by its name in scenario files.
fn emulation(config: &mut EngineConfig, name: &str) -> Result<(), String> {
    match name {
        "rekey-delete-collision" => config.emulate.rekey_delete_collision = true,
        "no-recreate-after-expiry" => config.emulate.no_recreate_after_expiry = true,
        "life-rounded-down" => round_default_lives_down(config),
        "refuse-rekey-while-rekeying" => config.emulate.refuse_rekey_while_rekeying = true,
        "ask-other-ke-group" => config.emulate.ask_other_ke_group = true,
        "refuse-rekeys-ts-unacceptable" => {
            config.emulate.refuse_peer_rekeys_with = Some(tern_wire::NotifyType::TS_UNACCEPTABLE)
        }
        other => {
            return Err(format!(
                "`{other}` is not a behaviour; known: rekey-delete-collision \
                 (strongSwan's rule for a DELETE that meets its rekey), \
                 no-recreate-after-expiry (an SA that hard-expires is not made again), \
                 life-rounded-down (a default CHILD life_time of rekey_time + 10 % in \
                 whole seconds, as strongSwan computes it), refuse-rekey-while-rekeying \
                 (a rekey of a CHILD SA this side is rekeying too is answered \
                 TEMPORARY_FAILURE), refuse-rekeys-ts-unacceptable (every CHILD SA \
                 rekey the other side asks for is answered TS_UNACCEPTABLE, as a Cisco \
                 ASA does after narrowing), ask-other-ke-group (IKE_SA_INIT's KE payload \
                 with the group this side would choose is answered INVALID_KE_PAYLOAD \
                 naming another of its groups)"
            ))
        }
    }
    Ok(())
}

/// strongSwan's default CHILD life_time is 110 % of rekey_time in whole seconds:
/// below 10 s, that is rekey_time itself, and the SA expires instead of rekeying.
fn round_default_lives_down(config: &mut EngineConfig) {
    for child in config
        .connections
        .iter_mut()
        .flat_map(|c| c.children.iter_mut())
    {
        let l = &mut child.lifetime;
        if l.life_time == l.rekey_time + l.rekey_time / 10 {
            l.life_time = Duration::from_secs(l.life_time.as_secs());
            l.rand_time = l.rand_time.min(l.life_time - l.rekey_time.min(l.life_time));
        }
    }
}

fn side_engine_config(
    side: &SideFile,
    name: &str,
    scenario_text: &str,
    origin: &str,
    base_dir: Option<&Path>,
    import: Option<Importer>,
) -> Result<EngineConfig, String> {
    let resolve = |path: &str| match base_dir {
        Some(dir) => dir.join(path),
        None => path.into(),
    };
    match (&side.config, &side.config_text, &side.swanctl) {
        (None, None, Some(path)) => {
            let path = resolve(path);
            let import = import.ok_or_else(|| {
                format!("{origin}: [{name}] swanctl: only `ternctl simulate` imports swanctl.conf")
            })?;
            let toml = import(&path).map_err(|e| format!("[{name}] swanctl: {e}"))?;
            let imported = format!("{} (imported)", path.display());
            tern_config::parse_str(&toml, &imported)
                .map(|c| c.engine)
                .map_err(|e| format!("[{name}] swanctl: {e}"))
        }
        (Some(path), None, None) => {
            tern_config::load_file(&resolve(path))
                .map(|c| c.engine)
                .map_err(|e| format!("[{name}] config: {e}"))
        }
        (None, Some(text), None) => {
            tern_config::parse_str(text.get_ref(), origin)
                .map(|c| c.engine)
                .map_err(|mut e| {
                    // Errors point into the scenario file, not into the string.
                    if e.line > 0 {
                        let (line, _) = line_column(scenario_text, text.span().start);
                        // A multi-line string starts on the line after its opening quotes.
                        let opens_on_own_line = scenario_text[text.span().start..]
                            .starts_with("\"\"\"\n")
                            || scenario_text[text.span().start..].starts_with("'''\n");
                        e.line += line - usize::from(!opens_on_own_line);
                    }
                    format!("[{name}] config_text: {e}")
                })
        }
        _ => Err(format!(
            "{origin}: [{name}] needs exactly one of `config` (a file), `config_text` and `swanctl` (strongSwan's file)"
        )),
    }
}

fn network(n: &NetworkFile, base: &NetworkSettings) -> Result<NetworkSettings, String> {
    let loss = n.loss.unwrap_or(base.loss);
    if !(0.0..=1.0).contains(&loss) {
        return Err(format!("loss = {loss}: a fraction between 0 and 1"));
    }
    let duration = |value: &Option<String>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(text) => {
            parse_duration(text).ok_or_else(|| format!("{key}: `{text}` is not a duration"))
        }
    };
    let nat_timeout = match &n.nat_timeout {
        None => base.nat_timeout,
        Some(text) => Some(
            parse_duration(text)
                .ok_or_else(|| format!("nat_timeout: `{text}` is not a duration"))?,
        ),
    };
    Ok(NetworkSettings {
        loss,
        delay: duration(&n.delay, "delay", base.delay)?,
        jitter: duration(&n.jitter, "jitter", base.jitter)?,
        nat_timeout,
    })
}

fn scheduled_event(e: &EventFile, network_now: &NetworkSettings) -> Result<ScheduledEvent, String> {
    let at = parse_duration(&e.at).ok_or_else(|| format!("at: `{}` is not a duration", e.at))?;
    let side = || match e.side.as_deref() {
        Some("local") => Ok(Side::Local),
        Some("peer") => Ok(Side::Peer),
        Some(other) => Err(format!("side = \"{other}\": write \"local\" or \"peer\"")),
        None => Err(format!(
            "action \"{}\" needs side = \"local\" or \"peer\"",
            e.action
        )),
    };
    let connection = || {
        e.connection
            .clone()
            .ok_or_else(|| format!("action \"{}\" needs a connection", e.action))
    };
    let network_keys =
        e.loss.is_some() || e.delay.is_some() || e.jitter.is_some() || e.nat_timeout.is_some();
    if network_keys && e.action != "network" {
        return Err("loss, delay, jitter and nat_timeout belong to action \"network\"".into());
    }
    let action = match e.action.as_str() {
        "restart" => Action::Restart(side()?),
        "initiate" => Action::Initiate(side()?, connection()?),
        "terminate" => Action::Terminate(side()?, connection()?),
        "rekey" => Action::Rekey(side()?, connection()?),
        "network" => {
            let n = NetworkFile {
                loss: e.loss,
                delay: e.delay.clone(),
                jitter: e.jitter.clone(),
                nat_timeout: e.nat_timeout.clone(),
            };
            // Settings not named keep the scenario's [network] values.
            Action::Network(network(&n, network_now)?)
        }
        other => {
            return Err(format!(
                "action = \"{other}\": one of restart, initiate, terminate, rekey, network"
            ))
        }
    };
    Ok(ScheduledEvent { at, action })
}

/// tern's durations (`3600`, `45m`, `1h`, `7d`) plus milliseconds (`40ms`) and
/// fractions of a second (`0.25s`), which network delays need.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.trim().parse::<u64>().ok().map(Duration::from_millis);
    }
    if let Some(secs) = text.strip_suffix('s') {
        if secs.contains('.') {
            let secs: f64 = secs.trim().parse().ok()?;
            return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
        }
    }
    tern_config::parse_duration(text)
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("40ms"), Some(Duration::from_millis(40)));
        assert_eq!(parse_duration("0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1.0s"), None);
    }

    const TERN_SIDE: &str = "config_text = \"\"\"\n[connections.demo]\nlocal_addrs = [\"192.0.2.1\"]\nremote_addrs = [\"192.0.2.2\"]\nlocal_id = \"moon\"\nremote_id = \"sun\"\nauth = \"psk\"\npsk = \"a demo key\"\n[connections.demo.children.net]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n\"\"\"\n";

    fn with_swanctl_peer(behaves: &str) -> String {
        format!("duration = \"1h\"\n[local]\n{TERN_SIDE}[peer]\nswanctl = \"peer.conf\"\n{behaves}")
    }

    /// What ternctl's importer would make of the peer's swanctl.conf.
    fn imported(path: &Path) -> Result<String, String> {
        assert!(path.ends_with("peer.conf"), "{}", path.display());
        Ok("[connections.demo]\nlocal_addrs = [\"192.0.2.2\"]\nremote_addrs = [\"192.0.2.1\"]\nlocal_id = \"sun\"\nremote_id = \"moon\"\nauth = \"psk\"\npsk = \"a demo key\"\n[connections.demo.children.net]\nlocal_ts = [\"10.2.0.0/24\"]\nremote_ts = [\"10.1.0.0/24\"]\n".into())
    }

    #[test]
    fn a_swanctl_side_is_imported_and_plays_strongswan_unless_told_otherwise() {
        let text = with_swanctl_peer("");
        let s = parse_with(&text, "s.toml", None, Some(&imported)).unwrap();
        assert!(s.peer.emulate.rekey_delete_collision);
        assert!(!s.local.emulate.rekey_delete_collision);
        let text = with_swanctl_peer("behaves = []\n");
        let s = parse_with(&text, "s.toml", None, Some(&imported)).unwrap();
        assert!(!s.peer.emulate.rekey_delete_collision);
        // Without ternctl's importer, a clear refusal.
        let e = parse(&with_swanctl_peer(""), "s.toml", None).unwrap_err();
        assert!(e.contains("[peer] swanctl: only `ternctl simulate`"), "{e}");
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 0), (1, 1));
    }
}
