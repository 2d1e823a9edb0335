//! `ternctl diagnose --config FILE`: loads the file as ternd would and says which
//! of its settings will hurt (tern-engine's lint), one sentence each. Nothing
//! here talks to the daemon.

use std::path::Path;

use serde_json::json;
use tern_engine::Finding;

/// What checking a file came to, with everything needed to print it.
pub enum Outcome {
    /// The file loads; `findings` is empty when nothing will hurt.
    Loaded {
        origin: String,
        findings: Vec<Finding>,
    },
    /// The file does not load: its errors, each with file:line:column.
    DoesNotLoad { origin: String, errors: Vec<String> },
}

/// Loads `path` with tern-config and lints what it holds.
pub fn config_file(path: &Path) -> Outcome {
    let origin = path.display().to_string();
    match tern_config::check_file(path) {
        Ok(config) => Outcome::Loaded {
            origin,
            findings: tern_engine::lint(&config.engine),
        },
        Err(errors) => Outcome::DoesNotLoad {
            origin,
            errors: errors.iter().map(ToString::to_string).collect(),
        },
    }
}

impl Outcome {
    /// 0 clean, 1 findings, 2 a file that does not load.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Loaded { findings, .. } if findings.is_empty() => 0,
            Outcome::Loaded { .. } => 1,
            Outcome::DoesNotLoad { .. } => 2,
        }
    }

    pub fn text_stdout(&self) -> String {
        let Outcome::Loaded { origin, findings } = self else {
            return String::new();
        };
        if findings.is_empty() {
            return format!("{origin}: no problems found\n");
        }
        let mut text: String = findings.iter().map(|f| format!("{f}\n")).collect();
        text.push_str(&format!("{origin}: {} problem(s) found\n", findings.len()));
        text
    }

    pub fn text_stderr(&self) -> String {
        match self {
            Outcome::Loaded { .. } => String::new(),
            Outcome::DoesNotLoad { origin, errors } => {
                let mut text: String = errors.iter().map(|e| format!("{e}\n")).collect();
                text.push_str(&format!("{origin}: {} error(s)\n", errors.len()));
                text
            }
        }
    }

    /// `{"config": FILE, "findings": [{kind, connection, child, setting, message}]}`.
    pub fn json_stdout(&self) -> String {
        let Outcome::Loaded { origin, findings } = self else {
            return String::new();
        };
        let findings: Vec<_> = findings
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind.code(),
                    "connection": f.connection,
                    "child": f.child,
                    "setting": f.setting,
                    "message": f.message,
                })
            })
            .collect();
        pretty(&json!({ "config": origin, "findings": findings }))
    }

    /// Failures as the other commands report them under `--json`, with the file's
    /// errors listed.
    pub fn json_stderr(&self) -> String {
        let code = self.exit_code();
        match self {
            Outcome::Loaded { .. } => String::new(),
            Outcome::DoesNotLoad { origin, errors } => compact(&json!({
                "error": format!("{origin} does not load: {} error(s)", errors.len()),
                "errors": errors,
                "exit_status": code,
            })),
        }
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values serialize") + "\n"
}

fn compact(value: &serde_json::Value) -> String {
    value.to_string() + "\n"
}
