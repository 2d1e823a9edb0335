//! RADIUS accounting (RFC 2866): the Accounting-Request a NAS sends when a
//! session starts and when it stops, and the Accounting-Response it waits
//! for. The Request Authenticator is MD5 over the packet with 16 zero octets
//! in its place, followed by the shared secret (§3); the Response
//! Authenticator is computed as for Access replies (§3, RFC 2865 §3).

use std::net::IpAddr;

use tern_crypto::Secret;

use crate::attr;
use crate::auth;
use crate::packet::{self, Packet, HEADER_LEN};
use crate::Error;

pub const ACCOUNTING_REQUEST: u8 = 4;
pub const ACCOUNTING_RESPONSE: u8 = 5;

/// Acct-Terminate-Cause values (RFC 2866 §5.10) tern uses.
pub mod cause {
    pub const USER_REQUEST: u32 = 1;
    pub const LOST_CARRIER: u32 = 2;
    pub const IDLE_TIMEOUT: u32 = 4;
    pub const SESSION_TIMEOUT: u32 = 5;
    pub const ADMIN_RESET: u32 = 6;
    pub const ADMIN_REBOOT: u32 = 7;
    pub const NAS_ERROR: u32 = 9;
    pub const NAS_REQUEST: u32 = 10;
    pub const USER_ERROR: u32 = 17;
    pub const HOST_REQUEST: u32 = 18;
}

/// The session's usage so far: what an Interim-Update and a Stop report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Acct-Session-Time, seconds.
    pub session_time: u32,
    /// Octets and packets from (input) and to (output) the client. Octets
    /// past 2^32 go in Acct-*-Gigawords (RFC 2869 §5.1); packets wrap.
    pub input_octets: u64,
    pub output_octets: u64,
    pub input_packets: u64,
    pub output_packets: u64,
}

/// Acct-Status-Type (RFC 2866 §5.1), and what each adds to a Start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Start,
    InterimUpdate(Usage),
    Stop { usage: Usage, terminate_cause: u32 },
}

impl Status {
    /// The name an operator knows it by.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Start => "Start",
            Status::InterimUpdate(_) => "Interim-Update",
            Status::Stop { .. } => "Stop",
        }
    }
}

/// One Accounting-Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountingRequest {
    pub status: Status,
    pub user_name: String,
    pub session_id: String,
    /// Framed-IP-Address / Framed-IPv6-Address: the client's virtual IPs.
    pub framed: Vec<IpAddr>,
    /// NAS-IP-Address / NAS-IPv6-Address: our address.
    pub nas_ip: IpAddr,
    pub nas_identifier: String,
    /// Called-Station-Id (our address) and Calling-Station-Id (the client's).
    pub called_station: String,
    pub calling_station: String,
    /// Class, echoed as the Access-Accept gave it (RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
}

fn cut(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(packet::MAX_VALUE_LEN)]
}

impl AccountingRequest {
    /// The packet with `identifier`, its Request Authenticator computed with `secret`.
    pub fn to_bytes(&self, identifier: u8, secret: &Secret) -> Vec<u8> {
        let mut p = Packet {
            code: ACCOUNTING_REQUEST,
            identifier,
            authenticator: [0; 16],
            attributes: Vec::new(),
        };
        let status = match self.status {
            Status::Start => attr::ACCT_STATUS_START,
            Status::InterimUpdate(_) => attr::ACCT_STATUS_INTERIM_UPDATE,
            Status::Stop { .. } => attr::ACCT_STATUS_STOP,
        };
        p.push_split(attr::ACCT_STATUS_TYPE, &status.to_be_bytes());
        p.push_split(attr::ACCT_SESSION_ID, cut(&self.session_id));
        p.push_split(attr::USER_NAME, cut(&self.user_name));
        p.push_split(
            attr::ACCT_AUTHENTIC,
            &attr::ACCT_AUTHENTIC_RADIUS.to_be_bytes(),
        );
        p.push_split(attr::SERVICE_TYPE, &attr::SERVICE_TYPE_FRAMED.to_be_bytes());
        p.push_split(
            attr::NAS_PORT_TYPE,
            &attr::NAS_PORT_TYPE_VIRTUAL.to_be_bytes(),
        );
        match self.nas_ip {
            IpAddr::V4(a) => p.push_split(attr::NAS_IP_ADDRESS, &a.octets()),
            IpAddr::V6(a) => p.push_split(attr::NAS_IPV6_ADDRESS, &a.octets()),
        }
        p.push_split(attr::NAS_IDENTIFIER, cut(&self.nas_identifier));
        p.push_split(attr::CALLED_STATION_ID, cut(&self.called_station));
        p.push_split(attr::CALLING_STATION_ID, cut(&self.calling_station));
        for ip in &self.framed {
            match ip {
                IpAddr::V4(a) => p.push_split(attr::FRAMED_IP_ADDRESS, &a.octets()),
                IpAddr::V6(a) => p.push_split(attr::FRAMED_IPV6_ADDRESS, &a.octets()),
            }
        }
        for class in &self.class {
            p.push_split(
                attr::CLASS,
                &class[..class.len().min(packet::MAX_VALUE_LEN)],
            );
        }
        match &self.status {
            Status::Start => {}
            Status::InterimUpdate(usage) => push_usage(&mut p, usage),
            Status::Stop {
                usage,
                terminate_cause,
            } => {
                push_usage(&mut p, usage);
                p.push_split(attr::ACCT_TERMINATE_CAUSE, &terminate_cause.to_be_bytes());
            }
        }
        let mut bytes = p.to_bytes();
        let authenticator = auth::response_authenticator(&bytes, &[0; 16], secret);
        bytes[4..HEADER_LEN].copy_from_slice(&authenticator);
        bytes
    }
}

/// Acct-Session-Time and the traffic counters; octets split into their low
/// 32 bits and Acct-*-Gigawords (sent only when not zero, as NASes do).
fn push_usage(p: &mut Packet, usage: &Usage) {
    p.push_split(attr::ACCT_SESSION_TIME, &usage.session_time.to_be_bytes());
    let octets = [
        (
            attr::ACCT_INPUT_OCTETS,
            attr::ACCT_INPUT_GIGAWORDS,
            usage.input_octets,
        ),
        (
            attr::ACCT_OUTPUT_OCTETS,
            attr::ACCT_OUTPUT_GIGAWORDS,
            usage.output_octets,
        ),
    ];
    for (low, high, value) in octets {
        p.push_split(low, &(value as u32).to_be_bytes());
        let gigawords = (value >> 32) as u32;
        if gigawords != 0 {
            p.push_split(high, &gigawords.to_be_bytes());
        }
    }
    let packets = [
        (attr::ACCT_INPUT_PACKETS, usage.input_packets),
        (attr::ACCT_OUTPUT_PACKETS, usage.output_packets),
    ];
    for (kind, value) in packets {
        // A 32-bit counter (RFC 2866 §5.3): it wraps, as the octets' low word does.
        p.push_split(kind, &(value as u32).to_be_bytes());
    }
}

/// Checks an Accounting-Response to the request with `identifier` and
/// `request_authenticator`.
pub fn read_response(
    bytes: &[u8],
    identifier: u8,
    request_authenticator: &[u8; 16],
    secret: &Secret,
) -> Result<(), Error> {
    let p = auth::open_response(bytes, identifier, request_authenticator, secret)?;
    if p.code != ACCOUNTING_RESPONSE {
        return Err(Error::UnexpectedCode(p.code));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn start() -> AccountingRequest {
        AccountingRequest {
            status: Status::Start,
            user_name: "carol".into(),
            session_id: "0123456789abcdef".into(),
            framed: vec!["10.9.0.7".parse().unwrap()],
            nas_ip: "192.0.2.2".parse().unwrap(),
            nas_identifier: "moon".into(),
            called_station: "192.0.2.2".into(),
            calling_station: "192.0.2.1".into(),
            class: vec![b"dept=ops".to_vec()],
        }
    }

    #[test]
    fn the_request_authenticator_is_md5_over_the_zeroed_packet_and_the_secret() {
        let secret = Secret::from_slice(b"s3cr3t");
        let bytes = start().to_bytes(9, &secret);
        // Computed here from RFC 2866 §3's words, not with the code under test.
        let mut zeroed = bytes.clone();
        zeroed[4..20].fill(0);
        let mut h = Md5::new();
        h.update(&zeroed);
        h.update(b"s3cr3t");
        let want: [u8; 16] = h.finalize().into();
        assert_eq!(&bytes[4..20], &want);
        assert_eq!(&bytes[..2], &[ACCOUNTING_REQUEST, 9]);
        assert_ne!(start().to_bytes(9, &Secret::from_slice(b"other")), bytes);
    }

    #[test]
    fn start_and_stop_carry_the_session_attributes() {
        let secret = Secret::from_slice(b"s3cr3t");
        let p = Packet::parse(&start().to_bytes(1, &secret)).unwrap();
        assert_eq!(p.first(attr::ACCT_STATUS_TYPE).unwrap(), [0, 0, 0, 1]);
        assert_eq!(p.first(attr::USER_NAME).unwrap(), b"carol");
        assert_eq!(p.first(attr::ACCT_SESSION_ID).unwrap(), b"0123456789abcdef");
        assert_eq!(p.first(attr::FRAMED_IP_ADDRESS).unwrap(), [10, 9, 0, 7]);
        assert_eq!(p.first(attr::NAS_IP_ADDRESS).unwrap(), [192, 0, 2, 2]);
        assert_eq!(p.first(attr::NAS_IDENTIFIER).unwrap(), b"moon");
        assert_eq!(p.first(attr::CALLING_STATION_ID).unwrap(), b"192.0.2.1");
        assert_eq!(p.first(attr::CLASS).unwrap(), b"dept=ops");
        assert_eq!(p.first(attr::ACCT_SESSION_TIME), None);
        assert_eq!(p.first(attr::ACCT_INPUT_OCTETS), None);

        let mut stop = start();
        stop.status = Status::Stop {
            usage: Usage {
                session_time: 90,
                input_octets: (3 << 32) + 5,
                output_octets: 700,
                input_packets: 9,
                output_packets: (1 << 32) + 3,
            },
            terminate_cause: cause::USER_REQUEST,
        };
        let p = Packet::parse(&stop.to_bytes(2, &secret)).unwrap();
        assert_eq!(p.first(attr::ACCT_STATUS_TYPE).unwrap(), [0, 0, 0, 2]);
        assert_eq!(p.first(attr::ACCT_SESSION_TIME).unwrap(), [0, 0, 0, 90]);
        assert_eq!(p.first(attr::ACCT_TERMINATE_CAUSE).unwrap(), [0, 0, 0, 1]);
        // 3 * 2^32 + 5 octets: 5 in Acct-Input-Octets, 3 in its Gigawords.
        assert_eq!(p.first(attr::ACCT_INPUT_OCTETS).unwrap(), [0, 0, 0, 5]);
        assert_eq!(p.first(attr::ACCT_INPUT_GIGAWORDS).unwrap(), [0, 0, 0, 3]);
        assert_eq!(p.first(attr::ACCT_OUTPUT_OCTETS).unwrap(), [0, 0, 2, 188]);
        assert_eq!(p.first(attr::ACCT_OUTPUT_GIGAWORDS), None, "zero: not sent");
        assert_eq!(p.first(attr::ACCT_INPUT_PACKETS).unwrap(), [0, 0, 0, 9]);
        assert_eq!(p.first(attr::ACCT_OUTPUT_PACKETS).unwrap(), [0, 0, 0, 3]);
    }

    #[test]
    fn an_interim_update_reports_the_usage_without_a_cause() {
        let secret = Secret::from_slice(b"s3cr3t");
        let mut interim = start();
        interim.status = Status::InterimUpdate(Usage {
            session_time: 60,
            input_octets: 1 << 32,
            input_packets: 4,
            ..Default::default()
        });
        let p = Packet::parse(&interim.to_bytes(3, &secret)).unwrap();
        assert_eq!(p.first(attr::ACCT_STATUS_TYPE).unwrap(), [0, 0, 0, 3]);
        assert_eq!(p.first(attr::ACCT_SESSION_TIME).unwrap(), [0, 0, 0, 60]);
        assert_eq!(p.first(attr::ACCT_INPUT_OCTETS).unwrap(), [0, 0, 0, 0]);
        assert_eq!(p.first(attr::ACCT_INPUT_GIGAWORDS).unwrap(), [0, 0, 0, 1]);
        assert_eq!(p.first(attr::ACCT_INPUT_PACKETS).unwrap(), [0, 0, 0, 4]);
        assert_eq!(p.first(attr::ACCT_TERMINATE_CAUSE), None);
        assert_eq!(p.first(attr::CLASS).unwrap(), b"dept=ops");
    }

    #[test]
    fn only_a_verified_accounting_response_is_taken() {
        let secret = Secret::from_slice(b"s3cr3t");
        let request = start().to_bytes(4, &secret);
        let ra: [u8; 16] = request[4..20].try_into().unwrap();
        let mut reply = Packet {
            code: ACCOUNTING_RESPONSE,
            identifier: 4,
            authenticator: [0; 16],
            attributes: vec![],
        };
        let good = auth::seal_response(&reply, &ra, &secret);
        assert_eq!(read_response(&good, 4, &ra, &secret), Ok(()));
        assert_eq!(
            read_response(&good, 4, &ra, &Secret::from_slice(b"other")),
            Err(Error::BadResponseAuthenticator)
        );
        assert!(matches!(
            read_response(&good, 5, &ra, &secret),
            Err(Error::WrongIdentifier { .. })
        ));
        reply.code = packet::ACCESS_ACCEPT;
        let wrong = auth::seal_response(&reply, &ra, &secret);
        assert_eq!(
            read_response(&wrong, 4, &ra, &secret),
            Err(Error::UnexpectedCode(2))
        );
    }
}
