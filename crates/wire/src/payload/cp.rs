//! Configuration payload (RFC 7296 §3.15).

use nom::sequence::{pair, terminated};

use crate::codec::Writer;
use crate::error::WireError;
use crate::parse::{be_u16, reserved, take, to_the_end, u8, Input, Parsed};
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

impl CpAttribute {
    fn parse(input: Input<'_>) -> Parsed<'_, CpAttribute> {
        let (input, (attr_type, length)) = pair(
            be_u16("configuration attribute type"),
            be_u16("configuration attribute length"),
        )(input)?;
        let (rest, value) = take(usize::from(length), "configuration attribute value")(input)?;
        let attribute = CpAttribute {
            attr_type: CfgAttributeType(attr_type & ATTRIBUTE_TYPE_MASK),
            value: value.to_vec(),
        };
        Ok((rest, attribute))
    }
}

impl CpPayload {
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, CpPayload> {
        let (rest, (cfg_type, attributes)) = pair(
            terminated(u8("configuration type"), reserved(3)),
            to_the_end(CpAttribute::parse),
        )(input)?;
        let cp = CpPayload {
            cfg_type: CfgType(cfg_type),
            attributes,
        };
        Ok((rest, cp))
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
