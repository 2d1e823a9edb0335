//! A length-patching writer (reading is nom's, see `parse`).

use crate::error::{WireError, WireErrorKind};

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
