//! Two engines joined in memory: an initiator and a responder exchanging
//! datagrams through queues, with a seeded environment and a frozen clock.
//! Everything the engine does per handshake, and no I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tern_engine::config::EngineConfig;
use tern_engine::{Command, Engine, Environment, Event};

use crate::profile::{responder_toml, Initiator, Profile, CONNECTION};

/// xorshift64*, seeded: a benchmark needs no entropy, only variety.
pub struct SeededEnv {
    state: u64,
}

impl SeededEnv {
    pub fn new(seed: u64) -> SeededEnv {
        SeededEnv { state: seed | 1 }
    }
}

impl Environment for SeededEnv {
    fn random(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let word = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    fn local_address_for(&mut self, _: IpAddr) -> Option<IpAddr> {
        None
    }

    /// PSK only here: no certificate's validity is ever checked against it.
    fn wall_clock(&mut self, _now: std::time::Instant) -> std::time::SystemTime {
        std::time::UNIX_EPOCH
    }
}

/// The initiator speaks from a port of its own, as tern-load's sockets do.
pub const INITIATOR_ADDR: &str = "192.0.2.1:40000";
pub const RESPONDER_ADDR: &str = "192.0.2.2:500";

/// The configurations of the in-memory pair, made once.
pub struct Configs {
    pub initiator: Initiator,
    pub responder: EngineConfig,
}

impl Configs {
    pub fn new(profile: &Profile) -> anyhow::Result<Configs> {
        let responder: SocketAddr = RESPONDER_ADDR.parse()?;
        let initiator: SocketAddr = INITIATOR_ADDR.parse()?;
        let text = responder_toml(profile, responder.ip(), responder.port(), "/unused");
        let parsed =
            tern_config::parse_str(&text, "responder").map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Configs {
            initiator: Initiator::new(profile, initiator.ip(), responder)?,
            responder: parsed.engine,
        })
    }
}

/// A fresh initiator and responder, ready for one handshake.
pub struct Pair {
    initiator: Engine,
    responder: Engine,
    initiator_addr: SocketAddr,
    responder_addr: SocketAddr,
    now: Instant,
    /// Octets of each datagram carried, in order (for sizing the crypto bound).
    pub sizes: Vec<usize>,
}

impl Pair {
    pub fn new(configs: &Configs, seed: u64) -> Pair {
        let responder = Engine::new(
            configs.responder.clone(),
            Box::new(SeededEnv::new(seed.wrapping_mul(2) + 1)),
        );
        Pair::with_responder(configs, seed, responder)
    }

    /// A fresh initiator against `responder`, which may hold SAs already.
    pub fn with_responder(configs: &Configs, seed: u64, responder: Engine) -> Pair {
        Pair {
            initiator: Engine::new(
                configs.initiator.for_sa(seed as u32, 40000),
                Box::new(SeededEnv::new(seed.wrapping_mul(2))),
            ),
            responder,
            initiator_addr: INITIATOR_ADDR.parse().expect("address"),
            responder_addr: RESPONDER_ADDR.parse().expect("address"),
            now: Instant::now(),
            sizes: Vec::new(),
        }
    }

    /// The responder, with every SA it established.
    pub fn into_responder(self) -> Engine {
        self.responder
    }

    /// IKE_SA_INIT, IKE_AUTH and the first CHILD SA: returns once both sides
    /// have installed the CHILD SA, or says why not.
    pub fn establish(&mut self) -> Result<(), String> {
        self.initiator
            .handle_command(
                self.now,
                Command::Initiate {
                    connection: CONNECTION.into(),
                },
            )
            .map_err(|e| format!("initiate: {e}"))?;
        let mut installed = [false; 2];
        for _ in 0..16 {
            let mut moved = false;
            while let Some(t) = self.initiator.poll_transmit() {
                moved = true;
                self.sizes.push(t.payload.len());
                self.responder.handle_datagram(
                    self.now,
                    self.responder_addr,
                    self.initiator_addr,
                    &t.payload,
                );
            }
            while let Some(t) = self.responder.poll_transmit() {
                moved = true;
                self.sizes.push(t.payload.len());
                self.initiator.handle_datagram(
                    self.now,
                    self.initiator_addr,
                    self.responder_addr,
                    &t.payload,
                );
            }
            for (side, engine) in [&mut self.initiator, &mut self.responder]
                .into_iter()
                .enumerate()
            {
                while engine.poll_kernel_op().is_some() {}
                while let Some(event) = engine.poll_event() {
                    match event {
                        Event::ChildSaInstalled { .. } => installed[side] = true,
                        Event::IkeSaFailed { reason, .. } | Event::ChildSaFailed { reason, .. } => {
                            return Err(reason.text)
                        }
                        _ => {}
                    }
                }
            }
            if installed == [true; 2] {
                return Ok(());
            }
            if !moved {
                break;
            }
        }
        Err(format!(
            "no CHILD SA after the exchanges (initiator {}, responder {})",
            installed[0], installed[1]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto_bound;

    #[test]
    fn two_engines_establish_a_child_sa() {
        let configs = Configs::new(&Profile::default()).expect("configs");
        let mut pair = Pair::new(&configs, 1);
        pair.establish().expect("established");
        let sas = pair.responder.list_sas(pair.now);
        assert_eq!(sas.len(), 1);
        assert_eq!(sas[0].state, "ESTABLISHED");
        assert_eq!(sas[0].children.len(), 1);
        assert_eq!(sas[0].remote_id, "load-1.tern.example");
        // The initiator told its engine its real port, so no NAT is seen and
        // nobody moves to port 4500.
        let mine = pair.initiator.list_sas(pair.now);
        assert_eq!(mine[0].local_addr, INITIATOR_ADDR.parse().unwrap());
        assert_eq!(sas[0].remote_addr, INITIATOR_ADDR.parse().unwrap());
    }

    /// The crypto bound seals and hashes messages of the sizes the engine
    /// sends; keep its constants within 15 % of the real thing.
    #[test]
    fn crypto_bound_message_sizes_match_the_engine() {
        let configs = Configs::new(&Profile::default()).expect("configs");
        let mut pair = Pair::new(&configs, 1);
        pair.establish().expect("established");
        let [init_req, init_resp, auth_req, auth_resp] = pair.sizes[..] else {
            panic!("four datagrams expected: {:?}", pair.sizes);
        };
        // IKE header, SK header, IV and ICV, pad length octet: 28 + 4 + 8 + 16 + 1.
        let overhead = 57;
        for (real, modelled) in [
            (init_req, crypto_bound::INIT_REQUEST_LEN),
            (init_resp, crypto_bound::INIT_RESPONSE_LEN),
            (auth_req - overhead, crypto_bound::AUTH_REQUEST_INNER_LEN),
            (auth_resp - overhead, crypto_bound::AUTH_RESPONSE_INNER_LEN),
        ] {
            let off = real.abs_diff(modelled) as f64 / real as f64;
            assert!(
                off < 0.15,
                "engine sends {real} octets, the model {modelled} (all: {:?})",
                pair.sizes
            );
        }
    }
}
