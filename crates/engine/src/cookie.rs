//! Stateless cookies for IKE_SA_INIT (RFC 7296 §2.6).
//!
//! When too many IKE SAs are half-open (IKE_SA_INIT answered, IKE_AUTH not yet
//! seen), a responder answers new IKE_SA_INIT requests with a COOKIE instead of
//! doing the key exchange, and keeps no state. Only an initiator that can receive
//! at its source address comes back with the cookie, so spoofed floods cost us a
//! hash each, not a Diffie-Hellman and a table entry.
//!
//! Cookie = version (1 octet) | HMAC-SHA256(secret, Ni | IPi | SPIi), as §2.6
//! suggests. The secret is replaced every [`SECRET_LIFETIME`]; cookies made with
//! the previous one stay valid until the next change, so an initiator that is
//! mid-retry is not turned away.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tern_crypto::{ct_eq, prf, PrfAlg};
use zeroize::Zeroizing;

/// How long one secret makes cookies before the next replaces it.
pub(crate) const SECRET_LIFETIME: Duration = Duration::from_secs(120);

const SECRET_LEN: usize = 32;

struct Secret {
    version: u8,
    key: Zeroizing<[u8; SECRET_LEN]>,
    made_at: Instant,
}

/// The responder's cookie secrets: the current one and the one before it.
#[derive(Default)]
pub(crate) struct CookieJar {
    current: Option<Secret>,
    previous: Option<Secret>,
}

impl CookieJar {
    /// The cookie this initiator must send back. `random` fills a new secret
    /// when the current one is missing or too old.
    pub fn make(
        &mut self,
        now: Instant,
        random: impl FnOnce(&mut [u8]),
        nonce_i: &[u8],
        ip_i: IpAddr,
        spi_i: &[u8; 8],
    ) -> Vec<u8> {
        let stale = self
            .current
            .as_ref()
            .is_none_or(|s| now.saturating_duration_since(s.made_at) >= SECRET_LIFETIME);
        if stale {
            let mut key = Zeroizing::new([0; SECRET_LEN]);
            random(&mut key[..]);
            let version = self
                .current
                .as_ref()
                .map_or(0, |s| s.version.wrapping_add(1));
            self.previous = self.current.take();
            self.current = Some(Secret {
                version,
                key,
                made_at: now,
            });
        }
        let secret = self.current.as_ref().expect("made above");
        cookie(secret, nonce_i, ip_i, spi_i)
    }

    /// Whether `presented` is a cookie we made for this initiator with the
    /// current or the previous secret.
    pub fn is_valid(
        &self,
        presented: &[u8],
        nonce_i: &[u8],
        ip_i: IpAddr,
        spi_i: &[u8; 8],
    ) -> bool {
        let Some(&version) = presented.first() else {
            return false;
        };
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .filter(|s| s.version == version)
            .any(|s| ct_eq(&cookie(s, nonce_i, ip_i, spi_i), presented))
    }
}

fn cookie(secret: &Secret, nonce_i: &[u8], ip_i: IpAddr, spi_i: &[u8; 8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(nonce_i.len() + 16 + 8);
    data.extend_from_slice(nonce_i);
    match ip_i {
        IpAddr::V4(ip) => data.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => data.extend_from_slice(&ip.octets()),
    }
    data.extend_from_slice(spi_i);
    let mut out = vec![secret.version];
    out.extend(prf(PrfAlg::HmacSha256, &secret.key[..], &data));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const SPI: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    fn fill(byte: u8) -> impl FnOnce(&mut [u8]) {
        move |b: &mut [u8]| b.fill(byte)
    }

    #[test]
    fn a_cookie_is_valid_only_for_the_initiator_it_was_made_for() {
        let now = Instant::now();
        let mut jar = CookieJar::default();
        let c = jar.make(now, fill(7), b"nonce", IP, &SPI);
        assert_eq!(c.len(), 33, "version octet and a SHA-256 HMAC");
        assert!(jar.is_valid(&c, b"nonce", IP, &SPI));
        assert!(!jar.is_valid(&c, b"other", IP, &SPI));
        assert!(!jar.is_valid(&c, b"nonce", "192.0.2.9".parse().unwrap(), &SPI));
        assert!(!jar.is_valid(&c, b"nonce", IP, &[0; 8]));
        assert!(!jar.is_valid(&[], b"nonce", IP, &SPI));
        let mut forged = c.clone();
        forged[5] ^= 1;
        assert!(!jar.is_valid(&forged, b"nonce", IP, &SPI));
    }

    #[test]
    fn cookies_survive_one_secret_change_but_not_two() {
        let t0 = Instant::now();
        let mut jar = CookieJar::default();
        let c = jar.make(t0, fill(1), b"n", IP, &SPI);
        // Same secret within its lifetime: the same cookie.
        assert_eq!(
            jar.make(t0 + Duration::from_secs(1), fill(9), b"n", IP, &SPI),
            c
        );
        let c2 = jar.make(t0 + SECRET_LIFETIME, fill(2), b"n", IP, &SPI);
        assert_ne!(c2, c);
        assert!(
            jar.is_valid(&c, b"n", IP, &SPI),
            "previous secret still accepted"
        );
        jar.make(t0 + SECRET_LIFETIME * 2, fill(3), b"n", IP, &SPI);
        assert!(
            !jar.is_valid(&c, b"n", IP, &SPI),
            "two secrets ago: refused"
        );
        assert!(jar.is_valid(&c2, b"n", IP, &SPI));
    }
}
