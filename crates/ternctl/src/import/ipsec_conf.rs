//! strongSwan's older ipsec.conf (and the PSKs of the ipsec.secrets beside it) into
//! tern's TOML: each loaded `conn` becomes a connection with one child of the same
//! name, after `also=` and `conn %default` are merged in as strongSwan's starter
//! does. Whatever has no tern equivalent is left out and reported with its line.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::swanctl::{identity, in_dir, list, psk_value};
use super::toml_out::Toml;
use super::Note;

/// One `key=value` line of a conn, with where it was written.
#[derive(Debug, Clone)]
struct Param {
    key: String,
    value: String,
    line: usize,
}

/// A `conn NAME` section as written.
#[derive(Debug, Clone)]
struct Conn {
    name: String,
    line: usize,
    params: Vec<Param>,
}

/// The file's conns, and notes on what lies outside them.
fn parse(text: &str, notes: &mut Vec<Note>) -> Vec<Conn> {
    let mut conns: Vec<Conn> = Vec::new();
    // Whether the lines being read belong to a conn (false: config setup, ca, ...).
    let mut in_conn = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = strip_comment(raw);
        if content.trim().is_empty() {
            continue;
        }
        let indented = content.starts_with([' ', '\t']);
        if !indented {
            let mut words = content.split_whitespace();
            match (words.next(), words.next()) {
                (Some("conn"), Some(name)) => {
                    in_conn = true;
                    conns.push(Conn {
                        name: name.to_string(),
                        line,
                        params: Vec::new(),
                    });
                }
                (Some("config"), Some("setup")) => {
                    in_conn = false;
                    notes.push(Note::new(
                        line,
                        "`config setup` not converted: tern's daemon settings are its [daemon] table".into(),
                    ));
                }
                (Some("ca"), _) => {
                    in_conn = false;
                    notes.push(Note::new(
                        line,
                        "`ca` section not converted: name the CA certificate in the connection's cacerts".into(),
                    ));
                }
                (Some("include"), _) => notes.push(Note::new(
                    line,
                    format!(
                        "`{}` not followed: convert that file on its own",
                        content.trim()
                    ),
                )),
                (Some("version"), _) => {}
                _ => notes.push(Note::new(
                    line,
                    format!("`{}` is not a section ipsec.conf knows", content.trim()),
                )),
            }
            continue;
        }
        if !in_conn {
            continue;
        }
        let Some((key, value)) = content.trim().split_once('=') else {
            notes.push(Note::new(
                line,
                format!("`{}` is not key=value", content.trim()),
            ));
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if let Some(conn) = conns.last_mut() {
            conn.params.push(Param {
                key: key.trim().to_string(),
                value: value.to_string(),
                line,
            });
        }
    }
    conns
}

/// The line without its `#` comment (a `#` inside double quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// A conn's settings after merging: own lines first, then `also=` conns (each
/// with its own `also=`), then `conn %default`. The first value of a key wins.
struct Resolved {
    params: Vec<Param>,
}

impl Resolved {
    fn get(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.key == key)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|p| p.value.as_str())
    }
}

fn resolve(conn: &Conn, all: &[Conn], notes: &mut Vec<Note>) -> Resolved {
    let mut params = Vec::new();
    let mut seen = BTreeSet::new();
    gather(conn, all, &mut params, &mut seen, notes);
    if let Some(default) = all.iter().find(|c| c.name == "%default") {
        params.extend(default.params.iter().cloned());
    }
    // The first of each key wins.
    let mut keys = BTreeSet::new();
    params.retain(|p| p.key != "also" && keys.insert(p.key.clone()));
    Resolved { params }
}

fn gather(
    conn: &Conn,
    all: &[Conn],
    out: &mut Vec<Param>,
    seen: &mut BTreeSet<String>,
    notes: &mut Vec<Note>,
) {
    if !seen.insert(conn.name.clone()) {
        return;
    }
    out.extend(conn.params.iter().cloned());
    for also in conn.params.iter().filter(|p| p.key == "also") {
        match all.iter().find(|c| c.name == also.value) {
            Some(included) => gather(included, all, out, seen, notes),
            None => notes.push(Note::new(
                also.line,
                format!(
                    "`also={}`: there is no conn {} in this file",
                    also.value, also.value
                ),
            )),
        }
    }
}

/// Why common ipsec.conf settings are not converted.
fn unsupported(key: &str) -> &'static str {
    match key {
        "leftsourceip" | "rightsourceip" | "leftdns" | "rightdns" => {
            "tern's virtual IPs come from [pools.NAME] tables named by a connection's `pools`: write them by hand"
        }
        "leftupdown" | "rightupdown" => "tern runs no updown script",
        "leftfirewall" | "rightfirewall" | "lefthostaccess" | "righthostaccess" => {
            "tern installs no firewall rules"
        }
        "mobike" => "tern does not do MOBIKE",
        "forceencaps" => "tern encapsulates ESP in UDP only when it detects a NAT",
        "fragmentation" => "tern's fragmentation is set for all connections in [fragmentation]",
        "compress" => "tern has no IP compression",
        "aggressive" | "xauth" | "leftxauthusername" | "rightxauthserver" => {
            "these are IKEv1 settings"
        }
        "eap_identity" | "aaa_identity" => {
            "tern's gateway takes EAP-MSCHAPv2 users from [eap] (remote_auth = \"eap-mschapv2\"): write them by hand"
        }
        "dpdtimeout" => "IKEv2 judges a peer dead by its retransmissions (tern's [retransmit])",
        "reqid" => "tern chooses reqids itself",
        "inactivity" => "tern closes no idle CHILD SA",
        "installpolicy" => "tern always installs its policies",
        "leftsendcert" | "rightsendcert" => "tern always sends its certificate",
        "uniqueids" => "tern replaces an old IKE SA when the peer sends INITIAL_CONTACT",
        "mark" | "mark_in" | "mark_out" => "tern sets no XFRM marks",
        "leftprotoport" | "rightprotoport" => {
            "write the protocol and port into the subnet as tern does (10.1.0.0/24[tcp/80])"
        }
        "rightca" | "leftca" => "tern names CA certificate files (cacerts), not CA names",
        _ => "tern has no such setting",
    }
}

/// Keys the conversion reads; any other key in a conn is reported.
const READ: &[&str] = &[
    "left",
    "right",
    "leftid",
    "rightid",
    "leftsubnet",
    "rightsubnet",
    "leftauth",
    "rightauth",
    "authby",
    "leftcert",
    "ike",
    "esp",
    "ikelifetime",
    "lifetime",
    "keylife",
    "margintime",
    "rekeymargin",
    "rekeyfuzz",
    "dpdaction",
    "dpddelay",
    "closeaction",
    "auto",
    "type",
    "keyexchange",
    "keyingtries",
    "reauth",
    "rekey",
];

/// Converts ipsec.conf text from directory `dir`; `secrets` is the ipsec.secrets
/// beside it, if any.
pub fn convert(text: &str, dir: &Path, secrets: Option<&str>, notes: &mut Vec<Note>) -> Toml {
    let mut out = Toml::default();
    let conns = parse(text, notes);
    let psks = secrets.map(|s| parse_secrets(s, notes)).unwrap_or_default();
    let mut converted = 0;
    for conn in conns.iter().filter(|c| c.name != "%default") {
        let resolved = resolve(conn, &conns, notes);
        match resolved.value("auto").unwrap_or("ignore") {
            "add" | "start" | "route" => {}
            other => {
                // Templates for also= are written this way; strongSwan loads none.
                if !conns.iter().any(|c| {
                    c.params
                        .iter()
                        .any(|p| p.key == "also" && p.value == conn.name)
                }) {
                    notes.push(Note::new(
                        conn.line,
                        format!(
                            "conn {} not converted: auto={other}, so strongSwan does not load it either (set auto=add to convert it)",
                            conn.name
                        ),
                    ));
                }
                continue;
            }
        }
        connection(&mut out, conn, &resolved, dir, &psks, notes);
        converted += 1;
    }
    if converted == 0 {
        notes.push(Note::new(0, "no conn to convert".into()));
    }
    // A setting shared through also= or %default is reported once, not per conn.
    let mut seen = BTreeSet::new();
    notes.retain(|n| seen.insert((n.line, n.message.clone())));
    out
}

fn not_converted(p: &Param, why: &str) -> Note {
    Note::new(
        p.line,
        format!("`{}={}` not converted: {why}", p.key, p.value),
    )
}

/// An ipsec.conf address: an IP literal, or nothing for `%any` and friends.
fn address(p: &Param, notes: &mut Vec<Note>) -> Option<IpAddr> {
    let v = p.value.trim_start_matches('%');
    if p.value.starts_with('%') && ["any", "any4", "any6", "defaultroute"].contains(&v) {
        return None;
    }
    match p.value.parse() {
        Ok(ip) => Some(ip),
        Err(_) => {
            notes.push(not_converted(
                p,
                "tern takes IP addresses only (no names or ranges)",
            ));
            None
        }
    }
}

fn connection(
    out: &mut Toml,
    conn: &Conn,
    r: &Resolved,
    dir: &Path,
    psks: &[Secret],
    notes: &mut Vec<Note>,
) {
    let name = &conn.name;
    out.table(&format!("connections.{name}"), conn.line);
    let left = r.get("left").and_then(|p| address(p, notes));
    let right = r.get("right").and_then(|p| address(p, notes));
    if let (Some(ip), Some(p)) = (left, r.get("left")) {
        out.strings("local_addrs", &[ip.to_string()], p.line);
    }
    if let (Some(ip), Some(p)) = (right, r.get("right")) {
        out.strings("remote_addrs", &[ip.to_string()], p.line);
    }
    if let Some(p) = r.get("keyexchange") {
        if p.value == "ikev1" {
            notes.push(not_converted(p, "tern speaks IKEv2 only"));
        }
    }
    if let Some(p) = r.get("ike") {
        proposals(out, "proposals", p, notes);
    }
    if let Some(p) = r.get("keyingtries") {
        let tries = if p.value == "%forever" {
            "0"
        } else {
            p.value.as_str()
        };
        out.raw("keyingtries", tries, p.line);
    }
    if let Some(p) = r.get("dpddelay") {
        out.duration("dpd_delay", &p.value, p.line);
    }
    let timing = Timing::of(r, notes);
    if let Some(ike) = timing.ike {
        timing.write(out, ike, "ikelifetime");
    }
    if let Some(p) = r.get("reauth") {
        if p.value == "yes" {
            notes.push(not_converted(
                p,
                "tern rekeys the IKE SA; set reauth_time to reauthenticate instead",
            ));
        }
    }
    if let Some(p) = r.get("rekey") {
        if p.value == "no" {
            notes.push(not_converted(p, "tern always rekeys before the life_time"));
        }
    }

    // Identities: strongSwan falls back to the address.
    let local_id = match r.get("leftid") {
        Some(p) => {
            let id = identity(&p.value);
            out.string("local_id", &id, p.line);
            Some(id)
        }
        None => match left {
            Some(ip) => {
                notes.push(Note::new(
                    conn.line,
                    format!("conn {name} has no leftid; strongSwan uses its address, so local_id = \"{ip}\""),
                ));
                out.string("local_id", &ip.to_string(), conn.line);
                Some(ip.to_string())
            }
            None => {
                notes.push(Note::new(
                    conn.line,
                    format!("conn {name} has no leftid and no left address: set local_id by hand"),
                ));
                None
            }
        },
    };
    let remote_id = r.get("rightid").filter(|p| p.value != "%any").map(|p| {
        let id = identity(&p.value);
        out.string("remote_id", &id, p.line);
        id
    });
    if let Some(p) = r.get("leftcert") {
        let path = if p.value.starts_with('/') {
            p.value.clone()
        } else {
            in_dir(dir, "ipsec.d", &format!("certs/{}", p.value))
        };
        out.string("cert", &path, p.line);
    }

    if let Some((method, line)) = auth(r, conn, notes) {
        out.string("auth", method, line);
        if method == "psk" {
            let ids: Vec<String> = local_id.iter().chain(remote_id.iter()).cloned().collect();
            match psk_for(psks, &ids) {
                // The line is ipsec.conf's: the secret's own is in another file.
                Some(secret) => out.string("psk", &secret.psk, conn.line),
                None => notes.push(Note::new(
                    conn.line,
                    format!(
                        "no PSK in the ipsec.secrets beside this file matches conn {name}: set psk or psk_file by hand"
                    ),
                )),
            }
        } else {
            notes.push(Note::new(
                conn.line,
                format!("conn {name}: strongSwan finds the private key itself; set key = \"...\" (its PEM file) by hand"),
            ));
        }
    }

    for p in &r.params {
        if !READ.contains(&p.key.as_str()) {
            notes.push(not_converted(p, unsupported(&p.key)));
        }
    }
    child(out, conn, r, left, right, &timing, notes);
}

/// tern's `auth` from authby= or leftauth=/rightauth=, and the line it came from.
fn auth(r: &Resolved, conn: &Conn, notes: &mut Vec<Note>) -> Option<(&'static str, usize)> {
    let kind = |v: &str| -> Option<&'static str> {
        match v {
            "psk" | "secret" => Some("psk"),
            "pubkey" | "rsasig" | "ecdsasig" | "rsa" | "ecdsa" => Some("pubkey"),
            v if v.starts_with("rsa") || v.starts_with("ecdsa") || v.starts_with("ed25519") => {
                Some("pubkey")
            }
            _ => None,
        }
    };
    let sides: Vec<&Param> = ["leftauth", "rightauth"]
        .iter()
        .filter_map(|k| r.get(k))
        .collect();
    let chosen: Vec<(&'static str, usize)> = if sides.is_empty() {
        // authby may list several (`rsasig|secret` in old files); the first tern knows.
        let Some(p) = r.get("authby") else {
            return Some(("pubkey", conn.line));
        };
        let first = p.value.split(['|', ',']).find_map(kind);
        if first.is_none() {
            notes.push(not_converted(
                p,
                "tern authenticates with psk or pubkey only",
            ));
        }
        first.map(|k| vec![(k, p.line)]).unwrap_or_default()
    } else {
        sides
            .iter()
            .filter_map(|p| match kind(&p.value) {
                Some(k) => Some((k, p.line)),
                None => {
                    notes.push(not_converted(
                        p,
                        "tern authenticates with psk or pubkey only",
                    ));
                    None
                }
            })
            .collect()
    };
    if let [(a, _), (b, _)] = chosen.as_slice() {
        if a != b {
            notes.push(Note::new(
                conn.line,
                format!(
                    "conn {} authenticates with {a} one way and {b} the other; tern uses one method both ways: {a}",
                    conn.name
                ),
            ));
        }
    }
    chosen.first().copied()
}

/// `ike=`/`esp=` as tern's proposal list; the strict flag `!` goes (tern offers
/// and accepts only what is listed anyway).
fn proposals(out: &mut Toml, key: &str, p: &Param, notes: &mut Vec<Note>) {
    let all: Vec<String> = list(&p.value)
        .into_iter()
        .map(|s| s.trim_end_matches('!').to_string())
        .collect();
    if p.value.contains('!') {
        notes.push(Note::new(
            p.line,
            format!(
                "`{}`: the strict flag `!` is dropped: tern accepts only the proposals listed",
                p.key
            ),
        ));
    }
    out.strings(key, &all, p.line);
}

/// ipsec.conf's lifetimes as tern's: strongSwan rekeys at `lifetime - margintime`,
/// minus up to `margintime * rekeyfuzz`, and the SA ends at `lifetime`.
struct Timing {
    /// ikelifetime (or strongSwan's 3h), when any of the IKE timing keys is set.
    ike: Option<Duration>,
    /// lifetime/keylife (or 1h), when any of the CHILD timing keys is set.
    child: Option<Duration>,
    margin: Duration,
    fuzz_percent: u64,
    /// The line of the setting each written key comes from.
    line_ike: usize,
    line_child: usize,
}

impl Timing {
    fn of(r: &Resolved, notes: &mut Vec<Note>) -> Timing {
        let duration = |key: &str, notes: &mut Vec<Note>| -> Option<(Duration, usize)> {
            let p = r.get(key)?;
            match tern_config::parse_duration(&p.value) {
                Some(d) => Some((d, p.line)),
                None => {
                    notes.push(not_converted(p, "not a duration strongSwan would read"));
                    None
                }
            }
        };
        let margin = duration("margintime", notes).or_else(|| duration("rekeymargin", notes));
        let fuzz = r.get("rekeyfuzz").and_then(|p| {
            let n = p.value.trim_end_matches('%').parse::<u64>().ok();
            if n.is_none() {
                notes.push(not_converted(p, "rekeyfuzz is a percentage"));
            }
            n.map(|n| (n, p.line))
        });
        let shared = margin.map(|(_, l)| l).or(fuzz.map(|(_, l)| l));
        let ike = duration("ikelifetime", notes);
        let child = duration("lifetime", notes).or_else(|| duration("keylife", notes));
        Timing {
            ike: ike
                .map(|(d, _)| d)
                .or(shared.map(|_| Duration::from_secs(3 * 3600))),
            child: child
                .map(|(d, _)| d)
                .or(shared.map(|_| Duration::from_secs(3600))),
            margin: margin.map_or(Duration::from_secs(9 * 60), |(d, _)| d),
            fuzz_percent: fuzz.map_or(100, |(n, _)| n),
            line_ike: ike.map(|(_, l)| l).or(shared).unwrap_or(0),
            line_child: child.map(|(_, l)| l).or(shared).unwrap_or(0),
        }
    }

    /// rekey_time, life_time and rand_time for an SA living `life`.
    fn write(&self, out: &mut Toml, life: Duration, what: &str) {
        let line = if what == "ikelifetime" {
            self.line_ike
        } else {
            self.line_child
        };
        let rekey = life.saturating_sub(self.margin);
        let rand = self.margin * u32::try_from(self.fuzz_percent).unwrap_or(u32::MAX) / 100;
        out.string("rekey_time", &tern_config::format_duration(rekey), line);
        out.string("life_time", &tern_config::format_duration(life), line);
        // tern draws rand_time from [0, rand_time); it must stay below rekey_time.
        let rand = rand.min(rekey.saturating_sub(Duration::from_secs(1)));
        out.string("rand_time", &tern_config::format_duration(rand), line);
    }
}

fn child(
    out: &mut Toml,
    conn: &Conn,
    r: &Resolved,
    left: Option<IpAddr>,
    right: Option<IpAddr>,
    timing: &Timing,
    notes: &mut Vec<Note>,
) {
    out.table(
        &format!("connections.{0}.children.{0}", conn.name),
        conn.line,
    );
    for (key, side, host) in [
        ("leftsubnet", "local_ts", left),
        ("rightsubnet", "remote_ts", right),
    ] {
        match (r.get(key), host) {
            (Some(p), _) => out.strings(side, &list(&p.value), p.line),
            // strongSwan's default: the host's own address.
            (None, Some(ip)) => out.strings(side, &[ip.to_string()], conn.line),
            (None, None) => notes.push(Note::new(
                conn.line,
                format!(
                    "conn {}: no {key} and no address to default it to: set {side} by hand",
                    conn.name
                ),
            )),
        }
    }
    if let Some(p) = r.get("esp") {
        proposals(out, "esp_proposals", p, notes);
    }
    if let Some(p) = r.get("type") {
        match p.value.as_str() {
            "tunnel" | "transport" => out.string("mode", &p.value, p.line),
            _ => notes.push(not_converted(p, "tern does tunnel and transport mode only")),
        }
    }
    if let Some(life) = timing.child {
        timing.write(out, life, "lifetime");
    }
    match r.get("auto") {
        Some(p) if p.value == "start" => out.string("start_action", "start", p.line),
        Some(p) if p.value == "route" => out.string("start_action", "trap", p.line),
        _ => {}
    }
    // ipsec.conf's words, as swanctl (and tern) spell them; None: tern's default.
    let dpd = |v: &str| match v {
        "none" | "clear" => Some(None),
        "hold" => Some(Some("trap")),
        "restart" => Some(Some("restart")),
        _ => None,
    };
    let close = |v: &str| match v {
        "none" | "clear" => Some(None),
        "hold" => Some(Some("trap")),
        "restart" => Some(Some("start")),
        _ => None,
    };
    for (key, tern_key, map) in [
        (
            "dpdaction",
            "dpd_action",
            &dpd as &dyn Fn(&str) -> Option<Option<&'static str>>,
        ),
        ("closeaction", "close_action", &close),
    ] {
        if let Some(p) = r.get(key) {
            match map(&p.value) {
                Some(Some(word)) => out.string(tern_key, word, p.line),
                Some(None) => {}
                None => notes.push(not_converted(p, "use none, clear, hold or restart")),
            }
        }
    }
}

/// A PSK from ipsec.secrets: the identities it names (none: any) and its value.
#[derive(Debug)]
struct Secret {
    ids: BTreeSet<String>,
    psk: String,
}

/// The PSK lines of ipsec.secrets (`[IDS] : PSK "secret"`); other kinds are noted.
fn parse_secrets(text: &str, notes: &mut Vec<Note>) -> Vec<Secret> {
    let mut secrets = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = strip_comment(raw).trim();
        let Some((ids, rest)) = content.split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        let Some(value) = rest.strip_prefix("PSK") else {
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        match psk_value(value) {
            Some(psk) => secrets.push(Secret {
                ids: ids
                    .split_whitespace()
                    .filter(|i| *i != "%any" && *i != "%any6")
                    .map(identity)
                    .collect(),
                psk,
            }),
            // Reported against the file as a whole: the line is ipsec.secrets'.
            None => notes.push(Note::new(
                0,
                format!("ipsec.secrets:{line}: a PSK that is neither text, 0x hex nor 0s base64"),
            )),
        }
    }
    secrets
}

/// The secret naming most of `ids`, else one naming none (a wildcard).
fn psk_for<'a>(secrets: &'a [Secret], ids: &[String]) -> Option<&'a Secret> {
    let ours: BTreeSet<String> = ids.iter().cloned().collect();
    // Reversed: max_by_key keeps the last of equals, and the first line should win.
    secrets
        .iter()
        .rev()
        .filter_map(|s| {
            let shared = s.ids.intersection(&ours).count();
            match (s.ids.is_empty(), shared) {
                (true, _) => Some((1, s)),
                (false, 0) => None,
                (false, n) => Some((1 + n, s)),
            }
        })
        .max_by_key(|(score, _)| *score)
        .map(|(_, s)| s)
}
