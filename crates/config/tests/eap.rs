//! `[eap]` users and a connection's `remote_auth = "eap-mschapv2"`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

mod common;

use common::*;
use tern_config::{load_file, parse_str};
use tern_crypto::mschapv2::NtHash;
use tern_engine::config::RemoteAuth;

const GATEWAY: &str = "[connections.rw]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk = \"k\"\nremote_auth = \"eap-mschapv2\"\n";

#[test]
fn inline_users_are_the_remote_auth_of_a_connection() {
    let text = format!("[eap.users]\ncarol = \"Ar3etTnp\"\ndave = \"W7R0g3do\"\n\n{GATEWAY}");
    let config = parse_str(&text, "test.toml").unwrap();
    let RemoteAuth::EapMschapv2(users) = &config.engine.connections[0].remote_auth else {
        panic!("remote_auth is EAP-MSCHAPv2");
    };
    assert_eq!(users.len(), 2);
    assert_eq!(users.get("carol"), Some(&NtHash::of_password("Ar3etTnp")));
    assert_eq!(users.get("dave"), Some(&NtHash::of_password("W7R0g3do")));
    assert_eq!(users.get("eve"), None);
    // Debug output (logs, panics) names the users, never their secrets.
    let shown = format!("{:?}", config.engine.connections[0]);
    assert!(
        shown.contains("carol") && !shown.contains("Ar3etTnp"),
        "{shown}"
    );
}

#[test]
fn without_remote_auth_the_peer_authenticates_as_auth_says() {
    let text = "[connections.c]\nlocal_id = \"moon\"\nauth = \"psk\"\npsk = \"k\"\n";
    let config = parse_str(text, "test.toml").unwrap();
    assert_eq!(config.engine.connections[0].remote_auth, RemoteAuth::AsAuth);
}

#[test]
fn remote_auth_mistakes_are_located() {
    assert_error(
        GATEWAY,
        5,
        15,
        "needs EAP users: add them under [eap.users]",
    );
    assert_error(
        &GATEWAY.replace("eap-mschapv2", "eap-md5"),
        5,
        15,
        "unsupported remote_auth method `eap-md5`; tern supports: eap-mschapv2",
    );
    assert_error(
        &format!("[eap.users]\ncarol = \"\"\n{GATEWAY}"),
        2,
        9,
        "the password of EAP user `carol` is empty",
    );
    assert_error(
        &format!("[eap.users]\ncarol = 7\n{GATEWAY}"),
        2,
        9,
        "a string",
    );
    assert_error(
        &format!("[eap]\nuser_file = \"x\"\n{GATEWAY}"),
        2,
        1,
        "users_file",
    );
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tern-eap-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn users_file_is_read_only_when_other_users_have_no_access() {
    let dir = TempDir::new("file");
    let users = dir.write("users", "# EAP users\ncarol = \"Ar3etTnp\"\n", 0o600);
    let config = dir.write(
        "ternd.toml",
        &format!("[eap]\nusers_file = \"users\"\n[eap.users]\ndave = \"W7R0g3do\"\n{GATEWAY}"),
        0o644,
    );
    let loaded = load_file(&config).unwrap();
    let RemoteAuth::EapMschapv2(all) = &loaded.engine.connections[0].remote_auth else {
        panic!("remote_auth is EAP-MSCHAPv2");
    };
    assert_eq!(all.len(), 2);
    assert_eq!(all.get("carol"), Some(&NtHash::of_password("Ar3etTnp")));

    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_file(&config).unwrap_err();
    assert_eq!((e.line, e.column), (2, 14), "{e}");
    assert!(
        e.message.contains("is readable by every user (mode 0644)") && e.message.contains("chmod"),
        "{e}"
    );
}

#[test]
fn users_file_errors_name_that_file_line_and_column() {
    let dir = TempDir::new("bad");
    let users = dir.write("users", "carol = \"Ar3etTnp\"\ndave = \"\"\n", 0o600);
    let config = dir.write(
        "ternd.toml",
        &format!("[eap]\nusers_file = \"users\"\n[eap.users]\ncarol = \"x\"\n{GATEWAY}"),
        0o644,
    );
    let e = tern_config::check_file(&config).unwrap_err();
    let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
    let file = users.display();
    assert_eq!(
        shown[..2],
        [
            format!("{file}:1:1: EAP user `carol` is given twice"),
            format!("{file}:2:8: the password of EAP user `dave` is empty"),
        ],
        "{shown:?}"
    );
    dir.write("users", "carol = \"unterminated\n", 0o600);
    let e = load_file(&config).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        (file.to_string().as_str(), 1),
        "{e}"
    );
}
