//! parse_payloads (the plaintext inside SK) must never panic; what it accepts must
//! write back to a chain that parses to the same payloads. The first input byte
//! picks the first payload type. The structured views of notify data and RFC 7427
//! signature data must write back exactly the bytes they were decoded from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_wire::{parse_payloads, try_write_payloads, Payload, PayloadType};

fuzz_target!(|data: &[u8]| {
    let Some((&first, chain)) = data.split_first() else {
        return;
    };
    let Ok(payloads) = parse_payloads(PayloadType(first), chain) else {
        return;
    };
    let (written_first, written) =
        try_write_payloads(&payloads).expect("parsed payloads can always be written");
    assert_eq!(written.len(), chain.len());
    for payload in &payloads {
        match payload {
            Payload::Notify(notify) => {
                if let Ok(decoded) = notify.decode_data() {
                    assert_eq!(decoded.to_bytes(), notify.data, "{decoded:?}");
                }
            }
            Payload::Auth(auth) => {
                if let Some(Ok(signature)) = auth.signature_data() {
                    assert_eq!(signature.to_bytes().as_ref(), Ok(&auth.data));
                }
            }
            _ => {}
        }
    }
    assert_eq!(parse_payloads(written_first, &written), Ok(payloads));
});
