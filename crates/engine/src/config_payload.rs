//! The configuration payload (RFC 7296 §2.19, §3.15), gateway side: a
//! remote-access client's CFG_REQUEST in IKE_AUTH is answered with a virtual IP
//! from its connection's pools (see `pool`) and their DNS settings, and its first
//! CHILD SA is narrowed to that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tern_wire::{
    CfgAttributeType, CfgType, CpAttribute, CpPayload, Identification, NotifyType, Payload,
};

use crate::config::{Connection, PoolConfig, VirtualIpRequest};
use crate::engine::Ctx;
use crate::identity;
use crate::ike_sa::IkeSa;
use crate::payloads;
use crate::pool::{NoAddress, VirtualIp};
use crate::ts::Ts;

/// What a CFG_REQUEST asks for. Malformed attributes are left out (and named):
/// RFC 7296 §3.15.1 gives each a fixed length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CfgRequest {
    /// An IPv4 address, with the one the client would like (none: any).
    pub ip4: Option<Option<IpAddr>>,
    /// An IPv6 address, likewise.
    pub ip6: Option<Option<IpAddr>>,
    pub netmask4: bool,
    pub dns4: bool,
    pub dns6: bool,
    pub domains: bool,
    /// Attributes dropped for a wrong length.
    pub malformed: Vec<CfgAttributeType>,
}

impl CfgRequest {
    /// The request in `cp`, or `None` if `cp` is no CFG_REQUEST. A client naming
    /// one attribute many times (100 addresses) is read as naming it once: one
    /// address per family is what a client gets.
    pub(crate) fn parse(cp: &CpPayload) -> Option<CfgRequest> {
        if cp.cfg_type != CfgType::CFG_REQUEST {
            return None;
        }
        let mut request = CfgRequest::default();
        for attribute in &cp.attributes {
            let value = attribute.value.as_slice();
            let fits = match attribute.attr_type {
                CfgAttributeType::INTERNAL_IP4_ADDRESS => {
                    let wanted = <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from);
                    let fits = value.is_empty() || wanted.is_some();
                    if fits && request.ip4.is_none() {
                        let wanted = wanted.filter(|a| !a.is_unspecified());
                        request.ip4 = Some(wanted.map(IpAddr::V4));
                    }
                    fits
                }
                CfgAttributeType::INTERNAL_IP6_ADDRESS => {
                    // 16 octets of address and one of prefix length.
                    let wanted = value
                        .get(..16)
                        .filter(|_| value.len() == 17)
                        .and_then(|a| <[u8; 16]>::try_from(a).ok())
                        .map(Ipv6Addr::from);
                    let fits = value.is_empty() || wanted.is_some();
                    if fits && request.ip6.is_none() {
                        let wanted = wanted.filter(|a| !a.is_unspecified());
                        request.ip6 = Some(wanted.map(IpAddr::V6));
                    }
                    fits
                }
                CfgAttributeType::INTERNAL_IP4_NETMASK => {
                    request.netmask4 = true;
                    value.is_empty() || value.len() == 4
                }
                CfgAttributeType::INTERNAL_IP4_DNS => {
                    request.dns4 = true;
                    value.is_empty() || value.len() == 4
                }
                CfgAttributeType::INTERNAL_IP6_DNS => {
                    request.dns6 = true;
                    value.is_empty() || value.len() == 16
                }
                CfgAttributeType::INTERNAL_DNS_DOMAIN => {
                    request.domains = true;
                    true
                }
                _ => true,
            };
            if !fits && !request.malformed.contains(&attribute.attr_type) {
                request.malformed.push(attribute.attr_type);
            }
        }
        Some(request)
    }

    pub(crate) fn wants_an_address(&self) -> bool {
        self.ip4.is_some() || self.ip6.is_some()
    }
}

/// The CFG_REPLY for `request`: the virtual IPs given and, as asked, the DNS
/// servers and search domains of `pools`.
pub(crate) fn reply(request: &CfgRequest, vips: &[VirtualIp], pools: &[PoolConfig]) -> CpPayload {
    let mut attributes = Vec::new();
    let mut add = |attr_type, value: Vec<u8>| attributes.push(CpAttribute { attr_type, value });
    for vip in vips {
        match vip.address {
            IpAddr::V4(a) => {
                add(CfgAttributeType::INTERNAL_IP4_ADDRESS, a.octets().to_vec());
                if request.netmask4 {
                    // The client's own address, no more: its traffic is tunnelled.
                    add(CfgAttributeType::INTERNAL_IP4_NETMASK, vec![255; 4]);
                }
            }
            IpAddr::V6(a) => {
                let mut value = a.octets().to_vec();
                value.push(128);
                add(CfgAttributeType::INTERNAL_IP6_ADDRESS, value);
            }
        }
    }
    let mut servers: Vec<IpAddr> = Vec::new();
    let mut domains: Vec<&str> = Vec::new();
    for pool in pools {
        servers.extend(
            pool.dns
                .iter()
                .filter(|s| !servers.contains(s))
                .copied()
                .collect::<Vec<_>>(),
        );
        domains.extend(
            pool.domains
                .iter()
                .map(String::as_str)
                .filter(|d| !domains.contains(d))
                .collect::<Vec<_>>(),
        );
    }
    for server in servers {
        match server {
            IpAddr::V4(a) if request.dns4 => {
                add(CfgAttributeType::INTERNAL_IP4_DNS, a.octets().to_vec())
            }
            IpAddr::V6(a) if request.dns6 => {
                add(CfgAttributeType::INTERNAL_IP6_DNS, a.octets().to_vec())
            }
            _ => {}
        }
    }
    if request.domains {
        for domain in domains {
            add(
                CfgAttributeType::INTERNAL_DNS_DOMAIN,
                domain.as_bytes().to_vec(),
            );
        }
    }
    CpPayload {
        cfg_type: CfgType::CFG_REPLY,
        attributes,
    }
}

/// The CFG_REQUEST of an emulated remote-access client (see `Emulation`).
pub(crate) fn emulated_request(request: VirtualIpRequest) -> CpPayload {
    let mut attributes = Vec::new();
    let mut ask = |attr_type, value: Vec<u8>| attributes.push(CpAttribute { attr_type, value });
    if let Some(wanted) = request.ipv4 {
        let value = wanted.map_or(Vec::new(), |a| a.octets().to_vec());
        ask(CfgAttributeType::INTERNAL_IP4_ADDRESS, value);
        if request.dns {
            ask(CfgAttributeType::INTERNAL_IP4_DNS, Vec::new());
        }
    }
    if let Some(wanted) = request.ipv6 {
        let value = wanted.map_or(Vec::new(), |a| [&a.octets()[..], &[128]].concat());
        ask(CfgAttributeType::INTERNAL_IP6_ADDRESS, value);
        if request.dns {
            ask(CfgAttributeType::INTERNAL_IP6_DNS, Vec::new());
        }
    }
    CpPayload {
        cfg_type: CfgType::CFG_REQUEST,
        attributes,
    }
}

/// The peer's traffic selectors (`proposed`, already narrowed by the
/// configuration) narrowed to its virtual IPs; unchanged when it has none.
pub(crate) fn narrow_to_virtual_ips(proposed: Vec<Ts>, vips: &[VirtualIp]) -> Vec<Ts> {
    if vips.is_empty() {
        return proposed;
    }
    let own: Vec<Ts> = vips
        .iter()
        .map(|v| Ts {
            protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start: v.address,
            end: v.address,
        })
        .collect();
    crate::ts::narrow(&proposed, &own)
}

/// How IKE_AUTH answers the peer's configuration request.
pub(crate) enum CpAnswer {
    /// No request, or nothing to answer it with.
    Nothing,
    /// A CFG_REPLY; the IKE SA holds its addresses.
    Reply(Payload),
    /// It asked for an address and none could be had: INTERNAL_ADDRESS_FAILURE
    /// (RFC 7296 §3.10.1) instead of its CHILD SA, for this reason.
    Failure(String),
}

impl Ctx {
    /// Responder, IKE_AUTH: the answer to a CFG_REQUEST among `p`, leasing the
    /// addresses it gets to `sa` (for `peer`).
    pub(crate) fn answer_config_request(
        &mut self,
        sa: &mut IkeSa,
        conn: &Connection,
        peer: &Identification,
        p: &[Payload],
    ) -> CpAnswer {
        let Some(request) = p.iter().find_map(|p| match p {
            Payload::Cp(cp) => CfgRequest::parse(cp),
            _ => None,
        }) else {
            return CpAnswer::Nothing;
        };
        let who = identity::describe(peer);
        self.stats.cp_attributes_malformed += request.malformed.len() as u64;
        if !request.malformed.is_empty() {
            let names: Vec<String> = request.malformed.iter().map(|t| t.to_string()).collect();
            tracing::warn!(
                ike = sa.unique_id,
                conn = conn.name,
                peer = who,
                "ignored configuration attributes of a wrong length: {}",
                names.join(", ")
            );
        }
        let from_radius = sa
            .radius
            .as_ref()
            .is_some_and(|r| r.grant.framed_ip.is_some() || r.grant.framed_ipv6.is_some());
        if conn.pools.is_empty() && !from_radius {
            if request.wants_an_address() {
                tracing::info!(
                    ike = sa.unique_id,
                    conn = conn.name,
                    peer = who,
                    "peer asked for a virtual IP, but the connection names no `pools`"
                );
            }
            return CpAnswer::Nothing;
        }
        // INITIAL_CONTACT: the peer's other IKE SAs go once this one is up (see
        // `initial_contact`); their addresses are its own to take over.
        let started_over = payloads::notify(p, NotifyType::INITIAL_CONTACT).is_some();
        let mut refusals = Vec::new();
        for (wanted, v6) in [(request.ip4, false), (request.ip6, true)] {
            let Some(requested) = wanted else { continue };
            match self.grant_address(sa, &who, v6) {
                Some(Ok(vip)) => {
                    tracing::info!(
                        ike = sa.unique_id,
                        conn = conn.name,
                        peer = who,
                        "assigned virtual IP {} (the RADIUS server's Framed-IP)",
                        vip.address
                    );
                    self.stats.virtual_ips_assigned += 1;
                    sa.virtual_ips.push(vip);
                    continue;
                }
                Some(Err(why)) => {
                    refusals.push(why);
                    continue;
                }
                None => {}
            }
            if conn.pools.is_empty() {
                refusals.push(format!("`{}` names no `pools`", conn.name));
                continue;
            }
            match self
                .pools
                .acquire(&conn.pools, &who, v6, requested, started_over)
            {
                Ok(vip) => {
                    tracing::info!(
                        ike = sa.unique_id,
                        conn = conn.name,
                        peer = who,
                        pool = vip.pool,
                        "assigned virtual IP {}",
                        vip.address
                    );
                    self.stats.virtual_ips_assigned += 1;
                    sa.virtual_ips.push(vip);
                }
                Err(why) => refusals.push(describe_refusal(conn, v6, &why)),
            }
        }
        if sa.virtual_ips.is_empty() && request.wants_an_address() {
            let why = format!(
                "connection `{}`: no virtual IP for peer '{who}': {}",
                conn.name,
                refusals.join("; ")
            );
            tracing::warn!(
                ike = sa.unique_id,
                conn = conn.name,
                "{why}; answered INTERNAL_ADDRESS_FAILURE"
            );
            self.stats.virtual_ip_refusals += 1;
            return CpAnswer::Failure(why);
        }
        for refusal in &refusals {
            tracing::info!(
                ike = sa.unique_id,
                conn = conn.name,
                peer = who,
                "{refusal}"
            );
        }
        CpAnswer::Reply(Payload::Cp(reply(&request, &sa.virtual_ips, &conn.pools)))
    }

    /// The IKE SA ended: its addresses go back to their pools, kept for its peer.
    pub(crate) fn release_virtual_ips(&mut self, sa: &mut IkeSa) {
        for vip in sa.virtual_ips.drain(..) {
            if vip.pool == crate::radius_session::GIVEN_BY_RADIUS {
                tracing::info!(
                    ike = sa.unique_id,
                    conn = sa.connection.name,
                    "released virtual IP {} (the RADIUS server's Framed-IP)",
                    vip.address
                );
                self.release_given(vip.address);
                continue;
            }
            tracing::info!(
                ike = sa.unique_id,
                conn = sa.connection.name,
                pool = vip.pool,
                "released virtual IP {}",
                vip.address
            );
            self.pools.release(&vip);
        }
    }
}

fn describe_refusal(conn: &Connection, v6: bool, why: &NoAddress) -> String {
    let family = if v6 { "IPv6" } else { "IPv4" };
    match why {
        NoAddress::NoSuchFamily => {
            format!("the pools of `{}` have no {family} addresses", conn.name)
        }
        NoAddress::Exhausted(pools) => {
            let each: Vec<String> = pools
                .iter()
                .map(|(name, held, size)| {
                    format!(
                        "pool `{name}` is exhausted ({held} of {size} {family} addresses in use)"
                    )
                })
                .collect();
            format!(
                "{}; add addresses to `addrs` in [pools.NAME]",
                each.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AddressRange;

    fn attr(attr_type: CfgAttributeType, value: &[u8]) -> CpAttribute {
        CpAttribute {
            attr_type,
            value: value.to_vec(),
        }
    }

    fn request(attributes: Vec<CpAttribute>) -> CfgRequest {
        CfgRequest::parse(&CpPayload {
            cfg_type: CfgType::CFG_REQUEST,
            attributes,
        })
        .unwrap()
    }

    #[test]
    fn a_strongswan_request_reads_as_one_address_per_family_and_dns() {
        let r = request(vec![
            attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[]),
            attr(CfgAttributeType::INTERNAL_IP6_ADDRESS, &[]),
            attr(CfgAttributeType::INTERNAL_IP4_DNS, &[]),
            attr(CfgAttributeType::INTERNAL_IP6_DNS, &[]),
        ]);
        assert_eq!(r.ip4, Some(None));
        assert_eq!(r.ip6, Some(None));
        assert!(r.dns4 && r.dns6 && !r.domains && !r.netmask4);
        assert!(r.malformed.is_empty());
    }

    #[test]
    fn a_requested_address_is_read_and_zero_means_any() {
        let mut v6 = "fd00::7".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        v6.push(64);
        let r = request(vec![
            attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[10, 3, 0, 9]),
            attr(CfgAttributeType::INTERNAL_IP6_ADDRESS, &v6),
        ]);
        assert_eq!(r.ip4, Some(Some("10.3.0.9".parse().unwrap())));
        assert_eq!(r.ip6, Some(Some("fd00::7".parse().unwrap())));
        let any = request(vec![attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[0; 4])]);
        assert_eq!(any.ip4, Some(None));
    }

    #[test]
    fn wrong_lengths_are_named_and_a_hundred_requests_are_one() {
        let mut attributes = vec![
            attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[10, 3]),
            attr(CfgAttributeType::INTERNAL_IP6_ADDRESS, &[0; 16]),
            attr(CfgAttributeType::INTERNAL_IP4_DNS, &[1, 2, 3]),
        ];
        attributes.extend((0..100).map(|_| attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[])));
        let r = request(attributes);
        assert_eq!(
            r.malformed,
            [
                CfgAttributeType::INTERNAL_IP4_ADDRESS,
                CfgAttributeType::INTERNAL_IP6_ADDRESS,
                CfgAttributeType::INTERNAL_IP4_DNS
            ]
        );
        assert_eq!(r.ip4, Some(None));
        assert_eq!(r.ip6, None);
    }

    #[test]
    fn other_cfg_types_are_no_request() {
        let set = CpPayload {
            cfg_type: CfgType::CFG_SET,
            attributes: vec![],
        };
        assert_eq!(CfgRequest::parse(&set), None);
    }

    #[test]
    fn the_reply_carries_the_addresses_and_what_was_asked() {
        let pool = PoolConfig {
            name: "rw".into(),
            ranges: vec![AddressRange {
                first: "10.3.0.1".parse().unwrap(),
                last: "10.3.0.9".parse().unwrap(),
            }],
            dns: vec!["10.3.0.53".parse().unwrap(), "fd00::53".parse().unwrap()],
            domains: vec!["corp.example".into()],
        };
        let vips = [
            VirtualIp {
                pool: "rw".into(),
                address: "10.3.0.1".parse().unwrap(),
            },
            VirtualIp {
                pool: "rw".into(),
                address: "fd00::1".parse().unwrap(),
            },
        ];
        let asked = CfgRequest {
            ip4: Some(None),
            ip6: Some(None),
            dns4: true,
            domains: true,
            ..Default::default()
        };
        let cp = reply(&asked, &vips, std::slice::from_ref(&pool));
        assert_eq!(cp.cfg_type, CfgType::CFG_REPLY);
        let mut v6 = "fd00::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        v6.push(128);
        assert_eq!(
            cp.attributes,
            [
                attr(CfgAttributeType::INTERNAL_IP4_ADDRESS, &[10, 3, 0, 1]),
                attr(CfgAttributeType::INTERNAL_IP6_ADDRESS, &v6),
                attr(CfgAttributeType::INTERNAL_IP4_DNS, &[10, 3, 0, 53]),
                attr(CfgAttributeType::INTERNAL_DNS_DOMAIN, b"corp.example"),
            ]
        );
    }

    #[test]
    fn selectors_narrow_to_the_virtual_ip() {
        let any = Ts {
            protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start: "0.0.0.0".parse().unwrap(),
            end: "255.255.255.255".parse().unwrap(),
        };
        let vip = VirtualIp {
            pool: "rw".into(),
            address: "10.3.0.1".parse().unwrap(),
        };
        let narrowed = narrow_to_virtual_ips(vec![any], std::slice::from_ref(&vip));
        assert_eq!(narrowed.len(), 1);
        assert_eq!(
            (narrowed[0].start, narrowed[0].end),
            (vip.address, vip.address)
        );
        assert_eq!(narrow_to_virtual_ips(vec![any], &[]), vec![any]);
    }
}
