//! `auth = "pubkey"`: certificate, key and CA files, and the errors each mistake gets.
//! The files are the engine tests' PKI (crates/engine/tests/fixtures/certs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tern_config::load_file;
use tern_engine::config::AuthConfig;

/// A directory holding copies of the fixture files and a ternd.toml, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str, files: &[&str]) -> Dir {
        let dir = std::env::temp_dir().join(format!("tern-pubkey-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/certs");
        for f in files {
            std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
            let mode = if f.contains(".key.") { 0o600 } else { 0o644 };
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Dir(dir)
    }

    fn config(&self, auth_lines: &str) -> PathBuf {
        let path = self.0.join("ternd.toml");
        let text = format!(
            "[connections.c]\nlocal_id = \"moon.tern.test\"\nremote_addrs = [\"192.0.2.2\"]\n{auth_lines}"
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const FILES: &[&str] = &[
    "moon-p256.cert.pem",
    "moon-p256.key.pem",
    "ca.cert.pem",
    "sun-p256.key.pem",
    "moon-rsa4096.cert.pem",
    "moon-rsa4096.key.pem",
    "int4096.cert.pem",
    "ca4096.cert.pem",
    "ca-revokes-sun-p256.crl.pem",
    "moon-rsa2048.cert.pem",
    "moon-rsa2048.key.pem",
];

const GOOD: &str = "auth = \"pubkey\"\ncert = \"moon-p256.cert.pem\"\nkey = \"moon-p256.key.pem\"\ncacerts = [\"ca.cert.pem\"]\n";

#[test]
fn certificate_key_and_cas_load() {
    let dir = Dir::new("good", FILES);
    let config = load_file(&dir.config(GOOD)).unwrap();
    let AuthConfig::Pubkey(auth) = &config.engine.connections[0].auth else {
        panic!("not pubkey auth")
    };
    assert_eq!(auth.credentials.len(), 1);
    let ours = &auth.credentials[0];
    assert_eq!(ours.certs.len(), 1);
    assert!(ours.certs[0].subject().contains("CN=moon.tern.test"));
    assert_eq!(ours.key.kind(), "ECDSA P-256");
    assert_eq!(auth.cacerts.len(), 1);
    assert!(auth.cacerts[0].subject().contains("tern test root"));
    // The description ternctl shows names the method, never the key.
    assert_eq!(
        tern_config::conn_info(&config.engine.connections[0]).auth,
        "pubkey"
    );
}

#[test]
fn a_chain_file_and_der_certificates() {
    let dir = Dir::new("chain", FILES);
    // Our certificate followed by its intermediate, in one PEM file.
    let mut chain = std::fs::read(dir.0.join("moon-rsa4096.cert.pem")).unwrap();
    chain.extend(std::fs::read(dir.0.join("int4096.cert.pem")).unwrap());
    std::fs::write(dir.0.join("chain.pem"), chain).unwrap();
    // The CA as DER.
    let ca = tern_engine::config::Certificate::from_pem(
        &std::fs::read(dir.0.join("ca4096.cert.pem")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.0.join("ca.der"), ca[0].der()).unwrap();
    let config = load_file(&dir.config(
        "auth = \"pubkey\"\ncert = \"chain.pem\"\nkey = \"moon-rsa4096.key.pem\"\ncacerts = [\"ca.der\"]\n",
    ))
    .unwrap();
    let AuthConfig::Pubkey(auth) = &config.engine.connections[0].auth else {
        panic!("not pubkey auth")
    };
    let ours = &auth.credentials[0];
    assert_eq!(ours.certs.len(), 2);
    assert!(ours.certs[1].subject().contains("intermediate"));
    assert_eq!(auth.cacerts, ca);
}

#[test]
fn a_world_readable_key_is_refused_with_its_position() {
    let dir = Dir::new("mode", FILES);
    let config = dir.config(GOOD);
    let key = dir.0.join("moon-p256.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (6, 7), "{e}");
    assert!(
        e.message.contains("readable by every user (mode 0644)"),
        "{e}"
    );
    assert!(e.message.contains("chmod o-r"), "{e}");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let dir = Dir::new("mismatch", FILES);
    let e =
        load_file(&dir.config(&GOOD.replace("moon-p256.key.pem", "sun-p256.key.pem"))).unwrap_err();
    assert_eq!((e.line, e.column), (6, 7), "{e}");
    assert!(
        e.message.contains("is not the private key of certificate"),
        "{e}"
    );
}

#[test]
fn missing_and_unreadable_files() {
    let dir = Dir::new("missing", FILES);
    let e =
        load_file(&dir.config(
            "auth = \"pubkey\"\ncert = \"moon-p256.cert.pem\"\nkey = \"moon-p256.key.pem\"\n",
        ))
        .unwrap_err();
    assert!(e.message.contains("missing key `cacerts`"), "{e}");
    let e = load_file(&dir.config(&GOOD.replace("ca.cert.pem", "nope.pem"))).unwrap_err();
    assert_eq!((e.line, e.column), (7, 12), "{e}");
    assert!(e.message.contains("cannot read cacerts"), "{e}");
    // A key where a certificate belongs.
    let e = load_file(&dir.config(&GOOD.replace("moon-p256.cert.pem", "moon-p256.key.pem")))
        .unwrap_err();
    assert_eq!((e.line, e.column), (5, 8), "{e}");
    assert!(e.message.contains("no CERTIFICATE block"), "{e}");
}

#[test]
fn psk_keys_and_pubkey_keys_do_not_mix() {
    let dir = Dir::new("mix", FILES);
    let e = load_file(&dir.config(&format!("{GOOD}psk = \"x\"\n"))).unwrap_err();
    assert!(
        e.message
            .contains("`psk` has no use with auth = \"pubkey\""),
        "{e}"
    );
    let e = load_file(&dir.config("auth = \"psk\"\npsk = \"x\"\ncert = \"a.pem\"\n")).unwrap_err();
    assert!(
        e.message.contains("`cert` has no use with auth = \"psk\""),
        "{e}"
    );
    let e = load_file(&dir.config("auth = \"rsa\"\n")).unwrap_err();
    assert!(e.message.contains("tern supports: psk, pubkey"), "{e}");
}

#[test]
fn fragmentation_settings() {
    let config = tern_config::parse_str(
        "[fragmentation]\nenabled = false\nsize_ipv4 = 1400\n",
        "test.toml",
    )
    .unwrap();
    let f = &config.engine.fragmentation;
    assert!(!f.enabled);
    assert_eq!((f.size_v4, f.size_v6), (1400, 1280));
    let e = tern_config::parse_str("[fragmentation]\nsize_ipv6 = 576\n", "test.toml").unwrap_err();
    assert_eq!((e.line, e.column), (2, 13), "{e}");
    assert!(e.message.contains("1280"), "{e}");
    let e = tern_config::parse_str("[fragmentation]\nenabled = 1\n", "test.toml").unwrap_err();
    assert!(e.message.contains("true or false"), "{e}");
    let defaults = tern_config::default_config().unwrap();
    assert_eq!(defaults.engine.fragmentation, Default::default());
}

#[test]
fn local_id_must_be_named_by_the_certificate() {
    let dir = Dir::new("localid", FILES);
    let path = dir.config(GOOD);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("moon.tern.test", "www.tern.test");
    std::fs::write(&path, text).unwrap();
    let e = load_file(&path).unwrap_err();
    assert_eq!((e.line, e.column), (2, 12), "{e}");
    assert!(
        e.message.contains("local_id does not fit our certificate"),
        "{e}"
    );
    assert!(e.message.contains("DNS:moon.tern.test"), "{e}");
    // The IP address and email the certificate holds are fine.
    for id in ["192.0.2.1", "admin@moon.tern.test"] {
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace("www.tern.test", id);
        std::fs::write(&path, &text).unwrap();
        load_file(&path).unwrap_or_else(|e| panic!("{id}: {e}"));
        std::fs::write(&path, text.replace(id, "www.tern.test")).unwrap();
    }
}

#[test]
fn crls_load_and_a_bad_one_is_named_with_its_position() {
    let dir = Dir::new("crls", FILES);
    let config =
        load_file(&dir.config(&format!("{GOOD}crls = [\"ca-revokes-sun-p256.crl.pem\"]\n")))
            .unwrap();
    let AuthConfig::Pubkey(auth) = &config.engine.connections[0].auth else {
        panic!("not pubkey auth")
    };
    assert_eq!(auth.crls.len(), 1);
    assert_eq!(auth.crls[0].revoked_count(), 1);
    assert!(auth.crls[0].issuer().contains("tern test root"));

    // A certificate where a CRL should be: refused, at the file name.
    let e = load_file(&dir.config(&format!("{GOOD}crls = [\"ca.cert.pem\"]\n"))).unwrap_err();
    assert_eq!((e.line, e.column), (8, 9), "{e}");
    assert!(e.message.contains("no X509 CRL block"), "{e}");
    let e = load_file(&dir.config(&format!("{GOOD}crls = [\"missing.crl\"]\n"))).unwrap_err();
    assert!(e.message.contains("cannot read crls"), "{e}");
}

#[test]
fn several_certificates_each_with_its_key_in_any_order() {
    let dir = Dir::new("several", FILES);
    // The RSA certificate followed by its intermediate.
    let mut chain = std::fs::read(dir.0.join("moon-rsa4096.cert.pem")).unwrap();
    chain.extend(std::fs::read(dir.0.join("int4096.cert.pem")).unwrap());
    std::fs::write(dir.0.join("rsa-chain.pem"), chain).unwrap();
    let config = load_file(&dir.config(
        "auth = \"pubkey\"\ncert = [\"moon-p256.cert.pem\", \"rsa-chain.pem\"]\n\
         key = [\"moon-rsa4096.key.pem\", \"moon-p256.key.pem\"]\n\
         cacerts = [\"ca.cert.pem\", \"ca4096.cert.pem\"]\n",
    ))
    .unwrap();
    let AuthConfig::Pubkey(auth) = &config.engine.connections[0].auth else {
        panic!("not pubkey auth")
    };
    let kinds: Vec<_> = auth.credentials.iter().map(|c| c.key.kind()).collect();
    assert_eq!(kinds[0], "ECDSA P-256", "in the order of `cert`");
    assert!(kinds[1].starts_with("RSA"), "{kinds:?}");
    // How a CERTREQ names each one's CAs: the P-256 root; the intermediate and
    // the RSA root above it.
    let ca = |name: &str| {
        tern_engine::config::Certificate::from_pem(&std::fs::read(dir.0.join(name)).unwrap())
            .unwrap()[0]
            .spki_sha1()
    };
    assert_eq!(auth.credentials[0].ca_key_hashes, vec![ca("ca.cert.pem")]);
    assert_eq!(
        auth.credentials[1].ca_key_hashes,
        vec![ca("int4096.cert.pem"), ca("ca4096.cert.pem")]
    );

    // A certificate without its key, and a key without its certificate.
    let e = load_file(&dir.config(
        "auth = \"pubkey\"\ncert = [\"moon-p256.cert.pem\", \"moon-rsa2048.cert.pem\"]\n\
         key = [\"moon-p256.key.pem\"]\ncacerts = [\"ca.cert.pem\"]\n",
    ))
    .unwrap_err();
    assert!(
        e.message
            .contains("no file in `key` holds the private key of certificate"),
        "{e}"
    );
    assert!(e.message.contains("moon-rsa2048.cert.pem"), "{e}");
    assert_eq!(e.line, 5, "{e}");
    let e = load_file(&dir.config(
        "auth = \"pubkey\"\ncert = \"moon-p256.cert.pem\"\n\
         key = [\"moon-p256.key.pem\", \"moon-rsa2048.key.pem\"]\ncacerts = [\"ca.cert.pem\"]\n",
    ))
    .unwrap_err();
    assert!(
        e.message.contains("belongs to no certificate in `cert`"),
        "{e}"
    );
    assert_eq!(e.line, 6, "{e}");
}
