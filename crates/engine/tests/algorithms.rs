//! Every algorithm tern negotiates, end to end between two engines: IKE SK
//! protection (AEAD and CBC + HMAC), each key exchange, and ESP keys of the
//! right length that agree on both sides, through a CHILD SA rekey with PFS.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::config::*;

fn ike(
    encryption: Encryption,
    integrity: Option<Integrity>,
    prf: Prf,
    ke: KeyExchange,
) -> IkeProposal {
    IkeProposal {
        encryption: vec![encryption],
        integrity: integrity.into_iter().collect(),
        prf: vec![prf],
        key_exchange: vec![ke],
    }
}

fn esp(
    encryption: Encryption,
    integrity: Option<Integrity>,
    pfs: Option<KeyExchange>,
) -> EspProposal {
    EspProposal {
        encryption: vec![encryption],
        integrity: integrity.into_iter().collect(),
        key_exchange: pfs.into_iter().collect(),
        esn: false,
    }
}

fn pair_with(ike: IkeProposal, esp: EspProposal) -> Pair {
    let set = |mut c: EngineConfig| {
        c.connections[0].ike_proposals = vec![ike.clone()];
        c.connections[0].children[0].esp_proposals = vec![esp.clone()];
        c.connections[0].children[0].lifetime = Lifetime {
            rekey_time: Duration::from_secs(60),
            life_time: Duration::from_secs(90),
            rand_time: Duration::ZERO,
        };
        c
    };
    Pair::new(set(moon_config()), set(sun_config()))
}

/// Brings the tunnel up, rekeys the CHILD SA once, and checks both kernels agree.
fn check(ike: IkeProposal, esp: EspProposal, ike_name: &str, esp_name: &str, key_len: usize) {
    let mut pair = pair_with(ike, esp);
    pair.initiate_from_a("demo");
    pair.deliver();
    let sa = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(sa.state, "ESTABLISHED", "{ike_name}: {:?}", pair.a.events);
    assert_eq!(sa.proposal, ike_name);
    // Sun rekeys too (same lifetime, no jitter): a collision, through the SK path.
    pair.run_for(Duration::from_secs(70));
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    assert_eq!(a.children.len(), 1, "{esp_name}: {:?}", pair.a.events);
    assert_eq!(b.children.len(), 1);
    assert_eq!(a.children[0].proposal, esp_name);
    let (ka, kb) = (pair.a.kernel(), pair.b.kernel());
    assert!(ka.errors.is_empty() && kb.errors.is_empty());
    assert_eq!(ka.sas.len(), 2);
    let moon: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let sun: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    let c = &a.children[0];
    let out = &ka.sas[&(moon, sun, c.spi_out)];
    assert_eq!(out.len(), key_len, "{esp_name} key material");
    assert_eq!(out, &kb.sas[&(moon, sun, c.spi_out)]);
    assert_eq!(
        ka.sas[&(sun, moon, c.spi_in)],
        kb.sas[&(sun, moon, c.spi_in)]
    );
}

#[test]
fn aes_cbc_with_sha2_and_modp2048_like_a_firewall() {
    check(
        ike(
            Encryption::AesCbc { key_bits: 256 },
            Some(Integrity::HmacSha256_128),
            Prf::HmacSha256,
            KeyExchange::Modp2048,
        ),
        esp(
            Encryption::AesCbc { key_bits: 256 },
            Some(Integrity::HmacSha512_256),
            Some(KeyExchange::Modp2048),
        ),
        "AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        "AES_CBC_256/HMAC_SHA2_512_256/MODP_2048",
        32 + 64,
    );
}

#[test]
fn windows_client_legacy_suite() {
    check(
        ike(
            Encryption::AesCbc { key_bits: 128 },
            Some(Integrity::HmacSha1_96),
            Prf::HmacSha1,
            KeyExchange::Modp1024,
        ),
        esp(
            Encryption::AesCbc { key_bits: 128 },
            Some(Integrity::HmacSha1_96),
            None,
        ),
        "AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        "AES_CBC_128/HMAC_SHA1_96",
        16 + 20,
    );
}

#[test]
fn chacha20_poly1305_with_ecp256() {
    check(
        ike(
            Encryption::ChaCha20Poly1305,
            None,
            Prf::HmacSha256,
            KeyExchange::Ecp256,
        ),
        esp(
            Encryption::ChaCha20Poly1305,
            None,
            Some(KeyExchange::Ecp256),
        ),
        "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/ECP_256",
        "CHACHA20_POLY1305/ECP_256",
        32 + 4,
    );
}

#[test]
fn aes_gcm_variants_with_ecp384_and_prfsha384() {
    check(
        ike(
            Encryption::AesGcm12 { key_bits: 256 },
            None,
            Prf::HmacSha384,
            KeyExchange::Ecp384,
        ),
        esp(Encryption::AesGcm8 { key_bits: 128 }, None, None),
        "AES_GCM_12_256/PRF_HMAC_SHA2_384/ECP_384",
        "AES_GCM_8_128",
        16 + 4,
    );
}
