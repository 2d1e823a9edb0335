//! The control clients watching events (`ternctl watch`).
//!
//! Each watcher has a bounded queue drained by its own control task. The daemon
//! never waits for a watcher: when a queue is full the event is dropped for that
//! watcher and counted, and the watcher is told how many it missed as soon as
//! there is room again. A watcher whose client went away is forgotten at the next
//! event.

use tern_control::{EventInfo, EventKind};
use tokio::sync::mpsc;

/// Events queued per watcher before ternd starts dropping them.
pub const WATCH_QUEUE: usize = 256;

struct Watcher {
    /// Only this connection's events; `None` for all.
    connection: Option<String>,
    events: mpsc::Sender<EventInfo>,
    /// Events dropped since the watcher was last told.
    missed: u64,
}

#[derive(Default)]
pub struct Watchers {
    watchers: Vec<Watcher>,
    /// Events dropped for slow watchers since ternd started.
    dropped: u64,
}

impl Watchers {
    pub fn subscribe(&mut self, connection: Option<String>, events: mpsc::Sender<EventInfo>) {
        self.watchers.push(Watcher {
            connection,
            events,
            missed: 0,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Watchers still connected. With several shards a watcher is subscribed to
    /// each, and a shard without events would never notice it leave.
    pub fn count(&self) -> usize {
        self.watchers
            .iter()
            .filter(|w| !w.events.is_closed())
            .count()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hands `event` to every watcher it concerns, without waiting for any.
    pub fn publish(&mut self, event: &EventInfo) {
        let mut dropped = 0;
        self.watchers.retain_mut(|w| {
            if w.events.is_closed() {
                return false;
            }
            if w.connection
                .as_ref()
                .is_some_and(|c| *c != event.connection)
            {
                return true;
            }
            if w.missed > 0 {
                match w.events.try_send(lost(event.unix_ms, w.missed)) {
                    Ok(()) => w.missed = 0,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        w.missed += 1;
                        dropped += 1;
                        return true;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            match w.events.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    w.missed += 1;
                    dropped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.dropped += dropped;
    }
}

fn lost(unix_ms: u64, count: u64) -> EventInfo {
    EventInfo {
        unix_ms,
        kind: EventKind::EventsLost,
        connection: String::new(),
        ike_id: 0,
        new_ike_id: None,
        initiator_spi: None,
        responder_spi: None,
        child: None,
        spi_in: None,
        spi_out: None,
        reason: Some(format!(
            "{count} event(s) dropped: this watcher read too slowly"
        )),
        end_kind: None,
        lost: Some(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(connection: &str, ike_id: u64) -> EventInfo {
        EventInfo {
            unix_ms: 1,
            kind: EventKind::IkeSaEstablished,
            connection: connection.into(),
            ike_id,
            new_ike_id: None,
            initiator_spi: None,
            responder_spi: None,
            child: None,
            spi_in: None,
            spi_out: None,
            reason: None,
            end_kind: None,
            lost: None,
        }
    }

    #[test]
    fn a_watcher_sees_only_its_connection() {
        let mut w = Watchers::default();
        let (all_tx, mut all) = mpsc::channel(8);
        let (demo_tx, mut demo) = mpsc::channel(8);
        w.subscribe(None, all_tx);
        w.subscribe(Some("demo".into()), demo_tx);
        w.publish(&event("other", 1));
        w.publish(&event("demo", 2));
        assert_eq!(all.try_recv().unwrap().ike_id, 1);
        assert_eq!(all.try_recv().unwrap().ike_id, 2);
        assert_eq!(demo.try_recv().unwrap().ike_id, 2);
        assert!(demo.try_recv().is_err());
    }

    #[test]
    fn a_slow_watcher_loses_events_and_is_told_how_many() {
        let mut w = Watchers::default();
        let (tx, mut rx) = mpsc::channel(2);
        w.subscribe(None, tx);
        for id in 1..=5 {
            w.publish(&event("demo", id));
        }
        assert_eq!(w.dropped(), 3);
        assert_eq!(rx.try_recv().unwrap().ike_id, 1);
        assert_eq!(rx.try_recv().unwrap().ike_id, 2);
        assert!(rx.try_recv().is_err());
        // Room again: first the count of what was missed, then the new event.
        w.publish(&event("demo", 6));
        let notice = rx.try_recv().unwrap();
        assert_eq!(notice.kind, EventKind::EventsLost);
        assert_eq!(notice.lost, Some(3));
        assert_eq!(rx.try_recv().unwrap().ike_id, 6);
        assert_eq!(w.dropped(), 3);
    }

    #[test]
    fn a_vanished_watcher_is_forgotten() {
        let mut w = Watchers::default();
        let (tx, rx) = mpsc::channel(2);
        w.subscribe(Some("demo".into()), tx);
        drop(rx);
        // Even an event for another connection notices.
        w.publish(&event("other", 1));
        assert!(w.is_empty());
        assert_eq!(w.dropped(), 0);
    }
}
