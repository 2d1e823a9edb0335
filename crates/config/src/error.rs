//! Configuration errors, located by file, line and column.

use std::fmt;
use std::ops::Range;

/// Something wrong with a configuration file, and where.
///
/// `line` and `column` count from 1; both are 0 when the error concerns the file as a
/// whole (e.g. it cannot be read), and then only the file is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// The errors found so far, in the order the parser met them: a check goes on past
/// a bad value so that `ternd --check` can show every error at once.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<ConfigError>);

impl Errors {
    /// The value, or `None` with its error kept.
    pub fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Runs one check that sets what it reads, keeping its error.
    pub fn check(&mut self, step: impl FnOnce() -> Result<(), ConfigError>) {
        self.keep(step());
    }

    pub fn push(&mut self, error: ConfigError) {
        self.0.push(error);
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = ConfigError>) {
        self.0.extend(errors);
    }

    /// How many errors so far (to tell whether a part added any).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `value` if nothing was wrong, else every error.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ConfigError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// The text being parsed and its name, to turn byte offsets into line and column.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub origin: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// An error at the start of `span` (or at the top of the file without one).
    pub fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        let (line, column) = match span {
            Some(span) => self.line_column(span.start),
            None => (1, 1),
        };
        ConfigError {
            file: self.origin.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error about the file as a whole.
    pub fn file_error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.origin.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        // Spans from the parser fall on character boundaries; be safe anyway.
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let src = Source {
            origin: "t.toml",
            text: "ab\ncdé\nf",
        };
        assert_eq!(src.line_column(0), (1, 1));
        assert_eq!(src.line_column(2), (1, 3));
        assert_eq!(src.line_column(3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(src.line_column(8), (3, 1));
        assert_eq!(src.line_column(7), (2, 4));
    }

    #[test]
    fn display_shows_the_location() {
        let src = Source {
            origin: "t.toml",
            text: "x\ny = 1",
        };
        assert_eq!(src.error(Some(2..3), "bad").to_string(), "t.toml:2:1: bad");
        assert_eq!(
            src.file_error("unreadable").to_string(),
            "t.toml: unreadable"
        );
    }
}

/// A problem inside one string value, at byte range `at` of that string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError {
    pub at: Range<usize>,
    pub message: String,
}

impl ValueError {
    pub fn new(at: Range<usize>, message: impl Into<String>) -> Self {
        ValueError {
            at,
            message: message.into(),
        }
    }
}
