//! Key Exchange payload (RFC 7296 §3.4).

use nom::sequence::tuple;

use crate::codec::Writer;
use crate::parse::{be_u16, reserved, rest_vec, Input, Parsed};
use crate::registry::KeMethod;

/// KE payload: the key exchange method and this side's public value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KePayload {
    pub method: KeMethod,
    pub data: Vec<u8>,
}

impl KePayload {
    pub(crate) fn parse(input: Input<'_>) -> Parsed<'_, KePayload> {
        let (rest, (method, (), data)) =
            tuple((be_u16("key exchange method"), reserved(2), rest_vec))(input)?;
        let ke = KePayload {
            method: KeMethod(method),
            data,
        };
        Ok((rest, ke))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u16(self.method.0);
        w.zeros(2);
        w.bytes(&self.data);
    }
}
