//! The session an EAP-RADIUS login opens, once the server accepted it: what
//! its Access-Accept granted (RFC 2865 §5.8, §5.25, §5.27; RFC 6911), and the
//! accounting that follows the IKE SA (RFC 2866).
//!
//! - Framed-IP-Address / Framed-IPv6-Address: the client's virtual IP is that
//!   address instead of a pool lease (see [`Ctx::grant_address`]).
//! - Session-Timeout: the session ends then. We tell the client in the last
//!   IKE_AUTH response with AUTH_LIFETIME (RFC 4478), a little before the
//!   limit, so it can reauthenticate (a new IKE SA with a new EAP login, whose
//!   own Accept gives the next limit); at the limit the IKE SA is deleted with
//!   end kind `session_timeout`. An IKE rekey keeps the limit: it belongs to
//!   the login, not to one IKE SA.
//! - Class: kept with the session and echoed in every accounting request.
//! - Acct-Interim-Interval (RFC 2869 §5.16; the daemon puts its own
//!   `interim_interval` there when the server sent none): an Interim-Update
//!   every so often while the session lasts.
//!
//! Accounting stays sans-IO: the engine queues an [`AccountingRecord`] when the
//! IKE SA is established (Start), at each interim interval (Interim-Update) and
//! when it ends (Stop, with the typed end reason); the daemon polls them
//! (`Engine::poll_accounting`) and sends them. Interim-Update and Stop carry
//! the session's traffic, which `traffic.rs` gathers from the kernel's counters.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::IkeSa;
use crate::pool::VirtualIp;
use crate::traffic::Usage;

/// What the server's Access-Accept granted, beyond the login.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RadiusGrant {
    /// Framed-IP-Address: the client's IPv4 virtual IP.
    pub framed_ip: Option<Ipv4Addr>,
    /// Framed-IPv6-Address (or a /128 Framed-IPv6-Prefix).
    pub framed_ipv6: Option<Ipv6Addr>,
    /// Session-Timeout: how long the session may last.
    pub session_timeout: Option<Duration>,
    /// Class attributes, echoed in accounting.
    pub class: Vec<Vec<u8>>,
    /// How often to send an Interim-Update, if at all.
    pub interim_interval: Option<Duration>,
}

/// The session of an IKE SA whose peer logged in through RADIUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadiusSession {
    /// The EAP identity the server accepted (User-Name).
    pub user: String,
    pub grant: RadiusGrant,
    /// Acct-Session-Id: unique per session.
    pub session_id: String,
    /// When the IKE SA was established (accounting started), if it was.
    pub started: Option<Instant>,
    /// When Session-Timeout ends it.
    pub ends_at: Option<Instant>,
    /// When the next Interim-Update is due.
    pub interim_at: Option<Instant>,
}

/// Start, Interim-Update or Stop (RFC 2866 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountingStatus {
    Start,
    /// The session goes on: for how long so far, and its traffic.
    Interim {
        session_time: Duration,
        usage: Usage,
    },
    /// The session ended: how, after how long, and its traffic (every CHILD
    /// SA it had, across rekeys of either kind).
    Stop {
        cause: EndKind,
        session_time: Duration,
        usage: Usage,
    },
}

/// One accounting request for the daemon to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountingRecord {
    pub status: AccountingStatus,
    /// Acct-Session-Id.
    pub session_id: String,
    /// User-Name.
    pub user: String,
    pub connection: String,
    /// Framed-IP-Address / Framed-IPv6-Address: the client's virtual IPs.
    pub virtual_ips: Vec<IpAddr>,
    /// Class, as the Access-Accept gave it.
    pub class: Vec<Vec<u8>>,
    /// Our address (NAS-IP-Address, Called-Station-Id) and the peer's
    /// (Calling-Station-Id).
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// The engine's RADIUS bookkeeping beside the IKE SAs.
#[derive(Debug, Default)]
pub(crate) struct RadiusBook {
    /// Accounting requests for the daemon.
    pub accounting: VecDeque<AccountingRecord>,
    /// Addresses RADIUS gave outside the pools: the identity holding each,
    /// and how many of its IKE SAs (a reauthentication overlaps).
    pub given: HashMap<IpAddr, (String, u32)>,
}

/// The pool name of a virtual IP that RADIUS gave (no configured pool has
/// parentheses in its name).
pub(crate) const GIVEN_BY_RADIUS: &str = "(radius)";

impl Engine {
    /// The next accounting request to send (see [`AccountingRecord`]).
    pub fn poll_accounting(&mut self) -> Option<AccountingRecord> {
        self.ctx.move_done_reports();
        self.ctx.radius.accounting.pop_front()
    }
}

impl Ctx {
    /// The address RADIUS gave this session for family `v6`, as the IKE SA's
    /// virtual IP; `None` when it gave none. Refused (with why) when another
    /// identity's IKE SA holds it, here or as a pool lease.
    pub(crate) fn grant_address(
        &mut self,
        sa: &IkeSa,
        identity: &str,
        v6: bool,
    ) -> Option<Result<VirtualIp, String>> {
        let grant = &sa.radius.as_ref()?.grant;
        let address = if v6 {
            IpAddr::V6(grant.framed_ipv6?)
        } else {
            IpAddr::V4(grant.framed_ip?)
        };
        if let Some(lease) = self
            .pools
            .leases()
            .into_iter()
            .find(|l| l.address == address && l.online && l.identity != identity)
        {
            return Some(Err(format!(
                "the RADIUS server gave {address}, which pool `{}` has leased to '{}'",
                lease.pool, lease.identity
            )));
        }
        match self.radius.given.get_mut(&address) {
            Some((holder, _)) if holder != identity => {
                return Some(Err(format!(
                    "the RADIUS server gave {address}, which an IKE SA of '{holder}' holds"
                )))
            }
            Some((_, holders)) => *holders += 1,
            None => {
                self.radius.given.insert(address, (identity.to_string(), 1));
            }
        }
        Some(Ok(VirtualIp {
            pool: GIVEN_BY_RADIUS.to_string(),
            address,
        }))
    }

    /// One IKE SA let go of an address RADIUS gave.
    pub(crate) fn release_given(&mut self, address: IpAddr) {
        if let Some((_, holders)) = self.radius.given.get_mut(&address) {
            *holders -= 1;
            if *holders == 0 {
                self.radius.given.remove(&address);
            }
        }
    }

    /// The IKE SA of a RADIUS login is established: the session starts, its
    /// Session-Timeout runs, and accounting says Start.
    pub(crate) fn radius_session_started(&mut self, now: Instant, sa: &mut IkeSa) {
        let Some(session) = sa.radius.as_mut() else {
            return;
        };
        session.started = Some(now);
        session.ends_at = session.grant.session_timeout.map(|t| now + t);
        session.interim_at = session.grant.interim_interval.map(|t| now + t);
        let record = record(sa, AccountingStatus::Start);
        self.radius.accounting.push_back(record);
    }

    /// Sends an Interim-Update when it is due, with the traffic so far.
    pub(crate) fn interim_due(&mut self, now: Instant, sa: &mut IkeSa) {
        let Some(session) = sa.radius.as_mut() else {
            return;
        };
        let (Some(due), Some(every), Some(started)) = (
            session.interim_at,
            session.grant.interim_interval,
            session.started,
        ) else {
            return;
        };
        if due > now {
            return;
        }
        // From now, not from `due`: a late run must not send a burst.
        session.interim_at = Some(now + every);
        let status = AccountingStatus::Interim {
            session_time: now.saturating_duration_since(started),
            usage: Usage::default(),
        };
        let record = record(sa, status);
        let (local, remote) = (sa.local.ip(), sa.remote.ip());
        let live: Vec<_> = sa
            .children
            .iter()
            .flat_map(|c| [(local, c.spi_in), (remote, c.spi_out)])
            .collect();
        let id = record.session_id.clone();
        self.traffic.report(now, &id, record, &live);
    }

    /// The IKE SA ends: accounting says Stop, if it said Start. An IKE SA
    /// replaced by its rekey has handed its session on and says nothing.
    pub(crate) fn radius_session_ended(&mut self, now: Instant, sa: &mut IkeSa, why: &EndReason) {
        let Some(session) = sa.radius.as_ref() else {
            return;
        };
        let Some(started) = session.started else {
            // Its CHILD SA may be installed already (and accounted).
            self.traffic.drop_session(&session.session_id);
            return;
        };
        let status = AccountingStatus::Stop {
            cause: why.kind,
            session_time: now.saturating_duration_since(started),
            usage: Usage::default(),
        };
        let record = record(sa, status);
        // It waits for the final counters of the SAs the IKE SA's end deletes.
        let id = record.session_id.clone();
        self.traffic.report(now, &id, record, &[]);
        sa.radius = None;
    }

    /// Ends the IKE SA when its Session-Timeout has come.
    pub(crate) fn session_timeout_due(&mut self, now: Instant, sa: &mut IkeSa) -> Next {
        let established = sa.is_established();
        let Some(session) = sa.radius.as_mut() else {
            return Next::Keep;
        };
        if session.ends_at.is_none_or(|t| t > now) || !established {
            return Next::Keep;
        }
        session.ends_at = None;
        let secs = session.grant.session_timeout.unwrap_or_default().as_secs();
        let why = EndReason::new(
            EndKind::SessionTimeout,
            format!(
                "the RADIUS Session-Timeout of {secs} s for user '{}' was reached",
                session.user
            ),
        );
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            user = session.user.as_str(),
            "{}; deleting the IKE SA",
            why.text
        );
        if sa.in_flight.is_some() {
            // Our request holds the window: a DELETE would wait behind it.
            return Next::Destroy(why);
        }
        self.start_delete(now, sa, why)
    }
}

/// AUTH_LIFETIME (RFC 4478) for a Session-Timeout of `limit`: a tenth
/// earlier, at most a minute, so the client reauthenticates before we delete.
pub(crate) fn auth_lifetime(limit: Duration) -> u32 {
    let secs = limit.as_secs();
    let margin = (secs / 10).min(60);
    u32::try_from(secs - margin).unwrap_or(u32::MAX).max(1)
}

fn record(sa: &IkeSa, status: AccountingStatus) -> AccountingRecord {
    let session = sa.radius.as_ref().expect("a RADIUS session");
    AccountingRecord {
        status,
        session_id: session.session_id.clone(),
        user: session.user.clone(),
        connection: sa.connection.name.clone(),
        virtual_ips: sa.virtual_ips.iter().map(|v| v.address).collect(),
        class: session.grant.class.clone(),
        local: sa.local,
        remote: sa.remote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_lifetime_comes_a_tenth_early_at_most_a_minute() {
        assert_eq!(auth_lifetime(Duration::from_secs(3600)), 3540);
        assert_eq!(auth_lifetime(Duration::from_secs(100)), 90);
        assert_eq!(auth_lifetime(Duration::from_secs(5)), 5);
        assert_eq!(auth_lifetime(Duration::from_secs(1)), 1);
    }
}
