//! The configurations of a load run: one responder connection that accepts
//! every load identity, and initiator connections that differ per IKE SA in
//! their identity and their inner address, as remote-access clients do.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tern_engine::config::{EngineConfig, Identity, TsConfig};

/// What both ends must agree on.
#[derive(Clone, Debug)]
pub struct Profile {
    pub psk: String,
    /// IKE proposal, as in ternd.toml (`aes128gcm16-prfsha256-x25519`).
    pub proposal: String,
    /// ESP proposal of the CHILD SA (`aes128gcm16`).
    pub esp_proposal: String,
    /// The responder's identity, or `None` to accept whatever it proves.
    pub responder_id: Option<String>,
    /// IKE SAs without a CHILD SA (RFC 6023): no SA or TS payloads in IKE_AUTH,
    /// and a responder configuration without children.
    pub childless: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            psk: "tern-load shared key".into(),
            proposal: "aes128gcm16-prfsha256-x25519".into(),
            esp_proposal: "aes128gcm16".into(),
            responder_id: Some(RESPONDER_ID.into()),
            childless: false,
        }
    }
}

pub const RESPONDER_ID: &str = "responder.tern.example";
/// The responder's side of every CHILD SA.
pub const RESPONDER_TS: &str = "10.20.0.0/16";
/// Initiator `i` gets the inner address 10.128.0.0 + i, a /32 of this /9.
pub const INITIATOR_NET: &str = "10.128.0.0/9";

/// The responder's ternd.toml: one connection for every load initiator.
/// `listen` and `port` place its IKE socket; `socket` is its control socket.
pub fn responder_toml(profile: &Profile, listen: IpAddr, port: u16, socket: &str) -> String {
    let Profile {
        psk,
        proposal,
        esp_proposal,
        childless,
        ..
    } = profile;
    let children = children_toml(*childless, RESPONDER_TS, INITIATOR_NET, esp_proposal);
    format!(
        r#"[daemon]
socket = "{socket}"
listen = ["{listen}"]
port = {port}
nat_port = {nat_port}
# One address brings all the load: no half-open limit in the way.
half_open_per_address = 4294967295
half_open_limit = 4294967295

[connections.load]
local_id = "{RESPONDER_ID}"
remote_id = "%any"
auth = "psk"
psk = "{psk}"
proposals = ["{proposal}"]
{children}"#,
        nat_port = port.wrapping_add(1),
    )
}

/// An initiator's configuration, made once and adapted per IKE SA with
/// [`Initiator::for_sa`].
#[derive(Clone, Debug)]
pub struct Initiator {
    template: EngineConfig,
}

impl Initiator {
    pub fn new(profile: &Profile, local: IpAddr, responder: SocketAddr) -> anyhow::Result<Self> {
        let Profile {
            psk,
            proposal,
            esp_proposal,
            responder_id,
            childless,
        } = profile;
        // The inner address is set per IKE SA by `for_sa`.
        let children = children_toml(*childless, "10.128.0.0/32", RESPONDER_TS, esp_proposal);
        let remote_id = responder_id.as_deref().unwrap_or("%any");
        let text = format!(
            r#"[connections.load]
local_addrs = ["{local}"]
remote_addrs = ["{ip}"]
remote_port = {port}
local_id = "load-0.tern.example"
remote_id = "{remote_id}"
auth = "psk"
psk = "{psk}"
proposals = ["{proposal}"]
{children}"#,
            ip = responder.ip(),
            port = responder.port(),
        );
        let config = tern_config::parse_str(&text, "tern-load initiator")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Initiator {
            template: config.engine,
        })
    }

    /// The configuration of the `index`-th IKE SA, sent from `port`: identity
    /// `load-<index>.tern.example`, inner address 10.128.0.0 + index.
    pub fn for_sa(&self, index: u32, port: u16) -> EngineConfig {
        let mut config = self.template.clone();
        config.ike_port = port;
        let conn = &mut config.connections[0];
        conn.local_id = Identity::Fqdn(format!("load-{index}.tern.example"));
        let Some(child) = conn.children.first_mut() else {
            return config; // childless
        };
        let inner = u32::from(Ipv4Addr::new(10, 128, 0, 0)) | (index & 0x7f_ffff);
        child.local_ts = vec![TsConfig {
            addr: IpAddr::V4(Ipv4Addr::from(inner)),
            prefix_len: 32,
            protocol: 0,
            port_start: 0,
            port_end: u16::MAX,
        }];
        config
    }
}

/// The CHILD SA section of a load connection, or nothing for a childless one.
fn children_toml(childless: bool, local: &str, remote: &str, esp_proposal: &str) -> String {
    if childless {
        return String::new();
    }
    format!(
        r#"
[connections.load.children.net]
local_ts = ["{local}"]
remote_ts = ["{remote}"]
esp_proposals = ["{esp_proposal}"]
mode = "tunnel"
"#
    )
}

/// The connection name in both configurations.
pub const CONNECTION: &str = "load";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_config_parses() {
        let text = responder_toml(
            &Profile::default(),
            "127.0.0.1".parse().unwrap(),
            1500,
            "/tmp/x.sock",
        );
        let config = tern_config::parse_str(&text, "test").expect("valid");
        assert_eq!(config.daemon.port, 1500);
        assert_eq!(config.engine.connections[0].remote_id, None);
    }

    #[test]
    fn each_sa_has_its_own_identity_and_inner_address() {
        let init = Initiator::new(
            &Profile::default(),
            "127.0.0.1".parse().unwrap(),
            "127.0.0.2:500".parse().unwrap(),
        )
        .expect("valid");
        let a = init.for_sa(1, 500);
        let b = init.for_sa(258, 500);
        assert_eq!(
            a.connections[0].local_id,
            Identity::Fqdn("load-1.tern.example".into())
        );
        assert_eq!(
            b.connections[0].children[0].local_ts[0].addr,
            "10.128.1.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn childless_profiles_configure_no_children_on_either_side() {
        let profile = Profile {
            childless: true,
            ..Profile::default()
        };
        let init = Initiator::new(
            &profile,
            "127.0.0.1".parse().unwrap(),
            "127.0.0.2:500".parse().unwrap(),
        )
        .expect("valid");
        let a = init.for_sa(7, 500);
        assert!(a.connections[0].children.is_empty());
        assert_eq!(
            a.connections[0].local_id,
            Identity::Fqdn("load-7.tern.example".into())
        );
        let text = responder_toml(&profile, "127.0.0.1".parse().unwrap(), 1500, "/tmp/x.sock");
        let responder = tern_config::parse_str(&text, "test").expect("valid");
        assert!(responder.engine.connections[0].children.is_empty());
        // And the default keeps its CHILD SA on both sides.
        let text = responder_toml(
            &Profile::default(),
            "127.0.0.1".parse().unwrap(),
            1500,
            "/tmp/x.sock",
        );
        let responder = tern_config::parse_str(&text, "test").expect("valid");
        assert_eq!(responder.engine.connections[0].children.len(), 1);
    }
}
