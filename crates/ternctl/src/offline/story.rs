//! A capture's IKE SAs and ESP SAs rebuilt from what is in clear: each IKE SA
//! (by its initiator's SPI) with its exchanges in order (request sends, answer,
//! notifies), and each ESP SA (by destination and SPI) with its first and last
//! packet and sequence number.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use tern_wire::decode::{CaptureItem, Captured, EspHeader};
use tern_wire::{ExchangeType, KeMethod, Message, NotifyType, Payload};

/// An IKE_AUTH answer shorter than this holds no identity, AUTH, SA and
/// selectors (about 200 bytes with a PSK): it is an error notify alone.
pub const AUTH_ANSWER_MIN: usize = 120;

/// One exchange: a request (sent once or more) and its answer, if any.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub exchange: ExchangeType,
    pub message_id: u32,
    /// Whether the original initiator of the IKE SA sent the request.
    pub by_initiator: bool,
    pub from: SocketAddr,
    pub to: SocketAddr,
    /// When each copy of the request was seen (microseconds since the epoch).
    pub sent: Vec<u64>,
    /// The request's length in bytes (all its fragments together).
    pub request_len: usize,
    /// The request's bytes, to tell a retransmission from a new request.
    request_bytes: Vec<u8>,
    /// For an IKE_SA_INIT: the proposals offered and the key exchange sent.
    pub offered: Option<String>,
    pub ke_sent: Option<KeMethod>,
    /// Notifies of the request, in clear (or decrypted): REKEY_SA marks a rekey.
    pub request_notifies: Vec<NotifyType>,
    /// The SPIs a DELETE in the request names (decrypted): ESP/AH SPIs as 8
    /// hex digits, or "IKE SA".
    pub deletes: Vec<String>,
    /// When the first answer was seen, and its notifies.
    pub answered_at: Option<u64>,
    pub answer_notifies: Vec<(NotifyType, Vec<u8>)>,
    /// The answer's length in bytes.
    pub answer_len: usize,
    /// Whether the answer carried an SA payload (a proposal was chosen).
    pub answer_has_sa: bool,
    /// Whether the contents were decrypted with --keys (SK payloads).
    pub decrypted: bool,
}

impl Exchange {
    pub fn first_sent(&self) -> u64 {
        self.sent[0]
    }

    pub fn last_sent(&self) -> u64 {
        *self.sent.last().unwrap_or(&self.sent[0])
    }

    /// The answer's error notify, if it had one.
    pub fn refused_with(&self) -> Option<NotifyType> {
        self.answer_notifies
            .iter()
            .map(|(n, _)| *n)
            .find(|n| n.is_error())
    }
}

/// One IKE SA, named by its initiator's SPI.
#[derive(Clone, Debug)]
pub struct IkeSa {
    pub spi_i: [u8; 8],
    pub spi_r: Option<[u8; 8]>,
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub exchanges: Vec<Exchange>,
}

impl IkeSa {
    /// Whether IKE_SA_INIT was answered with a proposal and IKE_AUTH answered;
    /// an IKE SA whose start is not in the capture (made by a rekey, or before
    /// the capture began) counts once anything of it is answered.
    pub fn established(&self) -> bool {
        if self.of(ExchangeType::IKE_SA_INIT).next().is_none()
            && self.of(ExchangeType::IKE_AUTH).next().is_none()
        {
            return self.exchanges.iter().any(|x| x.answered_at.is_some());
        }
        let auth = self.of(ExchangeType::IKE_AUTH).any(|x| {
            x.answered_at.is_some()
                && x.refused_with().is_none()
                && (x.decrypted || x.answer_len >= AUTH_ANSWER_MIN)
        });
        auth && self.init_accepted().is_some()
    }

    /// The IKE_SA_INIT answered with a chosen proposal.
    pub fn init_accepted(&self) -> Option<&Exchange> {
        self.exchanges
            .iter()
            .find(|x| x.exchange == ExchangeType::IKE_SA_INIT && x.answer_has_sa)
    }

    pub fn first_at(&self) -> u64 {
        self.exchanges
            .iter()
            .map(Exchange::first_sent)
            .min()
            .unwrap_or(0)
    }

    pub fn last_at(&self) -> u64 {
        self.exchanges
            .iter()
            .map(|x| x.answered_at.unwrap_or(0).max(x.last_sent()))
            .max()
            .unwrap_or(0)
    }

    pub fn of(&self, kind: ExchangeType) -> impl Iterator<Item = &Exchange> {
        self.exchanges.iter().filter(move |x| x.exchange == kind)
    }

    /// The two addresses, lower first: what groups IKE SAs into one peer pair.
    pub fn pair(&self) -> (IpAddr, IpAddr) {
        ordered(self.initiator.ip(), self.responder.ip())
    }
}

/// One ESP SA: packets to `destination` with `spi`.
#[derive(Clone, Debug)]
pub struct EspSa {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub spi: u32,
    pub in_udp: bool,
    pub packets: u64,
    pub first_at: u64,
    pub last_at: u64,
    pub first_sequence: u32,
    pub last_sequence: u32,
}

impl EspSa {
    pub fn pair(&self) -> (IpAddr, IpAddr) {
        ordered(self.source, self.destination)
    }
}

pub fn ordered(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Everything rebuilt from a capture, and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct Story {
    pub ike_sas: Vec<IkeSa>,
    pub esp: Vec<EspSa>,
    /// Packets that were IKE traffic but could not be read, with why.
    pub problems: Vec<String>,
    /// The first and last packet time of the capture (IKE or ESP).
    pub span: Option<(u64, u64)>,
}

/// What opens SK payloads (--keys): the inner payloads of the message with
/// these bytes, `None` without keys for its IKE SA, or why it does not open.
pub trait Decrypter {
    fn inner(&self, message: &Message, bytes: &[u8]) -> Result<Option<Vec<Payload>>, String>;
}

/// Rebuilds the story of `items`, decrypting with `keys` where it can.
pub fn rebuild(items: &[Captured], keys: Option<&dyn Decrypter>) -> Story {
    let mut story = Story::default();
    let mut by_spi: BTreeMap<[u8; 8], usize> = BTreeMap::new();
    let mut esp: BTreeMap<(IpAddr, u32), usize> = BTreeMap::new();
    for c in items {
        if let Some(t) = c.time_us {
            story.span = Some(match story.span {
                None => (t, t),
                Some((a, b)) => (a.min(t), b.max(t)),
            });
        }
        match &c.item {
            CaptureItem::Problem { origin, reason } => {
                story.problems.push(format!("{origin}: {reason}"))
            }
            CaptureItem::Esp { header, .. } => {
                add_esp(&mut story.esp, &mut esp, header, c.time_us.unwrap_or(0))
            }
            CaptureItem::Ike(d) => {
                let tern_wire::decode::Origin::Packet {
                    source: Some(source),
                    destination: Some(destination),
                    ..
                } = d.origin
                else {
                    continue;
                };
                match Message::parse(&d.bytes) {
                    Ok(m) => {
                        let inner = match keys.map(|k| k.inner(&m, &d.bytes)) {
                            Some(Ok(inner)) => inner,
                            Some(Err(why)) => {
                                story.problems.push(format!("{}: {why}", d.origin));
                                None
                            }
                            None => None,
                        };
                        add_message(
                            &mut story.ike_sas,
                            &mut by_spi,
                            Seen {
                                message: &m,
                                bytes: &d.bytes,
                                inner,
                                at: c.time_us.unwrap_or(0),
                                from: source,
                                to: destination,
                            },
                        );
                    }
                    Err(e) => story
                        .problems
                        .push(format!("{}: malformed IKE message: {e}", d.origin)),
                }
            }
        }
    }
    story
}

fn add_esp(
    all: &mut Vec<EspSa>,
    index: &mut BTreeMap<(IpAddr, u32), usize>,
    h: &EspHeader,
    at: u64,
) {
    let key = (h.destination, h.spi);
    match index.get(&key) {
        Some(&i) => {
            let sa = &mut all[i];
            sa.packets += 1;
            sa.last_at = sa.last_at.max(at);
            sa.last_sequence = sa.last_sequence.max(h.sequence);
        }
        None => {
            index.insert(key, all.len());
            all.push(EspSa {
                source: h.source,
                destination: h.destination,
                spi: h.spi,
                in_udp: h.in_udp,
                packets: 1,
                first_at: at,
                last_at: at,
                first_sequence: h.sequence,
                last_sequence: h.sequence,
            });
        }
    }
}

struct Seen<'a> {
    message: &'a Message,
    bytes: &'a [u8],
    /// The SK payload's contents, when --keys opened it.
    inner: Option<Vec<Payload>>,
    at: u64,
    from: SocketAddr,
    to: SocketAddr,
}

fn notifies(payloads: &[Payload]) -> Vec<(NotifyType, Vec<u8>)> {
    payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some((n.notify_type, n.data.clone())),
            _ => None,
        })
        .collect()
}

fn add_message(all: &mut Vec<IkeSa>, by_spi: &mut BTreeMap<[u8; 8], usize>, s: Seen<'_>) {
    let h = &s.message.header;
    let from_initiator = h.flags.is_initiator();
    let index = *by_spi.entry(h.initiator_spi).or_insert_with(|| {
        let (initiator, responder) = if from_initiator == h.flags.is_request() {
            (s.from, s.to)
        } else {
            (s.to, s.from)
        };
        all.push(IkeSa {
            spi_i: h.initiator_spi,
            spi_r: None,
            initiator,
            responder,
            exchanges: Vec::new(),
        });
        all.len() - 1
    });
    let sa = &mut all[index];
    if h.responder_spi != [0; 8] {
        sa.spi_r = Some(h.responder_spi);
    }
    let decrypted = s.inner.is_some();
    let mut payloads: Vec<Payload> = s.message.payloads.clone();
    payloads.extend(s.inner.unwrap_or_default());
    let by_initiator_request = from_initiator;
    if h.flags.is_request() {
        // The same bytes again before an answer is a retransmission; anything
        // else (a new KE after INVALID_KE_PAYLOAD, a cookie) is a new exchange.
        let again = sa.exchanges.iter_mut().rev().find(|x| {
            x.message_id == h.message_id
                && x.by_initiator == by_initiator_request
                && x.exchange == h.exchange
        });
        if let Some(x) = again {
            match fragment_number(&payloads) {
                // A later piece of a fragmented request: counted in the first
                // send's length, not as a send.
                Some(n) if n > 1 && x.answered_at.is_none() => {
                    if x.sent.len() == 1 {
                        x.request_len += s.bytes.len();
                    }
                    return;
                }
                Some(1) if x.answered_at.is_none() => {
                    x.sent.push(s.at);
                    return;
                }
                _ if x.request_bytes == s.bytes => {
                    x.sent.push(s.at);
                    return;
                }
                _ => {}
            }
        }
        let offered = payloads.iter().find_map(|p| match p {
            Payload::Sa(sa) if h.exchange == ExchangeType::IKE_SA_INIT => {
                Some(tern_engine::describe_offer(sa))
            }
            _ => None,
        });
        let ke_sent = payloads.iter().find_map(|p| match p {
            Payload::Ke(ke) => Some(ke.method),
            _ => None,
        });
        sa.exchanges.push(Exchange {
            exchange: h.exchange,
            message_id: h.message_id,
            by_initiator: by_initiator_request,
            from: s.from,
            to: s.to,
            sent: vec![s.at],
            request_len: s.bytes.len(),
            request_bytes: s.bytes.to_vec(),
            offered,
            ke_sent,
            request_notifies: notifies(&payloads).into_iter().map(|(n, _)| n).collect(),
            deletes: deletes(&payloads),
            answered_at: None,
            answer_notifies: Vec::new(),
            answer_len: 0,
            answer_has_sa: false,
            decrypted,
        });
        return;
    }
    // An answer goes to the last request of its message ID from the other side.
    let Some(x) = sa.exchanges.iter_mut().rev().find(|x| {
        x.message_id == h.message_id && x.by_initiator != from_initiator && x.exchange == h.exchange
    }) else {
        return;
    };
    if x.answered_at.is_none() {
        x.answered_at = Some(s.at);
        x.answer_notifies = notifies(&payloads);
        x.answer_len = s.bytes.len();
        x.answer_has_sa = payloads.iter().any(|p| matches!(p, Payload::Sa(_)));
        x.decrypted |= decrypted;
    }
}

fn deletes(payloads: &[Payload]) -> Vec<String> {
    payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Delete(d) => Some(d),
            _ => None,
        })
        .flat_map(|d| {
            if d.spis.is_empty() {
                vec!["IKE SA".to_string()]
            } else {
                d.spis
                    .iter()
                    .map(|s| s.iter().map(|b| format!("{b:02x}")).collect())
                    .collect()
            }
        })
        .collect()
}

/// The fragment number of an SKF message (RFC 7383), counted from 1.
fn fragment_number(payloads: &[Payload]) -> Option<u16> {
    payloads.iter().find_map(|p| match p {
        Payload::EncryptedFragment(f) => Some(f.fragment_number),
        _ => None,
    })
}
