//! The XFRM netlink decoders: a datagram from the XFRM multicast groups (what
//! ternd's monitor reads), and the SA and policy bodies of replies. Any bytes give
//! events, summaries or decode errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_xfrm::message::{parse_policy, parse_sa};
use tern_xfrm::parse_datagram;

fuzz_target!(|data: &[u8]| {
    for event in parse_datagram(data) {
        let _ = format!("{event:?}");
    }
    let _ = parse_sa(data);
    let _ = parse_policy(data);
});
