//! The scenario of the `rekeys` bench and the `rekeys-cpu` example: two engines,
//! a day of virtual time with 60 s CHILD lifetimes, on a clean 10 ms link.

fn side(me: &str, them: &str, my_id: &str, their_id: &str, mine: &str, theirs: &str) -> String {
    format!(
        r#"[connections.demo]
local_addrs = ["{me}"]
remote_addrs = ["{them}"]
local_id = "{my_id}"
remote_id = "{their_id}"
auth = "psk"
psk = "bench key"
[connections.demo.children.net]
local_ts = ["{mine}"]
remote_ts = ["{theirs}"]
rekey_time = "60s"
"#
    )
}

pub fn scenario() -> tern_sim::Scenario {
    let local = side(
        "192.0.2.1",
        "192.0.2.2",
        "moon",
        "sun",
        "10.1.0.0/24",
        "10.2.0.0/24",
    );
    let peer = side(
        "192.0.2.2",
        "192.0.2.1",
        "sun",
        "moon",
        "10.2.0.0/24",
        "10.1.0.0/24",
    );
    let text = format!(
        "duration = \"1d\"\nseed = 1\n[local]\nconfig_text = \"\"\"\n{local}\"\"\"\n[peer]\nconfig_text = \"\"\"\n{peer}\"\"\"\n[network]\ndelay = \"10ms\"\n"
    );
    tern_sim::parse(&text, "bench", None).expect("bench scenario")
}
