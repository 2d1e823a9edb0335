//! The IKE sockets: reading (into the intake, or handed on to the engine a
//! datagram belongs to) and sending, with the limits on both.

use super::*;

/// Datagrams read from a socket per turn at most: enough to keep its buffer from
/// filling under a flood (reading is cheap; the intake sheds what it cannot hold),
/// few enough that timers and the control socket are not kept waiting.
const READ_BATCH: usize = 1024;

/// Tries again of a send the kernel refused for want of buffer room.
const SEND_RETRIES: u32 = 2;
/// How long sends are not retried after one failed every retry.
const SENDS_STALLED: Duration = Duration::from_millis(100);

impl Daemon {
    /// Reads what waits on the sockets (up to a batch from each) into the intake,
    /// or hands it on to the engine it belongs to; then handles this turn's share
    /// of the intake.
    pub(super) fn receive(&mut self, sockets: &[Arc<IkeSocket>], buf: &mut [u8]) {
        self.read_sockets(sockets, buf);
        self.intake.new_turn();
        self.handle_intake();
    }

    /// Known SPIs first, then a few new IKE SAs (see `intake`).
    fn handle_intake(&mut self) {
        while let Some(d) = self.intake.next() {
            let now = std::time::Instant::now();
            self.engine
                .handle_datagram(now, d.local, d.remote, &d.bytes);
            self.flush();
        }
        self.counters.shed_new_ike_sas = self.intake.shed_new;
        self.counters.shed_known = self.intake.shed_known;
    }

    fn read_sockets(&mut self, sockets: &[Arc<IkeSocket>], buf: &mut [u8]) {
        let count = self.shards.len() as u32;
        let ours = self.engine.shard().index() as usize;
        for socket in sockets {
            for _ in 0..READ_BATCH {
                let received = match socket.try_recv(buf) {
                    Ok(r) => r,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        SocketCounters::count(&self.sockets_counted.receive_failed);
                        if self.noisy("receives failed", socket.bound.ip()) {
                            tracing::warn!(socket = %socket.bound, "receive failed: {e}");
                        }
                        break;
                    }
                };
                SocketCounters::count(&self.sockets_counted.received);
                let mut bytes = &buf[..received.len];
                if socket.bound.port() == self.nat_port {
                    // On the NAT-T port IKE carries a zero marker; anything else is ESP.
                    match bytes.strip_prefix(&NON_ESP_MARKER) {
                        Some(rest) => bytes = rest,
                        None => {
                            SocketCounters::count(&self.sockets_counted.not_ike);
                            continue;
                        }
                    }
                }
                let shard = dispatch::route(bytes, received.remote.ip(), count);
                if shard == ours {
                    self.intake.push(Datagram {
                        local: received.local,
                        remote: received.remote,
                        bytes: bytes.to_vec(),
                    });
                    continue;
                }
                // Not steered here (no steering program in this kernel, say): its
                // engine gets it. Never waiting: two engines handing on to each
                // other must not block each other; UDP's peers retransmit.
                let inbound = Inbound::Datagram {
                    local: received.local,
                    remote: received.remote,
                    bytes: bytes.to_vec(),
                };
                if self.shards[shard].try_send(inbound).is_err() {
                    SocketCounters::count(&self.sockets_counted.receive_failed);
                }
            }
        }
    }

    /// What another engine's thread handed on.
    pub(super) fn handed_on(&mut self, handed: Inbound) {
        let now = std::time::Instant::now();
        match handed {
            Inbound::Datagram {
                local,
                remote,
                bytes,
            } => {
                self.intake.push(Datagram {
                    local,
                    remote,
                    bytes,
                });
                self.handle_intake();
            }
            Inbound::PeerStartedOver(gone) => self.engine.forget_peer(now, &gone),
        }
    }

    pub(super) fn send(&mut self, t: tern_engine::Transmit) {
        let socket = self
            .sockets
            .iter()
            .find(|s| s.bound.port() == t.local.port() && s.bound.is_ipv4() == t.remote.is_ipv4());
        let Some(socket) = socket else {
            tracing::error!(local = %t.local, remote = %t.remote, "no socket to send from");
            self.counters.send_failed += 1;
            return;
        };
        // After a send that failed every retry, the next ones for a moment do not
        // wait: a stalled link must not stall the engine too (they are counted).
        let now = Instant::now();
        let retries = if self.sends_stalled_until.is_some_and(|t| now < t) {
            0
        } else {
            SEND_RETRIES
        };
        let (result, tried_again) = if t.local.port() == self.nat_port && !t.is_nat_keepalive() {
            let mut framed = NON_ESP_MARKER.to_vec();
            framed.extend_from_slice(&t.payload);
            socket.send_retrying(t.local.ip(), t.remote, &framed, retries)
        } else {
            socket.send_retrying(t.local.ip(), t.remote, &t.payload, retries)
        };
        self.counters.send_retries += u64::from(tried_again);
        if result.is_err() && retries > 0 {
            self.sends_stalled_until = Some(now + SENDS_STALLED);
        }
        match result {
            Ok(_) => self.counters.sent += 1,
            Err(e) => {
                self.counters.send_failed += 1;
                if self.noisy("sends failed", t.remote.ip()) {
                    tracing::warn!(local = %t.local, remote = %t.remote, "sending failed: {e}");
                }
            }
        }
    }

    /// Counts a warning a remote host can cause; true if it is to be logged.
    fn noisy(&mut self, what: &'static str, address: std::net::IpAddr) -> bool {
        let (log, ended) = self.noise.allow(std::time::Instant::now(), what, address);
        if let Some(summary) = ended {
            tracing::warn!("{summary}");
        }
        log
    }

    /// Logs what the limiters left out in windows that have ended.
    pub(super) fn log_summaries(&mut self) {
        let now = std::time::Instant::now();
        self.engine.log_drop_summaries(now);
        for summary in self.noise.ended(now) {
            tracing::warn!("{summary}");
        }
    }
}
