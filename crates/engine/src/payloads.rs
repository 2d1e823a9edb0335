//! Small helpers for picking payloads out of a received message.

use tern_wire::{
    AuthPayload, Identification, KePayload, NotifyPayload, NotifyType, Payload, ProtocolId,
    SaPayload, TsPayload,
};

pub fn notify(payloads: &[Payload], t: NotifyType) -> Option<&NotifyPayload> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type == t => Some(n),
        _ => None,
    })
}

/// The first error notify (type below 16384), if any.
pub fn error_notify(payloads: &[Payload]) -> Option<&NotifyPayload> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type.is_error() => Some(n),
        _ => None,
    })
}

pub fn status(t: NotifyType, data: Vec<u8>) -> Payload {
    Payload::Notify(NotifyPayload::new(t, data))
}

/// The type of the first unknown payload with its critical bit set (RFC 7296 §2.5).
pub fn unknown_critical(payloads: &[Payload]) -> Option<u8> {
    payloads.iter().find_map(|p| match p {
        Payload::Unknown {
            payload_type,
            critical: true,
            ..
        } => Some(payload_type.0),
        _ => None,
    })
}

pub fn error(t: NotifyType) -> Payload {
    Payload::Notify(NotifyPayload {
        protocol: ProtocolId(0),
        spi: Vec::new(),
        notify_type: t,
        data: Vec::new(),
    })
}

/// `fn name(payloads) -> Option<&T>`: the first payload of one kind.
macro_rules! first_of_kind {
    ($($name:ident: $variant:ident($ty:ty),)*) => {$(
        pub fn $name(payloads: &[Payload]) -> Option<&$ty> {
            payloads.iter().find_map(|p| match p {
                Payload::$variant(v) => Some(v),
                _ => None,
            })
        }
    )*};
}

first_of_kind! {
    sa: Sa(SaPayload),
    ke: Ke(KePayload),
    nonce: Nonce(Vec<u8>),
    id_i: IdI(Identification),
    id_r: IdR(Identification),
    auth: Auth(AuthPayload),
    ts_i: TsI(TsPayload),
    ts_r: TsR(TsPayload),
    eap: Eap(Vec<u8>),
}
