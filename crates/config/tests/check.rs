//! `check_str` reports every error in a file, each at its line and column, where
//! `parse_str` (what ternd loads with) stops at the first.

const FIVE_MISTAKES: &str = r#"[daemon]
port = 70000
listne = ["127.0.0.1"]

[retransmit]
tries = 99

[connections.good]
remote_addrs = ["192.0.2.2"]
local_id = "moon.example"
auth = "psk"
psk = "a-long-enough-pre-shared-key"

[connections.good.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]

[connections.bad]
remote_addrs = ["192.0.2.300"]
local_id = "moon.example"
auth = "psk"
psk = "a-long-enough-pre-shared-key"
rekey_time = "soon"

[connections.bad.children.net]
local_ts = ["10.1.0.0/33"]
remote_ts = ["10.2.0.0/24"]
"#;

fn located(errors: &[tern_config::ConfigError]) -> Vec<(usize, usize)> {
    errors.iter().map(|e| (e.line, e.column)).collect()
}

#[test]
fn every_error_is_reported_with_its_position() {
    let errors = tern_config::check_str(FIVE_MISTAKES, "five.toml").unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        located(&errors),
        [(3, 1), (2, 8), (6, 9), (19, 17), (26, 23), (23, 14)],
        "{shown:#?}"
    );
    for (error, says) in errors.iter().zip([
        "unknown key `listne`",
        "port",
        "tries",
        "192.0.2.300",
        "prefix length `33`",
        "soon",
    ]) {
        assert!(
            error.message.contains(says),
            "{error} should mention {says}"
        );
        assert_eq!(error.file, "five.toml");
    }
}

#[test]
fn parse_str_stops_at_the_first_of_them() {
    let first = tern_config::parse_str(FIVE_MISTAKES, "five.toml").unwrap_err();
    let all = tern_config::check_str(FIVE_MISTAKES, "five.toml").unwrap_err();
    assert_eq!(first, all[0]);
}

#[test]
fn a_syntax_error_is_the_only_error() {
    let errors = tern_config::check_str("[daemon\nport = 1\n", "x.toml").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 1);
}

#[test]
fn a_sound_file_checks_clean() {
    let sound = FIVE_MISTAKES
        .replace("port = 70000\nlistne = [\"127.0.0.1\"]\n", "")
        .replace("tries = 99", "tries = 5")
        .replace("192.0.2.300", "192.0.2.3")
        .replace("rekey_time = \"soon\"\n", "")
        .replace("10.1.0.0/33", "10.1.0.0/24");
    let config = tern_config::check_str(&sound, "sound.toml").unwrap();
    let names: Vec<&str> = config
        .engine
        .connections
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["good", "bad"]);
}
