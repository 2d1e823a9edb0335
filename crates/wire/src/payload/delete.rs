//! Delete payload (RFC 7296 §3.11).

use crate::codec::{Reader, Writer};
use crate::error::{WireError, WireErrorKind};
use crate::registry::ProtocolId;

/// D payload. For the IKE SA: protocol IKE, `spi_size` 0, no SPIs. For CHILD SAs:
/// protocol ESP or AH, `spi_size` 4, the inbound SPIs of the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletePayload {
    pub protocol: ProtocolId,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

impl DeletePayload {
    /// Deletes the IKE SA the message is sent under.
    pub fn ike() -> Self {
        DeletePayload {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: Vec::new(),
        }
    }

    /// Deletes the ESP CHILD SAs with these (4-byte) inbound SPIs.
    pub fn esp(spis: impl IntoIterator<Item = u32>) -> Self {
        DeletePayload {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: spis
                .into_iter()
                .map(|spi| spi.to_be_bytes().to_vec())
                .collect(),
        }
    }

    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<DeletePayload, WireError> {
        let protocol = ProtocolId(r.u8("delete protocol ID")?);
        let spi_size = r.u8("delete SPI size")?;
        let count_offset = r.offset();
        let count = usize::from(r.u16("number of SPIs")?);
        // Zero-size SPIs occupy no bytes, so a count without SPIs would let a few
        // bytes of input ask for thousands of entries.
        if spi_size == 0 && count != 0 {
            return Err(WireError {
                offset: count_offset,
                kind: WireErrorKind::CountMismatch {
                    what: "SPIs in a Delete payload with SPI size 0",
                    declared: count,
                    found: 0,
                },
            });
        }
        let expected = count * usize::from(spi_size);
        if r.remaining() != expected {
            return Err(r.error(WireErrorKind::BadLength {
                what: "Delete payload SPI list",
                declared: r.remaining(),
                min: expected,
                max: expected,
            }));
        }
        let spis = r
            .rest()
            .chunks_exact(usize::from(spi_size.max(1)))
            .map(<[u8]>::to_vec)
            .collect();
        Ok(DeletePayload {
            protocol,
            spi_size,
            spis,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        if self.spi_size == 0 && !self.spis.is_empty() {
            return Err(w.error(WireErrorKind::CountMismatch {
                what: "SPIs in a Delete payload with SPI size 0",
                declared: self.spis.len(),
                found: 0,
            }));
        }
        w.u8(self.protocol.0);
        w.u8(self.spi_size);
        w.u16(w.fit_u16(self.spis.len(), "number of SPIs")?);
        let size = usize::from(self.spi_size);
        for spi in &self.spis {
            if spi.len() != size {
                return Err(w.error(WireErrorKind::BadLength {
                    what: "SPI in Delete payload",
                    declared: spi.len(),
                    min: size,
                    max: size,
                }));
            }
            w.bytes(spi);
        }
        Ok(())
    }
}
