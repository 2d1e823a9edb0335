//! The OS random source, read a block at a time.
//!
//! An IKE SA takes five or six small random values (SPIs, nonce, key exchange
//! private key); reading each with its own getrandom system call cost a
//! responder five system calls per IKE SA, more than its UDP sends. This reads
//! the same kernel source 4 KiB at a time and hands the bytes out in order,
//! erasing each byte from the buffer as it goes: at most one block of future
//! randomness sits in memory, like the state of any user-space generator.

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

const BLOCK: usize = 4096;

pub struct BufferedRandom {
    rng: SystemRandom,
    block: Box<[u8; BLOCK]>,
    /// Bytes of `block` already handed out (and erased).
    used: usize,
}

impl Default for BufferedRandom {
    fn default() -> Self {
        BufferedRandom::new()
    }
}

impl BufferedRandom {
    pub fn new() -> BufferedRandom {
        BufferedRandom {
            rng: SystemRandom::new(),
            block: Box::new([0; BLOCK]),
            used: BLOCK,
        }
    }

    /// Fills `out` from the OS random source; fails only if that fails.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<(), ring::error::Unspecified> {
        if out.len() > BLOCK / 4 {
            // Large requests (none in IKE) gain nothing from the buffer.
            return self.rng.fill(out);
        }
        let mut done = 0;
        while done < out.len() {
            if self.used == BLOCK {
                self.rng.fill(&mut self.block[..])?;
                self.used = 0;
            }
            let n = (out.len() - done).min(BLOCK - self.used);
            let taken = &mut self.block[self.used..self.used + n];
            out[done..done + n].copy_from_slice(taken);
            taken.zeroize();
            self.used += n;
            done += n;
        }
        Ok(())
    }
}

impl Drop for BufferedRandom {
    fn drop(&mut self) {
        self.block.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_handed_out_once_and_erased() {
        let mut rng = BufferedRandom::new();
        let mut seen = Vec::new();
        // Across a block boundary, in odd sizes, and one large request.
        for size in [32, 8, 4000, 100, 1, 2000] {
            let mut out = vec![0u8; size];
            rng.fill(&mut out).unwrap();
            seen.push(out);
        }
        assert!(rng.block[..rng.used].iter().all(|b| *b == 0));
        // 32 random octets twice alike, or all zero, would be a broken source.
        assert_ne!(seen[0], vec![0; 32]);
        let mut again = [0u8; 32];
        rng.fill(&mut again).unwrap();
        assert_ne!(seen[0][..], again[..]);
    }
}
