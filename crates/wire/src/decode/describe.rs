//! Messages and payloads as [`Value`] trees: every field named, registry values by
//! name (unknown ones in hex), byte strings in hex.

use std::net::IpAddr;

use super::Value;
use crate::payload::*;
use crate::registry::*;
use crate::{Message, NotifyData};

fn hex(bytes: &[u8]) -> Value {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('?'));
        s.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('?'));
    }
    Value::Text(s)
}

fn num(n: impl Into<u64>) -> Value {
    Value::Number(n.into())
}

fn len(bytes: &[u8]) -> Value {
    Value::Number(bytes.len() as u64)
}

/// The header fields and every payload of a message.
pub fn describe_message(message: &Message) -> Value {
    let h = &message.header;
    Value::Object(vec![
        ("exchange", Value::text(h.exchange)),
        ("initiator_spi", hex(&h.initiator_spi)),
        ("responder_spi", hex(&h.responder_spi)),
        ("message_id", num(h.message_id)),
        ("is_response", Value::Bool(h.flags.is_response())),
        ("is_initiator", Value::Bool(h.flags.is_initiator())),
        (
            "version",
            Value::Text(format!("{}.{}", h.major_version, h.minor_version)),
        ),
        ("length", num(h.length)),
        (
            "payloads",
            Value::List(message.payloads.iter().map(describe_payload).collect()),
        ),
    ])
}

/// One payload: `type` first, then its fields.
pub fn describe_payload(payload: &Payload) -> Value {
    let mut fields = vec![("type", Value::text(payload.payload_type()))];
    match payload {
        Payload::Sa(sa) => fields.push((
            "proposals",
            Value::List(sa.proposals.iter().map(describe_proposal).collect()),
        )),
        Payload::Ke(ke) => fields.extend([
            ("method", Value::text(ke.method)),
            ("length", len(&ke.data)),
            ("data", hex(&ke.data)),
        ]),
        Payload::IdI(id) | Payload::IdR(id) => fields.extend([
            ("id_type", Value::text(id.id_type)),
            ("id", describe_id(id)),
        ]),
        Payload::Cert(CertPayload { encoding, data })
        | Payload::CertReq(CertReqPayload { encoding, data }) => fields.extend([
            ("encoding", Value::text(encoding)),
            ("length", len(data)),
            ("data", hex(data)),
        ]),
        Payload::Auth(auth) => {
            fields.extend([
                ("method", Value::text(auth.method)),
                ("length", len(&auth.data)),
            ]);
            match auth.signature_data() {
                Some(Ok(sig)) => fields.extend([
                    (
                        "signature_algorithm",
                        sig.algorithm_name()
                            .map_or_else(|| hex(&sig.algorithm), Value::text),
                    ),
                    ("signature_length", len(&sig.signature)),
                ]),
                Some(Err(e)) => fields.push(("data_error", Value::text(e))),
                None => {}
            }
            fields.push(("data", hex(&auth.data)));
        }
        Payload::Nonce(data) | Payload::VendorId(data) => {
            fields.extend([("length", len(data)), ("data", hex(data))])
        }
        Payload::Notify(n) => describe_notify(n, &mut fields),
        Payload::Delete(d) => fields.extend([
            ("protocol", Value::text(d.protocol)),
            ("spi_size", num(d.spi_size)),
            ("spis", Value::List(d.spis.iter().map(|s| hex(s)).collect())),
        ]),
        Payload::TsI(ts) | Payload::TsR(ts) => fields.push((
            "selectors",
            Value::List(ts.selectors.iter().map(describe_selector).collect()),
        )),
        Payload::TsIAny(ts) | Payload::TsRAny(ts) => fields.push((
            "selectors",
            Value::List(
                ts.selectors
                    .iter()
                    .map(|s| match s {
                        AnyTrafficSelector::Range(range) => describe_selector(range),
                        AnyTrafficSelector::Other(other) => Value::Object(vec![
                            ("ts_type", Value::text(other.ts_type)),
                            ("length", len(&other.data)),
                            ("data", hex(&other.data)),
                        ]),
                    })
                    .collect(),
            ),
        )),
        Payload::Encrypted(sk) => fields.extend([
            ("encrypted", Value::Bool(true)),
            ("first_inner", Value::text(sk.first_inner)),
            ("length", len(&sk.body)),
        ]),
        Payload::EncryptedFragment(skf) => fields.extend([
            ("encrypted", Value::Bool(true)),
            ("fragment_number", num(skf.fragment_number)),
            ("total_fragments", num(skf.total_fragments)),
            ("first_inner", Value::text(skf.first_inner)),
            ("length", len(&skf.body)),
        ]),
        Payload::Cp(cp) => fields.extend([
            ("cfg_type", Value::text(cp.cfg_type)),
            (
                "attributes",
                Value::List(cp.attributes.iter().map(describe_cp_attribute).collect()),
            ),
        ]),
        Payload::Eap(data) => describe_eap(data, &mut fields),
        Payload::Unknown { critical, body, .. } => fields.extend([
            ("critical", Value::Bool(*critical)),
            ("length", len(body)),
            ("data", hex(body)),
        ]),
    }
    Value::Object(fields)
}

fn describe_proposal(p: &Proposal) -> Value {
    let mut fields = vec![
        ("number", num(p.number)),
        ("protocol", Value::text(p.protocol)),
    ];
    if !p.spi.is_empty() {
        fields.push(("spi", hex(&p.spi)));
    }
    fields.push((
        "transforms",
        Value::List(p.transforms.iter().map(describe_transform).collect()),
    ));
    Value::Object(fields)
}

/// The transform ID's name in the registry its type selects.
fn transform_id_name(transform_type: TransformType, id: u16) -> String {
    match transform_type {
        TransformType::ENCR => EncrId(id).to_string(),
        TransformType::PRF => PrfId(id).to_string(),
        TransformType::INTEG => IntegId(id).to_string(),
        TransformType::ESN => EsnId(id).to_string(),
        t if t == TransformType::KE
            || (TransformType::ADDKE1..=TransformType::ADDKE7).contains(&t) =>
        {
            KeMethod(id).to_string()
        }
        _ => format!("{id:#06x}"),
    }
}

fn describe_transform(t: &Transform) -> Value {
    let mut fields = vec![
        ("type", Value::text(t.transform_type)),
        ("id", Value::Text(transform_id_name(t.transform_type, t.id))),
    ];
    if let Some(bits) = t.key_length() {
        fields.push(("key_length", num(bits)));
    }
    let others: Vec<Value> = t
        .attributes
        .iter()
        .filter_map(|a| match a {
            TransformAttribute::KeyLength(_) => None,
            TransformAttribute::Other { attr_type, value } => Some(Value::Object(vec![
                ("attribute_type", num(*attr_type)),
                (
                    "value",
                    match value {
                        AttributeValue::Tv(v) => num(*v),
                        AttributeValue::Tlv(bytes) => hex(bytes),
                    },
                ),
            ])),
        })
        .collect();
    if !others.is_empty() {
        fields.push(("attributes", Value::List(others)));
    }
    Value::Object(fields)
}

/// Printable text as itself, anything else in hex.
fn text_or_hex(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => Value::Text(s.to_string()),
        _ => hex(bytes),
    }
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn describe_id(id: &Identification) -> Value {
    match id.id_type {
        IdType::IPV4_ADDR | IdType::IPV6_ADDR => {
            ip(&id.data).map_or_else(|| hex(&id.data), Value::text)
        }
        IdType::FQDN | IdType::RFC822_ADDR => text_or_hex(&id.data),
        _ => hex(&id.data),
    }
}

fn describe_selector(ts: &TrafficSelector) -> Value {
    Value::Object(vec![
        ("ts_type", Value::text(ts.ts_type)),
        ("ip_protocol", num(ts.ip_protocol)),
        ("start_port", num(ts.start_port)),
        ("end_port", num(ts.end_port)),
        ("start_address", Value::text(ts.start_addr)),
        ("end_address", Value::text(ts.end_addr)),
    ])
}

fn describe_notify(n: &NotifyPayload, fields: &mut Vec<(&'static str, Value)>) {
    fields.push(("notify_type", Value::text(n.notify_type)));
    if n.protocol != ProtocolId::NONE || !n.spi.is_empty() {
        fields.push(("protocol", Value::text(n.protocol)));
        fields.push(("spi", hex(&n.spi)));
    }
    match n.decode_data() {
        Ok(NotifyData::Empty) => {}
        Ok(NotifyData::NatDetection(hash)) => fields.push(("hash", hex(&hash))),
        Ok(NotifyData::InvalidKePayload(method)) => fields.push(("method", Value::text(method))),
        Ok(NotifyData::U32(value)) => fields.push(("value", num(value))),
        Ok(NotifyData::SignatureHashAlgorithms(algorithms)) => fields.push((
            "hash_algorithms",
            Value::List(algorithms.iter().map(Value::text).collect()),
        )),
        Ok(NotifyData::AdditionalAddress(address)) => {
            fields.push(("address", Value::text(address)))
        }
        Ok(NotifyData::NoNatsAllowed {
            source,
            destination,
        }) => fields.extend([
            ("source", Value::text(source)),
            ("destination", Value::text(destination)),
        ]),
        Ok(NotifyData::Redirect { gateway, nonce }) => {
            fields.push(("gateway", describe_gateway(&gateway)));
            if !nonce.is_empty() {
                fields.push(("nonce", hex(&nonce)));
            }
        }
        Ok(NotifyData::RedirectedFrom(gateway)) => {
            fields.push(("gateway", describe_gateway(&gateway)))
        }
        Ok(NotifyData::Opaque(data)) => {
            if !data.is_empty() {
                fields.extend([("length", len(&data)), ("data", hex(&data))]);
            }
        }
        Err(e) => fields.extend([("data_error", Value::text(e)), ("data", hex(&n.data))]),
    }
}

fn describe_gateway(gateway: &GatewayIdentity) -> Value {
    match gateway {
        GatewayIdentity::Ip(address) => Value::text(address),
        GatewayIdentity::Fqdn(name) => text_or_hex(name),
        GatewayIdentity::Other { id_type, data } => {
            Value::Text(format!("{id_type}:{}", hex_string(data)))
        }
    }
}

fn hex_string(bytes: &[u8]) -> String {
    match hex(bytes) {
        Value::Text(s) => s,
        _ => String::new(),
    }
}

fn describe_cp_attribute(a: &CpAttribute) -> Value {
    let address_type = matches!(
        a.attr_type,
        CfgAttributeType::INTERNAL_IP4_ADDRESS
            | CfgAttributeType::INTERNAL_IP4_NETMASK
            | CfgAttributeType::INTERNAL_IP4_DNS
            | CfgAttributeType::INTERNAL_IP4_NBNS
            | CfgAttributeType::INTERNAL_IP4_DHCP
            | CfgAttributeType::INTERNAL_IP6_DNS
            | CfgAttributeType::INTERNAL_IP6_DHCP
            | CfgAttributeType::P_CSCF_IP4_ADDRESS
            | CfgAttributeType::P_CSCF_IP6_ADDRESS
    );
    let value = match ip(&a.value) {
        Some(address) if address_type => Value::text(address),
        _ if a.attr_type == CfgAttributeType::APPLICATION_VERSION
            || a.attr_type == CfgAttributeType::INTERNAL_DNS_DOMAIN =>
        {
            text_or_hex(&a.value)
        }
        _ => hex(&a.value),
    };
    Value::Object(vec![
        ("attribute_type", Value::text(a.attr_type)),
        ("length", len(&a.value)),
        ("value", value),
    ])
}

/// RFC 3748 §4: code, identifier, length, and (requests and responses) a type.
fn describe_eap(data: &[u8], fields: &mut Vec<(&'static str, Value)>) {
    if let [code, identifier, l0, l1, rest @ ..] = data {
        fields.extend([
            ("code", num(*code)),
            ("identifier", num(*identifier)),
            ("eap_length", num(u16::from_be_bytes([*l0, *l1]))),
        ]);
        if let (1 | 2, Some(eap_type)) = (code, rest.first()) {
            fields.push(("eap_type", num(*eap_type)));
        }
    }
    fields.extend([("length", len(data)), ("data", hex(data))]);
}
