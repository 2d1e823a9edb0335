//! The metrics ternd serves when `[daemon] metrics_listen` is set: what each
//! engine reports at a scrape ([`ShardSnapshot`]), added up over the engines and
//! encoded as OpenMetrics text with the `prometheus-client` crate.
//!
//! Nothing is counted twice in the engines for this: a scrape asks each engine's
//! loop for a snapshot of the counts it keeps anyway (as `ternctl stats` does),
//! so an unscraped ternd pays nothing and a scrape costs one `list-sas`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tern_engine::config::Connection;
use tern_engine::{IkeSaInfo, Stats};

use crate::kernel::Kernel;
use crate::stats::{DaemonCounters, SocketCounters};

/// What one engine reports at a scrape.
#[derive(Debug, Clone, Default)]
pub struct ShardSnapshot {
    pub engine: Stats,
    pub counters: DaemonCounters,
    pub half_open: u64,
    /// IKE SAs by connection and state.
    pub ike_sas: BTreeMap<(String, String), u64>,
    /// CHILD SAs by connection, child and state.
    pub child_sas: BTreeMap<(String, String, String), u64>,
    /// Bytes and packets through the current CHILD SAs, by connection, child and
    /// direction, as the kernel counts them.
    pub traffic: BTreeMap<(String, String, &'static str), Traffic>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes: u64,
    pub packets: u64,
}

/// The states shown for every configured connection even with no SA in them, so
/// "no established SA" is a zero rather than a missing series.
const IKE_STATES_SHOWN: &[&str] = &["connecting", "established"];
const CHILD_STATES_SHOWN: &[&str] = &["installed"];

impl ShardSnapshot {
    pub fn new(
        engine: Stats,
        counters: DaemonCounters,
        half_open: usize,
        connections: &[Connection],
        sas: &[IkeSaInfo],
        kernel: &mut dyn Kernel,
    ) -> ShardSnapshot {
        let mut s = ShardSnapshot {
            engine,
            counters,
            half_open: half_open as u64,
            ..ShardSnapshot::default()
        };
        for c in connections {
            for state in IKE_STATES_SHOWN {
                s.ike_sas.insert((c.name.clone(), state.to_string()), 0);
            }
            for child in &c.children {
                for state in CHILD_STATES_SHOWN {
                    let key = (c.name.clone(), child.name.clone(), state.to_string());
                    s.child_sas.insert(key, 0);
                }
            }
        }
        for sa in sas {
            let key = (sa.connection.clone(), sa.state.to_ascii_lowercase());
            *s.ike_sas.entry(key).or_default() += 1;
            for child in &sa.children {
                let state = child.state.to_ascii_lowercase();
                let key = (sa.connection.clone(), child.name.clone(), state);
                *s.child_sas.entry(key).or_default() += 1;
                let directions = [
                    ("in", child.remote_addr, child.local_addr, child.spi_in),
                    ("out", child.local_addr, child.remote_addr, child.spi_out),
                ];
                for (direction, src, dst, spi) in directions {
                    let Some(c) = kernel.counters(src, dst, spi) else {
                        continue;
                    };
                    let key = (sa.connection.clone(), child.name.clone(), direction);
                    let t = s.traffic.entry(key).or_default();
                    t.bytes += c.bytes;
                    t.packets += c.packets;
                }
            }
        }
        s
    }

    /// Adds another engine's snapshot to this one.
    fn add(&mut self, other: ShardSnapshot) {
        let (e, o) = (&mut self.engine, other.engine);
        e.received += o.received;
        e.sent += o.sent;
        e.retransmits_sent += o.retransmits_sent;
        e.cookies_demanded += o.cookies_demanded;
        e.dropped_malformed += o.dropped_malformed;
        e.dropped_unknown_spi += o.dropped_unknown_spi;
        e.dropped_unauthenticated += o.dropped_unauthenticated;
        e.dropped_out_of_window += o.dropped_out_of_window;
        e.dropped_unexpected += o.dropped_unexpected;
        e.dpd_checks_sent += o.dpd_checks_sent;
        self.counters.sent += other.counters.sent;
        self.counters.send_failed += other.counters.send_failed;
        self.counters.send_retries += other.counters.send_retries;
        self.counters.shed_new_ike_sas += other.counters.shed_new_ike_sas;
        self.counters.shed_known += other.counters.shed_known;
        for (key, n) in other.counters.ends {
            *self.counters.ends.entry(key).or_default() += n;
        }
        for (key, n) in other.counters.rekeys {
            *self.counters.rekeys.entry(key).or_default() += n;
        }
        self.half_open += other.half_open;
        for (key, n) in other.ike_sas {
            *self.ike_sas.entry(key).or_default() += n;
        }
        for (key, n) in other.child_sas {
            *self.child_sas.entry(key).or_default() += n;
        }
        for (key, t) in other.traffic {
            let sum = self.traffic.entry(key).or_default();
            sum.bytes += t.bytes;
            sum.packets += t.packets;
        }
    }
}

/// How long IKE SAs took to come up (IKE_SA_INIT to the end of IKE_AUTH), by
/// connection and role. Every engine observes into the one family (it locks only
/// when an IKE SA comes up); a scrape encodes it as it is.
pub type SetupTimes = Family<SetupLabels, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SetupLabels {
    pub connection: String,
    /// `initiator` or `responder`.
    pub role: &'static str,
}

/// 1 ms to about 33 s, doubling: a LAN handshake to one that took retransmissions.
pub fn setup_times() -> SetupTimes {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16)))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IkeLabels {
    connection: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChildLabels {
    connection: String,
    child: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    sa: &'static str,
    connection: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RekeyLabels {
    sa: &'static str,
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TrafficLabels {
    connection: String,
    child: String,
    direction: &'static str,
}

type GaugeFamily<L> = Family<L, Gauge<i64, AtomicI64>>;

fn gauge(value: u64) -> Gauge<i64, AtomicI64> {
    let g = Gauge::<i64, AtomicI64>::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    g
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

/// The RADIUS clients' counts: authentication, and accounting when on.
#[derive(Clone, Copy)]
pub struct RadiusCounts<'a> {
    pub auth: &'a tern_radius::Counts,
    pub accounting: Option<&'a tern_radius::Counts>,
}

/// The OpenMetrics text of the engines' snapshots and the sockets' counts.
pub fn render(
    snapshots: Vec<ShardSnapshot>,
    sockets: &SocketCounters,
    setup_times: &SetupTimes,
    radius: Option<RadiusCounts<'_>>,
) -> String {
    let mut all = ShardSnapshot::default();
    for s in snapshots {
        all.add(s);
    }
    let mut registry = Registry::with_prefix("tern");

    let ike_sas = GaugeFamily::<IkeLabels>::default();
    for ((connection, state), n) in &all.ike_sas {
        let labels = IkeLabels {
            connection: connection.clone(),
            state: state.clone(),
        };
        ike_sas.get_or_create(&labels).set(*n as i64);
    }
    registry.register("ike_sas", "IKE SAs by connection and state", ike_sas);

    let child_sas = GaugeFamily::<ChildLabels>::default();
    for ((connection, child, state), n) in &all.child_sas {
        let labels = ChildLabels {
            connection: connection.clone(),
            child: child.clone(),
            state: state.clone(),
        };
        child_sas.get_or_create(&labels).set(*n as i64);
    }
    registry.register(
        "child_sas",
        "CHILD SAs by connection, child and state",
        child_sas,
    );

    let ends = Family::<EndLabels, Counter>::default();
    for ((sa, connection, kind), n) in &all.counters.ends {
        let labels = EndLabels {
            sa: sa.label(),
            connection: connection.clone(),
            kind: kind.label(),
        };
        ends.get_or_create(&labels).inc_by(*n);
    }
    registry.register(
        "sa_ends",
        "SAs that ended or failed to come up, by type (ike, child), connection and kind of end",
        ends,
    );

    let rekeys = Family::<RekeyLabels, Counter>::default();
    for ((sa, connection), n) in &all.counters.rekeys {
        let labels = RekeyLabels {
            sa: sa.label(),
            connection: connection.clone(),
        };
        rekeys.get_or_create(&labels).inc_by(*n);
    }
    registry.register(
        "rekeys",
        "SAs replaced by a rekey, by type (ike, child) and connection",
        rekeys,
    );

    let e = &all.engine;
    let dropped = Family::<ReasonLabels, Counter>::default();
    for (reason, n) in [
        ("malformed", e.dropped_malformed),
        ("unknown_spi", e.dropped_unknown_spi),
        ("unauthenticated", e.dropped_unauthenticated),
        ("out_of_window", e.dropped_out_of_window),
        ("unexpected", e.dropped_unexpected),
        ("not_ike", sockets.not_ike.load(Ordering::Relaxed)),
        ("overload_new_ike_sa", all.counters.shed_new_ike_sas),
        ("overload_known_spi", all.counters.shed_known),
    ] {
        dropped.get_or_create(&ReasonLabels { reason }).inc_by(n);
    }
    registry.register(
        "messages_dropped",
        "IKE messages dropped, by reason",
        dropped,
    );

    let datagrams = Family::<DirectionLabels, Counter>::default();
    for (direction, n) in [
        ("received", sockets.received.load(Ordering::Relaxed)),
        ("sent", all.counters.sent),
    ] {
        datagrams
            .get_or_create(&DirectionLabels { direction })
            .inc_by(n);
    }
    registry.register("datagrams", "IKE datagrams received and sent", datagrams);
    registry.register(
        "send_failures",
        "IKE datagrams the kernel would not send, after any tries again",
        counter(all.counters.send_failed),
    );
    registry.register(
        "send_retries",
        "Sends tried again after the kernel had no buffer room (EAGAIN, ENOBUFS)",
        counter(all.counters.send_retries),
    );
    registry.register(
        "retransmits",
        "IKE requests sent again for want of an answer",
        counter(e.retransmits_sent),
    );
    registry.register(
        "cookies_sent",
        "IKE_SA_INIT requests answered with a COOKIE demand",
        counter(e.cookies_demanded),
    );
    registry.register(
        "dpd_checks_sent",
        "Liveness checks sent because a peer was silent for dpd_delay",
        counter(e.dpd_checks_sent),
    );
    registry.register(
        "half_open_ike_sas",
        "IKE SAs answered as responder and still waiting for IKE_AUTH",
        gauge(all.half_open),
    );

    let bytes = GaugeFamily::<TrafficLabels>::default();
    let packets = GaugeFamily::<TrafficLabels>::default();
    for ((connection, child, direction), t) in &all.traffic {
        let labels = TrafficLabels {
            connection: connection.clone(),
            child: child.clone(),
            direction,
        };
        bytes.get_or_create(&labels).set(t.bytes as i64);
        packets.get_or_create(&labels).set(t.packets as i64);
    }
    registry.register(
        "child_sa_bytes",
        "Bytes through the current CHILD SAs (a rekey starts new SAs at zero)",
        bytes,
    );
    registry.register(
        "child_sa_packets",
        "Packets through the current CHILD SAs (a rekey starts new SAs at zero)",
        packets,
    );

    let read =
        |c: &std::sync::atomic::AtomicU64| counter(c.load(std::sync::atomic::Ordering::Relaxed));
    if let Some(a) = radius.and_then(|r| r.accounting) {
        registry.register(
            "radius_accounting_requests",
            "Accounting-Requests (Start, Interim-Update, Stop) sent for EAP-RADIUS sessions",
            read(&a.requests),
        );
        registry.register(
            "radius_accounting_retransmissions",
            "Accounting-Requests sent again for want of an answer",
            read(&a.retransmissions),
        );
        registry.register(
            "radius_accounting_replies_refused",
            "Accounting-Responses ignored: malformed, or an authenticator that does not verify",
            read(&a.replies_refused),
        );
        registry.register(
            "radius_accounting_unreachable",
            "Accounting-Requests no RADIUS server acknowledged (given up; the tunnel is not affected)",
            read(&a.unreachable),
        );
    }
    if let Some(r) = radius.map(|r| r.auth) {
        registry.register(
            "radius_requests",
            "Access-Requests relaying an EAP message ([radius])",
            read(&r.requests),
        );
        registry.register(
            "radius_retransmissions",
            "Access-Requests sent again for want of an answer",
            read(&r.retransmissions),
        );
        registry.register(
            "radius_replies_refused",
            "RADIUS replies ignored: malformed, or an authenticator that does not verify",
            read(&r.replies_refused),
        );
        registry.register(
            "radius_unreachable",
            "Access-Requests no RADIUS server answered",
            read(&r.unreachable),
        );
    }
    registry.register(
        "ike_sa_setup_seconds",
        "How long IKE SAs took from IKE_SA_INIT to established, by connection and role",
        setup_times.clone(),
    );

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    text
}

/// The Prometheus text format (version 0.0.4) of OpenMetrics text as [`render`]
/// writes it, for scrapers that do not ask for OpenMetrics (curl, `promtool check
/// metrics`): a counter family is named by its samples (`_total`), and there is no
/// `# EOF`. prometheus-client writes only OpenMetrics; the two differ in no other
/// way for the counters and gauges here.
pub fn text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => text.push_str(&line),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::end_kind::EndKind;
    use crate::stats::SaType;

    fn snapshot(connection: &str, established: u64, ends: u64) -> ShardSnapshot {
        let mut s = ShardSnapshot::default();
        s.ike_sas
            .insert((connection.into(), "established".into()), established);
        s.counters
            .ends
            .insert((SaType::Child, connection.into(), EndKind::Rekeyed), ends);
        s.engine.retransmits_sent = 2;
        s.half_open = 1;
        s
    }

    #[test]
    fn engines_add_up_into_one_exposition() {
        let sockets = SocketCounters::default();
        SocketCounters::count(&sockets.not_ike);
        let setup = setup_times();
        let initiator = SetupLabels {
            connection: "net".into(),
            role: "initiator",
        };
        setup.get_or_create(&initiator).observe(0.003);
        setup.get_or_create(&initiator).observe(0.5);
        let radius = tern_radius::Counts::default();
        radius
            .replies_refused
            .fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        let accounting = tern_radius::Counts::default();
        accounting
            .unreachable
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = render(
            vec![snapshot("net", 1, 3), snapshot("net", 2, 4)],
            &sockets,
            &setup,
            Some(RadiusCounts {
                auth: &radius,
                accounting: Some(&accounting),
            }),
        );
        for line in [
            "tern_ike_sas{connection=\"net\",state=\"established\"} 3",
            "tern_sa_ends_total{sa=\"child\",connection=\"net\",kind=\"rekeyed\"} 7",
            "tern_retransmits_total 4",
            "tern_half_open_ike_sas 2",
            "tern_radius_replies_refused_total 2",
            "tern_radius_requests_total 0",
            "tern_radius_accounting_unreachable_total 1",
            "tern_messages_dropped_total{reason=\"not_ike\"} 1",
            "# TYPE tern_sa_ends counter",
            "tern_ike_sa_setup_seconds_count{connection=\"net\",role=\"initiator\"} 2",
            "tern_ike_sa_setup_seconds_bucket{le=\"0.004\",connection=\"net\",role=\"initiator\"} 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples_and_has_no_eof() {
        let openmetrics = "# HELP tern_rekeys SAs replaced.\n\
                           # TYPE tern_rekeys counter\n\
                           tern_rekeys_total{sa=\"ike\"} 2\n\
                           # HELP tern_ike_sas IKE SAs.\n\
                           # TYPE tern_ike_sas gauge\n\
                           tern_ike_sas 1\n\
                           # EOF\n";
        assert_eq!(
            text_format(openmetrics),
            "# HELP tern_rekeys_total SAs replaced.\n\
             # TYPE tern_rekeys_total counter\n\
             tern_rekeys_total{sa=\"ike\"} 2\n\
             # HELP tern_ike_sas IKE SAs.\n\
             # TYPE tern_ike_sas gauge\n\
             tern_ike_sas 1\n"
        );
    }
}
