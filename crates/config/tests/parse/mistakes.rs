//! Mistakes in a connection or in the TOML itself, each located and explained.

use super::*;

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
