//! docs/CONTROL.md's JSON examples are what the types read and write: each
//! parses as the type its fence names (```json request, response, event, stats)
//! and serializes back to the same JSON.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tern_control::{EventInfo, Request, Response, StatsInfo};

fn round_trips<T: Serialize + DeserializeOwned>(json: &str) {
    let parsed: T =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("docs/CONTROL.md: {e}\n{json}"));
    let written = serde_json::to_value(&parsed).unwrap();
    let documented: Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        written, documented,
        "docs/CONTROL.md shows JSON the types do not write"
    );
}

#[test]
fn every_example_parses_and_round_trips() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CONTROL.md"
    ))
    .expect("docs/CONTROL.md");
    let mut counts = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(kind) = line.trim().strip_prefix("```json ") else {
            continue;
        };
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let json = block.join("\n");
        match kind {
            "request" => round_trips::<Request>(&json),
            "response" => round_trips::<Response>(&json),
            "event" => round_trips::<EventInfo>(&json),
            "stats" => round_trips::<StatsInfo>(&json),
            other => panic!("unknown example kind `{other}` in docs/CONTROL.md"),
        }
        *counts.entry(kind.to_string()).or_insert(0) += 1;
    }
    for kind in ["request", "response", "event", "stats"] {
        assert!(counts.contains_key(kind), "no {kind} example: {counts:?}");
    }
}
