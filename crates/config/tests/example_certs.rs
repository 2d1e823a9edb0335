//! conf/examples/site-to-site-certs-{west,east}.toml, as written: with a PKI made
//! here (rcgen) at the paths they name, both load, and two engines given them bring
//! the tunnel up, each having checked the other's certificate.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tern_config::load_file;
use tern_engine::{Command, Engine, Environment, Event};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// /etc/tern as the example expects it: the configuration, certs/ and private/.
fn install(dir: &Path, side: &str, ca: &rcgen::Certificate, ca_key: &KeyPair) {
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::create_dir_all(dir.join("private")).unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/examples");
    std::fs::copy(
        examples.join(format!("site-to-site-certs-{side}.toml")),
        dir.join("ternd.toml"),
    )
    .unwrap();
    let mut p = CertificateParams::new(vec![format!("{side}.example.org")]).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, format!("{side}.example.org"));
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    std::fs::write(dir.join(format!("certs/{side}.cert.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join("certs/ca.cert.pem"), ca.pem()).unwrap();
    let key_file = dir.join(format!("private/{side}.key.pem"));
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The engine's world, reduced to what a handshake needs.
struct Env(u64);

impl Environment for Env {
    fn random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.0 >> 56) as u8;
        }
    }
    fn local_address_for(&mut self, _: IpAddr) -> Option<IpAddr> {
        None
    }
    fn wall_clock(&mut self, _: Instant) -> SystemTime {
        SystemTime::now()
    }
}

#[test]
fn the_certificate_example_loads_and_comes_up() {
    let root = std::env::temp_dir().join(format!("tern-example-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let _cleanup = Dir(root.clone());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "example.org CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    install(&root.join("west"), "west", &ca, &ca_key);
    install(&root.join("east"), "east", &ca, &ca_key);

    let west = load_file(&root.join("west/ternd.toml")).unwrap_or_else(|e| panic!("{e}"));
    let east = load_file(&root.join("east/ternd.toml")).unwrap_or_else(|e| panic!("{e}"));
    let west_addr: SocketAddr = "198.51.100.10:500".parse().unwrap();
    let east_addr: SocketAddr = "203.0.113.20:500".parse().unwrap();
    let mut w = Engine::new(west.engine, Box::new(Env(1)));
    let mut e = Engine::new(east.engine, Box::new(Env(2)));
    let now = Instant::now();
    w.handle_command(
        now,
        Command::Initiate {
            connection: "east".into(),
        },
    )
    .unwrap();
    for _ in 0..20 {
        while let Some(t) = w.poll_transmit() {
            e.handle_datagram(now, east_addr, west_addr, &t.payload);
        }
        while let Some(t) = e.poll_transmit() {
            w.handle_datagram(now, west_addr, east_addr, &t.payload);
        }
    }
    for (engine, peer) in [(&w, "east.example.org"), (&e, "west.example.org")] {
        let sas = engine.list_sas(now);
        assert_eq!(sas.len(), 1, "{peer}");
        assert_eq!(sas[0].state, "ESTABLISHED");
        assert_eq!(sas[0].remote_id, peer);
        assert_eq!(sas[0].children.len(), 1);
    }
    let events: Vec<Event> = std::iter::from_fn(|| w.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ChildSaInstalled { child, .. } if child == "lan")),
        "{events:?}"
    );
}
