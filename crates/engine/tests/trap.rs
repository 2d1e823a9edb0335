//! On-demand (trap) children: policies without SAs until the kernel's ACQUIRE,
//! and traps put back by dpd_action/close_action = trap.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use tern_engine::config::{
    AuthConfig, CloseAction, Connection, DpdAction, EngineConfig, StartAction,
};
use tern_engine::{Command, EndAction, Event};

const IN_A: &str = "10.1.0.5";
const IN_B: &str = "10.2.0.7";

fn edit(mut config: EngineConfig, change: impl Fn(&mut Connection)) -> EngineConfig {
    change(&mut config.connections[0]);
    config
}

fn trapping() -> EngineConfig {
    edit(moon_config(), |c| {
        c.children[0].start_action = StartAction::Trap;
    })
}

/// A pair whose A side has installed its traps (as ternd does at start).
fn trapped(a: EngineConfig, b: EngineConfig) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.a.engine.install_traps();
    pair.deliver();
    pair
}

fn assert_no_kernel_errors(pair: &Pair) {
    for node in [&pair.a, &pair.b] {
        let k = node.kernel();
        assert!(k.errors.is_empty(), "{:?}", k.errors);
    }
}

/// A's kernel: its three policies and exactly `sas` ESP SAs.
fn assert_a_kernel(pair: &Pair, sas: usize) {
    let k = pair.a.kernel();
    assert!(k.errors.is_empty(), "{:?}", k.errors);
    assert_eq!(k.policies.len(), 3, "{k:?}");
    assert_eq!(k.sas.len(), sas, "{k:?}");
}

/// IKE SAs A tried to start: distinct initiator SPIs of its IKE_SA_INIT requests
/// (exchange type 34 at octet 18, responder SPI zero), retransmissions not counted.
fn ike_inits_sent_by_a(pair: &Pair) -> usize {
    let spis: std::collections::BTreeSet<&[u8]> = pair
        .wire_log
        .iter()
        .filter(|(from_a, d)| *from_a && d.len() > 18 && d[18] == 34 && d[8..16] == [0; 8])
        .map(|(_, d)| &d[0..8])
        .collect();
    spis.len()
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

fn children_installed(node: &Node) -> usize {
    node.events
        .iter()
        .filter(|e| matches!(e, Event::ChildSaInstalled { .. }))
        .count()
}

#[test]
fn a_trap_installs_policies_only() {
    let pair = trapped(trapping(), sun_config());
    assert_a_kernel(&pair, 0);
    assert!(pair.a.kernel().larval.is_empty());
    assert!(pair.wire_log.is_empty(), "a trap sends nothing");
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_eq!(pair.a.engine.traps(), [("demo".into(), "net".into())]);
    // Installing again (a second call) changes nothing.
    let mut pair = pair;
    pair.a.engine.install_traps();
    pair.deliver();
    assert_a_kernel(&pair, 0);
}

#[test]
fn an_acquire_brings_the_child_up_under_the_traps_policies() {
    let mut pair = trapped(trapping(), sun_config());
    assert!(
        !pair.a.send_packet(pair.now, "10.9.0.1", IN_B),
        "no policy covers it: no ACQUIRE"
    );
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    assert_no_kernel_errors(&pair);
    assert_a_kernel(&pair, 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    assert_eq!(pair.a.kernel().sas, pair.b.kernel().sas);
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].children.len(), 1);
    // The SA's reqid is the trap's: the policies are shared, not added twice.
    let k = pair.a.kernel();
    let reqid = k.outbound.values().next().unwrap().reqid;
    assert!(k.reqids.values().all(|r| *r == reqid), "{k:?}");
    drop(k);
    assert!(
        !pair.a.send_packet(pair.now, IN_A, IN_B),
        "with the SA in place the kernel asks for nothing"
    );
}

#[test]
fn repeated_acquires_start_one_negotiation() {
    let mut pair = trapped(trapping(), sun_config());
    let connected = switchable(&mut pair);
    // A burst at once; then, with the first IKE_SA_INIT lost, more while it waits
    // for its retransmission (past ACQUIRE_HOLDOFF: the IKE SA on its way is why
    // they are ignored).
    connected.set(false);
    for _ in 0..5 {
        assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    }
    pair.run_for(Duration::from_secs(3));
    for _ in 0..5 {
        assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    }
    connected.set(true);
    pair.run_for(Duration::from_secs(10));
    assert_eq!(ike_inits_sent_by_a(&pair), 1);
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 1);
    assert_eq!(children_installed(&pair.a), 1);
    assert_no_kernel_errors(&pair);
    assert_a_kernel(&pair, 2);
}

#[test]
fn the_peer_closing_leaves_the_trap_and_traffic_brings_it_back() {
    let mut pair = trapped(trapping(), sun_config());
    pair.a.send_packet(pair.now, IN_A, IN_B);
    pair.deliver();
    let first = pair.a.engine.list_sas(pair.now)[0].unique_id;
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
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    // The SA went; the trap's policies stayed, and nothing was initiated.
    assert_a_kernel(&pair, 0);
    assert_eq!(ike_inits_sent_by_a(&pair), 1);
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1);
    assert_ne!(sas[0].unique_id, first);
    assert_a_kernel(&pair, 2);
}

#[test]
fn an_acquire_with_the_ike_sa_up_creates_the_child_on_it() {
    // Two children, one trapped; the other brings the IKE SA up on its own.
    let mut a = trapping();
    let mut other = a.connections[0].children[0].clone();
    other.name = "other".into();
    other.start_action = StartAction::None;
    other.local_ts = vec![cidr("10.1.1.0/24")];
    other.remote_ts = vec![cidr("10.2.1.0/24")];
    a.connections[0].children.insert(0, other.clone());
    a.connections[0].children[1].start_action = StartAction::Trap;
    let mut b = sun_config();
    let mut mirrored = b.connections[0].children[0].clone();
    mirrored.name = "other".into();
    mirrored.local_ts = vec![cidr("10.2.1.0/24")];
    mirrored.remote_ts = vec![cidr("10.1.1.0/24")];
    b.connections[0].children.push(mirrored);
    let mut pair = trapped(a, b);
    pair.initiate_from_a("demo");
    pair.deliver();
    let sa = pair.a.engine.list_sas(pair.now)[0].clone();
    assert_eq!(sa.children.len(), 2, "initiating brings up both children");
    // `net` alone goes (its kernel SA reached a hard limit); the IKE SA stays.
    let net = sa.children.iter().find(|c| c.name == "net").unwrap();
    pair.a.engine.handle_kernel_event(
        pair.now,
        tern_engine::KernelEvent::Expire {
            src: net.remote_addr,
            dst: net.local_addr,
            spi: net.spi_in,
            hard: true,
        },
    );
    pair.run_for(Duration::from_secs(5));
    let sa = pair.a.engine.list_sas(pair.now)[0].clone();
    assert_eq!(sa.children.len(), 1, "{sa:#?}");
    assert_eq!(
        pair.a.kernel().policies.len(),
        6,
        "both children's policies stay"
    );
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    let after = pair.a.engine.list_sas(pair.now);
    assert_eq!(after.len(), 1, "no second IKE SA");
    assert_eq!(after[0].unique_id, sa.unique_id);
    assert_eq!(after[0].children.len(), 2);
    assert_eq!(ike_inits_sent_by_a(&pair), 1);
    assert_no_kernel_errors(&pair);
}

#[test]
fn a_failed_negotiation_keeps_the_trap_and_the_next_acquire_retries() {
    let b = edit(sun_config(), |c| {
        c.auth = AuthConfig::Psk(b"not the same secret".to_vec());
    });
    let mut pair = trapped(trapping(), b);
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    let failed: Vec<&String> = pair
        .a
        .events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaFailed { reason, .. } => Some(&reason.text),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", pair.a.events);
    assert!(failed[0].contains("AUTHENTICATION_FAILED"), "{}", failed[0]);
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_a_kernel(&pair, 0);
    // At once again: held off, so a refusing peer is not asked for every packet.
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    assert_eq!(ike_inits_sent_by_a(&pair), 1);
    // A little later, the next ACQUIRE tries again.
    pair.run_for(Duration::from_secs(3));
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    assert_eq!(ike_inits_sent_by_a(&pair), 2);
    assert_a_kernel(&pair, 0);
    assert_eq!(pair.a.engine.traps().len(), 1);
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

#[test]
fn dpd_action_trap_puts_the_trap_in_place_of_the_dead_tunnel() {
    let delay = Duration::from_secs(30);
    let a = edit(moon_config(), |c| {
        c.dpd_delay = delay;
        c.children[0].dpd_action = DpdAction::Trap;
    });
    let b = edit(sun_config(), |c| c.dpd_delay = delay);
    let mut pair = Pair::new(a, b);
    pair.a.engine.install_traps();
    assert!(pair.a.engine.traps().is_empty(), "no start_action = trap");
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_a_kernel(&pair, 2);
    let connected = switchable(&mut pair);
    connected.set(false);
    pair.run_for(Duration::from_secs(10 * 60));
    let actions = end_actions(&pair.a);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert_eq!(actions[0].0, EndAction::DpdTrap);
    assert!(
        actions[0].1.contains("dpd_action = trap"),
        "{}",
        actions[0].1
    );
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_eq!(
        ike_inits_sent_by_a(&pair),
        1,
        "a trap waits; it does not restart"
    );
    assert_a_kernel(&pair, 0);
    assert_eq!(
        pair.a.kernel().policies_deleted,
        0,
        "no moment without policies"
    );
    // The peer is back; traffic brings the tunnel up.
    connected.set(true);
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.run_for(Duration::from_secs(5));
    assert_eq!(ike_inits_sent_by_a(&pair), 2);
    assert_a_kernel(&pair, 2);
    assert_eq!(pair.a.engine.list_sas(pair.now).len(), 1);
}

#[test]
fn close_action_trap_waits_for_traffic_after_the_peer_closes() {
    let a = edit(moon_config(), |c| {
        c.children[0].close_action = CloseAction::Trap;
    });
    let mut pair = Pair::new(a, sun_config());
    pair.initiate_from_a("demo");
    pair.deliver();
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
    assert_eq!(actions[0].0, EndAction::CloseTrap);
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert_a_kernel(&pair, 0);
    assert_eq!(
        pair.a.kernel().policies_deleted,
        0,
        "no moment without policies"
    );
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    assert_a_kernel(&pair, 2);
}

#[test]
fn terminate_removes_the_trap_with_or_without_an_sa() {
    // Without an SA: the trap alone goes.
    let mut pair = trapped(trapping(), sun_config());
    let accepted = pair
        .a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .expect("terminating a trapped connection");
    assert!(accepted.ike_ids.is_empty());
    pair.deliver();
    assert!(pair.a.kernel().is_empty(), "{:?}", pair.a.kernel());
    assert!(pair.a.engine.traps().is_empty());

    // With an SA the traffic brought up: both go, and nothing is left.
    let mut pair = trapped(trapping(), sun_config());
    pair.a.send_packet(pair.now, IN_A, IN_B);
    pair.deliver();
    pair.a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.run_for(Duration::from_secs(10));
    assert_no_kernel_errors(&pair);
    assert!(pair.a.kernel().is_empty(), "{:?}", pair.a.kernel());
    assert!(pair.a.engine.traps().is_empty());
    assert!(!pair.a.send_packet(pair.now, IN_A, IN_B));
}

#[test]
fn stopping_and_reloading_remove_traps() {
    let mut pair = trapped(trapping(), sun_config());
    pair.a.engine.delete_all(pair.now, "ternd is stopping");
    pair.deliver();
    assert!(pair.a.kernel().is_empty(), "{:?}", pair.a.kernel());

    let mut pair = trapped(trapping(), sun_config());
    let report = pair.a.engine.reload(pair.now, EngineConfig::default());
    assert_eq!(report.removed, ["demo"]);
    pair.deliver();
    assert!(pair.a.kernel().is_empty(), "{:?}", pair.a.kernel());
    // A reload that adds a trapping connection installs its trap.
    pair.a.engine.reload(pair.now, trapping());
    pair.deliver();
    assert_a_kernel(&pair, 0);
    assert_eq!(pair.a.engine.traps().len(), 1);
}

#[test]
fn close_action_trap_after_the_peer_deletes_the_child_never_lifts_the_policies() {
    let a = edit(moon_config(), |c| {
        c.children[0].close_action = CloseAction::Trap;
    });
    // B's child is on demand: after its hard expiry B leaves it to its trap
    // rather than creating it again at once.
    let b = edit(sun_config(), |c| {
        c.children[0].start_action = StartAction::Trap;
    });
    let mut pair = Pair::new(a, b);
    pair.initiate_from_a("demo");
    pair.deliver();
    // B's CHILD SA reaches a hard limit: B deletes it, and A hears the DELETE.
    let child = pair.b.engine.list_sas(pair.now)[0].children[0].clone();
    pair.b.engine.handle_kernel_event(
        pair.now,
        tern_engine::KernelEvent::Expire {
            src: child.remote_addr,
            dst: child.local_addr,
            spi: child.spi_in,
            hard: true,
        },
    );
    pair.run_for(Duration::from_secs(10));
    let actions = end_actions(&pair.a);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert_eq!(actions[0].0, EndAction::CloseTrap);
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "the IKE SA stays");
    assert!(sas[0].children.is_empty(), "{sas:#?}");
    assert_eq!(
        pair.a.kernel().policies_deleted,
        0,
        "the trap took the policies over before the CHILD SA went"
    );
    assert_a_kernel(&pair, 0);
    // Traffic: a CREATE_CHILD_SA on the same IKE SA.
    assert!(pair.a.send_packet(pair.now, IN_A, IN_B));
    pair.deliver();
    let after = pair.a.engine.list_sas(pair.now);
    assert_eq!(after[0].unique_id, sas[0].unique_id);
    assert_eq!(after[0].children.len(), 1);
    assert_a_kernel(&pair, 2);
}

#[test]
fn a_transport_mode_trap_is_taken_over_by_its_sa() {
    let host = |c: &mut Connection, local: &str, remote: &str| {
        let child = &mut c.children[0];
        child.mode = tern_engine::config::Mode::Transport;
        child.local_ts = vec![cidr(local)];
        child.remote_ts = vec![cidr(remote)];
    };
    let a = edit(trapping(), |c| host(c, "192.0.2.1/32", "192.0.2.2/32"));
    let b = edit(sun_config(), |c| host(c, "192.0.2.2/32", "192.0.2.1/32"));
    let mut pair = trapped(a, b);
    assert_a_kernel(&pair, 0);
    assert!(pair.a.send_packet(pair.now, "192.0.2.1", "192.0.2.2"));
    pair.deliver();
    assert_a_kernel(&pair, 2);
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(
        sas[0].children[0].mode,
        tern_engine::config::Mode::Transport
    );
}
