//! Secret byte strings: zeroized on drop, compared in constant time, never
//! printed.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes (keys, shared secrets, key material).
///
/// The bytes are wiped when the value is dropped, `Debug` shows only the
/// length, and `==` runs in time independent of the contents (it does reveal
/// whether the lengths differ).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of `bytes` without copying them.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Copies `b` into a new secret.
    pub fn from_slice(b: &[u8]) -> Self {
        Secret(b.to_vec())
    }

    /// The secret bytes. Callers must not log or keep copies of them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Secret::new(bytes)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} octets)", self.0.len())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

/// Constant-time equality of two byte strings (AUTH values, ICVs, ...).
///
/// The time depends only on the lengths; strings of different lengths are
/// unequal.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_length() {
        let s = Secret::new(vec![0xde, 0xad, 0xbe, 0xef, 0x42]);
        let printed = format!("{s:?} {s:#?}");
        assert!(printed.contains("5 octets"), "{printed}");
        for needle in [
            "de", "ad", "be", "ef", "42", "222", "173", "190", "239", "66",
        ] {
            assert!(!printed.contains(needle), "{printed} leaks {needle}");
        }
    }

    #[test]
    fn equality_compares_contents_and_length() {
        let a = Secret::from_slice(b"same key");
        assert_eq!(a, Secret::new(b"same key".to_vec()));
        assert_ne!(a, Secret::from_slice(b"same kez"));
        assert_ne!(a, Secret::from_slice(b"same ke"));
        assert_ne!(a, Secret::from_slice(b""));
    }

    #[test]
    fn accessors() {
        let s = Secret::from_slice(&[1, 2, 3]);
        assert_eq!(s.expose(), &[1, 2, 3]);
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn zeroize_leaves_nothing_behind() {
        let mut s = Secret::from_slice(&[7; 16]);
        s.zeroize();
        assert!(s.is_empty());
    }

    #[test]
    fn ct_eq_behaves_like_eq() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(!ct_eq(b"abcd", b"abc"));
    }
}
