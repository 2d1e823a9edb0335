//! tern derives the same IKE SA keys as strongSwan from the same inputs.
//!
//! The values come from charon 5.9 (Debian's strongswan-charon) negotiating
//! aes128gcm16-prfsha256-x25519 with itself, logging at ike = 4 / net = 4;
//! tests/strongswan/make-vector reproduces such a run (each run has fresh
//! nonces, SPIs and keys, so the numbers below are from one recorded run).

use tern_crypto::{derive_ike_keys, nat_detection_hash, skeyseed, PrfAlg, Secret};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

const SPI_I: &str = "224559e2e4dc902d";
const SPI_R: &str = "1abd787ca7b1453a";
const NI: &str = "7c610b5551c7a74a60731232563ca6efff9f4cfd9e6b0c2bec1257fc1518a45b";
const NR: &str = "f92c2b443cd034f227d17f64dbba26e906eb139665c738f9a10adb130a1851e6";
const G_IR: &str = "c4c0354b6f00389ac6bb2319fd71a03f88b2a9588783de5f508d7c49956ddd17";

#[test]
fn ike_sa_keys_match_strongswan() {
    let spi_i: [u8; 8] = unhex(SPI_I).try_into().expect("8 octets");
    let spi_r: [u8; 8] = unhex(SPI_R).try_into().expect("8 octets");
    let (ni, nr) = (unhex(NI), unhex(NR));
    let shared = Secret::new(unhex(G_IR));

    assert_eq!(
        hex::encode(skeyseed(PrfAlg::HmacSha256, &shared, &ni, &nr).expose()),
        "1101808315cf9bc43f07c1af35b1278e04a4edafd7cb67648fc688b431c54284"
    );
    // AES-GCM-16-128: 16 octets of key and 4 of salt per direction, no SK_a.
    let keys = derive_ike_keys(PrfAlg::HmacSha256, &shared, &ni, &nr, &spi_i, &spi_r, 20, 0)
        .expect("derive");
    let hexed = |s: &Secret| hex::encode(s.expose());
    assert_eq!(
        hexed(&keys.sk_d),
        "2ed65b2c59f2a184f80e4783fa116b533cd1f44eb8909af3d87185d670ed25d9"
    );
    assert_eq!(
        hexed(&keys.sk_ei),
        "322d14d1380cf244b356c0f3140c1ece1b80e6ba"
    );
    assert_eq!(
        hexed(&keys.sk_er),
        "b7285b3c769dca3258d00f9f97c416a1f94ec8f3"
    );
    assert_eq!(
        hexed(&keys.sk_pi),
        "7cd4bc2023579eb8cc1264692e0277906e4279271584c56a5a8ebaa8fffb024d"
    );
    assert_eq!(
        hexed(&keys.sk_pr),
        "be5c8971be2b422aa52c857d3f2594b3c663cd87764026d50ea06c34f429446f"
    );
    assert!(keys.sk_ai.is_empty() && keys.sk_ar.is_empty());
}

/// The same run's NAT_DETECTION_SOURCE_IP from the initiator: SHA-1 of
/// SPIi | 0 (no SPIr yet) | 127.0.0.1 | 500, as charon logged it.
#[test]
fn nat_detection_hash_matches_strongswan() {
    let spi_i: [u8; 8] = unhex(SPI_I).try_into().expect("8 octets");
    let hash = nat_detection_hash(&spi_i, &[0; 8], "127.0.0.1".parse().expect("ip"), 500);
    assert_eq!(
        hex::encode(hash),
        "fe51dea1c72359dc8a99b49b15057d7d60233607"
    );
    let hash = nat_detection_hash(&spi_i, &[0; 8], "127.0.0.2".parse().expect("ip"), 500);
    assert_eq!(
        hex::encode(hash),
        "5daf1da00c9864d082bf8cab3a886f57f8313437"
    );
}
