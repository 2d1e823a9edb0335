//! The verdicts on one pair of peers from their rebuilt story, in the live
//! diagnosis's kinds and words, with each side named by its address (those on
//! ESP in [`super::esp`]).

use std::net::IpAddr;

use tern_engine::verdict::{Diagnosis, Verdict, VerdictKind};
use tern_wire::{ExchangeType, NotifyType};

use super::esp::{esp_from, esp_one_way, not_rekeyed};
use super::story::{EspSa, Exchange, IkeSa, AUTH_ANSWER_MIN};
use super::{at, secs};

/// What is known of one pair of peers.
pub struct Pair<'a> {
    pub addresses: (IpAddr, IpAddr),
    pub ike: Vec<&'a IkeSa>,
    pub esp: Vec<&'a EspSa>,
}

impl Pair<'_> {
    pub fn label(&self) -> String {
        format!("{} <-> {}", self.addresses.0, self.addresses.1)
    }

    pub(super) fn verdict(
        &self,
        kind: VerdictKind,
        what: String,
        evidence: Vec<String>,
        setting: Option<&'static str>,
        fix: String,
    ) -> Verdict {
        Verdict {
            kind,
            connection: self.label(),
            child: None,
            what,
            evidence,
            setting,
            fix,
        }
    }
}

/// Judges one pair.
pub fn judge(pair: &Pair<'_>) -> Diagnosis {
    let mut out = Vec::new();
    // A dead peer first: the IKE_SA_INITs nobody answers after it follow from it.
    unanswered_requests(pair, &mut out);
    never_reachable(pair, &mut out);
    no_proposal(pair, &mut out);
    invalid_ke_loop(pair, &mut out);
    auth_unanswered(pair, &mut out);
    auth_refused_in_clear(pair, &mut out);
    refused_inside(pair, &mut out);
    esp_one_way(pair, &mut out);
    not_rekeyed(pair, &mut out);
    let healthy = out.is_empty().then(|| healthy_line(pair));
    Diagnosis {
        connection: pair.label(),
        verdicts: out,
        healthy,
    }
}

fn sends(x: &Exchange) -> String {
    match x.sent.len() {
        1 => format!("sent once at {}", at(x.first_sent())),
        n => format!(
            "sent {n} times from {} to {}",
            at(x.first_sent()),
            at(x.last_sent())
        ),
    }
}

fn init_answered(sa: &IkeSa) -> bool {
    sa.of(ExchangeType::IKE_SA_INIT)
        .any(|x| x.answered_at.is_some())
}

/// IKE_SA_INIT requests without any answer, after the last answer of the pair.
fn never_reachable(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let last_answer = pair
        .ike
        .iter()
        .flat_map(|sa| sa.exchanges.iter())
        .filter_map(|x| x.answered_at)
        .max();
    let silent: Vec<&IkeSa> = pair
        .ike
        .iter()
        .copied()
        .filter(|sa| !init_answered(sa) && sa.of(ExchangeType::IKE_SA_INIT).next().is_some())
        .filter(|sa| last_answer.is_none_or(|t| sa.first_at() > t))
        .collect();
    let Some(first) = silent.first() else { return };
    let requests: Vec<&Exchange> = silent
        .iter()
        .flat_map(|sa| sa.of(ExchangeType::IKE_SA_INIT))
        .collect();
    let count: usize = requests.iter().map(|x| x.sent.len()).sum();
    let (from, to) = (first.initiator, first.responder);
    let since = match last_answer {
        None => "never answered".to_string(),
        Some(t) => format!("stopped answering (its last answer was at {})", at(t)),
    };
    let last = requests.iter().map(|x| x.last_sent()).max().unwrap_or(0);
    out.push(pair.verdict(
        VerdictKind::NeverReachable,
        format!(
            "{}: {from} sent IKE_SA_INIT {count} time(s) ({} IKE SA(s), from {} to {}) and {to} {since}: {} is down, or UDP 500/4500 is filtered on the path.",
            pair.label(),
            silent.len(),
            at(first.first_at()),
            at(last),
            to.ip()
        ),
        requests
            .iter()
            .take(3)
            .map(|x| format!("IKE_SA_INIT {} -> {}, {}, no answer in the capture", x.from, x.to, sends(x)))
            .collect(),
        Some("remote_addrs"),
        format!(
            "check that {} runs IKE on {} and that UDP ports 500 and 4500 pass both ways between {} and {} (firewalls, security groups); a capture taken at {} shows whether the requests arrive",
            to.ip(), to, from.ip(), to.ip(), to.ip()
        ),
    ));
}

fn refusals<'a>(
    pair: &Pair<'a>,
    exchange: ExchangeType,
    notify: NotifyType,
) -> Vec<(&'a IkeSa, &'a Exchange)> {
    pair.ike
        .iter()
        .flat_map(|sa| sa.of(exchange).map(move |x| (*sa, x)))
        .filter(|(_, x)| x.answer_notifies.iter().any(|(n, _)| *n == notify))
        .collect()
}

fn no_proposal(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let refused = refusals(
        pair,
        ExchangeType::IKE_SA_INIT,
        NotifyType::NO_PROPOSAL_CHOSEN,
    );
    let Some((_, last)) = refused.last() else {
        return;
    };
    let offered = last
        .offered
        .clone()
        .unwrap_or_else(|| "(no SA payload)".into());
    out.push(pair.verdict(
        VerdictKind::NoProposal,
        format!(
            "{}: no IKE proposal in common: {} answered {}'s IKE_SA_INIT with NO_PROPOSAL_CHOSEN ({} time(s), the last at {}); {} offered {offered}.",
            pair.label(),
            last.to,
            last.from,
            refused.len(),
            at(last.answered_at.unwrap_or(0)),
            last.from.ip()
        ),
        refused
            .iter()
            .rev()
            .take(3)
            .map(|(_, x)| format!("IKE_SA_INIT {} -> {} at {}: NO_PROPOSAL_CHOSEN", x.from, x.to, at(x.first_sent())))
            .collect(),
        Some("proposals"),
        format!(
            "give both sides one IKE proposal in common: add one {} offers to {}'s IKE proposals (tern and strongSwan: proposals), or offer on {} one {} accepts (its log names what it has), e.g. aes128gcm16-prfsha256-x25519 or, for older peers, aes256-sha256-modp2048",
            last.from.ip(), last.to.ip(), last.from.ip(), last.to.ip()
        ),
    ));
}

fn group_asked(x: &Exchange) -> Option<String> {
    x.answer_notifies
        .iter()
        .find(|(n, _)| *n == NotifyType::INVALID_KE_PAYLOAD)
        .and_then(|(_, d)| {
            Some(tern_wire::KeMethod(u16::from_be_bytes(d.get(..2)?.try_into().ok()?)).to_string())
        })
}

fn invalid_ke_loop(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    // Across the pair's IKE SAs (an initiator may take a new SPI for each try),
    // after the last IKE_SA_INIT that was accepted.
    let accepted = pair
        .ike
        .iter()
        .filter_map(|sa| sa.init_accepted().map(Exchange::first_sent))
        .max();
    let refused: Vec<(&IkeSa, &Exchange)> = pair
        .ike
        .iter()
        .flat_map(|sa| sa.of(ExchangeType::IKE_SA_INIT).map(move |x| (*sa, x)))
        .filter(|(_, x)| x.refused_with() == Some(NotifyType::INVALID_KE_PAYLOAD))
        .filter(|(_, x)| accepted.is_none_or(|t| x.first_sent() > t))
        .collect();
    if refused.len() < 2 {
        return;
    }
    let sa = refused[0].0;
    let mut loops: Vec<&Exchange> = refused.iter().map(|(_, x)| *x).collect();
    loops.sort_by_key(|x| x.first_sent());
    let sent: Vec<String> = loops
        .iter()
        .filter_map(|x| x.ke_sent.map(|k| k.to_string()))
        .collect();
    let asked: Vec<String> = loops.iter().filter_map(|x| group_asked(x)).collect();
    out.push(pair.verdict(
            VerdictKind::InvalidKeLoop,
            format!(
                "{}: {} keeps answering {}'s IKE_SA_INIT with INVALID_KE_PAYLOAD ({} times, from {} to {}): {} sent key exchanges {}; {} asked for {}, in that order. The two sides' group preferences never meet.",
                pair.label(),
                sa.responder,
                sa.initiator,
                loops.len(),
                at(loops[0].first_sent()),
                at(loops[loops.len() - 1].first_sent()),
                sa.initiator.ip(),
                sent.join(", "),
                sa.responder.ip(),
                asked.join(", ")
            ),
            loops
                .iter()
                .take(3)
                .map(|x| format!(
                    "IKE_SA_INIT at {} with KE {}: INVALID_KE_PAYLOAD asking for {}",
                    at(x.first_sent()),
                    x.ke_sent.map(|k| k.to_string()).unwrap_or_default(),
                    group_asked(x).unwrap_or_default()
                ))
                .collect(),
            Some("proposals"),
            format!(
                "offer one key exchange group both sides accept, alone or first, on both {} and {} (tern and strongSwan: the group in proposals, e.g. aes128gcm16-prfsha256-x25519)",
                sa.initiator.ip(),
                sa.responder.ip()
            ),
        ));
}

fn auth_unanswered(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    for sa in &pair.ike {
        let Some(init) = sa.init_accepted() else {
            continue;
        };
        let auths: Vec<&Exchange> = sa.of(ExchangeType::IKE_AUTH).collect();
        if auths.is_empty() || auths.iter().any(|x| x.answered_at.is_some()) {
            continue;
        }
        let x = auths[0];
        out.push(pair.verdict(
            VerdictKind::AuthUnanswered,
            format!(
                "{}: {} answered {}'s IKE_SA_INIT at {} but never its IKE_AUTH ({} bytes, {}): large IKE messages are lost on the path (IP fragments dropped, MTU).",
                pair.label(),
                sa.responder,
                sa.initiator,
                at(init.answered_at.unwrap_or(0)),
                x.request_len,
                sends(x)
            ),
            vec![format!(
                "IKE_AUTH {} -> {}: {} bytes, {}, no answer in the capture",
                x.from, x.to, x.request_len, sends(x)
            )],
            Some("fragmentation.enabled"),
            "keep IKE fragmentation on at both ends (tern: [fragmentation] enabled = true, the default; strongSwan: fragmentation = yes) so IKE_AUTH goes in pieces the path carries, and check that the path passes UDP 4500 and IP fragments (certificates make IKE_AUTH large)".into(),
        ));
    }
}

/// Whether an IKE SA's IKE_AUTH was answered with too little to be a success,
/// and nothing of it followed: the answer held an error notify.
pub fn auth_refused(sa: &IkeSa) -> Option<&Exchange> {
    let x = sa
        .of(ExchangeType::IKE_AUTH)
        .find(|x| x.answered_at.is_some())?;
    let after = sa.exchanges.iter().any(|o| {
        o.first_sent() > x.answered_at.unwrap_or(0) && o.exchange != ExchangeType::INFORMATIONAL
    });
    (!x.decrypted && x.answer_len < AUTH_ANSWER_MIN && !after).then_some(x)
}

/// Without --keys: IKE_AUTH answered with a message too small to carry more
/// than an error notify, and no CHILD SA after it.
fn auth_refused_in_clear(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let refused: Vec<(&IkeSa, &Exchange)> = pair
        .ike
        .iter()
        .filter_map(|sa| Some((*sa, auth_refused(sa)?)))
        .collect();
    let Some((sa, last)) = refused.last() else {
        return;
    };
    let esp_after = pair
        .esp
        .iter()
        .any(|e| e.last_at > last.answered_at.unwrap_or(0));
    if esp_after {
        return;
    }
    out.push(pair.verdict(
        VerdictKind::AuthFailed,
        format!(
            "{}: {} refused {}'s IKE_AUTH ({} time(s), the last at {}): its answer of {} bytes is too small to hold more than an error notify, and no CHILD SA followed; most likely AUTHENTICATION_FAILED (the SK payload is encrypted; the responder's log names the notify).",
            pair.label(),
            sa.responder.ip(),
            sa.initiator.ip(),
            refused.len(),
            at(last.answered_at.unwrap_or(0)),
            last.answer_len
        ),
        refused
            .iter()
            .rev()
            .take(3)
            .map(|(_, x)| format!(
                "IKE_AUTH {} -> {} ({} bytes) at {}, answered with {} bytes, nothing after",
                x.from, x.to, x.request_len, at(x.first_sent()), x.answer_len
            ))
            .collect(),
        Some("psk"),
        format!(
            "check that {} and {} use the same PSK, that each side's local identity is the one the other expects as remote, and for certificates the CA, validity and revocation; {}'s log says which",
            sa.initiator.ip(), sa.responder.ip(), sa.responder.ip()
        ),
    ));
}

/// Refusals seen inside SK payloads (with --keys): authentication, no
/// proposal or unacceptable selectors for a CHILD SA.
fn refused_inside(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    let cases = [
        (NotifyType::AUTHENTICATION_FAILED, VerdictKind::AuthFailed, "authentication failed", "psk",
         "check that both sides use the same PSK, that each side's local identity is the one the other expects as remote, and for certificates the CA, validity and revocation"),
        (NotifyType::NO_PROPOSAL_CHOSEN, VerdictKind::NoProposal, "no ESP proposal in common for a CHILD SA", "esp_proposals",
         "give both sides one ESP proposal in common (tern and strongSwan: esp_proposals), with the same PFS group or none on both sides"),
        (NotifyType::TS_UNACCEPTABLE, VerdictKind::TsUnacceptable, "the traffic selectors were refused (TS_UNACCEPTABLE)", "local_ts",
         "make each side's local_ts the other's remote_ts (tern and strongSwan: local_ts / remote_ts)"),
    ];
    for (notify, kind, words, setting, fix) in cases {
        let found: Vec<(&IkeSa, &Exchange)> = pair
            .ike
            .iter()
            .flat_map(|sa| sa.exchanges.iter().map(move |x| (*sa, x)))
            .filter(|(_, x)| x.exchange != ExchangeType::IKE_SA_INIT)
            .filter(|(_, x)| {
                x.answer_notifies.iter().any(|(n, _)| *n == notify)
                    || x.request_notifies.contains(&notify)
            })
            .collect();
        let Some((_, last)) = found.last() else {
            continue;
        };
        let by = if last.request_notifies.contains(&notify) {
            last.from.ip()
        } else {
            last.to.ip()
        };
        out.push(
            pair.verdict(
                kind,
                format!(
                    "{}: {words}: {by} said {notify} in {} ({} time(s), the last at {}).",
                    pair.label(),
                    last.exchange,
                    found.len(),
                    at(last.answered_at.unwrap_or(last.first_sent()))
                ),
                found
                    .iter()
                    .rev()
                    .take(3)
                    .map(|(_, x)| {
                        format!(
                            "{} {} -> {} at {} (decrypted): {notify}",
                            x.exchange,
                            x.from,
                            x.to,
                            at(x.first_sent())
                        )
                    })
                    .collect(),
                Some(setting),
                fix.into(),
            ),
        );
    }
}

/// Requests retransmitted and never answered inside an established IKE SA:
/// liveness checks (INFORMATIONAL) make a dead peer; CREATE_CHILD_SA an
/// unanswered rekey.
fn unanswered_requests(pair: &Pair<'_>, out: &mut Vec<Verdict>) {
    for sa in &pair.ike {
        if !sa.established() {
            continue;
        }
        for x in &sa.exchanges {
            let dpd = x.exchange == ExchangeType::INFORMATIONAL;
            if x.answered_at.is_some()
                || x.sent.len() < 2
                || !(dpd || x.exchange == ExchangeType::CREATE_CHILD_SA)
            {
                continue;
            }
            let next = pair
                .ike
                .iter()
                .filter(|o| o.first_at() > x.first_sent() && o.initiator.ip() == x.from.ip())
                .map(|o| o.first_at())
                .min();
            let then = next
                .map(|t| format!("; then {} started a new IKE SA at {}", x.from.ip(), at(t)))
                .unwrap_or_default();
            let (kind, words, setting, fix) = if dpd {
                (
                    VerdictKind::DeadPeer,
                    "stopped answering an established IKE SA (dead peer)",
                    "dpd_action",
                    format!("check that {} is running and reachable (it went silent, or UDP 500/4500 from it stopped passing); dpd_action = \"restart\" on {} brings the tunnel back when it is", x.to.ip(), x.from.ip()),
                )
            } else {
                (
                    VerdictKind::RekeyUnanswered,
                    "never answered a CREATE_CHILD_SA (a rekey or a new CHILD SA)",
                    "rekey_time",
                    format!("check that {} is running and that UDP 500/4500 passes; if it answers other requests, its log says why it ignores this one", x.to.ip()),
                )
            };
            out.push(pair.verdict(
                kind,
                format!(
                    "{}: {} {words}: {} sent {} (message ID {}) {} times from {} to {} without an answer{then}.",
                    pair.label(),
                    x.to.ip(),
                    x.from,
                    x.exchange,
                    x.message_id,
                    x.sent.len(),
                    at(x.first_sent()),
                    at(x.last_sent())
                ),
                vec![format!(
                    "IKE SA {} {} -> {}: {} message ID {}, {}, no answer",
                    super::hex(&sa.spi_i),
                    x.from,
                    x.to,
                    x.exchange,
                    x.message_id,
                    sends(x)
                )],
                Some(setting),
                fix,
            ));
        }
    }
}

fn healthy_line(pair: &Pair<'_>) -> String {
    let established = pair.ike.iter().filter(|sa| sa.established()).count();
    let creates: Vec<&Exchange> = pair
        .ike
        .iter()
        .flat_map(|sa| sa.of(ExchangeType::CREATE_CHILD_SA))
        .collect();
    let (a, b) = pair.addresses;
    // Each side's CREATE_CHILD_SAs and, with two or more, their usual interval.
    let by = |ip: IpAddr| {
        let mut times: Vec<u64> = creates
            .iter()
            .filter(|x| x.from.ip() == ip)
            .map(|x| x.first_sent())
            .collect();
        times.sort_unstable();
        let mut gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        match gaps.get(gaps.len() / 2) {
            Some(median) => format!("{} every {}", times.len(), secs(*median)),
            None => times.len().to_string(),
        }
    };
    let esp_a: u64 = esp_from(pair, a).iter().map(|e| e.packets).sum();
    let esp_b: u64 = esp_from(pair, b).iter().map(|e| e.packets).sum();
    let unanswered = pair
        .ike
        .iter()
        .flat_map(|sa| sa.exchanges.iter())
        .filter(|x| x.answered_at.is_none())
        .count();
    let answers = match unanswered {
        0 => "every request answered".to_string(),
        n => format!("{n} request(s) without an answer in the capture"),
    };
    format!(
        "healthy: {} IKE SA(s) ({} established), {} CREATE_CHILD_SA ({} by {a}, {} by {b}), ESP {esp_a} packet(s) from {a} and {esp_b} from {b}, {answers}",
        pair.ike.len(),
        established,
        creates.len(),
        by(a),
        by(b)
    )
}
