//! One loaded conn as a tern connection with one child: addresses, identities,
//! authentication, proposals and lifetimes.

use super::*;

pub(super) fn connection(
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
    if let Some(p) = r.get("mobike") {
        match crate::import::strongswan_bool(&p.value) {
            Some(on) => out.boolean("mobike", on, p.line),
            None => notes.push(not_converted(p, "not a boolean")),
        }
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
