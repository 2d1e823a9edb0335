//! The attribute numbers tern sends or reads (RFC 2865 §5, RFC 2869 §5,
//! RFC 3579 §3, RFC 2548 §2.4).

pub const USER_NAME: u8 = 1;
pub const NAS_IP_ADDRESS: u8 = 4;
pub const SERVICE_TYPE: u8 = 6;
pub const FRAMED_IP_ADDRESS: u8 = 8;
pub const REPLY_MESSAGE: u8 = 18;
pub const STATE: u8 = 24;
pub const CLASS: u8 = 25;
pub const VENDOR_SPECIFIC: u8 = 26;
pub const SESSION_TIMEOUT: u8 = 27;
pub const CALLED_STATION_ID: u8 = 30;
pub const CALLING_STATION_ID: u8 = 31;
pub const NAS_IDENTIFIER: u8 = 32;
/// Accounting (RFC 2866 §5).
pub const ACCT_STATUS_TYPE: u8 = 40;
pub const ACCT_DELAY_TIME: u8 = 41;
pub const ACCT_INPUT_OCTETS: u8 = 42;
pub const ACCT_OUTPUT_OCTETS: u8 = 43;
pub const ACCT_SESSION_ID: u8 = 44;
pub const ACCT_AUTHENTIC: u8 = 45;
pub const ACCT_SESSION_TIME: u8 = 46;
pub const ACCT_INPUT_PACKETS: u8 = 47;
pub const ACCT_OUTPUT_PACKETS: u8 = 48;
pub const ACCT_TERMINATE_CAUSE: u8 = 49;
/// RFC 2869 §5.1-5.2: the octet counters' high 32 bits.
pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
pub const NAS_PORT_TYPE: u8 = 61;
/// RFC 2869 §5.16.
pub const ACCT_INTERIM_INTERVAL: u8 = 85;
pub const EAP_MESSAGE: u8 = 79;
pub const MESSAGE_AUTHENTICATOR: u8 = 80;
pub const NAS_IPV6_ADDRESS: u8 = 95;
pub const FRAMED_IPV6_PREFIX: u8 = 97;
/// RFC 6911 §3.1.
pub const FRAMED_IPV6_ADDRESS: u8 = 168;

/// Acct-Status-Type values (RFC 2866 §5.1).
pub const ACCT_STATUS_START: u32 = 1;
pub const ACCT_STATUS_STOP: u32 = 2;
pub const ACCT_STATUS_INTERIM_UPDATE: u32 = 3;
/// Acct-Authentic RADIUS (RFC 2866 §5.6).
pub const ACCT_AUTHENTIC_RADIUS: u32 = 1;

/// Service-Type Framed (RFC 2865 §5.6), as IKEv2 gateways send it.
pub const SERVICE_TYPE_FRAMED: u32 = 2;
/// NAS-Port-Type Virtual (RFC 2865 §5.41): a VPN.
pub const NAS_PORT_TYPE_VIRTUAL: u32 = 5;

/// Microsoft's vendor number, and its MPPE key attributes (RFC 2548 §2.4.2-3).
pub const VENDOR_MICROSOFT: u32 = 311;
pub const MS_MPPE_SEND_KEY: u8 = 16;
pub const MS_MPPE_RECV_KEY: u8 = 17;

/// The sub-attributes of a Vendor-Specific attribute from `vendor`, in the
/// recommended format (RFC 2865 §5.26: vendor type, vendor length, value).
/// A value from another vendor, or a malformed one, gives nothing.
pub fn vendor_attributes(value: &[u8], vendor: u32) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    if value.len() < 4 || u32::from_be_bytes([value[0], value[1], value[2], value[3]]) != vendor {
        return out;
    }
    let mut rest = &value[4..];
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], usize::from(rest[1]));
        if len < 2 || len > rest.len() {
            return Vec::new();
        }
        out.push((kind, &rest[2..len]));
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_sub_attributes_are_read_and_others_are_not() {
        let mut v = 311u32.to_be_bytes().to_vec();
        v.extend_from_slice(&[17, 5, 1, 2, 3, 16, 3, 9]);
        assert_eq!(
            vendor_attributes(&v, VENDOR_MICROSOFT),
            vec![(17, &[1u8, 2, 3][..]), (16, &[9u8][..])]
        );
        assert!(vendor_attributes(&v, 9).is_empty());
        v[10] = 40; // the second runs past the end
        assert!(vendor_attributes(&v, VENDOR_MICROSOFT).is_empty());
    }
}
