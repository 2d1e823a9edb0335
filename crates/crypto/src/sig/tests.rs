use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tests/fixtures/keys/", $name))
    };
}

const MSG: &[u8] = fixture!("msg.bin");

fn key(pem: &[u8]) -> PrivateKey {
    PrivateKey::from_pem(pem).expect("fixture key loads")
}

fn spki(der: &[u8]) -> PublicKey {
    PublicKey::from_spki_der(der).expect("fixture SPKI parses")
}

#[test]
fn loads_every_pem_form_and_matches_the_spki() {
    let cases: [(&[u8], &[u8], &str); 9] = [
        (
            fixture!("rsa2048.pkcs8.pem"),
            fixture!("rsa2048.spki.der"),
            "RSA",
        ),
        (
            fixture!("rsa2048.pkcs1.pem"),
            fixture!("rsa2048.spki.der"),
            "RSA",
        ),
        (
            fixture!("p256.pkcs8.pem"),
            fixture!("p256.spki.der"),
            "ECDSA P-256",
        ),
        (
            fixture!("p256.sec1.pem"),
            fixture!("p256.spki.der"),
            "ECDSA P-256",
        ),
        (
            fixture!("p384.pkcs8.pem"),
            fixture!("p384.spki.der"),
            "ECDSA P-384",
        ),
        (
            fixture!("p384.sec1.pem"),
            fixture!("p384.spki.der"),
            "ECDSA P-384",
        ),
        (
            fixture!("p521.pkcs8.pem"),
            fixture!("p521.spki.der"),
            "ECDSA P-521",
        ),
        (
            fixture!("p521.sec1.pem"),
            fixture!("p521.spki.der"),
            "ECDSA P-521",
        ),
        (
            fixture!("ed25519.pkcs8.pem"),
            fixture!("ed25519.spki.der"),
            "Ed25519",
        ),
    ];
    for (pem, der, kind) in cases {
        let k = key(pem);
        assert_eq!(k.kind(), kind);
        assert_eq!(k.public_key(), spki(der), "{kind}");
        assert_eq!(format!("{k:?}"), format!("PrivateKey({kind})"));
    }
}

#[test]
fn loads_der_and_refuses_garbage() {
    let pem = fixture!("p256.pkcs8.pem");
    let der = x509_parser::pem::Pem::iter_from_buffer(pem)
        .next()
        .expect("one block")
        .expect("parses")
        .contents;
    assert_eq!(
        PrivateKey::from_der(&der).expect("der").kind(),
        "ECDSA P-256"
    );
    assert!(matches!(
        PrivateKey::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(CryptoError::BadKey { .. })
    ));
    assert!(matches!(
        PrivateKey::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(CryptoError::BadKey { .. })
    ));
    assert!(PublicKey::from_spki_der(&[1, 2, 3]).is_err());
}

/// Signatures made by openssl over msg.bin, checked through the method
/// each would arrive with.
#[test]
fn verifies_what_openssl_signed() {
    let method14 = |scheme: SignatureScheme, sig: &[u8]| {
        let algid = scheme.algorithm_identifier();
        [&[algid.len() as u8][..], algid, sig].concat()
    };
    let rsa = spki(fixture!("rsa2048.spki.der"));
    assert_eq!(
        verify_auth(&rsa, 1, fixture!("rsa2048.pkcs1-sha1.sig"), MSG),
        Ok(AuthSignature::Rsa)
    );
    let pss = SignatureScheme::RsaPssSha256;
    assert_eq!(
        verify_auth(
            &rsa,
            14,
            &method14(pss, fixture!("rsa2048.pss-sha256.sig")),
            MSG
        ),
        Ok(AuthSignature::DigitalSignature(pss))
    );
    let p256 = spki(fixture!("p256.spki.der"));
    let ecdsa = SignatureScheme::EcdsaP256Sha256;
    assert_eq!(
        verify_auth(
            &p256,
            14,
            &method14(ecdsa, fixture!("p256.der-sha256.sig")),
            MSG
        ),
        Ok(AuthSignature::DigitalSignature(ecdsa))
    );
    // RFC 7427 pairs any hash with any curve: SHA-512 on P-256, as Libreswan
    // 4.10 signs with a P-256 certificate.
    let sha512 = SignatureScheme::EcdsaP521Sha512;
    assert_eq!(
        verify_auth(
            &p256,
            14,
            &method14(sha512, fixture!("p256.der-sha512.sig")),
            MSG
        ),
        Ok(AuthSignature::DigitalSignature(sha512))
    );
    assert_eq!(
        verify_auth(
            &p256,
            14,
            &method14(ecdsa, fixture!("p256.der-sha512.sig")),
            MSG
        ),
        Err(CryptoError::BadSignature),
        "the hash the AlgorithmIdentifier names is the one checked"
    );
    let p384 = spki(fixture!("p384.spki.der"));
    let ecdsa = SignatureScheme::EcdsaP384Sha384;
    assert_eq!(
        verify_auth(
            &p384,
            14,
            &method14(ecdsa, fixture!("p384.der-sha384.sig")),
            MSG
        ),
        Ok(AuthSignature::DigitalSignature(ecdsa))
    );
    let p521 = spki(fixture!("p521.spki.der"));
    let ecdsa = SignatureScheme::EcdsaP521Sha512;
    assert_eq!(
        verify_auth(
            &p521,
            14,
            &method14(ecdsa, fixture!("p521.der-sha512.sig")),
            MSG
        ),
        Ok(AuthSignature::DigitalSignature(ecdsa))
    );
    let ed = spki(fixture!("ed25519.spki.der"));
    let eds = SignatureScheme::Ed25519;
    assert_eq!(
        verify_auth(&ed, 14, &method14(eds, fixture!("ed25519.sig")), MSG),
        Ok(AuthSignature::DigitalSignature(eds))
    );
    // The same bytes over another message do not verify.
    assert_eq!(
        verify_auth(&ed, 14, &method14(eds, fixture!("ed25519.sig")), b"other"),
        Err(CryptoError::BadSignature)
    );
}

#[test]
fn every_supported_way_signs_and_verifies() {
    use SignatureScheme::*;
    let rsa = key(fixture!("rsa2048.pkcs8.pem"));
    let p256 = key(fixture!("p256.sec1.pem"));
    let p384 = key(fixture!("p384.sec1.pem"));
    let p521 = key(fixture!("p521.sec1.pem"));
    let ed = key(fixture!("ed25519.pkcs8.pem"));
    let cases: [(&PrivateKey, AuthSignature); 14] = [
        (&rsa, AuthSignature::Rsa),
        (&p256, AuthSignature::EcdsaSha256P256),
        (&p384, AuthSignature::EcdsaSha384P384),
        (&p521, AuthSignature::EcdsaSha512P521),
        (&p521, AuthSignature::DigitalSignature(EcdsaP521Sha512)),
        (&rsa, AuthSignature::DigitalSignature(RsaPkcs1Sha256)),
        (&rsa, AuthSignature::DigitalSignature(RsaPkcs1Sha384)),
        (&rsa, AuthSignature::DigitalSignature(RsaPkcs1Sha512)),
        (&rsa, AuthSignature::DigitalSignature(RsaPssSha256)),
        (&rsa, AuthSignature::DigitalSignature(RsaPssSha384)),
        (&rsa, AuthSignature::DigitalSignature(RsaPssSha512)),
        (&p256, AuthSignature::DigitalSignature(EcdsaP256Sha256)),
        (&p384, AuthSignature::DigitalSignature(EcdsaP384Sha384)),
        (&ed, AuthSignature::DigitalSignature(Ed25519)),
    ];
    for (k, how) in cases {
        let data = sign_auth(k, how, MSG).expect("sign");
        let public = k.public_key();
        assert_eq!(
            verify_auth(&public, how.method(), &data, MSG),
            Ok(how),
            "{how}"
        );
        assert_eq!(
            verify_auth(&public, how.method(), &data, b"tampered"),
            Err(CryptoError::BadSignature),
            "{how}"
        );
        if let AuthSignature::DigitalSignature(scheme) = how {
            let algid = scheme.algorithm_identifier();
            assert_eq!(usize::from(data[0]), algid.len());
            assert_eq!(&data[1..=algid.len()], algid);
        }
    }
    // Methods 9/10 carry r | s, fixed length (RFC 4754 §7).
    assert_eq!(
        sign_auth(&p256, AuthSignature::EcdsaSha256P256, MSG)
            .expect("sign")
            .len(),
        64
    );
    assert_eq!(
        sign_auth(&p384, AuthSignature::EcdsaSha384P384, MSG)
            .expect("sign")
            .len(),
        96
    );
    assert_eq!(
        sign_auth(&p521, AuthSignature::EcdsaSha512P521, MSG)
            .expect("sign")
            .len(),
        132
    );
}

/// Method 1 is PKCS#1 v1.5, which is deterministic, so tern's signature
/// must equal the one openssl made independently over the same octets:
///   openssl dgst -sha1 -sign rsa2048.pkcs8.pem -out rsa2048.pkcs1-sha1.sig msg.bin
/// (tests/fixtures/keys/README), from the PKCS#8 and the PKCS#1 form alike.
#[test]
fn rsa_method1_signs_what_openssl_signs() {
    let expected: &[u8] = fixture!("rsa2048.pkcs1-sha1.sig");
    let pems: [&[u8]; 2] = [fixture!("rsa2048.pkcs8.pem"), fixture!("rsa2048.pkcs1.pem")];
    for pem in pems {
        let k = key(pem);
        let data = sign_auth(&k, AuthSignature::Rsa, MSG).expect("method 1 signs");
        assert_eq!(data, expected);
        assert_eq!(
            sign_auth(&k, AuthSignature::Rsa, MSG).expect("signs again"),
            data
        );
        assert_eq!(
            verify_auth(&spki(fixture!("rsa2048.spki.der")), 1, &data, MSG),
            Ok(AuthSignature::Rsa)
        );
    }
}

/// RFC 6979 §A.2.5: P-256, SHA-256, message "sample". Deterministic
/// nonces make ECDSA signing reproducible, so this is a known answer.
#[test]
fn ecdsa_p256_signs_rfc6979_vector() {
    let x = hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
        .expect("hex");
    let k = PrivateKey {
        inner: PrivateInner::P256(p256::ecdsa::SigningKey::from_slice(&x).expect("scalar")),
    };
    let sig = sign_auth(&k, AuthSignature::EcdsaSha256P256, b"sample").expect("sign");
    assert_eq!(
        hex::encode_upper(sig),
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
         F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    );
}

#[test]
fn refusals_say_why() {
    let rsa = key(fixture!("rsa2048.pkcs1.pem"));
    let p256 = key(fixture!("p256.pkcs8.pem"));
    // SHA-1 in method 14: RFC 8247 forbids it (method 1 is SHA-1 and signs).
    assert!(matches!(
        sign_auth(
            &rsa,
            AuthSignature::DigitalSignature(SignatureScheme::RsaPkcs1Sha1),
            MSG
        ),
        Err(CryptoError::Unsupported { .. })
    ));
    // Method 1 is RSA only.
    assert!(matches!(
        sign_auth(&p256, AuthSignature::Rsa, MSG),
        Err(CryptoError::SignatureKeyMismatch { .. })
    ));
    // A key of the wrong type for the method.
    assert!(matches!(
        sign_auth(&p256, AuthSignature::EcdsaSha384P384, MSG),
        Err(CryptoError::SignatureKeyMismatch { .. })
    ));
    let data = sign_auth(&p256, AuthSignature::EcdsaSha256P256, MSG).expect("sign");
    assert!(matches!(
        verify_auth(&rsa.public_key(), 9, &data, MSG),
        Err(CryptoError::SignatureKeyMismatch { .. })
    ));
    assert_eq!(
        verify_auth(&p256.public_key(), 2, &data, MSG),
        Err(CryptoError::UnknownAuthMethod { method: 2 })
    );
    // Method 14 framing: empty, length past the end, unknown algorithm.
    let public = p256.public_key();
    assert_eq!(
        verify_auth(&public, 14, &[], MSG),
        Err(CryptoError::BadSignatureEncoding)
    );
    assert_eq!(
        verify_auth(&public, 14, &[40, 0x30], MSG),
        Err(CryptoError::BadSignatureEncoding)
    );
    assert_eq!(
        verify_auth(&public, 14, &[3, 0x30, 0x01, 0x00, 1, 2], MSG),
        Err(CryptoError::UnknownSignatureAlgorithm)
    );
    // A raw r|s where method 14 expects DER, and vice versa.
    let raw = [
        &[12u8][..],
        SignatureScheme::EcdsaP256Sha256.algorithm_identifier(),
        &data,
    ]
    .concat();
    assert_eq!(
        verify_auth(&public, 14, &raw, MSG),
        Err(CryptoError::BadSignature)
    );
}

#[test]
fn algorithm_identifiers_are_rfc7427_appendix_a() {
    // A.1.2 sha256WithRSAEncryption, A.3.1 ecdsa-with-sha256, RFC 8420 Ed25519.
    assert_eq!(
        hex::encode(SignatureScheme::RsaPkcs1Sha256.algorithm_identifier()),
        "300d06092a864886f70d01010b0500"
    );
    assert_eq!(
        hex::encode(SignatureScheme::EcdsaP256Sha256.algorithm_identifier()),
        "300a06082a8648ce3d040302"
    );
    assert_eq!(
        hex::encode(SignatureScheme::Ed25519.algorithm_identifier()),
        "300506032b6570"
    );
    // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (DER, trailer omitted).
    assert_eq!(
        hex::encode(SignatureScheme::RsaPssSha256.algorithm_identifier()),
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c30\
         1a06092a864886f70d010108300d06096086480165030402010500a203020120"
    );
    // The NULL-less form of sha256WithRSAEncryption is understood too.
    assert_eq!(
        algid::decode(&hex::decode("300b06092a864886f70d01010b").expect("hex")),
        Some(SignatureScheme::RsaPkcs1Sha256)
    );
}

#[test]
fn hash_algorithm_numbers_are_rfc7427_section_4() {
    for (v, h) in [
        (1, SigHash::Sha1),
        (2, SigHash::Sha256),
        (3, SigHash::Sha384),
        (4, SigHash::Sha512),
        (5, SigHash::Identity),
    ] {
        assert_eq!(SigHash::from_u16(v), Some(h));
        assert_eq!(h.to_u16(), v);
    }
    assert_eq!(SigHash::from_u16(0), None);
    assert_eq!(SigHash::from_u16(6), None);
    assert_eq!(SignatureScheme::Ed25519.hash(), SigHash::Identity);
    assert_eq!(SignatureScheme::RsaPssSha384.hash(), SigHash::Sha384);
}
