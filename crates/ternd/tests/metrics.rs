//! The metrics endpoint (`[daemon] metrics_listen`) scraped while a tunnel between
//! two ternds goes up, rekeys and goes down; each scrape is also checked by
//! Prometheus's own `promtool check metrics`, and a real Prometheus scrapes it.
//!
//! Needs root (ip netns), curl, and promtool and prometheus (Debian package
//! `prometheus`); fails, saying so, without them.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{moon_config, sun_config, temp_dir, Daemon, Net};

const METRICS: &str = "127.0.0.1:9719";

/// `GET /metrics` from inside namespace `ns`: the status line, the content type
/// and the body (in the Prometheus text format: curl does not ask for OpenMetrics).
fn scrape(ns: &str) -> (String, String, String) {
    scrape_with(ns, &[])
}

fn scrape_with(ns: &str, curl_args: &[&str]) -> (String, String, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "-i", "--max-time", "10"])
        .args(curl_args)
        .arg(format!("http://{METRICS}/metrics"))
        .output()
        .expect("curl (Debian package curl) runs");
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.lines().next().unwrap_or_default().to_string();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_string();
    (status, content_type, body.to_string())
}

/// The value of the sample `series` (name and labels, exactly as exposed).
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn promtool_check(body: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "promtool cannot be run ({e}): install the Debian package `prometheus` \
             (tests/interop/lib.sh lists it in TERN_DEBIAN_PACKAGES); this test checks \
             the scrape with it"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the scrape:\n{}{}\n--- scrape ---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_metrics_follow_a_tunnel_up_through_a_rekey_and_down() {
    let net = Net::new("m");
    let dir = temp_dir("m");
    let config = moon_config(&dir, "moon-metrics.toml", |text| {
        text.replace(
            "[daemon]\n",
            &format!("[daemon]\nmetrics_listen = \"{METRICS}\"\n"),
        )
    });
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&config));
    let sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let established = "tern_ike_sas{connection=\"demo\",state=\"established\"}";
    let installed = "tern_child_sas{connection=\"demo\",child=\"net\",state=\"installed\"}";

    let (status, content_type, before) = scrape(&net.a);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    // What Prometheus asks for.
    let accept =
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (_, content_type, openmetrics) = scrape_with(&net.a, &["-H", accept]);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert_eq!(value(&openmetrics, established), Some(0.0), "{openmetrics}");
    assert_eq!(value(&before, established), Some(0.0), "{before}");
    assert_eq!(value(&before, installed), Some(0.0), "{before}");
    promtool_check(&before);

    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(ok, "initiate failed: {message}\nmoon: {}", moon.log_text());
    let (_, _, up) = scrape(&net.a);
    assert_eq!(value(&up, established), Some(1.0), "{up}");
    assert_eq!(value(&up, installed), Some(1.0), "{up}");
    assert!(
        value(&up, "tern_datagrams_total{direction=\"sent\"}").unwrap_or(0.0) >= 2.0,
        "{up}"
    );
    assert_eq!(value(&up, "tern_half_open_ike_sas"), Some(0.0), "{up}");
    // One handshake, as initiator, within the histogram's buckets.
    let setup = "{connection=\"demo\",role=\"initiator\"}";
    assert_eq!(
        value(&up, &format!("tern_ike_sa_setup_seconds_count{setup}")),
        Some(1.0),
        "{up}"
    );
    let took = value(&up, &format!("tern_ike_sa_setup_seconds_sum{setup}")).unwrap();
    assert!(took > 0.0 && took < 10.0, "{took} s: {up}");
    promtool_check(&up);

    let (ok, message) = moon.ctl(&["rekey", "demo"]);
    assert!(ok, "rekey failed: {message}");
    // The old CHILD SA goes once the peer confirms its DELETE.
    let rekeyed = "tern_rekeys_total{sa=\"child\",connection=\"demo\"}";
    let deadline = Instant::now() + Duration::from_secs(10);
    let after_rekey = loop {
        let (_, _, body) = scrape(&net.a);
        if value(&body, rekeyed) == Some(1.0) {
            break body;
        }
        assert!(Instant::now() < deadline, "no child rekey counted:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        value(
            &after_rekey,
            "tern_sa_ends_total{sa=\"child\",connection=\"demo\",kind=\"rekeyed\"}"
        ),
        Some(1.0),
        "{after_rekey}"
    );
    assert_eq!(value(&after_rekey, installed), Some(1.0), "{after_rekey}");
    promtool_check(&after_rekey);

    let (ok, message) = sun.ctl(&["terminate", "demo"]);
    assert!(ok, "{message}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !moon.sas().is_empty() {
        assert!(Instant::now() < deadline, "moon kept its SA");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, _, down) = scrape(&net.a);
    assert_eq!(value(&down, established), Some(0.0), "{down}");
    for sa in ["ike", "child"] {
        let series = format!(
            "tern_sa_ends_total{{sa=\"{sa}\",connection=\"demo\",kind=\"deleted_by_peer\"}}"
        );
        assert_eq!(value(&down, &series), Some(1.0), "{series} in\n{down}");
    }
    promtool_check(&down);
}

#[test]
fn without_metrics_listen_nothing_listens() {
    let net = Net::new("q");
    let dir = temp_dir("q");
    let _moon = Daemon::start(&net.a, &dir, "moon", None);
    let out = Command::new("ip")
        .args(["netns", "exec", &net.a, "curl", "-sS", "--max-time", "5"])
        .arg(format!("http://{METRICS}/metrics"))
        .output()
        .expect("curl runs");
    assert!(!out.status.success(), "something answered on {METRICS}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Couldn't connect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus server in namespace `ns`, scraping ternd's endpoint every second;
/// killed on drop.
struct Prometheus {
    child: std::process::Child,
    ns: String,
}

impl Prometheus {
    fn start(ns: &str, dir: &std::path::Path) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: tern\n    static_configs:\n      - targets: ['{METRICS}']\n"
            ),
        )
        .unwrap();
        let data = dir.join("prometheus-data");
        let _ = std::fs::remove_dir_all(&data);
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "prometheus"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--web.listen-address=127.0.0.1:9090")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run prometheus ({e}): install the Debian package `prometheus`")
            });
        Prometheus {
            child,
            ns: ns.to_string(),
        }
    }

    /// The value of an instant query's first sample, if there is one.
    fn query(&self, query: &str) -> Option<f64> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "curl",
                "-sS",
                "--max-time",
                "5",
                "-G",
            ])
            .arg("http://127.0.0.1:9090/api/v1/query")
            .arg("--data-urlencode")
            .arg(format!("query={query}"))
            .output()
            .ok()?;
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }

    /// Waits until `query` gives `want`, or fails with Prometheus's log.
    fn wait_for(&self, query: &str, want: f64, dir: &std::path::Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.query(query);
            if got == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus: `{query}` is {got:?}, not {want}\n{}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_tunnel_going_up() {
    let net = Net::new("r");
    let dir = temp_dir("r");
    let config = moon_config(&dir, "moon-prometheus.toml", |text| {
        text.replace(
            "[daemon]\n",
            &format!("[daemon]\nmetrics_listen = \"{METRICS}\"\n"),
        )
    });
    let moon = Daemon::start(&net.a, &dir, "moon", Some(&config));
    let _sun = Daemon::start(
        &net.b,
        &dir,
        "sun",
        Some(&sun_config(&dir, "tern-demo-psk-change-me")),
    );
    let prometheus = Prometheus::start(&net.a, &dir);
    // The target is up and the tunnel not yet.
    prometheus.wait_for("up{job=\"tern\"}", 1.0, &dir);
    let established = "tern_ike_sas{connection=\"demo\",state=\"established\"}";
    prometheus.wait_for(established, 0.0, &dir);
    let (ok, message) = moon.ctl(&["initiate", "demo"]);
    assert!(ok, "{message}");
    prometheus.wait_for(established, 1.0, &dir);
    prometheus.wait_for(
        "tern_ike_sa_setup_seconds_count{connection=\"demo\",role=\"initiator\"}",
        1.0,
        &dir,
    );
}
