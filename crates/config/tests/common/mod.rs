//! What the EAP and RADIUS configuration tests share: a refused configuration
//! and where its error points.

use tern_config::{parse_str, ConfigError};

pub fn error(text: &str) -> ConfigError {
    parse_str(text, "test.toml").expect_err("the configuration is refused")
}

pub fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
    let e = error(text);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.message.contains(needle), "`{needle}` not in: {e}");
}
