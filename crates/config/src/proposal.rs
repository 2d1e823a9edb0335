//! Proposal strings in strongSwan's syntax: algorithm keywords joined by dashes,
//! e.g. `aes128gcm16-prfsha256-x25519` or `aes256-sha256-modp2048` (IKE), and
//! `aes128gcm16-x25519-esn` or `aes128-sha256` (ESP).

use tern_engine::config::{Encryption, EspProposal, IkeProposal, Integrity, KeyExchange, Prf};

use crate::error::ValueError;

/// What one keyword of a proposal selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyword {
    Encryption(Encryption),
    Integrity(Integrity),
    Prf(Prf),
    KeyExchange(KeyExchange),
    Esn(bool),
}

/// Every keyword tern understands, the canonical spelling first for each value
/// (that is the one written back). `aesNNNgcm` without an ICV size means 16
/// octets; `gcm128`, `gcm96`, `gcm64` give the ICV in bits.
fn keywords() -> Vec<(String, Keyword)> {
    let mut k: Vec<(String, Keyword)> = Vec::new();
    let mut add = |name: &str, kw| k.push((name.to_string(), kw));
    for bits in [128u16, 192, 256] {
        let gcm16 = Keyword::Encryption(Encryption::AesGcm16 { key_bits: bits });
        let gcm12 = Keyword::Encryption(Encryption::AesGcm12 { key_bits: bits });
        let gcm8 = Keyword::Encryption(Encryption::AesGcm8 { key_bits: bits });
        add(&format!("aes{bits}gcm16"), gcm16);
        add(&format!("aes{bits}gcm128"), gcm16);
        add(&format!("aes{bits}gcm"), gcm16);
        add(&format!("aes{bits}gcm12"), gcm12);
        add(&format!("aes{bits}gcm96"), gcm12);
        add(&format!("aes{bits}gcm8"), gcm8);
        add(&format!("aes{bits}gcm64"), gcm8);
        add(
            &format!("aes{bits}"),
            Keyword::Encryption(Encryption::AesCbc { key_bits: bits }),
        );
    }
    add(
        "aes",
        Keyword::Encryption(Encryption::AesCbc { key_bits: 128 }),
    );
    add(
        "chacha20poly1305",
        Keyword::Encryption(Encryption::ChaCha20Poly1305),
    );
    add("sha1", Keyword::Integrity(Integrity::HmacSha1_96));
    add("sha256", Keyword::Integrity(Integrity::HmacSha256_128));
    add("sha2_256", Keyword::Integrity(Integrity::HmacSha256_128));
    add("sha384", Keyword::Integrity(Integrity::HmacSha384_192));
    add("sha2_384", Keyword::Integrity(Integrity::HmacSha384_192));
    add("sha512", Keyword::Integrity(Integrity::HmacSha512_256));
    add("sha2_512", Keyword::Integrity(Integrity::HmacSha512_256));
    add("prfsha1", Keyword::Prf(Prf::HmacSha1));
    add("prfsha256", Keyword::Prf(Prf::HmacSha256));
    add("prfsha384", Keyword::Prf(Prf::HmacSha384));
    add("prfsha512", Keyword::Prf(Prf::HmacSha512));
    add("x25519", Keyword::KeyExchange(KeyExchange::X25519));
    add("curve25519", Keyword::KeyExchange(KeyExchange::X25519));
    add("ecp256", Keyword::KeyExchange(KeyExchange::Ecp256));
    add("ecp384", Keyword::KeyExchange(KeyExchange::Ecp384));
    add("modp1024", Keyword::KeyExchange(KeyExchange::Modp1024));
    add("modp2048", Keyword::KeyExchange(KeyExchange::Modp2048));
    add("modp3072", Keyword::KeyExchange(KeyExchange::Modp3072));
    add("modp4096", Keyword::KeyExchange(KeyExchange::Modp4096));
    add("esn", Keyword::Esn(true));
    add("noesn", Keyword::Esn(false));
    k
}

const IKE_SUPPORTED: &str =
    "encryption aes128gcm16, aes256gcm16 (also gcm12, gcm8, and 192-bit keys), \
    chacha20poly1305, aes128, aes192, aes256 (CBC); integrity sha1, sha256, sha384, sha512; \
    prf prfsha1, prfsha256, prfsha384, prfsha512; key exchange x25519, ecp256, ecp384, \
    modp2048, modp3072, modp4096, modp1024 (legacy)";
const ESP_SUPPORTED: &str =
    "encryption aes128gcm16, aes256gcm16 (also gcm12, gcm8, and 192-bit keys), \
    chacha20poly1305, aes128, aes192, aes256 (CBC); integrity sha1, sha256, sha384, sha512; \
    key exchange (PFS) x25519, ecp256, ecp384, modp2048, modp3072, modp4096, modp1024; esn, noesn";

/// Parses an IKE proposal.
pub fn parse_ike_proposal(s: &str) -> Result<IkeProposal, String> {
    ike_proposal(s).map_err(|e| e.message)
}

/// Parses an ESP proposal.
pub fn parse_esp_proposal(s: &str) -> Result<EspProposal, String> {
    esp_proposal(s).map_err(|e| e.message)
}

/// strongSwan's rule: an IKE proposal without a prf uses the one matching its
/// integrity algorithm.
fn prf_for(i: Integrity) -> Prf {
    match i {
        Integrity::HmacSha1_96 => Prf::HmacSha1,
        Integrity::HmacSha256_128 => Prf::HmacSha256,
        Integrity::HmacSha384_192 => Prf::HmacSha384,
        Integrity::HmacSha512_256 => Prf::HmacSha512,
    }
}

/// AES-CBC needs an integrity algorithm; AEAD ciphers must not have one.
fn check_integrity(
    s: &str,
    kind: &str,
    encryption: &[Encryption],
    integrity: &[Integrity],
) -> Result<(), ValueError> {
    let whole = 0..s.len();
    let cbc = encryption.iter().any(|e| !e.is_aead());
    let aead = encryption.iter().any(|e| e.is_aead());
    if cbc && aead {
        return Err(ValueError::new(
            whole,
            format!("{kind} proposal `{s}` mixes AEAD (gcm, chacha20poly1305) and CBC encryption; write two proposals"),
        ));
    }
    if cbc && integrity.is_empty() {
        return Err(ValueError::new(
            whole,
            format!("{kind} proposal `{s}` uses CBC encryption without an integrity algorithm; add sha256 (or sha1, sha384, sha512)"),
        ));
    }
    if aead && !integrity.is_empty() {
        return Err(ValueError::new(
            whole,
            format!("{kind} proposal `{s}` gives an integrity algorithm to AEAD encryption, which has its own; remove it"),
        ));
    }
    Ok(())
}

pub(crate) fn ike_proposal(s: &str) -> Result<IkeProposal, ValueError> {
    let mut proposal = IkeProposal {
        encryption: vec![],
        integrity: vec![],
        prf: vec![],
        key_exchange: vec![],
    };
    for (at, keyword) in parse_words(s, "IKE", IKE_SUPPORTED)? {
        match keyword {
            Keyword::Encryption(e) => push_new(&mut proposal.encryption, e),
            Keyword::Integrity(i) => push_new(&mut proposal.integrity, i),
            Keyword::Prf(p) => push_new(&mut proposal.prf, p),
            Keyword::KeyExchange(k) => push_new(&mut proposal.key_exchange, k),
            Keyword::Esn(_) => {
                return Err(ValueError::new(
                    at,
                    "`esn`/`noesn` belong in ESP proposals, not IKE proposals",
                ))
            }
        }
    }
    let whole = 0..s.len();
    if proposal.encryption.is_empty() {
        return Err(ValueError::new(
            whole,
            format!(
                "IKE proposal `{s}` has no encryption algorithm; add aes128gcm16 or aes256gcm16"
            ),
        ));
    }
    check_integrity(s, "IKE", &proposal.encryption, &proposal.integrity)?;
    if proposal.prf.is_empty() {
        proposal.prf = proposal.integrity.iter().map(|&i| prf_for(i)).collect();
    }
    if proposal.prf.is_empty() {
        return Err(ValueError::new(
            whole,
            format!("IKE proposal `{s}` has no prf; add prfsha256, prfsha384 or prfsha512"),
        ));
    }
    if proposal.key_exchange.is_empty() {
        return Err(ValueError::new(
            whole,
            format!("IKE proposal `{s}` has no key exchange method; add x25519"),
        ));
    }
    Ok(proposal)
}

pub(crate) fn esp_proposal(s: &str) -> Result<EspProposal, ValueError> {
    let mut proposal = EspProposal {
        encryption: vec![],
        integrity: vec![],
        key_exchange: vec![],
        esn: false,
    };
    let mut esn_seen: Option<bool> = None;
    for (at, keyword) in parse_words(s, "ESP", ESP_SUPPORTED)? {
        match keyword {
            Keyword::Encryption(e) => push_new(&mut proposal.encryption, e),
            Keyword::Integrity(i) => push_new(&mut proposal.integrity, i),
            Keyword::KeyExchange(k) => push_new(&mut proposal.key_exchange, k),
            Keyword::Prf(_) => {
                return Err(ValueError::new(at, "ESP proposals have no prf; remove it"));
            }
            Keyword::Esn(esn) => {
                // One proposal negotiates one ESN setting (the engine keeps a single flag).
                if esn_seen.is_some_and(|seen| seen != esn) {
                    return Err(ValueError::new(
                        at,
                        "`esn` and `noesn` in one proposal; write two proposals to offer both",
                    ));
                }
                esn_seen = Some(esn);
                proposal.esn = esn;
            }
        }
    }
    if proposal.encryption.is_empty() {
        return Err(ValueError::new(
            0..s.len(),
            format!(
                "ESP proposal `{s}` has no encryption algorithm; add aes128gcm16 or aes256gcm16"
            ),
        ));
    }
    check_integrity(s, "ESP", &proposal.encryption, &proposal.integrity)?;
    Ok(proposal)
}

/// Splits `s` at dashes and looks every piece up, with its byte range in `s`.
fn parse_words(
    s: &str,
    kind: &str,
    supported: &str,
) -> Result<Vec<(std::ops::Range<usize>, Keyword)>, ValueError> {
    let table = keywords();
    let mut out = Vec::new();
    let mut start = 0;
    for word in s.split('-') {
        let at = start..start + word.len();
        start += word.len() + 1;
        if word.is_empty() {
            return Err(ValueError::new(
                at,
                format!("empty algorithm name in {kind} proposal `{s}`"),
            ));
        }
        let lower = word.to_ascii_lowercase();
        let Some((_, keyword)) = table.iter().find(|(name, _)| *name == lower) else {
            return Err(ValueError::new(
                at,
                format!(
                    "unsupported algorithm `{word}` in {kind} proposal; tern supports {supported}"
                ),
            ));
        };
        out.push((at, *keyword));
    }
    Ok(out)
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The canonical keyword of a value: the first spelling in the table.
fn keyword_of(k: Keyword) -> String {
    keywords()
        .into_iter()
        .find(|(_, kw)| *kw == k)
        .map(|(name, _)| name)
        .expect("every value has a keyword")
}

/// A key exchange method as the file names it (`x25519`, `modp2048`).
pub fn key_exchange_word(k: KeyExchange) -> String {
    keyword_of(Keyword::KeyExchange(k))
}

/// An IKE proposal in the syntax [`parse_ike_proposal`] reads.
pub fn format_ike_proposal(p: &IkeProposal) -> String {
    let mut words: Vec<String> = p
        .encryption
        .iter()
        .map(|&e| keyword_of(Keyword::Encryption(e)))
        .collect();
    words.extend(
        p.integrity
            .iter()
            .map(|&i| keyword_of(Keyword::Integrity(i))),
    );
    words.extend(p.prf.iter().map(|&x| keyword_of(Keyword::Prf(x))));
    words.extend(
        p.key_exchange
            .iter()
            .map(|&k| keyword_of(Keyword::KeyExchange(k))),
    );
    words.join("-")
}

/// An ESP proposal in the syntax [`parse_esp_proposal`] reads (`noesn` is implied).
pub fn format_esp_proposal(p: &EspProposal) -> String {
    let mut words: Vec<String> = p
        .encryption
        .iter()
        .map(|&e| keyword_of(Keyword::Encryption(e)))
        .collect();
    words.extend(
        p.integrity
            .iter()
            .map(|&i| keyword_of(Keyword::Integrity(i))),
    );
    words.extend(
        p.key_exchange
            .iter()
            .map(|&k| keyword_of(Keyword::KeyExchange(k))),
    );
    if p.esn {
        words.push("esn".into());
    }
    words.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AES128_GCM16: Encryption = Encryption::AesGcm16 { key_bits: 128 };
    const AES256_GCM16: Encryption = Encryption::AesGcm16 { key_bits: 256 };

    #[test]
    fn demo_ike_proposal() {
        let p = parse_ike_proposal("aes128gcm16-prfsha256-x25519").unwrap();
        assert_eq!(
            p,
            IkeProposal {
                encryption: vec![AES128_GCM16],
                integrity: vec![],
                prf: vec![Prf::HmacSha256],
                key_exchange: vec![KeyExchange::X25519],
            }
        );
        assert_eq!(format_ike_proposal(&p), "aes128gcm16-prfsha256-x25519");
    }

    #[test]
    fn aliases_mean_the_same() {
        let canonical = parse_ike_proposal("aes256gcm16-prfsha384-x25519").unwrap();
        for alias in [
            "aes256gcm128-prfsha384-curve25519",
            "AES256GCM-prfsha384-x25519",
        ] {
            assert_eq!(parse_ike_proposal(alias).unwrap(), canonical, "{alias}");
        }
        assert_eq!(
            parse_ike_proposal("aes128gcm-prfsha256-x25519")
                .unwrap()
                .encryption,
            [AES128_GCM16]
        );
    }

    #[test]
    fn several_algorithms_of_a_kind_keep_their_order() {
        let p = parse_ike_proposal("aes256gcm16-aes128gcm16-prfsha512-prfsha256-x25519").unwrap();
        assert_eq!(p.encryption, [AES256_GCM16, AES128_GCM16]);
        assert_eq!(p.prf, [Prf::HmacSha512, Prf::HmacSha256]);
        assert_eq!(
            format_ike_proposal(&p),
            "aes256gcm16-aes128gcm16-prfsha512-prfsha256-x25519"
        );
    }

    #[test]
    fn windows_and_strongswan_style_cbc_proposals() {
        // The Windows client's kind of proposal: CBC, SHA, MODP; the prf follows the integrity.
        let p = parse_ike_proposal("aes256-sha256-modp2048").unwrap();
        assert_eq!(p.encryption, [Encryption::AesCbc { key_bits: 256 }]);
        assert_eq!(p.integrity, [Integrity::HmacSha256_128]);
        assert_eq!(p.prf, [Prf::HmacSha256]);
        assert_eq!(p.key_exchange, [KeyExchange::Modp2048]);
        assert_eq!(format_ike_proposal(&p), "aes256-sha256-prfsha256-modp2048");
        let legacy = parse_ike_proposal("aes128-sha1-modp1024").unwrap();
        assert_eq!(legacy.prf, [Prf::HmacSha1]);
        let esp = parse_esp_proposal("aes128-sha256-ecp256").unwrap();
        assert_eq!(esp.integrity, [Integrity::HmacSha256_128]);
        assert_eq!(esp.key_exchange, [KeyExchange::Ecp256]);
        assert_eq!(
            parse_esp_proposal("chacha20poly1305").unwrap().encryption,
            [Encryption::ChaCha20Poly1305]
        );
    }

    #[test]
    fn cbc_and_aead_rules() {
        assert!(parse_ike_proposal("aes256-prfsha256-x25519")
            .unwrap_err()
            .contains("without an integrity algorithm"));
        assert!(parse_esp_proposal("aes128gcm16-sha256")
            .unwrap_err()
            .contains("has its own"));
        assert!(parse_esp_proposal("aes128gcm16-aes128-sha256")
            .unwrap_err()
            .contains("mixes AEAD"));
    }

    #[test]
    fn unsupported_keyword_is_named_with_its_position() {
        let e = ike_proposal("aes128gcm16-prfsha256-modp768").unwrap_err();
        assert_eq!(e.at, 22..29);
        assert!(
            e.message.contains("unsupported algorithm `modp768`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("x25519"), "{}", e.message);
        for bad in ["3des", "md5", "ecp521", "camellia128"] {
            let text = format!("{bad}-aes128gcm16-prfsha256-x25519");
            let msg = parse_ike_proposal(&text).unwrap_err();
            assert!(msg.contains(&format!("`{bad}`")), "{msg}");
        }
    }

    #[test]
    fn ike_proposal_needs_every_kind() {
        assert!(parse_ike_proposal("prfsha256-x25519")
            .unwrap_err()
            .contains("no encryption"));
        assert!(parse_ike_proposal("aes128gcm16-x25519")
            .unwrap_err()
            .contains("no prf"));
        assert!(parse_ike_proposal("aes128gcm16-prfsha256")
            .unwrap_err()
            .contains("no key exchange"));
        assert!(parse_ike_proposal("")
            .unwrap_err()
            .contains("empty algorithm"));
        assert!(parse_ike_proposal("aes128gcm16--x25519")
            .unwrap_err()
            .contains("empty algorithm"));
        assert!(parse_ike_proposal("aes128gcm16-prfsha256-x25519-esn")
            .unwrap_err()
            .contains("ESP"));
    }

    #[test]
    fn esp_proposals() {
        let p = parse_esp_proposal("aes128gcm16").unwrap();
        assert_eq!(
            p,
            EspProposal {
                encryption: vec![AES128_GCM16],
                integrity: vec![],
                key_exchange: vec![],
                esn: false
            }
        );
        assert_eq!(format_esp_proposal(&p), "aes128gcm16");

        let pfs = parse_esp_proposal("aes256gcm16-x25519-esn").unwrap();
        assert_eq!(pfs.key_exchange, [KeyExchange::X25519]);
        assert!(pfs.esn);
        assert_eq!(format_esp_proposal(&pfs), "aes256gcm16-x25519-esn");

        assert!(!parse_esp_proposal("aes128gcm16-noesn").unwrap().esn);
        assert!(parse_esp_proposal("aes128gcm16-esn-noesn")
            .unwrap_err()
            .contains("`esn` and `noesn`"));
        assert!(parse_esp_proposal("aes128gcm16-prfsha256")
            .unwrap_err()
            .contains("no prf"));
        assert!(parse_esp_proposal("x25519")
            .unwrap_err()
            .contains("no encryption"));
    }
}
