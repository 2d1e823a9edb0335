//! Settings that will cause trouble before any peer is involved, said when the
//! configuration is loaded.

use crate::config::{EngineConfig, Lifetime};

/// A warning for each setting of `config` that will hurt; empty when all is well.
pub fn lint(config: &EngineConfig) -> Vec<String> {
    let first_retransmit = config.retransmit.base;
    let mut out = Vec::new();
    let mut margin = |what: String, l: &Lifetime| {
        if l.rekey_time.is_zero() || l.life_time.is_zero() {
            return;
        }
        let room = l.life_time.saturating_sub(l.rekey_time);
        if room < first_retransmit {
            out.push(format!(
                "{what}: life_time ({} s) leaves {:.1} s after rekey_time ({} s), less than \
                 the first retransmission ({} s): one lost rekey message means a hard \
                 expiry. Leave at least a retransmission schedule between them (the \
                 default life_time is rekey_time + 10 %)",
                l.life_time.as_secs_f64(),
                room.as_secs_f64(),
                l.rekey_time.as_secs_f64(),
                first_retransmit.as_secs_f64()
            ));
        }
    };
    for conn in &config.connections {
        margin(format!("connection {}", conn.name), &conn.lifetime);
        for child in &conn.children {
            margin(
                format!("connection {}, child {}", conn.name, child.name),
                &child.lifetime,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthConfig, Connection, Identity, StartAction};
    use std::time::Duration;

    fn lifetime(rekey: u64, life: u64) -> Lifetime {
        Lifetime {
            rekey_time: Duration::from_secs(rekey),
            life_time: Duration::from_secs(life),
            rand_time: Duration::ZERO,
        }
    }

    fn config_with(ike: Lifetime) -> EngineConfig {
        let conn = Connection {
            name: "demo".into(),
            local_addrs: Vec::new(),
            remote_addrs: Vec::new(),
            remote_port: 500,
            local_id: Identity::Fqdn("moon".into()),
            remote_id: None,
            auth: AuthConfig::Psk(b"key".to_vec()),
            ike_proposals: Vec::new(),
            children: Vec::new(),
            start_action: StartAction::None,
            lifetime: ike,
            dpd_delay: Duration::ZERO,
            reauth_time: Duration::ZERO,
            keyingtries: 0,
            rekey_adapt: true,
        };
        EngineConfig {
            connections: vec![conn],
            ..EngineConfig::default()
        }
    }

    #[test]
    fn a_life_time_margin_shorter_than_a_retransmission_is_named() {
        let warnings = lint(&config_with(lifetime(7, 7)));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("connection demo: life_time (7 s) leaves 0.0 s"));
        assert!(lint(&config_with(lifetime(3600, 3960))).is_empty());
        assert!(
            lint(&config_with(lifetime(0, 60))).is_empty(),
            "rekeying off"
        );
    }
}
