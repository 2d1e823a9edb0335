//! Notify payload (RFC 7296 §3.10).

use nom::sequence::tuple;

use crate::codec::Writer;
use crate::error::WireError;
use crate::parse::{be_u16, rest_vec, take, u8, Input, Parsed};
use crate::registry::{NotifyType, ProtocolId};

/// N payload: an error or status notification, optionally about an SA (by SPI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyPayload {
    /// `ProtocolId::NONE` (0) unless the notification is about a CHILD SA.
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub notify_type: NotifyType,
    pub data: Vec<u8>,
}

impl NotifyPayload {
    /// A notification not about any particular SA: protocol 0, no SPI.
    pub fn new(notify_type: NotifyType, data: Vec<u8>) -> Self {
        NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: Vec::new(),
            notify_type,
            data,
        }
    }

    /// A notification about the CHILD SA with `spi` under `protocol` (e.g. REKEY_SA).
    pub fn with_spi(
        notify_type: NotifyType,
        protocol: ProtocolId,
        spi: Vec<u8>,
        data: Vec<u8>,
    ) -> Self {
        NotifyPayload {
            protocol,
            spi,
            notify_type,
            data,
        }
    }

    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, NotifyPayload> {
        let (input, (protocol, spi_size, notify_type)) = tuple((
            u8("notify protocol ID"),
            u8("notify SPI size"),
            be_u16("notify message type"),
        ))(input)?;
        let (rest, (spi, data)) =
            tuple((take(usize::from(spi_size), "notify SPI"), rest_vec))(input)?;
        let notify = NotifyPayload {
            protocol: ProtocolId(protocol),
            spi: spi.to_vec(),
            notify_type: NotifyType(notify_type),
            data,
        };
        Ok((rest, notify))
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.u8(self.protocol.0);
        w.u8(w.fit_u8(self.spi.len(), "notify SPI")?);
        w.u16(self.notify_type.0);
        w.bytes(&self.spi);
        w.bytes(&self.data);
        Ok(())
    }
}
