//! EAP-RADIUS on the gateway (`remote_auth = "eap-radius"`): B asks the
//! client's EAP identity, then hands each EAP response out as a RadiusRelay
//! and relays what the RADIUS side answers. The RADIUS side here is scripted:
//! an EAP-MSCHAPv2 server (RFC 2759 through tern-crypto) that answers as
//! FreeRADIUS does, or a server that rejects, is unreachable, or sends no
//! keys. A is the strongSwan-like EAP-MSCHAPv2 client (`Emulation::eap_login`).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use tern_crypto::mschapv2::{self, NtHash};
use tern_crypto::Secret;
use tern_engine::config::{EapLogin, EngineConfig, RemoteAuth};
use tern_engine::{EndKind, RadiusAnswer, RadiusGrant, RadiusRelay, SaEnd};

fn client(user: &'static str, password: &'static str) -> EngineConfig {
    let mut config = moon_config();
    config.emulate.eap_login = Some(EapLogin { user, password });
    config
}

fn gateway() -> EngineConfig {
    let mut config = sun_config();
    config.connections[0].remote_auth = RemoteAuth::EapRadius;
    config
}

fn ends(history: Vec<(String, Vec<SaEnd>)>) -> Vec<SaEnd> {
    history.into_iter().flat_map(|(_, ends)| ends).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Verifies MS-CHAPv2 against its users, as FreeRADIUS does.
    Normal,
    /// Accepts a right password but sends no MS-MPPE keys.
    NoKeys,
    /// Never answers: the daemon's client reports it unreachable.
    Down,
}

enum Session {
    Challenged { challenge: [u8; 16], id: u8 },
    Succeeded { msk: Secret },
}

/// The RADIUS side: an EAP-MSCHAPv2 server behind the relay.
struct Radius {
    users: HashMap<&'static str, &'static str>,
    behaviour: Behaviour,
    sessions: HashMap<Vec<u8>, Session>,
    seen: Vec<RadiusRelay>,
    /// What an Accept grants besides the keys.
    grant: RadiusGrant,
}

fn eap(code: u8, id: u8, type_data: &[u8]) -> Vec<u8> {
    let mut p = vec![code, id];
    p.extend_from_slice(&((4 + type_data.len()) as u16).to_be_bytes());
    p.extend_from_slice(type_data);
    p
}

impl Radius {
    fn new(behaviour: Behaviour) -> Radius {
        Radius {
            users: HashMap::from([("carol", "Ar3etTnp"), ("dave", "W7R0g3do")]),
            behaviour,
            sessions: HashMap::new(),
            seen: Vec::new(),
            grant: RadiusGrant::default(),
        }
    }

    fn answer(&mut self, relay: &RadiusRelay) -> RadiusAnswer {
        self.seen.push(relay.clone());
        if self.behaviour == Behaviour::Down {
            return RadiusAnswer::Unreachable {
                reason: "no RADIUS server answered: 192.0.2.1:1812: no reply to 3 tries in 6s"
                    .into(),
            };
        }
        let m = &relay.eap;
        assert_eq!(m[0], 2, "the peer's EAP responses are relayed as they came");
        let session = relay.state.as_ref().and_then(|s| self.sessions.remove(s));
        let state = format!("state-{}", self.seen.len()).into_bytes();
        match (session, m[4]) {
            (None, 1) => {
                assert_eq!(&m[5..], relay.user.as_bytes(), "User-Name is the identity");
                let challenge = [0x3c; 16];
                let id = m[1].wrapping_add(1);
                let mut td = vec![26, 1, 7, 0, 27, 16];
                td.extend_from_slice(&challenge);
                td.extend_from_slice(b"radius");
                self.sessions
                    .insert(state.clone(), Session::Challenged { challenge, id });
                RadiusAnswer::Challenge {
                    eap: eap(1, id, &td),
                    state: Some(state),
                }
            }
            (Some(Session::Challenged { challenge, id }), 26) => {
                assert_eq!(m[1], id);
                let td = &m[5..];
                let peer_challenge: [u8; 16] = td[5..21].try_into().unwrap();
                let nt: [u8; 24] = td[29..53].try_into().unwrap();
                let name = &td[54..];
                let verified = self.users.get(relay.user.as_str()).and_then(|pw| {
                    mschapv2::verify_response(
                        &NtHash::of_password(pw),
                        &challenge,
                        &peer_challenge,
                        name,
                        &nt,
                    )
                });
                let Some(v) = verified else {
                    return RadiusAnswer::Reject { reason: None };
                };
                let message = format!("{} M=OK", v.authenticator_response);
                let mut td = vec![26, 3, td[1]];
                td.extend_from_slice(&((4 + message.len()) as u16).to_be_bytes());
                td.extend_from_slice(message.as_bytes());
                // The 32 octets of key a RADIUS server sends (MS-MPPE-Recv-Key
                // || MS-MPPE-Send-Key); the client's MSK is them and 32 zeros.
                let msk = Secret::from_slice(&v.msk.expose()[..32]);
                self.sessions
                    .insert(state.clone(), Session::Succeeded { msk });
                RadiusAnswer::Challenge {
                    eap: eap(1, id.wrapping_add(1), &td),
                    state: Some(state),
                }
            }
            (Some(Session::Succeeded { msk }), 26) => {
                assert_eq!(&m[5..], [3], "the peer acknowledges MS-CHAPv2 Success");
                RadiusAnswer::Accept {
                    msk: (self.behaviour == Behaviour::Normal).then_some(msk),
                    grant: self.grant.clone(),
                }
            }
            _ => panic!("an EAP message out of turn: {m:?}"),
        }
    }
}

/// Delivers datagrams and RADIUS answers until all is quiet.
pub(crate) fn converse(pair: &mut Pair, radius: &mut Radius) {
    loop {
        pair.deliver();
        let mut answered = false;
        while let Some(relay) = pair.b.engine.poll_radius_request() {
            answered = true;
            let answer = radius.answer(&relay);
            pair.b
                .engine
                .handle_radius_answer(pair.now, relay.ike, answer);
        }
        if !answered {
            return;
        }
    }
}

#[test]
fn a_login_through_radius_comes_up_with_the_msk_the_server_sent() {
    let mut pair = Pair::new(client("carol", "Ar3etTnp"), gateway());
    let mut radius = Radius::new(Behaviour::Normal);
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);

    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].state, "ESTABLISHED");
    assert_eq!(b[0].remote_id, "carol");
    let a = pair.a.engine.list_sas(pair.now);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].state, "ESTABLISHED");
    assert_eq!(pair.a.kernel().sas, pair.b.kernel().sas);
    assert_eq!(pair.a.kernel().sas.len(), 2);

    // Identity, MS-CHAPv2 Response, Success acknowledgement: each relayed once,
    // with the user, the peer's address, and the server's State echoed.
    let seen = &radius.seen;
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|r| r.user == "carol" && r.connection == "demo"));
    assert!(seen
        .iter()
        .all(|r| r.peer == pair.a.addr && r.ike == b[0].unique_id));
    assert_eq!(seen[0].state, None);
    assert_eq!(seen[1].state.as_deref(), Some(&b"state-1"[..]));
    assert_eq!(seen[2].state.as_deref(), Some(&b"state-2"[..]));
    assert!(ends(pair.a.engine.history()).is_empty());
    assert!(ends(pair.b.engine.history()).is_empty());
}

/// Both sides end the login: the gateway with `kind` and a text naming the
/// user and `why`, the client having heard EAP-Failure.
fn refused(
    user: &'static str,
    password: &'static str,
    behaviour: Behaviour,
    kind: EndKind,
    why: &str,
) {
    let mut pair = Pair::new(client(user, password), gateway());
    let mut radius = Radius::new(behaviour);
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    pair.run_for(Duration::from_secs(60));

    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(pair.a.kernel().is_empty() && pair.b.kernel().is_empty());
    let b = ends(pair.b.engine.history());
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].cause.kind, kind);
    let text = &b[0].cause.text;
    assert!(
        text.contains(&format!("EAP-RADIUS failed for user '{user}'")) && text.contains(why),
        "{text}"
    );
    assert!(!text.contains(password), "{text}");
    let a = ends(pair.a.engine.history());
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].cause.kind, EndKind::EapFailed);
    assert!(
        a[0].cause.text.contains("EAP-Failure"),
        "{}",
        a[0].cause.text
    );
}

#[test]
fn a_wrong_password_is_rejected_by_the_server_and_named_at_the_gateway() {
    refused(
        "carol",
        "W7R0g3do",
        Behaviour::Normal,
        EndKind::EapFailed,
        "the RADIUS server rejected the login",
    );
}

#[test]
fn an_unknown_user_is_rejected_like_a_wrong_password() {
    refused(
        "mallory",
        "Ar3etTnp",
        Behaviour::Normal,
        EndKind::EapFailed,
        "the RADIUS server rejected the login",
    );
}

#[test]
fn no_radius_server_ends_the_login_as_radius_unreachable() {
    refused(
        "carol",
        "Ar3etTnp",
        Behaviour::Down,
        EndKind::RadiusUnreachable,
        "no reply to 3 tries",
    );
}

#[test]
fn an_accept_without_keys_gives_no_msk_and_is_refused() {
    refused(
        "carol",
        "Ar3etTnp",
        Behaviour::NoKeys,
        EndKind::EapFailed,
        "sent no MS-MPPE keys",
    );
}

#[test]
fn the_client_retransmitting_while_radius_decides_is_relayed_once() {
    let mut pair = Pair::new(client("carol", "Ar3etTnp"), gateway());
    let mut radius = Radius::new(Behaviour::Normal);
    pair.initiate_from_a("demo");
    pair.deliver();
    let first = pair
        .b
        .engine
        .poll_radius_request()
        .expect("the identity is relayed");
    // The server takes its time: the client sends its IKE_AUTH again, twice
    // (after 4 s, then 7.2 s more).
    let sent_before = pair.wire_log.len();
    pair.run_for(Duration::from_secs(12));
    assert!(
        pair.wire_log.len() >= sent_before + 2,
        "the client retransmitted"
    );
    assert!(
        pair.wire_log[sent_before..]
            .iter()
            .all(|(from_a, _)| *from_a),
        "B stays silent"
    );
    assert_eq!(pair.b.engine.poll_radius_request(), None, "relayed once");
    let answer = radius.answer(&first);
    pair.b
        .engine
        .handle_radius_answer(pair.now, first.ike, answer);
    converse(&mut pair, &mut radius);
    let b = pair.b.engine.list_sas(pair.now);
    assert_eq!((b.len(), b[0].state), (1, "ESTABLISHED"));
    assert_eq!(radius.seen.len(), 3);
}

#[test]
fn an_answer_for_nobody_changes_nothing() {
    let mut pair = Pair::new(client("carol", "Ar3etTnp"), gateway());
    let mut radius = Radius::new(Behaviour::Normal);
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    let before = pair.b.engine.list_sas(pair.now);
    let ike = before[0].unique_id;
    // For an IKE SA that is up (it waits for no answer), and for one that never was.
    for id in [ike, ike + 100] {
        pair.b
            .engine
            .handle_radius_answer(pair.now, id, RadiusAnswer::Reject { reason: None });
    }
    pair.deliver();
    assert_eq!(pair.b.engine.list_sas(pair.now), before);
    assert!(ends(pair.b.engine.history()).is_empty());
}

/// What an Access-Accept grants (address, Session-Timeout, Class) and the
/// accounting that follows the session.
#[path = "eap_radius/session.rs"]
mod session;

/// The traffic figures of Interim-Update and Stop.
#[path = "eap_radius/accounting.rs"]
mod accounting;
