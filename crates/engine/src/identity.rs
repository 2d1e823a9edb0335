//! Identities: configured values to ID payloads and back, and matching.

use std::net::{Ipv4Addr, Ipv6Addr};

use tern_wire::{IdType, Identification};

use crate::config::Identity;

pub fn to_wire(id: &Identity) -> Identification {
    let (id_type, data) = match id {
        Identity::Ipv4(a) => (IdType::IPV4_ADDR, a.octets().to_vec()),
        Identity::Ipv6(a) => (IdType::IPV6_ADDR, a.octets().to_vec()),
        Identity::Fqdn(s) => (IdType::FQDN, s.as_bytes().to_vec()),
        Identity::Email(s) => (IdType::RFC822_ADDR, s.as_bytes().to_vec()),
        Identity::DerDn(d) => (IdType::DER_ASN1_DN, d.clone()),
        Identity::KeyId(k) => (IdType::KEY_ID, k.clone()),
    };
    Identification { id_type, data }
}

/// Whether the peer's ID payload names the configured identity. Names compare
/// without regard to ASCII case, as DNS does; distinguished names by meaning.
pub fn matches(configured: &Identity, received: &Identification) -> bool {
    let expected = to_wire(configured);
    if expected.id_type != received.id_type {
        return false;
    }
    match configured {
        Identity::Fqdn(_) | Identity::Email(_) => {
            expected.data.eq_ignore_ascii_case(&received.data)
        }
        Identity::DerDn(_) => tern_crypto::dn_equal(&expected.data, &received.data),
        _ => expected.data == received.data,
    }
}

/// A readable form of an ID payload, for logs and `list-sas`.
pub fn describe(id: &Identification) -> String {
    let text = || String::from_utf8_lossy(&id.data).into_owned();
    match id.id_type {
        IdType::IPV4_ADDR => <[u8; 4]>::try_from(id.data.as_slice())
            .map(|o| Ipv4Addr::from(o).to_string())
            .unwrap_or_else(|_| hex(&id.data)),
        IdType::IPV6_ADDR => <[u8; 16]>::try_from(id.data.as_slice())
            .map(|o| Ipv6Addr::from(o).to_string())
            .unwrap_or_else(|_| hex(&id.data)),
        IdType::FQDN | IdType::RFC822_ADDR => text(),
        IdType::DER_ASN1_DN => match tern_crypto::dn_to_text(&id.data) {
            Some(dn) => dn,
            None => format!("{}:{}", id.id_type, hex(&id.data)),
        },
        other => format!("{other}:{}", hex(&id.data)),
    }
}

pub fn describe_config(id: &Identity) -> String {
    describe(&to_wire(id))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_matches_case_insensitively() {
        let c = Identity::Fqdn("Sun.Tern.Example".into());
        let w = to_wire(&Identity::Fqdn("sun.tern.example".into()));
        assert!(matches(&c, &w));
        assert!(!matches(&Identity::Email("sun.tern.example".into()), &w));
        assert_eq!(describe(&w), "sun.tern.example");
    }

    #[test]
    fn distinguished_names_match_by_meaning_and_print_as_text() {
        let configured = Identity::DerDn(tern_crypto::dn_from_text("O=tern, CN=Moon").unwrap());
        let received = to_wire(&Identity::DerDn(
            tern_crypto::dn_from_text("o=TERN, cn=moon").unwrap(),
        ));
        assert!(matches(&configured, &received));
        assert_eq!(describe(&received), "O=TERN, CN=moon");
    }

    #[test]
    fn ip_identities_print_as_addresses() {
        let w = to_wire(&Identity::Ipv4("192.0.2.1".parse().unwrap()));
        assert_eq!(describe(&w), "192.0.2.1");
    }
}
