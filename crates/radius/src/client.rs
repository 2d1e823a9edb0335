//! The RADIUS client: one Access-Request (or Accounting-Request) to the
//! configured servers in turn,
//! each tried `attempts` times `timeout` apart (RFC 2865 §2.4 leaves the
//! policy to the client; RFC 5080 §2.2.1 asks for the same Identifier and
//! Authenticator on a retransmission, which is what we send).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tern_crypto::{BufferedRandom, Secret};
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use crate::acct::{read_response, AccountingRequest};
use crate::eap::{Answer, EapRequest};
use crate::packet::MAX_LEN;

/// A RADIUS server and the secret it shares with us.
#[derive(Clone, Debug)]
pub struct Server {
    pub address: SocketAddr,
    pub secret: Secret,
}

/// No server gave a valid answer: what happened at each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub tried: Vec<(SocketAddr, String)>,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no RADIUS server answered: ")?;
        for (i, (addr, why)) in self.tried.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{addr}: {why}")?;
        }
        Ok(())
    }
}

/// What a client did, counted since it was made.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests made: Access-Requests relayed (one per EAP message), or
    /// Accounting-Requests (whatever came of it).
    pub requests: AtomicU64,
    /// Datagrams sent again after a timeout.
    pub retransmissions: AtomicU64,
    /// Replies ignored: malformed, another identifier, or an authenticator
    /// that does not verify (RFC 2865 §3, RFC 3579 §3.2).
    pub replies_refused: AtomicU64,
    /// Requests no server answered.
    pub unreachable: AtomicU64,
}

/// Sends Access-Requests; shared by all conversations of a daemon.
#[derive(Debug)]
pub struct Client {
    servers: Vec<Server>,
    timeout: Duration,
    attempts: u32,
    /// The server that answered last: the next request starts there.
    preferred: AtomicUsize,
    counts: Counts,
    /// Each server's failure at debug level only (the caller logs the outcome).
    quiet: bool,
}

impl Client {
    /// `attempts` sends per server (at least 1), `timeout` apart.
    pub fn new(servers: Vec<Server>, timeout: Duration, attempts: u32) -> Client {
        Client {
            servers,
            timeout,
            attempts: attempts.max(1),
            preferred: AtomicUsize::new(0),
            counts: Counts::default(),
            quiet: false,
        }
    }

    /// A client that logs no warning per server: its caller says what came of
    /// each request (accounting, which must not fill the log when a server is down).
    pub fn quiet(mut self) -> Client {
        self.quiet = true;
        self
    }

    /// What this client did so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Relays one EAP message: the first valid answer from a server, starting
    /// with the one that answered last, or what went wrong at each.
    pub async fn exchange(&self, request: &EapRequest) -> Result<Answer, Unreachable> {
        self.in_turn(|server| self.ask(server, request)).await
    }

    /// Sends one Accounting-Request (RFC 2866) to the servers in turn, as
    /// [`Client::exchange`] does: Ok once a server acknowledged it.
    pub async fn account(&self, request: &AccountingRequest) -> Result<(), Unreachable> {
        self.in_turn(|server| async move {
            let identifier = self.random_identifier()?;
            let bytes = request.to_bytes(identifier, &server.secret);
            let authenticator: [u8; 16] = bytes[4..20].try_into().expect("a 20-octet header");
            self.send_and_wait(server, &bytes, |reply| {
                read_response(reply, identifier, &authenticator, &server.secret)
            })
            .await
        })
        .await
    }

    /// Asks the servers in turn, starting with the one that answered last.
    async fn in_turn<'a, T, F, Fut>(&'a self, ask: F) -> Result<T, Unreachable>
    where
        F: Fn(&'a Server) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let mut tried = Vec::new();
        let n = self.servers.len();
        let first = self.preferred.load(Ordering::Relaxed) % n.max(1);
        for k in 0..n {
            let index = (first + k) % n;
            let server = &self.servers[index];
            match ask(server).await {
                Ok(answer) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(why) if self.quiet => {
                    tracing::debug!(server = %server.address, "RADIUS server did not answer: {why}");
                    tried.push((server.address, why));
                }
                Err(why) => {
                    tracing::warn!(server = %server.address, "RADIUS server did not answer: {why}");
                    tried.push((server.address, why));
                }
            }
        }
        self.counts.unreachable.fetch_add(1, Ordering::Relaxed);
        Err(Unreachable { tried })
    }

    /// One server: send, retransmit, and wait for a reply that verifies.
    async fn ask(&self, server: &Server, request: &EapRequest) -> Result<Answer, String> {
        let mut random = [0u8; 17];
        BufferedRandom::new()
            .fill(&mut random)
            .map_err(|_| "the system's random source failed".to_string())?;
        let identifier = random[0];
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&random[1..]);
        let bytes = request.to_bytes(identifier, authenticator, &server.secret);
        self.send_and_wait(server, &bytes, |reply| {
            Answer::read(reply, identifier, &authenticator, &server.secret)
        })
        .await
    }

    fn random_identifier(&self) -> Result<u8, String> {
        let mut random = [0u8; 1];
        BufferedRandom::new()
            .fill(&mut random)
            .map_err(|_| "the system's random source failed".to_string())?;
        Ok(random[0])
    }

    /// Sends `bytes` to `server`, again after each timeout, until `read`
    /// takes a reply.
    async fn send_and_wait<T>(
        &self,
        server: &Server,
        bytes: &[u8],
        read: impl Fn(&[u8]) -> Result<T, crate::Error>,
    ) -> Result<T, String> {
        let unspecified = match server.address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let socket = UdpSocket::bind((unspecified, 0))
            .await
            .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
        socket
            .connect(server.address)
            .await
            .map_err(|e| format!("cannot reach it: {e}"))?;
        let mut last_refusal = None;
        let mut buf = vec![0u8; MAX_LEN];
        for attempt in 0..self.attempts {
            if attempt > 0 {
                self.counts.retransmissions.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(e) = socket.send(bytes).await {
                last_refusal = Some(format!("send failed: {e}"));
                continue;
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                let received = match timeout_at(deadline, socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) => {
                        // ICMP port unreachable shows up here: wait out the timeout.
                        last_refusal = Some(format!("{e}"));
                        tokio::time::sleep_until(deadline).await;
                        break;
                    }
                    Ok(Ok(n)) => n,
                };
                match read(&buf[..received]) {
                    Ok(answer) => return Ok(answer),
                    Err(e) => {
                        self.counts.replies_refused.fetch_add(1, Ordering::Relaxed);
                        if self.quiet {
                            tracing::debug!(server = %server.address, "ignored a RADIUS reply: {e}");
                        } else {
                            tracing::warn!(server = %server.address, "ignored a RADIUS reply: {e}");
                        }
                        last_refusal = Some(format!("its reply was refused: {e}"));
                    }
                }
            }
        }
        let waited = self.timeout * self.attempts;
        Err(match last_refusal {
            Some(why) => format!(
                "no valid reply to {} tries in {waited:?} (last: {why})",
                self.attempts
            ),
            None => format!("no reply to {} tries in {waited:?}", self.attempts),
        })
    }
}
