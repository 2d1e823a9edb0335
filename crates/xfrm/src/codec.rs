//! Byte writer and reader for netlink/XFRM structures.
//!
//! Netlink integers are in host byte order; the fields the kernel keeps in
//! network order (SPIs, ports, addresses) have their own `_be` methods so the
//! choice is visible at every call site. Nothing here transmutes Rust structs.

use std::net::IpAddr;

/// Netlink aligns messages and attributes to 4 bytes.
pub(crate) const NLA_ALIGNTO: usize = 4;

pub(crate) const fn align4(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

/// Rounds a C struct's length up to the alignment of `u64` on this target:
/// structs holding a `__u64` (xfrm_usersa_info, xfrm_userpolicy_info) carry
/// tail padding on 64-bit targets (224 bytes) but not on i386 (220 bytes).
pub(crate) const fn align_u64(len: usize) -> usize {
    let a = std::mem::align_of::<u64>();
    (len + a - 1) & !(a - 1)
}

/// Appends fields to a growing byte buffer.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn u16_be(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32_be(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Pads with zeros until the buffer is `len` bytes long (C tail padding).
    pub(crate) fn pad_to(&mut self, start: usize, len: usize) {
        let end = start + len;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
    }

    pub(crate) fn align4(&mut self) {
        let n = align4(self.buf.len());
        self.buf.resize(n, 0);
    }

    /// xfrm_address_t: 16 bytes, network order, IPv4 in the first 4 bytes.
    pub(crate) fn addr(&mut self, a: Option<IpAddr>) {
        match a {
            Some(IpAddr::V4(v4)) => {
                self.bytes(&v4.octets());
                self.zeros(12);
            }
            Some(IpAddr::V6(v6)) => self.bytes(&v6.octets()),
            None => self.zeros(16),
        }
    }

    /// A fixed-size, NUL-padded C string field (alg_name[64]).
    /// The caller has checked that `s` fits with its terminating NUL.
    pub(crate) fn c_string(&mut self, s: &str, size: usize) {
        let b = s.as_bytes();
        let n = b.len().min(size.saturating_sub(1));
        self.bytes(&b[..n]);
        self.zeros(size - n);
    }

    /// Writes one netlink attribute (struct nlattr + payload + padding).
    pub(crate) fn attr(&mut self, kind: u16, body: impl FnOnce(&mut Writer)) {
        let start = self.buf.len();
        self.u16(0); // nla_len, patched below
        self.u16(kind);
        body(self);
        let len = self.buf.len() - start;
        self.patch_u16(start, len as u16);
        self.align4();
    }

    pub(crate) fn patch_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    }
}

/// Why a kernel reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in the structure being read where the problem was found.
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.what, self.offset)
    }
}

pub(crate) type DecodeResult<T> = Result<T, DecodeError>;

/// Reads fields from a byte slice; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> DecodeResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError {
                offset: self.pos,
                what,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> DecodeResult<()> {
        self.take(n, what).map(|_| ())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> DecodeResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> DecodeResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> DecodeResult<u16> {
        Ok(u16::from_ne_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> DecodeResult<u32> {
        Ok(u32::from_ne_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> DecodeResult<i32> {
        Ok(i32::from_ne_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> DecodeResult<u64> {
        Ok(u64::from_ne_bytes(self.array(what)?))
    }

    pub(crate) fn u16_be(&mut self, what: &'static str) -> DecodeResult<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32_be(&mut self, what: &'static str) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Reads an xfrm_address_t; `family` says how to interpret it.
    pub(crate) fn addr(&mut self, what: &'static str) -> DecodeResult<[u8; 16]> {
        self.array(what)
    }
}

/// Turns the 16 bytes of an xfrm_address_t into an address of `family`.
pub(crate) fn addr_from(family: u16, raw: [u8; 16]) -> Option<IpAddr> {
    match i32::from(family) {
        libc::AF_INET => Some(IpAddr::from([raw[0], raw[1], raw[2], raw[3]])),
        libc::AF_INET6 => Some(IpAddr::from(raw)),
        _ => None,
    }
}

/// Splits a run of netlink attributes into (type, payload) pairs.
/// Stops with an error on a length that does not fit; never panics.
pub(crate) fn attributes(mut buf: &[u8]) -> impl Iterator<Item = DecodeResult<(u16, &[u8])>> {
    let mut offset = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || buf.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]);
        if len < 4 || len > buf.len() {
            failed = true;
            return Some(Err(DecodeError {
                offset,
                what: "attribute length",
            }));
        }
        let payload = &buf[4..len];
        let step = align4(len).min(buf.len());
        buf = &buf[step..];
        offset += step;
        // NLA_F_NESTED / NLA_F_NET_BYTEORDER live in the top bits of the type.
        Some(Ok((kind & 0x3fff, payload)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_walk_rejects_bad_lengths_without_panicking() {
        let bytes = [8u8, 0, 1, 0, 1, 2, 3, 4, 200, 0, 2, 0];
        let got: Vec<_> = attributes(&bytes).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok((1, &[1u8, 2, 3, 4][..])));
        assert!(got[1].is_err());
        // A truncated header ends the walk quietly.
        assert_eq!(attributes(&[1u8, 0]).count(), 0);
    }

    #[test]
    fn reader_reports_offset_of_short_read() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("a").ok(), Some(u16::from_ne_bytes([1, 2])));
        let e = r.u32("b").unwrap_err();
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn ipv4_addresses_sit_in_the_first_four_bytes() {
        let mut w = Writer::new();
        w.addr(Some("192.0.2.1".parse().unwrap()));
        let b = w.into_bytes();
        assert_eq!(&b[..4], &[192, 0, 2, 1]);
        assert_eq!(&b[4..], &[0u8; 12]);
    }
}
