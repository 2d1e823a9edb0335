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

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(addr: &str, prefix_len: u8) -> TsConfig {
    TsConfig {
        addr: ip(addr),
        prefix_len,
        protocol: 0,
        port_start: 0,
        port_end: 65535,
    }
}

fn demo_connection(
    local: &str,
    remote: &str,
    local_id: &str,
    remote_id: &str,
    local_net: &str,
    remote_net: &str,
) -> Connection {
    Connection {
        name: "demo".into(),
        local_addrs: vec![ip(local)],
        remote_addrs: vec![ip(remote)],
        remote_port: 500,
        local_id: Identity::Fqdn(local_id.into()),
        remote_id: Some(Identity::Fqdn(remote_id.into())),
        auth: AuthConfig::Psk(b"tern-demo-psk-change-me".to_vec()),
        remote_auth: Default::default(),
        ike_proposals: vec![IkeProposal {
            encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
            integrity: vec![],
            prf: vec![Prf::HmacSha256],
            key_exchange: vec![KeyExchange::X25519],
        }],
        children: vec![ChildConfig {
            name: "net".into(),
            local_ts: vec![net(local_net, 24)],
            remote_ts: vec![net(remote_net, 24)],
            esp_proposals: vec![EspProposal {
                encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
                integrity: vec![],
                key_exchange: vec![],
                esn: false,
            }],
            mode: Mode::Tunnel,
            start_action: StartAction::None,
            lifetime: Default::default(),
            traffic: Default::default(),
            dpd_action: Default::default(),
            close_action: Default::default(),
        }],
        start_action: StartAction::None,
        lifetime: tern_engine::config::Lifetime::ike_default(),
        dpd_delay: Duration::ZERO,
        reauth_time: Duration::ZERO,
        keyingtries: 0,
        rekey_adapt: true,
        pools: Vec::new(),
    }
}

#[test]
fn default_config_is_the_moon_side_of_the_demo() {
    let config = tern_config::default_config().unwrap();
    let expected = Config {
        daemon: DaemonConfig {
            socket: PathBuf::from("/run/tern/ternd.sock"),
            socket_group: None,
            listen: vec![ip("0.0.0.0"), ip("::")],
            port: 500,
            nat_port: 4500,
            workers: None,
            metrics_listen: None,
            history_length: 16,
            state_file: PathBuf::from("/var/lib/tern/history.json"),
        },
        engine: EngineConfig {
            connections: vec![demo_connection(
                "192.0.2.1",
                "192.0.2.2",
                "moon.tern.example",
                "sun.tern.example",
                "10.1.0.0",
                "10.2.0.0",
            )],
            retransmit: RetransmitConfig {
                base: Duration::from_secs(4),
                factor_tenths: 18,
                tries: 5,
            },
            cookie_threshold: 30,
            half_open_per_address: 5,
            half_open_limit: 5_000,
            ike_port: 500,
            nat_port: 4500,
            nat_keepalive: Duration::from_secs(20),
            fragmentation: Fragmentation {
                enabled: true,
                size_v4: 576,
                size_v6: 1280,
            },
            emulate: Default::default(),
        },
    };
    assert_eq!(config, expected);
    assert_eq!(config.daemon, DaemonConfig::default());
    assert_eq!(tern_config::DEFAULT_SOCKET, tern_control::DEFAULT_SOCKET);
}

#[test]
fn sun_example_mirrors_the_default() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conf/examples/demo-sun.toml");
    let config = load_file(&path).unwrap();
    assert_eq!(config.daemon, DaemonConfig::default());
    assert_eq!(
        config.engine,
        EngineConfig {
            connections: vec![demo_connection(
                "192.0.2.2",
                "192.0.2.1",
                "sun.tern.example",
                "moon.tern.example",
                "10.2.0.0",
                "10.1.0.0",
            )],
            retransmit: RetransmitConfig::default(),
            ..EngineConfig::default()
        }
    );
}

#[test]
fn conn_info_describes_the_demo_without_the_key() {
    let config = tern_config::default_config().unwrap();
    let info = tern_config::conn_info(&config.engine.connections[0]);
    assert_eq!(info.local_id, "moon.tern.example");
    assert_eq!(info.remote_id.as_deref(), Some("sun.tern.example"));
    assert_eq!(info.ike_proposals, ["aes128gcm16-prfsha256-x25519"]);
    assert_eq!(info.children[0].local_ts, ["10.1.0.0/24"]);
    assert_eq!(info.children[0].esp_proposals, ["aes128gcm16"]);
    assert_eq!(info.children[0].mode, "tunnel");
    assert!(!format!("{info:?}").contains("change-me"));
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

#[test]
fn minimal_connection_gets_the_defaults() {
    let config = parse_str(BASE, "test.toml").unwrap();
    let c = &config.engine.connections[0];
    assert!(c.local_addrs.is_empty() && c.remote_addrs.is_empty());
    assert_eq!(c.remote_id, None);
    assert_eq!(c.ike_proposals.len(), 2);
    assert_eq!(c.ike_proposals[1].prf, [Prf::HmacSha384]);
    assert!(c.children.is_empty());
    assert!(parse_str("", "empty.toml")
        .unwrap()
        .engine
        .connections
        .is_empty());
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let text = format!("{BASE}remote_adrs = [\"192.0.2.2\"]\n");
    assert_error(
        &text,
        5,
        1,
        "unknown key `remote_adrs` in [connections.c]; did you mean `remote_addrs`?",
    );
    assert_error(
        "[daemon]\n  sockt = \"/x\"\n",
        2,
        3,
        "did you mean `socket`?",
    );
    assert_error("[deamon]\n", 1, 2, "did you mean `daemon`?");
    let child = format!("{BASE}[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\nmdoe = \"tunnel\"\n");
    assert_error(&child, 8, 1, "did you mean `mode`?");
    assert_error(
        "[daemon]\nwhatever = 1\n",
        2,
        1,
        "known keys: socket, listen, port, nat_port",
    );
}

#[test]
fn bad_proposal_keyword_is_pointed_at() {
    let text = format!("{BASE}proposals = [\"aes128gcm16-prfsha256-modp768\"]\n");
    // Column of `modp768` inside the string.
    assert_error(
        &text,
        5,
        37,
        "unsupported algorithm `modp768` in IKE proposal; tern supports",
    );
    let esp = format!("{BASE}[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\nesp_proposals = [\"aes128gcm16\", \"serpent256\"]\n");
    assert_error(
        &esp,
        8,
        34,
        "unsupported algorithm `serpent256` in ESP proposal",
    );
    let empty = format!("{BASE}proposals = []\n");
    assert_error(&empty, 5, 13, "at least one proposal");
}

#[test]
fn bad_traffic_selectors() {
    let child = |local: &str| {
        format!("{BASE}[connections.c.children.n]\nlocal_ts = [\"{local}\"]\nremote_ts = [\"10.2.0.0/24\"]\n")
    };
    assert_error(&child("10.1.0.0/33"), 6, 23, "prefix length `33`");
    assert_error(
        &child("10.1.0.9/24"),
        6,
        14,
        "host bits set; did you mean `10.1.0.0/24`?",
    );
    assert_error(
        &child("10.1.0/24"),
        6,
        14,
        "`10.1.0` is not an IPv4 or IPv6 address",
    );
    assert_error(&child("10.1.0.0/24[tcp/99999]"), 6, 30, "not a port number");
    let missing = format!("{BASE}[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\n");
    assert_error(
        &missing,
        5,
        1,
        "missing key `remote_ts` in [connections.c.children.n]",
    );
}

#[test]
fn missing_local_id_points_at_the_section() {
    assert_error(
        "# comment\n[connections.c]\nauth = \"psk\"\npsk = \"k\"\n",
        2,
        1,
        "missing key `local_id` in [connections.c]",
    );
}

#[test]
fn psk_and_psk_file_are_exclusive() {
    let both = format!("{BASE}psk_file = \"k.psk\"\n");
    assert_error(
        &both,
        5,
        1,
        "set either `psk` or `psk_file` in [connections.c], not both",
    );
    let neither = "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\n";
    assert_error(neither, 1, 1, "missing key `psk` (or `psk_file`)");
    assert_error(
        &BASE.replace("psk = \"k\"", "psk = \"0xzz\""),
        4,
        7,
        "hex digits",
    );
}

#[test]
fn values_of_the_wrong_kind() {
    assert_error(
        "[daemon]\nport = \"500\"\n",
        2,
        8,
        "`daemon.port` must be an integer, not a string",
    );
    assert_error("[daemon]\nport = 0\n", 2, 8, "between 1 and 65535");
    assert_error(
        "[daemon]\nlisten = [\"0.0.0.0\", 7]\n",
        2,
        22,
        "must hold strings, not an integer",
    );
    assert_error(
        "[daemon]\nlisten = [\"moon\"]\n",
        2,
        11,
        "`moon` is not an IPv4 or IPv6 address",
    );
    assert_error(
        "[retransmit]\nfactor = 0.5\n",
        2,
        10,
        "between 1.0 and 10.0",
    );
    assert_error(
        &BASE.replace("auth = \"psk\"", "auth = \"eap\""),
        3,
        8,
        "unsupported auth method `eap`; tern supports: psk, pubkey",
    );
    assert_error(
        &BASE.replace("\"moon\"", "\"dn:CN=moon, Q=1\""),
        2,
        13,
        "unknown DN attribute `Q`",
    );
    assert_error(
        &format!("{BASE}start_action = \"strat\"\n"),
        5,
        16,
        "did you mean `start`?",
    );
    assert_error("connections = 5\n", 1, 15, "must be a table");
}

#[test]
fn retransmit_settings() {
    let config = parse_str(
        "[retransmit]\nbase_secs = 0.5\nfactor = 2\ntries = 3\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        config.engine.retransmit,
        RetransmitConfig {
            base: Duration::from_millis(500),
            factor_tenths: 20,
            tries: 3
        }
    );
}

#[test]
fn cookie_and_nat_settings_live_in_daemon() {
    let config = parse_str("[daemon]\ncookie_threshold = 0\n", "t").unwrap();
    assert_eq!(config.engine.cookie_threshold, 0);
    assert_eq!(config.daemon, DaemonConfig::default());
    let config = parse_str("[daemon]\nnat_port = 4600\nnat_keepalive = \"25s\"\n", "t").unwrap();
    assert_eq!(
        config.engine.nat_port, 4600,
        "the engine floats to the daemon's port"
    );
    assert_eq!(config.engine.nat_keepalive, Duration::from_secs(25));
    assert_error(
        "[daemon]\ncookie_threshold = -1\n",
        2,
        20,
        "must be between 0 and 4294967295",
    );
}

#[test]
fn half_open_limits_live_in_daemon_and_are_at_least_one() {
    let config = parse_str("", "t").unwrap();
    assert_eq!(
        (
            config.engine.half_open_per_address,
            config.engine.half_open_limit
        ),
        (5, 5_000)
    );
    let config = parse_str(
        "[daemon]\nhalf_open_per_address = 2\nhalf_open_limit = 100\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        (
            config.engine.half_open_per_address,
            config.engine.half_open_limit
        ),
        (2, 100)
    );
    assert_error(
        "[daemon]\nhalf_open_limit = 0\n",
        2,
        19,
        "must be between 1 and 4294967295",
    );
}

#[test]
fn traffic_limits_default_like_strongswan() {
    let with_child_lines = |lines: &str| {
        format!(
            "{}\n[connections.c.children.net]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n{lines}\n",
            "[connections.c]\nremote_addrs = [\"192.0.2.2\"]\nlocal_id = \"a\"\nauth = \"psk\"\npsk = \"0123456789abcdef0123\""
        )
    };
    let config = parse_str(&with_child_lines(""), "t").unwrap();
    assert_eq!(
        config.engine.connections[0].children[0].traffic,
        Default::default(),
        "off unless set"
    );
    let config = parse_str(
        &with_child_lines("rekey_bytes = 1000000\nrekey_packets = 5000\nlife_packets = 8000"),
        "t",
    )
    .unwrap();
    let t = config.engine.connections[0].children[0].traffic;
    assert_eq!(
        (t.rekey_bytes, t.life_bytes, t.rand_bytes),
        (1_000_000, 1_100_000, 100_000)
    );
    assert_eq!(
        (t.rekey_packets, t.life_packets, t.rand_packets),
        (5000, 8000, 500),
        "rand_packets: the difference, but at most a tenth of rekey_packets"
    );
    let e = parse_str(
        &with_child_lines("rekey_bytes = 1000\nlife_bytes = 1000"),
        "t",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("life_bytes (1000) must be more than rekey_bytes (1000)"),
        "{e}"
    );
    assert_eq!(e.line, 10, "{e}");
}

#[test]
fn starting_needs_a_remote_address() {
    assert_error(
        &format!("{BASE}start_action = \"start\"\n"),
        5,
        16,
        "needs `remote_addrs`",
    );
    let child = format!("{BASE}[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\nstart_action = \"start\"\n");
    assert_error(&child, 8, 16, "needs `remote_addrs`");
    let ok = format!("{BASE}remote_addrs = [\"192.0.2.2\"]\nstart_action = \"start\"\n");
    assert_eq!(
        parse_str(&ok, "t").unwrap().engine.connections[0].start_action,
        StartAction::Start
    );
}

#[test]
fn remote_id_any() {
    let text = format!("{BASE}remote_id = \"%any\"\n");
    assert_eq!(
        parse_str(&text, "t").unwrap().engine.connections[0].remote_id,
        None
    );
}

#[test]
fn toml_syntax_errors_are_located() {
    let e = error("[daemon]\nport = \n");
    assert_eq!((e.line, e.column), (2, 8), "{e}");
    assert!(!e.message.contains('\n'), "{e}");
    let e = error("[connections.c]\nlocal_id = \"a\"\nlocal_id = \"b\"\n");
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn bad_connection_names() {
    assert_error(
        "[connections.\"my conn\"]\nlocal_id = \"a\"\n",
        1,
        14,
        "connection name `my conn`",
    );
}

/// A fresh directory under the system temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tern-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn psk_file_may_be_read_by_its_group_but_never_written_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("psk-group");
    let key = dir.0.join("demo.psk");
    std::fs::write(&key, "0x00112233\n").unwrap();
    let config = dir.0.join("ternd.toml");
    std::fs::write(
        &config,
        "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk_file = \"demo.psk\"\n",
    )
    .unwrap();

    // docs/CONFIGURATION.md: 0600, or 0640 for a group that may read the keys.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let loaded = load_file(&config).unwrap();
    assert_eq!(
        loaded.engine.connections[0].auth,
        AuthConfig::Psk(vec![0x00, 0x11, 0x22, 0x33])
    );

    // Anyone who may write it chooses the key: refused, where it is named.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o602)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (4, 12), "{e}");
    assert!(
        e.message.contains("is writable by every user (mode 0602)")
            && e.message.contains("chmod o-rwx"),
        "{e}"
    );
}

#[test]
fn psk_file_must_not_be_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("psk");
    let key = dir.0.join("demo.psk");
    std::fs::write(&key, "0x00112233\n").unwrap();
    let config = dir.0.join("ternd.toml");
    std::fs::write(
        &config,
        "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk_file = \"demo.psk\"\n",
    )
    .unwrap();

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (4, 12), "{e}");
    assert!(
        e.message.contains("readable by every user (mode 0644)"),
        "{e}"
    );
    assert!(e.message.contains("chmod o-r"), "{e}");
    assert_eq!(e.file, config.display().to_string());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = load_file(&config).unwrap();
    assert_eq!(
        loaded.engine.connections[0].auth,
        AuthConfig::Psk(vec![0x00, 0x11, 0x22, 0x33])
    );

    std::fs::remove_file(&key).unwrap();
    let e = load_file(&config).unwrap_err();
    assert!(e.message.contains("cannot read psk_file"), "{e}");
}

#[test]
fn unreadable_config_file() {
    let e = load_file(std::path::Path::new("/nonexistent/ternd.toml")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ternd.toml: cannot read the configuration"),
        "{e}"
    );
}

const CHILD: &str =
    "[connections.c.children.n]\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n";

#[test]
fn child_lifetimes_default_like_strongswan() {
    let config = parse_str(&format!("{BASE}{CHILD}"), "t").unwrap();
    let l = config.engine.connections[0].children[0].lifetime;
    assert_eq!(l.rekey_time, std::time::Duration::from_secs(3600));
    assert_eq!(l.life_time, std::time::Duration::from_secs(3960));
    assert_eq!(l.rand_time, std::time::Duration::from_secs(360));

    let config = parse_str(&format!("{BASE}{CHILD}rekey_time = \"45m\"\n"), "t").unwrap();
    let l = config.engine.connections[0].children[0].lifetime;
    assert_eq!(
        l.life_time,
        std::time::Duration::from_secs(2970),
        "rekey_time + 10 %"
    );
    assert_eq!(l.rand_time, std::time::Duration::from_secs(270));

    let config = parse_str(
        &format!("{BASE}{CHILD}rekey_time = 20\nlife_time = \"1m\"\nrand_time = 0\n"),
        "t",
    )
    .unwrap();
    let l = config.engine.connections[0].children[0].lifetime;
    assert_eq!(
        (
            l.rekey_time.as_secs(),
            l.life_time.as_secs(),
            l.rand_time.as_secs()
        ),
        (20, 60, 0)
    );
}

#[test]
fn a_life_time_not_past_rekey_time_is_refused_where_it_is_written() {
    let e = error(&format!(
        "{BASE}{CHILD}rekey_time = \"1h\"\nlife_time = \"45m\"\n"
    ));
    assert_eq!((e.line, e.column), (9, 13), "{e}");
    assert!(
        e.message
            .contains("life_time (45m) must be longer than rekey_time (1h)"),
        "{e}"
    );
    let e = error(&format!("{BASE}{CHILD}rekey_time = \"1x\"\n"));
    assert!(e.message.contains("`1x` is not a duration"), "{e}");
}

/// BASE with a peer address, so actions that initiate are allowed.
fn with_peer() -> String {
    format!("{BASE}remote_addrs = [\"192.0.2.2\"]\n")
}

#[test]
fn dpd_is_off_and_actions_are_passive_by_default() {
    let config = parse_str(&format!("{BASE}{CHILD}"), "t").unwrap();
    let c = &config.engine.connections[0];
    assert_eq!(c.dpd_delay, Duration::ZERO);
    assert_eq!(c.children[0].dpd_action, DpdAction::Clear);
    assert_eq!(c.children[0].close_action, CloseAction::None);
    let info = tern_config::conn_info(c);
    assert_eq!(info.dpd_delay, None);
    assert_eq!(
        (
            info.children[0].dpd_action.as_str(),
            info.children[0].close_action.as_str()
        ),
        ("clear", "none")
    );
}

#[test]
fn dpd_settings_are_read() {
    let text = format!(
        "{}dpd_delay = \"30s\"\ndpd_timeout = \"150s\"\n{CHILD}dpd_action = \"restart\"\nclose_action = \"start\"\n",
        with_peer()
    );
    let config = parse_str(&text, "t").unwrap();
    let c = &config.engine.connections[0];
    assert_eq!(c.dpd_delay, Duration::from_secs(30));
    assert_eq!(c.children[0].dpd_action, DpdAction::Restart);
    assert_eq!(c.children[0].close_action, CloseAction::Start);
    assert_eq!(tern_config::conn_info(c).dpd_delay.as_deref(), Some("30s"));

    let text = format!(
        "{}dpd_delay = 10\n{CHILD}dpd_action = \"clear\"\nclose_action = \"none\"\n",
        with_peer()
    );
    let config = parse_str(&text, "t").unwrap();
    let c = &config.engine.connections[0];
    assert_eq!(c.dpd_delay, Duration::from_secs(10));
    assert_eq!(c.children[0].dpd_action, DpdAction::Clear);
    assert_eq!(c.children[0].close_action, CloseAction::None);
}

#[test]
fn bad_dpd_values_are_pointed_at() {
    assert_error(
        &format!("{BASE}dpd_delay = \"soon\"\n"),
        5,
        13,
        "`soon` is not a duration",
    );
    assert_error(
        &format!("{BASE}dpd_delay = -5\n"),
        5,
        13,
        "a duration cannot be negative",
    );
    assert_error(
        &format!("{BASE}dpd_timeout = \"2x\"\n"),
        5,
        15,
        "`2x` is not a duration",
    );
    assert_error(
        &format!("{BASE}dpd_dealy = \"30s\"\n"),
        5,
        1,
        "did you mean `dpd_delay`?",
    );
    let peer = with_peer();
    // Line 6 is the child's header in `{peer}{CHILD}`; its keys follow on line 9.
    assert_error(
        &format!("{peer}{CHILD}dpd_action = \"restrat\"\n"),
        9,
        14,
        "`dpd_action` must be one of clear, restart, trap, not `restrat`; did you mean `restart`?",
    );
    assert_error(
        &format!("{peer}{CHILD}close_action = \"stat\"\n"),
        9,
        16,
        "`close_action` must be one of none, start, trap, not `stat`; did you mean `start`?",
    );
    assert_error(&format!("{peer}{CHILD}dpd_action = 1\n"), 9, 14, "string");
    assert_error(
        &format!("{peer}{CHILD}close_acton = \"start\"\n"),
        9,
        1,
        "did you mean `close_action`?",
    );
}

#[test]
fn trap_is_accepted_for_all_three_actions() {
    let peer = with_peer();
    for key in ["start_action", "dpd_action", "close_action"] {
        let c = parse_str(&format!("{peer}{CHILD}{key} = \"trap\"\n"), "test.toml").unwrap();
        let child = &c.engine.connections[0].children[0];
        let got = match key {
            "start_action" => child.start_action == StartAction::Trap,
            "dpd_action" => child.dpd_action == DpdAction::Trap,
            _ => child.close_action == CloseAction::Trap,
        };
        assert!(got, "{key} = trap was not read as trap: {child:?}");
    }
}

#[test]
fn trap_needs_a_remote_address() {
    let e = error(&format!("{BASE}{CHILD}start_action = \"trap\"\n"));
    assert!(
        e.message
            .contains("`start_action = trap` needs `remote_addrs` in [connections.c]"),
        "{e}"
    );
}

#[test]
fn actions_that_initiate_need_a_remote_address() {
    let e = error(&format!("{BASE}{CHILD}dpd_action = \"restart\"\n"));
    assert_eq!((e.line, e.column), (8, 14), "{e}");
    assert!(
        e.message
            .contains("`dpd_action = restart` needs `remote_addrs` in [connections.c]"),
        "{e}"
    );
    let e = error(&format!("{BASE}{CHILD}close_action = \"start\"\n"));
    assert_eq!((e.line, e.column), (8, 16), "{e}");
    assert!(
        e.message
            .contains("`close_action = start` needs `remote_addrs`"),
        "{e}"
    );
    // Passive values need no peer address.
    parse_str(
        &format!("{BASE}{CHILD}dpd_action = \"clear\"\nclose_action = \"none\"\n"),
        "t",
    )
    .unwrap();
}

#[test]
fn metrics_listen_is_an_address_and_port_and_off_by_default() {
    let parse = |text: &str| tern_config::parse_str(text, "test.toml");
    assert_eq!(parse("[daemon]\n").unwrap().daemon.metrics_listen, None);
    assert_eq!(
        parse("[daemon]\nmetrics_listen = \"127.0.0.1:9719\"\n")
            .unwrap()
            .daemon
            .metrics_listen,
        Some("127.0.0.1:9719".parse().unwrap())
    );
    assert_eq!(
        parse("[daemon]\nmetrics_listen = \"[::1]:9719\"\n")
            .unwrap()
            .daemon
            .metrics_listen,
        Some("[::1]:9719".parse().unwrap())
    );
    for bad in ["127.0.0.1", "localhost:9719", ""] {
        let err = parse(&format!("[daemon]\nmetrics_listen = \"{bad}\"\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("`daemon.metrics_listen` must be an address and port"),
            "{err}"
        );
    }
}

#[test]
fn history_length_and_state_file() {
    let parse = |text: &str| tern_config::parse_str(text, "test.toml");
    let daemon = parse("[daemon]\nhistory_length = 100\nstate_file = \"/tmp/h.json\"\n")
        .unwrap()
        .daemon;
    assert_eq!(daemon.history_length, 100);
    assert_eq!(daemon.state_file, PathBuf::from("/tmp/h.json"));
    for bad in ["0", "10001"] {
        let err = parse(&format!("[daemon]\nhistory_length = {bad}\n")).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "`daemon.history_length` must be between 1 and 10000, not {bad}"
            )),
            "{err}"
        );
    }
    let err = parse("[daemon]\nstate_file = \"\"\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("`daemon.state_file` must not be empty"),
        "{err}"
    );
}

#[test]
fn workers_is_a_count_of_engines() {
    let parse = |text: &str| tern_config::parse_str(text, "test.toml");
    assert_eq!(
        parse("[daemon]\nworkers = 2\n").unwrap().daemon.workers,
        Some(2)
    );
    assert_eq!(parse("[daemon]\n").unwrap().daemon.workers, None);
    for bad in ["0", "257"] {
        let err = parse(&format!("[daemon]\nworkers = {bad}\n")).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "`daemon.workers` must be between 1 and 256, not {bad}"
            )),
            "{err}"
        );
    }
    assert!(parse("[daemon]\nworkers = \"two\"\n").is_err());
}

#[test]
fn reauth_time_is_off_unless_set() {
    let config = parse_str(&format!("{BASE}{CHILD}"), "t").unwrap();
    assert!(config.engine.connections[0].reauth_time.is_zero());
    let text = BASE.replace("psk = \"k\"\n", "psk = \"k\"\nreauth_time = \"20s\"\n");
    let config = parse_str(&format!("{text}{CHILD}"), "t").unwrap();
    assert_eq!(
        config.engine.connections[0].reauth_time,
        std::time::Duration::from_secs(20)
    );
}

#[test]
fn keyingtries_defaults_to_until_the_peer_answers() {
    let config = parse_str(&format!("{BASE}{CHILD}"), "t").unwrap();
    assert_eq!(config.engine.connections[0].keyingtries, 0);
    let text = BASE.replace("psk = \"k\"\n", "psk = \"k\"\nkeyingtries = 3\n");
    let config = parse_str(&format!("{text}{CHILD}"), "t").unwrap();
    assert_eq!(config.engine.connections[0].keyingtries, 3);
    let bad = BASE.replace("psk = \"k\"\n", "psk = \"k\"\nkeyingtries = -1\n");
    let line = bad
        .lines()
        .position(|l| l.starts_with("keyingtries"))
        .unwrap()
        + 1;
    assert_error(
        &format!("{bad}{CHILD}"),
        line,
        15,
        "`connections.c.keyingtries` must be between 0 and 10000, not -1",
    );
}
