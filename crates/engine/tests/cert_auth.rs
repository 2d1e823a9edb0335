//! Certificate authentication between two engines: each key type in both roles,
//! chains through an intermediate, and the refusals (untrusted CA, wrong ID,
//! expired or revoked certificate), with the reason each side reports.
//!
//! The certificates are in tests/fixtures/certs (made by its make-certs script);
//! the engines' wall clock reads 2027-06-01 unless a test changes it.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use tern_engine::config::{
    AuthConfig, Certificate, Credential, Crl, EngineConfig, Identity, PrivateKey, PubkeyAuth,
};
use tern_engine::Event;
use tern_wire::{ExchangeType, Message, NotifyType, Payload};

macro_rules! fixture {
    ($name:expr) => {
        include_bytes!(concat!("fixtures/certs/", $name))
    };
}

fn certs(pem: &[u8]) -> Vec<Certificate> {
    Certificate::from_pem(pem).expect("fixture certificate parses")
}

fn key(pem: &[u8]) -> PrivateKey {
    PrivateKey::from_pem(pem).expect("fixture key loads")
}

/// A side's certificate (and intermediates), key and trust anchor.
struct Credentials {
    certs: Vec<Certificate>,
    key: PrivateKey,
    cacerts: Vec<Certificate>,
}

fn credentials(host: &str, kind: &str) -> Credentials {
    let ca = certs(fixture!("ca.cert.pem"));
    let (cert, key_pem, cacerts): (&[u8], &[u8], _) = match (host, kind) {
        ("moon", "rsa2048") => (
            fixture!("moon-rsa2048.cert.pem"),
            fixture!("moon-rsa2048.key.pem"),
            ca,
        ),
        ("sun", "rsa2048") => (
            fixture!("sun-rsa2048.cert.pem"),
            fixture!("sun-rsa2048.key.pem"),
            ca,
        ),
        ("moon", "p256") => (
            fixture!("moon-p256.cert.pem"),
            fixture!("moon-p256.key.pem"),
            ca,
        ),
        ("sun", "p256") => (
            fixture!("sun-p256.cert.pem"),
            fixture!("sun-p256.key.pem"),
            ca,
        ),
        ("moon", "p384") => (
            fixture!("moon-p384.cert.pem"),
            fixture!("moon-p384.key.pem"),
            ca,
        ),
        ("sun", "p384") => (
            fixture!("sun-p384.cert.pem"),
            fixture!("sun-p384.key.pem"),
            ca,
        ),
        ("moon", "p521") => (
            fixture!("moon-p521.cert.pem"),
            fixture!("moon-p521.key.pem"),
            ca,
        ),
        ("sun", "p521") => (
            fixture!("sun-p521.cert.pem"),
            fixture!("sun-p521.key.pem"),
            ca,
        ),
        ("moon", "ed25519") => (
            fixture!("moon-ed25519.cert.pem"),
            fixture!("moon-ed25519.key.pem"),
            ca,
        ),
        ("sun", "ed25519") => (
            fixture!("sun-ed25519.cert.pem"),
            fixture!("sun-ed25519.key.pem"),
            ca,
        ),
        ("sun", "rogue") => (
            fixture!("sun-rogue.cert.pem"),
            fixture!("sun-rogue.key.pem"),
            ca,
        ),
        (_, "rsa4096") => {
            let (cert, key): (&[u8], &[u8]) = if host == "moon" {
                (
                    fixture!("moon-rsa4096.cert.pem"),
                    fixture!("moon-rsa4096.key.pem"),
                )
            } else {
                (
                    fixture!("sun-rsa4096.cert.pem"),
                    fixture!("sun-rsa4096.key.pem"),
                )
            };
            // The end entity, then the intermediate it was issued by.
            let mut chain = certs(cert);
            chain.extend(certs(fixture!("int4096.cert.pem")));
            return Credentials {
                certs: chain,
                key: self::key(key),
                cacerts: certs(fixture!("ca4096.cert.pem")),
            };
        }
        other => panic!("no fixture for {other:?}"),
    };
    Credentials {
        certs: certs(cert),
        key: key(key_pem),
        cacerts,
    }
}

/// The demo connection of `local` ("moon" or "sun") with certificates of `kind`.
fn config(local: &str, kind: &str) -> EngineConfig {
    config_checking(local, kind, Vec::new())
}

/// As [`config`], with these revocation lists.
fn config_checking(local: &str, kind: &str, crls: Vec<Crl>) -> EngineConfig {
    let mut config = if local == "moon" {
        moon_config()
    } else {
        sun_config()
    };
    let (me, peer) = if local == "moon" {
        ("moon", "sun")
    } else {
        ("sun", "moon")
    };
    let c = credentials(local, kind);
    let conn = &mut config.connections[0];
    conn.local_id = Identity::Fqdn(format!("{me}.tern.test"));
    conn.remote_id = Some(Identity::Fqdn(format!("{peer}.tern.test")));
    conn.auth = AuthConfig::Pubkey(Arc::new(PubkeyAuth {
        credentials: vec![Credential::new(c.certs, c.key, &c.cacerts)],
        cacerts: c.cacerts,
        crls,
    }));
    config
}

/// `config` with the root's CRL that revokes sun-p256.
fn config_with_crl(local: &str, kind: &str) -> EngineConfig {
    let crls = Crl::from_pem(fixture!("ca-revokes-sun-p256.crl.pem")).unwrap();
    config_checking(local, kind, crls)
}

fn established(node: &Node) -> bool {
    let sas = node.engine.list_sas(std::time::Instant::now());
    sas.len() == 1 && sas[0].state == "ESTABLISHED" && sas[0].children.len() == 1
}

/// Why the node's IKE SA ended: it failed, or (a responder, established once it
/// answered IKE_AUTH) was deleted when the initiator refused it.
fn failure(node: &Node) -> String {
    node.events
        .iter()
        .find_map(|e| match e {
            Event::IkeSaFailed { reason, .. } | Event::IkeSaDeleted { reason, .. } => {
                Some(reason.text.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no IkeSaFailed or IkeSaDeleted event: {:?}", node.events))
}

/// Brings the tunnel up with `kind` certificates on both sides, initiated by moon
/// (A) or by sun (B), and checks both ends.
fn comes_up(kind: &str, moon_initiates: bool) -> Pair {
    let (a, b) = if moon_initiates {
        (config("moon", kind), config("sun", kind))
    } else {
        (config("sun", kind), config("moon", kind))
    };
    let mut pair = Pair::new(a, b);
    if !moon_initiates {
        // A is sun: swap addresses so the fixtures' identities and IPs agree.
        std::mem::swap(&mut pair.a.addr, &mut pair.b.addr);
    }
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(
        established(&pair.a),
        "{kind}: initiator: {:?}",
        pair.a.events
    );
    assert!(
        established(&pair.b),
        "{kind}: responder: {:?}",
        pair.b.events
    );
    let a = &pair.a.engine.list_sas(pair.now)[0];
    let b = &pair.b.engine.list_sas(pair.now)[0];
    let (peer_of_a, peer_of_b) = if moon_initiates {
        ("sun.tern.test", "moon.tern.test")
    } else {
        ("moon.tern.test", "sun.tern.test")
    };
    assert_eq!(a.remote_id, peer_of_a);
    assert_eq!(b.remote_id, peer_of_b);
    pair
}

#[test]
fn rsa_2048_both_roles() {
    comes_up("rsa2048", true);
    comes_up("rsa2048", false);
}

#[test]
fn ecdsa_p256_both_roles() {
    comes_up("p256", true);
    comes_up("p256", false);
}

#[test]
fn ecdsa_p384_both_roles() {
    comes_up("p384", true);
    comes_up("p384", false);
}

#[test]
fn ecdsa_p521_both_roles() {
    comes_up("p521", true);
    comes_up("p521", false);
}

#[test]
fn ed25519_both_roles() {
    comes_up("ed25519", true);
    comes_up("ed25519", false);
}

#[test]
fn rsa_4096_chain_through_an_intermediate_both_roles() {
    comes_up("rsa4096", true);
    comes_up("rsa4096", false);
}

#[test]
fn ike_sa_init_announces_hashes_and_the_responder_requests_certificates() {
    let pair = comes_up("p256", true);
    let init: Vec<Message> = pair
        .wire_log
        .iter()
        .filter_map(|(_, bytes)| Message::parse(bytes).ok())
        .filter(|m| m.header.exchange == ExchangeType::IKE_SA_INIT)
        .collect();
    assert_eq!(init.len(), 2);
    for m in &init {
        let hashes = m.payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.notify_type == NotifyType::SIGNATURE_HASH_ALGORITHMS => {
                Some(n.data.clone())
            }
            _ => None,
        });
        // SHA2-256, SHA2-384, SHA2-512, Identity (RFC 7427 §4, RFC 8420).
        assert_eq!(hashes, Some(vec![0, 2, 0, 3, 0, 4, 0, 5]));
    }
    let certreq = init[1].payloads.iter().find_map(|p| match p {
        Payload::CertReq(c) => Some(c.clone()),
        _ => None,
    });
    let ca = &certs(fixture!("ca.cert.pem"))[0];
    let certreq = certreq.expect("the IKE_SA_INIT response carries CERTREQ");
    assert_eq!(certreq.encoding.0, 4, "X.509 Certificate - Signature");
    assert_eq!(certreq.data, ca.spki_sha1().to_vec());
}

#[test]
fn untrusted_ca_is_refused_by_the_initiator() {
    let mut pair = Pair::new(config("moon", "p256"), config("sun", "rogue"));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let moon = failure(&pair.a);
    assert!(
        moon.contains("certificate of peer 'sun.tern.test' not trusted")
            && moon.contains("rogue root")
            && moon.contains("not a configured CA"),
        "{moon}"
    );
    // Moon told sun (RFC 7296 §2.21.2), and sun says so.
    let sun = failure(&pair.b);
    assert!(sun.contains("AUTHENTICATION_FAILED"), "{sun}");
}

#[test]
fn untrusted_ca_is_refused_by_the_responder() {
    let mut pair = Pair::new(config("sun", "rogue"), config("moon", "p256"));
    std::mem::swap(&mut pair.a.addr, &mut pair.b.addr);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let moon = failure(&pair.b);
    assert!(
        moon.contains("certificate of peer 'sun.tern.test' not trusted"),
        "{moon}"
    );
    let sun = failure(&pair.a);
    assert!(
        sun.contains("the peer rejected our authentication (AUTHENTICATION_FAILED)"),
        "{sun}"
    );
}

#[test]
fn an_id_the_certificate_does_not_name_is_refused() {
    let mut sun = config("sun", "p256");
    sun.connections[0].local_id = Identity::Fqdn("www.tern.test".into());
    let mut moon = config("moon", "p256");
    moon.connections[0].remote_id = Some(Identity::Fqdn("www.tern.test".into()));
    let mut pair = Pair::new(moon, sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let moon = failure(&pair.a);
    assert!(
        moon.contains("peer 'www.tern.test'")
            && moon.contains("matches neither")
            && moon.contains("DNS:sun.tern.test"),
        "{moon}"
    );
    assert!(failure(&pair.b).contains("AUTHENTICATION_FAILED"));
}

#[test]
fn the_peer_id_may_be_its_ip_address_or_subject_dn() {
    let mut sun = config("sun", "p256");
    sun.connections[0].local_id = Identity::Ipv4("192.0.2.2".parse().unwrap());
    let mut moon = config("moon", "p256");
    moon.connections[0].remote_id = None;
    let subject = certs(fixture!("moon-p256.cert.pem"))[0].subject_der();
    moon.connections[0].local_id = Identity::DerDn(subject);
    sun.connections[0].remote_id = None;
    let mut pair = Pair::new(moon, sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a), "{:?}", pair.a.events);
    assert!(established(&pair.b), "{:?}", pair.b.events);
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].remote_id, "192.0.2.2");
}

#[test]
fn an_expired_certificate_is_refused_at_the_engines_time_not_the_hosts() {
    let mut pair = Pair::new(config("moon", "p256"), config("sun", "p256"));
    // Moon's calendar says 2037: sun's certificate (valid to 2036) has expired.
    pair.a
        .set_calendar(pair.now, UNIX_EPOCH + Duration::from_secs(2_114_380_800));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let moon = failure(&pair.a);
    assert!(
        moon.contains("certificate of peer 'sun.tern.test' not trusted")
            && moon.contains("expired at"),
        "{moon}"
    );
    assert!(failure(&pair.b).contains("AUTHENTICATION_FAILED"));
}

#[test]
fn a_psk_peer_is_refused_by_a_certificate_connection() {
    let mut pair = Pair::new(moon_config(), config("sun", "p256"));
    pair.b.engine.handle_timeout(pair.now);
    let mut moon = moon_config();
    moon.connections[0].local_id = Identity::Fqdn("moon.tern.test".into());
    moon.connections[0].remote_id = Some(Identity::Fqdn("sun.tern.test".into()));
    pair.a = Node::new(moon, A_ADDR.parse().unwrap(), 1);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let sun = failure(&pair.b);
    assert!(
        sun.contains("authenticates with a pre-shared key, but this connection uses certificates"),
        "{sun}"
    );
}

#[test]
fn distinguished_names_match_the_subject_whatever_their_case() {
    let dn = |text: &str| Identity::DerDn(tern_crypto::dn_from_text(text).unwrap());
    let mut sun = config("sun", "p256");
    sun.connections[0].local_id = dn("o=TERN TESTS, cn=Sun.Tern.Test");
    let mut moon = config("moon", "p256");
    moon.connections[0].remote_id = Some(dn("O=tern tests, CN=sun.tern.test"));
    let mut pair = Pair::new(moon, sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a), "{:?}", pair.a.events);
    assert!(established(&pair.b), "{:?}", pair.b.events);
    assert_eq!(
        pair.a.engine.list_sas(pair.now)[0].remote_id,
        "O=TERN TESTS, CN=Sun.Tern.Test"
    );

    // A DN the certificate's subject is not.
    let mut sun = config("sun", "p256");
    sun.connections[0].local_id = dn("O=tern tests, CN=www.tern.test");
    let mut moon = config("moon", "p256");
    moon.connections[0].remote_id = None;
    let mut pair = Pair::new(moon, sun);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a));
    let moon = failure(&pair.a);
    assert!(
        moon.contains("DN \"O=tern tests, CN=www.tern.test\"") && moon.contains("matches neither"),
        "{moon}"
    );
}

#[test]
fn a_revoked_certificate_is_refused_in_both_roles() {
    // Moon holds the root's CRL, which revokes sun's P-256 certificate.
    let mut pair = Pair::new(config_with_crl("moon", "p256"), config("sun", "p256"));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    let moon = failure(&pair.a);
    assert!(
        moon.contains("CN=sun.tern.test")
            && moon.contains("was revoked by")
            && moon.contains("25:58:ba:45"),
        "{moon}"
    );
    assert!(failure(&pair.b).contains("AUTHENTICATION_FAILED"));

    let mut pair = Pair::new(config("sun", "p256"), config_with_crl("moon", "p256"));
    std::mem::swap(&mut pair.a.addr, &mut pair.b.addr);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(!established(&pair.a) && !established(&pair.b));
    assert!(
        failure(&pair.b).contains("was revoked by"),
        "{}",
        failure(&pair.b)
    );

    // The CRL names only sun-p256: sun's RSA certificate from the same root passes.
    let mut pair = Pair::new(config_with_crl("moon", "rsa2048"), config("sun", "rsa2048"));
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(
        established(&pair.a) && established(&pair.b),
        "{:?}",
        pair.a.events
    );
}

/// Moon holds a P-256 certificate (P-256 root) and an RSA-4096 one (RSA root, through
/// an intermediate), in this order or the other, and trusts both roots.
fn moon_with_two_certificates(rsa_first: bool) -> EngineConfig {
    let (p256, rsa) = (credentials("moon", "p256"), credentials("moon", "rsa4096"));
    let cacerts = [p256.cacerts, rsa.cacerts].concat();
    let mut credentials = vec![
        Credential::new(p256.certs, p256.key, &cacerts),
        Credential::new(rsa.certs, rsa.key, &cacerts),
    ];
    if rsa_first {
        credentials.reverse();
    }
    let mut config = config("moon", "p256");
    config.connections[0].auth = AuthConfig::Pubkey(Arc::new(PubkeyAuth {
        credentials,
        cacerts,
        crls: Vec::new(),
    }));
    config
}

#[test]
fn the_certificate_shown_is_the_one_the_peers_certreq_asks_for() {
    // Sun trusts one root only and says so in its CERTREQ; moon's other certificate,
    // listed first, would be refused.
    for (sun_kind, rsa_first) in [("rsa4096", false), ("p256", true)] {
        for moon_initiates in [true, false] {
            let (moon, sun) = (
                moon_with_two_certificates(rsa_first),
                config("sun", sun_kind),
            );
            let mut pair = if moon_initiates {
                Pair::new(moon, sun)
            } else {
                let mut pair = Pair::new(sun, moon);
                std::mem::swap(&mut pair.a.addr, &mut pair.b.addr);
                pair
            };
            pair.initiate_from_a("demo");
            pair.deliver();
            assert!(
                established(&pair.a) && established(&pair.b),
                "sun trusting only the {sun_kind} root, moon initiating: {moon_initiates}: {:?} {:?}",
                pair.a.events,
                pair.b.events
            );
        }
    }
}

/// A gateway (sun) that proves itself with its certificate, as Windows and RFC
/// 7296 §2.16 expect, to a client (moon) that logs in with EAP-MSCHAPv2 and
/// checks that certificate against its CA.
#[test]
fn a_gateway_with_a_certificate_lets_an_eap_client_in() {
    use tern_engine::config::{EapLogin, EapUsers, RemoteAuth};
    let mut client = config("moon", "p256");
    client.emulate.eap_login = Some(EapLogin {
        user: "carol",
        password: "Ar3etTnp",
    });
    let mut gateway = config("sun", "p256");
    let mut users = EapUsers::default();
    users.add("carol", "Ar3etTnp");
    gateway.connections[0].remote_auth = RemoteAuth::EapMschapv2(Arc::new(users));
    let mut pair = Pair::new(client, gateway);
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(established(&pair.a), "client: {:?}", pair.a.events);
    assert!(established(&pair.b), "gateway: {:?}", pair.b.events);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b[0].remote_id, "carol");
    let a = pair.a.engine.list_sas(pair.now);
    assert_eq!(a[0].remote_id, "sun.tern.test");
    assert_eq!(pair.a.kernel().sas, pair.b.kernel().sas);
}
