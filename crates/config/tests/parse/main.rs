//! The configuration files shipped in conf/ and the errors every kind of mistake gets.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use tern_config::{load_file, parse_str, Config, ConfigError, DaemonConfig};
use tern_engine::config::{
    AuthConfig, ChildConfig, CloseAction, Connection, DpdAction, Encryption, EngineConfig,
    EspProposal, Fragmentation, Identity, IkeProposal, KeyExchange, Mode, Prf, RetransmitConfig,
    StartAction, TsConfig,
};

mod connection;
mod daemon;
mod files;
mod mistakes;
mod shipped;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A minimal valid connection, to which each test adds one mistake.
const BASE: &str = r#"[connections.c]
local_id = "moon"
auth = "psk"
psk = "k"
"#;

fn error(text: &str) -> ConfigError {
    match parse_str(text, "test.toml") {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e,
    }
}

fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
    let e = error(text);
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("test.toml", line, column),
        "{e}"
    );
    assert!(e.message.contains(needle), "`{needle}` not in: {e}");
}

const CHILD: &str =
    "[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n";

/// BASE with a peer address, so actions that initiate are allowed.
fn with_peer() -> String {
    format!("{BASE}remote_addrs = [\"192.0.2.2\"]\n")
}
