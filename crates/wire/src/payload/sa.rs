//! Security Association payload: proposals, transforms, attributes (RFC 7296 §3.3).

use crate::codec::{Reader, Writer};
use crate::error::{WireError, WireErrorKind};
use crate::registry::{ProtocolId, TransformType};

/// "Last Substruc" values: 0 ends the list, 2 announces another proposal, 3 another
/// transform (values inherited from ISAKMP).
const LAST: u8 = 0;
const MORE_PROPOSALS: u8 = 2;
const MORE_TRANSFORMS: u8 = 3;

const PROPOSAL_HEADER_LEN: usize = 8;
const TRANSFORM_HEADER_LEN: usize = 8;

/// Attribute Format bit: set for the fixed 2-byte TV form, clear for TLV.
const ATTRIBUTE_TV: u16 = 0x8000;
/// The only attribute RFC 7296 defines (§3.3.5), always in TV form.
const ATTRIBUTE_KEY_LENGTH: u16 = 14;

/// SA payload: proposals, most preferred first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaPayload {
    pub proposals: Vec<Proposal>,
}

/// One proposal: a protocol, its SPI, and the transforms offered for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// 1 for the first proposal, increasing by one; a response echoes the chosen one.
    pub number: u8,
    pub protocol: ProtocolId,
    /// Empty in IKE_SA_INIT; 8 bytes when rekeying an IKE SA; 4 for ESP/AH.
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// One transform. `id` is interpreted according to `transform_type` (see
/// [`crate::EncrId`], [`crate::PrfId`], [`crate::IntegId`], [`crate::KeMethod`],
/// [`crate::EsnId`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    pub transform_type: TransformType,
    pub id: u16,
    pub attributes: Vec<TransformAttribute>,
}

/// A transform attribute (RFC 7296 §3.3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformAttribute {
    /// Key Length in bits (attribute type 14, TV form).
    KeyLength(u16),
    /// Any other attribute; the value keeps its TV or TLV form so it round-trips.
    Other {
        attr_type: u16,
        value: AttributeValue,
    },
}

/// The two attribute encodings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// Type/Value: a 2-byte value in place of the length field.
    Tv(u16),
    /// Type/Length/Value: a 2-byte length, then the value.
    Tlv(Vec<u8>),
}

impl Transform {
    pub fn new(transform_type: TransformType, id: u16) -> Self {
        Transform {
            transform_type,
            id,
            attributes: Vec::new(),
        }
    }

    /// Sets the Key Length attribute (replacing any existing one).
    pub fn with_key_length(mut self, bits: u16) -> Self {
        self.attributes
            .retain(|a| !matches!(a, TransformAttribute::KeyLength(_)));
        self.attributes.push(TransformAttribute::KeyLength(bits));
        self
    }

    /// The Key Length attribute in bits, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            TransformAttribute::KeyLength(bits) => Some(*bits),
            TransformAttribute::Other { .. } => None,
        })
    }

    fn parse(r: &mut Reader<'_>) -> Result<Transform, WireError> {
        let start = r.offset();
        let last = r.u8("transform 'last substructure' field")?;
        r.skip_reserved(1)?;
        let mut body = sub_structure(r, start, "transform", TRANSFORM_HEADER_LEN)?;
        check_last(start, "transform", last, !r.is_empty(), MORE_TRANSFORMS)?;
        let transform_type = TransformType(body.u8("transform type")?);
        body.skip_reserved(1)?;
        let id = body.u16("transform ID")?;
        let mut attributes = Vec::new();
        while !body.is_empty() {
            attributes.push(TransformAttribute::parse(&mut body)?);
        }
        Ok(Transform {
            transform_type,
            id,
            attributes,
        })
    }

    fn write(&self, w: &mut Writer, more_follow: bool) -> Result<(), WireError> {
        let start = w.len();
        w.u8(if more_follow { MORE_TRANSFORMS } else { LAST });
        w.u8(0);
        let length_at = w.length_u16_placeholder();
        w.u8(self.transform_type.0);
        w.u8(0);
        w.u16(self.id);
        for attribute in &self.attributes {
            attribute.write(w)?;
        }
        w.patch_length_u16(length_at, start, "transform")
    }
}

impl TransformAttribute {
    fn parse(r: &mut Reader<'_>) -> Result<TransformAttribute, WireError> {
        let format_and_type = r.u16("transform attribute type")?;
        let attr_type = format_and_type & !ATTRIBUTE_TV;
        if format_and_type & ATTRIBUTE_TV != 0 {
            let value = r.u16("transform attribute value")?;
            if attr_type == ATTRIBUTE_KEY_LENGTH {
                return Ok(TransformAttribute::KeyLength(value));
            }
            return Ok(TransformAttribute::Other {
                attr_type,
                value: AttributeValue::Tv(value),
            });
        }
        let length = usize::from(r.u16("transform attribute length")?);
        let value = r.bytes(length, "transform attribute value")?.to_vec();
        Ok(TransformAttribute::Other {
            attr_type,
            value: AttributeValue::Tlv(value),
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        match self {
            TransformAttribute::KeyLength(bits) => {
                w.u16(ATTRIBUTE_TV | ATTRIBUTE_KEY_LENGTH);
                w.u16(*bits);
            }
            TransformAttribute::Other {
                attr_type,
                value: AttributeValue::Tv(value),
            } => {
                w.u16(ATTRIBUTE_TV | attr_type);
                w.u16(*value);
            }
            TransformAttribute::Other {
                attr_type,
                value: AttributeValue::Tlv(value),
            } => {
                w.u16(attr_type & !ATTRIBUTE_TV);
                let length = w.fit_u16(value.len(), "transform attribute value")?;
                w.u16(length);
                w.bytes(value);
            }
        }
        Ok(())
    }
}

impl Proposal {
    fn parse(r: &mut Reader<'_>) -> Result<Proposal, WireError> {
        let start = r.offset();
        let last = r.u8("proposal 'last substructure' field")?;
        r.skip_reserved(1)?;
        let mut body = sub_structure(r, start, "proposal", PROPOSAL_HEADER_LEN)?;
        check_last(start, "proposal", last, !r.is_empty(), MORE_PROPOSALS)?;
        let number = body.u8("proposal number")?;
        let protocol = ProtocolId(body.u8("protocol ID")?);
        let spi_size = usize::from(body.u8("SPI size")?);
        let declared_transforms = usize::from(body.u8("number of transforms")?);
        let spi = body.bytes(spi_size, "proposal SPI")?.to_vec();
        let mut transforms = Vec::new();
        while !body.is_empty() {
            transforms.push(Transform::parse(&mut body)?);
        }
        if transforms.len() != declared_transforms {
            return Err(WireError {
                offset: start + 7,
                kind: WireErrorKind::CountMismatch {
                    what: "transforms in proposal",
                    declared: declared_transforms,
                    found: transforms.len(),
                },
            });
        }
        Ok(Proposal {
            number,
            protocol,
            spi,
            transforms,
        })
    }

    fn write(&self, w: &mut Writer, more_follow: bool) -> Result<(), WireError> {
        let start = w.len();
        w.u8(if more_follow { MORE_PROPOSALS } else { LAST });
        w.u8(0);
        let length_at = w.length_u16_placeholder();
        w.u8(self.number);
        w.u8(self.protocol.0);
        w.u8(w.fit_u8(self.spi.len(), "proposal SPI")?);
        w.u8(w.fit_u8(self.transforms.len(), "number of transforms")?);
        w.bytes(&self.spi);
        for (index, transform) in self.transforms.iter().enumerate() {
            transform.write(w, index + 1 < self.transforms.len())?;
        }
        w.patch_length_u16(length_at, start, "proposal")
    }
}

impl SaPayload {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<SaPayload, WireError> {
        let mut proposals = Vec::new();
        while !r.is_empty() {
            proposals.push(Proposal::parse(r)?);
        }
        Ok(SaPayload { proposals })
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        for (index, proposal) in self.proposals.iter().enumerate() {
            proposal.write(w, index + 1 < self.proposals.len())?;
        }
        Ok(())
    }
}

/// Reads a substructure's length field (which counts from `start`, 2 bytes back)
/// and returns a reader over the rest of the substructure.
fn sub_structure<'a>(
    r: &mut Reader<'a>,
    start: usize,
    what: &'static str,
    min: usize,
) -> Result<Reader<'a>, WireError> {
    let declared = usize::from(r.u16("substructure length")?);
    let already_read = r.offset() - start;
    let max = r.remaining() + already_read;
    if declared < min || declared > max {
        return Err(WireError {
            offset: start + 2,
            kind: WireErrorKind::BadLength {
                what,
                declared,
                min,
                max,
            },
        });
    }
    r.sub(declared - already_read, what)
}

/// Checks a "last substructure" field against whether another one follows.
fn check_last(
    start: usize,
    what: &'static str,
    found: u8,
    more_follow: bool,
    more: u8,
) -> Result<(), WireError> {
    let expected = if more_follow { more } else { LAST };
    if found == expected {
        Ok(())
    } else {
        Err(WireError {
            offset: start,
            kind: WireErrorKind::BadSubstructure {
                what,
                found,
                expected,
            },
        })
    }
}
