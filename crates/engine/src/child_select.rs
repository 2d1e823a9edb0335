//! Responder side of a CHILD SA request, shared by IKE_AUTH and CREATE_CHILD_SA:
//! which child configuration it matches, the narrowed selectors, the mode, the
//! ESP proposal.

use tern_wire::{NotifyType, Payload, SaPayload, TsPayload};

use std::borrow::Cow;
use std::sync::Arc;

use crate::child_sa::Negotiated;
use crate::config::{Connection, Mode};
use crate::payloads;
use crate::proposal::{self, EspSuite};
use crate::shared_child::SharedChild;
use crate::ts::{self, Ts};

/// The CHILD SA payloads of a request or response.
pub struct ChildPayloads<'a> {
    pub sa: &'a SaPayload,
    pub tsi: &'a TsPayload,
    pub tsr: &'a TsPayload,
    pub transport: bool,
}

pub fn child_payloads(p: &[Payload]) -> Option<ChildPayloads<'_>> {
    Some(ChildPayloads {
        sa: payloads::sa(p)?,
        tsi: payloads::ts_i(p)?,
        tsr: payloads::ts_r(p)?,
        transport: payloads::notify(p, NotifyType::USE_TRANSPORT_MODE).is_some(),
    })
}

/// What the responder agreed to.
pub struct Choice {
    pub config: SharedChild,
    pub local_ts: Vec<Ts>,
    pub remote_ts: Vec<Ts>,
    pub mode: Mode,
    pub proposal_number: u8,
    pub suite: EspSuite,
    pub spi_out: u32,
}

impl Choice {
    /// The CHILD SA this choice makes, with our reqid and inbound SPI for it.
    pub fn into_negotiated(self, reqid: u32, spi_in: u32) -> Negotiated {
        Negotiated {
            name: self.config.name.clone(),
            reqid,
            mode: self.mode,
            suite: self.suite,
            spi_in,
            spi_out: self.spi_out,
            local_ts: self.local_ts,
            remote_ts: self.remote_ts,
        }
    }
}

/// A refusal: the notify for the peer and the reason for our log.
pub type Refusal = (NotifyType, String);

/// Chooses the child configuration for a peer's request: `only` when rekeying a
/// known CHILD SA, else the first child of `conn` whose selectors meet the peer's.
/// `in_ike_auth`: the request came with IKE_AUTH, where no PFS is possible.
pub fn choose(
    conn: &Arc<Connection>,
    only: Option<SharedChild>,
    c: &ChildPayloads<'_>,
    in_ike_auth: bool,
) -> Result<Choice, Refusal> {
    let (Some(tsi), Some(tsr)) = (ts::from_payload(c.tsi), ts::from_payload(c.tsr)) else {
        return Err((
            NotifyType::TS_UNACCEPTABLE,
            "the peer's traffic selectors are of an unknown type".into(),
        ));
    };
    let candidates: Vec<SharedChild> = match only {
        Some(config) => vec![config],
        None => SharedChild::all(conn).collect(),
    };
    let matched = candidates.into_iter().find_map(|config| {
        let remote: Vec<Ts> = config.remote_ts.iter().map(Ts::from_config).collect();
        let local: Vec<Ts> = config.local_ts.iter().map(Ts::from_config).collect();
        // TSi is the initiator's side: ours is TSr.
        let remote_ts = ts::narrow(&tsi, &remote);
        let local_ts = ts::narrow(&tsr, &local);
        (!remote_ts.is_empty() && !local_ts.is_empty()).then_some((config, local_ts, remote_ts))
    });
    let Some((config, local_ts, remote_ts)) = matched else {
        return Err((
            NotifyType::TS_UNACCEPTABLE,
            format!(
                "the peer's traffic selectors {} === {} match no child of connection `{}`",
                ts::describe(&tsi),
                ts::describe(&tsr),
                conn.name
            ),
        ));
    };
    let mode = match (config.mode, c.transport) {
        (Mode::Transport, true) => Mode::Transport,
        // A tunnel-mode child answers a transport request with tunnel mode (§1.3.1).
        (Mode::Tunnel, _) => Mode::Tunnel,
        (Mode::Transport, false) => {
            return Err((
                NotifyType::NO_PROPOSAL_CHOSEN,
                format!(
                    "child `{}` is configured for transport mode, the peer asked for tunnel mode",
                    config.name
                ),
            ));
        }
    };
    // Borrowed as they are, but in IKE_AUTH (no key exchange there): a
    // rekey copied the peer's offer and our proposals for nothing.
    let (offer, ours) = if in_ike_auth {
        (
            Cow::Owned(proposal::strip_key_exchange(c.sa)),
            Cow::Owned(proposal::without_pfs(&config.esp_proposals)),
        )
    } else {
        (
            Cow::Borrowed(c.sa),
            Cow::Borrowed(config.esp_proposals.as_slice()),
        )
    };
    let Some((proposal_number, suite, spi_out)) = proposal::select_esp(&offer, &ours) else {
        return Err((
            NotifyType::NO_PROPOSAL_CHOSEN,
            format!(
                "child `{}`: no ESP proposal in common; the peer offered {}; ours: {}",
                config.name,
                proposal::describe_offer(c.sa),
                proposal::describe_esp_proposals(&ours)
            ),
        ));
    };
    Ok(Choice {
        config,
        local_ts,
        remote_ts,
        mode,
        proposal_number,
        suite,
        spi_out,
    })
}

/// Initiator: whether the responder's answer fits what we asked for.
pub fn check_answer(
    esp_proposals: &[crate::config::EspProposal],
    local_ts: &[Ts],
    remote_ts: &[Ts],
    mode: Mode,
    c: &ChildPayloads<'_>,
) -> Result<(EspSuite, u32, Vec<Ts>, Vec<Ts>), String> {
    let (suite, spi_out) = proposal::accept_esp_answer(c.sa, esp_proposals).ok_or_else(|| {
        format!(
            "the peer chose an ESP proposal we did not offer: {}",
            proposal::describe_offer(c.sa)
        )
    })?;
    let (Some(tsi), Some(tsr)) = (ts::from_payload(c.tsi), ts::from_payload(c.tsr)) else {
        return Err("the peer's traffic selectors are of an unknown type".into());
    };
    if !ts::all_within(&tsi, local_ts) || !ts::all_within(&tsr, remote_ts) {
        return Err(format!(
            "the peer's traffic selectors {} === {} are not within ours {} === {}",
            ts::describe(&tsi),
            ts::describe(&tsr),
            ts::describe(local_ts),
            ts::describe(remote_ts)
        ));
    }
    match (mode, c.transport) {
        (Mode::Transport, false) => {
            return Err("we asked for transport mode, the peer answered with tunnel mode".into())
        }
        (Mode::Tunnel, true) => {
            return Err("the peer answered a tunnel-mode request with transport mode".into())
        }
        _ => {}
    }
    Ok((suite, spi_out, tsi, tsr))
}
