//! Scenario text for the tests: the demo's two sides with chosen lifetimes.

#![allow(dead_code)]

pub mod properties;

/// Lifetime keys for one SA, as written in a tern configuration ("" = defaults).
#[derive(Clone, Default)]
pub struct Lifetimes {
    pub rekey_time: Option<String>,
    pub life_time: Option<String>,
    pub rand_time: Option<String>,
}

impl Lifetimes {
    pub fn rekey(rekey: &str) -> Lifetimes {
        Lifetimes {
            rekey_time: Some(rekey.into()),
            ..Default::default()
        }
    }

    pub fn exact(rekey: &str) -> Lifetimes {
        Lifetimes {
            rekey_time: Some(rekey.into()),
            rand_time: Some("0".into()),
            ..Default::default()
        }
    }

    fn keys(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("rekey_time", &self.rekey_time),
            ("life_time", &self.life_time),
            ("rand_time", &self.rand_time),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("{key} = \"{v}\"\n"));
            }
        }
        out
    }
}

/// One side of the demo: moon (local, 192.0.2.1) or sun (peer, 192.0.2.2).
pub fn side(moon: bool, ike: &Lifetimes, child: &Lifetimes, extra_conn: &str) -> String {
    let (me, them, my_id, their_id, my_net, their_net) = if moon {
        (
            "192.0.2.1",
            "192.0.2.2",
            "moon",
            "sun",
            "10.1.0.0/24",
            "10.2.0.0/24",
        )
    } else {
        (
            "192.0.2.2",
            "192.0.2.1",
            "sun",
            "moon",
            "10.2.0.0/24",
            "10.1.0.0/24",
        )
    };
    format!(
        r#"[connections.demo]
local_addrs = ["{me}"]
remote_addrs = ["{them}"]
local_id = "{my_id}.tern.example"
remote_id = "{their_id}.tern.example"
auth = "psk"
psk = "simulated demo key"
{extra_conn}
{ike}
[connections.demo.children.net]
local_ts = ["{my_net}"]
remote_ts = ["{their_net}"]
{child}"#,
        ike = ike.keys(),
        child = child.keys(),
    )
}

/// A whole scenario with both sides inline.
pub fn scenario(duration: &str, seed: u64, local: &str, peer: &str, rest: &str) -> String {
    format!(
        "duration = \"{duration}\"\nseed = {seed}\n\n[local]\nconfig_text = \"\"\"\n{local}\"\"\"\n\n[peer]\nconfig_text = \"\"\"\n{peer}\"\"\"\n\n{rest}\n"
    )
}

pub fn run(text: &str) -> tern_sim::Report {
    let scenario = tern_sim::parse(text, "test.toml", None).unwrap_or_else(|e| panic!("{e}"));
    tern_sim::run(&scenario).unwrap_or_else(|e| panic!("{e}"))
}
