//! Every ternctl command, run as a user would (the ternctl binary, text and
//! `--json`, exit codes), against two ternd in network namespaces (`--no-kernel`),
//! and the event stream of `ternctl watch`.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{sun_config, temp_dir, ternctl, Daemon, Net, Watch};
use serde_json::Value;

fn stats(daemon: &Daemon) -> Value {
    let out = daemon.ternctl(&["stats", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

fn wait_for_watchers(daemon: &Daemon, n: u64) {
    daemon.wait_for(&format!("{n} watcher(s)"), || {
        stats(daemon)["events"]["watchers"] == n
    });
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[test]
fn every_command_in_text_and_json_with_a_live_event_stream() {
    let net = Net::new("c");
    let dir = temp_dir("c");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let json_watch = Watch::start(&moon, &["--json"]);
    let text_watch = Watch::start(&moon, &["demo"]);
    wait_for_watchers(&moon, 2);

    // version
    let out = moon.ternctl(&["version"]);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("ternctl {v}\nternd {v}\n"));
    assert_eq!(
        moon.ternctl(&["version", "--json"]).json(),
        serde_json::json!({ "version": v })
    );

    // list-conns
    let out = moon.ternctl(&["list-conns"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("demo: IKEv2\n"), "{out:?}");
    assert!(out.stdout.contains("    id: sun.tern.example\n"), "{out:?}");
    let conns = moon.ternctl(&["--json", "list-conns"]).json();
    assert_eq!(conns[0]["name"], "demo");
    assert_eq!(conns[0]["children"][0]["local_ts"][0], "10.1.0.0/24");

    // initiate
    let out = moon.ternctl(&["initiate", "demo", "--timeout", "10"]);
    assert_eq!(out.code, 0, "{out:?}\nmoon: {}", moon.log_text());
    // Unique ids carry the shard of the engine that made them: not always #1.
    let id = moon.sas()[0].unique_id;
    assert!(
        out.stdout.starts_with(&format!(
            "demo: IKE SA #{id} established, CHILD SA net installed"
        )),
        "{out:?}"
    );

    // list-sas
    let out = moon.ternctl(&["list-sas"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with(&format!("demo: #{id}, ESTABLISHED, IKEv2, ")),
        "{out:?}"
    );
    let sas = moon.ternctl(&["list-sas", "--json"]).json();
    let (spi_i, spi_r) = (
        sas[0]["initiator_spi"].as_str().unwrap().to_string(),
        sas[0]["responder_spi"].as_str().unwrap().to_string(),
    );
    let first_in = sas[0]["children"][0]["spi_in"]
        .as_str()
        .unwrap()
        .to_string();
    let first_out = sas[0]["children"][0]["spi_out"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out.stdout.contains(&format!("{spi_i}_i* {spi_r}_r\n")));

    // rekey
    let out = moon.ternctl(&["rekey", "demo"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("demo: rekeyed, CHILD SA net installed"),
        "{out:?}"
    );
    // The old CHILD SA goes once the peer answers its DELETE.
    moon.wait_for("the rekeyed CHILD SA's end", || {
        moon.sas()[0].children.len() == 1
    });
    let sas = moon.ternctl(&["list-sas", "--json"]).json();
    assert_ne!(sas[0]["children"][0]["spi_in"], first_in.as_str());

    // history
    let out = moon.ternctl(&["history", "--all"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "CHILD SA net {first_in}_i {first_out}_o ended: rekeyed"
        )),
        "{out:?}"
    );
    let history = moon.ternctl(&["history", "demo", "--json"]).json();
    assert_eq!(history[0]["ends"][0]["cause"], "rekeyed");

    // stats, while both watchers listen
    let s = stats(&moon);
    assert_eq!(s["ike_sas_established"], 1, "{s:#}");
    assert_eq!(s["child_sas_installed"], 1, "{s:#}");
    assert_eq!(s["exchanges"]["child_sas_installed"], 2, "{s:#}");
    assert_eq!(s["exchanges"]["child_rekeys"], 1, "{s:#}");
    assert_eq!(s["exchanges"]["child_rekeys_initiated"], 1, "{s:#}");
    // IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL (the old SA's DELETE).
    assert!(s["datagrams"]["sent"].as_u64().unwrap() >= 4, "{s:#}");
    assert!(s["datagrams"]["received"].as_u64().unwrap() >= 4, "{s:#}");
    assert_eq!(s["events"]["dropped"], 0, "{s:#}");
    let sun_stats = stats(&sun);
    assert_eq!(
        sun_stats["exchanges"]["child_rekeys"], 1,
        "a rekey the peer started counts too: {sun_stats:#}"
    );
    assert_eq!(sun_stats["exchanges"]["child_rekeys_initiated"], 0);
    let out = moon.ternctl(&["stats"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(
            "SAs:        1 IKE SA(s) established, 0 connecting, 1 CHILD SA(s) installed\n"
        ),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("CHILD SAs:  2 installed, 1 rekeyed (1 by us, 0 collisions)"),
        "{out:?}"
    );

    // terminate
    let out = moon.ternctl(&["terminate", "demo", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("demo: IKE SA deleted"));

    // The JSON watcher saw all of it, in order, with SPIs and causes.
    let events: Vec<Value> = json_watch
        .until("the IKE SA's end", |l| l.contains("\"ike-sa-deleted\""))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        kinds(&events),
        [
            "ike-sa-established",
            "child-sa-installed",
            "child-sa-installed",
            "child-sa-deleted",
            "child-sa-deleted",
            "ike-sa-deleted"
        ],
        "{events:#?}"
    );
    assert_eq!(events[0]["initiator_spi"], spi_i.as_str());
    assert_eq!(events[0]["responder_spi"], spi_r.as_str());
    assert_eq!(events[1]["spi_in"], first_in.as_str());
    assert_eq!(events[3]["spi_in"], first_in.as_str());
    assert_eq!(events[3]["reason"], "rekeyed");
    assert_eq!(events[4]["spi_in"], events[2]["spi_in"]);
    assert_eq!(events[4]["reason"], "terminated by ternctl");
    assert_eq!(events[5]["reason"], "terminated by ternctl");
    assert_eq!(events[5]["initiator_spi"], spi_i.as_str());
    for e in &events {
        assert_eq!(e["connection"], "demo");
        let age = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - e["unix_ms"].as_u64().unwrap();
        assert!(age < 60_000, "event time is now-ish: {e}");
    }

    // The text watcher says the same in one readable line per event.
    let lines = text_watch.until("the IKE SA's end", |l| {
        l.contains(&format!("IKE SA #{id}")) && l.contains("ended")
    });
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert!(
        lines[0].ends_with(&format!(
            " demo: IKE SA #{id} {spi_i}_i {spi_r}_r established"
        )),
        "{lines:#?}"
    );
    assert!(
        lines[3].ends_with(&format!(
            " demo: CHILD SA net {first_in}_i {first_out}_o ended: rekeyed"
        )),
        "{lines:#?}"
    );
    assert!(
        lines[5].ends_with(" ended: terminated by ternctl"),
        "{lines:#?}"
    );
    // `2026-11-23 18:20:01.123Z demo: ...`
    let stamp = &lines[0][..24];
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b' ',
        "{stamp}"
    );

    // The pre-shared key appears in no log (debug level) and no output.
    for daemon in [&moon, &sun] {
        assert!(
            !daemon.log_text().contains("tern-demo-psk-change-me"),
            "the PSK in a log"
        );
    }
    assert!(!moon
        .ternctl(&["list-conns", "--json"])
        .stdout
        .contains("tern-demo-psk-change-me"));

    // reload (the built-in configuration: nothing changes)
    let out = moon.ternctl(&["reload"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("1 unchanged"), "{out:?}");
    assert!(moon.ternctl(&["reload", "--json"]).json()["message"]
        .as_str()
        .unwrap()
        .starts_with("configuration reloaded"));
}

#[test]
fn failures_have_their_exit_codes_in_text_and_json() {
    let net = Net::new("x");
    let dir = temp_dir("x");
    let moon = Daemon::start(&net.a, &dir, "moon", None);

    for (args, says) in [
        (&["initiate", "nope"][..], "no connection named `nope`"),
        (
            &["--json", "initiate", "nope"],
            "no connection named `nope`",
        ),
        (&["watch", "nope"], "no connection named `nope`"),
        (
            &["rekey", "nope"],
            "no established IKE SA for connection `nope`",
        ),
        (&["terminate", "nope"], "no IKE SA for connection `nope`"),
    ] {
        let out = moon.ternctl(args);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    // No SA to act on: the operation fails (1), the daemon says why.
    let out = moon.ternctl(&["terminate", "demo"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no IKE SA"), "{out:?}");
    // The peer does not answer (no ternd on sun): initiate times out, exit 1.
    let out = moon.ternctl(&["initiate", "demo", "--timeout", "1"]);
    assert_eq!(out.code, 1, "{out:?}");

    // Usage errors: 2.
    for args in [&["initiate"][..], &["frobnicate"], &["watch", "a", "b"]] {
        let out = moon.ternctl(args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
    }

    // Nobody listening: 3, for one-shot commands and for watch.
    let gone = dir.join("nobody-here.sock");
    for args in [&["list-sas"][..], &["stats", "--json"], &["watch"]] {
        let out = ternctl(&gone, args);
        assert_eq!(out.code, 3, "{args:?}: {out:?}");
        assert!(out.stderr.contains("is ternd running?"), "{out:?}");
    }
}

#[test]
fn a_watcher_that_never_reads_does_not_hold_up_the_daemon() {
    let net = Net::new("s");
    let dir = temp_dir("s");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let _sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    // Subscribes, then never reads a byte.
    let mut stuck = UnixStream::connect(&moon.socket).unwrap();
    stuck
        .write_all(b"{\"version\":2,\"command\":{\"type\":\"watch\"}}\n")
        .unwrap();
    wait_for_watchers(&moon, 1);
    assert_eq!(moon.ternctl(&["initiate", "demo"]).code, 0);

    // Each rekey makes two events; the socket buffer and the queue fill, and then
    // ternd drops events for this watcher instead of waiting for it.
    let client = tern_control::Client::new(&moon.socket);
    let started = Instant::now();
    let mut rekeys = 0;
    while stats(&moon)["events"]["dropped"] == 0 {
        assert!(
            rekeys < 2000 && started.elapsed() < Duration::from_secs(120),
            "no event dropped after {rekeys} rekeys"
        );
        for _ in 0..20 {
            let answer = client
                .call(
                    tern_control::Command::Rekey {
                        connection: "demo".into(),
                    },
                    Duration::from_secs(10),
                )
                .expect("ternd answers while a watcher is stuck");
            assert!(
                matches!(answer, tern_control::Response::Ok { .. }),
                "{answer:?}"
            );
            rekeys += 1;
        }
    }
    eprintln!(
        "first event dropped after {rekeys} rekeys in {:?}",
        started.elapsed()
    );

    // A new watcher still gets its events at once.
    let fresh = Watch::start(&moon, &["--json"]);
    wait_for_watchers(&moon, 2);
    assert_eq!(moon.ternctl(&["rekey", "demo"]).code, 0);
    fresh.until("a rekey's events", |l| l.contains("\"rekeyed\""));

    // The stuck one hangs up: forgotten at the next event.
    drop(stuck);
    assert_eq!(moon.ternctl(&["rekey", "demo"]).code, 0);
    wait_for_watchers(&moon, 1);
}

#[test]
fn rekey_ike_replaces_the_ike_sa_and_keeps_the_child_sa() {
    let net = Net::new("i");
    let dir = temp_dir("i");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let watch = Watch::start(&sun, &["--json"]);
    wait_for_watchers(&sun, 1);
    assert_eq!(moon.ternctl(&["initiate", "demo"]).code, 0);
    let before = &moon.sas()[0];
    let sun_id = sun.sas()[0].unique_id;

    // From the responder's side, for a change.
    let out = sun.ternctl(&["rekey", "demo", "--ike"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with(&format!("demo: IKE SA #{sun_id} rekeyed, now IKE SA #")),
        "{out:?}"
    );
    moon.wait_for("one IKE SA again", || {
        let sas = moon.sas();
        sas.len() == 1 && sas[0].unique_id != before.unique_id
    });
    let after = &moon.sas()[0];
    assert_ne!(after.initiator_spi, before.initiator_spi);
    assert_eq!(after.children[0].spi_in, before.children[0].spi_in);
    let s = stats(&sun);
    assert_eq!(s["exchanges"]["ike_rekeys"], 1, "{s:#}");
    assert_eq!(s["exchanges"]["ike_rekeys_initiated"], 1, "{s:#}");
    assert_eq!(stats(&moon)["exchanges"]["ike_rekeys"], 1);

    let rekeyed: Value = serde_json::from_str(
        watch
            .until("the IKE rekey", |l| l.contains("\"ike-sa-rekeyed\""))
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rekeyed["ike_id"], sun_id);
    // The new SA's SPIs, as moon lists them.
    assert_eq!(rekeyed["initiator_spi"], after.initiator_spi.as_str());
    assert_eq!(rekeyed["responder_spi"], after.responder_spi.as_str());

    // Nothing to rekey: exit 1.
    assert_eq!(moon.ternctl(&["terminate", "demo"]).code, 0);
    let out = moon.ternctl(&["rekey", "--ike", "demo"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no established IKE SA"), "{out:?}");
}

#[test]
fn requests_in_protocol_version_1_still_work_and_new_commands_need_theirs() {
    let net = Net::new("v");
    let dir = temp_dir("v");
    let moon = Daemon::start(&net.a, &dir, "moon", None);
    let ask = |line: &str| {
        let mut stream = UnixStream::connect(&moon.socket).unwrap();
        stream.write_all(line.as_bytes()).unwrap();
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).unwrap();
        serde_json::from_str::<Value>(&answer).unwrap()
    };
    let v1 = ask("{\"version\":1,\"command\":{\"type\":\"list-conns\"}}\n");
    assert_eq!(v1["status"], "ok", "{v1}");
    assert_eq!(v1["body"]["conns"][0]["name"], "demo");
    let old = ask("{\"version\":1,\"command\":{\"type\":\"rekey-ike\",\"connection\":\"demo\"}}\n");
    assert_eq!(old["status"], "error");
    assert!(
        old["message"]
            .as_str()
            .unwrap()
            .contains("needs protocol version 2"),
        "{old}"
    );
    // Version 3 brought list-leases.
    let leases = ask("{\"version\":3,\"command\":{\"type\":\"list-leases\"}}\n");
    assert_eq!(leases["status"], "ok", "{leases}");
    assert_eq!(leases["body"]["leases"], Value::Array(Vec::new()));
    let early = ask("{\"version\":2,\"command\":{\"type\":\"list-leases\"}}\n");
    assert_eq!(early["status"], "error");
    // and diagnose.
    let early_diagnose = ask("{\"version\":2,\"command\":{\"type\":\"diagnose\"}}\n");
    assert_eq!(early_diagnose["status"], "error");
    assert!(
        early_diagnose["message"]
            .as_str()
            .unwrap()
            .contains("needs protocol version 3"),
        "{early_diagnose}"
    );
    assert!(
        early["message"]
            .as_str()
            .unwrap()
            .contains("needs protocol version 3"),
        "{early}"
    );
    let out = moon.ternctl(&["leases"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "no virtual IP is leased\n"),
        "{out:?}"
    );
    let out = moon.ternctl(&["--json", "leases"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "[]\n"), "{out:?}");
    // The next version is the future (it was 3 until list-leases and diagnose).
    let future = ask("{\"version\":4,\"command\":{\"type\":\"version\"}}\n");
    assert_eq!(future["status"], "error");
    assert!(
        future["message"]
            .as_str()
            .unwrap()
            .contains("protocol version 4 is not supported"),
        "{future}"
    );
}
