//! Pre-shared keys: written inline or kept in a file that only its owner may read.

use std::path::{Path, PathBuf};

/// Why a PSK could not be taken from its file.
pub(crate) enum SecretFileError {
    Unreadable(std::io::Error),
    WorldReadable { mode: u32 },
    Invalid(String),
}

/// The key bytes a PSK string stands for: `0x` followed by hex digits is binary,
/// anything else is the UTF-8 text itself.
pub(crate) fn psk_bytes(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("the pre-shared key is empty".into());
    }
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => match crate::identity::decode_hex(hex) {
            Some(bytes) if !bytes.is_empty() => Ok(bytes),
            _ => Err("a pre-shared key starting with `0x` must continue with an even number of hex digits".into()),
        },
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// `path` resolved against the configuration file's directory when relative.
pub(crate) fn resolve(path: &str, base_dir: Option<&Path>) -> PathBuf {
    let path = Path::new(path);
    match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Reads the key in `path`. The file must not be readable by other users; surrounding
/// white space (a trailing newline, typically) is not part of the key.
pub(crate) fn read_psk_file(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    let bytes = read_secret_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        SecretFileError::Invalid(
            "the file is not UTF-8 text; write a binary key as 0x and hex".into(),
        )
    })?;
    psk_bytes(text.trim()).map_err(SecretFileError::Invalid)
}

/// Reads a file holding a secret (a pre-shared or a private key), refusing it when
/// other users may read it.
pub(crate) fn read_secret_file(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).map_err(SecretFileError::Unreadable)?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o004 != 0 {
        return Err(SecretFileError::WorldReadable { mode });
    }
    std::fs::read(path).map_err(SecretFileError::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys() {
        assert_eq!(psk_bytes("secret").unwrap(), b"secret");
        assert_eq!(psk_bytes("0x00ff").unwrap(), vec![0, 255]);
        assert!(psk_bytes("").is_err());
        assert!(psk_bytes("0x").is_err());
        assert!(psk_bytes("0xabc").is_err());
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        assert_eq!(
            resolve("k.psk", Some(Path::new("/etc/tern"))),
            Path::new("/etc/tern/k.psk")
        );
        assert_eq!(
            resolve("/k.psk", Some(Path::new("/etc/tern"))),
            Path::new("/k.psk")
        );
        assert_eq!(resolve("k.psk", None), Path::new("k.psk"));
    }
}
