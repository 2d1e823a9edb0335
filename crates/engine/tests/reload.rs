//! Reloading the configuration: unchanged connections keep their SAs, changed and
//! removed ones lose theirs (telling the peer), added ones with start_action=start
//! come up.

mod common;

use common::*;
use tern_engine::config::{Encryption, StartAction};

fn up() -> Pair {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    pair
}

#[test]
fn an_unchanged_connection_keeps_its_sas() {
    let mut pair = up();
    let before = pair.a.engine.list_sas(pair.now)[0].unique_id;
    let report = pair.a.engine.reload(pair.now, moon_config());
    assert_eq!(report.unchanged, vec!["demo"]);
    assert!(report.added.is_empty() && report.removed.is_empty() && report.changed.is_empty());
    pair.deliver();
    assert_eq!(pair.a.engine.list_sas(pair.now)[0].unique_id, before);
    assert_eq!(pair.a.kernel().sas.len(), 2);
}

#[test]
fn a_removed_connection_is_deleted_on_both_sides() {
    let mut pair = up();
    let mut config = moon_config();
    config.connections.clear();
    let report = pair.a.engine.reload(pair.now, config);
    assert_eq!(report.removed, vec!["demo"]);
    pair.deliver();
    assert!(pair.a.engine.list_sas(pair.now).is_empty());
    assert!(
        pair.b.engine.list_sas(pair.now).is_empty(),
        "the peer was told"
    );
    assert!(pair.a.kernel().is_empty() && pair.b.kernel().is_empty());
}

#[test]
fn a_changed_connection_is_replaced_and_restarted_if_it_should_be_up() {
    let mut pair = up();
    let before = pair.a.engine.list_sas(pair.now)[0].unique_id;
    let mut config = moon_config();
    config.connections[0].ike_proposals[0]
        .encryption
        .push(Encryption::AesGcm16 { key_bits: 256 });
    config.connections[0].start_action = StartAction::Start;
    let report = pair.a.engine.reload(pair.now, config);
    assert_eq!(report.changed, vec!["demo"]);
    pair.deliver();
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "{sas:?}");
    assert_ne!(
        sas[0].unique_id, before,
        "a new IKE SA with the new configuration"
    );
    assert_eq!(sas[0].state, "ESTABLISHED");
    assert_eq!(pair.b.engine.list_sas(pair.now).len(), 1);
}

#[test]
fn a_connection_added_with_a_starting_child_comes_up() {
    let mut pair = Pair::demo();
    let mut empty = moon_config();
    empty.connections.clear();
    pair.a.engine.reload(pair.now, empty);
    let mut config = moon_config();
    // start_action on the child only, as swanctl users write it.
    config.connections[0].start_action = StartAction::None;
    config.connections[0].children[0].start_action = StartAction::Start;
    let report = pair.a.engine.reload(pair.now, config);
    assert_eq!(report.added, vec!["demo"]);
    pair.deliver();
    let sas = pair.a.engine.list_sas(pair.now);
    assert_eq!(sas.len(), 1, "{sas:?}");
    assert_eq!(sas[0].children.len(), 1);
}
