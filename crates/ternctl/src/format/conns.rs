//! `list-conns`: each configured connection and its children.

use std::fmt::Write;

use tern_control::ConnInfo;

/// `list-conns`: each connection with its children.
pub fn conns(conns: &[ConnInfo]) -> String {
    if conns.is_empty() {
        return "no connections configured\n".to_string();
    }
    let mut out = String::new();
    for conn in conns {
        let _ = writeln!(out, "{}: IKEv2", conn.name);
        let _ = writeln!(out, "  local:  {}", addresses(&conn.local_addrs));
        let _ = writeln!(out, "  remote: {}", addresses(&conn.remote_addrs));
        let _ = writeln!(out, "  local {} authentication:", conn.auth);
        let _ = writeln!(out, "    id: {}", conn.local_id);
        let _ = writeln!(out, "  remote {} authentication:", conn.auth);
        let _ = writeln!(
            out,
            "    id: {}",
            conn.remote_id.as_deref().unwrap_or("%any")
        );
        let _ = writeln!(out, "  proposals: {}", conn.ike_proposals.join(", "));
        if let Some(delay) = &conn.dpd_delay {
            let _ = writeln!(out, "  dpd_delay: {delay}");
        }
        for child in &conn.children {
            // Only the settings that differ from their defaults.
            let start: String = [
                ("start_action", &child.start_action, "none"),
                ("dpd_action", &child.dpd_action, "clear"),
                ("close_action", &child.close_action, "none"),
            ]
            .iter()
            .filter(|(_, value, default)| !value.is_empty() && value != default)
            .map(|(key, value, _)| format!(", {key} {value}"))
            .collect();
            let trapped = if child.trapped {
                ", TRAPPED (waiting for traffic)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {}: {}{start}{trapped}",
                child.name,
                child.mode.to_uppercase()
            );
            let _ = writeln!(out, "    local:  {}", child.local_ts.join(" "));
            let _ = writeln!(out, "    remote: {}", child.remote_ts.join(" "));
            let _ = writeln!(out, "    esp_proposals: {}", child.esp_proposals.join(", "));
        }
    }
    out
}

fn addresses(addrs: &[String]) -> String {
    if addrs.is_empty() {
        "%any".to_string()
    } else {
        addrs.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tern_control::ChildConnInfo;

    #[test]
    fn connections() {
        let conn = ConnInfo {
            name: "demo".into(),
            local_addrs: vec!["192.0.2.1".into()],
            remote_addrs: vec![],
            local_id: "moon.tern.example".into(),
            remote_id: None,
            auth: "psk".into(),
            ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
            children: vec![ChildConnInfo {
                name: "net".into(),
                local_ts: vec!["10.1.0.0/24".into()],
                remote_ts: vec!["10.2.0.0/24".into(), "10.3.0.0/24".into()],
                esp_proposals: vec!["aes128gcm16".into()],
                mode: "tunnel".into(),
                start_action: "start".into(),
                dpd_action: "restart".into(),
                close_action: "none".into(),
                trapped: false,
                lifetime: None,
                pfs_groups: vec![],
            }],
            dpd_delay: Some("30s".into()),
            ike_lifetime: None,
        };
        let expected = "\
demo: IKEv2
  local:  192.0.2.1
  remote: %any
  local psk authentication:
    id: moon.tern.example
  remote psk authentication:
    id: %any
  proposals: aes128gcm16-prfsha256-x25519
  dpd_delay: 30s
  net: TUNNEL, start_action start, dpd_action restart
    local:  10.1.0.0/24
    remote: 10.2.0.0/24 10.3.0.0/24
    esp_proposals: aes128gcm16
";
        assert_eq!(conns(&[conn]), expected);
    }
}
