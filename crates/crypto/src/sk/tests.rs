use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector is hex")
}

const ALL_ALGS: [AeadAlg; 7] = [
    AeadAlg::AesGcm16 { key_bits: 128 },
    AeadAlg::AesGcm16 { key_bits: 256 },
    AeadAlg::AesGcm12 { key_bits: 128 },
    AeadAlg::AesGcm12 { key_bits: 256 },
    AeadAlg::AesGcm8 { key_bits: 128 },
    AeadAlg::AesGcm8 { key_bits: 256 },
    AeadAlg::ChaCha20Poly1305,
];

fn key_material(alg: AeadAlg, fill: u8) -> Secret {
    Secret::new(
        (0..alg.key_material_len())
            .map(|i| fill.wrapping_add(i as u8))
            .collect(),
    )
}

fn seal_vec(cipher: &SkCipher, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0; cipher.sealed_len(plaintext.len())];
    cipher.seal(iv, aad, plaintext, &mut out).expect("seal");
    out
}

/// Encrypts `inner` (which must already end in padding and a pad length
/// octet) with ring directly, to build bodies `seal` would never produce.
fn raw_body(alg: AeadAlg, km: &Secret, iv: &[u8; 8], aad: &[u8], inner: &[u8]) -> Vec<u8> {
    let (key, salt) = km.expose().split_at(alg.key_len());
    let key = LessSafeKey::new(UnboundKey::new(alg.ring_alg().expect("alg"), key).expect("key"));
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(iv);
    let mut ct = inner.to_vec();
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ct)
        .expect("seal");
    [&iv[..], &ct, &tag.as_ref()[..alg.icv_len()]].concat()
}

// The AES-GCM test vectors of McGrew and Viega ("The Galois/Counter Mode of
// Operation", test cases 4 and 16), split as RFC 5282 does: the first four
// nonce octets are the salt, the last eight the IV.
const GCM_IV: &str = "facedbaddecaf888";
const GCM_SALT: &str = "cafebabe";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_KEY_128: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_CT_128: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                          21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const GCM_TAG_128: &str = "5bc94fbc3221a5db94fae95ae7121a47";

fn gcm_vector_cipher(alg: AeadAlg, key: &str) -> SkCipher {
    let km = Secret::new([unhex(key), unhex(GCM_SALT)].concat());
    SkCipher::new(alg, &km).expect("cipher")
}

/// The vector's 60-octet plaintext ends in 0x39 = 57: read as an SK body it
/// is two octets of payload, 57 of padding and the pad length.
#[test]
fn opens_gcm_test_case_4_aes128() {
    let cipher = gcm_vector_cipher(AeadAlg::AesGcm16 { key_bits: 128 }, GCM_KEY_128);
    let body = unhex(&[GCM_IV, GCM_CT_128, GCM_TAG_128].concat());
    assert_eq!(cipher.open(&unhex(GCM_AAD), &body), Ok(vec![0xd9, 0x31]));
}

#[test]
fn opens_gcm_test_case_16_aes256() {
    let cipher = gcm_vector_cipher(
        AeadAlg::AesGcm16 { key_bits: 256 },
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    );
    let body = unhex(
        &[
            GCM_IV,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ]
        .concat(),
    );
    assert_eq!(cipher.open(&unhex(GCM_AAD), &body), Ok(vec![0xd9, 0x31]));
}

/// Truncated ICVs are prefixes of the full tag, so the same vector checks
/// the AES-GCM-8/12 path.
#[test]
fn opens_gcm_test_case_4_with_truncated_icvs() {
    for (alg, icv_len) in [
        (AeadAlg::AesGcm12 { key_bits: 128 }, 12),
        (AeadAlg::AesGcm8 { key_bits: 128 }, 8),
    ] {
        let cipher = gcm_vector_cipher(alg, GCM_KEY_128);
        let tag = unhex(GCM_TAG_128);
        let mut body = [unhex(GCM_IV), unhex(GCM_CT_128), tag[..icv_len].to_vec()].concat();
        assert_eq!(
            cipher.open(&unhex(GCM_AAD), &body),
            Ok(vec![0xd9, 0x31]),
            "{alg:?}"
        );
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(
            cipher.open(&unhex(GCM_AAD), &body),
            Err(CryptoError::IcvMismatch),
            "{alg:?}"
        );
    }
}

/// Sealing the vector's first 59 octets: the pad length octet 0x00 takes
/// the place of the vector's last octet 0x39. Expected output computed with
/// an independent AES-GCM implementation (Python `cryptography`).
#[test]
fn seals_gcm_test_case_4_plaintext() {
    let cipher = gcm_vector_cipher(AeadAlg::AesGcm16 { key_bits: 128 }, GCM_KEY_128);
    let plaintext = unhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b",
    );
    let body = seal_vec(&cipher, &unhex(GCM_IV), &unhex(GCM_AAD), &plaintext);
    let expected = unhex(
        "facedbaddecaf888\
         42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e0a8\
         fce1f90446f71b08ff3085acff317569",
    );
    assert_eq!(body, expected);
}

/// RFC 7539 §2.8.2 AEAD vector, with RFC 7634's nonce split (salt | IV).
/// Its plaintext ends in '.' = 46: 67 octets of payload remain.
#[test]
fn opens_rfc7539_chacha20_poly1305_vector() {
    let km = Secret::new([(0x80..=0x9f).collect::<Vec<u8>>(), unhex("07000000")].concat());
    let cipher = SkCipher::new(AeadAlg::ChaCha20Poly1305, &km).expect("cipher");
    let body = unhex(
        "4041424344454647\
         d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
         3ff4def08e4b7a9de576d26586cec64b6116\
         1ae10b594f09e26a7e902ecbd0600691",
    );
    let plaintext =
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    assert_eq!(
        cipher
            .open(&unhex("50515253c0c1c2c3c4c5c6c7"), &body)
            .expect("open"),
        plaintext[..67].to_vec()
    );
}

#[test]
fn round_trips_every_algorithm_and_length() {
    let aad = b"IKE header and SK payload header";
    for alg in ALL_ALGS {
        let km = key_material(alg, 0x11);
        let sender = SkCipher::new(alg, &km).expect("cipher");
        let receiver = SkCipher::new(alg, &km).expect("cipher");
        for len in [0usize, 1, 15, 16, 17, 300] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let body = seal_vec(&sender, &[0x5a; 8], aad, &plaintext);
            assert_eq!(body.len(), alg.iv_len() + len + 1 + alg.icv_len());
            assert_eq!(&body[..8], &[0x5a; 8], "IV leads the body");
            assert_eq!(
                receiver.open(aad, &body),
                Ok(plaintext),
                "{alg:?} len {len}"
            );
        }
    }
}

#[test]
fn any_altered_octet_of_body_or_aad_fails_the_icv() {
    let aad = b"0123456789abcdef0123456789ab".to_vec();
    for alg in ALL_ALGS {
        let cipher = SkCipher::new(alg, &key_material(alg, 0x22)).expect("cipher");
        let body = seal_vec(&cipher, &[1, 2, 3, 4, 5, 6, 7, 8], &aad, b"inner payloads");
        for i in 0..body.len() {
            let mut tampered = body.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                cipher.open(&aad, &tampered),
                Err(CryptoError::IcvMismatch),
                "{alg:?} body octet {i}"
            );
        }
        for i in 0..aad.len() {
            let mut tampered = aad.clone();
            tampered[i] ^= 0x80;
            assert_eq!(
                cipher.open(&tampered, &body),
                Err(CryptoError::IcvMismatch),
                "{alg:?} aad octet {i}"
            );
        }
        assert_eq!(
            cipher.open(&aad[..aad.len() - 1], &body),
            Err(CryptoError::IcvMismatch)
        );
    }
}

#[test]
fn wrong_key_or_wrong_salt_fails() {
    for alg in ALL_ALGS {
        let km = key_material(alg, 0x33);
        let body = seal_vec(
            &SkCipher::new(alg, &km).expect("cipher"),
            &[9; 8],
            b"aad",
            b"hello",
        );

        let other_key = key_material(alg, 0x34);
        let cipher = SkCipher::new(alg, &other_key).expect("cipher");
        assert_eq!(
            cipher.open(b"aad", &body),
            Err(CryptoError::IcvMismatch),
            "{alg:?}"
        );

        let mut other_salt = km.expose().to_vec();
        *other_salt.last_mut().expect("salt") ^= 1;
        let cipher = SkCipher::new(alg, &Secret::new(other_salt)).expect("cipher");
        assert_eq!(
            cipher.open(b"aad", &body),
            Err(CryptoError::IcvMismatch),
            "{alg:?}"
        );
    }
}

#[test]
fn open_strips_padding_and_rejects_impossible_pad_lengths() {
    for alg in [
        AeadAlg::AesGcm16 { key_bits: 128 },
        AeadAlg::AesGcm8 { key_bits: 256 },
    ] {
        let km = key_material(alg, 0x44);
        let cipher = SkCipher::new(alg, &km).expect("cipher");
        let open_raw =
            |inner: &[u8]| cipher.open(b"aad", &raw_body(alg, &km, &[7; 8], b"aad", inner));

        assert_eq!(open_raw(b"abc\xaa\xbb\xcc\x03"), Ok(b"abc".to_vec()));
        assert_eq!(open_raw(b"abc\x00"), Ok(b"abc".to_vec()));
        assert_eq!(open_raw(b"\x00"), Ok(vec![]));
        assert_eq!(
            open_raw(b"\x01\x01"),
            Ok(vec![]),
            "padding can eat everything"
        );
        assert_eq!(
            open_raw(b"\x01"),
            Err(CryptoError::BadPadding {
                pad_len: 1,
                available: 0
            })
        );
        assert_eq!(
            open_raw(b"ab\xff"),
            Err(CryptoError::BadPadding {
                pad_len: 255,
                available: 2
            })
        );
    }
}

#[test]
fn open_rejects_short_bodies() {
    let alg = AeadAlg::AesGcm16 { key_bits: 128 };
    let cipher = SkCipher::new(alg, &key_material(alg, 1)).expect("cipher");
    for len in [0, 8, 24] {
        assert_eq!(
            cipher.open(b"", &vec![0; len]),
            Err(CryptoError::BodyTooShort {
                min: 25,
                actual: len
            })
        );
    }
    // 25 octets is long enough to be checked, and then fails the ICV.
    assert_eq!(cipher.open(b"", &[0; 25]), Err(CryptoError::IcvMismatch));

    let alg = AeadAlg::AesGcm8 { key_bits: 128 };
    let cipher = SkCipher::new(alg, &key_material(alg, 1)).expect("cipher");
    assert_eq!(
        cipher.open(b"", &[0; 16]),
        Err(CryptoError::BodyTooShort {
            min: 17,
            actual: 16
        })
    );
    assert_eq!(cipher.open(b"", &[0; 17]), Err(CryptoError::IcvMismatch));
}

#[test]
fn seal_checks_iv_and_output_lengths() {
    let alg = AeadAlg::AesGcm16 { key_bits: 128 };
    let cipher = SkCipher::new(alg, &key_material(alg, 1)).expect("cipher");
    assert_eq!(cipher.iv_len(), 8);
    assert_eq!(cipher.sealed_len(10), 8 + 10 + 1 + 16);
    let mut out = vec![0; cipher.sealed_len(10)];
    assert_eq!(
        cipher.seal(&[0; 12], b"", &[0; 10], &mut out),
        Err(CryptoError::IvLength {
            expected: 8,
            actual: 12
        })
    );
    assert_eq!(
        cipher.seal(&[0; 8], b"", &[0; 11], &mut out),
        Err(CryptoError::OutputLength {
            expected: 36,
            actual: 35
        })
    );
}

#[test]
fn new_checks_key_material() {
    let alg = AeadAlg::AesGcm16 { key_bits: 128 };
    assert!(matches!(
        SkCipher::new(alg, &Secret::new(vec![0; 16])),
        Err(CryptoError::KeyMaterialLength {
            expected: 20,
            actual: 16
        })
    ));
    assert!(matches!(
        SkCipher::new(
            AeadAlg::AesGcm16 { key_bits: 192 },
            &Secret::new(vec![0; 28])
        ),
        Err(CryptoError::Unsupported { .. })
    ));
}

#[test]
fn debug_does_not_print_keys() {
    let alg = AeadAlg::AesGcm16 { key_bits: 128 };
    let cipher = SkCipher::new(alg, &Secret::new(vec![0xab; 20])).expect("cipher");
    let printed = format!("{cipher:?}");
    assert!(printed.contains("AesGcm16"), "{printed}");
    assert!(
        !printed.contains("ab") && !printed.contains("171"),
        "{printed}"
    );
}

// ---- AES-CBC with HMAC integrity -------------------------------------

const ALL_INTEG: [IntegAlg; 4] = [
    IntegAlg::HmacSha1_96,
    IntegAlg::HmacSha256_128,
    IntegAlg::HmacSha384_192,
    IntegAlg::HmacSha512_256,
];

fn cbc_cipher(key_bits: u16, integ: IntegAlg) -> (SkCipher, Secret, Secret) {
    let encr = Secret::new((0..key_bits / 8).map(|i| i as u8).collect());
    let mac = Secret::new(vec![0x5a; integ.key_len()]);
    let cipher = SkCipher::new_cbc(key_bits, integ, &encr, &mac).expect("cipher");
    (cipher, encr, mac)
}

/// Builds a CBC body by hand from a decrypted content that already holds
/// its padding and pad length octet, to reach what `seal` never produces.
fn raw_cbc_body(encr: &Secret, integ: IntegAlg, mac: &Secret, aad: &[u8], inner: &[u8]) -> Vec<u8> {
    let iv = [0x77u8; 16];
    let mut ct = inner.to_vec();
    cbc::AesKey::new(encr.expose())
        .expect("key")
        .cbc_encrypt(&iv, &mut ct);
    let key = ring::hmac::Key::new(integ.ring_alg(), mac.expose());
    let tag = ring::hmac::sign(&key, &[aad, &iv, &ct].concat());
    [&iv[..], &ct, &tag.as_ref()[..integ.icv_len()]].concat()
}

#[test]
fn cbc_round_trips_every_key_size_integrity_and_length() {
    let aad = b"IKE header and SK payload header";
    for key_bits in [128, 192, 256] {
        for integ in ALL_INTEG {
            let (cipher, _, _) = cbc_cipher(key_bits, integ);
            for len in [0, 1, 14, 15, 16, 17, 31, 32, 100] {
                let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let iv = cipher.iv_from_counter(len as u64);
                let body = seal_vec(&cipher, &iv, aad, &plaintext);
                assert_eq!(body.len(), cipher.sealed_len(len));
                assert_eq!((body.len() - 16 - integ.icv_len()) % 16, 0);
                assert_eq!(&body[..16], &iv[..]);
                assert_eq!(
                    cipher.open(aad, &body),
                    Ok(plaintext),
                    "{key_bits} {integ:?} {len}"
                );
            }
        }
    }
}

#[test]
fn cbc_sealed_lengths_pad_to_whole_blocks() {
    let (cipher, _, _) = cbc_cipher(128, IntegAlg::HmacSha256_128);
    // IV 16 + ciphertext + ICV 16
    assert_eq!(cipher.sealed_len(0), 16 + 16 + 16);
    assert_eq!(cipher.sealed_len(15), 16 + 16 + 16);
    assert_eq!(cipher.sealed_len(16), 16 + 32 + 16);
    assert_eq!(cipher.iv_len(), 16);
    assert_eq!(cipher.icv_len(), 16);
    assert_eq!(
        cipher.transform(),
        SkTransform::AesCbc {
            key_bits: 128,
            integ: IntegAlg::HmacSha256_128
        }
    );
    assert_eq!(cipher.alg(), None);
}

#[test]
fn cbc_any_altered_octet_of_body_or_aad_fails_the_icv() {
    let aad = b"header".to_vec();
    let (cipher, _, _) = cbc_cipher(256, IntegAlg::HmacSha384_192);
    let body = seal_vec(&cipher, &[3; 16], &aad, b"inner payloads");
    for i in 0..body.len() {
        let mut bad = body.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            cipher.open(&aad, &bad),
            Err(CryptoError::IcvMismatch),
            "body[{i}]"
        );
    }
    for i in 0..aad.len() {
        let mut bad = aad.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            cipher.open(&bad, &body),
            Err(CryptoError::IcvMismatch),
            "aad[{i}]"
        );
    }
}

#[test]
fn cbc_wrong_integrity_key_or_cipher_key_fails() {
    let (cipher, encr, _) = cbc_cipher(128, IntegAlg::HmacSha256_128);
    let body = seal_vec(&cipher, &[9; 16], b"h", b"secret");
    let other_mac = SkCipher::new_cbc(
        128,
        IntegAlg::HmacSha256_128,
        &encr,
        &Secret::new(vec![0x5b; 32]),
    )
    .expect("cipher");
    assert_eq!(other_mac.open(b"h", &body), Err(CryptoError::IcvMismatch));
    // Same MAC key, other AES key: the ICV passes, the content is garbage,
    // and a garbage pad length is usually caught.
    let other_aes = SkCipher::new_cbc(
        128,
        IntegAlg::HmacSha256_128,
        &Secret::new(vec![0xee; 16]),
        &Secret::new(vec![0x5a; 32]),
    )
    .expect("cipher");
    assert_ne!(other_aes.open(b"h", &body), Ok(b"secret".to_vec()));
}

#[test]
fn cbc_checks_padding_and_block_alignment() {
    let integ = IntegAlg::HmacSha1_96;
    let (cipher, encr, mac) = cbc_cipher(128, integ);
    let aad = b"aad";

    // Pad length 15 in a single block: 15 octets of padding, nothing else.
    let mut inner = [0u8; 16];
    inner[15] = 15;
    assert_eq!(
        cipher.open(aad, &raw_cbc_body(&encr, integ, &mac, aad, &inner)),
        Ok(vec![])
    );

    // Padding with arbitrary content is accepted (RFC 7296 §3.14).
    let mut inner = [0xa5u8; 16];
    inner[15] = 5;
    assert_eq!(
        cipher.open(aad, &raw_cbc_body(&encr, integ, &mac, aad, &inner)),
        Ok(vec![0xa5; 10])
    );

    // A pad length that runs past the start of the plaintext.
    let mut inner = [0u8; 16];
    inner[15] = 16;
    assert_eq!(
        cipher.open(aad, &raw_cbc_body(&encr, integ, &mac, aad, &inner)),
        Err(CryptoError::BadPadding {
            pad_len: 16,
            available: 15
        })
    );

    // A ciphertext that is not whole blocks (ICV is checked after this).
    let body = seal_vec(&cipher, &[1; 16], aad, &[b'x'; 20]);
    let mut short = body.clone();
    short.remove(20);
    assert_eq!(
        cipher.open(aad, &short),
        Err(CryptoError::NotWholeBlocks {
            block: 16,
            actual: 31
        })
    );

    // Shorter than IV + one block + ICV.
    assert!(matches!(
        cipher.open(aad, &body[..16 + 12 + 15]),
        Err(CryptoError::BodyTooShort { min: 44, .. })
    ));
}

#[test]
fn cbc_new_checks_key_lengths_and_sizes() {
    let mac = Secret::new(vec![0; 32]);
    assert_eq!(
        SkCipher::new_cbc(
            128,
            IntegAlg::HmacSha256_128,
            &Secret::new(vec![0; 24]),
            &mac
        )
        .err(),
        Some(CryptoError::KeyMaterialLength {
            expected: 16,
            actual: 24
        })
    );
    assert_eq!(
        SkCipher::new_cbc(
            128,
            IntegAlg::HmacSha256_128,
            &Secret::new(vec![0; 16]),
            &Secret::new(vec![0; 20])
        )
        .err(),
        Some(CryptoError::KeyMaterialLength {
            expected: 32,
            actual: 20
        })
    );
    assert!(matches!(
        SkCipher::new_cbc(
            160,
            IntegAlg::HmacSha256_128,
            &Secret::new(vec![0; 20]),
            &mac
        ),
        Err(CryptoError::Unsupported { .. })
    ));
    let (cipher, _, _) = cbc_cipher(128, IntegAlg::HmacSha256_128);
    let mut out = vec![0; cipher.sealed_len(3)];
    assert_eq!(
        cipher.seal(&[0; 8], b"", b"abc", &mut out),
        Err(CryptoError::IvLength {
            expected: 16,
            actual: 8
        })
    );
}

#[test]
fn with_transform_builds_both_kinds() {
    for transform in [
        SkTransform::Aead(AeadAlg::AesGcm16 { key_bits: 256 }),
        SkTransform::AesCbc {
            key_bits: 192,
            integ: IntegAlg::HmacSha512_256,
        },
    ] {
        let encr = Secret::new(vec![1; transform.encr_key_len()]);
        let integ = Secret::new(vec![2; transform.integ_key_len()]);
        let cipher = SkCipher::with_transform(transform, &encr, &integ).expect("cipher");
        assert_eq!(cipher.transform(), transform);
        let iv = cipher.iv_from_counter(7);
        assert_eq!(iv.len(), transform.iv_len());
        let body = seal_vec(&cipher, &iv, b"a", b"payload");
        assert_eq!(cipher.open(b"a", &body), Ok(b"payload".to_vec()));
    }
}

#[test]
fn cbc_debug_does_not_print_keys() {
    let (cipher, _, _) = cbc_cipher(128, IntegAlg::HmacSha256_128);
    let printed = format!("{cipher:?}");
    assert!(printed.contains("AesCbc"), "{printed}");
    assert!(
        !printed.contains("5a") && !printed.contains("90,"),
        "{printed}"
    );
}
