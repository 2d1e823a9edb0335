//! Message::parse must never panic; whatever it accepts must write back to bytes of
//! the same length that parse to the same message (writing zeroes reserved fields,
//! so the bytes themselves may differ there) and that write back identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_wire::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::parse(data) else {
        return;
    };
    let written = message
        .try_to_bytes()
        .expect("a parsed message can always be written");
    assert_eq!(written.len(), data.len());
    let reparsed = Message::parse(&written).expect("written bytes parse");
    assert_eq!(reparsed, message);
    assert_eq!(reparsed.to_bytes(), written);
});
