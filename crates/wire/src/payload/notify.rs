//! Notify payload (RFC 7296 §3.10).

use crate::codec::{Reader, Writer};
use crate::error::WireError;
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

    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<NotifyPayload, WireError> {
        let protocol = ProtocolId(r.u8("notify protocol ID")?);
        let spi_size = usize::from(r.u8("notify SPI size")?);
        let notify_type = NotifyType(r.u16("notify message type")?);
        let spi = r.bytes(spi_size, "notify SPI")?.to_vec();
        Ok(NotifyPayload {
            protocol,
            spi,
            notify_type,
            data: r.rest().to_vec(),
        })
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
