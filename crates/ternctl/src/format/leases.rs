//! `leases`: the virtual IPs handed out.

/// `ternctl leases`: one line per leased address.
pub fn leases(leases: &[tern_control::LeaseInfo]) -> String {
    if leases.is_empty() {
        return "no virtual IP is leased\n".to_string();
    }
    let mut out = String::new();
    for lease in leases {
        let state = if lease.online {
            "online"
        } else {
            "offline (kept for its peer)"
        };
        out.push_str(&format!(
            "{:<12} {:<40} {:<32} {state}\n",
            lease.pool, lease.address, lease.identity
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_one_line_each_or_none() {
        assert_eq!(leases(&[]), "no virtual IP is leased\n");
        let lease = |address: &str, identity: &str, online| tern_control::LeaseInfo {
            pool: "rw".into(),
            address: address.parse().unwrap(),
            identity: identity.into(),
            online,
        };
        let text = leases(&[
            lease("10.3.0.1", "carol@corp.example", true),
            lease("fd00::2", "dave@corp.example", false),
        ]);
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            [
                vec!["rw", "10.3.0.1", "carol@corp.example", "online"],
                vec![
                    "rw",
                    "fd00::2",
                    "dave@corp.example",
                    "offline",
                    "(kept",
                    "for",
                    "its",
                    "peer)"
                ],
            ]
        );
    }
}
