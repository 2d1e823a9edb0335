//! A connection's and its children's settings: traffic limits, lifetimes, DPD,
//! actions, reauthentication and keying tries, with their defaults.

use super::*;

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

#[test]
fn mobike_is_off_unless_configured_on() {
    let config = parse_str(&format!("{BASE}{CHILD}"), "t").unwrap();
    assert!(!config.engine.connections[0].mobike);
    let text = BASE.replace("psk = \"k\"\n", "psk = \"k\"\nmobike = true\n");
    let config = parse_str(&format!("{text}{CHILD}"), "t").unwrap();
    assert!(config.engine.connections[0].mobike);
}
