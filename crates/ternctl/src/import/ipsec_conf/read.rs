//! Reading ipsec.conf into its conns (with `also=` and `conn %default` merged)
//! and ipsec.secrets into its PSKs.

use super::*;

/// The file's conns, and notes on what lies outside them.
pub(super) fn parse(text: &str, notes: &mut Vec<Note>) -> Vec<Conn> {
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

pub(super) fn resolve(conn: &Conn, all: &[Conn], notes: &mut Vec<Note>) -> Resolved {
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

/// The PSK lines of ipsec.secrets (`[IDS] : PSK "secret"`); other kinds are noted.
pub(super) fn parse_secrets(text: &str, notes: &mut Vec<Note>) -> Vec<Secret> {
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
pub(super) fn psk_for<'a>(secrets: &'a [Secret], ids: &[String]) -> Option<&'a Secret> {
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
