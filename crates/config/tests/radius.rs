//! `[radius]` servers and a connection's `remote_auth = "eap-radius"`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

mod common;

use common::*;
use tern_config::{load_file, parse_str};
use tern_engine::config::RemoteAuth;

const GATEWAY: &str = "[connections.rw]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk = \"k\"\nremote_auth = \"eap-radius\"\n";

#[test]
fn servers_are_read_in_order_with_their_defaults() {
    let text = format!(
        "[radius]\ntimeout_secs = 1\nnas_identifier = \"moon\"\n\
         [radius.servers.main]\naddress = \"192.0.2.53\"\nsecret = \"t0p-s3cret\"\n\
         [radius.servers.backup]\naddress = \"2001:db8::53\"\nport = 11812\nsecret = \"other\"\n\n{GATEWAY}"
    );
    let config = parse_str(&text, "test.toml").unwrap();
    assert_eq!(
        config.engine.connections[0].remote_auth,
        RemoteAuth::EapRadius
    );
    let radius = config.daemon.radius.as_ref().expect("[radius] is read");
    assert_eq!(radius.timeout, Duration::from_secs(1));
    assert_eq!(radius.tries, 3);
    assert_eq!(radius.nas_identifier, "moon");
    let servers: Vec<(&str, String)> = radius
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.address.to_string()))
        .collect();
    assert_eq!(
        servers,
        [
            ("main", "192.0.2.53:1812".into()),
            ("backup", "[2001:db8::53]:11812".into())
        ]
    );
    assert_eq!(radius.servers[0].secret.expose(), b"t0p-s3cret");
    assert!(!radius.accounting, "accounting is off unless asked");
    assert_eq!(
        radius.interim_interval, None,
        "no Interim-Update unless asked"
    );
    assert_eq!(
        radius.servers[0].accounting_address.to_string(),
        "192.0.2.53:1813"
    );
    // Debug output (logs, panics) never shows a secret.
    let shown = format!("{:?}", config.daemon);
    assert!(
        shown.contains("192.0.2.53") && !shown.contains("t0p-s3cret"),
        "{shown}"
    );
}

#[test]
fn accounting_is_turned_on_with_a_port_per_server() {
    let text = format!(
        "[radius]\naccounting = true\ninterim_interval = 600\n\
         [radius.servers.main]\naddress = \"192.0.2.53\"\naccounting_port = 11813\nsecret = \"s\"\n\n{GATEWAY}"
    );
    let config = parse_str(&text, "test.toml").unwrap();
    let radius = config.daemon.radius.as_ref().unwrap();
    assert!(radius.accounting);
    assert_eq!(radius.interim_interval, Some(Duration::from_secs(600)));
    assert_eq!(radius.servers[0].address.to_string(), "192.0.2.53:1812");
    assert_eq!(
        radius.servers[0].accounting_address.to_string(),
        "192.0.2.53:11813"
    );
    let bad = format!(
        "[radius]\naccounting = \"yes\"\n[radius.servers.main]\naddress = \"192.0.2.53\"\nsecret = \"s\"\n\n{GATEWAY}"
    );
    assert!(parse_str(&bad, "test.toml").is_err());
}

#[test]
fn radius_mistakes_are_located() {
    assert_error(
        GATEWAY,
        5,
        15,
        "needs RADIUS servers: add [radius.servers.NAME]",
    );
    assert_error(
        "[radius.servers.a]\naddress = \"radius.example\"\nsecret = \"s\"\n",
        2,
        11,
        "not an IPv4 or IPv6 address",
    );
    assert_error(
        "[radius.servers.a]\naddress = \"192.0.2.1\"\n",
        1,
        1,
        "missing key `secret` (or `secret_file`) in [radius.servers.a]",
    );
    assert_error(
        "[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret = \"s\"\nsecret_file = \"f\"\n",
        4,
        15,
        "set either `secret` or `secret_file`",
    );
    assert_error(
        "[radius]\ntries = 0\n[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret = \"s\"\n",
        2,
        9,
        "between 1 and 10",
    );
    assert_error(
        "[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret = \"s\"\nsecrets = \"t\"\n",
        4,
        1,
        "secrets",
    );
    assert_error(
        "[radius]\ninterim_interval = 30\n[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret = \"s\"\n",
        2,
        20,
        "0 (no Interim-Update) or at least 60 seconds",
    );
    assert_error(
        "[radius]\ninterim_interval = -1\n[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret = \"s\"\n",
        2,
        20,
        "interim_interval",
    );
    assert_error(
        "[radius]\ntries = 2\n",
        1,
        1,
        "[radius] needs at least one server",
    );
}

#[test]
fn secret_file_is_read_only_when_other_users_have_no_access() {
    let dir = std::env::temp_dir().join(format!("tern-radius-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let secret: PathBuf = dir.join("radius.secret");
    std::fs::write(&secret, "t0p-s3cret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.join("ternd.toml");
    std::fs::write(
        &config,
        format!("[radius.servers.a]\naddress = \"192.0.2.1\"\nsecret_file = \"radius.secret\"\n{GATEWAY}"),
    )
    .unwrap();
    let loaded = load_file(&config).unwrap();
    assert_eq!(
        loaded.daemon.radius.unwrap().servers[0].secret.expose(),
        b"t0p-s3cret"
    );

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (3, 15), "{e}");
    assert!(
        e.message.contains("is readable by every user (mode 0644)"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
