//! The engine's view of the configuration: plain values, already validated.
//!
//! tern-config parses the TOML file into these; the engine never sees text.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use tern_crypto::{Certificate, Crl, PrivateKey};

/// Everything the engine needs to know about the configured connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    pub connections: Vec<Connection>,
    pub retransmit: RetransmitConfig,
    /// Half-open IKE SAs (IKE_SA_INIT answered, no IKE_AUTH yet) from which on new
    /// IKE_SA_INIT requests must come back with a COOKIE (RFC 7296 §2.6). 0 demands
    /// a cookie always; `u32::MAX` never.
    pub cookie_threshold: u32,
    /// Half-open IKE SAs one peer address may have at once; more of its
    /// IKE_SA_INITs are dropped (strongSwan's `block_threshold`; see `half_open`).
    pub half_open_per_address: u32,
    /// Half-open IKE SAs in all (across every engine); more IKE_SA_INITs are
    /// dropped (strongSwan's `init_limit_half_open`).
    pub half_open_limit: u32,
    /// Our UDP port for IKE when we initiate (daemon.port; a load generator with
    /// one socket per IKE SA sets its own). NAT detection hashes it, so it must
    /// be the port the datagrams really leave from.
    pub ike_port: u16,
    /// Our UDP port for IKE and ESP once a NAT is detected (RFC 7296 §2.23).
    pub nat_port: u16,
    /// How often the side behind a NAT sends a NAT-keepalive (RFC 3948 §2.3);
    /// zero sends none.
    pub nat_keepalive: Duration,
    pub fragmentation: Fragmentation,
    /// Whether, as initiator, a connection with `mobike` offers MOBIKE and so
    /// becomes the side that moves. Off in ternd: nothing outside the engine
    /// moves an SA yet, and an initiator that offers MOBIKE should change to
    /// the NAT-T port for IKE_AUTH (RFC 4555 §3.3), which tern does not yet
    /// (OpenIKED answers such an IKE_AUTH from port 4500). The gateway side of
    /// MOBIKE does not depend on it. Engine tests turn it on.
    pub mobike_initiator: bool,
    /// Behaviours of other implementations, for the simulator's peer; tern's own
    /// configuration file never sets them.
    pub emulate: Emulation,
}

/// What other IKEv2 implementations do differently, so that the simulator can
/// play them against tern (all off: tern's own behaviour).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Emulation {
    /// strongSwan: a DELETE for a CHILD SA whose rekey is in flight is a
    /// rekey/delete collision, and when the rekey's answer comes, the new SA is
    /// deleted too ("CHILD_SA rekey/delete collision, deleting redundant child").
    pub rekey_delete_collision: bool,
    /// A CHILD SA or IKE SA that reaches its life_time is not created again (tern
    /// and strongSwan do; some implementations leave it to the other end).
    pub no_recreate_after_expiry: bool,
    /// A rekey of a CHILD SA the peer is rekeying itself is answered
    /// TEMPORARY_FAILURE instead of being settled by the nonces (§2.8.1), as
    /// some implementations do (strongSwan issue #1896's peer).
    pub refuse_rekey_while_rekeying: bool,
    /// Every CHILD SA rekey the other end asks for is refused with this error
    /// notify, while our own rekeys go on (Cisco ASA answering strongSwan's rekeys
    /// TS_UNACCEPTABLE after narrowing, strongSwan issue #2477).
    pub refuse_peer_rekeys_with: Option<tern_wire::NotifyType>,
    /// As the responder of a CHILD SA rekey, we delete the old SA right after
    /// answering (Palo Alto in strongSwan issue #1458; RFC 7296 §1.3.3 leaves
    /// that to the initiator).
    pub delete_after_answering_rekey: bool,
    /// Each CHILD SA rekey is requested twice, the second right behind the first
    /// and before the old SA is deleted (the confused peer of strongSwan issue
    /// #2945).
    pub rekey_twice: bool,
    /// A remote-access client (strongSwan's `vips`, Windows): IKE_AUTH asks for a
    /// virtual IP and DNS servers with a CFG_REQUEST. tern's own client side is
    /// yet to come; the gateway side is tested against this.
    pub request_virtual_ip: Option<VirtualIpRequest>,
    /// A remote-access client that logs in with EAP-MSCHAPv2 (strongSwan's
    /// `auth = eap-mschapv2`, Windows): its IKE_AUTH has no AUTH, it answers the
    /// gateway's EAP requests as this user, and authenticates with the MSK.
    pub eap_login: Option<EapLogin>,
    /// As IKE_SA_INIT's (and CREATE_CHILD_SA's) responder, an initiator whose
    /// KE payload has the group we would choose is answered INVALID_KE_PAYLOAD
    /// naming another group of our (ESP) proposals (a peer whose group preference contradicts its choice of
    /// proposal): with two groups on both sides, the initiator is sent back
    /// and forth between them.
    pub ask_other_ke_group: bool,
}

/// The user an emulated EAP client logs in as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EapLogin {
    pub user: &'static str,
    pub password: &'static str,
}

/// What an emulated remote-access client asks for in its CFG_REQUEST.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtualIpRequest {
    /// An IPv4 address, this one if given (strongSwan: `vips = 0.0.0.0`).
    pub ipv4: Option<Option<std::net::Ipv4Addr>>,
    /// An IPv6 address, this one if given (`vips = ::`).
    pub ipv6: Option<Option<std::net::Ipv6Addr>>,
    /// DNS servers of the families asked for.
    pub dns: bool,
}

/// strongSwan's `charon.keep_alive` default.
pub const DEFAULT_NAT_KEEPALIVE: Duration = Duration::from_secs(20);

/// strongSwan's `charon.cookie_threshold` default.
pub const DEFAULT_COOKIE_THRESHOLD: u32 = 30;

/// strongSwan's `charon.block_threshold` default.
pub const DEFAULT_HALF_OPEN_PER_ADDRESS: u32 = 5;

/// strongSwan has no limit by default; this one bounds a flood's memory (a
/// half-open IKE SA takes a few KB) while leaving room for thousands of peers
/// connecting at once.
pub const DEFAULT_HALF_OPEN_LIMIT: u32 = 5_000;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            connections: Vec::new(),
            retransmit: RetransmitConfig::default(),
            cookie_threshold: DEFAULT_COOKIE_THRESHOLD,
            half_open_per_address: DEFAULT_HALF_OPEN_PER_ADDRESS,
            half_open_limit: DEFAULT_HALF_OPEN_LIMIT,
            ike_port: 500,
            nat_port: 4500,
            nat_keepalive: DEFAULT_NAT_KEEPALIVE,
            fragmentation: Fragmentation::default(),
            mobike_initiator: false,
            emulate: Emulation::default(),
        }
    }
}

/// IKE fragmentation (RFC 7383): announced in IKE_SA_INIT and, when the peer
/// announced it too, used for encrypted messages too large for one datagram of the
/// configured size (IP and UDP headers included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragmentation {
    pub enabled: bool,
    pub size_v4: u16,
    pub size_v6: u16,
}

impl Default for Fragmentation {
    /// On, with the sizes every IPv4 (576) and IPv6 (1280) path must carry, which
    /// RFC 7383 §2.5.1 suggests when the path MTU is not known.
    fn default() -> Self {
        Fragmentation {
            enabled: true,
            size_v4: 576,
            size_v6: 1280,
        }
    }
}

/// Retransmission of requests: waits of `base * factor^n`, and `tries`
/// retransmissions after the first send before the request is given up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetransmitConfig {
    pub base: Duration,
    /// Backoff factor in tenths (18 = 1.8), so the config stays `Eq`.
    pub factor_tenths: u32,
    pub tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        // strongSwan's defaults: 4 s, factor 1.8, 5 tries.
        RetransmitConfig {
            base: Duration::from_secs(4),
            factor_tenths: 18,
            tries: 5,
        }
    }
}

/// One IKE connection: who the peer is, how both sides authenticate, and its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub name: String,
    /// Local addresses this connection may use; empty means any.
    pub local_addrs: Vec<IpAddr>,
    /// Remote addresses; empty means any (then the connection can only respond).
    pub remote_addrs: Vec<IpAddr>,
    /// UDP port of the peer's IKE service (500 unless configured).
    pub remote_port: u16,
    pub local_id: Identity,
    /// `None` accepts any identity the peer proves.
    pub remote_id: Option<Identity>,
    /// How we authenticate, and the peer too unless `remote_auth` says otherwise.
    pub auth: AuthConfig,
    /// How the peer authenticates (remote access: EAP).
    pub remote_auth: RemoteAuth,
    /// IKE proposals in order of preference.
    pub ike_proposals: Vec<IkeProposal>,
    pub children: Vec<ChildConfig>,
    pub start_action: StartAction,
    /// When the IKE SA is rekeyed and when it ends (default 4 h, +10 %).
    pub lifetime: Lifetime,
    /// Dead peer detection: send a liveness check when nothing (no IKE message, no
    /// inbound ESP traffic) came from the peer for this long. Zero turns it off.
    /// The peer is dead when the check goes unanswered through the retransmission
    /// schedule, as strongSwan does for IKEv2 (it has no separate dpd_timeout).
    pub dpd_delay: Duration,
    /// Make-before-break reauthentication: this long after an IKE SA is set up, a
    /// new one is negotiated from scratch (IKE_SA_INIT, IKE_AUTH) with the same
    /// CHILD SAs, and the old one is deleted once they are in. Zero turns it off.
    pub reauth_time: Duration,
    /// How many times initiating the connection (at load or by `ternctl initiate`)
    /// is tried when the peer does not answer; 0 keeps trying until it does.
    /// A refusal (no proposal chosen, authentication failed) is never retried.
    pub keyingtries: u32,
    /// Rekey a child's SAs before the age at which the peer keeps ending them
    /// without a rekey (see `adapt`); on unless configured off.
    pub rekey_adapt: bool,
    /// MOBIKE (RFC 4555): a peer that offers it may move the IKE SA and its CHILD
    /// SAs to new addresses with UPDATE_SA_ADDRESSES; on unless configured off.
    pub mobike: bool,
    /// Address pools a remote-access peer's configuration request (CP) is
    /// answered from, tried in order; empty answers none.
    pub pools: Vec<PoolConfig>,
}

/// A named pool of virtual IPs with the DNS settings its clients get
/// (`[pools.NAME]`). Several connections may name one pool: they share its
/// addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub name: String,
    /// The addresses handed out, range by range (IPv4, IPv6 or both).
    pub ranges: Vec<AddressRange>,
    /// DNS servers (INTERNAL_IP4_DNS, INTERNAL_IP6_DNS).
    pub dns: Vec<IpAddr>,
    /// DNS search domains (INTERNAL_DNS_DOMAIN, RFC 8598).
    pub domains: Vec<String>,
}

/// Addresses `first` to `last`, both included, of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl Connection {
    /// Whether loading the configuration initiates it: `start_action = start` on the
    /// connection or on any of its children (a child cannot come up alone).
    pub fn starts_on_load(&self) -> bool {
        self.start_action == StartAction::Start
            || self
                .children
                .iter()
                .any(|c| c.start_action == StartAction::Start)
    }
}

/// How a connection is brought up when the configuration is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartAction {
    /// Wait for the peer or for `ternctl initiate`.
    #[default]
    None,
    /// Initiate as soon as the configuration is loaded.
    Start,
    /// Install the child's policies without SAs; the first packet they match
    /// (a kernel ACQUIRE) initiates it.
    Trap,
}

/// What to do with a CHILD SA when its peer is found dead (strongSwan's
/// `dpd_action`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpdAction {
    /// Remove the SAs and leave it there.
    #[default]
    Clear,
    /// Remove the SAs and initiate the connection again, retrying until it is up.
    Restart,
    /// Remove the SAs and install the child's trap: the next packet brings it back.
    Trap,
}

/// What to do when the peer closes a CHILD SA or its IKE SA (strongSwan's
/// `close_action`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CloseAction {
    /// Leave it closed.
    #[default]
    None,
    /// Bring it up again at once.
    Start,
    /// Install the child's trap: the next packet brings it back.
    Trap,
}

/// An IKE identity (RFC 7296 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Ipv4(std::net::Ipv4Addr),
    Ipv6(std::net::Ipv6Addr),
    Fqdn(String),
    Email(String),
    /// DER-encoded distinguished name.
    DerDn(Vec<u8>),
    KeyId(Vec<u8>),
}

/// How both sides of a connection authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// Pre-shared key (RFC 7296 §2.15), the same on both sides.
    Psk(Vec<u8>),
    /// Certificates and signatures (RFC 7296 §2.15, RFC 7427) on both sides.
    Pubkey(Arc<PubkeyAuth>),
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print the key itself.
            AuthConfig::Psk(k) => write!(f, "Psk(<{} bytes>)", k.len()),
            AuthConfig::Pubkey(p) => write!(f, "Pubkey({p:?})"),
        }
    }
}

/// How the peer of a connection authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RemoteAuth {
    /// As `auth` says, the same way as we do.
    #[default]
    AsAuth,
    /// EAP-MSCHAPv2 (RFC 7296 §2.16) as one of these users; we authenticate
    /// with `auth` in the first IKE_AUTH answer, both sides with the EAP MSK at
    /// the end.
    EapMschapv2(Arc<EapUsers>),
    /// EAP relayed to a RADIUS server (RFC 3579): we ask the peer's EAP
    /// identity, then pass its EAP messages to the server and the server's
    /// back, and take the MSK from the server's Access-Accept. The servers
    /// are the daemon's (`[radius]`); the engine only hands the messages out.
    EapRadius,
}

impl RemoteAuth {
    /// Whether the peer logs in with EAP (its first IKE_AUTH has no AUTH).
    pub fn is_eap(&self) -> bool {
        matches!(self, RemoteAuth::EapMschapv2(_) | RemoteAuth::EapRadius)
    }

    /// The EAP login's name in logs.
    pub fn eap_name(&self) -> &'static str {
        match self {
            RemoteAuth::EapRadius => "EAP-RADIUS",
            _ => "EAP-MSCHAPv2",
        }
    }
}

/// EAP users and their passwords (as NT hashes: MS-CHAPv2 needs no more).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EapUsers {
    users: std::collections::BTreeMap<String, tern_crypto::mschapv2::NtHash>,
}

impl EapUsers {
    /// Adds `name` with `password`; false (nothing changed) if `name` is known.
    pub fn add(&mut self, name: &str, password: &str) -> bool {
        if self.users.contains_key(name) {
            return false;
        }
        let hash = tern_crypto::mschapv2::NtHash::of_password(password);
        self.users.insert(name.to_string(), hash);
        true
    }

    pub fn get(&self, name: &str) -> Option<&tern_crypto::mschapv2::NtHash> {
        self.users.get(name)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl std::fmt::Debug for EapUsers {
    /// The names only, never the passwords' hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.users.keys()).finish()
    }
}

/// Certificate authentication: what we show and sign with, and whom we trust.
pub struct PubkeyAuth {
    /// Our certificates with their keys, in order of preference: we show the first
    /// whose CA the peer asks for (CERTREQ), or the first when it asks for none
    /// of theirs. Never empty.
    pub credentials: Vec<Credential>,
    /// Trust anchors: the peer's certificate must chain to one of these.
    pub cacerts: Vec<Certificate>,
    /// Revocation lists: a certificate in the peer's chain that one of these
    /// revokes (signed by its issuer) is refused.
    pub crls: Vec<Crl>,
}

impl PartialEq for PubkeyAuth {
    /// The key is the certificate's, so comparing certificates compares keys.
    fn eq(&self, other: &Self) -> bool {
        self.credentials == other.credentials
            && self.cacerts == other.cacerts
            && self.crls == other.crls
    }
}

impl Eq for PubkeyAuth {}

impl std::fmt::Debug for PubkeyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubkeyAuth")
            .field("credentials", &self.credentials)
            .field("cacerts", &self.cacerts)
            .field("crls", &self.crls)
            .finish()
    }
}

/// One certificate we can show, with its chain and key.
pub struct Credential {
    /// Our end-entity certificate first, then any intermediates to send with it.
    pub certs: Vec<Certificate>,
    /// The private key of `certs[0]` (whoever builds this checks that they match).
    pub key: PrivateKey,
    /// How a CERTREQ names the CAs above our certificate that we know of: the
    /// SHA-1 of each one's SubjectPublicKeyInfo (RFC 7296 §3.7).
    pub ca_key_hashes: Vec<[u8; 20]>,
}

impl Credential {
    /// `certs` (end entity first) and its key; `cas` are CA certificates that may
    /// sit above the chain's top (ours, or the ones we trust).
    pub fn new(certs: Vec<Certificate>, key: PrivateKey, cas: &[Certificate]) -> Credential {
        let mut ca_key_hashes: Vec<[u8; 20]> =
            certs.iter().skip(1).map(Certificate::spki_sha1).collect();
        if let Some(top) = certs.last() {
            ca_key_hashes.extend(
                cas.iter()
                    .filter(|ca| top.issued_by(ca))
                    .map(Certificate::spki_sha1),
            );
        }
        Credential {
            certs,
            key,
            ca_key_hashes,
        }
    }
}

impl PartialEq for Credential {
    /// The key is the certificate's, so comparing certificates compares keys.
    fn eq(&self, other: &Self) -> bool {
        self.certs == other.certs
    }
}

impl Eq for Credential {}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("certs", &self.certs)
            .field("key", &self.key)
            .finish()
    }
}

/// Encryption algorithms tern can negotiate, for IKE and for ESP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// AES-GCM (RFC 4106/5282) with a 16-, 12- or 8-octet ICV; key size in bits.
    AesGcm16 {
        key_bits: u16,
    },
    AesGcm12 {
        key_bits: u16,
    },
    AesGcm8 {
        key_bits: u16,
    },
    /// ChaCha20-Poly1305 (RFC 7634).
    ChaCha20Poly1305,
    /// AES-CBC (RFC 3602); needs an integrity algorithm.
    AesCbc {
        key_bits: u16,
    },
}

impl Encryption {
    /// Authenticated encryption needs no separate integrity algorithm.
    pub fn is_aead(self) -> bool {
        !matches!(self, Encryption::AesCbc { .. })
    }
}

/// Integrity algorithms, for encryption that is not authenticated (AES-CBC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integrity {
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

/// Pseudo-random functions for IKE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prf {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

/// Key exchange methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyExchange {
    X25519,
    Ecp256,
    Ecp384,
    /// Legacy (about 80 bits of strength): only when a configuration names it.
    Modp1024,
    Modp2048,
    Modp3072,
    Modp4096,
}

/// One IKE proposal: every combination of the listed algorithms is acceptable.
/// `integrity` is empty when every encryption algorithm is AEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeProposal {
    pub encryption: Vec<Encryption>,
    pub integrity: Vec<Integrity>,
    pub prf: Vec<Prf>,
    pub key_exchange: Vec<KeyExchange>,
}

/// One ESP proposal. AEAD algorithms need no integrity algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspProposal {
    pub encryption: Vec<Encryption>,
    pub integrity: Vec<Integrity>,
    /// Key exchange for PFS; empty means no PFS.
    pub key_exchange: Vec<KeyExchange>,
    /// Extended sequence numbers: `false` is the usual "no ESN".
    pub esn: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    #[default]
    Tunnel,
    Transport,
}

/// A traffic selector as configured: an address prefix, optionally narrowed to a
/// protocol and a port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TsConfig {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IP protocol number; 0 means any.
    pub protocol: u8,
    pub port_start: u16,
    pub port_end: u16,
}

/// A CHILD SA template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildConfig {
    pub name: String,
    pub local_ts: Vec<TsConfig>,
    pub remote_ts: Vec<TsConfig>,
    pub esp_proposals: Vec<EspProposal>,
    pub mode: Mode,
    pub start_action: StartAction,
    pub lifetime: Lifetime,
    /// Limits on the traffic each ESP SA carries, enforced by the kernel.
    pub traffic: TrafficLifetime,
    pub dpd_action: DpdAction,
    pub close_action: CloseAction,
}

/// strongSwan's `rekey_bytes`/`life_bytes`/`rand_bytes` and the `_packets` trio:
/// the kernel rekeys (soft limit) and ends (hard limit) an SA by the traffic it
/// carried. Zero turns a limit off; all are off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficLifetime {
    pub rekey_bytes: u64,
    pub life_bytes: u64,
    pub rand_bytes: u64,
    pub rekey_packets: u64,
    pub life_packets: u64,
    pub rand_packets: u64,
}

/// When an SA is rekeyed and when it ends, with strongSwan's names (and, by
/// default, its CHILD SA values).
///
/// Rekeying starts at `rekey_time` minus a random part of `rand_time`, so two
/// peers with the same settings do not rekey at the same instant; an SA whose
/// rekeying never succeeds ends at `life_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub rekey_time: Duration,
    pub life_time: Duration,
    pub rand_time: Duration,
}

impl Lifetime {
    /// `life_time` defaults to `rekey_time` + 10 %, `rand_time` to their difference.
    pub fn from_rekey_time(rekey_time: Duration) -> Lifetime {
        let life_time = rekey_time + rekey_time / 10;
        Lifetime {
            rekey_time,
            life_time,
            rand_time: life_time - rekey_time,
        }
    }
}

impl Lifetime {
    /// strongSwan's IKE SA defaults: rekey after 4 h, end at 4 h 24 min.
    pub fn ike_default() -> Lifetime {
        Lifetime::from_rekey_time(Duration::from_secs(4 * 3600))
    }
}

impl Default for Lifetime {
    /// strongSwan's CHILD SA defaults: rekey after 1 h, end at 1 h 6 min.
    fn default() -> Self {
        Lifetime::from_rekey_time(Duration::from_secs(3600))
    }
}
