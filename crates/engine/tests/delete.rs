//! INFORMATIONAL DELETE from either side removes everything on both.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::{Command, Event};

fn up() -> Pair {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    assert_eq!(pair.a.kernel().sas.len(), 2);
    assert_eq!(pair.b.kernel().sas.len(), 2);
    pair
}

fn deleted_reason(node: &Node) -> Option<String> {
    node.events.iter().find_map(|e| match e {
        Event::IkeSaDeleted { reason, .. } => Some(reason.text.clone()),
        _ => None,
    })
}

fn assert_all_gone(pair: &Pair) {
    for node in [&pair.a, &pair.b] {
        assert!(node.engine.list_sas(pair.now).is_empty());
        let k = node.kernel();
        assert!(k.is_empty(), "kernel state left: {k:?}");
        assert!(k.errors.is_empty(), "{:?}", k.errors);
    }
}

#[test]
fn initiator_terminates() {
    let mut pair = up();
    pair.a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.deliver();
    assert_all_gone(&pair);
    assert_eq!(deleted_reason(&pair.a).unwrap(), "terminated by ternctl");
    assert_eq!(deleted_reason(&pair.b).unwrap(), "deleted by the peer");
}

#[test]
fn responder_terminates() {
    let mut pair = up();
    pair.b
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.deliver();
    assert_all_gone(&pair);
}

#[test]
fn unanswered_delete_still_removes_local_state() {
    let mut pair = up();
    pair.network = Box::new(|_, _| Fate::Drop);
    pair.a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap();
    pair.deliver();
    assert!(pair.a.kernel().is_empty(), "kernel state goes at once");
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].state, "DELETING");
    pair.run_for(Duration::from_secs(170));
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
}

#[test]
fn terminate_without_sa_is_an_error() {
    let mut pair = Pair::demo();
    let err = pair
        .a
        .engine
        .handle_command(
            pair.now,
            Command::Terminate {
                connection: "demo".into(),
            },
        )
        .unwrap_err();
    assert!(err.contains("no IKE SA"), "{err}");
    let err = pair
        .a
        .engine
        .handle_command(
            pair.now,
            Command::Initiate {
                connection: "nope".into(),
            },
        )
        .unwrap_err();
    assert!(err.contains("no connection named `nope`"), "{err}");
}

#[test]
fn delete_all_tells_every_peer_and_records_why() {
    let mut pair = up();
    let ids = pair.a.engine.delete_all(pair.now, "ternd is stopping");
    assert_eq!(ids.len(), 1);
    pair.deliver();
    assert_all_gone(&pair);
    assert_eq!(
        deleted_reason(&pair.a).as_deref(),
        Some("ternd is stopping")
    );
    assert_eq!(
        deleted_reason(&pair.b).as_deref(),
        Some("deleted by the peer")
    );
    assert!(pair.a.engine.delete_all(pair.now, "again").is_empty());
}
