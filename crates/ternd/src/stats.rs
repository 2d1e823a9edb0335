//! ternd's own counters, and `ternctl stats`'s answer built from them and the
//! engine's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tern_control::{
    DatagramStats, EventStats, ExchangeStats, HalfOpenStats, Response, ResponseBody, StatsInfo,
};
use tern_engine::{Event, IkeSaInfo, Stats};

use crate::end_kind::EndKind;

/// Counted by the socket reader tasks, hence atomics.
#[derive(Default, Debug)]
pub struct SocketCounters {
    pub received: AtomicU64,
    pub receive_failed: AtomicU64,
    /// Datagrams on the NAT-T port without the non-ESP marker, which the kernel did
    /// not take as ESP either.
    pub not_ike: AtomicU64,
}

impl SocketCounters {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a count is of IKE SAs or CHILD SAs (the metrics' `sa` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SaType {
    Ike,
    Child,
}

impl SaType {
    pub fn label(self) -> &'static str {
        match self {
            SaType::Ike => "ike",
            SaType::Child => "child",
        }
    }
}

/// Counted by the daemon loop.
#[derive(Default, Debug, Clone)]
pub struct DaemonCounters {
    pub sent: u64,
    pub send_failed: u64,
    /// Sends tried again after EAGAIN/ENOBUFS (see `udp::send_retrying`).
    pub send_retries: u64,
    /// IKE_SA_INIT requests shed by the intake while ternd could not keep up.
    pub shed_new_ike_sas: u64,
    /// Other datagrams shed by the intake (its known-SPI queue was full).
    pub shed_known: u64,
    pub ike_sas_established: u64,
    pub ike_rekeys: u64,
    pub child_sas_installed: u64,
    pub child_rekeys: u64,
    /// SAs that ended (or failed to come up), by type, connection and kind of end.
    pub ends: BTreeMap<(SaType, String, EndKind), u64>,
    /// Rekeys, by type and connection.
    pub rekeys: BTreeMap<(SaType, String), u64>,
}

impl DaemonCounters {
    pub fn count_event(&mut self, event: &Event) {
        match event {
            Event::IkeSaEstablished { .. } => self.ike_sas_established += 1,
            Event::IkeSaRekeyed { connection, .. } => {
                self.ike_rekeys += 1;
                self.count_rekey(SaType::Ike, connection);
            }
            Event::ChildSaInstalled { .. } => self.child_sas_installed += 1,
            Event::ChildSaDeleted {
                connection, reason, ..
            } => {
                let kind = EndKind::of(reason);
                if kind == EndKind::Rekeyed {
                    self.child_rekeys += 1;
                    self.count_rekey(SaType::Child, connection);
                }
                self.count_end(SaType::Child, connection, kind);
            }
            Event::IkeSaDeleted {
                connection, reason, ..
            } => self.count_end(SaType::Ike, connection, EndKind::of(reason)),
            Event::IkeSaFailed { connection, .. } => {
                self.count_end(SaType::Ike, connection, EndKind::Failed)
            }
            Event::ChildSaFailed { connection, .. } => {
                self.count_end(SaType::Child, connection, EndKind::Failed)
            }
            Event::EndAction { .. } => {}
        }
    }

    fn count_end(&mut self, sa: SaType, connection: &str, kind: EndKind) {
        *self
            .ends
            .entry((sa, connection.to_string(), kind))
            .or_default() += 1;
    }

    fn count_rekey(&mut self, sa: SaType, connection: &str) {
        *self.rekeys.entry((sa, connection.to_string())).or_default() += 1;
    }
}

/// Everything `ternctl stats` shows.
pub struct Sources<'a> {
    pub engine: &'a Stats,
    /// IKE SAs half-open now.
    pub half_open: usize,
    pub sas: &'a [IkeSaInfo],
    pub sockets: &'a SocketCounters,
    pub daemon: &'a DaemonCounters,
    pub uptime: Duration,
    pub watchers: usize,
    pub events_dropped: u64,
}

pub fn info(s: Sources<'_>) -> StatsInfo {
    let e = s.engine;
    let established = s.sas.iter().filter(|sa| sa.state == "ESTABLISHED").count() as u64;
    let children = s
        .sas
        .iter()
        .flat_map(|sa| &sa.children)
        .filter(|c| c.state == "INSTALLED" || c.state == "REKEYING")
        .count() as u64;
    let dropped = [
        ("malformed", e.dropped_malformed),
        ("unknown-spi", e.dropped_unknown_spi),
        ("unauthenticated", e.dropped_unauthenticated),
        ("out-of-window", e.dropped_out_of_window),
        ("unexpected", e.dropped_unexpected),
        ("not-ike", s.sockets.not_ike.load(Ordering::Relaxed)),
        ("overload-new-ike-sa", s.daemon.shed_new_ike_sas),
        ("overload-known-spi", s.daemon.shed_known),
    ]
    .into_iter()
    .map(|(reason, n)| (reason.to_string(), n))
    .collect();
    StatsInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_secs: s.uptime.as_secs(),
        ike_sas_established: established,
        ike_sas_connecting: s.sas.len() as u64 - established,
        child_sas_installed: children,
        datagrams: DatagramStats {
            received: s.sockets.received.load(Ordering::Relaxed),
            sent: s.daemon.sent,
            receive_failed: s.sockets.receive_failed.load(Ordering::Relaxed),
            send_failed: s.daemon.send_failed,
            send_retries: s.daemon.send_retries,
        },
        dropped,
        exchanges: ExchangeStats {
            ike_sas_established: s.daemon.ike_sas_established,
            ike_rekeys: s.daemon.ike_rekeys,
            ike_rekeys_initiated: e.ike_rekeys_initiated,
            ike_hard_expiries: e.ike_hard_expiries,
            child_sas_installed: s.daemon.child_sas_installed,
            child_rekeys: s.daemon.child_rekeys,
            child_rekeys_initiated: e.child_rekeys_initiated,
            child_rekey_collisions: e.child_rekey_collisions,
            child_hard_expiries: e.child_hard_expiries,
            ike_rekey_collisions: e.ike_rekey_collisions,
            rekeys_adapted: e.rekeys_adapted,
            pfs_reauths: e.pfs_reauths,
            virtual_ips_assigned: e.virtual_ips_assigned,
            virtual_ip_refusals: e.virtual_ip_refusals,
            cp_attributes_malformed: e.cp_attributes_malformed,
            retransmits_sent: e.retransmits_sent,
            retransmits_answered: e.retransmits_answered,
            dpd_checks_sent: e.dpd_checks_sent,
            dead_peers: e.dead_peers,
            restarts: e.restarts,
            kernel_refusals: e.kernel_refusals,
        },
        events: EventStats {
            watchers: s.watchers as u64,
            dropped: s.events_dropped,
        },
        half_open: HalfOpenStats {
            current: s.half_open as u64,
            cookies_demanded: e.cookies_demanded,
            refused_per_address: e.half_open_refused_per_address,
            refused_limit: e.half_open_refused_limit,
        },
    }
}

/// The statistics of several shards as one daemon's: their own counts added up,
/// the sockets' (which they share) counted once, and each watcher (subscribed to
/// every shard) once.
pub fn merge(parts: Vec<StatsInfo>) -> Option<StatsInfo> {
    let mut parts = parts.into_iter();
    let mut all = parts.next()?;
    for s in parts {
        all.uptime_secs = all.uptime_secs.max(s.uptime_secs);
        all.ike_sas_established += s.ike_sas_established;
        all.ike_sas_connecting += s.ike_sas_connecting;
        all.child_sas_installed += s.child_sas_installed;
        all.datagrams.sent += s.datagrams.sent;
        all.datagrams.send_failed += s.datagrams.send_failed;
        all.datagrams.send_retries += s.datagrams.send_retries;
        for (reason, n) in s.dropped {
            if reason != "not-ike" {
                *all.dropped.entry(reason).or_default() += n;
            }
        }
        let (a, e) = (&mut all.exchanges, s.exchanges);
        a.ike_sas_established += e.ike_sas_established;
        a.ike_rekeys += e.ike_rekeys;
        a.ike_rekeys_initiated += e.ike_rekeys_initiated;
        a.ike_hard_expiries += e.ike_hard_expiries;
        a.child_sas_installed += e.child_sas_installed;
        a.child_rekeys += e.child_rekeys;
        a.child_rekeys_initiated += e.child_rekeys_initiated;
        a.child_rekey_collisions += e.child_rekey_collisions;
        a.child_hard_expiries += e.child_hard_expiries;
        a.ike_rekey_collisions += e.ike_rekey_collisions;
        a.rekeys_adapted += e.rekeys_adapted;
        a.pfs_reauths += e.pfs_reauths;
        a.virtual_ips_assigned += e.virtual_ips_assigned;
        a.virtual_ip_refusals += e.virtual_ip_refusals;
        a.cp_attributes_malformed += e.cp_attributes_malformed;
        a.retransmits_sent += e.retransmits_sent;
        a.retransmits_answered += e.retransmits_answered;
        a.dpd_checks_sent += e.dpd_checks_sent;
        a.dead_peers += e.dead_peers;
        a.restarts += e.restarts;
        a.kernel_refusals += e.kernel_refusals;
        all.events.watchers = all.events.watchers.max(s.events.watchers);
        all.events.dropped += s.events.dropped;
        let (a, h) = (&mut all.half_open, s.half_open);
        a.current += h.current;
        a.cookies_demanded += h.cookies_demanded;
        a.refused_per_address += h.refused_per_address;
        a.refused_limit += h.refused_limit;
    }
    Some(all)
}

/// `merge` over the shards' answers to `stats`; an error stands for the whole.
pub fn merge_responses(answers: Vec<Response>) -> Response {
    let mut parts = Vec::new();
    for answer in answers {
        match answer {
            Response::Ok {
                body: ResponseBody::Stats { stats },
            } => parts.push(*stats),
            other => return other,
        }
    }
    match merge(parts) {
        Some(stats) => Response::Ok {
            body: ResponseBody::Stats {
                stats: Box::new(stats),
            },
        },
        None => Response::Error {
            message: "no shard answered".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekeys_are_counted_from_events_whoever_started_them() {
        let mut c = DaemonCounters::default();
        let deleted = |kind, text: &str| Event::ChildSaDeleted {
            connection: "demo".into(),
            ike_id: 1,
            child: "net".into(),
            spi_in: 1,
            spi_out: 2,
            reason: tern_engine::EndReason::new(kind, text),
        };
        c.count_event(&deleted(tern_engine::EndKind::Rekeyed, "rekeyed"));
        c.count_event(&deleted(
            tern_engine::EndKind::DeletedByPeer,
            "deleted by the peer",
        ));
        c.count_event(&Event::IkeSaRekeyed {
            connection: "demo".into(),
            old_ike_id: 1,
            new_ike_id: 2,
        });
        c.count_event(&Event::IkeSaEstablished {
            connection: "demo".into(),
            ike_id: 1,
        });
        assert_eq!(
            (c.child_rekeys, c.ike_rekeys, c.ike_sas_established),
            (1, 1, 1)
        );
        let demo = |sa| (sa, "demo".to_string());
        assert_eq!(c.rekeys[&demo(SaType::Child)], 1);
        assert_eq!(c.rekeys[&demo(SaType::Ike)], 1);
        let end = |kind| (SaType::Child, "demo".to_string(), kind);
        assert_eq!(c.ends[&end(EndKind::Rekeyed)], 1);
        assert_eq!(c.ends[&end(EndKind::DeletedByPeer)], 1);
        assert_eq!(c.ends.len(), 2);
    }

    #[test]
    fn drops_by_reason_include_the_daemon_s_own() {
        let engine = Stats {
            dropped_malformed: 2,
            dropped_unknown_spi: 1,
            received: 10,
            ..Stats::default()
        };
        let sockets = SocketCounters::default();
        SocketCounters::count(&sockets.not_ike);
        SocketCounters::count(&sockets.received);
        let info = info(Sources {
            engine: &engine,
            half_open: 3,
            sas: &[],
            sockets: &sockets,
            daemon: &DaemonCounters::default(),
            uptime: Duration::from_secs(61),
            watchers: 2,
            events_dropped: 5,
        });
        assert_eq!(info.dropped["malformed"], 2);
        assert_eq!(info.dropped["unknown-spi"], 1);
        assert_eq!(info.dropped["not-ike"], 1);
        assert_eq!(info.datagrams.received, 1);
        assert_eq!(info.uptime_secs, 61);
        assert_eq!((info.events.watchers, info.events.dropped), (2, 5));
        assert_eq!(info.half_open.current, 3);
    }

    #[test]
    fn shards_add_up_but_share_the_sockets_and_watchers() {
        let sockets = SocketCounters::default();
        SocketCounters::count(&sockets.not_ike);
        SocketCounters::count(&sockets.received);
        let shard = |malformed: u64, sent: u64| {
            let daemon = DaemonCounters {
                sent,
                ike_sas_established: sent,
                ..DaemonCounters::default()
            };
            info(Sources {
                engine: &Stats {
                    dropped_malformed: malformed,
                    cookies_demanded: malformed,
                    half_open_refused_per_address: sent,
                    ..Stats::default()
                },
                half_open: 2,
                sas: &[],
                sockets: &sockets,
                daemon: &daemon,
                uptime: Duration::from_secs(61),
                watchers: 1,
                events_dropped: 1,
            })
        };
        let all = merge(vec![shard(2, 10), shard(3, 5)]).unwrap();
        assert_eq!(all.dropped["malformed"], 5);
        assert_eq!(all.dropped["not-ike"], 1);
        assert_eq!((all.datagrams.received, all.datagrams.sent), (1, 15));
        assert_eq!(all.exchanges.ike_sas_established, 15);
        assert_eq!((all.events.watchers, all.events.dropped), (1, 2));
        assert_eq!(all.uptime_secs, 61);
        assert_eq!(
            all.half_open,
            HalfOpenStats {
                current: 4,
                cookies_demanded: 5,
                refused_per_address: 15,
                refused_limit: 0,
            }
        );
        assert!(merge(Vec::new()).is_none());
    }
}
