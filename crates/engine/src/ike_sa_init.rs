//! IKE_SA_INIT (RFC 7296 §1.2): proposals, key exchange, nonces, NAT detection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tern_crypto::{derive_ike_keys, ke_public, ke_shared, Secret, SkCipher};
use tern_wire::{
    ExchangeType, Flags, Header, KeMethod, KePayload, Message, NotifyType, Payload, PayloadType,
};

use crate::capabilities;
use crate::config::{Connection, KeyExchange};
use crate::end_reason::{EndKind, EndReason, KeGroups};
use crate::engine::{Ctx, Next};
use crate::half_open::Refusal;
use crate::ike_sa::{AwaitInitResponse, IkeSa, Phase, Purpose, SaKeys};
use crate::payloads;
use crate::proposal::{self, IkeSuite};
use crate::stats::DropReason;

pub(crate) const NONCE_LEN: usize = 32;
/// RFC 7296 §2.10: nonces are at least 16 and at most 256 octets.
pub(crate) const NONCE_RANGE: std::ops::RangeInclusive<usize> = 16..=256;

impl Ctx {
    /// Starts a new IKE SA for `conn` as initiator.
    pub(crate) fn initiate(
        &mut self,
        now: Instant,
        conn: Arc<Connection>,
    ) -> Result<IkeSa, String> {
        let remote_ip = *conn.remote_addrs.first().ok_or_else(|| {
            format!(
                "connection `{}` has no remote_addrs, so it can only respond",
                conn.name
            )
        })?;
        let local_ip = match conn.local_addrs.first() {
            Some(ip) => *ip,
            None => self
                .env
                .local_address_for(remote_ip)
                .ok_or_else(|| format!("no local address can reach {remote_ip}"))?,
        };
        let key_exchange = *conn
            .ike_proposals
            .first()
            .and_then(|p| p.key_exchange.first())
            .ok_or_else(|| format!("connection `{}` has no IKE proposal", conn.name))?;
        let ke_private = self.ke_private(key_exchange);
        let local = SocketAddr::new(local_ip, self.config.ike_port);
        let remote = SocketAddr::new(remote_ip, conn.remote_port);
        let phase = Phase::AwaitInitResponse(Box::new(AwaitInitResponse {
            key_exchange,
            ke_private,
            cookie: None,
            restarts_left: 3,
            ke_sent: vec![key_exchange],
        }));
        let mut sa = IkeSa::new(self.unique_id(), conn, true, local, remote, phase);
        sa.negotiation_started = Some(now);
        sa.spi_i = self.new_spi();
        sa.nonce_i = self.random(NONCE_LEN);
        tracing::info!(ike = sa.unique_id, conn = sa.connection.name, %remote, "initiating IKE SA");
        self.send_init_request(now, &mut sa)?;
        Ok(sa)
    }

    pub(crate) fn ke_private(&mut self, ke: KeyExchange) -> Secret {
        Secret::new(self.random(proposal::ke_alg(ke).private_len()))
    }

    pub(crate) fn new_spi(&mut self) -> [u8; 8] {
        loop {
            let random: [u8; 8] = self.random(8).try_into().expect("8 bytes");
            // The dispatcher finds this engine by the SPI (see `Shard`).
            if let Some(spi) = self.shard.ike_spi_from(random) {
                return spi;
            }
        }
    }

    /// (Re)sends our IKE_SA_INIT request from the current phase's KE and cookie.
    fn send_init_request(&mut self, now: Instant, sa: &mut IkeSa) -> Result<(), String> {
        let Phase::AwaitInitResponse(state) = &sa.phase else {
            unreachable!("only while awaiting the response")
        };
        let public = ke_public(proposal::ke_alg(state.key_exchange), &state.ke_private)
            .map_err(|e| e.to_string())?;
        let mut payloads = Vec::new();
        if let Some(cookie) = &state.cookie {
            payloads.push(payloads::status(NotifyType::COOKIE, cookie.clone()));
        }
        payloads.push(Payload::Sa(proposal::ike_offer(
            &sa.connection.ike_proposals,
        )));
        payloads.push(Payload::Ke(KePayload {
            method: proposal::ke_method(state.key_exchange),
            data: public,
        }));
        payloads.push(Payload::Nonce(sa.nonce_i.clone()));
        payloads.extend(crate::nat::our_hashes(sa));
        payloads.extend(capabilities::announce(&self.config, &sa.connection, false));
        let bytes = Message {
            header: sa.header(ExchangeType::IKE_SA_INIT, false, 0),
            payloads,
        }
        .to_bytes();
        sa.init_request = bytes.clone();
        sa.next_request_id = 1;
        self.send_first(now, sa, 0, Purpose::IkeSaInit, vec![bytes]);
        Ok(())
    }

    /// Initiator: the responder's answer to IKE_SA_INIT.
    pub(crate) fn handle_init_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        bytes: &[u8],
        message: Message,
    ) -> Next {
        let awaiting = matches!(&sa.in_flight, Some(r) if matches!(r.purpose, Purpose::IkeSaInit))
            && matches!(sa.phase, Phase::AwaitInitResponse(_))
            && message.header.message_id == 0;
        if !awaiting {
            self.drop_packet(
                now,
                DropReason::Unexpected,
                sa.remote,
                "IKE_SA_INIT response we are not waiting for",
            );
            return Next::Keep;
        }
        let p = &message.payloads;
        if let Some(cookie) = payloads::notify(p, NotifyType::COOKIE) {
            let cookie = cookie.data.clone();
            return self.restart_init(now, sa, |state| {
                state.cookie = Some(cookie);
                Ok(())
            });
        }
        if let Some(invalid_ke) = payloads::notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let Some(wanted) = invalid_ke
                .data
                .get(..2)
                .map(|d| KeMethod(u16::from_be_bytes([d[0], d[1]])))
            else {
                return Next::Destroy(EndReason::new(
                    EndKind::PeerMisbehaved,
                    "the peer answered INVALID_KE_PAYLOAD without naming a group",
                ));
            };
            let offered = sa
                .connection
                .ike_proposals
                .iter()
                .flat_map(|p| p.key_exchange.iter().copied());
            let Some(ke) =
                proposal::ke_from_method(wanted).filter(|k| offered.clone().any(|o| o == *k))
            else {
                return Next::Destroy(EndReason::new(
                    EndKind::NoProposal,
                    format!("the peer requires key exchange {wanted}, which none of our IKE proposals offers"),
                ));
            };
            if let Phase::AwaitInitResponse(state) = &sa.phase {
                if state.ke_sent.contains(&ke) {
                    return Next::Destroy(invalid_ke_loop(
                        "IKE_SA_INIT",
                        &state.ke_sent,
                        ke,
                        offered.collect(),
                    ));
                }
            }
            let private = self.ke_private(ke);
            return self.restart_init(now, sa, |state| {
                state.key_exchange = ke;
                state.ke_private = private;
                state.ke_sent.push(ke);
                Ok(())
            });
        }
        if let Some(err) = payloads::error_notify(p) {
            let ours = proposal::describe_ike_proposals(&sa.connection.ike_proposals);
            let text = match err.notify_type {
                NotifyType::NO_PROPOSAL_CHOSEN => format!(
                    "the peer accepts none of our IKE proposals ({}); NO_PROPOSAL_CHOSEN",
                    ours
                ),
                other => format!("the peer refused IKE_SA_INIT with {other}"),
            };
            let kind = EndKind::refused_with(err.notify_type);
            return Next::Destroy(EndReason::new(kind, text));
        }
        let (Some(sa_payload), Some(ke), Some(nonce)) =
            (payloads::sa(p), payloads::ke(p), payloads::nonce(p))
        else {
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                "the peer's IKE_SA_INIT response lacks SA, KE or Nonce",
            ));
        };
        let Some(suite) = proposal::accept_ike_answer(sa_payload, &sa.connection.ike_proposals)
        else {
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                format!(
                    "the peer chose an IKE proposal we did not offer: {}",
                    proposal::describe_offer(sa_payload)
                ),
            ));
        };
        let Phase::AwaitInitResponse(state) = &sa.phase else {
            unreachable!("checked above")
        };
        if ke.method != proposal::ke_method(suite.key_exchange)
            || suite.key_exchange != state.key_exchange
        {
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                format!(
                    "the peer's KE payload uses {} but the agreed group is {}",
                    ke.method,
                    proposal::ke_name(suite.key_exchange)
                ),
            ));
        }
        if !NONCE_RANGE.contains(&nonce.len()) || message.header.responder_spi == [0; 8] {
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                "the peer's IKE_SA_INIT response has a bad nonce length or a zero SPI",
            ));
        }
        let shared = match ke_shared(
            proposal::ke_alg(suite.key_exchange),
            &state.ke_private,
            &ke.data,
        ) {
            Ok(s) => s,
            Err(e) => {
                return Next::Destroy(EndReason::new(
                    EndKind::PeerMisbehaved,
                    format!("the peer's key exchange value is invalid: {e}"),
                ))
            }
        };
        sa.spi_r = message.header.responder_spi;
        sa.nonce_r = nonce.clone();
        sa.init_response = bytes.to_vec();
        sa.in_flight = None;
        if let Err(e) = install_keys(sa, suite, &shared) {
            return Next::Destroy(EndReason::new(EndKind::Other, e));
        }
        self.detect_nat(now, sa, p);
        capabilities::note_peer(sa, p);
        tracing::debug!(ike = sa.unique_id, suite = %suite, "IKE_SA_INIT done");
        let requested = crate::cert_auth::requested_cas(p);
        self.send_auth_request(now, sa, &requested)
    }

    /// Sends IKE_SA_INIT again after COOKIE or INVALID_KE_PAYLOAD.
    fn restart_init(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        change: impl FnOnce(&mut AwaitInitResponse) -> Result<(), String>,
    ) -> Next {
        let Phase::AwaitInitResponse(state) = &mut sa.phase else {
            unreachable!("checked by the caller")
        };
        if state.restarts_left == 0 {
            return Next::Destroy(EndReason::new(
                EndKind::PeerMisbehaved,
                "the peer keeps asking us to restart IKE_SA_INIT (COOKIE / INVALID_KE_PAYLOAD)",
            ));
        }
        state.restarts_left -= 1;
        if let Err(e) = change(state) {
            return Next::Destroy(EndReason::new(EndKind::Other, e));
        }
        sa.in_flight = None;
        match self.send_init_request(now, sa) {
            Ok(()) => Next::Keep,
            Err(e) => Next::Destroy(EndReason::new(EndKind::Other, e)),
        }
    }

    /// Responder: a new IKE_SA_INIT request. Returns the new half-open SA, if any.
    pub(crate) fn respond_to_init(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        message: Message,
    ) -> Option<IkeSa> {
        let header = &message.header;
        if header.responder_spi != [0; 8] || header.message_id != 0 || !header.flags.is_initiator()
        {
            self.drop_packet(
                now,
                DropReason::Malformed,
                remote,
                "IKE_SA_INIT request with a responder SPI, a message ID or without the I flag",
            );
            return None;
        }
        let p = &message.payloads;
        // Rejected before any work, with no state kept (RFC 7296 §2.5).
        if let Some(critical) = payloads::unknown_critical(p) {
            tracing::debug!(%remote, payload_type = critical, "IKE_SA_INIT refused: unknown critical payload");
            self.refuse_init(
                local,
                remote,
                header,
                payloads::status(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD, vec![critical]),
            );
            return None;
        }
        let (Some(offer), Some(ke), Some(nonce)) =
            (payloads::sa(p), payloads::ke(p), payloads::nonce(p))
        else {
            self.drop_packet(
                now,
                DropReason::Malformed,
                remote,
                "IKE_SA_INIT request lacks SA, KE or Nonce",
            );
            return None;
        };
        if !NONCE_RANGE.contains(&nonce.len()) {
            self.drop_packet(
                now,
                DropReason::Malformed,
                remote,
                "IKE_SA_INIT nonce length outside 16..=256",
            );
            return None;
        }
        if !self.cookie_admits(now, local, remote, header, nonce, p) {
            return None;
        }
        if !self.half_open_admits(now, remote) {
            return None;
        }
        let candidates: Vec<Arc<Connection>> = self
            .connections
            .iter()
            .filter(|c| c.local_addrs.is_empty() || c.local_addrs.contains(&local.ip()))
            .filter(|c| c.remote_addrs.is_empty() || c.remote_addrs.contains(&remote.ip()))
            .cloned()
            .collect();
        let chosen = candidates.iter().find_map(|c| {
            proposal::select_ike(offer, &c.ike_proposals).map(|(n, s)| (c.clone(), n, s))
        });
        let Some((conn, number, suite)) = chosen else {
            let why = if candidates.is_empty() {
                format!("no connection is configured for {local} <- {remote}")
            } else {
                let ours: Vec<String> = candidates
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {}",
                            c.name,
                            proposal::describe_ike_proposals(&c.ike_proposals)
                        )
                    })
                    .collect();
                format!(
                    "no proposal in common; peer offered {}; ours: {}",
                    proposal::describe_offer(offer),
                    ours.join("; ")
                )
            };
            if self.log_allowed(
                now,
                "refused IKE_SA_INITs (NO_PROPOSAL_CHOSEN)",
                remote.ip(),
            ) {
                tracing::warn!(%remote, "IKE_SA_INIT refused with NO_PROPOSAL_CHOSEN: {why}");
            }
            self.refuse_init(
                local,
                remote,
                header,
                payloads::error(NotifyType::NO_PROPOSAL_CHOSEN),
            );
            return None;
        };
        let mut suite = suite;
        if self.config.emulate.ask_other_ke_group
            && ke.method == proposal::ke_method(suite.key_exchange)
        {
            let other = conn
                .ike_proposals
                .iter()
                .flat_map(|p| p.key_exchange.iter().copied())
                .find(|k| *k != suite.key_exchange);
            suite.key_exchange = other.unwrap_or(suite.key_exchange);
        }
        if ke.method != proposal::ke_method(suite.key_exchange) {
            if self.log_allowed(
                now,
                "IKE_SA_INITs asked for another key exchange group",
                remote.ip(),
            ) {
                tracing::info!(%remote, offered = %ke.method, wanted = proposal::ke_name(suite.key_exchange), "asking the peer for another key exchange group");
            }
            let group = proposal::ke_method(suite.key_exchange)
                .0
                .to_be_bytes()
                .to_vec();
            self.refuse_init(
                local,
                remote,
                header,
                payloads::status(NotifyType::INVALID_KE_PAYLOAD, group),
            );
            return None;
        }
        let ke_private = self.ke_private(suite.key_exchange);
        let shared = match ke_shared(proposal::ke_alg(suite.key_exchange), &ke_private, &ke.data) {
            Ok(s) => s,
            Err(e) => {
                self.drop_packet(
                    now,
                    DropReason::Malformed,
                    remote,
                    &format!("invalid key exchange value: {e}"),
                );
                return None;
            }
        };
        let public = ke_public(proposal::ke_alg(suite.key_exchange), &ke_private).ok()?;
        let mut sa = IkeSa::new(
            self.unique_id(),
            conn,
            false,
            local,
            remote,
            Phase::AwaitAuthRequest,
        );
        sa.negotiation_started = Some(now);
        sa.spi_i = header.initiator_spi;
        sa.spi_r = self.new_spi();
        sa.nonce_i = nonce.clone();
        sa.nonce_r = self.random(NONCE_LEN);
        sa.init_request = bytes.to_vec();
        sa.expected_request_id = 1;
        sa.phase_deadline = Some(now + self.half_open_timeout());
        if let Err(e) = install_keys(&mut sa, suite, &shared) {
            tracing::error!("{e}");
            return None;
        }
        self.detect_nat(now, &mut sa, p);
        capabilities::note_peer(&mut sa, p);
        let mut response = vec![
            Payload::Sa(proposal::ike_answer(number, suite)),
            Payload::Ke(KePayload {
                method: ke.method,
                data: public,
            }),
            Payload::Nonce(sa.nonce_r.clone()),
        ];
        response.extend(crate::nat::our_hashes(&sa));
        response.extend(capabilities::announce(&self.config, &sa.connection, true));
        let bytes = Message {
            header: sa.header(ExchangeType::IKE_SA_INIT, true, 0),
            payloads: response,
        }
        .to_bytes();
        sa.init_response = bytes.clone();
        tracing::info!(ike = sa.unique_id, conn = sa.connection.name, %remote, suite = %suite, "IKE_SA_INIT answered");
        self.transmit(local, remote, bytes);
        Some(sa)
    }

    /// Whether a new IKE_SA_INIT (past the cookie check) may make another
    /// half-open IKE SA; if not, it is dropped and counted (see `half_open`).
    fn half_open_admits(&mut self, now: Instant, remote: SocketAddr) -> bool {
        let refusal = match self.half_open.admits(&self.config, self.shard, remote.ip()) {
            Ok(()) => return true,
            Err(refusal) => refusal,
        };
        let (counter, what) = match refusal {
            Refusal::PerAddress => (
                &mut self.stats.half_open_refused_per_address,
                "dropped IKE_SA_INITs (half_open_per_address reached)",
            ),
            Refusal::Limit => (
                &mut self.stats.half_open_refused_limit,
                "dropped IKE_SA_INITs (half_open_limit reached)",
            ),
        };
        *counter += 1;
        if self.log_allowed(now, what, remote.ip()) {
            tracing::warn!(%remote, half_open = self.half_open.len(), from_address = self.half_open.from(remote.ip()), "{what}");
        }
        false
    }

    /// Whether a new IKE_SA_INIT may go on to the key exchange. Above the
    /// half-open threshold it must bring back a cookie we made for it; if not, it
    /// is answered with one and no state is kept (RFC 7296 §2.6).
    fn cookie_admits(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        request: &Header,
        nonce: &[u8],
        p: &[Payload],
    ) -> bool {
        let spi = request.initiator_spi;
        if let Some(presented) = payloads::notify(p, NotifyType::COOKIE) {
            if self
                .cookies
                .is_valid(&presented.data, nonce, remote.ip(), &spi)
            {
                return true;
            }
        }
        let half_open = u32::try_from(self.half_open.len()).unwrap_or(u32::MAX);
        if half_open < self.config.cookie_threshold {
            return true;
        }
        let env = &mut self.env;
        let cookie = self
            .cookies
            .make(now, |buf| env.random(buf), nonce, remote.ip(), &spi);
        self.stats.cookies_demanded += 1;
        tracing::debug!(%remote, half_open, "IKE_SA_INIT answered with a COOKIE demand");
        self.refuse_init(
            local,
            remote,
            request,
            payloads::status(NotifyType::COOKIE, cookie),
        );
        false
    }

    /// An IKE_SA_INIT error answer: no state is kept (RFC 7296 §2.6).
    fn refuse_init(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        request: &Header,
        notify: Payload,
    ) {
        let header = Header {
            initiator_spi: request.initiator_spi,
            responder_spi: [0; 8],
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags::RESPONSE,
            message_id: 0,
            length: 0,
        };
        let bytes = Message {
            header,
            payloads: vec![notify],
        }
        .to_bytes();
        self.transmit(local, remote, bytes);
    }
}

/// Derives the IKE SA's keys (RFC 7296 §2.14) and sets up SK protection.
fn install_keys(sa: &mut IkeSa, suite: IkeSuite, shared: &Secret) -> Result<(), String> {
    let (encr_len, integ_len) = proposal::key_lengths(suite.encryption, suite.integrity);
    let prf = proposal::prf_alg(suite.prf);
    let keys = derive_ike_keys(
        prf,
        shared,
        &sa.nonce_i,
        &sa.nonce_r,
        &sa.spi_i,
        &sa.spi_r,
        encr_len,
        integ_len,
    )
    .map_err(|e| format!("deriving IKE keys: {e}"))?;
    set_keys(sa, suite, keys)
}

/// Sets up SK protection in both directions from an IKE SA's keys.
pub(crate) fn set_keys(
    sa: &mut IkeSa,
    suite: IkeSuite,
    keys: tern_crypto::IkeKeys,
) -> Result<(), String> {
    let transform = proposal::sk_transform(suite.encryption, suite.integrity)
        .ok_or("AES-CBC without an integrity algorithm")?;
    let cipher =
        |encr, integ| SkCipher::with_transform(transform, encr, integ).map_err(|e| e.to_string());
    let to_responder = cipher(&keys.sk_ei, &keys.sk_ai)?;
    let to_initiator = cipher(&keys.sk_er, &keys.sk_ar)?;
    let (outbound, inbound) = if sa.initiator {
        (to_responder, to_initiator)
    } else {
        (to_initiator, to_responder)
    };
    sa.keys = Some(SaKeys {
        prf: suite.prf,
        sk_d: keys.sk_d,
        sk_pi: keys.sk_pi,
        sk_pr: keys.sk_pr,
        outbound,
        inbound,
    });
    sa.suite = Some(suite);
    Ok(())
}

/// The end of an exchange whose peer asked, with INVALID_KE_PAYLOAD, for
/// `again`, a group we had sent it already (`sent`, in order; the peer asked
/// for each after the first): the two sides' group lists never meet. `offered`:
/// the groups of our proposals.
pub(crate) fn invalid_ke_loop(
    exchange: &str,
    sent: &[KeyExchange],
    again: KeyExchange,
    offered: Vec<KeyExchange>,
) -> EndReason {
    let words = |ks: &[KeyExchange]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in ks {
            let w = proposal::ke_word(*k).to_string();
            if !out.contains(&w) {
                out.push(w);
            }
        }
        out
    };
    let asked: Vec<KeyExchange> = sent.iter().skip(1).copied().chain([again]).collect();
    let steps: Vec<String> = sent
        .iter()
        .zip(&asked)
        .map(|(s, a)| {
            format!(
                "we sent {}, the peer asked for {}",
                proposal::ke_word(*s),
                proposal::ke_word(*a)
            )
        })
        .collect();
    EndReason::new(
        EndKind::InvalidKeLoop,
        format!(
            "the peer keeps answering INVALID_KE_PAYLOAD to our {exchange} ({}): it asks again for a key exchange group it refused before",
            steps.join("; ")
        ),
    )
    .with_ke_groups(KeGroups {
        ours: words(&offered),
        asked: words(&asked),
    })
}
