//! The life of CHILD SAs on an IKE SA: installed, timed, rekeyed, retired.

use std::time::{Duration, Instant};

use tern_crypto::{derive_child_keys, ChildKeys, Secret};
use tern_wire::{DeletePayload, ExchangeType, Payload, ProtocolId};

use crate::child_sa::{self, ChildSa, ChildState, Endpoints, Negotiated, Outbound, INBOUND_GRACE};
use crate::end_reason::{EndKind, EndReason};
use crate::engine::Ctx;
use crate::history::{SaEnd, SaKind};
use crate::ike_sa::{IkeSa, Lingering, Purpose};
use crate::output::{Event, KernelOp, TrafficLimits};
use crate::proposal::{self, EspSuite};

/// KEYMAT for a CHILD SA (RFC 7296 §2.17): prf+(SK_d, [g^ir (new) |] Ni | Nr) with
/// the nonces of the exchange that made it (IKE_SA_INIT's for the first CHILD SA)
/// and, with PFS, the new shared secret.
pub(crate) fn child_keys(
    sa: &IkeSa,
    suite: EspSuite,
    shared: Option<&Secret>,
    nonce_i: &[u8],
    nonce_r: &[u8],
) -> Result<ChildKeys, String> {
    let keys = sa
        .keys
        .as_ref()
        .expect("CHILD SAs come after the IKE SA's keys");
    let (encr_len, integ_len) = proposal::key_lengths(suite.encryption, suite.integrity);
    derive_child_keys(
        proposal::prf_alg(keys.prf),
        &keys.sk_d,
        shared,
        nonce_i,
        nonce_r,
        encr_len,
        integ_len,
    )
    .map_err(|e| format!("deriving CHILD SA keys: {e}"))
}

/// When `child` reaches its configured life_time, if it has one.
fn life_end(connection: &crate::config::Connection, child: &ChildSa) -> Option<Instant> {
    connection
        .children
        .iter()
        .find(|c| c.name == child.name)
        .map(|c| c.lifetime.life_time)
        .filter(|life| !life.is_zero())
        .map(|life| child.installed_at + life)
}

pub(crate) fn endpoints(sa: &IkeSa) -> Endpoints {
    Endpoints {
        local: sa.local.ip(),
        remote: sa.remote.ip(),
        // ESP goes in UDP on the IKE SA's (NAT-T) ports when a NAT is in the way.
        ports: sa
            .nat
            .detected()
            .then(|| (sa.local.port(), sa.remote.port())),
    }
}

impl Ctx {
    /// A random duration below `max`, for rand_time.
    pub(crate) fn jitter(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        let r = u64::from_be_bytes(self.random(8).try_into().expect("8 bytes"));
        Duration::from_nanos(r % nanos)
    }

    /// Installs a negotiated CHILD SA in the kernel and records it; returns its id.
    /// `we_initiated` is whether we initiated the exchange that made its keys.
    pub(crate) fn install_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        n: Negotiated,
        keys: ChildKeys,
        we_initiated: bool,
    ) -> u64 {
        self.install_child_with(now, sa, n, keys, we_initiated, false)
    }

    /// As [`install_child`](Self::install_child); with `defer_outbound` the outbound
    /// SA waits (see `Outbound::Held`).
    pub(crate) fn install_child_with(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        n: Negotiated,
        keys: ChildKeys,
        we_initiated: bool,
        defer_outbound: bool,
    ) -> u64 {
        // A configuration removed by a reload leaves the SA with default lifetimes.
        let (lifetime, traffic) = sa
            .connection
            .children
            .iter()
            .find(|c| c.name == n.name)
            .map(|c| (c.lifetime, c.traffic))
            .unwrap_or_default();
        let jitter = self.jitter(lifetime.rand_time);
        let mut child = ChildSa::new(n, self.unique_id(), now, lifetime, jitter);
        if let Some(request) = sa.answered_request {
            // Sent more than once, the age is unknown (property search seed 347).
            child.peer_has_since = (request.sends == 1).then_some(request.first_sent);
        }
        if let Some(age) = crate::adapt::rekey_before(sa, &child.name) {
            child.rekey_at = Some(child.rekey_at.map_or(now + age, |t| t.min(now + age)));
        }
        child.limits = self.traffic_limits(traffic);
        let ends = endpoints(sa);
        let (inbound, outbound) = child_sa::sa_installs(&child, ends, keys, we_initiated);
        self.kernel_ops.push_back(KernelOp::AddSa(inbound));
        if defer_outbound {
            child.outbound = Outbound::Held(Box::new(outbound));
        } else {
            self.kernel_ops.push_back(KernelOp::AddSa(outbound));
        }
        child.policies_fingerprint = child_sa::policy_fingerprint(&child, ends);
        if self.take_policies(child.policies_fingerprint) {
            self.kernel_ops
                .extend(child_sa::policy_installs(&child, ends));
        }
        self.release_policies(sa, &child.name);
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            ike_spi = crate::engine::ike_spi(sa),
            child = child.name,
            child_spi = format_args!("{:08x}", child.spi_in),
            spi_in = format_args!("{:08x}", child.spi_in),
            spi_out = format_args!("{:08x}", child.spi_out),
            proposal = %child.suite,
            rekey_in_s = child.rekey_at.map(|t| (t - now).as_secs()),
            "CHILD SA installed: {} === {}",
            crate::ts::describe(&child.local_ts),
            crate::ts::describe(&child.remote_ts)
        );
        self.events.push_back(Event::ChildSaInstalled {
            connection: sa.connection.name.clone(),
            ike_id: sa.unique_id,
            child: child.name.clone(),
            spi_in: child.spi_in,
            spi_out: child.spi_out,
        });
        if let Some(session) = &sa.radius {
            let (local, remote) = (sa.local.ip(), sa.remote.ip());
            self.traffic
                .account(&session.session_id, local, remote, &child);
        }
        let id = child.unique_id;
        // Exactly: a first push would make room for 4 (864 bytes), and most IKE
        // SAs hold one CHILD SA (two while one is rekeyed).
        sa.children.reserve_exact(1);
        sa.children.push(child);
        id
    }

    pub(crate) fn child_failed(&mut self, now: Instant, sa: &IkeSa, name: &str, reason: EndReason) {
        self.release_policies(sa, name);
        tracing::warn!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            ike_spi = crate::engine::ike_spi(sa),
            child = name,
            "CHILD SA failed: {reason}"
        );
        self.history.record(
            &sa.connection.name,
            SaEnd {
                at: now,
                kind: SaKind::Child,
                ike_id: sa.unique_id,
                child: name.to_string(),
                spi_in: 0,
                spi_out: 0,
                was_up: false,
                cause: reason.clone(),
            },
        );
        self.events.push_back(Event::ChildSaFailed {
            connection: sa.connection.name.clone(),
            ike_id: sa.unique_id,
            child: name.to_string(),
            reason,
        });
    }

    /// Takes a CHILD SA out of the kernel and off the IKE SA: its outbound SA at
    /// once, its inbound SA after [`INBOUND_GRACE`] if `grace`, its policies if it was
    /// the last SA of its reqid.
    pub(crate) fn retire_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        unique_id: u64,
        reason: &EndReason,
        grace: bool,
    ) {
        let Some(pos) = sa.children.iter().position(|c| c.unique_id == unique_id) else {
            return;
        };
        let child = sa.children.remove(pos);
        sa.children.shrink_to_fit();
        let ends = endpoints(sa);
        // Its replacement starts sending before it stops.
        let successor = sa
            .children
            .iter_mut()
            .find(|c| Some(c.unique_id) == child.successor);
        if let Some(outbound) = successor.and_then(|c| c.outbound.release()) {
            self.kernel_ops.push_back(KernelOp::AddSa(*outbound));
        }
        self.reinstate_predecessor(now, sa, child.unique_id);
        if self.drop_policies(child.policies_fingerprint) {
            self.kernel_ops
                .extend(child_sa::policy_removal(&child, ends));
        }
        // An outbound SA still held back was never installed; one removed early is gone.
        if matches!(child.outbound, Outbound::Installed) {
            self.kernel_ops
                .push_back(child_sa::outbound_removal(&child, ends));
        } else {
            self.traffic.forget(sa.remote.ip(), child.spi_out);
        }
        let inbound = child_sa::inbound_removal(&child, ends);
        if grace {
            sa.lingering.push(Lingering {
                until: now + INBOUND_GRACE,
                op: inbound,
            });
        } else {
            self.kernel_ops.push_back(inbound);
        }
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            ike_spi = crate::engine::ike_spi(sa),
            child = child.name,
            child_spi = format_args!("{:08x}", child.spi_in),
            spi_in = format_args!("{:08x}", child.spi_in),
            "CHILD SA removed: {reason}"
        );
        self.history.record(
            &sa.connection.name,
            SaEnd {
                at: now,
                kind: SaKind::Child,
                ike_id: sa.unique_id,
                child: child.name.clone(),
                spi_in: child.spi_in,
                spi_out: child.spi_out,
                was_up: true,
                cause: reason.clone(),
            },
        );
        self.events.push_back(Event::ChildSaDeleted {
            connection: sa.connection.name.clone(),
            ike_id: sa.unique_id,
            child: child.name,
            spi_in: child.spi_in,
            spi_out: child.spi_out,
            reason: reason.clone(),
        });
    }

    /// The SA that `gone` replaced, if it is still waiting to go, carries the
    /// child again: the replacement went first (deleted by the peer as a
    /// duplicate or a collision's loser, say), and the old SA, left to the end
    /// of its life without a successor, would take the tunnel with it.
    fn reinstate_predecessor(&mut self, now: Instant, sa: &mut IkeSa, gone: u64) {
        let Some(old) = sa
            .children
            .iter_mut()
            .find(|c| c.successor == Some(gone) && c.state == ChildState::Rekeyed)
        else {
            return;
        };
        old.state = ChildState::Installed;
        old.successor = None;
        old.expire_at = life_end(&sa.connection, old);
        // It is past its rekey time: replace it again, properly this time.
        old.rekey_at = Some(now);
        tracing::info!(
            ike = sa.unique_id,
            spi_in = format_args!("{:08x}", old.spi_in),
            "the SA that replaced this CHILD SA is gone; it carries the child again until rekeyed"
        );
    }

    /// Asks the peer to delete one of our CHILD SAs; it is removed when the peer answers.
    pub(crate) fn start_child_delete(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        unique_id: u64,
        reason: EndReason,
    ) {
        let Some(pos) = sa.children.iter().position(|c| c.unique_id == unique_id) else {
            return;
        };
        let name = &sa.children[pos].name;
        let carried_by_another = sa.children.iter().any(|c| {
            c.unique_id != unique_id
                && &c.name == name
                && c.state != ChildState::Deleting
                && matches!(c.outbound, Outbound::Installed)
        });
        let ends = endpoints(sa);
        let child = &mut sa.children[pos];
        child.state = ChildState::Deleting;
        child.expire_at = None;
        // Stop sending on it now if another of the child's SAs carries the traffic:
        // the peer drops its inbound SA when our DELETE arrives, and the kernel
        // would keep using this one until the answer (or move onto it, if it is
        // the newest: our redundant SA after a simultaneous rekey).
        if carried_by_another && matches!(child.outbound, Outbound::Installed) {
            self.kernel_ops
                .push_back(child_sa::outbound_removal(child, ends));
            child.outbound = Outbound::Removed;
        }
        let (spi_in, successor) = (child.spi_in, child.successor);
        if let Some(new) = sa
            .children
            .iter_mut()
            .find(|c| Some(c.unique_id) == successor)
        {
            new.predecessor_deleted_by_us = true;
        }
        tracing::debug!(
            ike = sa.unique_id,
            spi_in = format_args!("{spi_in:08x}"),
            "deleting CHILD SA: {reason}"
        );
        self.request_child_delete(now, sa, spi_in, reason);
    }

    /// Runs what is due among an IKE SA's CHILD SAs: lingering inbound SAs,
    /// rekeys, hard expiries.
    /// Sends the INFORMATIONAL DELETE for our CHILD SA `spi_in`.
    pub(crate) fn request_child_delete(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        spi_in: u32,
        reason: EndReason,
    ) {
        let delete = Payload::Delete(DeletePayload {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: vec![spi_in.to_be_bytes().to_vec()],
        });
        self.request(
            now,
            sa,
            ExchangeType::INFORMATIONAL,
            Purpose::DeleteChild { spi_in, reason },
            vec![delete],
        );
    }

    /// The IKE SA's peer moved (a NAT changed its mapping) from `before`: its CHILD
    /// SAs follow with their keys and sequence numbers (RFC 7296 §2.23), and, if an
    /// address changed, so do the tunnel policies.
    pub(crate) fn move_children(&mut self, sa: &mut IkeSa, before: Endpoints) {
        let after = endpoints(sa);
        if after == before {
            return;
        }
        let addresses_changed = (after.local, after.remote) != (before.local, before.remote);
        for child in &mut sa.children {
            let [inbound, outbound] = child_sa::sa_moves(child, before, after);
            self.kernel_ops.push_back(KernelOp::MoveSa(inbound));
            match &mut child.outbound {
                Outbound::Held(held) => child_sa::retarget(held, after),
                Outbound::Installed => self.kernel_ops.push_back(KernelOp::MoveSa(outbound)),
                Outbound::Removed => {}
            }
            if !addresses_changed {
                continue;
            }
            // The policies are counted under their new endpoints from now on
            // (the replacements take the old ones' place in the kernel).
            self.drop_policies(child.policies_fingerprint);
            child.policies_fingerprint = child_sa::policy_fingerprint(child, after);
            if self.take_policies(child.policies_fingerprint) {
                self.kernel_ops
                    .extend(child_sa::policy_replacements(child, after));
            }
        }
    }

    /// One more user (a CHILD SA or a trap) of the policies with this fingerprint;
    /// true when it is the first, and they go into the kernel.
    pub(crate) fn take_policies(&mut self, fingerprint: u64) -> bool {
        let users = self.policy_users.entry(fingerprint).or_insert(0);
        *users += 1;
        *users == 1
    }

    /// One user fewer of the policies with this fingerprint; true when it was the
    /// last, and they leave the kernel. Policies nobody counts (installed for
    /// other endpoints: the peer moved since) go as they are now.
    pub(crate) fn drop_policies(&mut self, fingerprint: u64) -> bool {
        match self.policy_users.get_mut(&fingerprint) {
            Some(users) if *users > 1 => {
                *users -= 1;
                false
            }
            _ => {
                self.policy_users.remove(&fingerprint);
                true
            }
        }
    }

    /// A CHILD SA reached a hard limit (`limit` names the setting) before a rekey
    /// replaced it: it goes, the peer is told, and it is created again at once
    /// (or its trap put in place): the IKE SA lives, so the peer is there.
    pub(crate) fn child_hard_expired(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        id: u64,
        limit: &str,
    ) {
        self.stats.child_hard_expiries += 1;
        let Some((spi_in, name, successor)) = sa
            .children
            .iter()
            .find(|c| c.unique_id == id)
            .map(|c| (c.spi_in, c.name.clone(), c.successor))
        else {
            return;
        };
        let why = EndReason::new(
            EndKind::HardExpiry,
            format!("{limit} reached before a rekey succeeded (hard expiry)"),
        );
        self.trap_before_retire(sa, &name, crate::end_action::EndCause::Lost);
        if !self.config.emulate.no_recreate_after_expiry {
            self.hold_policies(sa, id);
        }
        self.retire_child(now, sa, id, &why, false);
        // Tell the peer, so it does not keep sending into an SA we dropped.
        self.request_child_delete(now, sa, spi_in, why);
        if let Some(new) = sa
            .children
            .iter_mut()
            .find(|c| Some(c.unique_id) == successor)
        {
            new.predecessor_deleted_by_us = true;
        }
        if self.config.emulate.no_recreate_after_expiry {
            return;
        }
        // Both ends are alive: the child is not left down.
        self.restart_child(
            now,
            sa,
            &name,
            crate::end_action::EndCause::Lost,
            &format!("reached {limit} before a rekey succeeded"),
        );
        self.release_policies_unless_coming(sa, &name);
    }

    /// A CHILD SA the peer replaced (its rekey, or its side of a collision) whose
    /// DELETE has not come after a whole retransmission schedule. The peer deletes
    /// the old SA once it has the new one (RFC 7296 §1.3.3); until then its rekey
    /// may still be waiting for our answer, and a DELETE from us would meet that
    /// rekey: strongSwan then drops the new SA too (a rekey/delete collision,
    /// §2.25.1), and the tunnel is left with none. So we delete only once the peer
    /// has shown it has the new SA by sending on it; otherwise the old SA waits
    /// for its life_time and then leaves our kernel without a word.
    fn rekeyed_child_due(&mut self, now: Instant, sa: &mut IkeSa, id: u64) {
        let Some(old) = sa.children.iter().find(|c| c.unique_id == id) else {
            return;
        };
        if self.peer_sends_on_successor(sa, old) {
            return self.start_child_delete(
                now,
                sa,
                id,
                EndReason::new(
                    EndKind::RekeyedWithoutPeerDelete,
                    "rekeyed, and the peer did not delete the old SA",
                ),
            );
        }
        if let Some(end) = life_end(&sa.connection, old).filter(|end| *end > now) {
            if let Some(old) = sa.children.iter_mut().find(|c| c.unique_id == id) {
                old.expire_at = Some(end);
            }
            return;
        }
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            spi_in = format_args!("{:08x}", old.spi_in),
            "the peer rekeyed this CHILD SA but neither deleted it nor sent on the new \
             one; removing it at its life_time without a DELETE, so as not to break \
             a rekey the peer may still be finishing"
        );
        self.retire_child(
            now,
            sa,
            id,
            &EndReason::new(
                EndKind::RekeyedWithoutPeerDelete,
                "rekeyed; the peer never deleted the old SA (removed at its life_time)",
            ),
            true,
        );
    }

    /// Whether the peer has sent ESP on the SA that replaces `old`: then it has
    /// the new SA, and its rekey is done.
    /// Its counter was read for this timer run (see `counters`).
    fn peer_sends_on_successor(&mut self, sa: &IkeSa, old: &ChildSa) -> bool {
        sa.children
            .iter()
            .find(|c| Some(c.unique_id) == old.successor)
            .and_then(|new| new.inbound_bytes_read)
            .is_some_and(|bytes| bytes > 0)
    }

    /// The kernel limits for a new CHILD SA's SAs: the soft ones less a random
    /// part of rand_bytes/rand_packets, so the peers' kernels do not both ask for
    /// a rekey at the same packet.
    fn traffic_limits(&mut self, t: crate::config::TrafficLifetime) -> TrafficLimits {
        let mut below = |limit: u64, rand: u64| {
            if limit == 0 || rand == 0 {
                return limit;
            }
            let r = u64::from_be_bytes(self.random(8).try_into().expect("8 bytes"));
            limit - r % rand.min(limit)
        };
        TrafficLimits {
            soft_bytes: below(t.rekey_bytes, t.rand_bytes),
            hard_bytes: t.life_bytes,
            soft_packets: below(t.rekey_packets, t.rand_packets),
            hard_packets: t.life_packets,
        }
    }

    pub(crate) fn run_child_timers(&mut self, now: Instant, sa: &mut IkeSa) {
        // In place, in order: most calls find nothing due, and splitting the
        // list into two new vectors cost allocations at every timer.
        let mut i = 0;
        while i < sa.lingering.len() {
            if sa.lingering[i].until <= now {
                self.kernel_ops.push_back(sa.lingering.remove(i).op);
            } else {
                i += 1;
            }
        }
        if sa.lingering.is_empty() {
            // No buffer kept between rekeys: an IKE SA is mostly idle.
            sa.lingering = Vec::new();
        }
        if !sa.is_established() {
            return;
        }
        self.recreate_left_children(now, sa);
        self.retry_refused_children(now, sa);
        let due: Vec<(u64, ChildState, bool, bool)> = sa
            .children
            .iter()
            .filter_map(|c| {
                let expired = c.expire_at.is_some_and(|t| t <= now);
                let rekey =
                    c.state == ChildState::Installed && c.rekey_at.is_some_and(|t| t <= now);
                let replaced = c.successor.is_some();
                (expired || rekey).then_some((c.unique_id, c.state, expired, replaced))
            })
            .collect();
        for (id, state, expired, replaced) in due {
            match (state, expired) {
                (ChildState::Deleting, _) => {}
                // Replaced by the peer's rekey, ours perhaps still in flight (a
                // collision not yet settled): the successor carries the tunnel, and
                // a DELETE now would meet the peer's rekey.
                (ChildState::Rekeyed, true) => self.rekeyed_child_due(now, sa, id),
                (ChildState::Rekeying, true) if replaced => self.rekeyed_child_due(now, sa, id),
                (_, true) => self.child_hard_expired(now, sa, id, "life_time"),
                (_, false) => self.start_child_rekey(now, sa, id),
            }
        }
    }
}
