//! Certificate authentication in IKE_AUTH: CERT and CERTREQ payloads (RFC 7296 §3.6,
//! §3.7) and signature AUTH, as Digital Signature (method 14, RFC 7427) when the
//! peer announced the hash, else with the key type's legacy method (RFC 7296 §3.8).

use std::time::SystemTime;

use tern_crypto::{
    check_peer_id, sign_auth, verify_auth, verify_chain, AuthSignature, CertError, Certificate,
    PeerId, PrivateKey, SigHash,
};
use tern_wire::{
    AuthMethod, AuthPayload, CertEncoding, CertPayload, CertReqPayload, IdType, Identification,
    Payload,
};

use crate::config::{Credential, PubkeyAuth};
use crate::identity;

/// The hashes we accept in method 14 signatures, announced in SIGNATURE_HASH_ALGORITHMS.
/// SHA-1 is left out (RFC 8247 §3.2); Identity is Ed25519's (RFC 8420).
pub(crate) const OUR_SIGNATURE_HASHES: &[SigHash] = &[
    SigHash::Sha256,
    SigHash::Sha384,
    SigHash::Sha512,
    SigHash::Identity,
];

/// CERTREQ naming the CAs we trust by the SHA-1 of their public keys.
pub(crate) fn certreq(auth: &PubkeyAuth) -> Payload {
    Payload::CertReq(CertReqPayload {
        encoding: CertEncoding::X509_SIGNATURE,
        data: auth.cacerts.iter().flat_map(|c| c.spki_sha1()).collect(),
    })
}

/// The CAs the peer asks certificates from: the SHA-1 key hashes of its CERTREQ
/// payloads (RFC 7296 §3.7), of the X.509 signature encoding.
pub(crate) fn requested_cas(received: &[Payload]) -> Vec<[u8; 20]> {
    received
        .iter()
        .filter_map(|p| match p {
            Payload::CertReq(r) if r.encoding == CertEncoding::X509_SIGNATURE => Some(&r.data),
            _ => None,
        })
        .flat_map(|data| data.chunks_exact(20))
        .map(|hash| hash.try_into().expect("chunks of 20"))
        .collect()
}

/// The credential to show: the first under a CA the peer asked for, else the first.
pub(crate) fn choose<'a>(auth: &'a PubkeyAuth, requested: &[[u8; 20]]) -> &'a Credential {
    auth.credentials
        .iter()
        .find(|c| c.ca_key_hashes.iter().any(|h| requested.contains(h)))
        .or(auth.credentials.first())
        .expect("a pubkey connection has a credential")
}

/// Our certificate, then the intermediates that lead to the peer's trust anchor.
pub(crate) fn cert_payloads(ours: &Credential) -> impl Iterator<Item = Payload> + '_ {
    ours.certs.iter().map(|c| {
        Payload::Cert(CertPayload {
            encoding: CertEncoding::X509_SIGNATURE,
            data: c.der().to_vec(),
        })
    })
}

/// Our AUTH payload over `signed_octets`.
pub(crate) fn sign(
    ours: &Credential,
    peer_hashes: &[SigHash],
    signed_octets: &[u8],
) -> Result<AuthPayload, String> {
    let how = choose_signature(&ours.key, peer_hashes)?;
    let data = sign_auth(&ours.key, how, signed_octets)
        .map_err(|e| format!("signing our AUTH payload with {how}: {e}"))?;
    Ok(AuthPayload {
        method: AuthMethod(how.method()),
        data,
    })
}

/// Method 14 with the first scheme whose hash the peer announced, or, when it
/// announced none we can use, the key type's own method.
fn choose_signature(key: &PrivateKey, peer_hashes: &[SigHash]) -> Result<AuthSignature, String> {
    let announced = key
        .digital_signature_schemes()
        .iter()
        .find(|s| peer_hashes.contains(&s.hash()));
    match (announced, key.legacy_signature()) {
        (Some(scheme), _) => Ok(AuthSignature::DigitalSignature(*scheme)),
        (None, Some(legacy)) => Ok(legacy),
        (None, None) => Err(format!(
            "an {} key can only sign with a digital signature (RFC 7427), \
             and the peer did not announce support for it (SIGNATURE_HASH_ALGORITHMS)",
            key.kind()
        )),
    }
}

/// Checks the peer's certificate chain against our CAs at `now`, its ID against the
/// certificate, and its AUTH payload against the certificate's key. Says how the
/// peer proved itself, or which check failed, for the administrator.
pub(crate) fn verify_peer(
    auth: &PubkeyAuth,
    received: &[Payload],
    id: &Identification,
    auth_payload: &AuthPayload,
    signed_octets: &[u8],
    now: SystemTime,
) -> Result<String, String> {
    let peer = identity::describe(id);
    let mut certs = received.iter().filter_map(|p| match p {
        Payload::Cert(c) if c.encoding == CertEncoding::X509_SIGNATURE => {
            Some(Certificate::from_der(&c.data))
        }
        _ => None,
    });
    let untrusted = |e: CertError| format!("certificate of peer '{peer}' not trusted: {e}");
    let end_entity = match certs.next() {
        Some(cert) => cert.map_err(untrusted)?,
        None => {
            return Err(format!(
                "peer '{peer}' sent no X.509 certificate (CERT payload), \
                 and tern has no other way to find its public key"
            ))
        }
    };
    let intermediates = certs.collect::<Result<Vec<_>, _>>().map_err(untrusted)?;
    let key = verify_chain(&end_entity, &intermediates, &auth.cacerts, &auth.crls, now)
        .map_err(untrusted)?;
    let peer_id = peer_id(id).ok_or_else(|| {
        format!(
            "peer '{peer}' uses an ID of type {}, which cannot be matched against its certificate",
            id.id_type
        )
    })?;
    check_peer_id(&end_entity, &peer_id).map_err(|e| format!("peer '{peer}': {e}"))?;
    let how = verify_auth(&key, auth_payload.method.0, &auth_payload.data, signed_octets)
        .map_err(|e| {
            format!(
                "the AUTH payload of peer '{peer}' ({}) does not verify with the key of its certificate \"{}\": {e}",
                auth_payload.method,
                end_entity.subject()
            )
        })?;
    if let AuthSignature::DigitalSignature(scheme) = how {
        if !OUR_SIGNATURE_HASHES.contains(&scheme.hash()) {
            return Err(format!(
                "peer '{peer}' signed with {scheme:?}, whose hash we do not accept"
            ));
        }
    }
    Ok(format!(
        "{how} with certificate \"{}\" ({} intermediate(s) sent)",
        end_entity.subject(),
        intermediates.len()
    ))
}

fn peer_id(id: &Identification) -> Option<PeerId> {
    let text = || String::from_utf8(id.data.clone()).ok();
    Some(match id.id_type {
        IdType::FQDN => PeerId::Fqdn(text()?),
        IdType::RFC822_ADDR => PeerId::Email(text()?),
        IdType::IPV4_ADDR => PeerId::Ip(<[u8; 4]>::try_from(id.data.as_slice()).ok()?.into()),
        IdType::IPV6_ADDR => PeerId::Ip(<[u8; 16]>::try_from(id.data.as_slice()).ok()?.into()),
        IdType::DER_ASN1_DN => PeerId::Dn(id.data.clone()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_crypto::PublicKey;

    macro_rules! fixture {
        ($name:expr) => {
            include_bytes!(concat!("../tests/fixtures/certs/", $name))
        };
    }

    fn auth(cert: &[u8], key: &[u8]) -> PubkeyAuth {
        let certs = Certificate::from_pem(cert).unwrap();
        let cacerts = Certificate::from_pem(fixture!("ca.cert.pem")).unwrap();
        PubkeyAuth {
            credentials: vec![Credential::new(
                certs,
                PrivateKey::from_pem(key).unwrap(),
                &cacerts,
            )],
            cacerts,
            crls: Vec::new(),
        }
    }

    fn signed_with(auth: &PubkeyAuth, peer_hashes: &[SigHash]) -> (AuthMethod, PublicKey) {
        let payload = sign(&auth.credentials[0], peer_hashes, b"signed octets").unwrap();
        let key = auth.credentials[0].certs[0].public_key().unwrap();
        verify_auth(&key, payload.method.0, &payload.data, b"signed octets")
            .expect("verifies with the certificate's key");
        (payload.method, key)
    }

    #[test]
    fn legacy_methods_without_signature_hash_algorithms() {
        let rsa = auth(
            fixture!("moon-rsa2048.cert.pem"),
            fixture!("moon-rsa2048.key.pem"),
        );
        let p256 = auth(
            fixture!("moon-p256.cert.pem"),
            fixture!("moon-p256.key.pem"),
        );
        let p384 = auth(
            fixture!("moon-p384.cert.pem"),
            fixture!("moon-p384.key.pem"),
        );
        assert_eq!(signed_with(&rsa, &[]).0, AuthMethod::RSA_SIG);
        assert_eq!(signed_with(&p256, &[]).0, AuthMethod::ECDSA_SHA256_P256);
        assert_eq!(signed_with(&p384, &[]).0, AuthMethod::ECDSA_SHA384_P384);
        let p521 = auth(
            fixture!("moon-p521.cert.pem"),
            fixture!("moon-p521.key.pem"),
        );
        assert_eq!(signed_with(&p521, &[]).0, AuthMethod::ECDSA_SHA512_P521);
        assert_eq!(
            signed_with(&p521, &[SigHash::Sha512]).0,
            AuthMethod::DIGITAL_SIGNATURE
        );
        let ed = auth(
            fixture!("moon-ed25519.cert.pem"),
            fixture!("moon-ed25519.key.pem"),
        );
        let e = sign(&ed.credentials[0], &[], b"x").unwrap_err();
        assert!(e.contains("SIGNATURE_HASH_ALGORITHMS"), "{e}");
    }

    #[test]
    fn digital_signature_with_a_hash_the_peer_announced() {
        let rsa = auth(
            fixture!("moon-rsa2048.cert.pem"),
            fixture!("moon-rsa2048.key.pem"),
        );
        let ed = auth(
            fixture!("moon-ed25519.cert.pem"),
            fixture!("moon-ed25519.key.pem"),
        );
        let method = AuthMethod::DIGITAL_SIGNATURE;
        assert_eq!(signed_with(&rsa, OUR_SIGNATURE_HASHES).0, method);
        assert_eq!(signed_with(&rsa, &[SigHash::Sha384]).0, method);
        assert_eq!(signed_with(&ed, &[SigHash::Identity]).0, method);
        // A peer that announced only SHA-1 gets the legacy method.
        assert_eq!(signed_with(&rsa, &[SigHash::Sha1]).0, AuthMethod::RSA_SIG);
    }

    #[test]
    fn certreq_lists_the_sha1_of_each_ca_key() {
        let a = auth(
            fixture!("moon-p256.cert.pem"),
            fixture!("moon-p256.key.pem"),
        );
        let Payload::CertReq(req) = certreq(&a) else {
            panic!("not a CERTREQ")
        };
        assert_eq!(req.encoding, CertEncoding::X509_SIGNATURE);
        assert_eq!(req.data, a.cacerts[0].spki_sha1());
    }

    #[test]
    fn the_certificate_shown_is_the_one_under_a_ca_the_peer_asked_for() {
        let ca = Certificate::from_pem(fixture!("ca.cert.pem")).unwrap();
        let ca4096 = Certificate::from_pem(fixture!("ca4096.cert.pem")).unwrap();
        let p256 = Credential::new(
            Certificate::from_pem(fixture!("moon-p256.cert.pem")).unwrap(),
            PrivateKey::from_pem(fixture!("moon-p256.key.pem")).unwrap(),
            &[ca.clone(), ca4096.clone()].concat(),
        );
        let mut chain = Certificate::from_pem(fixture!("moon-rsa4096.cert.pem")).unwrap();
        chain.extend(Certificate::from_pem(fixture!("int4096.cert.pem")).unwrap());
        let rsa = Credential::new(
            chain,
            PrivateKey::from_pem(fixture!("moon-rsa4096.key.pem")).unwrap(),
            &[ca.clone(), ca4096.clone()].concat(),
        );
        // The P-256 certificate is under the P-256 root; the RSA one under its
        // intermediate and, above that, the RSA root.
        assert_eq!(p256.ca_key_hashes, vec![ca[0].spki_sha1()]);
        assert_eq!(rsa.ca_key_hashes.len(), 2);
        assert!(rsa.ca_key_hashes.contains(&ca4096[0].spki_sha1()));
        let auth = PubkeyAuth {
            credentials: vec![p256, rsa],
            cacerts: ca.clone(),
            crls: Vec::new(),
        };
        let certreq = |cas: &[&Certificate]| {
            requested_cas(&[Payload::CertReq(CertReqPayload {
                encoding: CertEncoding::X509_SIGNATURE,
                data: cas.iter().flat_map(|c| c.spki_sha1()).collect(),
            })])
        };
        assert_eq!(
            choose(&auth, &certreq(&[&ca4096[0]])).certs.len(),
            2,
            "the RSA chain, intermediate included"
        );
        assert_eq!(choose(&auth, &certreq(&[&ca[0]])).certs.len(), 1);
        // Asked for nothing we have, or for nothing at all: the first.
        let unknown = [[7u8; 20]];
        assert_eq!(choose(&auth, &unknown).certs.len(), 1);
        assert_eq!(choose(&auth, &[]).certs.len(), 1);
    }
}
