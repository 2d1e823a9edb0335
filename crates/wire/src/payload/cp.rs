//! Configuration payload (RFC 7296 §3.15).

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::registry::{CfgAttributeType, CfgType};

/// The top bit of the attribute type field is reserved (sent as zero, ignored).
const ATTRIBUTE_TYPE_MASK: u16 = 0x7fff;

/// CP payload: a request, reply, set or ack with its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpPayload {
    pub cfg_type: CfgType,
    pub attributes: Vec<CpAttribute>,
}

/// One configuration attribute. An empty `value` in a CFG_REQUEST asks for any value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpAttribute {
    pub attr_type: CfgAttributeType,
    pub value: Vec<u8>,
}

impl CpPayload {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<CpPayload, WireError> {
        let cfg_type = CfgType(r.u8("configuration type")?);
        r.skip_reserved(3)?;
        let mut attributes = Vec::new();
        while !r.is_empty() {
            let attr_type =
                CfgAttributeType(r.u16("configuration attribute type")? & ATTRIBUTE_TYPE_MASK);
            let length = usize::from(r.u16("configuration attribute length")?);
            let value = r.bytes(length, "configuration attribute value")?.to_vec();
            attributes.push(CpAttribute { attr_type, value });
        }
        Ok(CpPayload {
            cfg_type,
            attributes,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.u8(self.cfg_type.0);
        w.zeros(3);
        for attribute in &self.attributes {
            w.u16(attribute.attr_type.0 & ATTRIBUTE_TYPE_MASK);
            w.u16(w.fit_u16(attribute.value.len(), "configuration attribute value")?);
            w.bytes(&attribute.value);
        }
        Ok(())
    }
}
