//! The configuration parser and lint: any text gives a configuration or errors,
//! never a panic; every error names a place inside the text; what parses, the
//! lint reads without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match tern_config::check_str(text, "fuzz.toml") {
        Ok(config) => {
            let _ = tern_engine::lint(&config.engine);
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal says why");
            for error in &errors {
                let _ = error.to_string();
            }
        }
    }
});
