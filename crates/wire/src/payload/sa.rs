//! Security Association payload: proposals, transforms, attributes (RFC 7296 §3.3).

use crate::codec::Writer;
use crate::error::{WireError, WireErrorKind};
use crate::parse::{
    be_u16, fail, length_prefixed, reserved, take, to_the_end, to_the_end_with_capacity, u8, Input,
    Parsed,
};
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

    fn parse(input: Input<'_>) -> Parsed<'_, Transform> {
        let (rest, body) = substructure(
            "transform",
            "transform 'last substructure' field",
            TRANSFORM_HEADER_LEN,
            MORE_TRANSFORMS,
        )(input)?;
        let (body, transform_type) = u8("transform type")(body)?;
        let (body, ()) = reserved(1)(body)?;
        let (body, id) = be_u16("transform ID")(body)?;
        let (_, attributes) = to_the_end(TransformAttribute::parse)(body)?;
        let transform = Transform {
            transform_type: TransformType(transform_type),
            id,
            attributes,
        };
        Ok((rest, transform))
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
    fn parse(input: Input<'_>) -> Parsed<'_, TransformAttribute> {
        let (input, format_and_type) = be_u16("transform attribute type")(input)?;
        let attr_type = format_and_type & !ATTRIBUTE_TV;
        if format_and_type & ATTRIBUTE_TV != 0 {
            let (rest, value) = be_u16("transform attribute value")(input)?;
            let attribute = if attr_type == ATTRIBUTE_KEY_LENGTH {
                TransformAttribute::KeyLength(value)
            } else {
                TransformAttribute::Other {
                    attr_type,
                    value: AttributeValue::Tv(value),
                }
            };
            return Ok((rest, attribute));
        }
        let (input, length) = be_u16("transform attribute length")(input)?;
        let (rest, value) = take(usize::from(length), "transform attribute value")(input)?;
        let attribute = TransformAttribute::Other {
            attr_type,
            value: AttributeValue::Tlv(value.to_vec()),
        };
        Ok((rest, attribute))
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
    fn parse(input: Input<'_>) -> Parsed<'_, Proposal> {
        let (rest, body) = substructure(
            "proposal",
            "proposal 'last substructure' field",
            PROPOSAL_HEADER_LEN,
            MORE_PROPOSALS,
        )(input)?;
        let (body, number) = u8("proposal number")(body)?;
        let (body, protocol) = u8("protocol ID")(body)?;
        let (transforms_field, spi_size) = u8("SPI size")(body)?;
        let (body, declared_transforms) = u8("number of transforms")(transforms_field)?;
        let (body, spi) = take(usize::from(spi_size), "proposal SPI")(body)?;
        let declared_transforms = usize::from(declared_transforms);
        let capacity = declared_transforms.min(body.len() / TRANSFORM_HEADER_LEN);
        let (_, transforms) = to_the_end_with_capacity(capacity, Transform::parse)(body)?;
        if transforms.len() != declared_transforms {
            return fail(
                transforms_field,
                WireErrorKind::CountMismatch {
                    what: "transforms in proposal",
                    declared: declared_transforms,
                    found: transforms.len(),
                },
            );
        }
        let proposal = Proposal {
            number,
            protocol: ProtocolId(protocol),
            spi: spi.to_vec(),
            transforms,
        };
        Ok((rest, proposal))
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
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, SaPayload> {
        let (rest, proposals) = to_the_end(Proposal::parse)(input)?;
        Ok((rest, SaPayload { proposals }))
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        for (index, proposal) in self.proposals.iter().enumerate() {
            proposal.write(w, index + 1 < self.proposals.len())?;
        }
        Ok(())
    }
}

/// A substructure's header — "last substructure" field, a reserved octet, a length
/// counting from the first — and its body, checked to be at least `min` long and to
/// fit; the "last substructure" field must say `more` when another substructure
/// follows and [`LAST`] when none does.
fn substructure<'a>(
    what: &'static str,
    last_field: &'static str,
    min: usize,
    more: u8,
) -> impl FnMut(Input<'a>) -> Parsed<'a, Input<'a>> {
    move |input| {
        let (rest, last) = u8(last_field)(input)?;
        let (rest, ()) = reserved(1)(rest)?;
        let (rest, body) = length_prefixed(what, "substructure length", min)(rest)?;
        let expected = if rest.is_empty() { LAST } else { more };
        if last != expected {
            return fail(
                input,
                WireErrorKind::BadSubstructure {
                    what,
                    found: last,
                    expected,
                },
            );
        }
        Ok((rest, body))
    }
}
