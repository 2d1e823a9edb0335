//! Line framing: one JSON value per line, at most [`MAX_LINE_BYTES`] per line.
//!
//! The limit keeps a confused or hostile peer from making either side buffer
//! without end.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, BufRead, Read, Write};

/// Longest line either side accepts, newline excluded.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// `value` as one JSON line, newline included.
pub fn encode_line<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(value).map_err(io::Error::from)?;
    // serde_json escapes newlines inside strings, so the only newline is the terminator.
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parses one line (with or without its newline) as a JSON value.
pub fn decode_line<T: DeserializeOwned>(line: &[u8]) -> io::Result<T> {
    if line.len() > MAX_LINE_BYTES + 1 {
        return Err(too_long());
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    serde_json::from_slice(line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed control message: {e}"),
        )
    })
}

/// Writes `value` as one JSON line and flushes.
pub fn write_line<T: Serialize>(w: &mut impl Write, value: &T) -> io::Result<()> {
    w.write_all(&encode_line(value)?)?;
    w.flush()
}

/// Reads one JSON line. End of input before a complete line is `UnexpectedEof`;
/// a line longer than [`MAX_LINE_BYTES`] is `InvalidData`.
pub fn read_line<T: DeserializeOwned>(r: &mut impl BufRead) -> io::Result<T> {
    let mut line = Vec::new();
    // One byte more than the limit, so an over-long line is seen as such.
    let limit = (MAX_LINE_BYTES + 2) as u64;
    r.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        if line.len() > MAX_LINE_BYTES {
            return Err(too_long());
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a complete control message arrived",
        ));
    }
    decode_line(&line)
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("control message longer than {MAX_LINE_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, Request};
    use std::io::Cursor;

    #[test]
    fn write_then_read_round_trips() {
        let req = Request::new(Command::Terminate {
            connection: "a\nb".into(),
        });
        let mut buf = Vec::new();
        write_line(&mut buf, &req).unwrap();
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
        let mut cursor = Cursor::new(buf);
        assert_eq!(read_line::<Request>(&mut cursor).unwrap(), req);
    }

    #[test]
    fn two_lines_are_read_one_at_a_time() {
        let mut buf = Vec::new();
        write_line(&mut buf, &Request::new(Command::ListSas)).unwrap();
        write_line(&mut buf, &Request::new(Command::Version)).unwrap();
        let mut cursor = Cursor::new(buf);
        assert_eq!(
            read_line::<Request>(&mut cursor).unwrap().command,
            Command::ListSas
        );
        assert_eq!(
            read_line::<Request>(&mut cursor).unwrap().command,
            Command::Version
        );
    }

    #[test]
    fn eof_without_newline_is_unexpected_eof() {
        let mut cursor = Cursor::new(br#"{"version":1"#.to_vec());
        let err = read_line::<Request>(&mut cursor).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut empty = Cursor::new(Vec::new());
        assert_eq!(
            read_line::<Request>(&mut empty).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn over_long_line_is_rejected() {
        let mut huge = vec![b' '; MAX_LINE_BYTES + 10];
        huge.push(b'\n');
        let mut cursor = Cursor::new(huge);
        let err = read_line::<Request>(&mut cursor).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than"));
    }

    #[test]
    fn line_at_the_limit_is_accepted() {
        // Pad valid JSON with whitespace up to exactly the limit.
        let mut line = br#"{"version":1,"command":{"type":"version"}}"#.to_vec();
        line.resize(MAX_LINE_BYTES, b' ');
        line.push(b'\n');
        let mut cursor = Cursor::new(line);
        assert_eq!(
            read_line::<Request>(&mut cursor).unwrap().command,
            Command::Version
        );
    }

    #[test]
    fn garbage_is_invalid_data() {
        let mut cursor = Cursor::new(b"hello\n".to_vec());
        let err = read_line::<Request>(&mut cursor).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
