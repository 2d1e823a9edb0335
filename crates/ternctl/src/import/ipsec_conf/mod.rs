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

mod connection;
mod read;

use connection::connection;
use read::{parse, parse_secrets, psk_for, resolve};

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

/// A PSK from ipsec.secrets: the identities it names (none: any) and its value.
#[derive(Debug)]
struct Secret {
    ids: BTreeSet<String>,
    psk: String,
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
    "mobike",
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
