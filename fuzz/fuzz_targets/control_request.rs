//! The control protocol as ternd reads it: JSON lines, each a request. Any bytes
//! give requests or errors, never a panic or a line longer than the limit; every
//! request decoded writes back to a line that decodes to the same request.
#![no_main]

use std::io::{BufReader, ErrorKind};

use libfuzzer_sys::fuzz_target;
use tern_control::framing::{decode_line, encode_line, read_line};
use tern_control::Request;

fuzz_target!(|data: &[u8]| {
    let mut reader = BufReader::new(data);
    loop {
        match read_line::<Request>(&mut reader) {
            Ok(request) => {
                let line = encode_line(&request).expect("a request encodes");
                let again: Request = decode_line(&line).expect("an encoded request decodes");
                assert_eq!(again, request);
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
                // ternd answers the error and closes the connection: nothing more is read.
                break;
            }
        }
    }
});
