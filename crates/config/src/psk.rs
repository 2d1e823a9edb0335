//! Pre-shared keys: written inline or kept in a file that only its owner may read.

use std::path::{Path, PathBuf};

/// Why a PSK could not be taken from its file.
pub(crate) enum SecretFileError {
    Unreadable(std::io::Error),
    /// Other users (neither the owner nor the file's group) have some access.
    OpenToOthers {
        mode: u32,
    },
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

/// Reads the key in `path`. The file must not be open to other users; surrounding
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
/// other users have any access to it: one who may read it knows the secret, one
/// who may write it chooses it. The owner and the file's group are trusted, so
/// 0600 and 0640 (a group that may read the keys) both do.
pub(crate) fn read_secret_file(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).map_err(SecretFileError::Unreadable)?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(SecretFileError::OpenToOthers { mode });
    }
    crate::file::read_bounded(path).map_err(SecretFileError::Unreadable)
}

impl SecretFileError {
    /// Why a secret file open to other users is refused, and the fix.
    pub(crate) fn open_to_others(what: &str, shown: &str, mode: u32) -> String {
        let access = if mode & 0o004 != 0 {
            "readable by"
        } else if mode & 0o002 != 0 {
            "writable by"
        } else {
            "open to"
        };
        format!(
            "{what} {shown} is {access} every user (mode {mode:04o}); \
             restrict it with `chmod o-rwx {shown}` (0600, or 0640 for a group that may read it)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_mode(tag: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("tern-secret-{}-{tag}", std::process::id()));
        std::fs::write(&path, "0x00112233").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn owner_and_group_may_have_the_file_other_users_may_not() {
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, true),
            (0o660, true),
            (0o644, false),
            (0o602, false),
            (0o601, false),
        ] {
            let path = file_with_mode(&format!("{mode:o}"), mode);
            let read = read_psk_file(&path);
            std::fs::remove_file(&path).unwrap();
            match read {
                Ok(key) => {
                    assert!(ok, "mode {mode:04o} accepted");
                    assert_eq!(key, vec![0, 0x11, 0x22, 0x33]);
                }
                Err(SecretFileError::OpenToOthers { mode: seen }) => {
                    assert!(!ok, "mode {mode:04o} refused");
                    assert_eq!(seen, mode);
                }
                Err(_) => panic!("mode {mode:04o}: another error"),
            }
        }
    }

    #[test]
    fn the_refusal_says_what_others_may_do_and_how_to_fix_it() {
        let said = |mode| SecretFileError::open_to_others("psk_file", "/etc/tern/k.psk", mode);
        assert_eq!(
            said(0o644),
            "psk_file /etc/tern/k.psk is readable by every user (mode 0644); restrict it with `chmod o-rwx /etc/tern/k.psk` (0600, or 0640 for a group that may read it)"
        );
        assert!(said(0o602).contains("is writable by every user (mode 0602)"));
        assert!(said(0o601).contains("is open to every user (mode 0601)"));
    }

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
