//! Key Exchange payload (RFC 7296 §3.4).

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::registry::KeMethod;

/// KE payload: the key exchange method and this side's public value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KePayload {
    pub method: KeMethod,
    pub data: Vec<u8>,
}

impl KePayload {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<KePayload, WireError> {
        let method = KeMethod(r.u16("key exchange method")?);
        r.skip_reserved(2)?;
        Ok(KePayload {
            method,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u16(self.method.0);
        w.zeros(2);
        w.bytes(&self.data);
    }
}
