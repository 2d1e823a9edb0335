//! `ternctl diagnose --pcap FILE`: the IKE and ESP of a capture between any two
//! peers, rebuilt ([`story`]) and judged per pair of addresses ([`judge`]) in
//! the live diagnosis's words. Nothing here talks to the daemon.

mod esp;
mod judge;
mod keys;
mod story;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;
use tern_engine::verdict::Diagnosis;
use tern_wire::decode::read_capture;
use tern_wire::{ExchangeType, NotifyType};

use esp::describe_esp;
use judge::Pair;
pub use keys::KeyTable;
use story::{IkeSa, Story};

/// A moment of the capture (µs since the epoch) as UTC to the millisecond.
fn at(us: u64) -> String {
    crate::format::utc_time(us / 1000)
}

/// A span (µs) in seconds, to the tenth.
fn secs(us: u64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What reading and judging a capture came to.
pub struct Offline {
    pub story: Story,
    pub diagnoses: Vec<Diagnosis>,
    /// The capture could not be read at all.
    pub unreadable: Option<String>,
}

/// Reads the capture's bytes and judges each pair of peers in it, opening the
/// SK payloads of the IKE SAs `keys` has keys for.
pub fn diagnose(input: &[u8], keys: Option<&KeyTable>) -> Offline {
    let items = match read_capture(input) {
        Ok(items) => items,
        Err(e) => {
            return Offline {
                story: Story::default(),
                diagnoses: Vec::new(),
                unreadable: Some(format!("cannot read the capture: {e}")),
            }
        }
    };
    let story = story::rebuild(&items, keys.map(|k| k as &dyn story::Decrypter));
    let pairs: BTreeSet<(IpAddr, IpAddr)> = story
        .ike_sas
        .iter()
        .map(IkeSa::pair)
        .chain(story.esp.iter().map(|e| e.pair()))
        .collect();
    let diagnoses = pairs
        .into_iter()
        .map(|addresses| {
            judge::judge(&Pair {
                addresses,
                ike: story
                    .ike_sas
                    .iter()
                    .filter(|s| s.pair() == addresses)
                    .collect(),
                esp: story.esp.iter().filter(|e| e.pair() == addresses).collect(),
            })
        })
        .collect();
    Offline {
        story,
        diagnoses,
        unreadable: None,
    }
}

impl Offline {
    /// 0 healthy, 1 a problem found, or a capture unreadable or partly so.
    pub fn exit_code(&self) -> u8 {
        let problems = self.diagnoses.iter().any(|d| d.problems() > 0);
        u8::from(problems || !self.errors().is_empty())
    }

    /// What could not be read, one line each (stderr).
    pub fn errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = self.unreadable.iter().cloned().collect();
        errors.extend(self.story.problems.iter().cloned());
        if self.unreadable.is_none() && self.diagnoses.is_empty() {
            errors.push(
                "no IKE (UDP 500/4500) or ESP (IP protocol 50, UDP 4500) packets in the capture: nothing to judge".into(),
            );
        }
        if !self.story.problems.is_empty() {
            errors.push(format!(
                "{} packet(s) could not be read; the verdicts use the rest",
                self.story.problems.len()
            ));
        }
        errors
    }

    pub fn text(&self) -> String {
        if self.unreadable.is_some() {
            return String::new();
        }
        if self.diagnoses.is_empty() {
            return String::new();
        }
        let mut out = crate::diagnose_live::text(&self.diagnoses);
        out.push_str("story:\n");
        for sa in &self.story.ike_sas {
            out.push_str(&format!("  {}\n", ike_line(sa)));
        }
        for e in &self.story.esp {
            out.push_str(&format!("  {}\n", describe_esp(e)));
        }
        out
    }

    /// The live diagnose's JSON (`connections`, one per pair), with `ike_sas`
    /// and `esp` for the story.
    pub fn json(&self) -> String {
        let mut value: serde_json::Value =
            serde_json::from_str(&crate::diagnose_live::json(&self.diagnoses))
                .expect("diagnose's JSON parses");
        value["ike_sas"] = self.story.ike_sas.iter().map(ike_json).collect();
        value["esp"] = self
            .story
            .esp
            .iter()
            .map(|e| {
                json!({
                    "source": e.source.to_string(),
                    "destination": e.destination.to_string(),
                    "spi": format!("{:08x}", e.spi),
                    "in_udp": e.in_udp,
                    "packets": e.packets,
                    "first_us": e.first_at,
                    "last_us": e.last_at,
                    "first_sequence": e.first_sequence,
                    "last_sequence": e.last_sequence,
                })
            })
            .collect();
        value["problems"] = json!(self.story.problems);
        serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n"
    }
}

/// One IKE SA in a line: who, when, and its exchanges in order (routine ones
/// counted).
fn ike_line(sa: &IkeSa) -> String {
    let mut parts: Vec<String> = Vec::new();
    for x in &sa.exchanges {
        let routine = matches!(
            x.exchange,
            ExchangeType::CREATE_CHILD_SA | ExchangeType::INFORMATIONAL
        ) && x.answered_at.is_some()
            && x.sent.len() == 1
            && x.refused_with().is_none()
            && x.deletes.is_empty()
            && !x.decrypted;
        if routine {
            continue;
        }
        let answer = match (x.answered_at, x.refused_with()) {
            (None, _) => "unanswered".to_string(),
            (Some(_), Some(n)) => format!("answered {n}"),
            (Some(_), None) => "answered".to_string(),
        };
        let sends = if x.sent.len() > 1 {
            format!(", {} sends", x.sent.len())
        } else {
            String::new()
        };
        let inside = {
            {
                // The notifies that tell the story; capability ones are left out.
                let mut words: Vec<String> = x
                    .request_notifies
                    .iter()
                    .filter(|n| {
                        n.is_error()
                            || [
                                NotifyType::REKEY_SA,
                                NotifyType::INITIAL_CONTACT,
                                NotifyType::COOKIE,
                            ]
                            .contains(n)
                    })
                    .map(ToString::to_string)
                    .collect();
                if !x.deletes.is_empty() {
                    words.push(format!("DELETE {}", x.deletes.join(" ")));
                }
                if words.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", words.join(", "))
                }
            }
        };
        parts.push(format!(
            "{} #{} by {}{inside} at {}{sends}, {answer}",
            x.exchange,
            x.message_id,
            x.from.ip(),
            at(x.first_sent())
        ));
    }
    let routine = |kind: ExchangeType| {
        sa.of(kind)
            .filter(|x| {
                x.answered_at.is_some()
                    && x.sent.len() == 1
                    && x.refused_with().is_none()
                    && x.deletes.is_empty()
                    && !x.decrypted
            })
            .count()
    };
    let creates = routine(ExchangeType::CREATE_CHILD_SA);
    let infos = routine(ExchangeType::INFORMATIONAL);
    for (n, kind) in [(creates, "CREATE_CHILD_SA"), (infos, "INFORMATIONAL")] {
        if n > 0 {
            parts.push(format!("{n} {kind} answered at once"));
        }
    }
    format!(
        "IKE SA {}/{} {} (initiator) -> {}, {} to {}{}: {}",
        hex(&sa.spi_i),
        sa.spi_r.map_or_else(|| "-".into(), |s| hex(&s)),
        sa.initiator,
        sa.responder,
        at(sa.first_at()),
        at(sa.last_at()),
        if sa.established() {
            ", established"
        } else {
            ""
        },
        parts.join("; ")
    )
}

fn ike_json(sa: &IkeSa) -> serde_json::Value {
    json!({
        "initiator_spi": hex(&sa.spi_i),
        "responder_spi": sa.spi_r.map(|s| hex(&s)),
        "initiator": sa.initiator.to_string(),
        "responder": sa.responder.to_string(),
        "established": sa.established(),
        "exchanges": sa.exchanges.iter().map(|x| json!({
            "exchange": x.exchange.to_string(),
            "message_id": x.message_id,
            "from": x.from.to_string(),
            "to": x.to.to_string(),
            "sent_us": x.sent,
            "request_length": x.request_len,
            "answered_us": x.answered_at,
            "answer_notifies": x.answer_notifies.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>(),
            "offered": x.offered,
            "request_notifies": x.request_notifies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "deletes": x.deletes,
            "decrypted": x.decrypted,
        })).collect::<Vec<_>>(),
    })
}
