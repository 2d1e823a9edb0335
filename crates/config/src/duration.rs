//! Durations as strongSwan writes them: `3600`, `90s`, `45m`, `1h`, `1d`.
//!
//! Hand-written rather than humantime: humantime wants a unit on every number
//! (`3600` alone is an error there, and the commonest value in strongSwan files),
//! and accepts what strongSwan does not (`1h 30m`, `500ms`, `1month`), so a file
//! tern loads would not load in strongSwan and `ternctl import` could not pass
//! values through as they are. The grammar is one number and one letter.

use std::time::Duration;

use crate::error::ConfigError;
use crate::reader::Field;

/// An integer number of seconds, or a string with an s/m/h/d suffix.
pub(crate) fn duration(field: &Field<'_>) -> Result<Duration, ConfigError> {
    if let Ok(seconds) = field.integer() {
        return u64::try_from(seconds.value)
            .map(Duration::from_secs)
            .map_err(|_| field.error("a duration cannot be negative"));
    }
    let text = field.string()?;
    parse(text.value).ok_or_else(|| {
        field.error(format!(
            "`{}` is not a duration; write seconds (3600) or a number with s, m, h or d (\"45m\", \"1h\")",
            text.value
        ))
    })
}

pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(scale).map(Duration::from_secs)
}

pub fn format(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse("45m"), Some(Duration::from_secs(2700)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("8h"), Some(Duration::from_secs(28800)));
        assert_eq!(parse("1d"), Some(Duration::from_secs(86400)));
        assert_eq!(parse("1w"), None);
        assert_eq!(parse("h"), None);
        assert_eq!(format(Duration::from_secs(3960)), "66m");
    }
}
