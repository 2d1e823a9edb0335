//! What an Access-Accept grants beyond the login (RFC 2865 §5.8, §5.25,
//! §5.27; RFC 6911 §3.1; RFC 3162 §2.3): the address the user is to have,
//! how long the session may last, and the Class to echo in accounting.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::attr;
use crate::packet::Packet;

/// The Accept's attributes the gateway acts on. A malformed one is left out
/// and named in `ignored`, so the login still goes on and the log says why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// Framed-IP-Address: the client's IPv4 virtual IP. The special values
    /// 255.255.255.255 (the user chooses) and 255.255.255.254 (the NAS
    /// chooses) leave it to the pools, as RFC 2865 §5.8 says.
    pub framed_ip: Option<Ipv4Addr>,
    /// Framed-IPv6-Address (RFC 6911), or a Framed-IPv6-Prefix of length 128.
    pub framed_ipv6: Option<Ipv6Addr>,
    /// Session-Timeout in seconds: the most the session may last.
    pub session_timeout: Option<u32>,
    /// Acct-Interim-Interval in seconds (RFC 2869 §5.16): how often the
    /// server wants an Interim-Update, as it sent it (the floor is the NAS's).
    pub interim_interval: Option<u32>,
    /// Every Class, in order, to echo unchanged in accounting (RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
    /// Attributes left out, and why.
    pub ignored: Vec<&'static str>,
}

impl Grant {
    /// The grant of an (already verified) Access-Accept.
    pub fn read(p: &Packet) -> Grant {
        let mut g = Grant::default();
        for a in &p.attributes {
            let v = a.value.as_slice();
            match a.kind {
                attr::FRAMED_IP_ADDRESS => match <[u8; 4]>::try_from(v) {
                    Ok(octets) => {
                        let ip = Ipv4Addr::from(octets);
                        if octets[..3] != [255, 255, 255] || octets[3] < 254 {
                            g.framed_ip.get_or_insert(ip);
                        }
                    }
                    Err(_) => g.ignored.push("a Framed-IP-Address that is not 4 octets"),
                },
                attr::FRAMED_IPV6_ADDRESS => match <[u8; 16]>::try_from(v) {
                    Ok(octets) => {
                        g.framed_ipv6.get_or_insert(Ipv6Addr::from(octets));
                    }
                    Err(_) => g
                        .ignored
                        .push("a Framed-IPv6-Address that is not 16 octets"),
                },
                // Reserved octet, prefix length, prefix (RFC 3162 §2.3): only a
                // /128 names one address; a shorter prefix is a subnet we do not
                // delegate.
                attr::FRAMED_IPV6_PREFIX => {
                    if v.len() == 18 && v[1] == 128 {
                        let octets: [u8; 16] = v[2..].try_into().expect("16 octets");
                        g.framed_ipv6.get_or_insert(Ipv6Addr::from(octets));
                    } else {
                        g.ignored
                            .push("a Framed-IPv6-Prefix other than one /128 address");
                    }
                }
                attr::SESSION_TIMEOUT => match <[u8; 4]>::try_from(v) {
                    Ok(octets) => {
                        let secs = u32::from_be_bytes(octets);
                        if secs == 0 {
                            g.ignored.push("a Session-Timeout of 0 seconds");
                        } else {
                            g.session_timeout = Some(secs);
                        }
                    }
                    Err(_) => g.ignored.push("a Session-Timeout that is not 4 octets"),
                },
                attr::ACCT_INTERIM_INTERVAL => match <[u8; 4]>::try_from(v) {
                    Ok(octets) if octets != [0; 4] => {
                        g.interim_interval = Some(u32::from_be_bytes(octets));
                    }
                    Ok(_) => g.ignored.push("an Acct-Interim-Interval of 0 seconds"),
                    Err(_) => g
                        .ignored
                        .push("an Acct-Interim-Interval that is not 4 octets"),
                },
                attr::CLASS => g.class.push(v.to_vec()),
                _ => {}
            }
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Attribute, ACCESS_ACCEPT};

    fn accept(attrs: &[(u8, &[u8])]) -> Packet {
        Packet {
            code: ACCESS_ACCEPT,
            identifier: 1,
            authenticator: [0; 16],
            attributes: attrs
                .iter()
                .map(|(kind, value)| Attribute {
                    kind: *kind,
                    value: value.to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn address_timeout_and_classes_are_read() {
        let mut prefix = vec![0, 128];
        prefix.extend_from_slice(&"fd00::7".parse::<Ipv6Addr>().unwrap().octets());
        let g = Grant::read(&accept(&[
            (attr::FRAMED_IP_ADDRESS, &[10, 3, 0, 200]),
            (attr::SESSION_TIMEOUT, &3600u32.to_be_bytes()),
            (attr::CLASS, b"dept=a"),
            (attr::CLASS, b"\x00\x01"),
            (attr::FRAMED_IPV6_PREFIX, &prefix),
            (attr::ACCT_INTERIM_INTERVAL, &600u32.to_be_bytes()),
        ]));
        assert_eq!(g.framed_ip, Some(Ipv4Addr::new(10, 3, 0, 200)));
        assert_eq!(g.framed_ipv6, Some("fd00::7".parse().unwrap()));
        assert_eq!(g.session_timeout, Some(3600));
        assert_eq!(g.interim_interval, Some(600));
        assert_eq!(g.class, vec![b"dept=a".to_vec(), vec![0, 1]]);
        assert!(g.ignored.is_empty());
    }

    #[test]
    fn pool_choice_values_and_malformed_attributes_leave_it_to_us() {
        for special in [[255, 255, 255, 255], [255, 255, 255, 254]] {
            assert_eq!(
                Grant::read(&accept(&[(attr::FRAMED_IP_ADDRESS, &special)])).framed_ip,
                None
            );
        }
        let g = Grant::read(&accept(&[
            (attr::FRAMED_IP_ADDRESS, &[10, 3, 0]),
            (attr::SESSION_TIMEOUT, &[0, 0, 0, 0]),
            (
                attr::FRAMED_IPV6_PREFIX,
                &[0, 64, 0xfd, 0, 0, 0, 0, 0, 0, 0],
            ),
            (attr::FRAMED_IPV6_ADDRESS, &[1; 15]),
            (attr::ACCT_INTERIM_INTERVAL, &[0, 60]),
        ]));
        assert_eq!(g.interim_interval, None);
        assert!(g
            .ignored
            .contains(&"an Acct-Interim-Interval that is not 4 octets"));
        assert_eq!(g.framed_ip, None);
        assert_eq!(g.framed_ipv6, None);
        assert_eq!(g.session_timeout, None);
        assert_eq!(g.ignored.len(), 5, "{:?}", g.ignored);
        assert_eq!(g.ignored[0], "a Framed-IP-Address that is not 4 octets");
    }
}
