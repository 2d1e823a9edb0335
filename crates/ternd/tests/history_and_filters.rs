//! ternctl's filters (`list-sas CONN`, `list-conns CONN`), reqids, exact times and
//! JSON errors, and the SA history: absolute times, `[daemon] history_length`,
//! kept across a restart in the state file. Two ternd in network namespaces,
//! `--no-kernel`.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{moon_config, sun_config, temp_dir, Daemon, Net};
use serde_json::Value;

/// A second connection between the same two hosts, told apart by identities.
fn other_connection(local: &str, remote: &str) -> String {
    format!(
        r#"
[connections.other]
local_addrs = ["192.0.2.{local}"]
remote_addrs = ["192.0.2.{remote}"]
local_id = "other-{local}.tern.example"
remote_id = "other-{remote}.tern.example"
auth = "psk"
psk = "another-psk-for-other"

[connections.other.children.lan]
local_ts = ["10.{local}.1.0/24"]
remote_ts = ["10.{remote}.1.0/24"]
"#
    )
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// moon (with `daemon_extra` in its [daemon] section) and sun, each with the
/// connections `demo` and `other`.
fn moon_and_sun(net: &Net, dir: &std::path::Path, daemon_extra: &str) -> (Daemon, Daemon) {
    let moon_conf = moon_config(dir, "moon.toml", |text| {
        text.replace("[daemon]\n", &format!("[daemon]\n{daemon_extra}"))
            + &other_connection("1", "2")
    });
    let sun_conf = sun_config(dir, "tern-demo-psk-change-me");
    let text = std::fs::read_to_string(&sun_conf).unwrap() + &other_connection("2", "1");
    std::fs::write(&sun_conf, text).unwrap();
    let moon = Daemon::start(&net.a, dir, "moon", Some(&moon_conf));
    let sun = Daemon::start(&net.b, dir, "sun", Some(&sun_conf));
    (moon, sun)
}

#[test]
fn filters_reqids_exact_times_and_json_errors() {
    let net = Net::new("f");
    let dir = temp_dir("f");
    let (moon, _sun) = moon_and_sun(&net, &dir, "");
    assert_eq!(moon.ternctl(&["initiate", "demo"]).code, 0);

    // list-conns CONN: that one only; an unknown name is an error.
    let conns = moon.ternctl(&["--json", "list-conns", "other"]).json();
    let names: Vec<&str> = conns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other"]);
    let text = moon.ternctl(&["list-conns", "demo"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.starts_with("demo: IKEv2") && !text.stdout.contains("other:"),
        "{text:?}"
    );

    // list-sas CONN: demo has its SA, other none (but exists), nope does not exist.
    let sas = moon.ternctl(&["--json", "list-sas", "demo"]).json();
    assert_eq!(sas.as_array().unwrap().len(), 1, "{sas}");
    let child = &sas[0]["children"][0];
    assert!(child["reqid"].as_u64().unwrap() > 0, "reqid shown: {child}");
    let none = moon.ternctl(&["list-sas", "other"]);
    assert_eq!(none.code, 0, "{none:?}");
    assert_eq!(none.stdout, "no IKE SAs\n");
    let text = moon.ternctl(&["list-sas", "demo"]);
    assert!(
        text.stdout.contains(&format!(
            "net: #{}, reqid {}, INSTALLED",
            child["unique_id"], child["reqid"]
        )),
        "{text:?}"
    );

    for args in [
        &["list-sas", "nope"][..],
        &["list-conns", "nope"],
        &["initiate", "nope"],
    ] {
        let out = moon.ternctl(args);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.contains("ternctl: no connection named `nope`"),
            "{out:?}"
        );
        // Under --json, the error is JSON too (still on stderr, stdout empty).
        let json_args: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        let out = moon.ternctl(&json_args);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        let error: Value = serde_json::from_str(out.stderr.trim()).expect("a JSON error");
        assert_eq!(
            error,
            serde_json::json!({"error": "no connection named `nope`", "exit_status": 1})
        );
    }

    // --exact: durations in seconds, never rounded to minutes or hours. The demo's
    // lifetimes are hours, so the rounded text says `h`.
    let rounded = moon.ternctl(&["list-sas", "demo"]).stdout;
    let exact = moon.ternctl(&["list-sas", "demo", "--exact"]).stdout;
    let rekeying = |text: &str| {
        text.lines()
            .find_map(|l| {
                Some(
                    l.split("rekeying in ")
                        .nth(1)?
                        .split(',')
                        .next()?
                        .to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no `rekeying in` in {text}"))
    };
    assert!(rekeying(&rounded).ends_with('h'), "{rounded}");
    let secs = rekeying(&exact);
    assert!(
        secs.ends_with('s') && secs.trim_end_matches('s').parse::<u64>().unwrap() > 3600,
        "{exact}"
    );
}

#[test]
fn history_has_absolute_times_a_length_and_survives_a_restart() {
    let net = Net::new("h");
    let dir = temp_dir("h");
    let state_file = dir.join("moon.history.json");
    let _ = std::fs::remove_file(&state_file);
    let (mut moon, sun) = moon_and_sun(&net, &dir, "history_length = 3\n");

    let before = unix_ms_now();
    for _ in 0..2 {
        assert_eq!(moon.ternctl(&["initiate", "demo"]).code, 0);
        assert_eq!(sun.ternctl(&["terminate", "demo"]).code, 0);
        moon.wait_for("moon's SA to go", || moon.sas().is_empty());
    }
    let after = unix_ms_now();

    // Four ends (CHILD then IKE, twice), three kept: the oldest went.
    let history = moon.ternctl(&["--json", "history", "demo"]).json();
    let ends = history[0]["ends"].as_array().unwrap().clone();
    let kinds: Vec<&str> = ends.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["IKE", "CHILD", "IKE"], "{history}");
    for e in &ends {
        let at = e["unix_ms"].as_u64().expect("an absolute time");
        assert!(
            (before..=after).contains(&at),
            "{at} not in {before}..={after}"
        );
        assert_eq!(e["cause"], "deleted by the peer");
    }
    // Text: the UTC time, then how long ago; --exact to the millisecond.
    let text = moon.ternctl(&["history", "demo"]).stdout;
    let line = text
        .lines()
        .find(|l| l.contains("IKE SA"))
        .unwrap_or_else(|| panic!("no IKE SA end in {text}"));
    let (stamp, rest) = line.trim().split_once(" (").unwrap();
    assert_eq!(stamp.len(), "2026-12-06 22:40:01Z".len(), "{line}");
    assert!(
        stamp.ends_with('Z') && stamp[..4].parse::<u32>().unwrap() >= 2024,
        "{line}"
    );
    assert!(rest.contains("s ago): IKE SA #"), "{line}");
    let exact = moon.ternctl(&["history", "demo", "--exact"]).stdout;
    let stamp = exact
        .lines()
        .nth(1)
        .and_then(|l| l.trim().split(" (").next())
        .unwrap()
        .to_string();
    assert_eq!(stamp.len(), "2026-12-06 22:40:01.123Z".len(), "{exact}");
    assert_eq!(&stamp[19..20], ".", "{exact}");

    // Stopped and started again: the same three ends, the same times, plus those of
    // stopping (none: no SA was up).
    moon.signal("TERM");
    let status = moon.child.wait().unwrap();
    assert!(status.success(), "ternd stopped: {status}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).expect("the state file"))
            .unwrap();
    assert_eq!(saved["history"]["demo"].as_array().unwrap().len(), 3);
    assert!(
        !dir.join("moon.history.json.tmp").exists(),
        "no temporary file left"
    );
    let moon_conf = dir.join("moon.toml");
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&moon_conf));
    let again = moon.ternctl(&["--json", "history", "demo"]).json();
    assert_eq!(again[0]["ends"].as_array().unwrap().len(), 3, "{again}");
    for (old, new) in ends.iter().zip(again[0]["ends"].as_array().unwrap()) {
        assert_eq!(old["unix_ms"], new["unix_ms"]);
        assert_eq!(old["cause"], new["cause"]);
    }
    // And list-sas shows them (they are not routine).
    let list = moon.ternctl(&["list-sas"]).stdout;
    assert!(list.contains("demo: recent ends"), "{list}");
}
