//! `ternctl import swanctl|ipsec-conf FILE`: another daemon's configuration as tern's TOML,
//! with a line-by-line report of what could not be converted. The result is
//! checked by tern's own configuration parser; what tern refuses in it is
//! reported against the source line it came from.

mod ipsec_conf;
mod settings;
mod swanctl;
mod toml_out;

use std::path::Path;

/// A strongSwan boolean (`yes`, `no`, `true`, ...).
fn strongswan_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "enabled" => Some(true),
        "no" | "false" | "0" | "disabled" => Some(false),
        _ => None,
    }
}

/// Something in the source file the importer could not carry over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The source line (1-based); 0 for the file as a whole.
    pub line: usize,
    pub message: String,
}

impl Note {
    fn new(line: usize, message: String) -> Note {
        Note { line, message }
    }
}

/// An import's result: the TOML, the notes in line order, and whether tern loads
/// the TOML as it is.
pub struct Imported {
    pub toml: String,
    pub notes: Vec<Note>,
    pub loads: bool,
}

/// Converts swanctl.conf text. `path` names the file in notes and locates the
/// certificates (`x509/`, `x509ca/` beside it, as swanctl does).
pub fn swanctl(text: &str, path: &Path) -> Result<Imported, Note> {
    let root = settings::parse(text).map_err(|e| Note::new(e.line, e.message))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut notes = Vec::new();
    let toml = swanctl::convert(&root, &dir, &mut notes);
    Ok(finish(toml, notes, path, "swanctl"))
}

/// Converts ipsec.conf text; the PSKs come from the `ipsec.secrets` beside `path`
/// (as strongSwan's starter keeps them), certificates from `ipsec.d/certs/`.
pub fn ipsec_conf(text: &str, path: &Path) -> Imported {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let secrets = std::fs::read_to_string(dir.join("ipsec.secrets")).ok();
    let mut notes = Vec::new();
    let toml = ipsec_conf::convert(text, &dir, secrets.as_deref(), &mut notes);
    finish(toml, notes, path, "ipsec-conf")
}

/// Checks the TOML with tern's own parser (what it refuses goes back to the
/// source line) and puts the notes in line order.
fn finish(toml: toml_out::Toml, mut notes: Vec<Note>, path: &Path, how: &str) -> Imported {
    let text = toml.text();
    let loads = match tern_config::check_str(&text, "converted") {
        Ok(_) => true,
        Err(errors) => {
            for e in errors {
                notes.push(Note::new(
                    toml.source_line(e.line),
                    format!("converted, but tern refuses it: {}", e.message),
                ));
            }
            false
        }
    };
    notes.sort_by_key(|n| n.line);
    Imported {
        toml: format!(
            "# Converted from {} by `ternctl import {how}`.\n# Check it with `ternd --check --config FILE`.\n\n{text}",
            path.display()
        ),
        notes,
        loads,
    }
}

#[cfg(test)]
pub mod ipsec_conf_tests;
#[cfg(test)]
mod tests;
