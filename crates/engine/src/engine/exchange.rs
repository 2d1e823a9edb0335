//! The shared context's plumbing: sending, dispatching a decrypted message to its
//! handler, requests and responses with their retransmissions, and destroying an SA.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tern_wire::{ExchangeType, Message, Payload};

use crate::end_action::EndCause;
use crate::end_reason::{EndKind, EndReason};
use crate::history::{SaEnd, SaKind};
use crate::ike_sa::{AnsweredRequest, IkeSa, InFlight, Opened, Phase, Purpose, Queued};
use crate::output::{Event, Transmit};
use crate::stats::DropReason;

use super::{ike_spi, Ctx, Next, HALF_OPEN_TIMEOUT};

impl Ctx {
    pub fn random(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.env.random(&mut buf);
        buf
    }

    /// A new inbound ESP SPI for an SA to `local`, held until its SA is removed
    /// or released (see `inbound_spis`).
    pub fn choose_spi_in(&mut self, local: IpAddr) -> u32 {
        let Ctx {
            env,
            spis_in,
            shard,
            ..
        } = self;
        spis_in.choose(*shard, local, || {
            let mut word = [0; 4];
            env.random(&mut word);
            u32::from_be_bytes(word)
        })
    }

    pub fn unique_id(&mut self) -> u64 {
        let id = self.next_unique_id;
        self.next_unique_id += self.shard.serial_step();
        id
    }

    /// The reqid of a child of a connection, the same for all its CHILD SAs.
    pub fn reqid_for(&mut self, connection: &str, child: &str) -> u32 {
        let key = (connection.to_string(), child.to_string());
        if let Some(reqid) = self.reqids.get(&key) {
            return *reqid;
        }
        let reqid = self.next_reqid;
        self.next_reqid += self.shard.serial_step() as u32;
        self.reqids.insert(key, reqid);
        reqid
    }

    pub fn transmit(&mut self, local: SocketAddr, remote: SocketAddr, payload: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            local,
            remote,
            payload,
        });
    }

    /// Sends a message's datagrams (one, or its fragments) in order.
    pub fn transmit_all(&mut self, local: SocketAddr, remote: SocketAddr, datagrams: Vec<Vec<u8>>) {
        for datagram in datagrams {
            self.transmit(local, remote, datagram);
        }
    }

    /// Counts a dropped datagram, and logs it unless its kind has had its share
    /// of the log lately (see `log_limit`).
    pub fn drop_packet(
        &mut self,
        now: Instant,
        reason: DropReason,
        from: SocketAddr,
        detail: &str,
    ) {
        self.stats.count_drop(reason);
        if self.log_allowed(now, reason.log_label(), from.ip()) {
            tracing::warn!(%from, reason = reason.as_str(), "dropped IKE packet: {detail}");
        } else {
            tracing::debug!(%from, reason = reason.as_str(), "dropped IKE packet: {detail}");
        }
    }

    /// Whether a line of kind `what` that `from` caused may be logged: a
    /// remote host must not choose what fills the log (see `log_limit`). Logs
    /// the summary of the kind's window that just ended, if any.
    pub fn log_allowed(&mut self, now: Instant, what: &'static str, from: IpAddr) -> bool {
        let (log, ended) = self.drop_log.allow(now, what, from);
        if let Some(summary) = ended {
            tracing::warn!("{summary}");
        }
        log
    }

    /// Routes a message for an existing SA: window checks, decryption, then the
    /// handler for its exchange.
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        message: Message,
    ) -> Next {
        let header = message.header.clone();
        if header.exchange == ExchangeType::IKE_SA_INIT {
            return self.handle_init_response(now, sa, bytes, message);
        }
        if header.flags.is_response() {
            if sa.in_flight.as_ref().map(|r| r.message_id) != Some(header.message_id) {
                self.drop_packet(
                    now,
                    DropReason::Unexpected,
                    remote,
                    &format!(
                        "response with message ID {} matches no request of ours",
                        header.message_id
                    ),
                );
                return Next::Keep;
            }
        } else if header.message_id.wrapping_add(1) == sa.expected_request_id {
            // A retransmitted fragmented request: answer its first fragment only
            // (RFC 7383 §2.6.1), not every one.
            let first =
                crate::fragment::skf(&message.payloads).is_none_or(|f| f.fragment_number == 1);
            if let Some(response) = sa.last_response.clone().filter(|_| first) {
                self.stats.retransmits_answered += 1;
                tracing::debug!(
                    ike = sa.unique_id,
                    id = header.message_id,
                    "request retransmitted by the peer; resending our response"
                );
                // With MOBIKE the SA stays where it is; the answer goes where
                // the retransmission came from (RFC 4555 §3.8, RFC 7296 §2.11).
                let (from, to) = if crate::mobike::in_use(sa) {
                    (local, remote)
                } else {
                    (sa.local, sa.remote)
                };
                self.transmit_all(from, to, response);
            }
            return Next::Keep;
        } else if header.message_id != sa.expected_request_id {
            self.drop_packet(
                now,
                DropReason::OutOfWindow,
                remote,
                &format!(
                    "request with message ID {}, expected {}",
                    header.message_id, sa.expected_request_id
                ),
            );
            return Next::Keep;
        }
        let payloads = match sa.open(bytes, &message) {
            Ok(Opened::Message(p)) => p,
            Ok(Opened::Fragment) => return Next::Keep,
            Err(e) => {
                self.drop_packet(
                    now,
                    DropReason::Unauthenticated,
                    remote,
                    &format!("IKE SA #{}: {e}", sa.unique_id),
                );
                return Next::Keep;
            }
        };
        self.dispatch_opened(
            now,
            sa,
            (local, remote),
            header.exchange,
            header.flags.is_response(),
            header.message_id,
            payloads,
        )
    }

    /// The rest of [`Ctx::dispatch`] once a message is authenticated and decrypted
    /// (and, for fuzzing, where payload chains that skip decryption come in).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dispatch_opened(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        (local, remote): (SocketAddr, SocketAddr),
        exchange: ExchangeType,
        is_response: bool,
        message_id: u32,
        payloads: Vec<Payload>,
    ) -> Next {
        // With MOBIKE only UPDATE_SA_ADDRESSES moves the SA (RFC 4555 §3.8).
        let mobike = crate::mobike::in_use(sa);
        if !mobike {
            self.follow_peer(now, sa, local, remote);
        } else if !is_response {
            self.request_path = Some((local, remote));
        }
        let next =
            self.dispatch_authenticated(now, sa, exchange, is_response, message_id, payloads);
        self.request_path = None;
        next
    }

    /// Handles an authenticated message of the peer's, now on the SA's path.
    fn dispatch_authenticated(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        is_response: bool,
        message_id: u32,
        payloads: Vec<Payload>,
    ) -> Next {
        sa.last_heard = Some(now);
        if let Some(critical) = crate::payloads::unknown_critical(&payloads) {
            if !is_response {
                let notify = Payload::Notify(tern_wire::NotifyPayload {
                    protocol: tern_wire::ProtocolId(0),
                    spi: Vec::new(),
                    notify_type: tern_wire::NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                    data: vec![critical],
                });
                self.respond(sa, exchange, message_id, &[notify]);
            }
            return Next::Keep;
        }
        if is_response {
            let request = sa.in_flight.take().expect("checked by the caller");
            sa.answered_request = Some(AnsweredRequest {
                first_sent: request.first_sent,
                sends: request.sends,
            });
            let next = self.handle_response(now, sa, exchange, request.purpose, payloads);
            sa.answered_request = None;
            if matches!(next, Next::Keep) {
                self.send_queued(now, sa);
            }
            next
        } else {
            self.handle_request(now, sa, exchange, message_id, payloads)
        }
    }

    /// An authenticated message came over other addresses or ports than the SA's: the
    /// peer moved (e.g. it floated to port 4500, as strongSwan does with MOBIKE).
    /// Answers and our later requests follow it (RFC 7296 §2.11, §2.23).
    /// Its CHILD SAs follow too.
    /// Once established, a move of the peer's address or port on the same local
    /// address is its NAT mapping changing (the float to the NAT-T port happens
    /// before), counted for `ternctl diagnose`.
    pub(crate) fn follow_peer(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        if (sa.local, sa.remote) != (local, remote) {
            tracing::info!(ike = sa.unique_id, from = %sa.remote, to = %remote, local = %local, "peer moved; following it");
            if sa.is_established() && sa.nat.peer_behind && sa.local == local {
                crate::nat::MappingChanges::record(&mut sa.mapping_changes, now);
            }
            let before = crate::children::endpoints(sa);
            sa.local = local;
            sa.remote = remote;
            self.move_children(sa, before);
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        id: u32,
        payloads: Vec<Payload>,
    ) -> Next {
        match (exchange, &sa.phase) {
            (ExchangeType::IKE_AUTH, Phase::AwaitAuthRequest) => {
                self.handle_auth_request(now, sa, id, payloads)
            }
            (ExchangeType::IKE_AUTH, Phase::AwaitEap(_)) => {
                self.handle_eap_request(now, sa, id, payloads)
            }
            (ExchangeType::INFORMATIONAL, _) => {
                self.handle_informational_request(now, sa, id, payloads)
            }
            (ExchangeType::CREATE_CHILD_SA, Phase::Established | Phase::Deleting(_)) => {
                self.handle_create_child_request(now, sa, id, payloads)
            }
            (exchange, phase) => {
                let detail = format!("{exchange} request while {}", phase.name());
                self.drop_packet(now, DropReason::Unexpected, sa.remote, &detail);
                Next::Keep
            }
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        purpose: Purpose,
        payloads: Vec<Payload>,
    ) -> Next {
        match (purpose, exchange) {
            (Purpose::IkeAuth, ExchangeType::IKE_AUTH) => {
                self.handle_auth_response(now, sa, payloads)
            }
            (Purpose::RekeyIke(rekey), ExchangeType::CREATE_CHILD_SA) => {
                self.handle_ike_rekey_response(now, sa, rekey, payloads)
            }
            (Purpose::CreateChild(ex), ExchangeType::CREATE_CHILD_SA) => {
                self.handle_create_child_response(now, sa, ex, payloads)
            }
            (
                purpose @ (Purpose::DeleteIke
                | Purpose::DeleteChild { .. }
                | Purpose::Liveness
                | Purpose::UpdateAddresses(_)),
                ExchangeType::INFORMATIONAL,
            ) => self.handle_informational_response(now, sa, purpose, payloads),
            (purpose, exchange) => {
                let detail = format!("{exchange} response to our {} request", purpose.describe());
                self.drop_packet(now, DropReason::Unexpected, sa.remote, &detail);
                Next::Keep
            }
        }
    }

    /// Sends (or queues, while another request is in flight) an encrypted request.
    pub fn request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        purpose: Purpose,
        payloads: Vec<Payload>,
    ) {
        if sa.in_flight.is_some() {
            sa.queued.push_back(Queued {
                exchange,
                purpose,
                payloads,
            });
            return;
        }
        let id = sa.next_request_id;
        sa.next_request_id += 1;
        let limit = sa.fragment_limit(&self.config.fragmentation);
        let datagrams = sa.seal(exchange, false, id, &payloads, limit);
        self.send_first(now, sa, id, purpose, datagrams);
    }

    /// Sends a request for the first time and arms its retransmission.
    pub fn send_first(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        message_id: u32,
        purpose: Purpose,
        datagrams: Vec<Vec<u8>>,
    ) {
        self.transmit_all(sa.local, sa.remote, datagrams.clone());
        sa.in_flight = Some(InFlight {
            message_id,
            purpose,
            datagrams,
            sends: 1,
            first_sent: now,
            next_retransmit: now + self.retransmit_delay(0),
        });
    }

    pub(crate) fn send_queued(&mut self, now: Instant, sa: &mut IkeSa) {
        if let Some(q) = sa.queued.pop_front() {
            self.request(now, sa, q.exchange, q.purpose, q.payloads);
        }
    }

    /// Answers the peer's request `id` and remembers the answer for retransmits.
    pub fn respond(
        &mut self,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        id: u32,
        payloads: &[Payload],
    ) {
        let limit = sa.fragment_limit(&self.config.fragmentation);
        let datagrams = sa.seal(exchange, true, id, payloads, limit);
        sa.expected_request_id = id.wrapping_add(1);
        sa.last_response = Some(datagrams.clone());
        let (from, to) = self.request_path.unwrap_or((sa.local, sa.remote));
        self.transmit_all(from, to, datagrams);
    }

    /// How long a half-open IKE SA waits for IKE_AUTH: as long as an initiator
    /// retransmitting on our schedule would keep trying, so that an IKE_AUTH that
    /// got through only at its last try still finds its SA.
    pub fn half_open_timeout(&self) -> Duration {
        let schedule: Duration = (0..=self.config.retransmit.tries)
            .map(|n| self.retransmit_delay(n))
            .sum();
        schedule.max(HALF_OPEN_TIMEOUT)
    }

    /// Delay before retransmission number `n + 1`: base * factor^n.
    /// How long a CHILD SA the peer replaced waits for the peer's DELETE. If our
    /// answer to its rekey was lost, the peer sends on the old SA until one of
    /// its retransmissions gets through, up to a whole retransmission schedule
    /// (ours is the estimate): deleting the old SA sooner cut such tunnels off.
    pub(crate) fn peer_delete_wait(&self) -> Duration {
        let schedule: Duration = (0..=self.config.retransmit.tries)
            .map(|n| self.retransmit_delay(n))
            .sum();
        schedule.max(crate::child_sa::REKEYED_LINGER)
    }

    fn retransmit_delay(&self, n: u32) -> Duration {
        let r = &self.config.retransmit;
        let factor = f64::from(r.factor_tenths) / 10.0;
        r.base.mul_f64(factor.powi(n as i32))
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        if sa.phase_deadline.is_some_and(|d| d <= now) {
            return Next::Destroy(match sa.phase {
                Phase::AwaitAuthRequest => EndReason::new(
                    EndKind::HalfOpenTimeout,
                    "the peer never sent IKE_AUTH (half-open IKE SA timed out)",
                ),
                Phase::AwaitEap(_) => EndReason::new(
                    EndKind::HalfOpenTimeout,
                    "the peer did not finish its EAP login in time (half-open IKE SA timed out)",
                ),
                _ => EndReason::new(EndKind::Unanswered, "timed out"),
            });
        }
        if let Next::Destroy(reason) = self.retransmit_due(now, sa) {
            return Next::Destroy(reason);
        }
        self.run_keepalive(now, sa);
        self.run_child_timers(now, sa);
        if let Next::Destroy(reason) = self.session_timeout_due(now, sa) {
            return Next::Destroy(reason);
        }
        self.interim_due(now, sa);
        let next = self.run_ike_timers(now, sa);
        if matches!(next, Next::Keep) {
            self.run_dpd(now, sa);
        }
        next
    }

    /// Retransmits our request if its time has come, or gives up on the peer.
    fn retransmit_due(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        let tries = self.config.retransmit.tries;
        let delay_next = match &sa.in_flight {
            Some(r) if r.next_retransmit <= now => self.retransmit_delay(r.sends),
            _ => return Next::Keep,
        };
        let request = sa.in_flight.as_mut().expect("matched above");
        if request.sends > tries {
            if matches!(request.purpose, Purpose::DeleteIke) {
                let why = match &sa.phase {
                    Phase::Deleting(reason) => reason.clone(),
                    _ => EndReason::new(EndKind::ClosedByUs, "deleted"),
                };
                let text = format!("{why} (the peer did not confirm the DELETE)");
                return Next::Destroy(EndReason::new(why.kind, text));
            }
            let unanswered = format!(
                "the peer did not answer our {} request after {} transmissions",
                request.purpose.describe(),
                request.sends
            );
            if sa.established_at.is_none() {
                sa.end_cause = Some(EndCause::Unanswered);
                // IKE_SA_INIT answered and IKE_AUTH not: the path loses what
                // is large, not everything.
                let (kind, why) = match request.purpose {
                    Purpose::IkeAuth => (
                        EndKind::AuthUnanswered,
                        "IKE_SA_INIT was answered, so large messages are lost on the path \
                         (IP fragments, MTU)",
                    ),
                    _ => (EndKind::Unanswered, "peer unreachable or not running IKE"),
                };
                return Next::Destroy(EndReason::new(kind, format!("{unanswered}: {why}")));
            }
            self.stats.dead_peers += 1;
            sa.end_cause = Some(EndCause::PeerDead);
            return Next::Destroy(EndReason::new(
                EndKind::DeadPeer,
                match request.purpose {
                    Purpose::Liveness => format!("{}: {unanswered}", crate::dpd::DEAD_PEER),
                    _ => format!("dead peer: {unanswered}"),
                },
            ));
        }
        request.sends += 1;
        request.next_retransmit = now + delay_next;
        self.stats.retransmits_sent += 1;
        tracing::info!(
            ike = sa.unique_id,
            id = request.message_id,
            attempt = request.sends,
            "retransmitting request"
        );
        let datagrams = request.datagrams.clone();
        self.transmit_all(sa.local, sa.remote, datagrams);
        Next::Keep
    }

    /// Removes an SA's kernel state and tells the user how it ended.
    pub(super) fn destroy(&mut self, now: Instant, mut sa: IkeSa, reason: &EndReason) {
        // SPIs reserved for CHILD SAs that never came.
        let pending_spi = match (&sa.phase, sa.in_flight.as_ref().map(|r| &r.purpose)) {
            (Phase::AwaitAuthResponse(pending), _) => pending.child.as_ref().map(|c| c.spi_in),
            (_, Some(Purpose::CreateChild(ex))) => Some(ex.spi_in),
            _ => None,
        };
        // ... and those of CREATE_CHILD_SA requests still queued behind another.
        let queued_spis = sa.queued.iter().filter_map(|q| match &q.purpose {
            Purpose::CreateChild(ex) => Some(ex.spi_in),
            _ => None,
        });
        let reserved: Vec<u32> = pending_spi
            .into_iter()
            .chain(queued_spis)
            .filter(|s| *s != 0)
            .collect();
        // Chosen, never installed: nothing to remove from the kernel.
        for spi in reserved {
            self.spis_in.release(spi);
        }
        self.kernel_ops.extend(sa.lingering.drain(..).map(|l| l.op));
        self.radius_session_ended(now, &mut sa, reason);
        self.release_virtual_ips(&mut sa);
        let ids: Vec<u64> = sa.children.iter().map(|c| c.unique_id).collect();
        for id in ids {
            self.retire_child(now, &mut sa, id, reason, false);
        }
        self.release_policies_of(sa.unique_id);
        let connection = sa.connection.name.clone();
        self.history.record(
            &connection,
            SaEnd {
                at: now,
                kind: SaKind::Ike,
                ike_id: sa.unique_id,
                child: String::new(),
                spi_in: 0,
                spi_out: 0,
                was_up: sa.established_at.is_some(),
                cause: reason.clone(),
            },
        );
        if sa.established_at.is_some() {
            tracing::info!(ike = sa.unique_id, conn = connection, ike_spi = ike_spi(&sa), remote = %sa.remote, "IKE SA deleted: {reason}");
            self.events.push_back(Event::IkeSaDeleted {
                connection,
                ike_id: sa.unique_id,
                reason: reason.clone(),
            });
        } else {
            tracing::warn!(ike = sa.unique_id, conn = connection, ike_spi = ike_spi(&sa), remote = %sa.remote, "IKE SA failed: {reason}");
            self.events.push_back(Event::IkeSaFailed {
                connection,
                ike_id: sa.unique_id,
                reason: reason.clone(),
            });
        }
    }
}
