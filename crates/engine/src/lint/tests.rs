use super::*;
use crate::config::{AuthConfig, Encryption, Identity, StartAction};

fn lifetime(rekey: u64, life: u64) -> Lifetime {
    Lifetime {
        rekey_time: Duration::from_secs(rekey),
        life_time: Duration::from_secs(life),
        rand_time: Duration::ZERO,
    }
}

fn modern_ike() -> IkeProposal {
    IkeProposal {
        encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
        integrity: Vec::new(),
        prf: vec![Prf::HmacSha256],
        key_exchange: vec![KeyExchange::X25519],
    }
}

fn esp(key_exchange: Vec<KeyExchange>) -> EspProposal {
    EspProposal {
        encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
        integrity: Vec::new(),
        key_exchange,
        esn: false,
    }
}

fn child(name: &str) -> ChildConfig {
    ChildConfig {
        name: name.into(),
        local_ts: Vec::new(),
        remote_ts: Vec::new(),
        esp_proposals: vec![esp(Vec::new())],
        mode: Default::default(),
        start_action: StartAction::None,
        lifetime: Lifetime::default(),
        traffic: TrafficLifetime::default(),
        dpd_action: Default::default(),
        close_action: Default::default(),
    }
}

fn connection(ike: Lifetime) -> Connection {
    Connection {
        name: "demo".into(),
        local_addrs: Vec::new(),
        remote_addrs: Vec::new(),
        remote_port: 500,
        local_id: Identity::Fqdn("moon".into()),
        remote_id: None,
        auth: AuthConfig::Psk(b"key".to_vec()),
        remote_auth: Default::default(),
        ike_proposals: vec![modern_ike()],
        children: vec![child("net")],
        start_action: StartAction::None,
        lifetime: ike,
        dpd_delay: Duration::ZERO,
        reauth_time: Duration::ZERO,
        keyingtries: 0,
        rekey_adapt: true,
        mobike: true,
        pools: Vec::new(),
    }
}

fn config_with(ike: Lifetime) -> EngineConfig {
    config_of(connection(ike))
}

fn config_of(conn: Connection) -> EngineConfig {
    EngineConfig {
        connections: vec![conn],
        ..EngineConfig::default()
    }
}

/// A sound connection, changed by `change`, linted.
fn lint_changed(change: impl FnOnce(&mut Connection)) -> Vec<Finding> {
    let mut conn = connection(Lifetime::ike_default());
    change(&mut conn);
    lint(&config_of(conn))
}

fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
    findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_sound_connection_has_no_findings() {
    assert_eq!(lint_changed(|_| {}), Vec::new());
}

#[test]
fn a_life_time_margin_shorter_than_a_retransmission_is_named() {
    let warnings: Vec<String> = lint(&config_with(lifetime(7, 7)))
        .iter()
        .map(Finding::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("connection demo: life_time (7 s) leaves 0.0 s"));
    assert!(lint(&config_with(lifetime(3600, 3960))).is_empty());
    let tight = lint(&config_with(lifetime(3600, 3602)));
    assert!(
        tight[0].message.ends_with("here 66m)"),
        "{}",
        tight[0].message
    );
}

#[test]
fn rekeying_off_with_a_life_time_says_the_tunnel_drops() {
    let found = lint_changed(|c| c.children[0].lifetime = lifetime(0, 3600));
    assert_eq!(kinds(&found), [FindingKind::RekeyingOff]);
    let f = &found[0];
    assert_eq!((f.child.as_deref(), f.setting), (Some("net"), "rekey_time"));
    assert!(f.message.contains("ends every 1h"), "{}", f.message);
    assert!(f.message.ends_with("e.g. 54m"), "{}", f.message);

    let found = lint_changed(|c| c.lifetime = lifetime(0, 7200));
    assert_eq!(kinds(&found), [FindingKind::RekeyingOff]);
    assert_eq!(found[0].child, None);
    // No life_time either: the SA lives for ever, nothing drops.
    assert!(lint_changed(|c| c.children[0].lifetime = lifetime(0, 0)).is_empty());
}

#[test]
fn reauth_time_beyond_an_unrekeyed_ike_life_time_never_happens() {
    let found = lint_changed(|c| {
        c.lifetime = lifetime(0, 3600);
        c.reauth_time = Duration::from_secs(7200);
    });
    assert_eq!(kinds(&found), [FindingKind::ReauthNeverHappens]);
    assert_eq!(found[0].setting, "reauth_time");
    // Reauthenticating before life_time replaces the IKE SA: no drop.
    assert!(lint_changed(|c| {
        c.lifetime = lifetime(0, 3600);
        c.reauth_time = Duration::from_secs(3000);
    })
    .is_empty());
    // An IKE rekey keeps the reauthentication time: it is reached.
    assert!(lint_changed(|c| c.reauth_time = Duration::from_secs(86_400)).is_empty());
}

#[test]
fn one_sided_pfs_among_children_names_both_sides() {
    let found = lint_changed(|c| {
        let mut with_pfs = child("voice");
        with_pfs.esp_proposals = vec![esp(vec![KeyExchange::X25519])];
        c.children.push(with_pfs);
    });
    assert_eq!(kinds(&found), [FindingKind::OneSidedPfs]);
    let message = &found[0].message;
    assert!(
        message.starts_with("child voice asks for PFS")
            && message.contains("and child net does not:"),
        "{message}"
    );
    let found = lint_changed(|c| {
        c.children[0].esp_proposals = vec![esp(vec![KeyExchange::Ecp256])];
        c.children.push(child("voice"));
        c.children.push(child("video"));
    });
    assert!(
        found[0]
            .message
            .starts_with("child net asks for PFS (a key exchange in every esp_proposal) and children voice, video do not:"),
        "{}",
        found[0].message
    );
    // All with PFS: consistent.
    assert!(lint_changed(|c| {
        c.children[0].esp_proposals = vec![esp(vec![KeyExchange::X25519])];
    })
    .is_empty());
}

#[test]
fn weak_only_ike_proposals_are_named() {
    let legacy_kex = IkeProposal {
        key_exchange: vec![KeyExchange::Modp1024],
        ..modern_ike()
    };
    let found = lint_changed(|c| c.ike_proposals = vec![legacy_kex.clone()]);
    assert_eq!(kinds(&found), [FindingKind::WeakProposals]);
    assert_eq!(
        (found[0].child.as_deref(), found[0].setting),
        (None, "proposals")
    );
    let sha1_prf = IkeProposal {
        prf: vec![Prf::HmacSha1],
        ..modern_ike()
    };
    assert_eq!(
        kinds(&lint_changed(|c| c.ike_proposals = vec![sha1_prf])),
        [FindingKind::WeakProposals]
    );
    // One modern proposal beside it is a way out.
    assert!(lint_changed(|c| c.ike_proposals = vec![legacy_kex, modern_ike()]).is_empty());
    // A modern choice within the proposal is a way out too.
    let either = IkeProposal {
        key_exchange: vec![KeyExchange::Modp1024, KeyExchange::X25519],
        ..modern_ike()
    };
    assert!(lint_changed(|c| c.ike_proposals = vec![either]).is_empty());
}

#[test]
fn weak_only_esp_proposals_are_named() {
    let cbc_sha1 = EspProposal {
        encryption: vec![Encryption::AesCbc { key_bits: 128 }],
        integrity: vec![Integrity::HmacSha1_96],
        key_exchange: Vec::new(),
        esn: false,
    };
    let found = lint_changed(|c| c.children[0].esp_proposals = vec![cbc_sha1.clone()]);
    assert_eq!(kinds(&found), [FindingKind::WeakProposals]);
    assert_eq!(
        (found[0].child.as_deref(), found[0].setting),
        (Some("net"), "esp_proposals")
    );
    // SHA-1 offered beside AES-GCM is only used if the peer picks CBC: not forced.
    let gcm_or_cbc = EspProposal {
        encryption: vec![
            Encryption::AesGcm16 { key_bits: 128 },
            Encryption::AesCbc { key_bits: 128 },
        ],
        ..cbc_sha1
    };
    assert!(lint_changed(|c| c.children[0].esp_proposals = vec![gcm_or_cbc]).is_empty());
}

#[test]
fn a_dpd_delay_shorter_than_the_first_retransmission_is_named() {
    let found = lint_changed(|c| c.dpd_delay = Duration::from_secs(2));
    assert_eq!(kinds(&found), [FindingKind::DpdDelayTooShort]);
    assert!(
        found[0]
            .message
            .starts_with("dpd_delay (2s) is shorter than the first retransmission wait (4s)"),
        "{}",
        found[0].message
    );
    assert!(lint_changed(|c| c.dpd_delay = Duration::from_secs(30)).is_empty());
}

#[test]
fn a_traffic_life_without_a_rekey_limit_is_named() {
    let found = lint_changed(|c| c.children[0].traffic.life_packets = 1_100);
    assert_eq!(kinds(&found), [FindingKind::TrafficLifeWithoutRekey]);
    assert_eq!(found[0].setting, "rekey_packets");
    assert!(
        found[0].message.ends_with("e.g. 1000"),
        "{}",
        found[0].message
    );
    let found = lint_changed(|c| c.children[0].traffic.life_bytes = 1 << 30);
    assert_eq!(found[0].setting, "rekey_bytes");
    // With a rekey limit below it, the SA is replaced in time.
    assert!(lint_changed(|c| {
        c.children[0].traffic.rekey_bytes = 1 << 29;
        c.children[0].traffic.life_bytes = 1 << 30;
    })
    .is_empty());
}

#[test]
fn a_pool_outside_remote_ts_is_found() {
    use crate::config::{AddressRange, PoolConfig};
    let pool = |first: &str, last: &str| PoolConfig {
        name: "rw".into(),
        ranges: vec![AddressRange {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }],
        dns: Vec::new(),
        domains: Vec::new(),
    };
    let with = |p: PoolConfig, remote: &str| {
        lint_changed(|c| {
            c.pools = vec![p.clone()];
            let (addr, len) = remote.split_once('/').unwrap();
            c.children[0].remote_ts = vec![crate::config::TsConfig {
                addr: addr.parse().unwrap(),
                prefix_len: len.parse().unwrap(),
                protocol: 6,
                port_start: 443,
                port_end: 443,
            }];
        })
    };
    assert!(with(pool("10.3.0.1", "10.3.0.254"), "10.3.0.0/24").is_empty());
    let found = with(pool("10.3.0.1", "10.3.1.254"), "10.3.0.0/24");
    assert_eq!(kinds(&found), [FindingKind::PoolOutsideRemoteTs]);
    assert_eq!(found[0].setting, "remote_ts");
    assert!(
        found[0].message.starts_with(
            "pool `rw` hands out 10.3.0.1-10.3.1.254, outside remote_ts (10.3.0.0/24)"
        ),
        "{}",
        found[0].message
    );
    let found = with(pool("fd00::1", "fd00::ff"), "10.3.0.0/24");
    assert_eq!(kinds(&found), [FindingKind::PoolOutsideRemoteTs]);
}
