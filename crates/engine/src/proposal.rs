//! Proposals: what we offer, what we accept, and the algorithms that come out.
//!
//! The configuration lists proposals as sets of algorithms; on the wire each
//! proposal is a list of transforms. Selection walks our proposals in our order of
//! preference and takes the first peer proposal compatible with one of them.

use std::fmt;

use tern_wire::{
    EncrId, EsnId, IntegId, KeMethod, PrfId, Proposal, ProtocolId, SaPayload, Transform,
    TransformType,
};

pub use crate::algorithms::*;
use crate::config::{Encryption, EspProposal, IkeProposal, Integrity, KeyExchange, Prf};

/// The algorithms of an IKE SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IkeSuite {
    pub encryption: Encryption,
    /// Only with encryption that is not AEAD.
    pub integrity: Option<Integrity>,
    pub prf: Prf,
    pub key_exchange: KeyExchange,
}

/// The algorithms of a CHILD SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspSuite {
    pub encryption: Encryption,
    pub integrity: Option<Integrity>,
    pub key_exchange: Option<KeyExchange>,
    pub esn: bool,
}

impl fmt::Display for IkeSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encryption_name(self.encryption))?;
        if let Some(i) = self.integrity {
            write!(f, "/{}", integrity_name(i))?;
        }
        write!(f, "/{}/{}", prf_name(self.prf), ke_name(self.key_exchange))
    }
}

impl fmt::Display for EspSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encryption_name(self.encryption))?;
        if let Some(i) = self.integrity {
            write!(f, "/{}", integrity_name(i))?;
        }
        if let Some(ke) = self.key_exchange {
            write!(f, "/{}", ke_name(ke))?;
        }
        if self.esn {
            f.write_str("/ESN")?;
        }
        Ok(())
    }
}

fn esn_transform(esn: bool) -> Transform {
    let id = if esn { EsnId::ESN } else { EsnId::NO_ESN };
    Transform::new(TransformType::ESN, id.0)
}

/// The transforms of one configured proposal, in the usual order.
fn transforms(
    encryption: &[Encryption],
    integrity: &[Integrity],
    prf: &[Prf],
    ke: &[KeyExchange],
) -> Vec<Transform> {
    let mut t: Vec<Transform> = encryption
        .iter()
        .map(|&e| encryption_transform(e))
        .collect();
    t.extend(integrity.iter().map(|&i| integrity_transform(i)));
    t.extend(prf.iter().map(|&p| prf_transform(p)));
    t.extend(ke.iter().map(|&k| ke_transform(k)));
    t
}

/// The SA payload of an IKE_SA_INIT request: one wire proposal per configured one.
pub fn ike_offer(proposals: &[IkeProposal]) -> SaPayload {
    let proposals = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| Proposal {
            number: (i + 1) as u8,
            protocol: ProtocolId::IKE,
            spi: Vec::new(),
            transforms: transforms(&p.encryption, &p.integrity, &p.prf, &p.key_exchange),
        })
        .collect();
    SaPayload { proposals }
}

/// The SA payload of a CHILD SA request, carrying our inbound SPI.
pub fn esp_offer(proposals: &[EspProposal], spi: u32) -> SaPayload {
    let proposals = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms = transforms(&p.encryption, &p.integrity, &[], &p.key_exchange);
            transforms.push(esn_transform(p.esn));
            Proposal {
                number: (i + 1) as u8,
                protocol: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms,
            }
        })
        .collect();
    SaPayload { proposals }
}

/// IKE_AUTH carries no KE payload, so its CHILD SA has no PFS (RFC 7296 §1.2): the
/// initiator offers its proposals without key exchange methods ...
pub fn without_pfs(proposals: &[EspProposal]) -> Vec<EspProposal> {
    proposals
        .iter()
        .map(|p| EspProposal {
            key_exchange: Vec::new(),
            ..p.clone()
        })
        .collect()
}

/// ... and the responder ignores any the peer sent anyway.
pub fn strip_key_exchange(offer: &SaPayload) -> SaPayload {
    let mut offer = offer.clone();
    for p in &mut offer.proposals {
        p.transforms
            .retain(|t| t.transform_type != TransformType::KE);
    }
    offer
}

/// The single-proposal SA payload a responder answers with.
pub fn ike_answer(number: u8, suite: IkeSuite) -> SaPayload {
    let integrity: Vec<Integrity> = suite.integrity.into_iter().collect();
    SaPayload {
        proposals: vec![Proposal {
            number,
            protocol: ProtocolId::IKE,
            spi: Vec::new(),
            transforms: transforms(
                &[suite.encryption],
                &integrity,
                &[suite.prf],
                &[suite.key_exchange],
            ),
        }],
    }
}

pub fn esp_answer(number: u8, suite: EspSuite, spi: u32) -> SaPayload {
    let integrity: Vec<Integrity> = suite.integrity.into_iter().collect();
    let ke: Vec<KeyExchange> = suite.key_exchange.into_iter().collect();
    let mut transforms = transforms(&[suite.encryption], &integrity, &[], &ke);
    transforms.push(esn_transform(suite.esn));
    SaPayload {
        proposals: vec![Proposal {
            number,
            protocol: ProtocolId::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms,
        }],
    }
}

/// Picks the first transform of a type whose value we accept, in our order.
fn pick<T: Copy + PartialEq>(
    transforms: &[Transform],
    kind: TransformType,
    ours: &[T],
    decode: impl Fn(&Transform) -> Option<T>,
) -> Option<T> {
    let theirs: Vec<T> = transforms
        .iter()
        .filter(|t| t.transform_type == kind)
        .filter_map(&decode)
        .collect();
    ours.iter().copied().find(|o| theirs.contains(o))
}

fn has_type(transforms: &[Transform], kind: TransformType) -> bool {
    transforms.iter().any(|t| t.transform_type == kind)
}

/// A proposal with a transform type we do not know must be rejected (RFC 7296 §3.3.6).
fn only_known_types(transforms: &[Transform]) -> bool {
    transforms
        .iter()
        .all(|t| (1..=5).contains(&t.transform_type.0))
}

/// Encryption, and integrity exactly when the encryption is not AEAD: an AEAD
/// algorithm goes with no integrity transform or INTEG NONE (RFC 5282 §8).
fn pick_protection(
    t: &[Transform],
    encryption: &[Encryption],
    integrity: &[Integrity],
) -> Option<(Encryption, Option<Integrity>)> {
    let aead_ok = t
        .iter()
        .filter(|x| x.transform_type == TransformType::INTEG)
        .all(|x| x.id == IntegId::NONE.0);
    let theirs: Vec<Encryption> = t
        .iter()
        .filter(|x| x.transform_type == TransformType::ENCR)
        .filter_map(encryption_from)
        .collect();
    encryption
        .iter()
        .copied()
        .filter(|e| theirs.contains(e))
        .find_map(|e| {
            if e.is_aead() {
                aead_ok.then_some((e, None))
            } else {
                pick(t, TransformType::INTEG, integrity, integrity_from).map(|i| (e, Some(i)))
            }
        })
}

fn match_ike(peer: &Proposal, ours: &IkeProposal) -> Option<IkeSuite> {
    if peer.protocol != ProtocolId::IKE || !only_known_types(&peer.transforms) {
        return None;
    }
    let t = &peer.transforms;
    let (encryption, integrity) = pick_protection(t, &ours.encryption, &ours.integrity)?;
    Some(IkeSuite {
        encryption,
        integrity,
        prf: pick(t, TransformType::PRF, &ours.prf, prf_from)?,
        key_exchange: pick(t, TransformType::KE, &ours.key_exchange, |t| {
            ke_from_method(KeMethod(t.id))
        })?,
    })
}

fn match_esp(peer: &Proposal, ours: &EspProposal) -> Option<EspSuite> {
    if peer.protocol != ProtocolId::ESP
        || peer.spi.len() != 4
        || !only_known_types(&peer.transforms)
    {
        return None;
    }
    let t = &peer.transforms;
    let (encryption, integrity) = pick_protection(t, &ours.encryption, &ours.integrity)?;
    let key_exchange = if ours.key_exchange.is_empty() {
        // Without PFS we take a proposal that offers no KE or offers NONE.
        let offers_none = !has_type(t, TransformType::KE)
            || t.iter()
                .any(|x| x.transform_type == TransformType::KE && x.id == KeMethod::NONE.0);
        if !offers_none {
            return None;
        }
        None
    } else {
        Some(pick(t, TransformType::KE, &ours.key_exchange, |x| {
            ke_from_method(KeMethod(x.id))
        })?)
    };
    // A missing ESN transform means "no ESN".
    let esn_ok = if has_type(t, TransformType::ESN) {
        let wanted = if ours.esn {
            EsnId::ESN.0
        } else {
            EsnId::NO_ESN.0
        };
        t.iter()
            .any(|x| x.transform_type == TransformType::ESN && x.id == wanted)
    } else {
        !ours.esn
    };
    esn_ok.then_some(EspSuite {
        encryption,
        integrity,
        key_exchange,
        esn: ours.esn,
    })
}

/// Exactly one transform of each type present: what a responder's answer must be.
fn one_of_each(p: &Proposal) -> bool {
    let mut seen = std::collections::HashSet::new();
    p.transforms.iter().all(|t| seen.insert(t.transform_type.0))
}

/// Responder: choose an IKE proposal. Returns the peer's proposal number and the suite.
pub fn select_ike(offer: &SaPayload, ours: &[IkeProposal]) -> Option<(u8, IkeSuite)> {
    ours.iter().find_map(|o| {
        offer
            .proposals
            .iter()
            .find_map(|p| match_ike(p, o).map(|s| (p.number, s)))
    })
}

/// Responder: choose an ESP proposal. Returns the number, the suite and the peer's SPI.
pub fn select_esp(offer: &SaPayload, ours: &[EspProposal]) -> Option<(u8, EspSuite, u32)> {
    ours.iter().find_map(|o| {
        offer.proposals.iter().find_map(|p| {
            let suite = match_esp(p, o)?;
            let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
            Some((p.number, suite, spi))
        })
    })
}

/// Initiator: check the responder's answer is exactly one of the proposals we made.
pub fn accept_ike_answer(answer: &SaPayload, ours: &[IkeProposal]) -> Option<IkeSuite> {
    let [p] = answer.proposals.as_slice() else {
        return None;
    };
    let offered = ours.get(usize::from(p.number).checked_sub(1)?)?;
    let suite = match_ike(p, offered)?;
    one_of_each(p).then_some(suite)
}

pub fn accept_esp_answer(answer: &SaPayload, ours: &[EspProposal]) -> Option<(EspSuite, u32)> {
    let [p] = answer.proposals.as_slice() else {
        return None;
    };
    let offered = ours.get(usize::from(p.number).checked_sub(1)?)?;
    let suite = match_esp(p, offered)?;
    if !one_of_each(p) {
        return None;
    }
    let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
    Some((suite, spi))
}

/// A readable summary of a peer's proposals, for "no proposal chosen" diagnostics.
pub fn describe_offer(offer: &SaPayload) -> String {
    offer
        .proposals
        .iter()
        .map(|p| {
            let ts: Vec<String> = p.transforms.iter().map(describe_transform).collect();
            format!("#{} {}", p.number, ts.join("/"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Our proposals, written as `describe_offer` writes the peer's, to read side by side.
pub fn describe_ike_proposals(ours: &[IkeProposal]) -> String {
    describe_offer(&ike_offer(ours))
}

pub fn describe_esp_proposals(ours: &[EspProposal]) -> String {
    describe_offer(&esp_offer(ours, 0))
}

fn describe_transform(t: &Transform) -> String {
    let name = match t.transform_type {
        TransformType::ENCR => format!("{}", EncrId(t.id)),
        TransformType::PRF => format!("PRF_{}", PrfId(t.id)),
        TransformType::INTEG => format!("{}", tern_wire::IntegId(t.id)),
        TransformType::KE => format!("{}", KeMethod(t.id)),
        TransformType::ESN => format!("{}", EsnId(t.id)),
        other => format!("{other}:{}", t.id),
    };
    match t.key_length() {
        Some(bits) => format!("{name}_{bits}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Vec<IkeProposal> {
        vec![IkeProposal {
            encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
            integrity: vec![],
            prf: vec![Prf::HmacSha256],
            key_exchange: vec![KeyExchange::X25519],
        }]
    }

    /// Roughly what strongSwan 5.9 offers by default: a long CBC/HMAC proposal with
    /// many groups first, then an AEAD proposal.
    fn strongswan_like_offer() -> SaPayload {
        let t = |kind, id| Transform::new(kind, id);
        SaPayload {
            proposals: vec![
                Proposal {
                    number: 1,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        t(TransformType::ENCR, EncrId::AES_CBC.0).with_key_length(128),
                        t(TransformType::ENCR, EncrId::AES_CBC.0).with_key_length(256),
                        t(TransformType::INTEG, 12),
                        t(TransformType::PRF, PrfId::HMAC_SHA2_256.0),
                        t(TransformType::KE, KeMethod::ECP_256.0),
                        t(TransformType::KE, KeMethod::CURVE25519.0),
                    ],
                },
                Proposal {
                    number: 2,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        t(TransformType::ENCR, EncrId::AES_GCM_16.0).with_key_length(256),
                        t(TransformType::ENCR, EncrId::AES_GCM_16.0).with_key_length(128),
                        t(TransformType::PRF, PrfId::HMAC_SHA2_512.0),
                        t(TransformType::PRF, PrfId::HMAC_SHA2_256.0),
                        t(TransformType::KE, KeMethod::ECP_256.0),
                        t(TransformType::KE, KeMethod::CURVE25519.0),
                    ],
                },
            ],
        }
    }

    #[test]
    fn picks_the_aead_proposal_out_of_a_long_list() {
        let (number, suite) = select_ike(&strongswan_like_offer(), &ours()).unwrap();
        assert_eq!(number, 2);
        assert_eq!(
            suite.to_string(),
            "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519"
        );
    }

    #[test]
    fn no_common_proposal_is_none() {
        let mut offer = strongswan_like_offer();
        offer.proposals.truncate(1);
        assert_eq!(select_ike(&offer, &ours()), None);
    }

    #[test]
    fn answer_round_trips_through_acceptance() {
        let (number, suite) = select_ike(&strongswan_like_offer(), &ours()).unwrap();
        let answer = ike_answer(1, suite);
        assert_eq!(accept_ike_answer(&answer, &ours()), Some(suite));
        // A number we never offered is refused.
        assert_eq!(accept_ike_answer(&ike_answer(number, suite), &ours()), None);
    }

    #[test]
    fn esp_without_pfs_rejects_proposals_that_require_a_group() {
        let ours = vec![EspProposal {
            encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
            integrity: vec![],
            key_exchange: vec![],
            esn: false,
        }];
        let mut offer = esp_offer(&ours, 0xc000_0001);
        assert_eq!(select_esp(&offer, &ours).map(|x| x.2), Some(0xc000_0001));
        offer.proposals[0]
            .transforms
            .push(Transform::new(TransformType::KE, KeMethod::CURVE25519.0));
        assert_eq!(select_esp(&offer, &ours), None);
    }

    #[test]
    fn esp_answer_is_accepted_by_the_initiator() {
        let ours = vec![EspProposal {
            encryption: vec![Encryption::AesGcm16 { key_bits: 128 }],
            integrity: vec![],
            key_exchange: vec![],
            esn: false,
        }];
        let (n, suite, _) = select_esp(&esp_offer(&ours, 7), &ours).unwrap();
        assert_eq!(
            accept_esp_answer(&esp_answer(n, suite, 0xabcd), &ours),
            Some((suite, 0xabcd))
        );
        assert_eq!(suite.to_string(), "AES_GCM_16_128");
    }
}
