//! EAP-RADIUS for the engines: each EAP message an engine hands out
//! (`Engine::poll_radius_request`) goes to the `[radius]` servers on a task of
//! the engine's own runtime, and the answer comes back on the engine's queue
//! (`Engine::handle_radius_answer`). The engine never waits on the server.
//! With `accounting = true`, each accounting record an engine hands out
//! (`Engine::poll_accounting`: Start, Interim-Update, Stop) goes to the
//! servers' accounting ports the same way; nothing comes back to the engine: a server that does not answer is
//! logged (once until one answers again) and counted, never the tunnel's concern.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tern_config::radius::{RadiusConfig, MIN_INTERIM_INTERVAL};
use tern_engine::{
    AccountingRecord, AccountingStatus, EndKind, RadiusAnswer, RadiusGrant, RadiusRelay,
};
use tern_radius::acct::cause;
use tern_radius::{AccountingRequest, Answer, Client, EapRequest, Server, Status, Usage};
use tokio::sync::mpsc;

/// The RADIUS client every engine shares, and what goes in each request.
#[derive(Debug)]
pub struct Relayer {
    client: Client,
    nas_identifier: String,
    /// The accounting client, with `accounting = true`.
    accounting: Option<Client>,
    /// `[radius] interim_interval`.
    interim_interval: Option<Duration>,
    /// Whether the last accounting request went unanswered (so the next
    /// failures are not logged again).
    accounting_down: AtomicBool,
}

impl Relayer {
    /// What the client did so far, for the metrics.
    pub fn counts(&self) -> &tern_radius::Counts {
        self.client.counts()
    }

    /// What the accounting client did so far, with `accounting = true`.
    pub fn accounting_counts(&self) -> Option<&tern_radius::Counts> {
        self.accounting.as_ref().map(Client::counts)
    }

    pub fn new(config: &RadiusConfig) -> Relayer {
        let servers = config
            .servers
            .iter()
            .map(|s| Server {
                address: s.address,
                secret: s.secret.clone(),
            })
            .collect();
        let accounting = config.accounting.then(|| {
            let servers = config
                .servers
                .iter()
                .map(|s| Server {
                    address: s.accounting_address,
                    secret: s.secret.clone(),
                })
                .collect();
            Client::new(servers, config.timeout, config.tries).quiet()
        });
        Relayer {
            client: Client::new(servers, config.timeout, config.tries),
            nas_identifier: config.nas_identifier.clone(),
            accounting,
            interim_interval: config.interim_interval,
            accounting_down: AtomicBool::new(false),
        }
    }
}

/// An engine's answers: (IKE SA unique id, answer).
pub type Answers = mpsc::UnboundedSender<(u64, RadiusAnswer)>;

/// Sends `relay` to the RADIUS servers on a task; its answer goes to `answers`.
/// Without `[radius]` (a connection given `remote_auth = "eap-radius"` by a
/// reload, when ternd started without servers) the answer is unreachable.
pub fn relay(relayer: Option<&Arc<Relayer>>, relay: RadiusRelay, answers: &Answers) {
    let Some(relayer) = relayer.cloned() else {
        let answer = RadiusAnswer::Unreachable {
            reason: "ternd started without [radius] servers (they apply at restart)".into(),
        };
        let _ = answers.send((relay.ike, answer));
        return;
    };
    let answers = answers.clone();
    tokio::spawn(async move {
        let request = EapRequest {
            user_name: relay.user.as_bytes().to_vec(),
            eap: relay.eap,
            state: relay.state,
            nas_identifier: relayer.nas_identifier.clone(),
            calling_station: Some(relay.peer.ip().to_string()),
        };
        let answer = match relayer.client.exchange(&request).await {
            Ok(Answer::Challenge { eap, state }) => RadiusAnswer::Challenge { eap, state },
            Ok(Answer::Accept { msk, grant, .. }) => {
                for why in &grant.ignored {
                    tracing::warn!(
                        user = relay.user.as_str(),
                        "the RADIUS server's Access-Accept has {why}: left out"
                    );
                }
                RadiusAnswer::Accept {
                    msk,
                    grant: RadiusGrant {
                        framed_ip: grant.framed_ip,
                        framed_ipv6: grant.framed_ipv6,
                        session_timeout: grant
                            .session_timeout
                            .map(|s| Duration::from_secs(u64::from(s))),
                        interim_interval: interim_interval(
                            grant.interim_interval,
                            relayer.interim_interval,
                            relayer.accounting.is_some(),
                        ),
                        class: grant.class,
                    },
                }
            }
            Ok(Answer::Reject { reply_message, .. }) => RadiusAnswer::Reject {
                reason: reply_message,
            },
            Err(unreachable) => RadiusAnswer::Unreachable {
                reason: unreachable.to_string(),
            },
        };
        // The engine's loop may have ended (ternd stopping): nothing to do then.
        let _ = answers.send((relay.ike, answer));
    });
}

/// How often a session's Interim-Updates go: the server's Acct-Interim-Interval
/// (`server`, seconds), else `[radius] interim_interval`; never more often
/// than every 60 s (RFC 2869 §2.1); never without accounting.
fn interim_interval(
    server: Option<u32>,
    configured: Option<Duration>,
    accounting: bool,
) -> Option<Duration> {
    if !accounting {
        return None;
    }
    let every = server
        .map(|s| Duration::from_secs(u64::from(s)))
        .or(configured)?;
    Some(every.max(MIN_INTERIM_INTERVAL))
}

/// Sends an accounting record on a task of `tasks`, with `accounting = true`;
/// else drops it.
pub fn account(
    relayer: Option<&Arc<Relayer>>,
    record: AccountingRecord,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let Some(relayer) = relayer.filter(|r| r.accounting.is_some()).cloned() else {
        return;
    };
    tasks.spawn(async move {
        let request = accounting_request(&record, &relayer.nas_identifier);
        let client = relayer.accounting.as_ref().expect("checked above");
        let kind = request.status.name();
        match client.account(&request).await {
            Ok(()) => {
                tracing::debug!(
                    user = record.user.as_str(),
                    session = record.session_id.as_str(),
                    "RADIUS accounting {kind} acknowledged"
                );
                if relayer.accounting_down.swap(false, Ordering::Relaxed) {
                    tracing::info!("a RADIUS accounting server answers again");
                }
            }
            Err(unreachable) => {
                if !relayer.accounting_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        user = record.user.as_str(),
                        session = record.session_id.as_str(),
                        "RADIUS accounting {kind} given up: {unreachable} (the tunnel is not \
                         affected; further failures are counted in \
                         tern_radius_accounting_unreachable_total, not logged)"
                    );
                }
            }
        }
    });
}

/// The Accounting-Request for an engine's record.
fn accounting_request(record: &AccountingRecord, nas_identifier: &str) -> AccountingRequest {
    let status = match &record.status {
        AccountingStatus::Start => Status::Start,
        AccountingStatus::Interim {
            session_time,
            usage,
        } => Status::InterimUpdate(radius_usage(*session_time, usage)),
        AccountingStatus::Stop {
            cause,
            session_time,
            usage,
        } => Status::Stop {
            usage: radius_usage(*session_time, usage),
            terminate_cause: terminate_cause(*cause),
        },
    };
    AccountingRequest {
        status,
        user_name: record.user.clone(),
        session_id: record.session_id.clone(),
        framed: record.virtual_ips.clone(),
        nas_ip: record.local.ip(),
        nas_identifier: nas_identifier.to_string(),
        called_station: record.local.ip().to_string(),
        calling_station: record.remote.ip().to_string(),
        class: record.class.clone(),
    }
}

fn radius_usage(session_time: Duration, usage: &tern_engine::Usage) -> Usage {
    Usage {
        session_time: u32::try_from(session_time.as_secs()).unwrap_or(u32::MAX),
        input_octets: usage.input_octets,
        output_octets: usage.output_octets,
        input_packets: usage.input_packets,
        output_packets: usage.output_packets,
    }
}

/// Acct-Terminate-Cause (RFC 2866 §5.10) for how the IKE SA ended.
fn terminate_cause(kind: EndKind) -> u32 {
    match kind {
        EndKind::DeletedByPeer | EndKind::DeletedByPeerInCollision => cause::USER_REQUEST,
        // The peer is gone, or came back without its state.
        EndKind::DeadPeer | EndKind::InitialContact => cause::LOST_CARRIER,
        EndKind::SessionTimeout => cause::SESSION_TIMEOUT,
        EndKind::ClosedByUs => cause::ADMIN_RESET,
        EndKind::PeerMisbehaved => cause::USER_ERROR,
        EndKind::KernelRefused | EndKind::Other => cause::NAS_ERROR,
        _ => cause::NAS_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_stop_says_how_and_when_the_session_ended() {
        let record = AccountingRecord {
            status: AccountingStatus::Stop {
                cause: EndKind::DeadPeer,
                session_time: Duration::from_millis(90_900),
                usage: tern_engine::Usage {
                    input_octets: 5_000_000_000,
                    input_packets: 4_000_000,
                    output_octets: 700,
                    output_packets: 7,
                },
            },
            session_id: "00c0ffee00000007".into(),
            user: "carol".into(),
            connection: "rw".into(),
            virtual_ips: vec!["10.9.0.7".parse().unwrap()],
            class: vec![b"c".to_vec()],
            local: "192.0.2.2:4500".parse().unwrap(),
            remote: "198.51.100.7:4500".parse().unwrap(),
        };
        let r = accounting_request(&record, "moon");
        let Status::Stop {
            usage,
            terminate_cause: said,
        } = r.status
        else {
            panic!("{:?}", r.status)
        };
        assert_eq!((usage.session_time, said), (90, cause::LOST_CARRIER));
        assert_eq!(
            (usage.input_octets, usage.input_packets),
            (5_000_000_000, 4_000_000)
        );
        assert_eq!((usage.output_octets, usage.output_packets), (700, 7));
        assert_eq!(r.calling_station, "198.51.100.7");
        assert_eq!(r.called_station, "192.0.2.2");
        assert_eq!(r.nas_ip, "192.0.2.2".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(terminate_cause(EndKind::DeletedByPeer), cause::USER_REQUEST);
        assert_eq!(
            terminate_cause(EndKind::SessionTimeout),
            cause::SESSION_TIMEOUT
        );
        assert_eq!(terminate_cause(EndKind::ClosedByUs), cause::ADMIN_RESET);
    }

    #[test]
    fn the_servers_interval_comes_first_then_ours_never_under_a_minute() {
        let ten_min = Some(Duration::from_secs(600));
        assert_eq!(
            interim_interval(Some(300), ten_min, true),
            Some(Duration::from_secs(300)),
            "Acct-Interim-Interval wins"
        );
        assert_eq!(interim_interval(None, ten_min, true), ten_min);
        assert_eq!(
            interim_interval(Some(10), None, true),
            Some(MIN_INTERIM_INTERVAL),
            "raised to the floor"
        );
        assert_eq!(interim_interval(None, None, true), None);
        assert_eq!(
            interim_interval(Some(300), ten_min, false),
            None,
            "no accounting, no updates"
        );
    }
}
