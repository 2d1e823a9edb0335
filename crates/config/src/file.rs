//! Files the configuration names (PSKs, keys, certificates, CRLs), read so that an
//! operator's slip (`cacerts = ["/dev/zero"]`, a FIFO, a log file named by mistake)
//! is an error naming the file, not memory exhausted or a daemon blocked for ever.

use std::io::{self, Read};
use std::path::Path;

/// The largest file read: far above any certificate bundle or CRL in use.
pub(crate) const MAX_FILE_BYTES: u64 = 16 << 20;

/// The bytes of a regular file of at most [`MAX_FILE_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_without_reading_it() {
        let e = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file");
    }

    /// Seen while writing the configuration fuzz target (which reads whatever files
    /// an input names), not found by it: `cacerts = ["/dev/zero"]` was read until
    /// memory ran out (`ternd --check` under ulimit -v: "out of memory").
    #[test]
    fn a_configuration_naming_a_device_is_an_error_at_its_place() {
        let text = r#"
[connections.x]
local_addrs = ["192.0.2.1"]
remote_addrs = ["192.0.2.2"]
local_id = "a.example"
remote_id = "b.example"
auth = "pubkey"
cert = "/dev/zero"
key = "/dev/zero"
cacerts = ["/dev/zero"]
[connections.x.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
"#;
        let errors = crate::check_str(text, "t.toml").unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|e| e.contains("cannot read cacerts /dev/zero: not a regular file")),
            "{shown:?}"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("tern-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("k.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read_bounded(&fifo).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.to_string(), "not a regular file");
    }

    #[test]
    fn an_oversized_file_is_refused_and_a_normal_one_read() {
        let dir = std::env::temp_dir().join(format!("tern-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.crl");
        std::fs::write(&big, vec![0u8; MAX_FILE_BYTES as usize + 1]).unwrap();
        let small = dir.join("small.pem");
        std::fs::write(&small, b"-----BEGIN").unwrap();
        let e = read_bounded(&big).unwrap_err();
        let read = read_bounded(&small).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.to_string(), "larger than 16 MiB");
        assert_eq!(read, b"-----BEGIN");
    }
}
