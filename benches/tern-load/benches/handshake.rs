//! Full handshakes per second on one core: IKE_SA_INIT + IKE_AUTH + the first
//! CHILD SA between two tern engines in memory (aes128gcm16-prfsha256-x25519,
//! PSK), beside the same handshake's cryptography alone. Their ratio is the
//! share of the time the engine spends on cryptography; the rest is its own.
//!
//!     CARGO_TARGET_DIR=/work/target-perf cargo bench -p tern-load --bench handshake
//!
//! `crypto_parts/*` splits the crypto bound, so a profile can say where it goes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern_crypto::{
    derive_child_keys, derive_ike_keys, ke_public, ke_shared, psk_auth, AeadAlg, KeAlg, PrfAlg,
    Secret, SkCipher,
};
use tern_load::crypto_bound;
use tern_load::memory::{Configs, Pair};
use tern_load::profile::Profile;

fn handshake(c: &mut Criterion) {
    let configs = Configs::new(&Profile::default()).expect("configs");
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("engines_in_memory", |b| {
        let mut seed = 0u64;
        // Each handshake gets two fresh engines, made outside the timing.
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                seed += 1;
                let mut pair = Pair::new(&configs, seed);
                let start = Instant::now();
                pair.establish().expect("handshake");
                spent += start.elapsed();
                drop(black_box(pair));
            }
            spent
        })
    });
    group.bench_function("crypto_bound", |b| {
        let mut seed = 0u64;
        b.iter(|| {
            seed += 1;
            crypto_bound::handshake(seed).expect("crypto")
        })
    });
    group.finish();
}

/// The crypto bound's parts, each as often as one handshake needs it.
fn crypto_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("crypto_parts");
    let private = Secret::new(vec![0x42; 32]);
    let peer = ke_public(KeAlg::X25519, &Secret::new(vec![0x24; 32])).expect("public");
    group.bench_function("x25519_keygen_and_dh_x2", |b| {
        b.iter(|| {
            for _ in 0..2 {
                let public = ke_public(KeAlg::X25519, black_box(&private)).expect("public");
                let shared = ke_shared(KeAlg::X25519, &private, &peer).expect("shared");
                black_box((public, shared));
            }
        })
    });
    let shared = Secret::new(vec![0x33; 32]);
    let prf = PrfAlg::HmacSha256;
    group.bench_function("key_schedule_x2", |b| {
        b.iter(|| {
            for _ in 0..2 {
                let keys =
                    derive_ike_keys(prf, &shared, &[1; 32], &[2; 32], &[3; 8], &[4; 8], 20, 0)
                        .expect("keys");
                derive_child_keys(prf, &keys.sk_d, None, &[1; 32], &[2; 32], 20, 0)
                    .expect("child keys");
                black_box(keys);
            }
        })
    });
    let aead = AeadAlg::AesGcm16 { key_bits: 128 };
    let key = Secret::new(vec![0x55; 20]);
    group.bench_function("sk_cipher_setup_x4", |b| {
        b.iter(|| {
            for _ in 0..4 {
                black_box(SkCipher::new(aead, black_box(&key)).expect("cipher"));
            }
        })
    });
    let octets = vec![0x66; 300];
    group.bench_function("psk_auth_x4", |b| {
        b.iter(|| {
            for _ in 0..4 {
                black_box(psk_auth(prf, b"a pre-shared key", black_box(&octets)));
            }
        })
    });
    let cipher = SkCipher::new(aead, &key).expect("cipher");
    let inner = vec![0x77; 200];
    group.bench_function("sk_seal_and_open_x2", |b| {
        b.iter(|| {
            for counter in 0..2 {
                let mut body = vec![0; cipher.sealed_len(inner.len())];
                let iv = cipher.iv_from_counter(counter);
                cipher.seal(&iv, &[0; 32], &inner, &mut body).expect("seal");
                black_box(cipher.open(&[0; 32], &body).expect("open"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, handshake, crypto_parts);
criterion_main!(benches);
