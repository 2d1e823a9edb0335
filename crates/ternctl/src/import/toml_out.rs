//! The TOML the importer writes: tables and keys in the order they were met,
//! each line remembering the swanctl.conf line it came from (for reporting what
//! tern then refuses in it).

/// TOML text being written.
#[derive(Default)]
pub struct Toml {
    /// Each output line, with the source line it came from (0: none).
    lines: Vec<(String, usize)>,
}

impl Toml {
    pub fn table(&mut self, name: &str, from: usize) {
        if !self.lines.is_empty() {
            self.lines.push((String::new(), 0));
        }
        let quoted: Vec<String> = name.split('.').map(key).collect();
        self.lines.push((format!("[{}]", quoted.join(".")), from));
    }

    pub fn raw(&mut self, name: &str, value: &str, from: usize) {
        // A number stays a number; anything else becomes a string (tern then says
        // what is wrong with it).
        match value.parse::<u64>() {
            Ok(n) => self.lines.push((format!("{} = {n}", key(name)), from)),
            Err(_) => self.string(name, value, from),
        }
    }

    pub fn boolean(&mut self, name: &str, value: bool, from: usize) {
        self.lines.push((format!("{} = {value}", key(name)), from));
    }

    pub fn string(&mut self, name: &str, value: &str, from: usize) {
        self.lines
            .push((format!("{} = {}", key(name), string(value)), from));
    }

    pub fn strings(&mut self, name: &str, values: &[String], from: usize) {
        let items: Vec<String> = values.iter().map(|v| string(v)).collect();
        self.lines
            .push((format!("{} = [{}]", key(name), items.join(", ")), from));
    }

    /// A duration or count: seconds as a number, anything with a unit as a string.
    pub fn duration(&mut self, name: &str, value: &str, from: usize) {
        self.raw(name, value, from);
    }

    /// The source line of output line `line` (1-based).
    pub fn source_line(&self, line: usize) -> usize {
        line.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or(0, |(_, from)| *from)
    }

    pub fn text(&self) -> String {
        let mut text = String::new();
        for (line, _) in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

fn string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// A bare key if it may be one, else quoted.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_string()
    } else {
        string(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_tables_keys_and_remembers_lines() {
        let mut t = Toml::default();
        t.table("connections.a b", 3);
        t.raw("remote_port", "4500", 4);
        t.duration("rekey_time", "1h", 5);
        t.strings("proposals", &["x\"y".to_string()], 6);
        assert_eq!(
            t.text(),
            "[connections.\"a b\"]\nremote_port = 4500\nrekey_time = \"1h\"\nproposals = ['x\"y']\n"
        );
        assert_eq!(
            (t.source_line(1), t.source_line(3), t.source_line(9)),
            (3, 5, 0)
        );
    }
}
