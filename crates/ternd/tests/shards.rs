//! A sharded ternd (`workers = 2`) with eight peers: their IKE SAs spread over
//! both engines, stay in theirs through rekeys, and every ternctl command sees
//! one daemon. Garbage datagrams are dropped and counted, never fatal.
//!
//! Needs root (ip netns); fails, saying so, without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, temp_dir, Daemon, Net, Watch};
use serde_json::Value;

const PEERS: u8 = 8;
const WORKERS: u64 = 2;

/// The peers' addresses, all in namespace b beside sun's own.
fn peer_addr(k: u8) -> String {
    format!("192.0.2.{}", 10 + k)
}

fn connection(
    name: &str,
    local: &str,
    remote: &str,
    ids: (&str, &str),
    ts: (&str, &str),
) -> String {
    format!(
        r#"
[connections.{name}]
local_addrs = ["{local}"]
remote_addrs = ["{remote}"]
local_id = "{}"
remote_id = "{}"
auth = "psk"
psk = "tern-shards-test-psk"
proposals = ["aes128gcm16-prfsha256-x25519"]

[connections.{name}.children.net]
local_ts = ["{}"]
remote_ts = ["{}"]
esp_proposals = ["aes128gcm16"]
mode = "tunnel"
"#,
        ids.0, ids.1, ts.0, ts.1
    )
}

/// The hub (moon, 192.0.2.1) with a connection to each of `peers`.
fn hub_config(dir: &Path, name: &str, peers: u8) -> PathBuf {
    let mut text = format!("[daemon]\nworkers = {WORKERS}\n");
    for k in 0..peers {
        text += &connection(
            &format!("peer{k}"),
            "192.0.2.1",
            &peer_addr(k),
            ("moon.tern.example", &format!("peer{k}.tern.example")),
            ("10.1.0.0/24", &format!("10.2.{k}.0/24")),
        );
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The peers, all in one ternd (sun), each from its own address.
fn peers_config(dir: &Path) -> PathBuf {
    let mut text = format!("[daemon]\nworkers = {WORKERS}\n");
    for k in 0..PEERS {
        text += &connection(
            &format!("peer{k}"),
            &peer_addr(k),
            "192.0.2.1",
            (&format!("peer{k}.tern.example"), "moon.tern.example"),
            (&format!("10.2.{k}.0/24"), "10.1.0.0/24"),
        );
    }
    let path = dir.join("peers.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The shard that owns an IKE SA: that of the SPI we chose.
fn shard_of(sa: &Value) -> u64 {
    let ours = if sa["role"] == "initiator" {
        &sa["initiator_spi"]
    } else {
        &sa["responder_spi"]
    };
    u64::from_str_radix(ours.as_str().unwrap(), 16).unwrap() % WORKERS
}

fn sas(daemon: &Daemon) -> Vec<Value> {
    let out = daemon.ternctl(&["--json", "list-sas"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json().as_array().unwrap().clone()
}

fn sa_of<'a>(sas: &'a [Value], connection: &str) -> &'a Value {
    sas.iter()
        .find(|sa| sa["connection"] == connection)
        .unwrap_or_else(|| panic!("no IKE SA of {connection} in {sas:#?}"))
}

fn stats(daemon: &Daemon) -> Value {
    let out = daemon.ternctl(&["--json", "stats"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

/// Sends `bytes` from namespace `ns` to moon's IKE port.
fn send_udp(ns: &str, bytes: &[u8]) {
    let escaped: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
    run(Command::new("ip").args([
        "netns",
        "exec",
        ns,
        "bash",
        "-c",
        &format!("printf '{escaped}' > /dev/udp/192.0.2.1/500"),
    ]));
}

#[test]
fn many_peers_spread_over_the_shards_and_ternctl_sees_one_daemon() {
    let net = Net::new("h");
    let dir = temp_dir("h");
    for k in 0..PEERS {
        run(Command::new("ip").args([
            "-n",
            &net.b,
            "addr",
            "add",
            &format!("{}/24", peer_addr(k)),
            "dev",
            "v1",
        ]));
    }
    let moon = Daemon::start(
        &net.a,
        &dir,
        "moon",
        Some(&hub_config(&dir, "moon.toml", PEERS)),
    );
    let sun = Daemon::start(&net.b, &dir, "sun", Some(&peers_config(&dir)));
    let watch = Watch::start(&moon, &["--json"]);
    moon.wait_for("the watcher", || stats(&moon)["events"]["watchers"] == 1);

    // Half initiated by the hub (routed by the peer's address), half by the peers
    // (routed by their address when their IKE_SA_INIT arrives).
    for k in 0..PEERS {
        let (from, name) = if k < PEERS / 2 {
            (&moon, "moon")
        } else {
            (&sun, "sun")
        };
        let out = from.ternctl(&["initiate", &format!("peer{k}"), "--timeout", "10"]);
        assert_eq!(out.code, 0, "{name}: {out:?}\nmoon: {}", moon.log_text());
    }
    let all = sas(&moon);
    assert_eq!(all.len(), PEERS as usize, "{all:#?}");
    let mut per_shard = [0; WORKERS as usize];
    for sa in &all {
        assert_eq!(sa["state"], "ESTABLISHED", "{sa:#}");
        assert_eq!(sa["children"].as_array().unwrap().len(), 1, "{sa:#}");
        let shard = shard_of(sa);
        // Unique ids carry the shard too, so they never collide between shards.
        assert_eq!(
            (sa["unique_id"].as_u64().unwrap() - 1) % WORKERS,
            shard,
            "{sa:#}"
        );
        per_shard[shard as usize] += 1;
    }
    assert!(
        per_shard.iter().all(|n| *n > 0),
        "all on one shard: {per_shard:?}"
    );
    let on = |shard: u64| -> String {
        all.iter()
            .find(|sa| shard_of(sa) == shard)
            .map(|sa| sa["connection"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (a, b) = (on(0), on(1));

    // stats adds the shards up.
    let s = stats(&moon);
    assert_eq!(s["ike_sas_established"], PEERS as u64, "{s:#}");
    assert_eq!(s["child_sas_installed"], PEERS as u64, "{s:#}");
    assert_eq!(s["exchanges"]["ike_sas_established"], PEERS as u64, "{s:#}");

    // The text listing shows every SA too.
    let out = moon.ternctl(&["list-sas"]);
    assert_eq!(out.code, 0, "{out:?}");
    for k in 0..PEERS {
        assert!(out.stdout.contains(&format!("peer{k}: #")), "{out:?}");
    }
    // The in-memory XFRM carries no packets: its policies were never used.
    assert_eq!(
        out.stdout.matches("\n    never used\n").count(),
        PEERS as usize,
        "{out:?}"
    );
    assert!(all
        .iter()
        .all(|sa| sa["children"][0].get("last_use_secs").is_none()));
    let out = moon.ternctl(&["--json", "list-conns"]);
    assert_eq!(out.json().as_array().unwrap().len(), PEERS as usize);
    assert_eq!(moon.ternctl(&["version"]).code, 0);

    // Rekeys reach the shard holding the SA, on both shards, and the new SAs stay there.
    for name in [&a, &b] {
        let before = sa_of(&all, name).clone();
        let out = moon.ternctl(&["rekey", name]);
        assert_eq!(out.code, 0, "{out:?}\nmoon: {}", moon.log_text());
        assert!(
            out.stdout.starts_with(&format!("{name}: rekeyed")),
            "{out:?}"
        );
        let out = moon.ternctl(&["rekey", name, "--ike"]);
        assert_eq!(out.code, 0, "{out:?}\nmoon: {}", moon.log_text());
        moon.wait_for("the IKE rekey to settle", || {
            let now = sas(&moon);
            let sa = sa_of(&now, name);
            sa["unique_id"] != before["unique_id"] && sa["children"].as_array().unwrap().len() == 1
        });
        let now = sas(&moon);
        assert_eq!(shard_of(sa_of(&now, name)), shard_of(&before));
        assert_eq!(sas(&sun).len(), PEERS as usize);
    }
    // The one event stream carries both shards' events.
    for name in [&a, &b] {
        watch.until(&format!("{name}'s IKE rekey"), |l| {
            l.contains("\"ike-sa-rekeyed\"") && l.contains(&format!("\"{name}\""))
        });
    }
    let s = stats(&moon);
    assert_eq!(s["exchanges"]["ike_rekeys"], 2, "{s:#}");
    assert_eq!(s["exchanges"]["child_rekeys"], 2, "{s:#}");

    // Garbage: too short for a header, and a header with SPIs nobody chose. Each
    // is dropped and counted by the shard it reaches; ternd carries on.
    let before = stats(&moon)["dropped"].clone();
    send_udp(&net.b, b"hello");
    let mut unknown = vec![0x11; 8];
    unknown.extend_from_slice(&[0x22; 8]);
    unknown.extend_from_slice(&[0, 0x20, 0x25, 0x08, 0, 0, 0, 1, 0, 0, 0, 28]);
    send_udp(&net.b, &unknown);
    moon.wait_for("the garbage to be counted", || {
        let d = &stats(&moon)["dropped"];
        d["malformed"].as_u64() > before["malformed"].as_u64()
            && d["unknown-spi"].as_u64() > before["unknown-spi"].as_u64()
    });

    // Terminate, on both shards.
    for name in [&a, &b] {
        let out = moon.ternctl(&["terminate", name]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    assert_eq!(sas(&moon).len(), PEERS as usize - 2);
    let out = moon.ternctl(&["terminate", &a]);
    assert_ne!(out.code, 0, "nothing left to terminate: {out:?}");
    assert!(out.stderr.contains("no IKE SA"), "{out:?}");
    let out = moon.ternctl(&["terminate", "no-such-connection"]);
    assert_ne!(out.code, 0, "{out:?}");

    // Reload reaches every shard: a connection removed is gone from both.
    std::fs::copy(
        hub_config(&dir, "fewer.toml", PEERS - 1),
        dir.join("moon.toml"),
    )
    .unwrap();
    let out = moon.ternctl(&["reload"]);
    assert_eq!(out.code, 0, "{out:?}");
    let last = format!("peer{}", PEERS - 1);
    assert!(out.stdout.contains(&format!("removed {last}")), "{out:?}");
    moon.wait_for("the removed connection's SA to go", || {
        sas(&moon)
            .iter()
            .all(|sa| sa["connection"] != last.as_str())
    });
    let out = moon.ternctl(&["--json", "list-conns"]);
    assert_eq!(out.json().as_array().unwrap().len(), PEERS as usize - 1);
    let gone_already = last == a || last == b;
    let left = PEERS as usize - 2 - usize::from(!gone_already);
    assert_eq!(sas(&moon).len(), left);
}
