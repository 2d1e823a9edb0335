//! `ternctl decode [--json] FILE`: print the IKE messages of a capture (pcap or
//! pcapng) or of a hex file; `-` reads stdin. The work is done by
//! [`tern_wire::decode`]; this module reads the file and chooses the output.
//!
//! Messages go to stdout; every malformed message or undecodable IKE packet goes
//! to stderr with its offset, the rest is still decoded, and the exit status is 1.

use std::io::Read;
use std::path::Path;

use tern_wire::decode::{decode, to_json};

/// What to print, and whether everything decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub stdout: String,
    pub errors: Vec<String>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Reads FILE (or stdin for `-`).
pub fn read_input(file: &Path) -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_to_end(&mut input)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        input = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    }
    Ok(input)
}

/// Decodes `input` into the text (or JSON) to print and the errors to report.
pub fn report(input: &[u8], as_json: bool) -> Report {
    let items = match decode(input) {
        Ok(items) => items,
        Err(e) => {
            return Report {
                stdout: if as_json {
                    "[]\n".into()
                } else {
                    String::new()
                },
                errors: vec![format!("cannot decode the input: {e}")],
            }
        }
    };
    let errors: Vec<String> = items.iter().filter_map(|d| d.error_text()).collect();
    let stdout = if as_json {
        let mut json = to_json(&items);
        json.push('\n');
        json
    } else {
        let texts: Vec<String> = items.iter().filter_map(|d| d.render_text()).collect();
        if texts.is_empty() && errors.is_empty() {
            "no IKE messages found\n".into()
        } else {
            texts.join("\n")
        }
    };
    Report { stdout, errors }
}

#[cfg(test)]
mod tests;
