//! Each SA's end is kept with its cause, per connection: what `ternctl list-sas`
//! shows when someone asks why a tunnel dropped.

mod common;

use std::time::Duration;

use common::*;
use tern_engine::{Command, SaKind};

fn causes(node: &Node) -> Vec<(SaKind, String)> {
    node.engine
        .history()
        .into_iter()
        .filter(|(name, _)| name == "demo")
        .flat_map(|(_, ends)| ends)
        .map(|e| (e.kind, e.cause.text))
        .collect()
}

#[test]
fn rekeys_and_a_peer_delete_are_remembered_with_their_causes() {
    let mut pair = Pair::demo();
    pair.initiate_from_a("demo");
    pair.deliver();
    assert!(causes(&pair.a).is_empty(), "nothing ended yet");

    pair.a.rekey(pair.now, "demo");
    pair.run_for(Duration::from_secs(10));
    let after_rekey = causes(&pair.a);
    assert_eq!(after_rekey, [(SaKind::Child, "rekeyed".to_string())]);

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
    let ends = pair.a.engine.history();
    let demo = &ends.iter().find(|(n, _)| n == "demo").unwrap().1;
    let last_two: Vec<_> = demo[demo.len() - 2..].iter().collect();
    assert_eq!(last_two[0].kind, SaKind::Child);
    assert_eq!(last_two[0].cause.text, "deleted by the peer");
    assert_ne!(last_two[0].spi_in, 0, "the CHILD SA's SPIs are kept");
    assert_eq!(last_two[1].kind, SaKind::Ike);
    assert_eq!(last_two[1].cause.text, "deleted by the peer");
    assert!(last_two[1].was_up);
    // The side that asked for it says so too.
    let b = causes(&pair.b);
    assert_eq!(
        b,
        [
            (SaKind::Child, "rekeyed".to_string()),
            (SaKind::Child, "terminated by ternctl".to_string()),
            (SaKind::Ike, "terminated by ternctl".to_string()),
        ]
    );
}
