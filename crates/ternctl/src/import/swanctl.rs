//! strongSwan's swanctl.conf into tern's TOML: connections, their first
//! authentication round, children, proposals, lifetimes, DPD and the IKE secrets.
//! Whatever has no tern equivalent is left out and reported with its line.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;

use super::settings::{Section, Value};
use super::toml_out::Toml;
use super::Note;

/// Keys of a connection whose value tern reads as it is.
const CONNECTION_DURATIONS: &[&str] = &["dpd_delay", "dpd_timeout", "reauth_time", "rand_time"];

/// Keys of a child tern reads as they are (the same meaning and syntax).
const CHILD_PASSED: &[&str] = &[
    "rekey_time",
    "life_time",
    "rand_time",
    "rekey_bytes",
    "life_bytes",
    "rand_bytes",
    "rekey_packets",
    "life_packets",
    "rand_packets",
];

/// Why some common swanctl settings are not converted.
fn unsupported(key: &str) -> String {
    let why = match key {
        "encap" => "tern encapsulates ESP in UDP only when it detects a NAT",
        "fragmentation" => "tern's fragmentation is set for all connections in [fragmentation]",
        "local_port" => "tern's IKE ports are [daemon] port and nat_port",
        "pools" => "tern's pools are [pools.NAME] tables named by a connection's `pools`: write them by hand",
        "vips" => "tern as a client does not ask for a virtual IP yet",
        "aggressive" | "pull" => "these are IKEv1 settings",
        "unique" => "tern replaces an old IKE SA when the peer sends INITIAL_CONTACT",
        "send_cert" | "send_certreq" => "tern always sends its certificate and requests",
        "updown" => "tern runs no updown script",
        "hostaccess" | "policies" | "policies_fwd_out" => {
            "tern always installs in, out and fwd policies"
        }
        "ah_proposals" => "tern does ESP only",
        "ipcomp" => "tern has no IP compression",
        "reqid" => "tern chooses reqids itself",
        "inactivity" => "tern closes no idle CHILD SA",
        "start_action" => "not at this level",
        _ => "tern has no such setting",
    };
    why.to_string()
}

/// The converted file and what could not be converted.
pub fn convert(root: &Section, swanctl_dir: &Path, notes: &mut Vec<Note>) -> Toml {
    let mut out = Toml::default();
    let secrets = root.section("secrets");
    for section in root.sections() {
        match section.name.as_str() {
            "connections" | "secrets" => {}
            other => notes.push(Note::new(
                section.line,
                format!("section `{other}` not converted: tern has no equivalent"),
            )),
        }
    }
    if let Some(secrets) = secrets {
        for s in secrets.sections() {
            if !s.name.starts_with("ike") {
                notes.push(Note::new(
                    s.line,
                    format!(
                        "secret `{}` not converted: tern reads pre-shared keys (ike) from here, \
                         a private key from its connection's `key`",
                        s.name
                    ),
                ));
            }
        }
    }
    let Some(connections) = root.section("connections") else {
        notes.push(Note::new(
            0,
            "no `connections` section: nothing to convert".into(),
        ));
        return out;
    };
    for value in connections.values() {
        notes.push(not_converted(value, "a value outside any connection"));
    }
    for conn in connections.sections() {
        connection(&mut out, conn, secrets, swanctl_dir, notes);
    }
    out
}

fn not_converted(v: &Value, why: &str) -> Note {
    Note::new(
        v.line,
        format!("`{} = {}` not converted: {why}", v.key, v.value),
    )
}

/// `a, b,c` as `["a", "b", "c"]`.
pub(super) fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn connection(
    out: &mut Toml,
    conn: &Section,
    secrets: Option<&Section>,
    swanctl_dir: &Path,
    notes: &mut Vec<Note>,
) {
    out.table(&format!("connections.{}", conn.name), conn.line);
    let mut local_addrs = Vec::new();
    let mut ike_rekey = None;
    for v in conn.values() {
        match v.key.as_str() {
            "version" => match v.value.as_str() {
                "2" => {}
                "0" => notes.push(Note::new(
                    v.line,
                    "`version = 0`: tern speaks IKEv2 only".into(),
                )),
                _ => notes.push(not_converted(v, "tern speaks IKEv2 only")),
            },
            "local_addrs" | "remote_addrs" => {
                let addrs = addresses(v, notes);
                if v.key == "local_addrs" {
                    local_addrs.clone_from(&addrs);
                }
                if !addrs.is_empty() {
                    out.strings(&v.key, &addrs, v.line);
                }
            }
            "remote_port" => out.raw(&v.key, &v.value, v.line),
            "keyingtries" => out.raw(&v.key, &v.value, v.line),
            "mobike" => match super::strongswan_bool(&v.value) {
                Some(on) => out.boolean("mobike", on, v.line),
                None => notes.push(not_converted(v, "not a boolean")),
            },
            "proposals" => proposals(out, v, notes),
            "rekey_time" => {
                ike_rekey = Some(v);
                out.duration(&v.key, &v.value, v.line);
            }
            "over_time" => {
                // strongSwan: the IKE SA lives rekey_time + over_time; tern says life_time.
                let rekey = ike_rekey.and_then(|r| tern_config::parse_duration(&r.value));
                match (rekey, tern_config::parse_duration(&v.value)) {
                    (Some(rekey), Some(over)) if !rekey.is_zero() => {
                        let life = tern_config::format_duration(rekey + over);
                        out.string("life_time", &life, v.line);
                    }
                    _ => notes.push(not_converted(
                        v,
                        "tern's life_time is rekey_time + over_time, and rekey_time is not set before it",
                    )),
                }
            }
            key if CONNECTION_DURATIONS.contains(&key) => out.duration(key, &v.value, v.line),
            key => notes.push(not_converted(v, &unsupported(key))),
        }
    }
    let (local, remote) = (round(conn, "local", notes), round(conn, "remote", notes));
    let local_auth = local.and_then(|s| s.value("auth"));
    let remote_auth = remote.and_then(|s| s.value("auth"));
    let auth = auth_method(local_auth, remote_auth, conn, notes);
    let local_id = local
        .and_then(|s| s.value("id"))
        .map(|v| identity(&v.value));
    match &local_id {
        Some(id) => out.string(
            "local_id",
            id,
            local.and_then(|s| s.value("id")).map_or(0, |v| v.line),
        ),
        None => match local_addrs.first() {
            Some(addr) => {
                notes.push(Note::new(
                    conn.line,
                    format!(
                        "connection `{}` has no local id; strongSwan uses its address, so local_id = \"{addr}\"",
                        conn.name
                    ),
                ));
                out.string("local_id", addr, conn.line);
            }
            None => notes.push(Note::new(
                conn.line,
                format!(
                    "connection `{}` has no local id and no local address: set local_id by hand",
                    conn.name
                ),
            )),
        },
    }
    let remote_id = remote
        .and_then(|s| s.value("id"))
        .map(|v| (identity(&v.value), v.line));
    if let Some((id, line)) = &remote_id {
        out.string("remote_id", id, *line);
    }
    for (side, section) in [("local", local), ("remote", remote)] {
        let Some(section) = section else { continue };
        for v in section.values() {
            match (side, v.key.as_str()) {
                (_, "auth" | "id") => {}
                ("local", "certs") => match list(&v.value).as_slice() {
                    [cert] => out.string("cert", &in_dir(swanctl_dir, "x509", cert), v.line),
                    _ => notes.push(not_converted(v, "tern takes one certificate")),
                },
                ("remote", "cacerts") | ("local", "cacerts") => {
                    let cas: Vec<String> = list(&v.value)
                        .iter()
                        .map(|c| in_dir(swanctl_dir, "x509ca", c))
                        .collect();
                    out.strings("cacerts", &cas, v.line);
                }
                (_, key) => notes.push(not_converted(v, &format!("tern has no `{side}.{key}`"))),
            }
        }
    }
    if let Some(auth) = &auth {
        out.string(
            "auth",
            auth,
            local_auth.or(remote_auth).map_or(conn.line, |v| v.line),
        );
    }
    match auth.as_deref() {
        Some("psk") => {
            let ids: Vec<&str> = local_id
                .iter()
                .map(String::as_str)
                .chain(remote_id.iter().map(|(id, _)| id.as_str()))
                .collect();
            match secrets.and_then(|s| psk_for(s, &ids, notes)) {
                Some((psk, line)) => out.string("psk", &psk, line),
                None => notes.push(Note::new(
                    conn.line,
                    format!(
                        "no IKE secret in `secrets` matches connection `{}`: set psk or psk_file by hand",
                        conn.name
                    ),
                )),
            }
        }
        Some("pubkey") => notes.push(Note::new(
            conn.line,
            format!(
                "connection `{}`: strongSwan finds the private key itself; set key = \"...\" (its PEM file) by hand",
                conn.name
            ),
        )),
        _ => {}
    }
    if let Some(children) = conn.section("children") {
        for child in children.sections() {
            child_section(out, &conn.name, child, notes);
        }
        for v in children.values() {
            notes.push(not_converted(v, "a value outside any child"));
        }
    }
    for s in conn.sections() {
        let name = s.name.as_str();
        if name != "children" && !name.starts_with("local") && !name.starts_with("remote") {
            notes.push(Note::new(
                s.line,
                format!("section `{name}` not converted: tern has no equivalent"),
            ));
        }
    }
}

/// The first authentication round of `side` (`local` or `local-1`, `local-x`, ...),
/// reporting any further rounds.
fn round<'a>(conn: &'a Section, side: &str, notes: &mut Vec<Note>) -> Option<&'a Section> {
    let mut rounds = conn.sections().filter(|s| {
        s.name == side
            || s.name
                .strip_prefix(side)
                .is_some_and(|rest| rest.starts_with('-'))
    });
    let first = rounds.next();
    for more in rounds {
        notes.push(Note::new(
            more.line,
            format!(
                "section `{}` not converted: tern does one authentication round per side",
                more.name
            ),
        ));
    }
    first
}

/// tern's `auth` for the two sides' swanctl `auth`.
fn auth_method(
    local: Option<&Value>,
    remote: Option<&Value>,
    conn: &Section,
    notes: &mut Vec<Note>,
) -> Option<String> {
    let kind = |v: &Value| -> Option<&'static str> {
        let a = v.value.as_str();
        if a == "psk" {
            Some("psk")
        } else if a == "pubkey"
            || a.starts_with("rsa")
            || a.starts_with("ecdsa")
            || a.starts_with("ed25519")
            || a.starts_with("ed448")
        {
            Some("pubkey")
        } else {
            None
        }
    };
    for v in [local, remote].into_iter().flatten() {
        if kind(v).is_none() {
            notes.push(not_converted(
                v,
                "tern authenticates with psk or pubkey only",
            ));
        }
    }
    let (l, r) = (local.and_then(kind), remote.and_then(kind));
    match (l, r) {
        (Some(a), Some(b)) if a != b => {
            notes.push(Note::new(
                conn.line,
                format!(
                    "connection `{}` authenticates with {a} one way and {b} the other; tern uses one method both ways: {a}",
                    conn.name
                ),
            ));
            Some(a.to_string())
        }
        (Some(a), _) | (None, Some(a)) => Some(a.to_string()),
        (None, None) if local.is_none() && remote.is_none() => {
            // swanctl's default is pubkey.
            Some("pubkey".to_string())
        }
        (None, None) => None,
    }
}
/// IP literals of an address list; the rest (`%any`, names, ranges) reported.
fn addresses(v: &Value, notes: &mut Vec<Note>) -> Vec<String> {
    let mut addrs = Vec::new();
    for a in list(&v.value) {
        if a == "%any" || a == "%any4" || a == "%any6" {
            continue;
        }
        match a.parse::<IpAddr>() {
            Ok(ip) => addrs.push(ip.to_string()),
            Err(_) => notes.push(Note::new(
                v.line,
                format!(
                    "`{}`: `{a}` not converted: tern takes IP addresses only (no names, ranges or subnets)",
                    v.key
                ),
            )),
        }
    }
    addrs
}

fn proposals(out: &mut Toml, v: &Value, notes: &mut Vec<Note>) {
    let mut all = list(&v.value);
    if all.iter().any(|p| p == "default") {
        notes.push(Note::new(
            v.line,
            format!(
                "`{}`: `default` not converted: tern's defaults are its own (see `ternctl list-conns`)",
                v.key
            ),
        ));
        all.retain(|p| p != "default");
    }
    if !all.is_empty() {
        out.strings(&v.key, &all, v.line);
    }
}

/// A swanctl identity as tern writes it: `@name` is a name, `C=.., O=..` a DN.
pub(super) fn identity(id: &str) -> String {
    let id = id.trim();
    if let Some(name) = id.strip_prefix('@') {
        return name.trim_start_matches('@').to_string();
    }
    if id.contains('=') && !id.starts_with("keyid:") && !id.starts_with("dn:") {
        return format!("dn:{id}");
    }
    id.to_string()
}

/// `file` under swanctl's directory `dir` unless it is absolute.
pub(super) fn in_dir(swanctl_dir: &Path, dir: &str, file: &str) -> String {
    if file.starts_with('/') {
        file.to_string()
    } else {
        swanctl_dir.join(dir).join(file).display().to_string()
    }
}

/// The IKE secret for a connection with `ids`: one naming most of them, else
/// one naming none (a wildcard). Its value as tern's psk, and its line.
fn psk_for(secrets: &Section, ids: &[&str], notes: &mut Vec<Note>) -> Option<(String, usize)> {
    let ours: BTreeSet<String> = ids.iter().map(|i| identity(i)).collect();
    let mut best: Option<(usize, &Section)> = None;
    for s in secrets.sections().filter(|s| s.name.starts_with("ike")) {
        let named: BTreeSet<String> = s
            .values()
            .filter(|v| v.key.starts_with("id"))
            .map(|v| identity(&v.value))
            .collect();
        let score = if named.is_empty() {
            1
        } else {
            let shared = named.intersection(&ours).count();
            if shared == 0 {
                continue;
            }
            1 + shared
        };
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, s));
        }
    }
    let (_, section) = best?;
    let secret = section.value("secret")?;
    match psk_value(&secret.value) {
        Some(psk) => Some((psk, secret.line)),
        None => {
            notes.push(Note::new(
                secret.line,
                format!(
                    "the secret of `{}` is neither text, 0x hex nor 0s base64",
                    section.name
                ),
            ));
            None
        }
    }
}

/// A swanctl secret as tern's psk: text as it is, `0x` hex as it is, `0s`
/// base64 as `0x` hex.
pub(super) fn psk_value(secret: &str) -> Option<String> {
    if let Some(b64) = secret.strip_prefix("0s") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        return Some(format!("0x{hex}"));
    }
    Some(secret.to_string())
}

fn child_section(out: &mut Toml, conn: &str, child: &Section, notes: &mut Vec<Note>) {
    out.table(
        &format!("connections.{conn}.children.{}", child.name),
        child.line,
    );
    for v in child.values() {
        match v.key.as_str() {
            "local_ts" | "remote_ts" => {
                let ts = list(&v.value);
                if ts.iter().any(|t| t == "dynamic") {
                    notes.push(not_converted(
                        v,
                        "tern needs the subnets written out (`dynamic` is the SA's own address)",
                    ));
                    continue;
                }
                out.strings(&v.key, &ts, v.line);
            }
            "esp_proposals" => proposals(out, v, notes),
            "mode" => match v.value.as_str() {
                "tunnel" | "transport" => out.string("mode", &v.value, v.line),
                _ => notes.push(not_converted(v, "tern does tunnel and transport mode only")),
            },
            "start_action" | "dpd_action" | "close_action" => out.string(&v.key, &v.value, v.line),
            key if CHILD_PASSED.contains(&key) => out.duration(key, &v.value, v.line),
            key => notes.push(not_converted(v, &unsupported(key))),
        }
    }
    for s in child.sections() {
        notes.push(Note::new(
            s.line,
            format!("section `{}` not converted: tern has no equivalent", s.name),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_and_secrets() {
        assert_eq!(identity("@moon.example.org"), "moon.example.org");
        assert_eq!(
            identity("C=CH, O=tern, CN=moon"),
            "dn:C=CH, O=tern, CN=moon"
        );
        assert_eq!(identity("192.0.2.1"), "192.0.2.1");
        assert_eq!(identity("alice@example.org"), "alice@example.org");
        assert_eq!(psk_value("0sAQID").unwrap(), "0x010203");
        assert_eq!(psk_value("0x0a0b").unwrap(), "0x0a0b");
        assert_eq!(psk_value("plain text").unwrap(), "plain text");
        assert!(psk_value("0s!!!").is_none());
    }
}
