//! Reading typed values out of a parsed TOML document, with spans for every error.
//!
//! A [`TableReader`] is created with the list of keys its table may contain and rejects
//! any other key up front, suggesting the nearest known one. [`Field`]s convert values
//! and report type mismatches at the value's position.

use std::ops::Range;
use toml_edit::{Item, TableLike, Value};

use crate::error::{ConfigError, Errors, Source};
use crate::suggest::nearest;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

impl Located<&str> {
    /// The source span of bytes `within` of this string's content when the string was
    /// written without escapes (so content offsets map to source offsets); otherwise
    /// the span of the whole value.
    pub fn sub_span(&self, src: &Source<'_>, within: Range<usize>) -> Option<Range<usize>> {
        let span = self.span.clone()?;
        let raw = src.text.get(span.clone())?;
        let plain = raw.len() == self.value.len() + 2
            && (raw.starts_with('"') || raw.starts_with('\''))
            && raw.get(1..raw.len() - 1) == Some(self.value);
        if plain {
            Some(span.start + 1 + within.start..span.start + 1 + within.end)
        } else {
            Some(span)
        }
    }
}

/// One table of the document.
pub(crate) struct TableReader<'a> {
    src: Source<'a>,
    table: &'a dyn TableLike,
    /// Where errors about the table as a whole (a missing key) point.
    anchor: Option<Range<usize>>,
    /// How messages name the table, e.g. `[connections.demo]`.
    name: String,
    /// Prefix for the dotted path of the table's keys, e.g. `connections.demo.`.
    path: String,
}

impl<'a> TableReader<'a> {
    /// The document's top-level table; unknown keys are kept in `errors` and the
    /// known ones can still be read.
    pub fn root(
        src: Source<'a>,
        table: &'a dyn TableLike,
        known: &[&str],
        errors: &mut Errors,
    ) -> Self {
        let reader = TableReader {
            src,
            table,
            anchor: None,
            name: "the top level".to_string(),
            path: String::new(),
        };
        errors.extend(reader.unknown_keys(known));
        reader
    }

    /// A document's top-level table whose keys are all names the user chooses
    /// (a file of EAP users).
    pub fn open_root(src: Source<'a>, table: &'a dyn TableLike) -> Self {
        TableReader {
            src,
            table,
            anchor: None,
            name: "the top level".to_string(),
            path: String::new(),
        }
    }

    /// The key names in this table, each with its span, in file order.
    pub fn entries(&self) -> Vec<(Located<&'a str>, Field<'a>)> {
        self.table
            .iter()
            .filter_map(|(name, _)| self.field(name).map(|f| (f.key_located(), f)))
            .collect()
    }

    /// The value of `key`, if present.
    pub fn field(&self, key: &str) -> Option<Field<'a>> {
        let (key, item) = self.table.get_key_value(key)?;
        if item.is_none() {
            return None;
        }
        Some(Field {
            src: self.src,
            key: key.get(),
            key_span: key.span(),
            path: format!("{}{}", self.path, key.get()),
            item,
            fallback: self.anchor.clone(),
        })
    }

    /// The value of `key`, which must be present.
    pub fn required(&self, key: &str) -> Result<Field<'a>, ConfigError> {
        self.field(key).ok_or_else(|| {
            self.src.error(
                self.anchor.clone(),
                format!("missing key `{key}` in {}", self.name),
            )
        })
    }

    /// An error about the table as a whole.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error(self.anchor.clone(), message)
    }

    /// The dotted path of this table, e.g. `connections.demo`.
    pub fn path(&self) -> &str {
        self.path.trim_end_matches('.')
    }

    fn reject_unknown_keys(&self, known: &[&str]) -> Result<(), ConfigError> {
        match self.unknown_keys(known).into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// An error for each key not in `known`, in file order.
    fn unknown_keys(&self, known: &[&str]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (name, _) in self.table.iter() {
            if known.contains(&name) {
                continue;
            }
            let span = self
                .table
                .key(name)
                .and_then(|k| k.span())
                .or(self.anchor.clone());
            let hint = match nearest(name, known) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("known keys: {}", known.join(", ")),
            };
            errors.push(self.src.error(
                span,
                format!("unknown key `{name}` in {}; {hint}", self.name),
            ));
        }
        errors
    }
}

/// One key and its value.
pub(crate) struct Field<'a> {
    src: Source<'a>,
    key: &'a str,
    key_span: Option<Range<usize>>,
    /// Dotted path for messages, e.g. `connections.demo.local_id`.
    path: String,
    item: &'a Item,
    /// The enclosing table's anchor, for values the parser gave no span (implicit tables).
    fallback: Option<Range<usize>>,
}

impl<'a> Field<'a> {
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// Where the value was written (or its key, or its table, whichever is known).
    pub fn span(&self) -> Option<Range<usize>> {
        self.item
            .span()
            .or(self.key_span.clone())
            .or(self.fallback.clone())
    }

    /// Where the key was written.
    pub fn key_span(&self) -> Option<Range<usize>> {
        self.key_span.clone().or(self.span())
    }

    fn key_located(&self) -> Located<&'a str> {
        Located {
            value: self.key,
            span: self.key_span(),
        }
    }

    /// The text this field was read from.
    pub fn src(&self) -> &Source<'a> {
        &self.src
    }

    /// An error at `span` (part of this value), or at the value without one.
    pub fn error_at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        self.src.error(span.or(self.span()), message)
    }

    /// An error pointing at the value.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error(self.span(), message)
    }

    fn type_error(&self, expected: &str) -> ConfigError {
        self.error(format!(
            "`{}` must be {expected}, not {}",
            self.path,
            describe(self.item)
        ))
    }

    pub fn string(&self) -> Result<Located<&'a str>, ConfigError> {
        match self.item.as_value() {
            Some(Value::String(s)) => Ok(Located {
                value: s.value().as_str(),
                span: self.span(),
            }),
            _ => Err(self.type_error("a string")),
        }
    }

    pub fn boolean(&self) -> Result<bool, ConfigError> {
        match self.item.as_value() {
            Some(Value::Boolean(b)) => Ok(*b.value()),
            _ => Err(self.type_error("true or false")),
        }
    }

    pub fn integer(&self) -> Result<Located<i64>, ConfigError> {
        match self.item.as_value() {
            Some(Value::Integer(i)) => Ok(Located {
                value: *i.value(),
                span: self.span(),
            }),
            _ => Err(self.type_error("an integer")),
        }
    }

    /// A float, or an integer taken as one.
    pub fn number(&self) -> Result<Located<f64>, ConfigError> {
        match self.item.as_value() {
            Some(Value::Float(f)) => Ok(Located {
                value: *f.value(),
                span: self.span(),
            }),
            Some(Value::Integer(i)) => Ok(Located {
                value: *i.value() as f64,
                span: self.span(),
            }),
            _ => Err(self.type_error("a number")),
        }
    }

    /// An integer in `min..=max`.
    pub fn integer_in(&self, min: i64, max: i64) -> Result<i64, ConfigError> {
        let n = self.integer()?.value;
        if n < min || n > max {
            return Err(self.error(format!(
                "`{}` must be between {min} and {max}, not {n}",
                self.path
            )));
        }
        Ok(n)
    }

    /// A UDP port, 1 to 65535.
    pub fn port(&self) -> Result<u16, ConfigError> {
        let n = self.integer_in(1, u16::MAX.into())?;
        u16::try_from(n).map_err(|_| self.error("port out of range"))
    }

    /// One string, or an array of them.
    pub fn string_or_array(&self) -> Result<Vec<Located<&'a str>>, ConfigError> {
        match self.item.as_value() {
            Some(Value::String(_)) => Ok(vec![self.string()?]),
            Some(Value::Array(_)) => self.string_array(),
            _ => Err(self.type_error("a string or an array of strings")),
        }
    }

    /// An array of strings, each with its own span.
    pub fn string_array(&self) -> Result<Vec<Located<&'a str>>, ConfigError> {
        let Some(Value::Array(array)) = self.item.as_value() else {
            return Err(self.type_error("an array of strings"));
        };
        array
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(Located {
                    value: s.value().as_str(),
                    span: v.span(),
                }),
                other => Err(self.src.error(
                    other.span().or(self.span()),
                    format!(
                        "`{}` must hold strings, not {}",
                        self.path,
                        with_article(other.type_name())
                    ),
                )),
            })
            .collect()
    }

    /// A table (standard or inline) with the given known keys.
    pub fn table(&self, known: &[&str]) -> Result<TableReader<'a>, ConfigError> {
        let reader = self.any_table()?;
        reader.reject_unknown_keys(known)?;
        Ok(reader)
    }

    /// A table of `known` keys; unknown keys are kept in `errors` and the known ones
    /// can still be read. `None` (its error kept) when the value is not a table.
    pub fn table_checked(&self, known: &[&str], errors: &mut Errors) -> Option<TableReader<'a>> {
        let reader = errors.keep(self.any_table())?;
        errors.extend(reader.unknown_keys(known));
        Some(reader)
    }

    /// A table whose keys are names chosen by the user (connections, children).
    pub fn named_tables(&self) -> Result<TableReader<'a>, ConfigError> {
        self.any_table()
    }

    fn any_table(&self) -> Result<TableReader<'a>, ConfigError> {
        let Some(table) = self.item.as_table_like() else {
            return Err(self.type_error("a table"));
        };
        Ok(TableReader {
            src: self.src,
            table,
            anchor: self
                .item
                .span()
                .or(self.key_span.clone())
                .or(self.fallback.clone()),
            name: format!("[{}]", self.path),
            path: format!("{}.", self.path),
        })
    }
}

/// "a string", "an integer", ... for type mismatch messages.
fn describe(item: &Item) -> String {
    with_article(item.type_name())
}

fn with_article(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

impl Located<&str> {
    /// Parses this string with `parse`, locating its error inside the string.
    pub fn parse_with<T>(
        &self,
        src: &Source<'_>,
        parse: impl FnOnce(&str) -> Result<T, crate::error::ValueError>,
    ) -> Result<T, ConfigError> {
        parse(self.value).map_err(|e| src.error(self.sub_span(src, e.at), e.message))
    }

    /// An error pointing at this string.
    pub fn error(&self, src: &Source<'_>, message: impl Into<String>) -> ConfigError {
        src.error(self.span.clone(), message)
    }
}
