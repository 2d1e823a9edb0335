//! What others observe of this engine: events for the watchers and the history,
//! setup times and counters for the metrics.

use super::*;

impl Daemon {
    /// How long the IKE SA took to come up, for the metrics (an IKE SA made by a
    /// rekey has no such time).
    fn observe_setup(&self, ike_id: u64, connection: &str) {
        let Some(sa) = self.engine.ike_sa(std::time::Instant::now(), ike_id) else {
            return;
        };
        if let Some(took) = sa.set_up_in {
            let labels = crate::metrics::SetupLabels {
                connection: connection.to_string(),
                role: if sa.initiator {
                    "initiator"
                } else {
                    "responder"
                },
            };
            self.setup_times
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        }
    }

    /// What this engine reports to a metrics scrape.
    pub(super) fn metrics_snapshot(&mut self) -> ShardSnapshot {
        let sas = self.engine.list_sas(std::time::Instant::now());
        let mut kernel = self.kernel.lock().expect("kernel lock");
        ShardSnapshot::new(
            self.engine.stats().clone(),
            self.counters.clone(),
            self.engine.half_open_count(),
            &self.engine.config().connections,
            &sas,
            &mut *kernel,
        )
    }

    /// Counts `event` and hands it to the watchers.
    pub(super) fn publish(&mut self, event: &Event) {
        self.counters.count_event(event);
        if let Event::IkeSaEstablished { ike_id, connection } = event {
            self.observe_setup(*ike_id, connection);
        }
        self.history
            .lock()
            .expect("history lock")
            .record_event(event);
        if self.watchers.is_empty() {
            self.ike_spis.clear();
            return;
        }
        let spis = match event {
            Event::IkeSaEstablished { ike_id, .. } => self.learn_spis(*ike_id),
            Event::IkeSaRekeyed { new_ike_id, .. } => self.learn_spis(*new_ike_id),
            Event::IkeSaDeleted { ike_id, .. } | Event::IkeSaFailed { ike_id, .. } => {
                self.ike_spis.remove(ike_id)
            }
            Event::ChildSaInstalled { ike_id, .. }
            | Event::ChildSaFailed { ike_id, .. }
            | Event::ChildSaDeleted { ike_id, .. }
            | Event::EndAction { ike_id, .. } => self.ike_spis.get(ike_id).copied(),
        };
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.watchers.publish(&present::event(event, unix_ms, spis));
    }

    fn learn_spis(&mut self, ike_id: u64) -> Option<([u8; 8], [u8; 8])> {
        let sa = self.engine.ike_sa(std::time::Instant::now(), ike_id)?;
        let spis = (sa.initiator_spi, sa.responder_spi);
        self.ike_spis.insert(ike_id, spis);
        Some(spis)
    }
}
