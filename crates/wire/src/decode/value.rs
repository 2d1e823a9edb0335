//! A small document tree for describing messages, rendered as indented text or as
//! JSON without any dependency.

use std::fmt::Write;

/// A described value: what `ternctl decode` prints, as text or JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Number(u64),
    Text(String),
    List(Vec<Value>),
    /// Keys in the order they should be shown.
    Object(Vec<(&'static str, Value)>),
}

/// Text values longer than this are shortened in the text rendering.
const TEXT_LIMIT: usize = 64;

impl Value {
    pub fn text(value: impl std::fmt::Display) -> Value {
        Value::Text(value.to_string())
    }

    /// The value of `key` if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_scalar(&self) -> bool {
        match self {
            Value::Bool(_) | Value::Number(_) | Value::Text(_) => true,
            Value::List(items) => items
                .iter()
                .all(|v| matches!(v, Value::Number(_) | Value::Text(_))),
            Value::Object(_) => false,
        }
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out, None);
        out
    }

    /// JSON indented by two spaces per level.
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out, Some(0));
        out
    }

    /// `indent` is the current depth when pretty-printing, `None` for compact output.
    fn write_json(&self, out: &mut String, indent: Option<usize>) {
        let newline = |out: &mut String, depth: usize| {
            if indent.is_some() {
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
        };
        let inner = indent.map(|d| d + 1);
        let depth = indent.unwrap_or(0);
        match self {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Text(s) => write_json_string(s, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write_json(out, inner);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push(']');
            }
            Value::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    write_json_string(key, out);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    value.write_json(out, inner);
                }
                if !fields.is_empty() {
                    newline(out, depth);
                }
                out.push('}');
            }
        }
    }

    /// Inline form of a scalar (long text shortened).
    fn inline(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Text(s) if s.chars().count() > TEXT_LIMIT => {
                let head: String = s.chars().take(TEXT_LIMIT).collect();
                format!("{head}…")
            }
            Value::Text(s) => s.clone(),
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(Value::inline).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Object(_) => String::new(),
        }
    }

    /// Renders an object as one line — `label` then its scalar fields as
    /// `key=value` — followed by its non-scalar fields, indented.
    pub fn render_text(&self, label: &str, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        let Value::Object(fields) = self else {
            let _ = writeln!(out, "{pad}{label}: {}", self.inline());
            return;
        };
        let _ = write!(out, "{pad}{label}");
        for (key, value) in fields.iter().filter(|(_, v)| v.is_scalar()) {
            let _ = write!(out, " {key}={}", value.inline());
        }
        out.push('\n');
        for (key, value) in fields.iter().filter(|(_, v)| !v.is_scalar()) {
            match value {
                Value::List(items) => {
                    let item_label = key.strip_suffix('s').unwrap_or(key);
                    for item in items {
                        item.render_text(item_label, indent + 1, out);
                    }
                }
                other => other.render_text(key, indent + 1, out),
            }
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_nests() {
        let v = Value::Object(vec![
            ("a", Value::Text("q\"\\\n\u{1}".into())),
            ("b", Value::List(vec![Value::Number(1), Value::Bool(false)])),
        ]);
        assert_eq!(v.to_json(), r#"{"a":"q\"\\\n\u0001","b":[1,false]}"#);
        assert_eq!(
            v.to_json_pretty(),
            "{\n  \"a\": \"q\\\"\\\\\\n\\u0001\",\n  \"b\": [\n    1,\n    false\n  ]\n}"
        );
    }

    #[test]
    fn text_puts_scalars_inline_and_nests_the_rest() {
        let v = Value::Object(vec![
            ("type", Value::text("SA")),
            (
                "proposals",
                Value::List(vec![Value::Object(vec![("number", Value::Number(1))])]),
            ),
        ]);
        let mut out = String::new();
        v.render_text("payload", 0, &mut out);
        assert_eq!(out, "payload type=SA\n  proposal number=1\n");
    }
}
