//! Distinguished names (X.501 Name) as IKE identities (ID_DER_ASN1_DN): written as
//! text in the configuration, compared by meaning rather than by encoding.
//!
//! The text form lists the attributes in the order of the DER (as strongSwan and
//! OpenSSL print them, e.g. "C=CH, O=tern, CN=moon.example.org"), one attribute per
//! relative distinguished name, separated by commas (`\,` for a comma in a value).

use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// Attribute names tern reads, their OID (DER content octets) and string type.
const ATTRIBUTES: &[(&str, &[u8], u8)] = &[
    ("CN", &[0x55, 0x04, 0x03], UTF8_STRING),
    ("SN", &[0x55, 0x04, 0x04], UTF8_STRING),
    ("serialNumber", &[0x55, 0x04, 0x05], PRINTABLE_STRING),
    ("C", &[0x55, 0x04, 0x06], PRINTABLE_STRING),
    ("L", &[0x55, 0x04, 0x07], UTF8_STRING),
    ("ST", &[0x55, 0x04, 0x08], UTF8_STRING),
    ("O", &[0x55, 0x04, 0x0a], UTF8_STRING),
    ("OU", &[0x55, 0x04, 0x0b], UTF8_STRING),
    (
        "DC",
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        IA5_STRING,
    ),
    (
        "UID",
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        UTF8_STRING,
    ),
    (
        "E",
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        IA5_STRING,
    ),
    (
        "emailAddress",
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        IA5_STRING,
    ),
];

const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const IA5_STRING: u8 = 0x16;

/// The DER Name for text such as "O=tern, CN=moon.example.org".
pub fn dn_from_text(text: &str) -> Result<Vec<u8>, String> {
    let mut rdns = Vec::new();
    for part in split_unescaped(text) {
        let part = part.trim();
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("`{part}` is not of the form ATTRIBUTE=value"));
        };
        let (key, value) = (key.trim(), unescape(value.trim()));
        let Some(&(_, oid, string_type)) = ATTRIBUTES
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(key))
        else {
            let known: Vec<&str> = ATTRIBUTES.iter().map(|a| a.0).collect();
            return Err(format!(
                "unknown DN attribute `{key}`; tern knows {}",
                known.join(", ")
            ));
        };
        if value.is_empty() {
            return Err(format!("the DN attribute `{key}` has an empty value"));
        }
        if string_type != UTF8_STRING && !value.is_ascii() {
            return Err(format!("the DN attribute `{key}` must be ASCII"));
        }
        let attribute = tlv(
            0x30,
            &[tlv(0x06, oid), tlv(string_type, value.as_bytes())].concat(),
        );
        rdns.push(tlv(0x31, &attribute));
    }
    if rdns.is_empty() {
        return Err("empty distinguished name".into());
    }
    Ok(tlv(0x30, &rdns.concat()))
}

/// The text form of a DER Name, as [`dn_from_text`] reads it, if it parses.
pub fn dn_to_text(der: &[u8]) -> Option<String> {
    let ([], name) = X509Name::from_der(der).ok()? else {
        return None;
    };
    let mut parts = Vec::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type();
        let key = ATTRIBUTES
            .iter()
            .find(|(_, der_oid, _)| *der_oid == oid.as_bytes())
            .map_or_else(|| oid.to_id_string(), |(key, _, _)| key.to_string());
        let value = match attr.as_str() {
            Ok(v) => v.replace('\\', "\\\\").replace(',', "\\,"),
            Err(_) => return Some(name.to_string()),
        };
        parts.push(format!("{key}={value}"));
    }
    Some(parts.join(", "))
}

/// Whether two DER Names name the same: the same attributes in the same order with
/// the same values, ignoring ASCII case and the string type they are encoded in.
pub fn dn_equal(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (attributes(a), attributes(b)) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|((oa, va), (ob, vb))| oa == ob && va.eq_ignore_ascii_case(vb))
        }
        _ => false,
    }
}

fn attributes(der: &[u8]) -> Option<Vec<(String, String)>> {
    let ([], name) = X509Name::from_der(der).ok()? else {
        return None;
    };
    name.iter_attributes()
        .map(|attr| {
            let value = attr.as_str().ok()?.trim().to_string();
            Some((attr.attr_type().to_id_string(), value))
        })
        .collect()
}

fn split_unescaped(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or('\\')
        } else {
            c
        });
    }
    out
}

/// A DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_to_der_and_back() {
        let der = dn_from_text("C=CH, O=tern tests, CN=moon.tern.test").unwrap();
        assert_eq!(
            dn_to_text(&der).as_deref(),
            Some("C=CH, O=tern tests, CN=moon.tern.test")
        );
        let escaped = dn_from_text(r"O=Example\, Inc., CN=x").unwrap();
        assert_eq!(
            dn_to_text(&escaped).as_deref(),
            Some(r"O=Example\, Inc., CN=x")
        );
    }

    #[test]
    fn equality_ignores_case_and_string_type() {
        let a = dn_from_text("O=tern tests, CN=Moon.Tern.Test").unwrap();
        let b = dn_from_text("o=TERN TESTS,cn=moon.tern.test").unwrap();
        assert!(dn_equal(&a, &b));
        // The same name as PrintableString instead of UTF8String.
        let printable = b"\x30\x0f\x31\x0d\x30\x0b\x06\x03\x55\x04\x03\x13\x04moon";
        assert!(dn_equal(&dn_from_text("CN=moon").unwrap(), printable));
        assert!(!dn_equal(&dn_from_text("CN=sun").unwrap(), printable));
        // Order matters.
        let swapped = dn_from_text("CN=Moon.Tern.Test, O=tern tests").unwrap();
        assert!(!dn_equal(&a, &swapped));
    }

    #[test]
    fn bad_text() {
        assert!(dn_from_text("").is_err());
        assert!(dn_from_text("CN").unwrap_err().contains("ATTRIBUTE=value"));
        assert!(dn_from_text("XYZ=1")
            .unwrap_err()
            .contains("unknown DN attribute"));
        assert!(dn_from_text("CN=").unwrap_err().contains("empty value"));
    }

    #[test]
    fn long_names_use_long_form_lengths() {
        let long = "x".repeat(300);
        let der = dn_from_text(&format!("CN={long}")).unwrap();
        assert_eq!(dn_to_text(&der), Some(format!("CN={long}")));
    }
}
