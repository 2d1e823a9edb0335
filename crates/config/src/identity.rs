//! IKE identities as written in the configuration (RFC 7296 §3.5).
//!
//! An IP literal is an IP identity, `keyid:HEX` a key ID, `dn:` a distinguished name
//! (`dn:O=Example, CN=moon.example.org`), anything with an `@` an
//! email address (RFC 822), anything else an FQDN. A leading `@` forces an FQDN
//! (`@192.0.2.1` is the name, not the address), as strongSwan users are used to.

use tern_engine::config::Identity;

use crate::error::ValueError;

/// Parses an identity.
pub fn parse_identity(s: &str) -> Result<Identity, String> {
    identity(s).map_err(|e| e.message)
}

pub(crate) fn identity(s: &str) -> Result<Identity, ValueError> {
    let whole = 0..s.len();
    if s.is_empty() {
        return Err(ValueError::new(whole, "empty identity"));
    }
    // A distinguished name, "dn:O=Example, CN=moon.example.org" (DER order).
    if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("dn:")) {
        return tern_crypto::dn_from_text(&s[3..])
            .map(Identity::DerDn)
            .map_err(|e| ValueError::new(whole, format!("distinguished name `{}`: {e}", &s[3..])));
    }
    if let Some(bad) = s.find(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ValueError::new(
            bad..bad + 1,
            format!("identity `{s}` contains white space"),
        ));
    }
    if let Some(name) = s.strip_prefix('@') {
        if name.is_empty() {
            return Err(ValueError::new(whole, "empty identity after `@`"));
        }
        return Ok(Identity::Fqdn(name.to_string()));
    }
    if s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("keyid:")) {
        let hex = &s[6..];
        return match decode_hex(hex) {
            Some(bytes) if !bytes.is_empty() => Ok(Identity::KeyId(bytes)),
            _ => Err(ValueError::new(
                6..s.len(),
                format!("`keyid:` needs an even number of hex digits, not `{hex}`"),
            )),
        };
    }
    if let Ok(v4) = s.parse::<std::net::Ipv4Addr>() {
        return Ok(Identity::Ipv4(v4));
    }
    if let Ok(v6) = s.parse::<std::net::Ipv6Addr>() {
        return Ok(Identity::Ipv6(v6));
    }
    if s.contains('@') {
        return Ok(Identity::Email(s.to_string()));
    }
    Ok(Identity::Fqdn(s.to_string()))
}

/// An identity in the syntax [`parse_identity`] reads.
pub fn format_identity(id: &Identity) -> String {
    match id {
        Identity::Ipv4(a) => a.to_string(),
        Identity::Ipv6(a) => a.to_string(),
        Identity::Fqdn(name) => {
            // Names that would read back as another type get the forcing `@`.
            let ambiguous = identity(name).map_or(true, |parsed| parsed != *id);
            if ambiguous {
                format!("@{name}")
            } else {
                name.clone()
            }
        }
        Identity::Email(addr) => addr.clone(),
        Identity::DerDn(der) => match tern_crypto::dn_to_text(der) {
            Some(text) => format!("dn:{text}"),
            None => format!("dn:#{}", encode_hex(der)),
        },
        Identity::KeyId(bytes) => format!("keyid:{}", encode_hex(bytes)),
    }
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of an even-length hex string; `None` if it is not one.
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(hex_digit(*high)? << 4 | hex_digit(*low)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_identity() {
        assert_eq!(
            parse_identity("192.0.2.1"),
            Ok(Identity::Ipv4("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            parse_identity("2001:db8::1"),
            Ok(Identity::Ipv6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            parse_identity("moon.tern.example"),
            Ok(Identity::Fqdn("moon.tern.example".into()))
        );
        assert_eq!(
            parse_identity("carol@tern.example"),
            Ok(Identity::Email("carol@tern.example".into()))
        );
        assert_eq!(
            parse_identity("keyid:0a0B"),
            Ok(Identity::KeyId(vec![0x0a, 0x0b]))
        );
        assert_eq!(
            parse_identity("@192.0.2.1"),
            Ok(Identity::Fqdn("192.0.2.1".into()))
        );
    }

    #[test]
    fn distinguished_names_round_trip() {
        let id = parse_identity("dn:C=CH, O=Example\\, Inc., CN=moon.example.org").unwrap();
        let Identity::DerDn(der) = &id else {
            panic!("not a DN: {id:?}")
        };
        assert_eq!(
            tern_crypto::dn_to_text(der).as_deref(),
            Some("C=CH, O=Example\\, Inc., CN=moon.example.org")
        );
        assert_eq!(
            format_identity(&id),
            "dn:C=CH, O=Example\\, Inc., CN=moon.example.org"
        );
        assert_eq!(parse_identity(&format_identity(&id)), Ok(id));
    }

    #[test]
    fn rejected_identities() {
        assert!(parse_identity("dn:CN=moon, XX=1")
            .unwrap_err()
            .contains("unknown DN attribute `XX`"));
        assert!(parse_identity("keyid:abc")
            .unwrap_err()
            .contains("hex digits"));
        assert!(parse_identity("keyid:").unwrap_err().contains("hex digits"));
        assert!(parse_identity("keyid:zz")
            .unwrap_err()
            .contains("hex digits"));
        assert!(parse_identity("").unwrap_err().contains("empty"));
        assert!(parse_identity("@").unwrap_err().contains("empty"));
        assert!(parse_identity("moon tern")
            .unwrap_err()
            .contains("white space"));
    }

    #[test]
    fn format_reads_back() {
        for text in [
            "192.0.2.1",
            "2001:db8::1",
            "moon.tern.example",
            "carol@tern.example",
            "keyid:0a0b",
            "@192.0.2.1",
        ] {
            let id = parse_identity(text).unwrap();
            assert_eq!(format_identity(&id), text);
            assert_eq!(parse_identity(&format_identity(&id)), Ok(id));
        }
        assert_eq!(format_identity(&Identity::Fqdn("a@b".into())), "@a@b");
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("é0"), None);
        assert_eq!(encode_hex(&[0, 255, 16]), "00ff10");
    }
}
