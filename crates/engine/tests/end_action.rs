//! After an SA ends: dpd_action = restart and close_action = start bring the
//! tunnel back, retrying until the peer answers again.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use tern_engine::config::{CloseAction, Connection, DpdAction, EngineConfig, Lifetime};
use tern_engine::{Command, EndAction, Event};

const DELAY: Duration = Duration::from_secs(30);

fn edit(mut config: EngineConfig, change: impl Fn(&mut Connection)) -> EngineConfig {
    change(&mut config.connections[0]);
    config
}

fn up(mut pair: Pair) -> Pair {
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    pair
}

/// A network that can be cut and restored while the pair runs.
fn switchable(pair: &mut Pair) -> Rc<Cell<bool>> {
    let connected = Rc::new(Cell::new(true));
    let link = connected.clone();
    pair.network = Box::new(move |_, _| {
        if link.get() {
            Fate::Deliver
        } else {
            Fate::Drop
        }
    });
    connected
}

fn end_actions(node: &Node) -> Vec<(EndAction, String)> {
    node.events
        .iter()
        .filter_map(|e| match e {
            Event::EndAction { action, reason, .. } => Some((*action, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Exactly one established IKE SA with one CHILD SA on each side, and both kernels
/// holding the same two ESP SAs.
fn assert_one_tunnel(pair: &Pair) {
    for node in [&pair.a, &pair.b] {
        let sas = node.engine.list_sas(pair.now);
        assert_eq!(sas.len(), 1, "{sas:#?}");
        assert_eq!(sas[0].state, "ESTABLISHED");
        assert_eq!(sas[0].children.len(), 1, "{sas:#?}");
        let k = node.kernel();
        assert!(k.errors.is_empty(), "{:?}", k.errors);
        assert_eq!(k.sas.len(), 2, "{k:?}");
        assert!(k.larval.is_empty(), "{k:?}");
    }
    assert_eq!(
        pair.a.kernel().sas,
        pair.b.kernel().sas,
        "both kernels hold the same SAs with the same keys"
    );
}

#[test]
fn dpd_restart_brings_the_tunnel_back_when_the_network_returns() {
    let a = edit(moon_config(), |c| {
        c.dpd_delay = DELAY;
        c.children[0].dpd_action = DpdAction::Restart;
    });
    let b = edit(sun_config(), |c| c.dpd_delay = DELAY);
    let mut pair = up(Pair::new(a, b));
    let first_sa = pair.a.engine.list_sas(pair.now)[0].unique_id;
    let connected = switchable(&mut pair);

    connected.set(false);
    pair.run_for(Duration::from_secs(15 * 60));
    // The dead peer was noticed, and the restart goes on failing without giving up.
    let actions = end_actions(&pair.a);
    assert!(actions.len() >= 4, "{actions:#?}");
    assert!(actions.iter().all(|(a, _)| *a == EndAction::Restart));
    assert!(
        actions[0].1.starts_with("dead peer (DPD timeout)"),
        "{}",
        actions[0].1
    );
    assert!(
        actions[0].1.contains("dpd_action = restart"),
        "{}",
        actions[0].1
    );
    assert!(
        actions[1].1.contains("restart attempt 1 failed"),
        "{}",
        actions[1].1
    );
    assert!(pair.a.engine.stats().restarts >= 4);
    assert_eq!(pair.a.engine.stats().dead_peers, 1);
    assert!(
        pair.a.kernel().sas.is_empty(),
        "the dead tunnel's SAs are gone"
    );
    // B (dpd_action = clear) cleared its side.
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(pair.b.kernel().is_empty());

    connected.set(true);
    pair.run_for(Duration::from_secs(10 * 60));
    assert_one_tunnel(&pair);
    assert_ne!(pair.a.engine.list_sas(pair.now)[0].unique_id, first_sa);
    // Once up, nothing more is restarted.
    let restarts = pair.a.engine.stats().restarts;
    pair.run_for(Duration::from_secs(30 * 60));
    assert_eq!(pair.a.engine.stats().restarts, restarts);
    assert_one_tunnel(&pair);
}

#[test]
fn an_unanswered_rekey_restarts_too() {
    // No DPD: the peer's death shows when a CHILD SA rekey goes unanswered.
    let a = edit(moon_config(), |c| {
        c.children[0].dpd_action = DpdAction::Restart;
    });
    let mut pair = up(Pair::new(a, sun_config()));
    let connected = switchable(&mut pair);
    connected.set(false);
    // The CHILD SA rekeys within its first hour; its retransmits run out ~165 s later.
    pair.run_for(Duration::from_secs(3600 + 200));
    let actions = end_actions(&pair.a);
    assert!(!actions.is_empty());
    assert!(
        actions[0]
            .1
            .contains("did not answer our CHILD SA rekey request"),
        "{}",
        actions[0].1
    );
    assert!(pair.a.engine.stats().restarts >= 1);
}

#[test]
fn terminate_stops_a_restart_in_progress() {
    let a = edit(moon_config(), |c| {
        c.dpd_delay = DELAY;
        c.children[0].dpd_action = DpdAction::Restart;
    });
    let mut pair = up(Pair::new(a, sun_config()));
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.run_for(Duration::from_secs(10 * 60));
    assert!(pair.a.engine.stats().restarts >= 2);

    // Whether an attempt is in flight or waiting, terminate ends the chain.
    let _ = pair.a.engine.handle_command(
        pair.now,
        Command::Terminate {
            connection: "demo".into(),
        },
    );
    let restarts = pair.a.engine.stats().restarts;
    connected.set(true);
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(pair.a.engine.stats().restarts, restarts);
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(pair.a.kernel().is_empty());
}

#[test]
fn close_action_start_reinitiates_after_the_peer_deletes() {
    let a = edit(moon_config(), |c| {
        c.children[0].close_action = CloseAction::Start;
    });
    let mut pair = up(Pair::new(a, sun_config()));
    let first_sa = pair.a.engine.list_sas(pair.now)[0].unique_id;
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(Duration::from_secs(10));
    let actions = end_actions(&pair.a);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert_eq!(actions[0].0, EndAction::Start);
    assert!(
        actions[0]
            .1
            .starts_with("deleted by the peer; close_action = start"),
        "{}",
        actions[0].1
    );
    assert_one_tunnel(&pair);
    assert_ne!(pair.a.engine.list_sas(pair.now)[0].unique_id, first_sa);
    assert_eq!(pair.a.engine.stats().restarts, 1);
}

#[test]
fn without_close_action_a_peer_delete_stays_down() {
    let mut pair = up(Pair::demo());
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(Duration::from_secs(600));
    assert!(end_actions(&pair.a).is_empty());
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_eq!(pair.a.engine.stats().restarts, 0);
}

#[test]
fn close_action_start_recreates_a_child_sa_the_peer_deletes() {
    let a = edit(moon_config(), |c| {
        c.children[0].close_action = CloseAction::Start;
    });
    // B never rekeys its CHILD SA and deletes it at life_time (10 min).
    let b = edit(sun_config(), |c| {
        c.children[0].lifetime = Lifetime {
            rekey_time: Duration::ZERO,
            life_time: Duration::from_secs(600),
            rand_time: Duration::ZERO,
        };
    });
    let mut pair = up(Pair::new(a, b));
    let ike = pair.a.engine.list_sas(pair.now)[0].unique_id;
    let child = pair.a.engine.list_sas(pair.now)[0].children[0].unique_id;
    pair.run_for(Duration::from_secs(620));

    let actions = end_actions(&pair.a);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert!(
        actions[0].1.contains("CHILD SA deleted by the peer"),
        "{}",
        actions[0].1
    );
    assert_one_tunnel(&pair);
    let sa = &pair.a.engine.list_sas(pair.now)[0];
    assert_eq!(
        sa.unique_id, ike,
        "the same IKE SA carries the new CHILD SA"
    );
    assert_ne!(sa.children[0].unique_id, child);
}

#[test]
fn ike_life_time_reached_is_re_established() {
    // A never rekeys its IKE SA; at life_time it is deleted and, since the child
    // is configured to stay up, initiated again.
    let a = edit(moon_config(), |c| {
        c.lifetime = Lifetime {
            rekey_time: Duration::ZERO,
            life_time: Duration::from_secs(1800),
            rand_time: Duration::ZERO,
        };
        c.children[0].dpd_action = DpdAction::Restart;
    });
    let mut pair = up(Pair::new(a, sun_config()));
    let first_sa = pair.a.engine.list_sas(pair.now)[0].unique_id;
    pair.run_for(Duration::from_secs(1810));
    let actions = end_actions(&pair.a);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert!(actions[0].1.contains("hard expiry"), "{}", actions[0].1);
    assert_one_tunnel(&pair);
    assert_ne!(pair.a.engine.list_sas(pair.now)[0].unique_id, first_sa);
}

#[test]
fn rekeys_are_not_mistaken_for_closes_or_deaths() {
    let stay_up = |c: &mut Connection| {
        c.dpd_delay = DELAY;
        c.children[0].dpd_action = DpdAction::Restart;
        c.children[0].close_action = CloseAction::Start;
    };
    let mut pair = up(Pair::new(
        edit(moon_config(), stay_up),
        edit(sun_config(), stay_up),
    ));
    // Several CHILD SA rekeys and an IKE SA rekey by each side's clock.
    pair.run_for(Duration::from_secs(6 * 3600));
    assert!(
        pair.a.engine.stats().child_rekeys_initiated + pair.b.engine.stats().child_rekeys_initiated
            >= 5
    );
    assert!(
        pair.a.engine.stats().ike_rekeys_initiated + pair.b.engine.stats().ike_rekeys_initiated
            >= 1
    );
    assert!(
        end_actions(&pair.a).is_empty(),
        "{:#?}",
        end_actions(&pair.a)
    );
    assert!(
        end_actions(&pair.b).is_empty(),
        "{:#?}",
        end_actions(&pair.b)
    );
    assert_eq!(
        pair.a.engine.stats().restarts + pair.b.engine.stats().restarts,
        0
    );
    pair.run_for(Duration::from_secs(60));
    assert_one_tunnel(&pair);
}

#[test]
fn a_child_sa_that_expires_while_its_rekey_is_in_flight_comes_back_once() {
    // A rekeys at 60 s and the CHILD SA ends at 66 s; the rekey's answers are lost
    // until 70 s, so the SA reaches life_time with its rekey in flight. The rekey's
    // late answer brings the tunnel back; the end action must not add a second one.
    let short = Lifetime {
        rekey_time: Duration::from_secs(60),
        life_time: Duration::from_secs(66),
        rand_time: Duration::ZERO,
    };
    let a = edit(moon_config(), |c| {
        c.children[0].lifetime = short;
        c.children[0].close_action = CloseAction::Start;
    });
    let mut pair = up(Pair::new(a, sun_config()));
    let link = switchable(&mut pair);
    pair.run_for(Duration::from_secs(59));
    link.set(false);
    pair.run_for(Duration::from_secs(11));
    assert_eq!(
        pair.a.engine.stats().child_hard_expiries,
        1,
        "{:?}",
        pair.a.events
    );
    link.set(true);
    pair.run_for(Duration::from_secs(40));
    assert_one_tunnel(&pair);
}

#[test]
fn an_ike_sa_at_its_life_time_is_brought_back_at_once_not_after_its_delete() {
    // moon's IKE rekeys never reach sun, and sun's answers to INFORMATIONAL
    // requests are lost: at life_time moon's DELETE waits behind the unanswered
    // rekey and then goes unconfirmed, a whole retransmission schedule each.
    // The tunnel is down from the hard expiry, so it is brought back at once.
    let restart = |mut c: EngineConfig| {
        c.connections[0].children[0].dpd_action = DpdAction::Restart;
        c
    };
    let moon = edit(restart(moon_config()), |c| {
        c.lifetime = Lifetime {
            rekey_time: Duration::from_secs(100),
            life_time: Duration::from_secs(110),
            rand_time: Duration::ZERO,
        }
    });
    let mut pair = Pair::new(moon, restart(sun_config()));
    pair.network = Box::new(|t, from_a| {
        let (exchange, response) = (t.payload[18], t.payload[19] & 0x20 != 0);
        let rekey = from_a && exchange == 36 && !response;
        let informational_answer = !from_a && exchange == 37 && response;
        if rekey || informational_answer {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.initiate_from_a("demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(111));
    assert_eq!(pair.a.engine.stats().ike_hard_expiries, 1);
    pair.run_for(Duration::from_secs(9));
    let up = |n: &Node| {
        n.engine
            .list_sas(pair.now)
            .into_iter()
            .filter(|sa| sa.state == "ESTABLISHED")
            .flat_map(|sa| sa.children)
            .filter(|c| c.state == "INSTALLED")
            .map(|c| (c.spi_in, c.spi_out))
            .collect::<Vec<_>>()
    };
    let (a, b) = (up(&pair.a), up(&pair.b));
    assert_eq!(
        a.len(),
        1,
        "moon is up again 10 s after the hard expiry: {a:?}"
    );
    assert_eq!(b, vec![(a[0].1, a[0].0)], "and sun has the same CHILD SA");
}

fn failures(node: &Node) -> Vec<String> {
    node.events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaFailed { reason, .. } => Some(reason.text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_initiation_nobody_answers_is_tried_until_the_peer_is_there() {
    // keyingtries = 0 (the default): the peer is off the network for half an hour.
    let mut pair = Pair::demo();
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(30 * 60));
    let actions = end_actions(&pair.a);
    assert!(actions.len() >= 4, "{actions:#?}");
    assert!(actions.iter().all(|(a, _)| *a == EndAction::KeyingTries));
    assert!(
        actions[0]
            .1
            .starts_with("attempt 1 failed: the peer did not answer our IKE_SA_INIT request")
            && actions[0].1.ends_with("keyingtries: trying again in 5 s"),
        "{}",
        actions[0].1
    );
    assert!(
        actions[1].1.starts_with("attempt 2 failed") && actions[1].1.contains("in 10 s"),
        "{}",
        actions[1].1
    );
    assert_eq!(failures(&pair.a).len(), actions.len());

    connected.set(true);
    pair.run_for(Duration::from_secs(10 * 60));
    assert_one_tunnel(&pair);
    // Once up, nothing more is tried.
    let restarts = pair.a.engine.stats().restarts;
    pair.run_for(Duration::from_secs(30 * 60));
    assert_eq!(pair.a.engine.stats().restarts, restarts);
    assert_one_tunnel(&pair);
}

#[test]
fn keyingtries_bounds_the_attempts() {
    let a = edit(moon_config(), |c| c.keyingtries = 3);
    let mut pair = Pair::new(a, sun_config());
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(3 * 3600));
    assert_eq!(failures(&pair.a).len(), 3, "{:#?}", failures(&pair.a));
    assert_eq!(end_actions(&pair.a).len(), 2);
    assert_eq!(pair.a.engine.poll_timeout(), None, "nothing left to try");

    // keyingtries = 1: one attempt, as strongSwan's default.
    let a = edit(moon_config(), |c| c.keyingtries = 1);
    let mut pair = Pair::new(a, sun_config());
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(failures(&pair.a).len(), 1);
    assert!(end_actions(&pair.a).is_empty());
    connected.set(true);
    pair.run_for(Duration::from_secs(3600));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
}

#[test]
fn a_refusal_is_not_tried_again() {
    let mut b = sun_config();
    if let tern_engine::config::AuthConfig::Psk(psk) = &mut b.connections[0].auth {
        *psk = b"not the same key".to_vec();
    }
    let mut pair = Pair::new(moon_config(), b);
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(3600));
    let failed = failures(&pair.a);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(end_actions(&pair.a).is_empty());
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
}

#[test]
fn terminate_stops_the_attempts() {
    let mut pair = Pair::demo();
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.initiate_from_a("demo");
    pair.run_for(Duration::from_secs(10 * 60));
    assert!(!end_actions(&pair.a).is_empty());
    let _ = pair.a.engine.handle_command(
        pair.now,
        Command::Terminate {
            connection: "demo".into(),
        },
    );
    let tries = failures(&pair.a).len();
    connected.set(true);
    pair.run_for(Duration::from_secs(3600));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(failures(&pair.a).len() <= tries + 1);
    assert!(pair.a.kernel().is_empty());
}
