//! One IKE SA: its identity, keys, message windows, children and phase.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_crypto::{Secret, SigHash, SkCipher};
use tern_wire::{
    EncryptedFragmentPayload, EncryptedPayload, ExchangeType, Flags, Header, Identification,
    Message, Payload, PayloadType,
};

use crate::child_sa::{ChildExchange, ChildRequest, ChildSa};
use crate::config::{Connection, Fragmentation, KeyExchange, Prf};
use crate::end_action::{EndCause, Restart};
use crate::fragment::{Fed, Reassembly};
use crate::nat::NatState;
use crate::output::KernelOp;
use crate::proposal::IkeSuite;

/// An IKE SPI, as it appears on the wire.
pub type Spi = [u8; 8];

/// What the IKE SA is waiting for. Data only one phase needs lives in that phase.
pub enum Phase {
    /// Initiator: IKE_SA_INIT sent. Boxed, as is `AwaitAuthResponse`: only an
    /// initiator's SA passes through them, briefly, and inline they made every
    /// IKE SA (a responder may hold 100,000s) about 230 bytes larger.
    AwaitInitResponse(Box<AwaitInitResponse>),
    /// Responder: IKE_SA_INIT answered, IKE_AUTH not yet received.
    AwaitAuthRequest,
    /// Responder: the peer logs in with EAP (RFC 7296 §2.16); IKE_AUTH goes on.
    AwaitEap(Box<crate::eap_auth::AwaitEap>),
    /// Initiator: IKE_AUTH sent.
    AwaitAuthResponse(Box<AwaitAuthResponse>),
    Established,
    /// A DELETE for the whole IKE SA is in flight; why we sent it.
    Deleting(crate::end_reason::EndReason),
    /// Replaced by a rekeyed IKE SA (RFC 7296 §2.18); the side that rekeyed deletes it.
    Rekeyed,
}

pub struct AwaitInitResponse {
    pub key_exchange: KeyExchange,
    pub ke_private: Secret,
    pub cookie: Option<Vec<u8>>,
    /// INVALID_KE_PAYLOAD and COOKIE answers are followed at most this often,
    /// so a hostile responder cannot keep us looping.
    pub restarts_left: u8,
    /// The key exchange groups sent so far, in order (INVALID_KE_PAYLOAD).
    pub ke_sent: Vec<KeyExchange>,
}

pub struct AwaitAuthResponse {
    pub child: Option<ChildRequest>,
    /// An (emulated) EAP client: where its login is.
    pub eap: Option<crate::eap_client::EapClient>,
    /// The peer, established once it answered, may delete the first CHILD SA
    /// before its answer reaches us (see `create_child_sa::overtaken`).
    pub unknown_deleted: crate::create_child_sa::overtaken::UnknownDeletes,
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::AwaitInitResponse(_)
            | Phase::AwaitAuthRequest
            | Phase::AwaitEap(_)
            | Phase::AwaitAuthResponse(_) => "CONNECTING",
            Phase::Established => "ESTABLISHED",
            Phase::Deleting(_) => "DELETING",
            Phase::Rekeyed => "REKEYED",
        }
    }
}

/// Why we sent a request, so its response (or its silence) can be handled.
pub enum Purpose {
    IkeSaInit,
    IkeAuth,
    DeleteIke,
    DeleteChild {
        spi_in: u32,
        reason: crate::end_reason::EndReason,
    },
    CreateChild(Box<ChildExchange>),
    RekeyIke(Box<IkeRekey>),
    /// An empty INFORMATIONAL: is the peer still there? (RFC 7296 §2.4)
    Liveness,
    /// UPDATE_SA_ADDRESSES: we moved (RFC 4555 §3.5, see `mobike_client`).
    UpdateAddresses(Box<crate::mobike_client::AddressUpdate>),
}

/// Our IKE SA rekey in flight (RFC 7296 §1.3.2).
pub struct IkeRekey {
    pub new_spi: Spi,
    pub nonce: Vec<u8>,
    pub key_exchange: KeyExchange,
    pub ke_private: Secret,
    /// The peer rekeyed the same IKE SA while this rekey was in flight, and we
    /// answered it (RFC 7296 §2.8.2): settled when this rekey's answer comes.
    pub collision: Option<Box<IkeCollision>>,
}

/// The IKE SA the peer's simultaneous rekey made, kept out of the SA table with
/// no CHILD SAs until the collision is settled: the CHILD SAs stay on the old IKE
/// SA until then, and go to whichever new one survives.
pub struct IkeCollision {
    pub peer_sa: IkeSa,
    /// The lower of the two nonces of the peer's exchange.
    pub lowest_nonce: Vec<u8>,
}

impl Purpose {
    pub fn describe(&self) -> &'static str {
        match self {
            Purpose::IkeSaInit => "IKE_SA_INIT",
            Purpose::IkeAuth => "IKE_AUTH",
            Purpose::DeleteIke | Purpose::DeleteChild { .. } => "DELETE",
            Purpose::CreateChild(ex) if ex.rekey_of.is_some() => "CHILD SA rekey",
            Purpose::CreateChild(_) => "CREATE_CHILD_SA",
            Purpose::RekeyIke(_) => "IKE SA rekey",
            Purpose::Liveness => "liveness check",
            Purpose::UpdateAddresses(_) => "UPDATE_SA_ADDRESSES",
        }
    }
}

/// An inbound SA kept a little after its CHILD SA ended (see `INBOUND_GRACE`).
pub struct Lingering {
    pub until: Instant,
    pub op: KernelOp,
}

/// What an encrypted datagram held.
pub enum Opened {
    /// A whole message's payloads.
    Message(Vec<Payload>),
    /// A fragment of a message not yet complete.
    Fragment,
}

/// The request whose answer is being handled: when it first left, and how many
/// times it was sent.
#[derive(Clone, Copy)]
pub struct AnsweredRequest {
    pub first_sent: Instant,
    pub sends: u32,
}

/// A request of ours awaiting its response.
pub struct InFlight {
    pub message_id: u32,
    pub purpose: Purpose,
    /// The request's datagram, or its fragments.
    pub datagrams: Vec<Vec<u8>>,
    /// How many times it has been sent, the first time included.
    pub sends: u32,
    /// When it was first sent: the peer may have acted on it from then on.
    pub first_sent: Instant,
    pub next_retransmit: Instant,
}

/// A request waiting for the one in flight to be answered (window size 1).
pub struct Queued {
    pub exchange: ExchangeType,
    pub purpose: Purpose,
    pub payloads: Vec<Payload>,
}

/// The keys of an established IKE SA.
pub struct SaKeys {
    pub prf: Prf,
    pub sk_d: Secret,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
    pub outbound: SkCipher,
    pub inbound: SkCipher,
}

pub struct IkeSa {
    pub unique_id: u64,
    /// The connection this SA belongs to. A responder's choice is provisional until
    /// IKE_AUTH names the peer.
    pub connection: Arc<Connection>,
    /// Whether we were the original initiator (the I flag of our messages).
    pub initiator: bool,
    pub spi_i: Spi,
    pub spi_r: Spi,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Where the IKE_SA_INIT request came from (the responder's key for spotting
    /// its retransmissions), even after the peer moved.
    pub init_remote: SocketAddr,
    pub phase: Phase,
    pub suite: Option<IkeSuite>,
    pub keys: Option<SaKeys>,
    pub nonce_i: Vec<u8>,
    pub nonce_r: Vec<u8>,
    /// The IKE_SA_INIT messages exactly as sent and received: AUTH signs them.
    pub init_request: Vec<u8>,
    pub init_response: Vec<u8>,
    pub peer_id: Option<Identification>,
    /// Its key in the engine's index of peers (`initial_contact`), once indexed.
    pub peer_key: Option<std::num::NonZeroU64>,
    /// The hashes the peer verifies signatures with (RFC 7427 §4); empty when it
    /// sent no SIGNATURE_HASH_ALGORITHMS.
    pub peer_signature_hashes: Vec<SigHash>,
    /// Whether the peer announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3).
    pub peer_fragmentation: bool,
    /// Fragmented messages being received: a request of the peer's [0] and a
    /// response to ours [1], which may arrive interleaved.
    pub reassembly: [Option<Reassembly>; 2],
    pub children: Vec<ChildSa>,
    pub lingering: Vec<Lingering>,
    /// Our next request's message ID.
    pub next_request_id: u32,
    pub in_flight: Option<InFlight>,
    /// While a response is handled: when its request was first sent, how often.
    pub answered_request: Option<AnsweredRequest>,
    pub queued: VecDeque<Queued>,
    /// The message ID we expect on the peer's next request.
    pub expected_request_id: u32,
    /// Our last response, resent when its request is retransmitted.
    pub last_response: Option<Vec<Vec<u8>>>,
    pub established_at: Option<Instant>,
    /// When IKE_SA_INIT was sent (as initiator) or received (as responder); none
    /// for an IKE SA made by a rekey.
    pub negotiation_started: Option<Instant>,
    /// When to rekey the IKE SA (while established) and when it ends.
    pub rekey_at: Option<Instant>,
    pub expire_at: Option<Instant>,
    /// Deadline of the current phase (half-open SAs, deletes).
    pub phase_deadline: Option<Instant>,
    /// The deadline last put in the timer table, to avoid queueing it twice.
    pub scheduled: Option<Instant>,
    /// When an authenticated message (or, as DPD finds out, ESP traffic) last came
    /// from the peer.
    pub last_heard: Option<Instant>,
    /// When dead peer detection next looks at the peer's silence.
    pub dpd_at: Option<Instant>,
    /// Why the SA is ending, where that may call for an end action.
    pub end_cause: Option<EndCause>,
    /// Set on an SA initiated to bring its connection back (see `end_action`).
    pub restart: Option<Restart>,
    iv_counter: u64,
    /// What NAT detection in IKE_SA_INIT found.
    pub nat: NatState,
    /// The peer's NAT mapping changes seen while established (see `follow_peer`).
    pub mapping_changes: Option<Box<crate::nat::MappingChanges>>,
    /// When to send the next NAT-keepalive (only while we are behind a NAT).
    pub keepalive_at: Option<Instant>,
    /// Initiator: say INITIAL_CONTACT in IKE_AUTH (no other IKE SA with the peer).
    pub initial_contact: bool,
    /// When to reauthenticate (see `reauth`); an IKE rekey keeps it.
    pub reauth_at: Option<Instant>,
    /// The IKE SA reauthenticating this one, while it comes up.
    pub reauth_by: Option<u64>,
    /// This IKE SA reauthenticates another: once it and its CHILD SAs are up,
    /// the other goes.
    pub reauthenticates: bool,
    /// How old an IKE SA of this line was when the peer last rekeyed it (see
    /// `rhythm`). New IKE SAs of a rekey keep it until the peer rekeys again.
    pub peer_rekeyed_at: Option<Duration>,
    /// When we last refused the peer's rekey of it with TEMPORARY_FAILURE (an
    /// exchange of ours was in flight): a DELETE soon after is the SA's life
    /// ending on the peer's side, not a close (see `ike_ended_at_peer`).
    pub refused_peer_rekey_at: Option<Instant>,
    /// The ages at which the peer ended CHILD SAs without rekeying them (see
    /// `adapt`). Boxed: most peers rekey, and most IKE SAs never need it.
    pub peer_ends: Option<Box<crate::adapt::PeerEnds>>,
    /// CHILD SAs of it the kernel refused, created again after a back-off (see
    /// `kernel_refusal`). Boxed: most IKE SAs never need it.
    pub kernel_retries: Option<Box<crate::kernel_refusal::KernelRetries>>,
    /// Our rekeys of it that failed, while it goes on (see `RekeyFailure`).
    pub rekey_failed: Option<Box<crate::end_reason::RekeyFailure>>,
    /// Responder: the addresses the peer was given from a pool (see
    /// `config_payload`), released when the line of IKE SAs ends.
    pub virtual_ips: Vec<crate::pool::VirtualIp>,
    /// The session of an EAP-RADIUS login (see `radius_session`).
    pub radius: Option<Box<crate::radius_session::RadiusSession>>,
    /// MOBIKE, once the peer offered it and we agreed (see `mobike`). Boxed:
    /// most IKE SAs of a site-to-site gateway never use it.
    pub mobike: Option<Box<crate::mobike::Mobike>>,
}

impl IkeSa {
    pub fn new(
        unique_id: u64,
        connection: Arc<Connection>,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
        phase: Phase,
    ) -> IkeSa {
        IkeSa {
            unique_id,
            connection,
            initiator,
            spi_i: [0; 8],
            spi_r: [0; 8],
            local,
            remote,
            init_remote: remote,
            phase,
            suite: None,
            keys: None,
            nonce_i: Vec::new(),
            nonce_r: Vec::new(),
            init_request: Vec::new(),
            init_response: Vec::new(),
            peer_id: None,
            peer_signature_hashes: Vec::new(),
            peer_fragmentation: false,
            reassembly: [None, None],
            children: Vec::new(),
            lingering: Vec::new(),
            next_request_id: 0,
            in_flight: None,
            answered_request: None,
            queued: VecDeque::new(),
            expected_request_id: 0,
            last_response: None,
            established_at: None,
            negotiation_started: None,
            rekey_at: None,
            expire_at: None,
            phase_deadline: None,
            scheduled: None,
            last_heard: None,
            dpd_at: None,
            end_cause: None,
            restart: None,
            iv_counter: 0,
            nat: NatState::default(),
            mapping_changes: None,
            keepalive_at: None,
            initial_contact: false,
            peer_key: None,
            reauth_at: None,
            reauth_by: None,
            reauthenticates: false,
            peer_rekeyed_at: None,
            refused_peer_rekey_at: None,
            peer_ends: None,
            kernel_retries: None,
            rekey_failed: None,
            virtual_ips: Vec::new(),
            radius: None,
            mobike: None,
        }
    }

    /// Whether a CREATE_CHILD_SA of ours for the child `name` (a rekey or a new
    /// one) is in flight or queued: its answer brings that CHILD SA.
    pub fn child_exchange_pending(&self, name: &str) -> bool {
        let for_child =
            |p: &Purpose| matches!(p, Purpose::CreateChild(ex) if ex.config.name == name);
        self.in_flight
            .as_ref()
            .is_some_and(|r| for_child(&r.purpose))
            || self.queued.iter().any(|q| for_child(&q.purpose))
    }

    /// Whether a CHILD SA of the child `name` is installed or being rekeyed.
    pub fn child_running(&self, name: &str) -> bool {
        self.children.iter().any(|c| {
            c.name == name
                && matches!(
                    c.state,
                    crate::child_sa::ChildState::Installed | crate::child_sa::ChildState::Rekeying
                )
        })
    }

    /// Whether a CREATE_CHILD_SA of ours is in flight or queued.
    pub fn any_child_exchange_pending(&self) -> bool {
        let creates = |p: &Purpose| matches!(p, Purpose::CreateChild(_));
        self.in_flight.as_ref().is_some_and(|r| creates(&r.purpose))
            || self.queued.iter().any(|q| creates(&q.purpose))
    }

    /// The SPI by which we know this SA.
    pub fn our_spi(&self) -> Spi {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    pub fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> Header {
        let mut flags = 0;
        if self.initiator {
            flags |= Flags::INITIATOR.0;
        }
        if response {
            flags |= Flags::RESPONSE.0;
        }
        Header {
            initiator_spi: self.spi_i,
            responder_spi: self.spi_r,
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange,
            flags: Flags(flags),
            message_id,
            length: 0,
        }
    }

    /// Builds an encrypted message: the payloads go inside an SK payload; or, when
    /// the message would exceed `limit` octets, inside SKF fragments (RFC 7383 §2.5),
    /// one datagram each.
    pub fn seal(
        &mut self,
        exchange: ExchangeType,
        response: bool,
        message_id: u32,
        payloads: &[Payload],
        limit: Option<usize>,
    ) -> Vec<Vec<u8>> {
        let header = self.header(exchange, response, message_id);
        let (first_inner, plaintext) = tern_wire::write_payloads(payloads);
        let outbound = &self.keys.as_ref().expect("sealing needs keys").outbound;
        // Header, generic payload header, then (for SKF) fragment number and total.
        let whole_len = Header::LEN + 4 + outbound.sealed_len(plaintext.len());
        let chunk = match limit {
            Some(limit) if whole_len > limit => {
                let fits = |n: usize| Header::LEN + 8 + outbound.sealed_len(n) <= limit;
                // At least one octet per fragment, whatever the limit says.
                (1..=plaintext.len()).rev().find(|&n| fits(n)).unwrap_or(1)
            }
            _ => {
                let sk = Payload::Encrypted(EncryptedPayload {
                    first_inner,
                    body: Vec::new(),
                });
                return vec![self.seal_one(header, sk, &plaintext)];
            }
        };
        let total = plaintext.len().div_ceil(chunk) as u16;
        plaintext
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let number = i as u16 + 1;
                let skf = Payload::EncryptedFragment(EncryptedFragmentPayload {
                    fragment_number: number,
                    total_fragments: total,
                    first_inner: if number == 1 {
                        first_inner
                    } else {
                        PayloadType::NONE
                    },
                    body: Vec::new(),
                });
                self.seal_one(header.clone(), skf, part)
            })
            .collect()
    }

    /// One datagram: `header` and `container` (SK or SKF, body empty) with
    /// `plaintext` encrypted into the container's body.
    fn seal_one(&mut self, header: Header, container: Payload, plaintext: &[u8]) -> Vec<u8> {
        let keys = self
            .keys
            .as_ref()
            .expect("sealing needs keys: only called after IKE_SA_INIT");
        let body_len = keys.outbound.sealed_len(plaintext.len());
        let mut bytes = tern_wire::encrypted_message_with_room(&header, &container, body_len);
        let aad_len = bytes.len() - body_len;
        self.iv_counter += 1;
        // A counter, made unpredictable for CBC by the cipher (NIST SP 800-38A,
        // appendix C); AES-GCM and ChaCha20 need only that it never repeats.
        let iv = keys.outbound.iv_from_counter(self.iv_counter);
        let (aad, body) = bytes.split_at_mut(aad_len);
        keys.outbound
            .seal(&iv, aad, plaintext, body)
            .expect("sealing into a buffer of sealed_len() cannot fail");
        bytes
    }

    /// The largest message to send unfragmented, when fragmentation is agreed.
    pub fn fragment_limit(&self, config: &Fragmentation) -> Option<usize> {
        (config.enabled && self.peer_fragmentation)
            .then(|| crate::fragment::message_limit(config, self.remote))
    }

    /// Verifies and decrypts a message's SK payload, or an SKF fragment (then the
    /// payloads are those of the whole message once its last fragment is in).
    pub fn open(&mut self, bytes: &[u8], message: &Message) -> Result<Opened, String> {
        let keys = self
            .keys
            .as_ref()
            .ok_or("no keys yet for an encrypted message")?;
        if message.payloads.len() != 1 {
            return Err("unencrypted payloads beside the SK payload".into());
        }
        let (first_inner, body) = match &message.payloads[0] {
            Payload::Encrypted(sk) => (sk.first_inner, &sk.body),
            Payload::EncryptedFragment(skf) => (skf.first_inner, &skf.body),
            _ => return Err("expected an encrypted (SK) payload, found none".into()),
        };
        let aad = &bytes[..bytes.len() - body.len()];
        let plaintext = keys
            .inbound
            .open(aad, body)
            .map_err(|e| format!("SK payload does not verify: {e}"))?;
        let (first_inner, plaintext) = match &message.payloads[0] {
            Payload::EncryptedFragment(skf) => {
                let header = &message.header;
                match Reassembly::feed(
                    &mut self.reassembly[usize::from(header.flags.is_response())],
                    header.message_id,
                    header.flags.is_response(),
                    skf,
                    plaintext,
                ) {
                    Fed::Incomplete => return Ok(Opened::Fragment),
                    Fed::Refused(why) => return Err(format!("IKE fragment dropped: {why}")),
                    Fed::Complete(first, whole) => (first, whole),
                }
            }
            _ => (first_inner, plaintext),
        };
        tern_wire::parse_payloads(first_inner, &plaintext)
            .map(Opened::Message)
            .map_err(|e| format!("decrypted payloads do not parse: {e}"))
    }

    /// The earliest moment something is due on this SA.
    /// Frees what only the handshake needed once the SA is up: the IKE_SA_INIT
    /// messages AUTH signed and the nonces the first CHILD SA's keys came from.
    /// About 500 octets per SA; a responder may hold 100,000s.
    pub fn release_handshake(&mut self) {
        if self.is_established() && !self.init_request.is_empty() {
            for bytes in [
                &mut self.init_request,
                &mut self.init_response,
                &mut self.nonce_i,
                &mut self.nonce_r,
            ] {
                *bytes = Vec::new();
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let retransmit = self.in_flight.as_ref().map(|r| r.next_retransmit);
        // CHILD SA timers run only on an established IKE SA (see run_child_timers);
        // a deadline nothing acts on would wake the engine at once, forever.
        let children = self
            .children
            .iter()
            .filter(|_| self.is_established())
            .filter_map(ChildSa::next_deadline);
        let lingering = self.lingering.iter().map(|l| l.until);
        let rekey = self.rekey_at.filter(|_| self.is_established());
        let reauth = self.reauth_at.filter(|_| self.is_established());
        let dpd = self.dpd_at.filter(|_| self.is_established());
        let recreation = self
            .peer_ends
            .as_ref()
            .and_then(|e| e.recreation_due())
            .filter(|_| self.is_established());
        let refused = self
            .kernel_retries
            .as_ref()
            .and_then(|r| r.due())
            .filter(|_| self.is_established());
        let keepalive = self.keepalive_at;
        let session_end = self
            .radius
            .as_ref()
            .and_then(|r| r.ends_at)
            .filter(|_| self.is_established());
        let interim = self
            .radius
            .as_ref()
            .and_then(|r| r.interim_at)
            .filter(|_| self.is_established());
        retransmit
            .into_iter()
            .chain(self.phase_deadline)
            .chain(session_end)
            .chain(interim)
            .chain(rekey)
            .chain(reauth)
            .chain(dpd)
            .chain(recreation)
            .chain(refused)
            .chain(keepalive)
            .chain(self.expire_at)
            .chain(children)
            .chain(lingering)
            .min()
    }
}
