//! strongSwan's settings syntax (swanctl.conf, strongswan.conf): sections
//! `name { ... }` holding `key = value` lines and further sections, `#` comments.
//! Values run to the end of the line (or a `}`), unless double-quoted, when they
//! may hold anything, newlines included, with `\"` and `\\` escaped.

/// A section and what it holds, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// The line it opens on (1-based); 0 for the file itself.
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Value(Value),
    Section(Section),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub key: String,
    pub value: String,
    pub line: usize,
}

impl Section {
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Value(v) => Some(v),
            Entry::Section(_) => None,
        })
    }

    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Section(s) => Some(s),
            Entry::Value(_) => None,
        })
    }

    /// The last value of `key` (a later line overrides an earlier one).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.values().filter(|v| v.key == key).last()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections().find(|s| s.name == name)
    }
}

/// A syntax error, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole file into its top-level section (named "").
pub fn parse(text: &str) -> Result<Section, SyntaxError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
    };
    let root = p.section_body(String::new(), 0, true)?;
    Ok(root)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line,
            message: message.into(),
        }
    }

    /// Skips blanks, newlines and comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c.is_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn section_body(
        &mut self,
        name: String,
        line: usize,
        top: bool,
    ) -> Result<Section, SyntaxError> {
        let mut section = Section {
            name,
            line,
            entries: Vec::new(),
        };
        loop {
            self.skip_space();
            match self.peek() {
                None if top => return Ok(section),
                None => {
                    return Err(SyntaxError {
                        line,
                        message: format!("section `{}` is not closed with `}}`", section.name),
                    })
                }
                Some('}') if top => return Err(self.error("`}` without a section to close")),
                Some('}') => {
                    self.bump();
                    return Ok(section);
                }
                Some(_) => {}
            }
            let line = self.line;
            let name = self.name()?;
            self.skip_blanks();
            match self.peek() {
                Some('{') => {
                    self.bump();
                    let inner = self.section_body(name, line, false)?;
                    section.entries.push(Entry::Section(inner));
                }
                Some(':') => {
                    return Err(self.error(format!(
                        "section `{name}` names a template (`: ...`); expand it by hand first"
                    )))
                }
                Some('=') => {
                    self.bump();
                    let value = self.value()?;
                    section.entries.push(Entry::Value(Value {
                        key: name,
                        value,
                        line,
                    }));
                }
                _ if name == "include" => return Err(self.error(
                    "`include` is not followed: put the included files' content in one file first",
                )),
                _ => return Err(self.error(format!("expected `=` or `{{` after `{name}`"))),
            }
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.bump();
        }
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || "-_.%@*".contains(c) {
                name.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if name.is_empty() {
            let c = self.peek().unwrap_or(' ');
            return Err(self.error(format!("unexpected `{c}`")));
        }
        Ok(name)
    }

    /// The rest of the line, or a quoted string.
    fn value(&mut self) -> Result<String, SyntaxError> {
        self.skip_blanks();
        if self.peek() == Some('"') {
            let opened = self.line;
            self.bump();
            let mut value = String::new();
            loop {
                match self.bump() {
                    None => {
                        return Err(SyntaxError {
                            line: opened,
                            message: "a quoted value is not closed".into(),
                        })
                    }
                    Some('"') => return Ok(value),
                    Some('\\') => match self.bump() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some(c) => value.push(c),
                        None => {}
                    },
                    Some(c) => value.push(c),
                }
            }
        }
        let mut value = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' || c == '#' || c == '}' {
                break;
            }
            value.push(c);
            self.bump();
        }
        Ok(value.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_values_comments_and_quotes() {
        let text = "# a comment\n\
                    connections {\n\
                    \x20   gw { # trailing comment\n\
                    \x20       remote_addrs = 192.0.2.1, 192.0.2.2\n\
                    \x20       local { auth = psk }\n\
                    \x20   }\n\
                    }\n\
                    secrets {\n\
                    \x20   ike { secret = \"a \\\"quoted\\\" # not a comment\" }\n\
                    }\n";
        let root = parse(text).unwrap();
        let gw = root.section("connections").unwrap().section("gw").unwrap();
        assert_eq!(gw.line, 3);
        let addrs = gw.value("remote_addrs").unwrap();
        assert_eq!(
            (addrs.value.as_str(), addrs.line),
            ("192.0.2.1, 192.0.2.2", 4)
        );
        assert_eq!(
            gw.section("local").unwrap().value("auth").unwrap().value,
            "psk"
        );
        let secret = root.section("secrets").unwrap().section("ike").unwrap();
        assert_eq!(
            secret.value("secret").unwrap().value,
            "a \"quoted\" # not a comment"
        );
    }

    #[test]
    fn errors_name_their_line() {
        let err = parse("a {\n  b = 1\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("not closed"), "{err:?}");
        let err = parse("a {\n  b 1\n}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse("}\n").unwrap_err();
        assert!(err.message.contains("without a section"), "{err:?}");
        let err = parse("x : tmpl {\n}\n").unwrap_err();
        assert!(err.message.contains("template"), "{err:?}");
    }
}
