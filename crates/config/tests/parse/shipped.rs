//! The files shipped in conf/: the demo's two sides as tern reads them.

use super::*;

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
        mobike: false,
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
            radius: None,
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
            mobike_initiator: false,
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
