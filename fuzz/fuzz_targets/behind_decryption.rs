//! The engine behind decryption: two engines (the demo's moon and sun, PSK) set up
//! an IKE SA and a CHILD SA, then the input, read as a script, hands decrypted
//! payload chains of its own to either side's IKE SAs as requests or as responses to
//! their requests in flight (through tern-engine's `fuzzing` hook, which needs no
//! keys), interleaved with rekey/terminate commands, lost datagrams and time passing.
//! The engines must never panic, whatever the chains say and whenever they come.
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tern_engine::config::EngineConfig;
use tern_engine::{Command, Engine, Environment};
use tern_wire::{parse_payloads, ExchangeType, PayloadType};

/// Seeded randomness (the engine draws its SPIs from it): the same input always
/// runs the same way.
struct FuzzEnv {
    state: u64,
}

impl Environment for FuzzEnv {
    fn random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        }
    }

    fn local_address_for(&mut self, _: IpAddr) -> Option<IpAddr> {
        None
    }

    fn wall_clock(&mut self, _: Instant) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_811_808_000)
    }
}

fn configs() -> &'static (EngineConfig, EngineConfig) {
    static CONFIGS: OnceLock<(EngineConfig, EngineConfig)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let moon = tern_config::default_config().expect("the built-in configuration");
        let sun = tern_config::parse_str(
            include_str!("../../conf/examples/demo-sun.toml"),
            "demo-sun.toml",
        )
        .expect("the demo's sun configuration");
        (moon.engine, sun.engine)
    })
}

struct Pair {
    engines: [Engine; 2],
    addrs: [SocketAddr; 2],
    now: Instant,
}

impl Pair {
    fn established() -> Pair {
        let (moon, sun) = configs();
        let env = |seed: u64| Box::new(FuzzEnv { state: seed });
        let mut pair = Pair {
            engines: [
                Engine::new(moon.clone(), env(0x9e37_79b9_7f4a_7c15)),
                Engine::new(sun.clone(), env(0x2545_f491_4f6c_dd1d)),
            ],
            addrs: [
                "192.0.2.1:500".parse().unwrap(),
                "192.0.2.2:500".parse().unwrap(),
            ],
            now: Instant::now(),
        };
        pair.command(0, 3);
        pair.deliver(16);
        pair
    }

    /// Carries datagrams between the two, for at most `rounds` rounds.
    fn deliver(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let mut carried = false;
            for from in 0..2 {
                while let Some(t) = self.engines[from].poll_transmit() {
                    carried = true;
                    let to = 1 - from;
                    if t.remote.ip() == self.addrs[to].ip() {
                        let bytes = t.payload.strip_prefix(&[0; 4][..]).unwrap_or(&t.payload);
                        let bytes = bytes.to_vec();
                        self.engines[to].handle_datagram(self.now, t.remote, t.local, &bytes);
                    }
                }
            }
            self.drain();
            if !carried {
                return;
            }
        }
    }

    /// Kernel operations and events go nowhere (they would pile up otherwise).
    fn drain(&mut self) {
        for engine in &mut self.engines {
            while engine.poll_kernel_op().is_some() {}
            while engine.poll_event().is_some() {}
        }
    }

    fn command(&mut self, side: usize, which: u8) {
        let connection = "demo".to_string();
        let command = match which % 4 {
            0 => Command::Rekey { connection },
            1 => Command::RekeyIke { connection },
            2 => Command::Terminate { connection },
            _ => Command::Initiate { connection },
        };
        let _ = self.engines[side].handle_command(self.now, command);
    }

    fn lose_transmits(&mut self, side: usize) {
        while self.engines[side].poll_transmit().is_some() {}
    }

    fn advance(&mut self, seconds: u8) {
        self.now += Duration::from_secs(u64::from(seconds));
        for engine in &mut self.engines {
            if engine.poll_timeout().is_some_and(|t| t <= self.now) {
                engine.handle_timeout(self.now);
            }
        }
        self.drain();
    }

    /// A payload chain for one of `side`'s IKE SAs (`pick` chooses which).
    fn inject(
        &mut self,
        side: usize,
        pick: u8,
        exchange: ExchangeType,
        response: bool,
        first: u8,
        chain: &[u8],
    ) {
        let Ok(payloads) = parse_payloads(PayloadType(first), chain) else {
            return;
        };
        let ids = self.engines[side].fuzz_ike_sa_ids();
        if ids.is_empty() {
            return;
        }
        let id = ids[usize::from(pick) % ids.len()];
        self.engines[side].fuzz_deliver_decrypted(self.now, id, exchange, response, payloads);
        self.drain();
    }
}

const EXCHANGES: [ExchangeType; 3] = [
    ExchangeType::IKE_AUTH,
    ExchangeType::CREATE_CHILD_SA,
    ExchangeType::INFORMATIONAL,
];

fuzz_target!(|data: &[u8]| {
    let mut pair = Pair::established();
    let mut input = data;
    // Each step: an opcode byte, then its arguments.
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        let side = usize::from(op >> 7);
        match op & 0x7 {
            0..=3 => {
                // Inject: [exchange, pick, first payload type, length (2, big-endian), chain...].
                let [exchange, pick, first, len_high, len_low, rest @ ..] = input else {
                    return;
                };
                let len = usize::from(u16::from_be_bytes([*len_high, *len_low])).min(rest.len());
                let (chain, rest) = rest.split_at(len);
                let exchange = EXCHANGES[usize::from(*exchange) % EXCHANGES.len()];
                let response = op & 0x1 == 1;
                pair.inject(side, *pick, exchange, response, *first, chain);
                input = rest;
            }
            4 => {
                let Some((&which, rest)) = input.split_first() else {
                    return;
                };
                pair.command(side, which);
                input = rest;
            }
            5 => pair.deliver(8),
            6 => {
                let Some((&seconds, rest)) = input.split_first() else {
                    return;
                };
                pair.advance(seconds);
                input = rest;
            }
            _ => pair.lose_transmits(side),
        }
    }
    pair.deliver(16);
});
