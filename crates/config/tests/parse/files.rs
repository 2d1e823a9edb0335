//! Files the configuration names: the PSK file's permissions and an unreadable
//! configuration file.

use super::*;

/// A fresh directory under the system temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tern-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn psk_file_may_be_read_by_its_group_but_never_written_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("psk-group");
    let key = dir.0.join("demo.psk");
    std::fs::write(&key, "0x00112233\n").unwrap();
    let config = dir.0.join("ternd.toml");
    std::fs::write(
        &config,
        "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk_file = \"demo.psk\"\n",
    )
    .unwrap();

    // docs/CONFIGURATION.md: 0600, or 0640 for a group that may read the keys.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let loaded = load_file(&config).unwrap();
    assert_eq!(
        loaded.engine.connections[0].auth,
        AuthConfig::Psk(vec![0x00, 0x11, 0x22, 0x33])
    );

    // Anyone who may write it chooses the key: refused, where it is named.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o602)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (4, 12), "{e}");
    assert!(
        e.message.contains("is writable by every user (mode 0602)")
            && e.message.contains("chmod o-rwx"),
        "{e}"
    );
}

#[test]
fn psk_file_must_not_be_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("psk");
    let key = dir.0.join("demo.psk");
    std::fs::write(&key, "0x00112233\n").unwrap();
    let config = dir.0.join("ternd.toml");
    std::fs::write(
        &config,
        "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk_file = \"demo.psk\"\n",
    )
    .unwrap();

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (4, 12), "{e}");
    assert!(
        e.message.contains("readable by every user (mode 0644)"),
        "{e}"
    );
    assert!(e.message.contains("chmod o-r"), "{e}");
    assert_eq!(e.file, config.display().to_string());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = load_file(&config).unwrap();
    assert_eq!(
        loaded.engine.connections[0].auth,
        AuthConfig::Psk(vec![0x00, 0x11, 0x22, 0x33])
    );

    std::fs::remove_file(&key).unwrap();
    let e = load_file(&config).unwrap_err();
    assert!(e.message.contains("cannot read psk_file"), "{e}");
}

#[test]
fn unreadable_config_file() {
    let e = load_file(std::path::Path::new("/nonexistent/ternd.toml")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ternd.toml: cannot read the configuration"),
        "{e}"
    );
}
