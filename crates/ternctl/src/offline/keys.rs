//! `--keys FILE`: IKE SA keys in Wireshark's ikev2_decryption_table format, one
//! SA a line: "initiator SPI","responder SPI","SK_ei","SK_er","encryption
//! alg","SK_ai","SK_ar","integrity alg" (hex, algorithms by Wireshark's names,
//! e.g. "AES-GCM-128 with 16 octet ICV [RFC5282]" and "NONE [RFC4306]"; for
//! AES-GCM the SK_e* hold the key and its 4-octet salt). With them the SK
//! payloads of those SAs are opened; fragments (SKF) are not reassembled.

use std::collections::HashMap;

use tern_crypto::{AeadAlg, IntegAlg, Secret, SkCipher, SkTransform};
use tern_wire::{Message, Payload};
use zeroize::Zeroizing;

use super::story::Decrypter;

/// The two directions' ciphers of one IKE SA.
struct SaKeys {
    /// Messages from the original initiator (SK_ei/SK_ai).
    initiator: SkCipher,
    /// Messages from the original responder (SK_er/SK_ar).
    responder: SkCipher,
}

/// An IKE SA's SPI pair: initiator's, responder's.
type Spis = ([u8; 8], [u8; 8]);

/// The keys of a file, by SPI pair.
pub struct KeyTable {
    sas: HashMap<Spis, SaKeys>,
}

impl KeyTable {
    /// Parses the file's text; an error names the line and what is wrong.
    pub fn parse(text: &str) -> Result<KeyTable, String> {
        let mut sas = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (spis, keys) = sa_line(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            sas.insert(spis, keys);
        }
        Ok(KeyTable { sas })
    }
}

/// The fields of a line: comma-separated, each optionally in double quotes
/// (wiped when dropped: they hold keys).
fn fields(line: &str) -> Zeroizing<Vec<String>> {
    Zeroizing::new(
        line.split(',')
            .map(|f| f.trim().trim_matches('"').trim().to_string())
            .collect(),
    )
}

fn hex_bytes(what: &str, text: &str) -> Result<Vec<u8>, String> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if !text.len().is_multiple_of(2) {
        return Err(format!("{what} has an odd number of hex digits"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(text.get(i..i + 2).unwrap_or("?"), 16)
                .map_err(|_| format!("{what} is not hex"))
        })
        .collect()
}

fn spi(what: &str, text: &str) -> Result<[u8; 8], String> {
    hex_bytes(what, text)?
        .try_into()
        .map_err(|_| format!("{what} is not 8 octets (16 hex digits)"))
}

/// Wireshark's name of an encryption algorithm (the part before " [RFC...]").
fn encryption(name: &str, integ: Option<IntegAlg>) -> Result<SkTransform, String> {
    let base = name.split(" [").next().unwrap_or(name).to_ascii_uppercase();
    let bits = |s: &str| -> Option<u16> {
        s.split('-')
            .find_map(|w| w.split_whitespace().next()?.parse().ok())
    };
    let gcm = |icv: &str, key_bits: u16| match icv {
        "8" => Some(AeadAlg::AesGcm8 { key_bits }),
        "12" => Some(AeadAlg::AesGcm12 { key_bits }),
        "16" => Some(AeadAlg::AesGcm16 { key_bits }),
        _ => None,
    };
    let unknown = || {
        format!(
            "encryption algorithm \"{name}\" is not one this reader opens (AES-CBC-128/192/256, AES-GCM-128/192/256 with 8, 12 or 16 octet ICV, CHACHA20-POLY1305)"
        )
    };
    if let Some(rest) = base.strip_prefix("AES-CBC-") {
        let key_bits = bits(rest).ok_or_else(unknown)?;
        let integ = integ.ok_or("AES-CBC needs an integrity algorithm, and the line has NONE")?;
        return Ok(SkTransform::AesCbc { key_bits, integ });
    }
    if let Some(rest) = base.strip_prefix("AES-GCM-") {
        let key_bits = bits(rest).ok_or_else(unknown)?;
        let icv = rest
            .split("WITH ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("16");
        return gcm(icv, key_bits)
            .map(SkTransform::Aead)
            .ok_or_else(unknown);
    }
    if base.starts_with("CHACHA20") {
        return Ok(SkTransform::Aead(AeadAlg::ChaCha20Poly1305));
    }
    Err(unknown())
}

fn integrity(name: &str) -> Result<Option<IntegAlg>, String> {
    let base = name.split(" [").next().unwrap_or(name).to_ascii_uppercase();
    Ok(Some(match base.as_str() {
        "" | "NONE" => return Ok(None),
        "HMAC_SHA1_96" => IntegAlg::HmacSha1_96,
        "HMAC_SHA2_256_128" => IntegAlg::HmacSha256_128,
        "HMAC_SHA2_384_192" => IntegAlg::HmacSha384_192,
        "HMAC_SHA2_512_256" => IntegAlg::HmacSha512_256,
        _ => return Err(format!(
            "integrity algorithm \"{name}\" is not one this reader checks (NONE, HMAC_SHA1_96, HMAC_SHA2_256_128, HMAC_SHA2_384_192, HMAC_SHA2_512_256)"
        )),
    }))
}

fn sa_line(line: &str) -> Result<(Spis, SaKeys), String> {
    let f = fields(line);
    if f.len() != 8 {
        return Err(format!(
            "{} fields where Wireshark's ikev2_decryption_table has 8 (initiator SPI, responder SPI, SK_ei, SK_er, encryption alg, SK_ai, SK_ar, integrity alg)",
            f.len()
        ));
    }
    let integ = integrity(&f[7])?;
    let transform = encryption(&f[4], integ)?;
    let cipher = |encr: &str, auth: &str, side: &str| -> Result<SkCipher, String> {
        let e = Secret::new(hex_bytes(&format!("SK_e{side}"), encr)?);
        let a = Secret::new(hex_bytes(&format!("SK_a{side}"), auth)?);
        if e.len() != transform.encr_key_len() {
            return Err(format!(
                "SK_e{side} has {} octets; {} needs {} (for AES-GCM the key and its 4-octet salt)",
                e.len(),
                f[4],
                transform.encr_key_len()
            ));
        }
        if a.len() != transform.integ_key_len() {
            return Err(format!(
                "SK_a{side} has {} octets; {} needs {}",
                a.len(),
                f[7],
                transform.integ_key_len()
            ));
        }
        SkCipher::with_transform(transform, &e, &a).map_err(|e| format!("SK_e{side}: {e}"))
    };
    Ok((
        (spi("initiator SPI", &f[0])?, spi("responder SPI", &f[1])?),
        SaKeys {
            initiator: cipher(&f[2], &f[5], "i")?,
            responder: cipher(&f[3], &f[6], "r")?,
        },
    ))
}

impl Decrypter for KeyTable {
    fn inner(&self, message: &Message, bytes: &[u8]) -> Result<Option<Vec<Payload>>, String> {
        let h = &message.header;
        let Some(keys) = self.sas.get(&(h.initiator_spi, h.responder_spi)) else {
            return Ok(None);
        };
        let Some(Payload::Encrypted(sk)) = message.payloads.last() else {
            return Ok(None);
        };
        let cipher = if h.flags.is_initiator() {
            &keys.initiator
        } else {
            &keys.responder
        };
        let aad = &bytes[..bytes.len() - sk.body.len()];
        let plain = cipher.open(aad, &sk.body).map_err(|e| {
            format!("the SK payload does not verify with the keys given for this IKE SA: {e}")
        })?;
        tern_wire::parse_payloads(sk.first_inner, &plain)
            .map(Some)
            .map_err(|e| format!("the decrypted payloads do not parse: {e}"))
    }
}
