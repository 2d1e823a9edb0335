//! Chains made at test time with rcgen.

use std::net::Ipv4Addr;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

use super::*;
use crate::{sign_auth, verify_auth, AuthSignature, PrivateKey};

/// 2026-06-01T00:00:00Z: inside every validity period below unless a test
/// says otherwise.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_780_272_000)
}

struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Issued {
    fn ours(&self) -> Certificate {
        Certificate::from_der(self.cert.der()).expect("rcgen makes valid DER")
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "tern tests");
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2027, 1, 1);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn self_signed(p: CertificateParams) -> Issued {
    let key = KeyPair::generate().expect("key");
    Issued {
        cert: p.self_signed(&key).expect("sign"),
        key,
    }
}

fn issue(p: CertificateParams, by: &Issued) -> Issued {
    let key = KeyPair::generate().expect("key");
    Issued {
        cert: p.signed_by(&key, &by.cert, &by.key).expect("sign"),
        key,
    }
}

fn leaf_params() -> CertificateParams {
    let mut p = params("moon.tern.test");
    p.subject_alt_names = vec![
        SanType::DnsName("moon.tern.test".try_into().expect("ia5")),
        SanType::Rfc822Name("admin@tern.test".try_into().expect("ia5")),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
    ];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p
}

#[test]
fn valid_chain_through_an_intermediate_and_auth_with_its_key() {
    let root = self_signed(ca_params("tern root CA"));
    let sub = issue(ca_params("tern sub CA"), &root);
    let leaf = issue(leaf_params(), &sub);
    let key = verify_chain(&leaf.ours(), &[sub.ours()], &[root.ours()], &[], now()).expect("valid");

    // The key the chain vouches for verifies what the leaf's private key signs.
    let private = PrivateKey::from_pem(leaf.key.serialize_pem().as_bytes()).expect("key");
    let how = AuthSignature::DigitalSignature(crate::SignatureScheme::EcdsaP256Sha256);
    let auth = sign_auth(&private, how, b"octets").expect("sign");
    assert_eq!(verify_auth(&key, 14, &auth, b"octets"), Ok(how));

    // Directly under the root, no intermediate.
    let direct = issue(leaf_params(), &root);
    assert!(verify_chain(&direct.ours(), &[], &[root.ours()], &[], now()).is_ok());
}

#[test]
fn expired_and_not_yet_valid() {
    let root = self_signed(ca_params("tern root CA"));
    let leaf = issue(leaf_params(), &root);
    let later = UNIX_EPOCH + Duration::from_secs(1_830_000_000); // 2027-12
    let err = verify_chain(&leaf.ours(), &[], &[root.ours()], &[], later).expect_err("expired");
    assert!(matches!(err, CertError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("moon.tern.test") && err.to_string().contains("expired"));

    let earlier = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11
    let err = verify_chain(&leaf.ours(), &[], &[root.ours()], &[], earlier).expect_err("early");
    assert!(matches!(err, CertError::NotYetValid { .. }), "{err}");
    assert!(err.to_string().contains("not valid until"), "{err}");

    // An expired intermediate fails the chain too.
    let mut sub_params = ca_params("old sub CA");
    sub_params.not_after = date_time_ymd(2026, 1, 1);
    let sub = issue(sub_params, &root);
    let leaf = issue(leaf_params(), &sub);
    let err =
        verify_chain(&leaf.ours(), &[sub.ours()], &[root.ours()], &[], now()).expect_err("old");
    assert!(
        matches!(&err, CertError::Expired { subject, .. } if subject.contains("old sub CA")),
        "{err}"
    );
}

#[test]
fn wrong_ca() {
    let root = self_signed(ca_params("tern root CA"));
    let other = self_signed(ca_params("someone else's CA"));
    let leaf = issue(leaf_params(), &root);
    let err = verify_chain(&leaf.ours(), &[], &[other.ours()], &[], now()).expect_err("unknown");
    assert!(matches!(err, CertError::UnknownIssuer { .. }), "{err}");
    assert!(err.to_string().contains("not a configured CA"), "{err}");

    // Same name as the real CA, different key: the signature gives it away.
    let impostor = self_signed(ca_params("tern root CA"));
    let err = verify_chain(&leaf.ours(), &[], &[impostor.ours()], &[], now()).expect_err("forged");
    assert!(matches!(err, CertError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn issuer_without_the_ca_flag_or_key_cert_sign() {
    let root = self_signed(ca_params("tern root CA"));
    let mut not_ca = params("not a CA");
    not_ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let not_ca = issue(not_ca, &root);
    let leaf = issue(leaf_params(), &not_ca);
    let err = verify_chain(&leaf.ours(), &[not_ca.ours()], &[root.ours()], &[], now())
        .expect_err("not a CA");
    assert!(
        matches!(&err, CertError::NotACa { subject } if subject.contains("not a CA")),
        "{err}"
    );
    assert!(err.to_string().contains("CA flag missing"), "{err}");

    let mut no_sign = ca_params("CA without keyCertSign");
    no_sign.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let no_sign = issue(no_sign, &root);
    let leaf = issue(leaf_params(), &no_sign);
    let err = verify_chain(&leaf.ours(), &[no_sign.ours()], &[root.ours()], &[], now())
        .expect_err("no keyCertSign");
    assert!(matches!(err, CertError::NoKeyCertSign { .. }), "{err}");
}

#[test]
fn path_length_and_end_entity_key_usage() {
    let mut root_params = ca_params("tern root CA");
    root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let root = self_signed(root_params);
    let sub = issue(ca_params("tern sub CA"), &root);
    let leaf = issue(leaf_params(), &sub);
    let err = verify_chain(&leaf.ours(), &[sub.ours()], &[root.ours()], &[], now())
        .expect_err("path too long");
    assert!(
        matches!(
            err,
            CertError::PathTooLong {
                max: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );

    let mut p = leaf_params();
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let leaf = issue(p, &root);
    let err = verify_chain(&leaf.ours(), &[], &[root.ours()], &[], now()).expect_err("usage");
    assert!(matches!(err, CertError::NoDigitalSignature { .. }), "{err}");
}

#[test]
fn peer_id_matches_subject_and_alt_names() {
    let root = self_signed(ca_params("tern root CA"));
    let leaf = issue(leaf_params(), &root).ours();
    let ok = [
        PeerId::Fqdn("moon.tern.test".into()),
        PeerId::Fqdn("MOON.tern.TEST".into()),
        PeerId::Email("admin@tern.test".into()),
        PeerId::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
    ];
    for id in ok {
        assert_eq!(check_peer_id(&leaf, &id), Ok(()), "{id}");
    }
    let subject_der = leaf.parsed().subject().as_raw().to_vec();
    assert_eq!(check_peer_id(&leaf, &PeerId::Dn(subject_der)), Ok(()));
}

#[test]
fn wrong_id_says_what_the_certificate_holds() {
    let root = self_signed(ca_params("tern root CA"));
    let leaf = issue(leaf_params(), &root).ours();
    let other_dn = issue(params("sun.tern.test"), &root).ours();
    let other_dn = other_dn.parsed().subject().as_raw().to_vec();
    for id in [
        PeerId::Fqdn("sun.tern.test".into()),
        PeerId::Email("root@tern.test".into()),
        PeerId::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))),
        PeerId::Dn(other_dn),
    ] {
        let err = check_peer_id(&leaf, &id).expect_err("mismatch");
        let text = err.to_string();
        assert!(matches!(err, CertError::IdMismatch { .. }), "{text}");
        assert!(text.contains("DNS:moon.tern.test"), "{text}");
        assert!(text.contains("IP:192.0.2.1"), "{text}");
        assert!(text.contains("CN=moon.tern.test"), "{text}");
    }
}

#[test]
fn pem_and_der_parsing() {
    let root = self_signed(ca_params("tern root CA"));
    let leaf = issue(leaf_params(), &root);
    let bundle = format!("{}{}", leaf.cert.pem(), root.cert.pem());
    let certs = Certificate::from_pem(bundle.as_bytes()).expect("two certs");
    assert_eq!(certs.len(), 2);
    assert!(certs[0].subject().contains("moon.tern.test"));
    assert_eq!(
        format!("{:?}", certs[1]),
        format!("Certificate({})", certs[1].subject())
    );

    let mut trailing = leaf.cert.der().to_vec();
    trailing.push(0);
    assert!(matches!(
        Certificate::from_der(&trailing),
        Err(CertError::Malformed { .. })
    ));
    assert!(matches!(
        Certificate::from_der(&[0x30, 0x00]),
        Err(CertError::Malformed { .. })
    ));
    assert!(Certificate::from_pem(b"nothing here").is_err());
}

#[test]
fn ca_key_hash_is_sha1_of_the_subject_public_key_info() {
    use sha1::Digest;
    let ca = self_signed(ca_params("tern test CA"));
    let ours = ca.ours();
    let spki = ca.key.public_key_der();
    let want: [u8; 20] = sha1::Sha1::digest(&spki).into();
    assert_eq!(ours.spki_sha1(), want);
    let parsed = X509Certificate::from_der(ours.der()).unwrap().1;
    assert_eq!(ours.subject_der(), parsed.subject().as_raw());
}

/// A CRL from `ca` that revokes the certificates with these serial numbers.
fn crl(ca: &Issued, serials: &[u64]) -> Crl {
    Crl::from_der(rcgen_crl(ca, serials).der()).expect("rcgen makes valid DER")
}

fn rcgen_crl(ca: &Issued, serials: &[u64]) -> rcgen::CertificateRevocationList {
    let params = rcgen::CertificateRevocationListParams {
        this_update: date_time_ymd(2026, 1, 1),
        next_update: date_time_ymd(2026, 2, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|&s| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(s),
                revocation_time: date_time_ymd(2026, 1, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    params.signed_by(&ca.cert, &ca.key).expect("CRL")
}

fn with_serial(cn: &str, serial: u64) -> CertificateParams {
    let mut p = params(cn);
    p.serial_number = Some(rcgen::SerialNumber::from(serial));
    p
}

#[test]
fn a_revoked_certificate_is_refused_with_its_serial_and_date() {
    let root = self_signed(ca_params("Root"));
    let leaf = issue(with_serial("moon", 42), &root);
    let other = issue(with_serial("sun", 43), &root);
    let crls = [crl(&root, &[7, 42])];
    let err = verify_chain(&leaf.ours(), &[], &[root.ours()], &crls, now()).expect_err("revoked");
    assert!(matches!(err, CertError::Revoked { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("CN=moon") && text.contains("2a"), "{text}");
    assert!(text.contains("Jan  1") || text.contains("2026"), "{text}");
    // The CRL is past its nextUpdate (February) and still counts; others pass.
    verify_chain(&other.ours(), &[], &[root.ours()], &crls, now()).expect("not revoked");
}

#[test]
fn a_revoked_intermediate_takes_its_leaves_with_it() {
    let root = self_signed(ca_params("Root"));
    let mut sub_params = ca_params("Sub");
    sub_params.serial_number = Some(rcgen::SerialNumber::from(5u64));
    let sub = issue(sub_params, &root);
    let leaf = issue(with_serial("moon", 42), &sub);
    let err = verify_chain(
        &leaf.ours(),
        &[sub.ours()],
        &[root.ours()],
        &[crl(&root, &[5])],
        now(),
    )
    .expect_err("revoked intermediate");
    assert!(err.to_string().contains("CN=Sub"), "{err}");
    // The Sub CA's own CRL revokes the leaf.
    let err = verify_chain(
        &leaf.ours(),
        &[sub.ours()],
        &[root.ours()],
        &[crl(&sub, &[42])],
        now(),
    )
    .expect_err("revoked leaf");
    assert!(err.to_string().contains("CN=moon"), "{err}");
}

#[test]
fn a_crl_counts_only_for_the_ca_that_signed_it() {
    let root = self_signed(ca_params("Root"));
    let leaf = issue(with_serial("moon", 42), &root);
    // Same name, other key: an impostor's CRL revokes nothing.
    let impostor = self_signed(ca_params("Root"));
    let other_ca = self_signed(ca_params("Other"));
    let crls = [crl(&impostor, &[42]), crl(&other_ca, &[42])];
    verify_chain(&leaf.ours(), &[], &[root.ours()], &crls, now()).expect("not revoked by its CA");
}

#[test]
fn crls_load_from_pem_and_refuse_garbage() {
    let root = self_signed(ca_params("Root"));
    let list = rcgen_crl(&root, &[1, 2, 3]);
    let loaded = Crl::from_pem(list.pem().expect("PEM").as_bytes()).expect("PEM");
    assert_eq!(loaded, vec![Crl::from_der(list.der()).unwrap()]);
    assert_eq!(loaded[0].revoked_count(), 3);
    assert!(loaded[0].issuer().contains("CN=Root"));
    assert!(Crl::from_der(&list.der()[..list.der().len() - 1]).is_err());
    assert!(Crl::from_pem(b"no PEM here").is_err());
}
