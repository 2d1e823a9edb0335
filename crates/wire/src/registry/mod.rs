//! IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries.
//!
//! Each registry is a newtype over its wire integer with named constants; any value
//! round-trips, and values without a name print in hex.

mod macros;
mod message;
mod payload_fields;
mod transform;

pub use message::{ExchangeType, NotifyType, PayloadType, ProtocolId};
pub use payload_fields::{
    AuthMethod, CertEncoding, CfgAttributeType, CfgType, GatewayIdType, HashAlgorithm, IdType,
    TsType,
};
pub use transform::{EncrId, EsnId, IntegId, KeMethod, PrfId, TransformType};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_print_their_name() {
        assert_eq!(ExchangeType::IKE_SA_INIT.to_string(), "IKE_SA_INIT");
        assert_eq!(format!("{:?}", PayloadType::SK), "SK");
        assert_eq!(NotifyType(16388).to_string(), "NAT_DETECTION_SOURCE_IP");
        assert_eq!(KeMethod(31).to_string(), "CURVE25519");
    }

    #[test]
    fn unknown_values_print_in_hex() {
        assert_eq!(ExchangeType(0x99).to_string(), "ExchangeType(0x99)");
        assert_eq!(format!("{:?}", NotifyType(0x1234)), "NotifyType(0x1234)");
        assert_eq!(EncrId(0xff).to_string(), "EncrId(0x00ff)");
    }

    #[test]
    fn notify_error_and_status_ranges() {
        assert!(NotifyType::INVALID_KE_PAYLOAD.is_error());
        assert!(NotifyType(16383).is_error());
        assert!(!NotifyType::INITIAL_CONTACT.is_error());
        assert!(!NotifyType::COOKIE.is_error());
    }

    #[test]
    fn dh_is_an_alias_for_ke() {
        assert_eq!(TransformType::DH, TransformType::KE);
        assert_eq!(TransformType::DH.to_string(), "KE");
    }
}
