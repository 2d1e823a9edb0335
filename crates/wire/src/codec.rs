//! A bounds-checked reading cursor and a length-patching writer.
//!
//! Every read is checked against what is left, and every error records the absolute
//! offset, so payload parsers stay short and cannot index out of bounds.

use crate::error::{WireError, WireErrorKind};

/// Reads big-endian fields from a slice; `base` is the slice's offset in the
/// buffer the caller started from, so errors report absolute offsets.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
        }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error located at the next unread byte.
    pub(crate) fn error(&self, kind: WireErrorKind) -> WireError {
        WireError {
            offset: self.offset(),
            kind,
        }
    }

    pub(crate) fn bytes(
        &mut self,
        n: usize,
        expected: &'static str,
    ) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(self.error(WireErrorKind::Truncated {
                expected,
                needed: n,
                available: self.remaining(),
            }));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        expected: &'static str,
    ) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, expected)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, expected: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(expected)?[0])
    }

    /// The next byte, without consuming it.
    pub(crate) fn peek_u8(&self, expected: &'static str) -> Result<u8, WireError> {
        self.data.get(self.pos).copied().ok_or_else(|| {
            self.error(WireErrorKind::Truncated {
                expected,
                needed: 1,
                available: 0,
            })
        })
    }

    pub(crate) fn u16(&mut self, expected: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(expected)?))
    }

    pub(crate) fn u32(&mut self, expected: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(expected)?))
    }

    /// Skips reserved bytes: RFC 7296 says they are sent as zero and ignored on receipt.
    pub(crate) fn skip_reserved(&mut self, n: usize) -> Result<(), WireError> {
        self.bytes(n, "reserved bytes").map(|_| ())
    }

    /// Splits off the next `n` bytes as their own reader (a sub-structure's body).
    pub(crate) fn sub(
        &mut self,
        n: usize,
        expected: &'static str,
    ) -> Result<Reader<'a>, WireError> {
        let base = self.offset();
        let data = self.bytes(n, expected)?;
        Ok(Reader { data, pos: 0, base })
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    /// Fails unless everything has been read.
    pub(crate) fn expect_end(&self) -> Result<(), WireError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(WireErrorKind::TrailingBytes(self.remaining())))
        }
    }
}

/// Appends big-endian fields; length fields are written as placeholders and
/// patched once the body after them is known ("lengths are written after the body").
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer::default()
    }

    /// A writer with room for `capacity` bytes before it has to grow (growing
    /// from empty took about six reallocations per message).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.buf.extend_from_slice(value);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Writes a zero u16 to be filled in by [`Writer::patch_length_u16`]; returns its position.
    pub(crate) fn length_u16_placeholder(&mut self) -> usize {
        let at = self.len();
        self.u16(0);
        at
    }

    /// Fills the u16 at `at` with the number of bytes written since `start`.
    pub(crate) fn patch_length_u16(
        &mut self,
        at: usize,
        start: usize,
        what: &'static str,
    ) -> Result<(), WireError> {
        let length = self.fit_u16(self.len() - start, what)?;
        self.buf[at..at + 2].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// Fills the u32 at `at` with the number of bytes written since `start`.
    pub(crate) fn patch_length_u32(
        &mut self,
        at: usize,
        start: usize,
        what: &'static str,
    ) -> Result<(), WireError> {
        let length = self.len() - start;
        let length =
            u32::try_from(length).map_err(|_| self.too_long(what, length, u32::MAX as usize))?;
        self.buf[at..at + 4].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// Converts a length or count for a one-byte field.
    pub(crate) fn fit_u8(&self, value: usize, what: &'static str) -> Result<u8, WireError> {
        u8::try_from(value).map_err(|_| self.too_long(what, value, u8::MAX as usize))
    }

    /// Converts a length or count for a two-byte field.
    pub(crate) fn fit_u16(&self, value: usize, what: &'static str) -> Result<u16, WireError> {
        u16::try_from(value).map_err(|_| self.too_long(what, value, u16::MAX as usize))
    }

    /// An error located at the current end of the output.
    pub(crate) fn error(&self, kind: WireErrorKind) -> WireError {
        WireError {
            offset: self.len(),
            kind,
        }
    }

    fn too_long(&self, what: &'static str, length: usize, max: usize) -> WireError {
        self.error(WireErrorKind::TooLong { what, length, max })
    }
}

/// Runs a [`Reader`]-based parser as a nom parser (while the payload bodies move
/// to nom): its offsets, relative to `input`, become the slice they point at.
pub(crate) fn reader_as_parser<'a, O>(
    input: &'a [u8],
    parse: impl FnOnce(&mut Reader<'a>) -> Result<O, WireError>,
) -> crate::parse::Parsed<'a, O> {
    let mut reader = Reader::new(input);
    match parse(&mut reader) {
        Ok(output) => Ok((&input[reader.offset()..], output)),
        Err(e) => crate::parse::fail(&input[e.offset.min(input.len())..], e.kind),
    }
}
