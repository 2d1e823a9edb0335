//! For fuzz targets only (feature `fuzzing`, which ternd never enables): payload
//! chains handed to an IKE SA as if they had arrived encrypted and authenticated,
//! so a fuzzer reaches the exchange handlers behind decryption without the keys.

use std::time::Instant;

use tern_wire::{ExchangeType, Payload};

use crate::engine::{Engine, Next};

impl Engine {
    /// The unique ids of the IKE SAs that could decrypt a message (those past
    /// IKE_SA_INIT, with keys), in ascending order.
    pub fn fuzz_ike_sa_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .sas
            .values()
            .filter(|sa| sa.keys.is_some())
            .map(|sa| sa.unique_id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Hands `payloads` to IKE SA `unique_id` as the next request of `exchange` from
    /// its peer, or (`response`) as the answer to our request in flight. Returns
    /// false, doing nothing, if there is no such SA, it has no keys yet (nothing
    /// could have decrypted), or there is no request to answer.
    pub fn fuzz_deliver_decrypted(
        &mut self,
        now: Instant,
        unique_id: u64,
        exchange: ExchangeType,
        response: bool,
        payloads: Vec<Payload>,
    ) -> bool {
        let Some(spi) = self
            .sas
            .iter()
            .find(|(_, sa)| sa.unique_id == unique_id && sa.keys.is_some())
            .map(|(spi, _)| *spi)
        else {
            return false;
        };
        let mut sa = self.sas.remove(&spi).expect("found above");
        let message_id = if response {
            match &sa.in_flight {
                Some(request) => request.message_id,
                None => {
                    self.settle(now, sa, Next::Keep);
                    return false;
                }
            }
        } else {
            sa.expected_request_id
        };
        let endpoints = (sa.local, sa.remote);
        let next = self.ctx.dispatch_opened(
            now, &mut sa, endpoints, exchange, response, message_id, payloads,
        );
        self.settle(now, sa, next);
        true
    }
}
