//! The `config.yaml` reader: any text is a config or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = server::config::Config::parse(text, "fuzz.yaml", &|_| None);
    }
});
