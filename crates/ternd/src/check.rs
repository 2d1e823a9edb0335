//! `ternd --check`: validates the configuration ternd would run with and starts
//! nothing. Every error is printed (file:line:column: message), not only the first,
//! so one run of `--check` is enough to fix a file; a sound file prints the
//! connections it holds, then the lint's warnings (settings that load but will
//! hurt; they do not change the exit status). No key material is printed.

use std::io::Write;
use std::process::ExitCode;

use crate::config_source::{missing_system_config, ConfigSource};

/// Checks `source`, printing the verdict on `out` and errors on `err`; success
/// only when the configuration would load.
pub fn check(source: &ConfigSource, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let origin = source.describe();
    if source.is_missing_system_file() {
        let _ = writeln!(err, "ternd: {}", missing_system_config());
        return ExitCode::FAILURE;
    }
    let checked = match source {
        ConfigSource::Demo => tern_config::default_config().map_err(|e| vec![e]),
        ConfigSource::File(path) => tern_config::check_file(path),
    };
    match checked {
        Ok(config) => {
            let _ = writeln!(
                out,
                "{origin}: OK, {} connection(s)",
                config.engine.connections.len()
            );
            for conn in &config.engine.connections {
                let _ = writeln!(out, "{}", describe(&tern_config::conn_info(conn)));
            }
            let findings = tern_engine::lint(&config.engine);
            for finding in &findings {
                let _ = writeln!(out, "warning: {finding}");
            }
            if !findings.is_empty() {
                let _ = writeln!(out, "{origin}: {} warning(s)", findings.len());
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors {
                let _ = writeln!(err, "{error}");
            }
            let _ = writeln!(err, "{origin}: {} error(s)", errors.len());
            ExitCode::FAILURE
        }
    }
}

/// One connection on one line, then its children indented.
fn describe(conn: &tern_control::ConnInfo) -> String {
    let peer = if conn.remote_addrs.is_empty() {
        "any peer (responder only)".to_string()
    } else {
        conn.remote_addrs.join(", ")
    };
    let mut text = format!(
        "  {}: to {peer}, auth {}, local id {}, remote id {}",
        conn.name,
        conn.auth,
        conn.local_id,
        conn.remote_id.as_deref().unwrap_or("%any")
    );
    for child in &conn.children {
        text.push_str(&format!(
            "\n    {}: {} <=> {} ({})",
            child.name,
            child.local_ts.join(", "),
            child.remote_ts.join(", "),
            child.mode
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &ConfigSource) -> (ExitCode, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = check(source, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn the_demo_lists_its_connection_without_its_key() {
        let (code, out, err) = run(&ConfigSource::Demo);
        assert_eq!(code, ExitCode::SUCCESS, "{err}");
        assert!(out.contains("OK, 1 connection(s)"), "{out}");
        assert!(out.contains("demo: to 192.0.2.2, auth psk"), "{out}");
        assert!(out.contains("net: 10.1.0.0/24 <=> 10.2.0.0/24"), "{out}");
        assert!(!out.contains("tern-demo-psk"), "no key material: {out}");
        assert!(!out.contains("warning"), "the demo is sound: {out}");
    }

    #[test]
    fn settings_that_will_hurt_are_warnings_after_the_connections() {
        let dir = std::env::temp_dir().join(format!("tern-check-lint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ternd.toml");
        let demo = tern_config::DEFAULT_CONFIG;
        std::fs::write(
            &path,
            demo.replace(
                "[connections.demo]\n",
                "[connections.demo]\ndpd_delay = 1\n",
            ),
        )
        .unwrap();
        let (code, out, err) = run(&ConfigSource::File(path.clone()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            code,
            ExitCode::SUCCESS,
            "warnings do not fail the check: {err}"
        );
        let warning = out
            .find("warning: connection demo: dpd_delay (1s)")
            .expect(&out);
        assert!(out.find("net: 10.1.0.0/24").unwrap() < warning, "{out}");
        assert!(out.ends_with("1 warning(s)\n"), "{out}");
    }
}
