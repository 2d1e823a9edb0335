//! Where ternd's configuration comes from: `--config FILE`, else the system file
//! `/etc/tern/ternd.toml`; the embedded demo configuration only with `--demo`, so a
//! daemon installed on a real host never comes up with the demo's key by accident.

use std::path::{Path, PathBuf};

/// The file ternd reads when it is given neither `--config` nor `--demo`.
pub const SYSTEM_CONFIG: &str = "/etc/tern/ternd.toml";

/// The configuration ternd was asked to run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A file: `--config FILE`, or the system file.
    File(PathBuf),
    /// The embedded demo configuration (conf/ternd.toml), `--demo`.
    Demo,
}

impl ConfigSource {
    /// From the command line: `--demo` wins only when asked for (clap keeps it apart
    /// from `--config`).
    pub fn from_args(config: Option<PathBuf>, demo: bool) -> ConfigSource {
        match (config, demo) {
            (_, true) => ConfigSource::Demo,
            (Some(path), false) => ConfigSource::File(path),
            (None, false) => ConfigSource::File(PathBuf::from(SYSTEM_CONFIG)),
        }
    }

    /// The file to read again on reload; `None` for the embedded configuration.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            ConfigSource::Demo => None,
        }
    }

    /// How logs and `--check` name it.
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::Demo => "the embedded demo configuration (--demo)".to_string(),
        }
    }

    /// True when this is the system file and it does not exist: that deserves
    /// [`missing_system_config`] rather than a bare "cannot read".
    pub fn is_missing_system_file(&self) -> bool {
        matches!(self, ConfigSource::File(path)
            if path == Path::new(SYSTEM_CONFIG) && !path.exists())
    }

    /// Reads and parses the configuration; the first error if any.
    pub fn load(&self) -> anyhow::Result<tern_config::Config> {
        match self {
            _ if self.is_missing_system_file() => anyhow::bail!("{}", missing_system_config()),
            ConfigSource::Demo => Ok(tern_config::default_config()?),
            ConfigSource::File(path) => Ok(tern_config::load_file(path)?),
        }
    }
}

/// The message for a host without /etc/tern/ternd.toml.
pub fn missing_system_config() -> String {
    format!(
        "{SYSTEM_CONFIG} does not exist: write it (see ternd.toml(5) and \
         docs/CONFIGURATION.md), or name another file with --config FILE; \
         --demo runs the embedded demo configuration"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_file_unless_told_otherwise() {
        assert_eq!(
            ConfigSource::from_args(None, false),
            ConfigSource::File(PathBuf::from("/etc/tern/ternd.toml"))
        );
        assert_eq!(
            ConfigSource::from_args(Some("x.toml".into()), false),
            ConfigSource::File(PathBuf::from("x.toml"))
        );
        assert_eq!(ConfigSource::from_args(None, true), ConfigSource::Demo);
        assert_eq!(ConfigSource::Demo.path(), None);
    }

    #[test]
    fn the_missing_system_file_message_names_the_path_and_both_ways_out() {
        let message = missing_system_config();
        for needed in ["/etc/tern/ternd.toml", "--config", "--demo"] {
            assert!(message.contains(needed), "{needed}: {message}");
        }
    }

    #[test]
    fn the_demo_configuration_loads() {
        let config = ConfigSource::Demo.load().unwrap();
        assert_eq!(config.engine.connections.len(), 1);
    }
}
