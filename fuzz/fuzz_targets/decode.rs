//! The `ternctl decode` path: pcap/pcapng/hex input -> IKE messages -> text and JSON.
//! Must never panic; every message it finds writes back to bytes that parse to the
//! same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_wire::decode::{decode, to_json};
use tern_wire::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(items) = decode(data) else {
        return;
    };
    for item in &items {
        let _ = item.render_text();
        let _ = item.error_text();
        if let Ok(message) = &item.outcome {
            let written = message.try_to_bytes().expect("a parsed message can be written");
            assert_eq!(Message::parse(&written).as_ref(), Ok(message));
        }
    }
    let _ = to_json(&items);
});
