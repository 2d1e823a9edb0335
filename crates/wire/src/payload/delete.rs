//! Delete payload (RFC 7296 §3.11).

use nom::sequence::tuple;

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::parse::{be_u16, fail, u8, Input, Parsed};
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

    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, DeletePayload> {
        let (count_field, (protocol, spi_size)) =
            tuple((u8("delete protocol ID"), u8("delete SPI size")))(input)?;
        let (spi_list, count) = be_u16("number of SPIs")(count_field)?;
        let count = usize::from(count);
        // Zero-size SPIs occupy no bytes, so a count without SPIs would let a few
        // bytes of input ask for thousands of entries.
        if spi_size == 0 && count != 0 {
            return fail(
                count_field,
                WireErrorKind::CountMismatch {
                    what: "SPIs in a Delete payload with SPI size 0",
                    declared: count,
                    found: 0,
                },
            );
        }
        let expected = count * usize::from(spi_size);
        if spi_list.len() != expected {
            return fail(
                spi_list,
                WireErrorKind::BadLength {
                    what: "Delete payload SPI list",
                    declared: spi_list.len(),
                    min: expected,
                    max: expected,
                },
            );
        }
        let spis = spi_list
            .chunks_exact(usize::from(spi_size.max(1)))
            .map(<[u8]>::to_vec)
            .collect();
        let delete = DeletePayload {
            protocol: ProtocolId(protocol),
            spi_size,
            spis,
        };
        Ok((&spi_list[spi_list.len()..], delete))
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
