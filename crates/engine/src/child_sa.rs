//! CHILD SAs: what we ask for, what was agreed, their lifetimes, and the kernel
//! state that follows.
//!
//! A CHILD SA's policies belong to its reqid, not to one pair of SAs: a rekeyed
//! CHILD SA keeps the reqid, so the policies stay while SAs come and go beneath
//! them, and are removed with the last SA of that reqid.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use tern_crypto::{ChildKeys, Secret};

use crate::config::{KeyExchange, Lifetime, Mode};
use crate::output::{
    KernelOp, PolicyDirection, PolicyInstall, SaInstall, SaMove, Selector, TrafficLimits, UdpEncap,
};
use crate::proposal::EspSuite;
use crate::shared_child::SharedChild;
use crate::ts::Ts;

/// How long an old inbound SA keeps accepting packets after it was replaced or
/// deleted, so that packets already in flight are not lost.
pub const INBOUND_GRACE: Duration = Duration::from_secs(5);

/// The shortest a CHILD SA the peer rekeyed waits for the peer's DELETE before we
/// delete it ourselves (see `Ctx::peer_delete_wait`).
pub const REKEYED_LINGER: Duration = Duration::from_secs(30);

/// An initiator's CHILD SA request in IKE_AUTH, between sending it and the answer.
pub struct ChildRequest {
    pub config: SharedChild,
    pub spi_in: u32,
    pub reqid: u32,
    pub local_ts: Vec<Ts>,
    pub remote_ts: Vec<Ts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    Installed,
    /// Our CREATE_CHILD_SA rekeying it is in flight.
    Rekeying,
    /// Replaced by a new CHILD SA; the side that rekeyed deletes it.
    Rekeyed,
    /// Our DELETE for it is in flight.
    Deleting,
}

impl ChildState {
    pub fn name(self) -> &'static str {
        match self {
            ChildState::Installed => "INSTALLED",
            ChildState::Rekeying => "REKEYING",
            ChildState::Rekeyed => "REKEYED",
            ChildState::Deleting => "DELETING",
        }
    }
}

/// Where a CHILD SA's outbound SA stands in the kernel.
pub enum Outbound {
    /// Installed: traffic may leave on it.
    Installed,
    /// Held back until the peer surely has the SA: for an SA the peer's rekey
    /// made, until it deletes the one replaced (before that, the peer may not
    /// have installed it yet); see also `held_outbound`.
    /// Boxed: rarely held, and a responder may hold 100,000s of CHILD SAs.
    Held(Box<SaInstall>),
    /// Removed before the SA itself: we asked the peer to delete the SA while
    /// another of the child's SAs carries its traffic.
    Removed,
}

impl Outbound {
    /// A held outbound SA, to be installed now; it counts as installed from here.
    pub fn release(&mut self) -> Option<Box<SaInstall>> {
        match std::mem::replace(self, Outbound::Installed) {
            Outbound::Held(install) => Some(install),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// The peer rekeyed a CHILD SA while our own rekey of it was in flight
/// (RFC 7296 §2.8.1). Kept with our exchange, not with the old SA: the peer's DELETE
/// of the old SA may arrive before the answer that settles the collision.
pub struct Collision {
    /// The lower of the two nonces of the peer's exchange.
    pub lowest_nonce: Vec<u8>,
}

pub struct ChildSa {
    pub name: String,
    pub unique_id: u64,
    pub reqid: u32,
    pub mode: Mode,
    pub suite: EspSuite,
    pub spi_in: u32,
    pub spi_out: u32,
    pub local_ts: Vec<Ts>,
    pub remote_ts: Vec<Ts>,
    pub state: ChildState,
    pub installed_at: Instant,
    /// Since when the peer has had this SA: when it was installed, or for one
    /// we asked for, when our request left (the answer may come late). None if
    /// the request was sent more than once: the peer made the SA from whichever
    /// copy reached it first, and its age there is unknown.
    pub peer_has_since: Option<Instant>,
    /// When to start rekeying (while installed).
    pub rekey_at: Option<Instant>,
    /// When the SA ends, rekeyed or not.
    pub expire_at: Option<Instant>,
    /// Its outbound SA: installed, held back, or already removed.
    pub outbound: Outbound,
    /// The CHILD SA that replaces this one, whose outbound SA goes in when this
    /// one goes.
    pub successor: Option<u64>,
    /// The inbound SA's byte counter when dead peer detection last read it.
    pub inbound_bytes_seen: u64,
    /// The kernel's answer, in this timer run, to how many bytes the inbound SA
    /// has received (see `counters`); `None` outside a run or if it could not tell.
    pub inbound_bytes_read: Option<u64>,
    /// The traffic limits its kernel SAs carry.
    pub limits: TrafficLimits,
    /// Which end created the first SA of this line (IKE_AUTH or a CREATE_CHILD_SA
    /// that was no rekey): Some(true) for us. A rekey keeps it. Lines of both ends
    /// for one child are duplicates (see `duplicates`).
    pub created_by_us: Option<bool>,
    /// How old an SA of this line was when the peer last rekeyed it: the peer's
    /// rhythm (see `rhythm`). Successors keep it until the peer rekeys again.
    pub peer_rekeyed_at: Option<Duration>,
    /// The fingerprint its policies are counted under (see
    /// [`policy_fingerprint`]), taken when it was installed or moved: kept,
    /// not computed again when it goes (that was a fifth of a rekey's
    /// policy work, for 8 bytes).
    pub policies_fingerprint: u64,
    /// Made by the peer's rekey of an SA we then deleted ourselves: if the peer
    /// deletes this one, it settled a rekey/delete collision, and did not close
    /// the child on purpose (see `handle_informational_request`).
    pub predecessor_deleted_by_us: bool,
    /// The peer deleted it while our rekey of it was in flight: it stays, with
    /// its policies, until the rekey's answer says whether it was replaced
    /// (the peer's DELETE overtook its answer, strongSwan issue #1458) or lost.
    pub deleted_during_our_rekey: bool,
    /// Made by the peer's side of a simultaneous rekey that lost (RFC 7296
    /// §2.8.1): the peer deletes it, and that is no close.
    pub collision_loser: bool,
    /// Our rekeys of it that failed, while it goes on (see `RekeyFailure`).
    /// Boxed: rarely set.
    pub rekey_failed: Option<Box<crate::end_reason::RekeyFailure>>,
}

/// What a new CHILD SA is made of, before its timers are set.
pub struct Negotiated {
    pub name: String,
    pub reqid: u32,
    pub mode: Mode,
    pub suite: EspSuite,
    pub spi_in: u32,
    pub spi_out: u32,
    pub local_ts: Vec<Ts>,
    pub remote_ts: Vec<Ts>,
}

impl ChildSa {
    /// A freshly installed CHILD SA; `jitter` is the random part taken off `rekey_time`.
    /// A rekey_time of zero turns rekeying off, as in strongSwan.
    pub fn new(
        n: Negotiated,
        unique_id: u64,
        now: Instant,
        lifetime: Lifetime,
        jitter: Duration,
    ) -> ChildSa {
        let rekeys = lifetime.rekey_time > Duration::ZERO;
        // Narrowing builds these by pushing (capacity 4, 160 bytes for one
        // selector); a CHILD SA keeps them for its life.
        let (mut local_ts, mut remote_ts) = (n.local_ts, n.remote_ts);
        local_ts.shrink_to_fit();
        remote_ts.shrink_to_fit();
        ChildSa {
            name: n.name,
            unique_id,
            reqid: n.reqid,
            mode: n.mode,
            suite: n.suite,
            spi_in: n.spi_in,
            spi_out: n.spi_out,
            local_ts,
            remote_ts,
            state: ChildState::Installed,
            installed_at: now,
            peer_has_since: Some(now),
            rekey_at: rekeys.then(|| now + lifetime.rekey_time.saturating_sub(jitter)),
            expire_at: (lifetime.life_time > Duration::ZERO).then(|| now + lifetime.life_time),
            outbound: Outbound::Installed,
            successor: None,
            inbound_bytes_seen: 0,
            inbound_bytes_read: None,
            limits: TrafficLimits::default(),
            policies_fingerprint: 0,
            created_by_us: None,
            peer_rekeyed_at: None,
            predecessor_deleted_by_us: false,
            deleted_during_our_rekey: false,
            collision_loser: false,
            rekey_failed: None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let rekey = self
            .rekey_at
            .filter(|_| self.state == ChildState::Installed);
        // A CHILD SA being deleted ends with its DELETE exchange (answered, or
        // given up after retransmissions), not at its expiry.
        let expire = self
            .expire_at
            .filter(|_| self.state != ChildState::Deleting);
        match (rekey, expire) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A CHILD SA exchange of ours in flight: a new CHILD SA or the rekey of one.
pub struct ChildExchange {
    /// The inbound SPI of the CHILD SA being rekeyed, if this is a rekey.
    pub rekey_of: Option<u32>,
    pub config: SharedChild,
    pub spi_in: u32,
    pub reqid: u32,
    pub nonce: Vec<u8>,
    /// Our key exchange for PFS.
    pub ke: Option<(KeyExchange, Secret)>,
    pub local_ts: Vec<Ts>,
    pub remote_ts: Vec<Ts>,
    pub mode: Mode,
    /// Set when the peer rekeyed the same CHILD SA while this rekey was in flight.
    pub collision: Option<Collision>,
    /// The peer deleted the SA this rekey replaces while the rekey was in flight
    /// (only kept to emulate strongSwan, see `Emulation::rekey_delete_collision`).
    pub deleted_meanwhile: bool,
    /// The key exchange groups sent for it so far, in order (INVALID_KE_PAYLOAD).
    pub ke_sent: Vec<KeyExchange>,
    /// The peer may delete the SA its answer makes before that answer reaches
    /// us (see `create_child_sa::overtaken`).
    pub unknown_deleted: crate::create_child_sa::overtaken::UnknownDeletes,
}

/// The tunnel endpoints of a CHILD SA.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub local: IpAddr,
    pub remote: IpAddr,
    /// (local, remote) UDP ports when ESP travels in UDP (NAT traversal).
    pub ports: Option<(u16, u16)>,
}

impl Endpoints {
    /// The ESP-in-UDP ports of the inbound or the outbound SA.
    fn encap(self, inbound: bool) -> Option<UdpEncap> {
        self.ports.map(|(local, remote)| {
            let (sport, dport) = if inbound {
                (remote, local)
            } else {
                (local, remote)
            };
            UdpEncap { sport, dport }
        })
    }
}

/// The two ESP SAs of a negotiated CHILD SA: the inbound one (filling the reserved
/// SPI) and the outbound one. `initiator` is whether we initiated the exchange that
/// made the keys (RFC 7296 §2.17: keys for initiator-to-responder come first).
pub fn sa_installs(
    child: &ChildSa,
    ends: Endpoints,
    keys: ChildKeys,
    initiator: bool,
) -> (SaInstall, SaInstall) {
    let ChildKeys {
        encr_i2r,
        integ_i2r,
        encr_r2i,
        integ_r2i,
    } = keys;
    let i2r = Secret::new([encr_i2r.expose(), integ_i2r.expose()].concat());
    let r2i = Secret::new([encr_r2i.expose(), integ_r2i.expose()].concat());
    let (key_in, key_out) = if initiator { (r2i, i2r) } else { (i2r, r2i) };
    // IPv6 in an IPv4 tunnel (or the reverse) works only if the SA says which
    // family it carries: a selector for all of that family.
    let inner_v4 = child.local_ts.first().is_some_and(|t| t.start.is_ipv4());
    let selector = (child.mode == Mode::Tunnel && inner_v4 != ends.local.is_ipv4()).then(|| {
        let any: IpAddr = if inner_v4 {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let all = Selector {
            addr: any,
            prefix_len: 0,
            protocol: 0,
            port: 0,
            port_mask: 0,
        };
        (all, all)
    });
    let encap = |inbound: bool| ends.encap(inbound);
    let sa = |src, dst, spi, key, inbound: bool| SaInstall {
        src,
        dst,
        spi,
        reqid: child.reqid,
        mode: child.mode,
        encryption: child.suite.encryption,
        integrity: child.suite.integrity,
        key,
        selector,
        esn: child.suite.esn,
        encap: encap(inbound),
        limits: child.limits,
    };
    (
        sa(ends.remote, ends.local, child.spi_in, key_in, true),
        sa(ends.local, ends.remote, child.spi_out, key_out, false),
    )
}

/// In/out/fwd policies for every selector pair of a CHILD SA.
pub fn policy_installs(child: &ChildSa, ends: Endpoints) -> Vec<KernelOp> {
    policies(child, ends)
        .into_iter()
        .map(KernelOp::AddPolicy)
        .collect()
}

/// The outbound SA goes at once; the inbound one is returned separately so the
/// caller can keep it for [`INBOUND_GRACE`].
pub fn outbound_removal(child: &ChildSa, ends: Endpoints) -> KernelOp {
    KernelOp::DeleteSa {
        src: ends.local,
        dst: ends.remote,
        spi: child.spi_out,
    }
}

pub fn inbound_removal(child: &ChildSa, ends: Endpoints) -> KernelOp {
    KernelOp::DeleteSa {
        src: ends.remote,
        dst: ends.local,
        spi: child.spi_in,
    }
}

/// Both ESP SAs of a CHILD SA follow the peer from `before` to `after`.
pub fn sa_moves(child: &ChildSa, before: Endpoints, after: Endpoints) -> [SaMove; 2] {
    [
        SaMove {
            src: before.remote,
            dst: before.local,
            spi: child.spi_in,
            new_src: after.remote,
            new_dst: after.local,
            encap: after.encap(true),
        },
        SaMove {
            src: before.local,
            dst: before.remote,
            spi: child.spi_out,
            new_src: after.local,
            new_dst: after.remote,
            encap: after.encap(false),
        },
    ]
}

/// An outbound SA not yet installed goes where the peer now is.
pub fn retarget(outbound: &mut SaInstall, after: Endpoints) {
    outbound.src = after.local;
    outbound.dst = after.remote;
    outbound.encap = after.encap(false);
}

/// The policies of a CHILD SA whose tunnel endpoints changed, replacing theirs.
pub fn policy_replacements(child: &ChildSa, ends: Endpoints) -> Vec<KernelOp> {
    policies(child, ends)
        .into_iter()
        .map(KernelOp::ReplacePolicy)
        .collect()
}

/// Policies go first when a reqid's last CHILD SA goes, so no packet is sent in
/// the clear or dropped for want of an SA in between.
pub fn policy_removal(child: &ChildSa, ends: Endpoints) -> Vec<KernelOp> {
    policies(child, ends)
        .into_iter()
        .map(KernelOp::DeletePolicy)
        .collect()
}

/// A fingerprint of a CHILD SA's policies: equal policies, equal fingerprints.
/// (SipHash with fixed keys: the same in every run.)
///
/// The policies are hashed as they are computed, never collected: a CHILD
/// rekey takes two fingerprints per side, and collecting the policies for
/// them cost about 40 of a rekey's 263 allocations.
pub fn policy_fingerprint(child: &ChildSa, ends: Endpoints) -> u64 {
    let mut hasher = Buffered::new();
    for_each_policy(
        &child.local_ts,
        &child.remote_ts,
        child.reqid,
        child.mode,
        ends,
        |policy| policy.hash(&mut hasher),
    );
    hasher.finish()
}

/// The fingerprint of these policies (see [`policy_fingerprint`]).
pub fn fingerprint(policies: impl IntoIterator<Item = PolicyInstall>) -> u64 {
    let mut hasher = Buffered::new();
    for policy in policies {
        policy.hash(&mut hasher);
    }
    hasher.finish()
}

/// Collects what `Hash` writes in a buffer on the stack and hands it to
/// SipHash a buffer at a time (SipHash is streaming: the same result as
/// writing the bytes one field at a time, at a fraction of the cost). Fed
/// field by field (a write per byte-sized field), hashing took 5.8 % of a
/// simulated CHILD rekey's time.
struct Buffered {
    buf: [u8; 256],
    len: usize,
    hasher: std::hash::DefaultHasher,
}

impl Buffered {
    fn new() -> Buffered {
        Buffered {
            buf: [0; 256],
            len: 0,
            hasher: std::hash::DefaultHasher::new(),
        }
    }
}

impl Hasher for Buffered {
    fn write(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.hasher.write(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > self.buf.len() {
                self.hasher.write(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn finish(&self) -> u64 {
        let mut hasher = self.hasher.clone();
        hasher.write(&self.buf[..self.len]);
        hasher.finish()
    }
}

pub(crate) fn policies(child: &ChildSa, ends: Endpoints) -> Vec<PolicyInstall> {
    policies_for(
        &child.local_ts,
        &child.remote_ts,
        child.reqid,
        child.mode,
        ends,
    )
}

/// The policies of a CHILD SA with these selectors, reqid and mode (a trap's
/// are those of the SA it waits for, so the SA shares them).
pub fn policies_for(
    local_ts: &[Ts],
    remote_ts: &[Ts],
    reqid: u32,
    mode: Mode,
    ends: Endpoints,
) -> Vec<PolicyInstall> {
    let mut out = Vec::new();
    for_each_policy(local_ts, remote_ts, reqid, mode, ends, |p| out.push(p));
    out
}

/// Hands each policy of [`policies_for`] to `take` as it is computed: out,
/// in and fwd for each pair of a local and a remote selector. Internal
/// iteration (`for_each`), not a chain of flat_maps pulled one item at a
/// time: that cost 3 % of a simulated rekey in iterator plumbing.
fn for_each_policy(
    local_ts: &[Ts],
    remote_ts: &[Ts],
    reqid: u32,
    mode: Mode,
    ends: Endpoints,
    mut take: impl FnMut(PolicyInstall),
) {
    let policy = |direction, src, dst, tunnel_src, tunnel_dst| PolicyInstall {
        direction,
        src,
        dst,
        tunnel_src,
        tunnel_dst,
        reqid,
        mode,
        priority: priority(&src, &dst),
    };
    for local_range in local_ts {
        local_range.selectors().for_each(|local| {
            for remote_range in remote_ts {
                remote_range.selectors().for_each(|remote| {
                    let (here, there) = (ends.local, ends.remote);
                    take(policy(PolicyDirection::Out, local, remote, here, there));
                    take(policy(PolicyDirection::In, remote, local, there, here));
                    take(policy(PolicyDirection::Fwd, remote, local, there, here));
                });
            }
        });
    }
}

/// XFRM picks the policy with the lowest priority value: more specific selectors
/// (longer prefixes, a protocol, a port) get lower values.
fn priority(src: &Selector, dst: &Selector) -> u32 {
    const BASE: u32 = 200_000;
    let prefixes = u32::from(src.prefix_len) + u32::from(dst.prefix_len);
    let protocol = u32::from(src.protocol != 0);
    let ports = u32::from(src.port_mask != 0) + u32::from(dst.port_mask != 0);
    BASE - prefixes * 256 - protocol * 128 - ports * 32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Encryption, TsConfig};

    fn child(local: &str, remote: &str) -> ChildSa {
        let ts = |s: &str| {
            let (a, l) = s.split_once('/').unwrap();
            Ts::from_config(&TsConfig {
                addr: a.parse().unwrap(),
                prefix_len: l.parse().unwrap(),
                protocol: 0,
                port_start: 0,
                port_end: u16::MAX,
            })
        };
        let n = Negotiated {
            name: "net".into(),
            reqid: 1,
            mode: Mode::Tunnel,
            suite: EspSuite {
                encryption: Encryption::AesGcm16 { key_bits: 128 },
                integrity: None,
                key_exchange: None,
                esn: false,
            },
            spi_in: 1,
            spi_out: 2,
            local_ts: vec![ts(local)],
            remote_ts: vec![ts(remote)],
        };
        ChildSa::new(n, 1, Instant::now(), Lifetime::default(), Duration::ZERO)
    }

    fn keys() -> ChildKeys {
        let k = || Secret::new(vec![7; 20]);
        ChildKeys {
            encr_i2r: k(),
            integ_i2r: Secret::new(vec![]),
            encr_r2i: k(),
            integ_r2i: Secret::new(vec![]),
        }
    }

    #[test]
    fn ipv6_inside_ipv4_tells_the_kernel_the_inner_family() {
        let ends = Endpoints {
            local: "192.0.2.1".parse().unwrap(),
            remote: "192.0.2.2".parse().unwrap(),
            ports: None,
        };
        let (inbound, outbound) = sa_installs(
            &child("2001:db8:1::/64", "2001:db8:2::/64"),
            ends,
            keys(),
            true,
        );
        let (src, dst) = outbound.selector.expect("a selector for the inner family");
        assert_eq!((src.addr, src.prefix_len), ("::".parse().unwrap(), 0));
        assert_eq!(dst.addr, "::".parse::<IpAddr>().unwrap());
        assert!(inbound.selector.is_some());
        let (_, same_family) =
            sa_installs(&child("10.1.0.0/24", "10.2.0.0/24"), ends, keys(), true);
        assert_eq!(
            same_family.selector, None,
            "the kernel needs none when the families agree"
        );
    }
}
