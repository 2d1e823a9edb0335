//! Criterion figures for tern-crypto: each key exchange (public value plus
//! shared secret, as one side does per IKE_SA_INIT), a full IKE key
//! schedule, and SK payload protection of 1 KiB with each transform.
//!
//! Run: CARGO_TARGET_DIR=/work/target-crypto cargo bench -p tern-crypto

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tern_crypto::{
    derive_child_keys, derive_ike_keys, ke_public, ke_shared, AeadAlg, IntegAlg, KeAlg, PrfAlg,
    Secret, SkCipher, SkTransform,
};

fn key_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("ke");
    for alg in KeAlg::ALL {
        let ours = Secret::new(vec![0x42; alg.private_len()]);
        let peer = ke_public(alg, &Secret::new(vec![0x24; alg.private_len()])).expect("public");
        group.bench_function(alg.name(), |b| {
            b.iter(|| {
                let public = ke_public(alg, black_box(&ours)).expect("public");
                let shared = ke_shared(alg, &ours, black_box(&peer)).expect("shared");
                (public, shared)
            })
        });
    }
    group.finish();
}

fn key_schedule(c: &mut Criterion) {
    let shared = Secret::new(vec![0x33; 32]);
    let (ni, nr) = ([0xa1; 32], [0xb2; 32]);
    let (spi_i, spi_r) = ([1; 8], [2; 8]);
    let mut group = c.benchmark_group("ike_key_schedule");
    for (name, prf, encr, integ) in [
        ("aes128gcm16-prfsha256", PrfAlg::HmacSha256, 20, 0),
        ("aes256-sha384-prfsha384", PrfAlg::HmacSha384, 32, 48),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                // SKEYSEED, the seven SK_* keys, and the first CHILD SA's keys.
                let keys = derive_ike_keys(
                    prf,
                    black_box(&shared),
                    &ni,
                    &nr,
                    &spi_i,
                    &spi_r,
                    encr,
                    integ,
                )
                .expect("ike keys");
                derive_child_keys(prf, &keys.sk_d, None, &ni, &nr, encr, integ).expect("child keys")
            })
        });
    }
    group.finish();
}

fn sk_transforms() -> Vec<(String, SkTransform)> {
    let mut out: Vec<(String, SkTransform)> = [
        AeadAlg::AesGcm16 { key_bits: 128 },
        AeadAlg::AesGcm16 { key_bits: 256 },
        AeadAlg::AesGcm12 { key_bits: 128 },
        AeadAlg::AesGcm8 { key_bits: 128 },
        AeadAlg::ChaCha20Poly1305,
    ]
    .into_iter()
    .map(|a| {
        let name = match a {
            AeadAlg::AesGcm16 { key_bits } => format!("AesGcm16-{key_bits}"),
            AeadAlg::AesGcm12 { key_bits } => format!("AesGcm12-{key_bits}"),
            AeadAlg::AesGcm8 { key_bits } => format!("AesGcm8-{key_bits}"),
            other => format!("{other:?}"),
        };
        (name, SkTransform::Aead(a))
    })
    .collect();
    for key_bits in [128, 192, 256] {
        for integ in [
            IntegAlg::HmacSha1_96,
            IntegAlg::HmacSha256_128,
            IntegAlg::HmacSha384_192,
            IntegAlg::HmacSha512_256,
        ] {
            out.push((
                format!("AesCbc{key_bits}-{integ:?}"),
                SkTransform::AesCbc { key_bits, integ },
            ));
        }
    }
    out
}

fn sk_protection(c: &mut Criterion) {
    let plaintext = vec![0x5c; 1024];
    let aad = [0x11; 32];
    let mut group = c.benchmark_group("sk_1KiB");
    group.throughput(Throughput::Bytes(1024));
    for (name, transform) in sk_transforms() {
        let cipher = SkCipher::with_transform(
            transform,
            &Secret::new(vec![7; transform.encr_key_len()]),
            &Secret::new(vec![9; transform.integ_key_len()]),
        )
        .expect("cipher");
        let iv = cipher.iv_from_counter(1);
        let mut body = vec![0; cipher.sealed_len(plaintext.len())];
        group.bench_function(format!("seal/{name}"), |b| {
            b.iter(|| {
                cipher
                    .seal(&iv, &aad, black_box(&plaintext), &mut body)
                    .expect("seal")
            })
        });
        cipher.seal(&iv, &aad, &plaintext, &mut body).expect("seal");
        group.bench_function(format!("open/{name}"), |b| {
            b.iter(|| cipher.open(&aad, black_box(&body)).expect("open"))
        });
    }
    group.finish();
}

criterion_group!(benches, key_exchange, key_schedule, sk_protection);
criterion_main!(benches);
