//! The shell completions and the man page in conf/ are what `ternctl completions`
//! and `ternctl man` print now: a command added or changed without regenerating
//! them fails here. To regenerate:
//!
//!     TERN_REGENERATE=1 cargo test -p ternctl --test generated

use std::path::PathBuf;
use std::process::Command;

fn conf(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf")).join(path)
}

fn check(args: &[&str], file: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_ternctl"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "ternctl {args:?}");
    assert!(!out.stdout.is_empty(), "ternctl {args:?} printed nothing");
    let path = conf(file);
    if std::env::var_os("TERN_REGENERATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out.stdout).unwrap();
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == out.stdout,
        "conf/{file} is not what `ternctl {}` prints; regenerate with \
         TERN_REGENERATE=1 cargo test -p ternctl --test generated",
        args.join(" ")
    );
}

#[test]
fn bash_completion_is_fresh() {
    check(&["completions", "bash"], "completions/ternctl.bash");
}

#[test]
fn zsh_completion_is_fresh() {
    check(&["completions", "zsh"], "completions/_ternctl");
}

#[test]
fn fish_completion_is_fresh() {
    check(&["completions", "fish"], "completions/ternctl.fish");
}

#[test]
fn man_page_is_fresh() {
    check(&["man"], "man/ternctl.1");
}
