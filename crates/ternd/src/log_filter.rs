//! `--log-level`: a level (`error`, `warn` or `warning`, `info`, `debug`, `trace`,
//! `off`) and, after commas, per-subsystem directives such as `tern_engine=debug`.
//!
//! tracing's `EnvFilter` takes a bare word it does not know as the name of a target
//! and logs nothing else, so a typo such as `--log-level=inof` would silence the
//! daemon. Here a bare word must be a level, and every level is checked, so a typo is
//! an error that names it.

use std::fmt;

/// The levels a directive may name, as accepted on the command line.
pub const LEVELS: &[&str] = &["error", "warn", "warning", "info", "debug", "trace", "off"];

/// A checked `--log-level` value, in the syntax `EnvFilter` understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    /// The filter the tracing subscriber is built with.
    pub fn env_filter(&self) -> tracing_subscriber::EnvFilter {
        tracing_subscriber::EnvFilter::try_new(&self.0)
            .expect("a LogFilter is checked against EnvFilter when parsed")
    }
}

impl fmt::Display for LogFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a `--log-level` value; the error says which part is wrong and what would do.
pub fn parse(text: &str) -> Result<LogFilter, String> {
    let mut directives = Vec::new();
    for directive in text.split(',').map(str::trim) {
        if directive.is_empty() {
            return Err(format!("`{text}` has an empty directive"));
        }
        directives.push(normalize(directive)?);
    }
    let filter = directives.join(",");
    tracing_subscriber::EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| format!("`{text}`: {e}"))?;
    Ok(LogFilter(filter))
}

/// One directive with its level checked and `warning` spelled `warn`.
fn normalize(directive: &str) -> Result<String, String> {
    match directive.rsplit_once('=') {
        None => level(directive).map(str::to_string).map_err(|_| {
            format!(
                "unknown log level `{directive}`: use one of {}, or TARGET=LEVEL \
                 (e.g. tern_engine=debug) for one subsystem",
                LEVELS.join(", ")
            )
        }),
        Some((target, word)) => {
            if target.trim().is_empty() {
                return Err(format!("`{directive}` names no target before `=`"));
            }
            let level = level(word.trim()).map_err(|_| {
                format!(
                    "unknown log level `{word}` in `{directive}`: use one of {}",
                    LEVELS.join(", ")
                )
            })?;
            Ok(format!("{}={level}", target.trim()))
        }
    }
}

/// A level word in the spelling `EnvFilter` takes.
fn level(word: &str) -> Result<&'static str, ()> {
    let lower = word.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "error" => "error",
        "warn" | "warning" => "warn",
        "info" => "info",
        "debug" => "debug",
        "trace" => "trace",
        "off" => "off",
        _ => return Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_level_is_accepted() {
        for (given, meant) in [
            ("error", "error"),
            ("warn", "warn"),
            ("warning", "warn"),
            ("WARNING", "warn"),
            ("info", "info"),
            ("debug", "debug"),
            ("trace", "trace"),
            ("off", "off"),
        ] {
            assert_eq!(parse(given).unwrap().to_string(), meant, "{given}");
        }
    }

    #[test]
    fn per_subsystem_directives_pass_through() {
        assert_eq!(
            parse("info, tern_engine=debug,tern_xfrm=warning")
                .unwrap()
                .to_string(),
            "info,tern_engine=debug,tern_xfrm=warn"
        );
        assert_eq!(
            parse("ternd::control=trace").unwrap().to_string(),
            "ternd::control=trace"
        );
    }

    #[test]
    fn an_unknown_level_is_an_error_naming_it() {
        let e = parse("inof").unwrap_err();
        assert!(e.contains("unknown log level `inof`"), "{e}");
        assert!(e.contains("warning"), "lists the levels: {e}");
        let e = parse("info,tern_engine=loud").unwrap_err();
        assert!(e.contains("`loud` in `tern_engine=loud`"), "{e}");
    }

    #[test]
    fn malformed_directives_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("info,").is_err());
        assert!(parse("=debug").is_err());
    }
}
