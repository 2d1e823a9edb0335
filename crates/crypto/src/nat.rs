//! NAT detection hashes (RFC 7296 §2.23).

use std::net::IpAddr;

use ring::digest;

/// SHA-1(SPIi | SPIr | IP | Port) for NAT_DETECTION_SOURCE_IP and
/// NAT_DETECTION_DESTINATION_IP. IPv4 addresses are 4 octets, IPv6 16; the
/// port is in network byte order. In IKE_SA_INIT requests SPIr is zero.
pub fn nat_detection_hash(spi_i: &[u8; 8], spi_r: &[u8; 8], addr: IpAddr, port: u16) -> [u8; 20] {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(spi_i);
    ctx.update(spi_r);
    match addr {
        IpAddr::V4(v4) => ctx.update(&v4.octets()),
        IpAddr::V6(v6) => ctx.update(&v6.octets()),
    }
    ctx.update(&port.to_be_bytes());
    let mut out = [0u8; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPI_I: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const SPI_R: [u8; 8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

    // Expected values computed independently with Python's hashlib:
    // sha1(spi_i + spi_r + ip_address(addr).packed + port.to_bytes(2, "big")).
    #[test]
    fn ipv4() {
        let hash = nat_detection_hash(&SPI_I, &SPI_R, "192.0.2.1".parse().expect("ip"), 500);
        assert_eq!(
            hex::encode(hash),
            "d798d986143f878f70765e0e869c80bbc375f701"
        );
    }

    #[test]
    fn ipv6_with_zero_responder_spi() {
        let hash = nat_detection_hash(&SPI_I, &[0; 8], "2001:db8::1".parse().expect("ip"), 4500);
        assert_eq!(
            hex::encode(hash),
            "98c75483db80168697635aa7844504963e87de33"
        );
    }

    #[test]
    fn matches_sha1_of_the_concatenation() {
        let addr: IpAddr = "198.51.100.7".parse().expect("ip");
        let input = [&SPI_I[..], &SPI_R, &[198, 51, 100, 7], &[0x11, 0x94]].concat();
        let direct = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
        assert_eq!(
            &nat_detection_hash(&SPI_I, &SPI_R, addr, 4500)[..],
            direct.as_ref()
        );
        assert_ne!(
            nat_detection_hash(&SPI_I, &SPI_R, addr, 4501),
            nat_detection_hash(&SPI_I, &SPI_R, addr, 4500)
        );
    }
}
