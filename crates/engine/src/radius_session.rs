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
//!
//! Accounting stays sans-IO: the engine queues an [`AccountingRecord`] when the
//! IKE SA is established (Start) and when it ends (Stop, with the typed end
//! reason); the daemon polls them (`Engine::poll_accounting`) and sends them.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::end_reason::{EndKind, EndReason};
use crate::engine::{Ctx, Engine, Next};
use crate::ike_sa::IkeSa;
use crate::pool::VirtualIp;

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
}

/// Start or Stop (RFC 2866 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountingStatus {
    Start,
    /// The session ended: how, and after how long.
    Stop {
        cause: EndKind,
        session_time: Duration,
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
        let record = record(sa, AccountingStatus::Start);
        self.radius.accounting.push_back(record);
    }

    /// The IKE SA ends: accounting says Stop, if it said Start. An IKE SA
    /// replaced by its rekey has handed its session on and says nothing.
    pub(crate) fn radius_session_ended(&mut self, now: Instant, sa: &mut IkeSa, why: &EndReason) {
        let Some(started) = sa.radius.as_ref().and_then(|s| s.started) else {
            return;
        };
        let status = AccountingStatus::Stop {
            cause: why.kind,
            session_time: now.saturating_duration_since(started),
        };
        let record = record(sa, status);
        self.radius.accounting.push_back(record);
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
