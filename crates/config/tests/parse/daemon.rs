//! Daemon-wide settings: retransmission, cookies, NAT, half-open limits, metrics,
//! history and workers.

use super::*;

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
